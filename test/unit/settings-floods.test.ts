/**
 * settings.js (what serverless.yml reads): the flood bounds. The database's connection budget
 * comes from the instance class, the stage throttle's defaults from that budget (infra/capacity.js),
 * and a reservation of concurrency that would not fit in it is refused before anything is packaged.
 */
import { copyFileSync, cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as capacity from '../../infra/capacity';

const root = resolve(__dirname, '..', '..');

const dirs: string[] = [];

afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** Runs settings.js as serverless would, with this .env.yml beside it. */
async function settingsFor(lines: string[]): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'settings-'));
  dirs.push(dir);
  copyFileSync(join(root, 'settings.js'), join(dir, 'settings.js'));
  // settings.js reads the names of the settings from the example beside it.
  copyFileSync(join(root, '.env.yml.example'), join(dir, '.env.yml.example'));
  cpSync(join(root, 'infra'), join(dir, 'infra'), { recursive: true });
  // The schema step's properties are read from the files that define the tables (infra/schema.js).
  cpSync(join(root, 'src', 'store'), join(dir, 'src', 'store'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, '.env.yml'), ['DB_PASSWORD: not-a-real-password', ...lines, ''].join('\n'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require(join(dir, 'settings.js')) as () => Promise<Record<string, unknown>>;
  return load();
}

/** The throttle the capacity model derives for this many connections (and reservation, account). */
function derived(inputs: { maxConnections: number; reserved?: number; accountConcurrency?: number }) {
  const { burst, rate } = capacity.throttleDefaults(capacity.containerBudget(inputs));
  return { WS_THROTTLE_BURST: burst, WS_THROTTLE_RATE: rate };
}

describe('settings.js flood bounds', () => {
  it('derives the throttle from db.t4g.micro’s 66 connections, reserves nothing by default', async () => {
    const settings = await settingsFor([]);
    expect(settings).toMatchObject({
      ...derived({ maxConnections: 66 }),
      DB_MAX_CONNECTIONS: 66,
      RESERVED_CONCURRENCY: null,
      SWEEP_RESERVED_CONCURRENCY: null,
    });
    // No longer the 50 and 25 chosen by hand: a burst of half the 52 connections, the rate that fits the rest.
    expect(settings.WS_THROTTLE_BURST).toBe(26);
    expect(settings.WS_THROTTLE_RATE).toBeGreaterThan(25);
  });

  it.each([
    ['db.t4g.small', 150],
    ['db.t3.medium', 312],
    ['db.m7g.large', 648],
  ])('derives the throttle of %s from its %i connections', async (instanceClass, maxConnections) => {
    expect(await settingsFor([`DB_INSTANCE_CLASS: ${instanceClass}`])).toMatchObject(derived({ maxConnections }));
  });

  it('derives a lower throttle under a reservation or a small account, and keeps one that is set', async () => {
    expect(await settingsFor(['RESERVED_CONCURRENCY: 4'])).toMatchObject(derived({ maxConnections: 66, reserved: 4 }));
    expect((await settingsFor(['RESERVED_CONCURRENCY: 4'])).WS_THROTTLE_BURST).toBe(2);
    expect(await settingsFor(['ACCOUNT_CONCURRENCY: 10'])).toMatchObject(
      derived({ maxConnections: 66, accountConcurrency: 10 }),
    );
    expect(await settingsFor(['WS_THROTTLE_BURST: 50', 'WS_THROTTLE_RATE: 25'])).toMatchObject({
      WS_THROTTLE_BURST: 50,
      WS_THROTTLE_RATE: 25,
    });
  });

  it.each([
    ['db.t4g.small', 150],
    ['db.t3.medium', 312],
    ['db.t4g.large', 648],
  ])('derives the connection budget of %s (%i)', async (instanceClass, budget) => {
    expect((await settingsFor([`DB_INSTANCE_CLASS: ${instanceClass}`])).DB_MAX_CONNECTIONS).toBe(budget);
  });

  it('takes DB_MAX_CONNECTIONS as given, and requires it for a class it does not know', async () => {
    await expect(settingsFor(['DB_INSTANCE_CLASS: db.r6g.xlarge'])).rejects.toThrow(
      /db\.r6g\.xlarge has no known connection budget: set DB_MAX_CONNECTIONS/,
    );
    const given = await settingsFor(['DB_INSTANCE_CLASS: db.r6g.xlarge', 'DB_MAX_CONNECTIONS: 2000']);
    expect(given.DB_MAX_CONNECTIONS).toBe(2000);
  });

  it('reserves RESERVED_CONCURRENCY for each WebSocket function, 1 for the sweep and 5 for departures when it fits the budget', async () => {
    // db.t4g.micro: 5 x 9 + 1 + 5 = 51 connections, within 80% of 66 (52).
    expect(await settingsFor(['RESERVED_CONCURRENCY: 9'])).toMatchObject({
      RESERVED_CONCURRENCY: 9,
      SWEEP_RESERVED_CONCURRENCY: 1,
      DEPARTURES_RESERVED_CONCURRENCY: 5,
      DEPARTURES_CONCURRENCY: 5,
    });
    // Without a reservation the departures function has none either; its event source still runs at most 5.
    expect(await settingsFor([])).toMatchObject({ DEPARTURES_RESERVED_CONCURRENCY: null, DEPARTURES_CONCURRENCY: 5 });
  });

  it('refuses a reservation that could hold more connections than the instance budget allows', async () => {
    await expect(settingsFor(['RESERVED_CONCURRENCY: 10'])).rejects.toThrow(
      'RESERVED_CONCURRENCY 10: 5 functions x 10 + 1 (sweep) + 5 (departures) = 56 database connections at once, ' +
        'more than 80% of DB_MAX_CONNECTIONS 66 (db.t4g.micro) = 52. Use at most 9,',
    );
    // a larger instance takes it
    expect(
      (await settingsFor(['DB_INSTANCE_CLASS: db.t4g.small', 'RESERVED_CONCURRENCY: 13'])).RESERVED_CONCURRENCY,
    ).toBe(13);
  });

  it('refuses a reservation that leaves the account fewer than the 100 unreserved executions Lambda keeps', async () => {
    // db.r6g.large with 2000 connections: the database would take 5 x 179 + 1 + 5 = 901, the account cannot.
    const large = ['DB_INSTANCE_CLASS: db.r6g.large', 'DB_MAX_CONNECTIONS: 2000'];
    expect((await settingsFor([...large, 'RESERVED_CONCURRENCY: 178'])).RESERVED_CONCURRENCY).toBe(178);
    await expect(settingsFor([...large, 'RESERVED_CONCURRENCY: 179'])).rejects.toThrow(
      "RESERVED_CONCURRENCY 179: 5 functions x 179 + 1 (sweep) + 5 (departures) = 901 reserved executions, but Lambda keeps at least 100 of the account's 1000",
    );
    // a quota of 10 (a new account): not even one execution per function
    await expect(settingsFor(['ACCOUNT_CONCURRENCY: 10', 'RESERVED_CONCURRENCY: 1'])).rejects.toThrow(
      "of the account's 10 (ACCOUNT_CONCURRENCY) unreserved, so at most 0 can be reserved",
    );
    // a raised quota takes it
    expect(
      (await settingsFor([...large, 'ACCOUNT_CONCURRENCY: 3000', 'RESERVED_CONCURRENCY: 300'])).RESERVED_CONCURRENCY,
    ).toBe(300);
  });

  it('counts the reservation of deliver in the database budget: 5 x RESERVED_CONCURRENCY + 1 + 5 + DELIVER_RESERVED_CONCURRENCY', async () => {
    // db.t4g.micro (52 of 66): 51 + 1 fits, 51 + 2 does not, and deliver alone may have 52.
    expect(await settingsFor(['RESERVED_CONCURRENCY: 9', 'DELIVER_RESERVED_CONCURRENCY: 1'])).toMatchObject({
      RESERVED_CONCURRENCY: 9,
      DELIVER_RESERVED_CONCURRENCY: 1,
    });
    await expect(settingsFor(['RESERVED_CONCURRENCY: 9', 'DELIVER_RESERVED_CONCURRENCY: 2'])).rejects.toThrow(
      'RESERVED_CONCURRENCY 9, DELIVER_RESERVED_CONCURRENCY 2: 5 functions x 9 + 1 (sweep) + 5 (departures) + 2 (deliver) = 53 ' +
        'database connections at once, more than 80% of DB_MAX_CONNECTIONS 66 (db.t4g.micro) = 52. ' +
        'Use at most 8 with that DELIVER_RESERVED_CONCURRENCY,',
    );
    expect((await settingsFor(['DELIVER_RESERVED_CONCURRENCY: 52'])).DELIVER_RESERVED_CONCURRENCY).toBe(52);
    await expect(settingsFor(['DELIVER_RESERVED_CONCURRENCY: 53'])).rejects.toThrow(
      'DELIVER_RESERVED_CONCURRENCY 53: 53 (deliver) = 53 database connections at once, more than 80% of DB_MAX_CONNECTIONS 66',
    );
    expect((await settingsFor([])).DELIVER_RESERVED_CONCURRENCY).toBeNull();
  });

  it('counts the reservation of deliver against the 100 unreserved executions Lambda keeps', async () => {
    const large = ['DB_INSTANCE_CLASS: db.r6g.large', 'DB_MAX_CONNECTIONS: 2000'];
    // 5 x 170 + 1 + 5 + 44 = 900 leaves 100 of 1000; one more does not.
    expect(
      (await settingsFor([...large, 'RESERVED_CONCURRENCY: 170', 'DELIVER_RESERVED_CONCURRENCY: 44']))
        .DELIVER_RESERVED_CONCURRENCY,
    ).toBe(44);
    await expect(
      settingsFor([...large, 'RESERVED_CONCURRENCY: 170', 'DELIVER_RESERVED_CONCURRENCY: 45']),
    ).rejects.toThrow(
      'RESERVED_CONCURRENCY 170, DELIVER_RESERVED_CONCURRENCY 45: 5 functions x 170 + 1 (sweep) + 5 (departures) + 45 (deliver) = 901 ' +
        "reserved executions, but Lambda keeps at least 100 of the account's 1000",
    );
    await expect(settingsFor(['ACCOUNT_CONCURRENCY: 10', 'DELIVER_RESERVED_CONCURRENCY: 1'])).rejects.toThrow(
      "DELIVER_RESERVED_CONCURRENCY 1: 1 (deliver) = 1 reserved executions, but Lambda keeps at least 100 of the account's 10",
    );
  });

  it('warns on a deploy that bounds the WebSocket functions but not the shards', async () => {
    const argv = process.argv;
    const writes: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      process.argv = ['node', 'sls', 'deploy'];
      await settingsFor(['RESERVED_CONCURRENCY: 5']);
      expect(writes.join('')).toContain(
        'RESERVED_CONCURRENCY 5 bounds the WebSocket functions but not the shards of large broadcasts',
      );
      writes.length = 0;
      await settingsFor(['RESERVED_CONCURRENCY: 5', 'DELIVER_RESERVED_CONCURRENCY: 5']);
      await settingsFor([]);
      expect(writes.join('')).not.toContain('DELIVER_RESERVED_CONCURRENCY');
    } finally {
      process.argv = argv;
      spy.mockRestore();
    }
  });

  it.each([
    ['ACCOUNT_CONCURRENCY: lots\nRESERVED_CONCURRENCY: 1', /ACCOUNT_CONCURRENCY must be a positive integer/],
    ['RESERVED_CONCURRENCY: 0', /RESERVED_CONCURRENCY must be a positive integer/],
    ['RESERVED_CONCURRENCY: 2.5', /RESERVED_CONCURRENCY must be a positive integer/],
    ['RESERVED_CONCURRENCY: many', /RESERVED_CONCURRENCY must be a positive integer/],
    ['DELIVER_RESERVED_CONCURRENCY: 0', /DELIVER_RESERVED_CONCURRENCY must be a positive integer/],
    ['DELIVER_RESERVED_CONCURRENCY: some', /DELIVER_RESERVED_CONCURRENCY must be a positive integer/],
    ['ALARM_TOPIC_ARN: my-topic', /ALARM_TOPIC_ARN must be the ARN of a standard SNS topic/],
    ['WS_THROTTLE_BURST: 0', /WS_THROTTLE_BURST must be a positive integer/],
    ['WS_THROTTLE_RATE: fast', /WS_THROTTLE_RATE must be a positive number/],
    ['DB_MAX_CONNECTIONS: -5', /DB_MAX_CONNECTIONS must be a positive integer/],
  ])('refuses %s', async (line, message) => {
    await expect(settingsFor([line])).rejects.toThrow(message);
  });

  it('accepts a fractional rate', async () => {
    expect((await settingsFor(['WS_THROTTLE_RATE: 0.5'])).WS_THROTTLE_RATE).toBe(0.5);
  });
});
