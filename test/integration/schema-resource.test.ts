/**
 * The schema's custom resource (src/deploy/) answers CloudFormation on every path, against a
 * stand-in response URL on loopback, and does its work on the real server (MariaDB here): a
 * fresh database, today's tables with rows, Delete (nothing dropped), a database that refuses,
 * one that never answers, its own time running out, and a response URL that fails.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createConnection } from 'mysql2/promise';
import type { Connection as MysqlConnection } from 'mysql2/promise';
import { ANSWER_RESERVE_MS, handleSchemaEvent } from '../../src/deploy/schema-resource';
import type { SchemaWork } from '../../src/deploy/schema-resource';
import { schemaWork } from '../../src/deploy/schema-work';
import { dropSchema, executeOn, SCHEMA_VERSION, schemaTables, schemaVersion } from '../../src/store/mysql-schema';
import { routineNames } from '../../src/store/mysql-routines';
import type { Execute } from '../../src/store/mysql-schema';
import { legacyRows, legacyTables } from '../fixtures/legacy-mysql-schema';
import {
  driverOptions,
  mysqlSettings,
  MysqlUnreachableError,
  SKIP_MYSQL,
  uniquePrefix,
} from '../support/harnesses/mysql';
import { responseStandIn } from '../support/stand-ins/cfn-response';
import type { ResponseStandIn } from '../support/stand-ins/cfn-response';

jest.setTimeout(30_000);

const suite = SKIP_MYSQL ? describe.skip : describe;

/** A Lambda context whose remaining time runs down from `ms` with the real clock. */
function clock(ms: number) {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now() };
}

function event(
  type: 'Create' | 'Update' | 'Delete',
  url: string,
  properties: Record<string, unknown>,
): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:ws-dev-schema',
    ResponseURL: url,
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/ws-dev/1',
    RequestId: `req-${type}`,
    LogicalResourceId: 'DatabaseSchema',
    ResourceType: 'Custom::DatabaseSchema',
    ResourceProperties: { ServiceToken: 'x', ...properties },
  };
  if (type === 'Create') return { ...common, RequestType: 'Create' };
  if (type === 'Update') {
    return {
      ...common,
      RequestType: 'Update',
      PhysicalResourceId: 'schema:p',
      OldResourceProperties: { ServiceToken: 'x' },
    };
  }
  return { ...common, RequestType: 'Delete', PhysicalResourceId: 'schema:p' };
}

/** A server that accepts connections and never says a word (a database that hangs). */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

