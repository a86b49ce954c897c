/**
 * The local scripts as a developer runs them, each as its own process in a private copy of
 * the service: `npm run sweep` uses the store `npm start` uses, says which, and
 * exits; `npm start` checks its ports before it touches anything;
 * `npm run token` without a secret says how to give it one.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { MysqlConnectionStore } from '../../src/store/mysql';
import type { ConnectionStore } from '../../src/data';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { MYSQL_URL, mysqlSettings, MysqlUnreachableError, SKIP_MYSQL, uniquePrefix } from '../support/harnesses/mysql';
import { freePort } from '../support/harnesses/offline';
import { runScript } from '../support/harnesses/scripts';
import { copyService, withoutSettings } from '../support/harnesses/service';

jest.setTimeout(60_000);

const HOUR = 3_600_000;
const dirs: string[] = [];

function serviceCopy(envYml?: string): string {
  const dir = copyService('scripts');
  dirs.push(dir);
  if (envYml !== undefined) writeFileSync(join(dir, '.env.yml'), envYml);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** One connection past API Gateway's 2-hour maximum, one fresh. */
async function seed(store: ConnectionStore): Promise<void> {
  await store.add({ connectionId: 'orphan', connectedAt: Date.now() - 3 * HOUR, subject: null });
  await store.add({ connectionId: 'fresh', connectedAt: Date.now(), subject: null });
}

async function expectSwept(store: ConnectionStore): Promise<void> {
  expect(await store.get('orphan')).toBeUndefined();
  expect(await store.get('fresh')).toBeDefined();
}

describe('npm run sweep', () => {
  it('sweeps the embedded SQLite file of `npm start` on WS_PORT, says so, and exits', async () => {
    const dir = serviceCopy();
    const port = 40_123; // only names the file: nothing listens
    const file = join(dir, '.local', `connections-${port}.sqlite`);
    const store = new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: '' });
    await seed(store);
    await store.close();

    const run = await runScript('sweep.ts', { cwd: dir, env: { ...withoutSettings(process.env), WS_PORT: `${port}` } });

    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(run.stdout).toContain(`store: embedded SQLite ${file}`);
    expect(run.stdout).toContain('removed 1 connection(s)');
    await expectSwept(store);
    await store.close();
  });

  it('does not create a store file when `npm start` never ran on that port', async () => {
    const dir = serviceCopy();
    const run = await runScript('sweep.ts', { cwd: dir, env: { ...withoutSettings(process.env), WS_PORT: '40124' } });
    expect(run).toMatchObject({ code: 0, timedOut: false });
    expect(run.stdout).toMatch(/nothing to sweep/);
    expect(existsSync(join(dir, '.local'))).toBe(false);
  });

  (SKIP_MYSQL ? describe.skip : describe)('with LOCAL_DB_URL', () => {
    const cases: [string, (url: string) => { envYml?: string; env: Record<string, string> }][] = [
      ['from the environment', (url) => ({ env: { LOCAL_DB_URL: url } })],
      ['from .env.yml, as npm start reads it', (url) => ({ envYml: `LOCAL_DB_URL: ${url}\n`, env: {} })],
    ];

    it.each(cases)('sweeps MySQL (LOCAL_DB_URL %s), says so, and exits', async (_where, given) => {
      const prefix = uniquePrefix('sweep');
      const store = new MysqlConnectionStore(mysqlSettings(prefix));
      await seed(store).catch(async (error: unknown) => {
        await store.close();
        throw new MysqlUnreachableError(error);
      });
      try {
        const { envYml, env } = given(MYSQL_URL);
        const dir = serviceCopy(envYml);
        const run = await runScript('sweep.ts', {
          cwd: dir,
          env: { ...withoutSettings(process.env), DB_TABLE_PREFIX: prefix, ...env },
          timeoutMs: 30_000,
        });

        expect(run).toMatchObject({ code: 0, timedOut: false });
        expect(run.stdout).toContain(`store: MySQL ${MYSQL_URL}`);
        expect(run.stdout).toContain('removed 1 connection(s)');
        expect(existsSync(join(dir, '.local'))).toBe(false); // and no SQLite file on the side
        await expectSwept(store);
      } finally {
        await store.dropTables();
        await store.close();
      }
    });
  });
});

