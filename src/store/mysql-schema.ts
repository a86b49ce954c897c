/**
 * The whole MySQL schema: every table's DDL, and the ordered, versioned migrations that bring
 * any earlier schema to this one. It needs nothing but a way to run one statement, so it runs
 * on its own with any connection (a deploy step) as well as from the store, which calls
 * `ensureSchema` at its first use in a container (./mysql.ts).
 *
 * Identifiers (connection ids, rooms, subjects) are VARBINARY: binary strings compare byte by
 * byte with no padding on MySQL 8.4 and MariaDB alike, where `utf8mb4_bin` is PAD SPACE
 * (`'id '` = `'id'`) and the two servers name their NO PAD collations differently
 * (docs/operations.md#byte-exact-identifiers). The store reads them back as UTF-8 text
 * (`typeCast` in ./mysql-connections.ts).
 */
import { routineDefinitions, routineNames } from './mysql-routines';
import { historyTables, presenceTable, shardTableNames, SUBJECT_INDEX, tableNames } from './types';
import { departuresTable } from './user-presence';

/** The version this code's tables are at; `migrate` brings any earlier one here. */
export const SCHEMA_VERSION = 5;

/** Identifier columns: bytes, sized as the VARCHAR(n) utf8mb4 columns they replace (4 bytes a character at most). */
const BYTES = {
  /** API Gateway's ids are 16 characters, serverless-offline's 36. */
  connection: 'VARBINARY(128)',
  /** ROOM_PATTERN allows ASCII only: 64 characters are 64 bytes. */
  room: 'VARBINARY(64)',
  /** A token's `sub`: at most 255 characters (src/auth/token.ts), 1,020 bytes of UTF-8 at most. */
  subject: 'VARBINARY(1020)',
  /** Our own ids (randomUUID). */
  delivery: 'VARBINARY(64)',
} as const;

/** Every table of the schema, for one table prefix (a validated setting, never user input). */
export interface SchemaTables {
  connections: string;
  members: string;
  presence: string;
  sequences: string;
  history: string;
  deliveries: string;
  shards: string;
  /** Departures waiting for their debounce (src/store/user-presence.ts). */
  departures: string;
  /** One row per migration applied: the schema's version is the highest. */
  versions: string;
}

export function schemaTables(prefix: string): SchemaTables {
  return {
    ...tableNames(prefix),
    presence: presenceTable(prefix),
    ...historyTables(prefix),
    ...shardTableNames(prefix),
    departures: departuresTable(prefix),
    versions: `${prefix}schema_versions`,
  };
}

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';

/**
 * The current shape of every table, as `CREATE TABLE IF NOT EXISTS`: what a fresh database gets,
 * and what `migrate` leaves an older one equal to.
 * - room_presence: the memberships whose joiner may see the room's presence (a table, not a
 *   column, so that adding it never needed an ALTER).
 * - room_sequences: a room's counter outlives its messages, so a client's last seq is never
 *   reused. room_history: MEDIUMTEXT, a frame is at most 128 KB, more than TEXT's 64 KB.
 * - deliveries, delivery_shards: the tallies of sharded deliveries.
 * - departures: a user's (or a room's) departure waiting for its debounce, with whose it was.
 */
