/**
 * The connection store. API Gateway keeps the sockets; every Lambda container is
 * separate, so who is connected (and to which rooms) lives in a database that all
 * of them share. One interface, two adapters: MySQL (AWS, or a local server) and an
 * embedded SQLite file for `npm start` (src/embedded-store.ts, loaded only when chosen).
 */
import serverlessMysql from 'serverless-mysql';
import type { ServerlessMysql } from 'serverless-mysql';
import type { MysqlSettings, StoreSettings } from './config';
import { StoreError } from './errors';
import { rdsPassword } from './secrets';
import type { SecretValue } from './secrets';

export interface Connection {
  connectionId: string;
  /** Milliseconds since the epoch, from API Gateway's `requestContext.connectedAt`. */
  connectedAt: number;
  /** Who connected (the authorizer's subject), or null on an open endpoint. */
  subject: string | null;
}

export interface ConnectionPage {
  /** All connections, exactly. */
  count: number;
  /** The oldest `limit` connections. */
  connections: Connection[];
}

export interface ConnectionStore {
  readonly kind: 'mysql' | 'embedded';
  /** Idempotent: a retried `$connect` for the same id updates the row instead of failing. */
  add(connection: Connection): Promise<void>;
  /** Removes the connection and all its room memberships. */
  remove(connectionId: string): Promise<void>;
  /** Removes many connections (and memberships) in one batched statement per chunk. */
  removeMany(connectionIds: readonly string[]): Promise<void>;
  get(connectionId: string): Promise<Connection | undefined>;
  list(limit: number): Promise<ConnectionPage>;
  /** Connection ids to deliver to: everyone, or one room's members. One indexed query. */
  audience(room?: string): Promise<string[]>;
  /** Idempotent; a connection the store does not know is not added to the room. */
  join(connectionId: string, room: string): Promise<void>;
  /** True when the connection was a member. An emptied room leaves no row behind. */
  leave(connectionId: string, room: string): Promise<boolean>;
  roomsOf(connectionId: string): Promise<string[]>;
  /** Removes connections that connected before `cutoff` (ms epoch); returns how many. */
  removeOlderThan(cutoff: number): Promise<number>;
  /** Call at the end of every invocation (serverless-mysql manages its connection there). */
  end(): Promise<void>;
  /** Closes the store for good (tests, scripts). */
  close(): Promise<void>;
}

/** Ids per DELETE statement: well under MySQL's 65,535 and SQLite's 32,766 placeholders. */
export const DELETE_CHUNK = 5000;

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Table names are fixed identifiers plus a validated prefix, never user input. */
export function tableNames(prefix: string): { connections: string; members: string } {
  return { connections: `${prefix}connections`, members: `${prefix}room_members` };
}

interface ConnectionRow {
  connection_id: string;
  connected_at: number | string;
  subject: string | null;
}

export function toConnection(row: ConnectionRow): Connection {
  return { connectionId: row.connection_id, connectedAt: Number(row.connected_at), subject: row.subject };
}

export interface MysqlStoreOptions {
  /** Bound on establishing a connection, so an unreachable server fails fast instead of hanging. */
  connectTimeoutMs?: number;
  /** Bound on each query. */
  queryTimeoutMs?: number;
  /** Where the password comes from when settings name a secret (tests give a stand-in). */
  passwordSecret?: SecretValue;
}

/** MySQL's answer to a wrong password (errno 1045). */
function accessDenied(error: unknown): boolean {
  const { code, errno } = (error ?? {}) as { code?: unknown; errno?: unknown };
  return code === 'ER_ACCESS_DENIED_ERROR' || errno === 1045;
}