describe('npm start with a port already taken', () => {
  const holders: Server[] = [];
  afterEach(async () => {
    await Promise.all(holders.splice(0).map((server) => new Promise((done) => server.close(done))));
  });

  async function hold(port: number): Promise<void> {
    const server = createServer();
    holders.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  }

  it.each(['WS_PORT', 'HTTP_PORT', 'LAMBDA_PORT'])(
    'says in one line that %s is in use, exits non-zero, and leaves the store files alone',
    async (busy) => {
      const ports: Record<string, number> = {
        WS_PORT: await freePort(),
        HTTP_PORT: await freePort(),
        LAMBDA_PORT: await freePort(),
      };
      await hold(ports[busy] as number);
      const dir = serviceCopy();
      // What a running instance on WS_PORT has: its file and the WAL beside it.
      mkdirSync(join(dir, '.local'));
      const file = join(dir, '.local', `connections-${ports.WS_PORT}.sqlite`);
      for (const suffix of ['', '-wal', '-shm']) writeFileSync(file + suffix, `running instance${suffix}`);

      const env = { ...withoutSettings(process.env) };
      for (const [name, port] of Object.entries(ports)) env[name] = String(port);
      const run = await runScript('offline.ts', { cwd: dir, env, timeoutMs: 30_000 });

      expect(run.timedOut).toBe(false);
      expect(run.code).not.toBe(0);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toEqual([
        expect.stringContaining(`${busy} ${ports[busy]} is already in use`),
      ]);
      for (const suffix of ['', '-wal', '-shm']) {
        expect(readFileSync(file + suffix, 'utf8')).toBe(`running instance${suffix}`);
      }
      expect(existsSync(join(dir, '.build'))).toBe(false); // serverless never started
    },
  );
});

describe('npm start with a setting it cannot run with', () => {
  /** `env` over a shell without settings; `envYml` as the copy's .env.yml. */
  const cases: [string, (closedPort: number) => { envYml?: string; env?: Record<string, string> }, RegExp][] = [
    [
      'a tunable that is no number',
      () => ({ envYml: 'FANOUT_CONCURRENCY: lots\n' }),
      /^FANOUT_CONCURRENCY .*\.env\.yml/,
    ],
    [
      'LOCAL_DB_URL pointing at a closed port',
      (port) => ({ envYml: `LOCAL_DB_URL: mysql://root@127.0.0.1:${port}/test\n` }),
      /^LOCAL_DB_URL .*ECONNREFUSED/,
    ],
    [
      'LOCAL_DB_URL from the environment, pointing at a closed port',
      (port) => ({ env: { LOCAL_DB_URL: `mysql://root@127.0.0.1:${port}/test` } }),
      /^LOCAL_DB_URL .*from the environment.*ECONNREFUSED/,
    ],
    [
      'AUTH_MODE hs256 without a secret',
      () => ({ envYml: 'AUTH_MODE: hs256\n' }),
      /^AUTH_MODE is hs256: set AUTH_JWT_SECRET/,
    ],
    ['a .env.yml that is not YAML', () => ({ envYml: 'STAGE: dev\n  REGION: [x\n' }), /^\.env\.yml is not valid YAML/],
    ['LOG_LEVEL that is no level', () => ({ env: { LOG_LEVEL: 'loud' } }), /^LOG_LEVEL "loud" .*from the environment/],
    [
      'LOCAL_ALLOWED_ORIGINS with an entry that is no origin',
      () => ({ envYml: 'LOCAL_ALLOWED_ORIGINS: http://localhost:5173/, http://localhost:8080\n' }),
      /^LOCAL_ALLOWED_ORIGINS: "http:\/\/localhost:5173\/" is not an origin .*: write http:\/\/localhost:5173 \(in \.env\.yml\)$/,
    ],
    [
      'LOCAL_ALLOWED_ORIGINS "*" from the environment',
      () => ({ env: { LOCAL_ALLOWED_ORIGINS: '*' } }),
      /^LOCAL_ALLOWED_ORIGINS takes exact origins, not "\*" \(from the environment\)$/,
    ],
    [
      // Ignored, it used to start the service with auth off, without a word.
      'a misspelled key in .env.yml',
      () => ({ envYml: 'AUTH_MOD: hs256\n' }),
      /^\.env\.yml: AUTH_MOD is not a setting; did you mean AUTH_MODE\?$/,
    ],
  ];

  it.each(cases)(
    'says so in one line that names it (%s), exits 1 in under 15 s, and starts nothing',
    async (_what, given, line) => {
      const { envYml, env = {} } = given(await freePort());
      const dir = serviceCopy(envYml);
      const ports = { WS_PORT: await freePort(), HTTP_PORT: await freePort(), LAMBDA_PORT: await freePort() };
      const run = await runScript('offline.ts', {
        cwd: dir,
        env: {
          ...withoutSettings(process.env),
          ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, `${v}`])),
          ...env,
        },
        timeoutMs: 15_000,
      });

      expect(run.timedOut).toBe(false);
      expect(run.code).toBe(1);
      // Nothing claimed before the refusal (no "auth: a JWT is required" banner), no stack trace.
      expect(run.stdout).toBe('');
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect((lines[0] as string).replace('[aws-node-websockets] ', '')).toMatch(line);
      expect(existsSync(join(dir, '.build'))).toBe(false); // serverless never started
    },
  );
});