export function tableDefinitions(t: SchemaTables): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS \`${t.connections}\` (
       connection_id ${BYTES.connection} NOT NULL,
       connected_at BIGINT NOT NULL,
       subject ${BYTES.subject} NULL,
       PRIMARY KEY (connection_id),
       KEY idx_connected_at (connected_at),
       KEY ${SUBJECT_INDEX} (subject)
     ) ${TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.members}\` (
       room ${BYTES.room} NOT NULL,
       connection_id ${BYTES.connection} NOT NULL,
       PRIMARY KEY (room, connection_id),
       KEY idx_member_connection (connection_id)
     ) ${TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.presence}\` (
       room ${BYTES.room} NOT NULL,
       connection_id ${BYTES.connection} NOT NULL,
       PRIMARY KEY (room, connection_id),
       KEY idx_presence_connection (connection_id)
     ) ${TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.sequences}\` (
       room ${BYTES.room} NOT NULL,
       seq BIGINT NOT NULL,
       PRIMARY KEY (room)
     ) ${TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.history}\` (
       room ${BYTES.room} NOT NULL,
       seq BIGINT NOT NULL,
       id VARCHAR(64) NOT NULL,
       sent_at BIGINT NOT NULL,
       body MEDIUMTEXT NOT NULL,
       PRIMARY KEY (room, seq),
       KEY idx_history_sent_at (sent_at)
     ) ${TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.deliveries}\` (
       delivery_id ${BYTES.delivery} NOT NULL, shards INT NOT NULL, done INT NOT NULL DEFAULT 0,
       recipients INT NOT NULL, sent INT NOT NULL DEFAULT 0, stale INT NOT NULL DEFAULT 0,
       failed INT NOT NULL DEFAULT 0, unsent INT NOT NULL DEFAULT 0, summary_to TEXT NOT NULL,
       summarized TINYINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL,
       PRIMARY KEY (delivery_id)
     ) ${TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.shards}\` (
       delivery_id ${BYTES.delivery} NOT NULL, shard INT NOT NULL, cursor_id ${BYTES.connection} NULL,
       sent INT NOT NULL DEFAULT 0, stale INT NOT NULL DEFAULT 0, failed INT NOT NULL DEFAULT 0,
       unsent INT NOT NULL DEFAULT 0, attempts INT NOT NULL DEFAULT 0, done TINYINT NOT NULL DEFAULT 0,
       updated_at BIGINT NOT NULL,
       PRIMARY KEY (delivery_id, shard),
       KEY idx_active (done, updated_at)
     ) ${TABLE_OPTIONS}`,
    departuresDefinition(t),
  ];
}

/** Its own function: migration 3 creates it in this shape. */
function departuresDefinition(t: SchemaTables): string {
  return `CREATE TABLE IF NOT EXISTS \`${t.departures}\` (
       room ${BYTES.room} NOT NULL, who ${BYTES.subject} NOT NULL, departed_at BIGINT NOT NULL,
       connection_id ${BYTES.connection} NOT NULL, subject ${BYTES.subject} NULL,
       PRIMARY KEY (room, who),
       KEY idx_departed_at (departed_at)
     ) ${TABLE_OPTIONS}`;
}

/**
 * One statement on the connection the schema is migrated through: its rows (a SELECT) or its
 * result (anything else). A failure is thrown, with the server's error code on the error or
 * on its `cause` (the store wraps errors in StoreError).
 */
export type Execute = <T = unknown>(sql: string, values?: unknown[]) => Promise<T>;

/**
 * An Execute over a mysql2/promise connection: how a deploy step (or a test) migrates through a
 * connection of its own, without the store.
 */
export function executeOn(connection: { query(sql: string, values?: unknown): Promise<[unknown, unknown]> }): Execute {
  return async <T>(sql: string, values: unknown[] = []) => (await connection.query(sql, values))[0] as T;
}

interface Migration {
  version: number;
  description: string;
  /** Idempotent by inspection: changes only what is not yet as this version wants it. */
  apply(db: Execute, t: SchemaTables, prefix: string): Promise<void>;
}

/** The identifier columns that version 2 turns into bytes, with their nullability. */
const BYTE_COLUMNS: { table: keyof SchemaTables; column: string; type: string; nullable?: true }[] = [
  { table: 'connections', column: 'connection_id', type: BYTES.connection },
  { table: 'connections', column: 'subject', type: BYTES.subject, nullable: true },
  { table: 'members', column: 'room', type: BYTES.room },
  { table: 'members', column: 'connection_id', type: BYTES.connection },
  { table: 'presence', column: 'room', type: BYTES.room },
  { table: 'presence', column: 'connection_id', type: BYTES.connection },
  { table: 'sequences', column: 'room', type: BYTES.room },
  { table: 'history', column: 'room', type: BYTES.room },
  { table: 'deliveries', column: 'delivery_id', type: BYTES.delivery },
  { table: 'shards', column: 'delivery_id', type: BYTES.delivery },
  { table: 'shards', column: 'cursor_id', type: BYTES.connection, nullable: true },
];

