/**
 * The MySQL schema and its migrations (src/store/mysql-schema.ts) against the real server: a
 * fresh database, the tables a running stage holds today (with rows), migrations racing, one cut
 * short, one that cannot get the lock, and the indexes the byte columns keep.
 */
import { createConnection } from 'mysql2/promise';
import type { Connection as MysqlConnection } from 'mysql2/promise';
import { MysqlConnectionStore } from '../../src/store/mysql';
import {
  dropSchema,
  executeOn,
  migrate,
  MIGRATIONS,
  SCHEMA_VERSION,
  SchemaLockError,
  schemaTables,
  schemaVersion,
} from '../../src/store/mysql-schema';
import type { Execute } from '../../src/store/mysql-schema';
import { StoreError } from '../../src/errors';
import { routineNames } from '../../src/store/mysql-routines';
import { legacyRows, legacyTables } from '../fixtures/legacy-mysql-schema';
import {
  driverOptions,
  mysqlSettings,
  MysqlUnreachableError,
  SKIP_MYSQL,
  uniquePrefix,
} from '../support/harnesses/mysql';

const suite = SKIP_MYSQL ? describe.skip : describe;

suite('the MySQL schema and its migrations', () => {
  const connections: MysqlConnection[] = [];
  const stores: MysqlConnectionStore[] = [];
  let db: Execute;
  let prefix: string;
  let n = 0;

  async function connect(): Promise<MysqlConnection> {
    const connection = await createConnection({ ...driverOptions(mysqlSettings('')), connectTimeout: 2_000 });
    connections.push(connection);
    return connection;
  }

  function open(options: ConstructorParameters<typeof MysqlConnectionStore>[1] = {}): MysqlConnectionStore {
    const store = new MysqlConnectionStore(mysqlSettings(prefix), options);
    stores.push(store);
    return store;
  }

  /** Every table's definition, its name without the prefix: what tells two schemas apart. */
  async function shapes(of: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [role, table] of Object.entries(schemaTables(of))) {
      if (role === 'versions') continue;
      const [rows] = await (connections[0] as MysqlConnection).query(`SHOW CREATE TABLE \`${table}\``);
      const ddl = (rows as Record<string, string>[])[0]?.['Create Table'] ?? '';
      out[role] = ddl.replace(table, role);
    }
    return out;
  }

  async function columnTypes(): Promise<string[]> {
    const names = Object.values(schemaTables(prefix));
    const rows = await db<{ t: string; c: string; d: string }[]>(
      `SELECT table_name AS t, column_name AS c, data_type AS d FROM information_schema.columns
       WHERE table_schema = DATABASE() AND table_name IN (?) AND column_name IN ('connection_id', 'room', 'subject', 'delivery_id', 'cursor_id')
       ORDER BY table_name, column_name`,
      [names],
    );
    return rows.map((row) => `${row.t.slice(prefix.length)}.${row.c}: ${row.d}`);
  }

  /** The schema's stored procedures, each as `name: its parameters` (the prefix left out). */
  async function procedures(of: string): Promise<string[]> {
    const rows = await db<{ name: string; params: string }[]>(
      `SELECT r.routine_name AS name, (SELECT GROUP_CONCAT(p.parameter_name ORDER BY p.ordinal_position)
         FROM information_schema.parameters p
         WHERE p.specific_schema = r.routine_schema AND p.specific_name = r.routine_name) AS params
       FROM information_schema.routines r
       WHERE r.routine_schema = DATABASE() AND r.routine_type = 'PROCEDURE' AND r.routine_name IN (?)
       ORDER BY r.routine_name`,
      [Object.values(routineNames(of))],
    );
    return rows.map((row) => `${row.name.slice(of.length)}: ${row.params}`);
  }

  async function legacyStage(): Promise<void> {
    for (const statement of [...legacyTables(prefix), ...legacyRows(prefix)]) await db(statement);
  }

  beforeAll(async () => {
    try {
      db = executeOn(await connect());
    } catch (error) {
      throw new MysqlUnreachableError(error);
    }
  });

  beforeEach(() => {
    prefix = uniquePrefix(`m${n++}`);
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await dropSchema(db, prefix);
  });

  afterAll(async () => {
    await Promise.all(connections.map((connection) => connection.end()));
  });

  it('creates every table of a fresh database at the current version, and then finds nothing to do', async () => {
    expect(await schemaVersion(db, prefix)).toBe(0);
    expect(await migrate(db, prefix, { lockWaitSeconds: 5 })).toEqual({
      from: 0,
      to: SCHEMA_VERSION,
      applied: MIGRATIONS.map((migration) => migration.version),
    });
    expect(await schemaVersion(db, prefix)).toBe(SCHEMA_VERSION);
    expect(await columnTypes()).toEqual([
      'connections.connection_id: varbinary',
      'connections.subject: varbinary',
      'deliveries.delivery_id: varbinary',
      'delivery_shards.cursor_id: varbinary',
      'delivery_shards.delivery_id: varbinary',
      'departures.connection_id: varbinary',
      'departures.room: varbinary',
      'departures.subject: varbinary',
      'room_history.room: varbinary',
      'room_members.connection_id: varbinary',
      'room_members.room: varbinary',
      'room_presence.connection_id: varbinary',
      'room_presence.room: varbinary',
      'room_sequences.room: varbinary',
    ]);
    expect(await procedures(prefix)).toEqual([
      'append_to_room: in_room,in_id,in_sent_at,in_body,in_member,in_wait',
      'claim_departures: in_room,in_at,in_user,in_vacated',
      'join_room: in_connection,in_room,in_max,in_sees,in_wait,in_subject,in_count',
      'leave_room: in_connection,in_room,in_subject,in_at',
      'remove_connection: in_connection,in_at,in_subject',
    ]);
    expect(await migrate(db, prefix, { lockWaitSeconds: 5 })).toEqual({
      from: SCHEMA_VERSION,
      to: SCHEMA_VERSION,
      applied: [],
    });
    // Dropping the schema drops its procedures too.
    await dropSchema(db, prefix);
    expect(await procedures(prefix)).toEqual([]);
  });

  it("converts today's tables at the store's first use, rows intact, to the very shape a fresh database gets", async () => {
    await legacyStage();
    // The padding collation today: a trailing space finds the row.
    expect(
      await db<unknown[]>(
        `SELECT 1 FROM \`${schemaTables(prefix).connections}\` WHERE connection_id = 'L0SM9cOFvHcCIhw= '`,
      ),
    ).toHaveLength(1);

    const store = open();
    expect(await store.get('L0SM9cOFvHcCIhw=')).toEqual({
      connectionId: 'L0SM9cOFvHcCIhw=',
      connectedAt: 1000,
      subject: 'alice',
    });
    expect(await store.get('L0SM9cOFvHcCIhw= ')).toBeUndefined();
    expect(await store.connectionsOf('bob')).toEqual(['XfGLwFTktjMFsLg=']);
    expect(await store.roomsOf('XfGLwFTktjMFsLg=')).toEqual(['lobby']);
    expect(await store.presencePage('lobby', 10)).toEqual({
      count: 2,
      members: [
        { connectionId: 'L0SM9cOFvHcCIhw=', seesPresence: true },
        { connectionId: 'XfGLwFTktjMFsLg=', seesPresence: false },
      ],
    });
    expect(await store.roomHistory('lobby', 0, 10, { maxPerRoom: 10, notBefore: 0 })).toEqual({
      latest: 2,
      messages: [
        { seq: 1, id: 'm1', sentAt: 1500, body: '{"n":1}' },
        { seq: 2, id: 'm2', sentAt: 2500, body: '{"n":2}' },
      ],
    });
    expect(await store.appendToRoom('lobby', { id: 'm3', sentAt: 3500, body: '{"n":3}' })).toBe(3);
    expect(await store.deliveryState('d-1')).toMatchObject({
      shards: 2,
      recipients: 10,
      summaryTo: '{"to":"L0SM9cOFvHcCIhw="}',
    });
    expect(await store.startShard('d-1', 0, 4000)).toMatchObject({ cursor: 'L0SM9cOFvHcCIhw=', sent: 3, attempts: 2 });

    // Now "a" and "a " are two keys, and removing the padded one leaves the other alone.
    await store.add({ connectionId: 'L0SM9cOFvHcCIhw= ', connectedAt: 5000, subject: 'alice ' });
    await store.remove('L0SM9cOFvHcCIhw= ');
    expect(await store.get('L0SM9cOFvHcCIhw=')).toBeDefined();
    expect(await store.audience('lobby')).toHaveLength(2);

    expect(await schemaVersion(db, prefix)).toBe(SCHEMA_VERSION);
    const fresh = uniquePrefix(`f${n++}`);
    try {
      await migrate(db, fresh, { lockWaitSeconds: 5 });
      expect(await shapes(prefix)).toEqual(await shapes(fresh));
      expect(await procedures(prefix)).toEqual(await procedures(fresh));
      expect(await procedures(prefix)).toHaveLength(5);
    } finally {
      await dropSchema(db, fresh);
    }
  });

  it('migrates once when six cold starts race on the same tables: every one answers, each version is recorded once', async () => {
    await legacyStage();
    // A generous budget: what is tested here is that they take turns, not how fast a loaded machine is.
    const racing = Array.from({ length: 6 }, () => open({ operationTimeoutMs: 10_000 }));
    const found = await Promise.all(racing.map((store) => store.connectionsOf('alice')));
    expect(found).toEqual(Array.from({ length: 6 }, () => ['L0SM9cOFvHcCIhw=']));
    const versions = await db<{ version: number }[]>(
      `SELECT version FROM \`${schemaTables(prefix).versions}\` ORDER BY version`,
    );
    expect(versions.map((row) => row.version)).toEqual(MIGRATIONS.map((migration) => migration.version));
  });

  it('lets two migrations on their own connections (a deploy step and a container) take turns: one does the work', async () => {
    await legacyStage();
    const [first, second] = [executeOn(await connect()), executeOn(await connect())];
    const reports = await Promise.all([
      migrate(first, prefix, { lockWaitSeconds: 10 }),
      migrate(second, prefix, { lockWaitSeconds: 10 }),
    ]);
    expect(reports.map((report) => report.applied).sort()).toEqual([[], [1, 2, 3, 4, 5]]);
    expect(reports.map((report) => report.to)).toEqual([SCHEMA_VERSION, SCHEMA_VERSION]);
  });

  it("replaces version 4's procedures (rows kept) with the ones that answer presence and events, and grants run them", async () => {
    const fresh = uniquePrefix(`f${n++}`);
    try {
      await migrate(db, fresh, { lockWaitSeconds: 5 });
      const t = schemaTables(prefix);
      const r = routineNames(prefix);
      // Today's release: the schema at version 4, with version 4's procedure signatures and rows in it.
      await migrate(db, prefix, { lockWaitSeconds: 5 });
      await db(`DELETE FROM \`${t.versions}\` WHERE version = 5`);
      await db(`DROP PROCEDURE IF EXISTS \`${r.leave}\``);
      await db(`DROP PROCEDURE IF EXISTS \`${r.claim}\``);
      await db(`DROP PROCEDURE \`${r.remove}\``);
      await db(`CREATE PROCEDURE \`${r.remove}\`(IN in_connection VARBINARY(128)) SQL SECURITY INVOKER
        DELETE FROM \`${t.connections}\` WHERE connection_id = in_connection`);
      await db(`INSERT INTO \`${t.connections}\` (connection_id, connected_at, subject) VALUES ('c1', 1, 'alice')`);
      await db(`INSERT INTO \`${t.members}\` (room, connection_id) VALUES ('lobby', 'c1')`);
      expect(await procedures(prefix)).not.toEqual(await procedures(fresh));

      expect(await migrate(db, prefix, { lockWaitSeconds: 5 })).toMatchObject({ from: 4, applied: [5] });
      expect(await procedures(prefix)).toEqual(await procedures(fresh));
      const store = open();
      expect(await store.audience('lobby')).toEqual(['c1']);
      const removal = await store.removeCounted('c1', 9, null);
      expect(removal).toMatchObject({
        known: true,
        subject: 'alice',
        rooms: [{ room: 'lobby', tally: { room: 0, user: 0 } }],
      });
      expect(await store.staleDepartures(10, 10)).toHaveLength(2);
    } finally {
      await dropSchema(db, fresh);
    }
  });

  it('finishes a migration that was cut short: the next run changes only what is left', async () => {
    await legacyStage();
    const t = schemaTables(prefix);
    // As if a run converted one table and lost its connection before recording anything.
    await db(
      `ALTER TABLE \`${t.members}\` MODIFY room VARBINARY(64) NOT NULL, MODIFY connection_id VARBINARY(128) NOT NULL`,
    );
    expect(await migrate(db, prefix, { lockWaitSeconds: 5 })).toMatchObject({ from: 0, applied: [1, 2, 3, 4, 5] });
    expect(await columnTypes()).not.toContainEqual(expect.stringMatching(/varchar/));
    expect(await open().audience('lobby')).toHaveLength(2);
  });

  it('fails an operation with a typed StoreError within its budget while another migration holds the lock, then works', async () => {
    await legacyStage();
    const holder = await connect();
    await holder.query(`SELECT GET_LOCK(CONCAT('ws-schema:', SHA1(CONCAT(DATABASE(), '.', ?))), 0)`, [prefix]);
    const store = open({ operationTimeoutMs: 2_500 });
    const started = Date.now();
    const error = await store.get('L0SM9cOFvHcCIhw=').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).operation).toBe('create schema');
    expect((error as StoreError).cause).toBeInstanceOf(SchemaLockError);
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(await schemaVersion(db, prefix)).toBe(0);

    await holder.query(`SELECT RELEASE_LOCK(CONCAT('ws-schema:', SHA1(CONCAT(DATABASE(), '.', ?))))`, [prefix]);
    expect(await store.get('L0SM9cOFvHcCIhw=')).toMatchObject({ subject: 'alice' });
    expect(await schemaVersion(db, prefix)).toBe(SCHEMA_VERSION);
  });

  it('checks a current schema with one statement at a cold start', async () => {
    await migrate(db, prefix, { lockWaitSeconds: 5 });
    const store = open();
    const seen: string[] = [];
    const run = (store as unknown as { run: (...args: unknown[]) => Promise<unknown> }).run.bind(store);
    (store as unknown as { run: (...args: unknown[]) => Promise<unknown> }).run = (operation, sql, ...rest) => {
      seen.push(String(sql).trim().split(/\s+/).slice(0, 2).join(' '));
      return run(operation, sql, ...rest);
    };
    await store.get('x');
    expect(seen).toEqual(['SELECT MAX(version)', 'SELECT connection_id,']);
  });

  it('keeps every lookup on its index with identifiers as bytes (EXPLAIN)', async () => {
    const store = open();
    for (let i = 0; i < 200; i++) {
      await store.add({ connectionId: `c${i}`, connectedAt: i, subject: `u${i % 20}` });
      await store.join(`c${i}`, `r${i % 10}`, 50);
    }
    const t = schemaTables(prefix);
    await db(`ANALYZE TABLE \`${t.connections}\`, \`${t.members}\``);
    const plan = async (sql: string, values: unknown[]) =>
      (await db<{ table: string; key: string | null }[]>(`EXPLAIN ${sql}`, values)).map((row) => row.key);
    expect(await plan(`SELECT * FROM \`${t.connections}\` WHERE connection_id = ?`, ['c5'])).toEqual(['PRIMARY']);
    expect(await plan(`SELECT connection_id FROM \`${t.connections}\` WHERE subject = ?`, ['u3'])).toEqual([
      'idx_subject',
    ]);
    expect(await plan(`SELECT connection_id FROM \`${t.members}\` WHERE room = ?`, ['r3'])).toEqual(['PRIMARY']);
    expect(await plan(`SELECT room FROM \`${t.members}\` WHERE connection_id = ?`, ['c3'])).toEqual([
      'idx_member_connection',
    ]);
    expect(
      await plan(
        `SELECT connection_id FROM \`${t.connections}\` WHERE connection_id > ? ORDER BY connection_id LIMIT 5`,
        ['c5'],
      ),
    ).toEqual(['PRIMARY']);
    expect(
      await plan(
        `SELECT c.connection_id FROM \`${t.members}\` m JOIN \`${t.connections}\` c ON c.connection_id = m.connection_id WHERE m.room = ?`,
        ['r3'],
      ),
    ).toEqual(['PRIMARY', 'PRIMARY']);
  });

  it('hands identifiers to the store as text, though mysql2 reads the byte columns as Buffers', async () => {
    const store = open();
    await store.add({ connectionId: 'ÄÖÜ-💥-連線', connectedAt: 1, subject: 'zoë' });
    const [raw] = await db<{ connection_id: unknown }[]>(
      `SELECT connection_id FROM \`${schemaTables(prefix).connections}\``,
    );
    expect(Buffer.isBuffer(raw?.connection_id)).toBe(true);
    expect(await store.list(1)).toEqual({
      count: 1,
      connections: [{ connectionId: 'ÄÖÜ-💥-連線', connectedAt: 1, subject: 'zoë' }],
    });
  });
});