describe('npm run token without a secret', () => {
  it('says how to give it the secret the service uses, without claiming what the service does', async () => {
    const run = await runScript('token.ts', {
      cwd: serviceCopy(),
      env: withoutSettings(process.env),
      args: ['--user', 'alice'],
    });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('AUTH_JWT_SECRET');
    expect(run.stderr).toMatch(/same secret/);
    expect(run.stderr).toMatch(/\.env\.yml/);
    expect(run.stderr).toMatch(/AUTH_JWT_SECRET=\S* npm run token/);
    expect(run.stderr).not.toMatch(/accepts connections without a token/);
  });

  it('names AUTH_MAX_TOKEN_AGE when --ttl is longer than a token may live', async () => {
    const run = await runScript('token.ts', {
      cwd: serviceCopy(`AUTH_JWT_SECRET: ${'k'.repeat(40)}\n`),
      env: withoutSettings(process.env),
      args: ['--user', 'alice', '--ttl', '40d'],
    });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toMatch(/^token: --ttl .*"40d".*AUTH_MAX_TOKEN_AGE/);
  });

  it('signs with the secret of .env.yml, as npm start would use it', async () => {
    const run = await runScript('token.ts', {
      cwd: serviceCopy(`AUTH_JWT_SECRET: ${'k'.repeat(40)}\n`),
      env: withoutSettings(process.env),
      args: ['--user', 'alice'],
    });
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  const claimsOf = (token: string) =>
    JSON.parse(Buffer.from(token.trim().split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;

  it('mints rights per room with --rooms, as JSON or as the shorthand, under AUTH_ROOMS_CLAIM', async () => {
    const cwd = serviceCopy(`AUTH_JWT_SECRET: ${'k'.repeat(40)}\nAUTH_ROOMS_CLAIM: app/rooms\n`);
    const env = withoutSettings(process.env);
    const json = await runScript('token.ts', {
      cwd,
      env,
      args: ['--sub', 'alice', '--rooms', '{"lobby":["join","publish"]}'],
    });
    expect(json.code).toBe(0);
    expect(claimsOf(json.stdout)).toMatchObject({ sub: 'alice', 'app/rooms': { lobby: ['join', 'publish'] } });
    const shorthand = await runScript('token.ts', { cwd, env, args: ['--user', 'bob', '--rooms', 'lobby,team-*'] });
    expect(claimsOf(shorthand.stdout)['app/rooms']).toEqual({
      lobby: ['join', 'publish', 'presence'],
      'team-*': ['join', 'publish', 'presence'],
    });
  });

  it('refuses --rooms the authorizer would refuse, with the reason', async () => {
    const run = await runScript('token.ts', {
      cwd: serviceCopy(`AUTH_JWT_SECRET: ${'k'.repeat(40)}\n`),
      env: withoutSettings(process.env),
      args: ['--user', 'alice', '--rooms', '{"lobby":["admin"]}'],
    });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toMatch(/^token: --rooms: .*unknown right "admin"/);
  });
});