/** The ordered migrations. A new one gets the next version and must be idempotent as these are. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'the subject index on connections (tables made before direct messages)',
    async apply(db, t) {
      const tables = await existingTables(db, [t.connections]);
      if (!tables.has(t.connections)) return;
      const found = await db<unknown[]>(
        `SELECT 1 FROM information_schema.statistics
         WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ? LIMIT 1`,
        [t.connections, SUBJECT_INDEX],
      );
      if (found.length === 0) await db(`ALTER TABLE \`${t.connections}\` ADD INDEX ${SUBJECT_INDEX} (subject)`);
    },
  },
  {
    version: 2,
    description: 'identifiers as bytes (VARBINARY): "a" and "a " are two keys',
    async apply(db, t) {
      const names = [...new Set(BYTE_COLUMNS.map((c) => t[c.table]))];
      const rows = await db<{ table_name: string; column_name: string; data_type: string }[]>(
        `SELECT table_name AS table_name, column_name AS column_name, data_type AS data_type
         FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name IN (?)`,
        [names],
      );
      const typeOf = new Map(rows.map((row) => [`${row.table_name}.${row.column_name}`, row.data_type.toLowerCase()]));
      // One ALTER per table (one copy of its rows), naming only the columns still of another type.
      const changes = new Map<string, string[]>();
      for (const { table, column, type, nullable } of BYTE_COLUMNS) {
        const current = typeOf.get(`${t[table]}.${column}`);
        if (current === undefined || current === 'varbinary') continue;
        const list = changes.get(t[table]) ?? [];
        list.push(`MODIFY ${column} ${type} ${nullable ? 'NULL' : 'NOT NULL'}`);
        changes.set(t[table], list);
      }
      for (const [table, list] of changes) await db(`ALTER TABLE \`${table}\` ${list.join(', ')}`);
    },
  },
  {
    version: 3,
    description: 'stored procedures: join, a room message and a removal in one round trip each',
    async apply(db, t, prefix) {
      await makeRoutines(db, t, prefix);
    },
  },
  {
    version: 4,
    description: 'departures waiting for their debounce (lifecycle events)',
    async apply(db, t) {
      await db(departuresDefinition(t));
    },
  },
  {
    version: 5,
    description: 'procedures that answer what presence and lifecycle events need (join, leave, removal)',
    async apply(db, t, prefix) {
      await makeRoutines(db, t, prefix);
    },
  },
];

/**
 * Every procedure made again from scratch, as this code defines them: a procedure cut short by
 * a failed migration is replaced whole, and one of an earlier version (other parameters, other
 * results) gives way to this one. A fresh database runs it twice (versions 3 and 5): no harm.
 */
async function makeRoutines(db: Execute, t: SchemaTables, prefix: string): Promise<void> {
  for (const [name, definition] of routineDefinitions(t, routineNames(prefix))) {
    await db(`DROP PROCEDURE IF EXISTS \`${name}\``);
    await db(definition);
  }
}

/** The tables of `names` that exist in the connection's database. */
async function existingTables(db: Execute, names: string[]): Promise<Set<string>> {
  const rows = await db<{ table_name: string }[]>(
    `SELECT table_name AS table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (?)`,
    [names],
  );
  return new Set(rows.map((row) => row.table_name));
}

/** The server's error code, on the error itself (mysql2) or on its cause (the store's StoreError). */
function serverCode(error: unknown): unknown {
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: { code?: unknown } };
  return code ?? cause?.code;
}

/** The version the database's tables are at: 0 when no migration was ever recorded (a fresh database, or one from before versions). */
export async function schemaVersion(db: Execute, prefix: string): Promise<number> {
  try {
    const [row] = await db<{ version: number | string | null }[]>(
      `SELECT MAX(version) AS version FROM \`${schemaTables(prefix).versions}\``,
    );
    return Number(row?.version ?? 0);
  } catch (error) {
    if (serverCode(error) === 'ER_NO_SUCH_TABLE') return 0;
    throw error;
  }
}