suite('the schema custom resource', () => {
  let stand: ResponseStandIn;
  let admin: MysqlConnection;
  let db: Execute;
  let prefix: string;
  let user: string;
  let n = 0;
  const password = 'app-pass-1';
  const settings = () => mysqlSettings('');

  beforeAll(async () => {
    stand = await responseStandIn();
    try {
      admin = await createConnection({ ...driverOptions(settings()), connectTimeout: 2_000 });
    } catch (error) {
      throw new MysqlUnreachableError(error);
    }
    db = executeOn(admin);
  });

  beforeEach(() => {
    prefix = uniquePrefix(`cr${n}`);
    user = `app_${process.pid}_${n++}`.slice(0, 32);
    stand.received.length = 0;
  });

  afterEach(async () => {
    await dropSchema(db, prefix);
    await db(`DROP USER IF EXISTS '${user}'@'%'`);
  });

  afterAll(async () => {
    await admin?.end();
    await stand?.close();
  });

  const properties = () => ({ SchemaVersion: String(SCHEMA_VERSION), AppUser: user, TablePrefix: prefix });
  const run = (e: CloudFormationCustomResourceEvent, work: SchemaWork = schemaWork(settings()), ms = 60_000) =>
    handleSchemaEvent(e, clock(ms), work, { kind: 'password', password });

  /** A connection as the application user. */
  async function asApp(): Promise<MysqlConnection> {
    return createConnection({ ...driverOptions(settings()), user, password, connectTimeout: 2_000 });
  }

  it('on Create migrates a fresh database, makes the user, and answers SUCCESS once, to the response URL', async () => {
    await run(event('Create', stand.url, properties()));
    expect(stand.received).toHaveLength(1);
    const [answer] = stand.received;
    expect(answer).toMatchObject({ method: 'PUT', path: '/cfn-response?X-Amz-Signature=abc', contentType: '' });
    expect(answer?.body).toEqual({
      Status: 'SUCCESS',
      Reason: expect.stringContaining(`schema at version ${SCHEMA_VERSION}`),
      PhysicalResourceId: `schema:${prefix}`,
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/ws-dev/1',
      RequestId: 'req-Create',
      LogicalResourceId: 'DatabaseSchema',
      Data: { SchemaVersion: SCHEMA_VERSION, FromVersion: 0, AppUser: user },
    });
    expect(await schemaVersion(db, prefix)).toBe(SCHEMA_VERSION);
  });

  it('makes a user that reads and writes the tables, calls the procedures and sees every process, but cannot DROP, CREATE, ALTER or GRANT', async () => {
    await run(event('Create', stand.url, properties()));
    const t = schemaTables(prefix);
    const app = await asApp();
    try {
      await app.query(`INSERT INTO \`${t.connections}\` (connection_id, connected_at, subject) VALUES ('c1', 1, 'u')`);
      await app.query(`UPDATE \`${t.connections}\` SET connected_at = 2 WHERE connection_id = 'c1'`);
      await app.query('START TRANSACTION');
      await app.query(`SELECT connection_id FROM \`${t.connections}\` WHERE connection_id = 'c1' FOR UPDATE`);
      await app.query('COMMIT');
      const [rows] = await app.query(`SELECT connected_at FROM \`${t.connections}\``);
      expect(rows).toEqual([{ connected_at: 2 }]);
      await app.query(`DELETE FROM \`${t.connections}\` WHERE connection_id = 'c1'`);
      // The stored procedures the store calls (./mysql-routines.ts): EXECUTE on each.
      await app.query(`INSERT INTO \`${t.connections}\` (connection_id, connected_at, subject) VALUES ('c2', 1, 'u')`);
      await app.query(`CALL \`${routineNames(prefix).remove}\`(?, NULL, NULL)`, ['c2']);
      const [left] = await app.query(`SELECT COUNT(*) AS n FROM \`${t.connections}\``);
      expect(left).toEqual([{ n: 0 }]);
      // The counted join and leave (each with its tally and departures) as the application user.
      const r = routineNames(prefix);
      await app.query(`INSERT INTO \`${t.connections}\` (connection_id, connected_at, subject) VALUES ('c3', 1, 'u')`);
      const [joined] = await app.query(`CALL \`${r.join}\`(?, ?, 50, 1, 5, ?, 1)`, ['c3', 'lobby', 'u']);
      expect((joined as unknown[][])[0]).toMatchObject([{ result: 'joined', room_count: 1, user_count: 1 }]);
      const [leftRoom] = await app.query(`CALL \`${r.leave}\`(?, ?, ?, ?)`, ['c3', 'lobby', 'u', 7]);
      expect((leftRoom as unknown[][])[0]).toMatchObject([{ was_member: 1, room_count: 0, user_count: 0 }]);
      const [departures] = await app.query(`SELECT COUNT(*) AS n FROM \`${t.departures}\` WHERE departed_at = 7`);
      expect(departures).toEqual([{ n: 2 }]);
      const [claimed] = await app.query(`CALL \`${r.claim}\`(?, ?, ?, 1)`, ['lobby', 7, 'u']);
      expect((claimed as unknown[][])[0]).toMatchObject([{ user_claimed: 1, room_claimed: 1 }]);
      await app.query(`CALL \`${r.remove}\`(?, ?, NULL)`, ['c3', 8]);
      const [versions] = await app.query(`SELECT MAX(version) AS v FROM \`${t.versions}\``);
      expect(versions).toEqual([{ v: SCHEMA_VERSION }]);
      // The root connection of this test is another user's: PROCESS shows it.
      const [users] = await app.query(`SELECT COUNT(DISTINCT USER) AS n FROM information_schema.PROCESSLIST`);
      expect(Number((users as { n: number }[])[0]?.n)).toBeGreaterThanOrEqual(2);
      const refused = async (sql: string) => {
        const error = (await app.query(sql).then(
          () => undefined,
          (e: unknown) => e,
        )) as { code?: string } | undefined;
        return error?.code;
      };
      expect(await refused(`DROP TABLE \`${t.history}\``)).toMatch(/DENIED/);
      expect(await refused(`CREATE TABLE \`${prefix}extra\` (id INT)`)).toMatch(/DENIED/);
      expect(await refused(`ALTER TABLE \`${t.connections}\` ADD COLUMN x INT`)).toMatch(/DENIED/);
      expect(
        await refused(`INSERT INTO \`${t.versions}\` (version, description, applied_at) VALUES (99, 'x', 1)`),
      ).toMatch(/DENIED/);
      expect(await refused(`GRANT SELECT ON \`${t.connections}\` TO '${user}'@'%'`)).toMatch(/DENIED/);
      expect(await refused(`CREATE USER 'x_${n}'@'%'`)).toMatch(/DENIED/);
    } finally {
      await app.end();
    }
  });

  it("on Update brings today's tables to the current version with their rows, and keeps the user's password current", async () => {
    for (const statement of [...legacyTables(prefix), ...legacyRows(prefix)]) await db(statement);
    const before = await db<{ n: number }[]>(`SELECT COUNT(*) AS n FROM \`${schemaTables(prefix).connections}\``);
    await db(`CREATE USER '${user}'@'%' IDENTIFIED BY 'old'`);
    await run(event('Update', stand.url, properties()));
    expect(stand.received[0]?.body).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'schema:p',
      Data: { SchemaVersion: SCHEMA_VERSION, FromVersion: 0 },
    });
    expect(await schemaVersion(db, prefix)).toBe(SCHEMA_VERSION);
    const after = await db<{ n: number }[]>(`SELECT COUNT(*) AS n FROM \`${schemaTables(prefix).connections}\``);
    expect(Number(after[0]?.n)).toBe(Number(before[0]?.n));
    expect(Number(after[0]?.n)).toBeGreaterThan(0);
    const app = await asApp();
    await app.end();
  });

  it('on Delete answers SUCCESS at once and drops nothing', async () => {
    await run(event('Create', stand.url, properties()));
    const apply = jest.fn();
    await run(event('Delete', stand.url, properties()), { apply });
    expect(apply).not.toHaveBeenCalled();
    expect(stand.received[1]?.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'schema:p' });
    expect(await schemaVersion(db, prefix)).toBe(SCHEMA_VERSION);
    await (await asApp()).end();
  });

  it('answers FAILED, with the reason, when the database refuses the connection', async () => {
    const closed = await silentServer();
    await closed.close(); // its port now refuses
    await run(event('Create', stand.url, properties()), schemaWork({ ...settings(), port: closed.port }));
    expect(stand.received[0]?.body).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('answers FAILED when the database never answers (its connect times out)', async () => {
    const silent = await silentServer();
    try {
      await run(
        event('Create', stand.url, properties()),
        schemaWork({ ...settings(), port: silent.port }, { connectTimeoutMs: 300 }),
      );
      expect(stand.received[0]?.body).toMatchObject({
        Status: 'FAILED',
        Reason: expect.stringMatching(/ETIMEDOUT|timed? ?out/i),
      });
    } finally {
      await silent.close();
    }
  });

  it('answers FAILED before the Lambda timeout when its own work runs out of time, and ends that work', async () => {
    const abandon = jest.fn();
    const never: SchemaWork = { apply: () => new Promise(() => undefined), abandon };
    const lambdaMs = ANSWER_RESERVE_MS + 1_500;
    const lambda = clock(lambdaMs);
    await handleSchemaEvent(event('Update', stand.url, properties()), lambda, never, { kind: 'iam' });
    expect(stand.received[0]?.body).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringMatching(/did not finish within \d+ s/),
    });
    expect(abandon).toHaveBeenCalledTimes(1);
    expect(lambda.getRemainingTimeInMillis()).toBeGreaterThan(ANSWER_RESERVE_MS - 1_000);
  });

  it('answers FAILED on malformed properties, touching no database', async () => {
    const apply = jest.fn();
    await run(event('Create', stand.url, { ...properties(), AppUser: "x'; DROP" }), { apply });
    expect(apply).not.toHaveBeenCalled();
    expect(stand.received[0]?.body).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/AppUser/) });
  });

  it('sends the answer again when the response URL fails once, and throws (for Lambda to retry) when it fails twice', async () => {
    const done: SchemaWork = { apply: async () => ({ from: 2, to: 2, applied: [] }) };
    stand.statuses.push(500);
    await run(event('Update', stand.url, properties()), done);
    expect(stand.received.map((r) => r.body.Status)).toEqual(['SUCCESS', 'SUCCESS']);
    stand.statuses.push(403, 503);
    await expect(run(event('Update', stand.url, properties()), done)).rejects.toThrow(/answered 503/);
  });
});