export class MysqlConnectionStore implements ConnectionStore {
  readonly kind = 'mysql' as const;
  private readonly db: ServerlessMysql;
  private readonly t: { connections: string; members: string };
  private readonly queryTimeoutMs: number;
  /** In AWS, the password is read from Secrets Manager before the first connect. */
  private readonly passwordSecret: SecretValue | undefined;
  private ready: Promise<void> | undefined;
  /** serverless-mysql rethrows connect errors as `new Error(String(e))`; keep the original. */
  private lastConnectError: unknown;

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    this.t = tableNames(settings.tablePrefix);
    this.queryTimeoutMs = options.queryTimeoutMs ?? 10_000;
    this.passwordSecret =
      options.passwordSecret ??
      (settings.passwordSecretArn === undefined ? undefined : rdsPassword(settings.passwordSecretArn));
    this.db = serverlessMysql({
      config: {
        host: settings.host,
        port: settings.port,
        database: settings.database,
        user: settings.user,
        password: settings.password,
        connectTimeout: options.connectTimeoutMs ?? 5_000,
        // RDS: verify the server against the Amazon RDS CA bundle shipped with mysql2.
        ...(settings.tls ? { ssl: 'Amazon RDS' } : {}),
        supportBigNumbers: true,
        charset: 'utf8mb4',
      },
      maxRetries: 3,
      onConnectError: (error: unknown) => {
        this.lastConnectError = error;
      },
    });
  }

  private async run<T>(operation: string, sql: string, values: unknown[] = []): Promise<T> {
    try {
      return await this.attempt<T>(sql, values);
    } catch (error) {
      const failure = this.failure(operation, error);
      if (this.passwordSecret === undefined || !accessDenied(failure.cause)) throw failure;
      // RDS rotates the master password (every 7 days by default) and this container read
      // it earlier: read the secret again and reconnect, once.
      try {
        await this.passwordSecret.refresh();
        return await this.attempt<T>(sql, values);
      } catch (retryError) {
        throw this.failure(operation, retryError, ' after reading the password again');
      }
    }
  }

  /** serverless-mysql rethrows connect errors without their code: the kept original is the cause. */
  private failure(operation: string, error: unknown, context = ''): StoreError {
    const cause = this.lastConnectError ?? error;
    this.lastConnectError = undefined;
    return new StoreError(`MySQL ${operation} failed${context}: ${describe(cause)}`, operation, { cause });
  }

  /** One query; the password, when it comes from a secret, is set before serverless-mysql connects. */
  private async attempt<T>(sql: string, values: unknown[]): Promise<T> {
    if (this.passwordSecret !== undefined) this.db.config({ password: await this.passwordSecret.value() });
    return this.db.query<T>({ sql, values, timeout: this.queryTimeoutMs });
  }

  /** Creates the tables once per container (cold start), not on every call. */
  private schema(): Promise<void> {
    this.ready ??= (async () => {
      const { connections, members } = this.t;
      // utf8mb4_bin: API Gateway connection ids are case-sensitive.
      await this.run(
        'create schema',
        `CREATE TABLE IF NOT EXISTS \`${connections}\` (
           connection_id VARCHAR(128) NOT NULL,
           connected_at BIGINT NOT NULL,
           subject VARCHAR(255) NULL,
           PRIMARY KEY (connection_id),
           KEY idx_connected_at (connected_at)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      );
      await this.run(
        'create schema',
        `CREATE TABLE IF NOT EXISTS \`${members}\` (
           room VARCHAR(64) NOT NULL,
           connection_id VARCHAR(128) NOT NULL,
           PRIMARY KEY (room, connection_id),
           KEY idx_member_connection (connection_id)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      );
    })().catch((error: unknown) => {
      this.ready = undefined; // let the next invocation try again
      throw error;
    });
    return this.ready;
  }

  private async query<T>(operation: string, sql: string, values: unknown[] = []): Promise<T> {
    await this.schema();
    return this.run<T>(operation, sql, values);
  }

  async add({ connectionId, connectedAt, subject }: Connection): Promise<void> {
    await this.query(
      'add',
      `INSERT INTO \`${this.t.connections}\` (connection_id, connected_at, subject) VALUES (?, ?, ?)
       ON DUPLICATE KEY UPDATE connected_at = VALUES(connected_at), subject = VALUES(subject)`,
      [connectionId, connectedAt, subject],
    );
  }

  async remove(connectionId: string): Promise<void> {
    await this.removeMany([connectionId]);
  }

  async removeMany(connectionIds: readonly string[]): Promise<void> {
    const { connections, members } = this.t;
    for (const chunk of chunks(connectionIds, DELETE_CHUNK)) {
      // Connections first: should the second statement fail, a leftover membership only
      // makes a later room delivery meet a 410, which removes it again.
      await this.query('remove', `DELETE FROM \`${connections}\` WHERE connection_id IN (?)`, [chunk]);
      await this.query('remove', `DELETE FROM \`${members}\` WHERE connection_id IN (?)`, [chunk]);
    }
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    const rows = await this.query<ConnectionRow[]>(
      'get',
      `SELECT connection_id, connected_at, subject FROM \`${this.t.connections}\` WHERE connection_id = ?`,
      [connectionId],
    );
    return rows[0] ? toConnection(rows[0]) : undefined;
  }

  async list(limit: number): Promise<ConnectionPage> {
    const [counted] = await this.query<{ n: number | string }[]>(
      'list',
      `SELECT COUNT(*) AS n FROM \`${this.t.connections}\``,
    );
    const rows = await this.query<ConnectionRow[]>(
      'list',
      `SELECT connection_id, connected_at, subject FROM \`${this.t.connections}\`
       ORDER BY connected_at, connection_id LIMIT ?`,
      [limit],
    );
    return { count: Number(counted?.n ?? 0), connections: rows.map(toConnection) };
  }

  async audience(room?: string): Promise<string[]> {
    const rows =
      room === undefined
        ? await this.query<{ connection_id: string }[]>(
            'audience',
            `SELECT connection_id FROM \`${this.t.connections}\``,
          )
        : await this.query<{ connection_id: string }[]>(
            'audience',
            `SELECT connection_id FROM \`${this.t.members}\` WHERE room = ?`,
            [room],
          );
    return rows.map((row) => row.connection_id);
  }

  async join(connectionId: string, room: string): Promise<void> {
    await this.query(
      'join',
      `INSERT IGNORE INTO \`${this.t.members}\` (room, connection_id)
       SELECT ?, connection_id FROM \`${this.t.connections}\` WHERE connection_id = ?`,
      [room, connectionId],
    );
  }

  async leave(connectionId: string, room: string): Promise<boolean> {
    const result = await this.query<{ affectedRows: number }>(
      'leave',
      `DELETE FROM \`${this.t.members}\` WHERE room = ? AND connection_id = ?`,
      [room, connectionId],
    );
    return result.affectedRows > 0;
  }

  async roomsOf(connectionId: string): Promise<string[]> {
    const rows = await this.query<{ room: string }[]>(
      'rooms',
      `SELECT room FROM \`${this.t.members}\` WHERE connection_id = ? ORDER BY room`,
      [connectionId],
    );
    return rows.map((row) => row.room);
  }

  async removeOlderThan(cutoff: number): Promise<number> {
    const rows = await this.query<{ connection_id: string }[]>(
      'sweep',
      `SELECT connection_id FROM \`${this.t.connections}\` WHERE connected_at < ?`,
      [cutoff],
    );
    const ids = rows.map((row) => row.connection_id);
    await this.removeMany(ids);
    return ids.length;
  }

  async end(): Promise<void> {
    try {
      await this.db.end();
    } catch (error) {
      throw new StoreError(`MySQL end failed: ${describe(error)}`, 'end', { cause: error });
    }
  }

  async close(): Promise<void> {
    this.db.quit();
  }

  /** Test helper for the contract suite: drop this store's tables. */
  async dropTables(): Promise<void> {
    await this.run('drop', `DROP TABLE IF EXISTS \`${this.t.connections}\`, \`${this.t.members}\``);
    this.ready = undefined;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * Builds the store the settings name. The embedded adapter (and better-sqlite3 with
 * it) is required only when chosen, so AWS never loads it and the zip never needs it.
 */
export function createStore(settings: StoreSettings): ConnectionStore {
  if (settings.kind === 'mysql') return new MysqlConnectionStore(settings);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { EmbeddedConnectionStore } = require('./embedded-store') as typeof import('./embedded-store');
  return new EmbeddedConnectionStore(settings);
}