/** Another migration held the schema's lock for longer than this one could wait. */
export class SchemaLockError extends Error {
  override readonly name = 'SchemaLockError';
}

export interface MigrateOptions {
  /**
   * How long to wait for another migration of the same tables (GET_LOCK) and, per statement,
   * for the tables' metadata locks (lock_wait_timeout), in whole seconds, at least 1. The
   * second keeps an ALTER whose client gave up (it goes on in the server) from having another
   * queued behind it that would copy the table again.
   */
  lockWaitSeconds: number;
}

export interface MigrationReport {
  from: number;
  to: number;
  /** The versions this call applied, in order; none when the schema was current. */
  applied: number[];
}

/**
 * Brings the tables of `prefix` in the connection's database to SCHEMA_VERSION: the migrations
 * above the recorded version, then any table still missing in its current shape, then the
 * versions applied, recorded last (a migration cut short is simply run again: each is
 * idempotent). Two at once (containers starting together, a deploy step and a container) take
 * turns on a named lock, and the second finds the work done.
 */
export async function migrate(db: Execute, prefix: string, options: MigrateOptions): Promise<MigrationReport> {
  const t = schemaTables(prefix);
  const wait = Math.max(1, Math.floor(options.lockWaitSeconds));
  // Lock names are at most 64 characters: the database and prefix are hashed into one.
  const lock = `CONCAT('ws-schema:', SHA1(CONCAT(DATABASE(), '.', ?)))`;
  const [got] = await db<{ got: number | string | null }[]>(`SELECT GET_LOCK(${lock}, ?) AS got`, [prefix, wait]);
  if (Number(got?.got) !== 1) {
    throw new SchemaLockError(`another migration of the "${prefix}" tables held the lock for more than ${wait} s`);
  }
  try {
    await db(`SET SESSION lock_wait_timeout = ?`, [wait]);
    await db(
      `CREATE TABLE IF NOT EXISTS \`${t.versions}\` (
         version INT NOT NULL, description VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL,
         PRIMARY KEY (version)
       ) ${TABLE_OPTIONS}`,
    );
    const from = await schemaVersion(db, prefix);
    const due = MIGRATIONS.filter((migration) => migration.version > from);
    for (const migration of due) await migration.apply(db, t, prefix);
    for (const statement of tableDefinitions(t)) await db(statement);
    if (due.length > 0) {
      await db(`INSERT IGNORE INTO \`${t.versions}\` (version, description, applied_at) VALUES ?`, [
        due.map((migration) => [migration.version, migration.description, Date.now()]),
      ]);
    }
    return { from, to: SCHEMA_VERSION, applied: due.map((migration) => migration.version) };
  } finally {
    // The connection may be gone (a timeout destroys it): then the lock went with it.
    await db(`SET SESSION lock_wait_timeout = DEFAULT`).catch(() => undefined);
    await db(`SELECT RELEASE_LOCK(${lock})`, [prefix]).catch(() => undefined);
  }
}

/**
 * What the store runs before its first statement in a container: one SELECT when the schema is
 * current (every cold start after the first), `migrate` when it is not.
 */
export async function ensureSchema(db: Execute, prefix: string, options: MigrateOptions): Promise<MigrationReport> {
  const version = await schemaVersion(db, prefix);
  if (version >= SCHEMA_VERSION) return { from: version, to: version, applied: [] };
  return migrate(db, prefix, options);
}

/** Drops every table of the schema (tests, and a stage's clean-up). */
export async function dropSchema(db: Execute, prefix: string): Promise<void> {
  const names = Object.values(schemaTables(prefix)).map((name) => `\`${name}\``);
  await db(`DROP TABLE IF EXISTS ${names.join(', ')}`);
  for (const name of Object.values(routineNames(prefix))) await db(`DROP PROCEDURE IF EXISTS \`${name}\``);
}
