/**
 * The connection store. API Gateway keeps the sockets; every Lambda container is
 * separate, so who is connected (and to which rooms) lives in a database that all
 * of them share. One interface, two adapters: MySQL (AWS, or a local server) and an
 * embedded SQLite file for `npm start` (src/embedded-store.ts, loaded only when chosen).
 */
import type { Connection as MysqlConnection } from 'mysql2';
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

/** What a `join` did. Only 'joined' added a membership. */
export type JoinResult = 'joined' | 'already_member' | 'limit_reached' | 'unknown_connection';

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
  /**
   * Adds the connection to the room unless it is in `maxRooms` rooms already. Atomic: the
   * limit holds however many joins of one connection race (parallel Lambdas, several
   * handles). Idempotent: a room it is in answers 'already_member', at the limit too. A
   * connection the store does not know is not added ('unknown_connection').
   */
  join(connectionId: string, room: string, maxRooms: number): Promise<JoinResult>;
  /** True when the connection was a member. An emptied room leaves no row behind. */
  leave(connectionId: string, room: string): Promise<boolean>;
  roomsOf(connectionId: string): Promise<string[]>;
  /** Removes connections that connected before `cutoff` (ms epoch); returns how many. */
  removeOlderThan(cutoff: number): Promise<number>;
  /** Call at the end of every invocation (serverless-mysql manages its connection there). */
  end(): Promise<void>;
  /** Closes the store for good (tests, scripts). */
  close(): Promise<void>;
  /**
   * Connection ids of one user (the authorizer's subject; a user may have several tabs or
   * devices). One query on the subject index. Case-sensitive, as subjects are.
   */
  connectionsOf(subject: string): Promise<string[]>;
  /** A room's members: the exact count and the oldest `limit` of them, with their subjects. */
  members(room: string, limit: number): Promise<ConnectionPage>;
}

/** The index that finds a user's connections (direct messages); added to older tables at cold start. */
export const SUBJECT_INDEX = 'idx_subject';

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

/** One statement inside a transaction (MysqlConnectionStore.transaction). */
type Statement = <R = unknown>(sql: string, values?: unknown[]) => Promise<R>;

export interface MysqlStoreOptions {
  /** Bound on establishing a connection, so an unreachable server fails fast instead of hanging. */
  connectTimeoutMs?: number;
  /** Bound on each query. */
  queryTimeoutMs?: number;
  /**
   * PEM of the CA the server's certificate must chain to, instead of the Amazon RDS bundle.
   * Only for tests against a TLS server of their own; no setting or environment variable
   * reaches it, so a deployment always trusts the RDS bundle alone.
   */
  tlsCa?: string;
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
  private lane: Promise<unknown> = Promise.resolve();
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
        ...(settings.tls ? { ssl: tlsOptions(options.tlsCa) } : {}),
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
           KEY idx_connected_at (connected_at),
           KEY ${SUBJECT_INDEX} (subject)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      );
      await this.addSubjectIndex();
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

  /**
   * Tables created before direct messages have no subject index, and CREATE TABLE IF NOT
   * EXISTS leaves an existing table as it is. MySQL 8 has no ADD INDEX IF NOT EXISTS (only
   * MariaDB does), so look the index up first; two cold starts racing to add it are told
   * ER_DUP_KEYNAME, and the loser has nothing left to do.
   */
  private async addSubjectIndex(): Promise<void> {
    const { connections } = this.t;
    const found = await this.run<unknown[]>(
      'migrate schema',
      `SELECT 1 FROM information_schema.statistics
       WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ? LIMIT 1`,
      [connections, SUBJECT_INDEX],
    );
    if (found.length > 0) return;
    try {
      await this.run('migrate schema', `ALTER TABLE \`${connections}\` ADD INDEX ${SUBJECT_INDEX} (subject)`);
    } catch (error) {
      if ((error as { cause?: { code?: unknown } }).cause?.code !== 'ER_DUP_KEYNAME') throw error;
    }
  }

  private async query<T>(operation: string, sql: string, values: unknown[] = []): Promise<T> {
    return this.serially(async () => {
      await this.schema();
      return this.run<T>(operation, sql, values);
    });
  }

  /**
   * This store's calls, one after another. serverless-mysql has one connection and mysql2
   * runs its statements in order anyway, so this costs no parallelism; it keeps a call made
   * while a transaction is open (one store used by concurrent callers: tests, scripts) from
   * running inside that transaction.
   */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const result = this.lane.then(work, work);
    this.lane = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs `work` as one READ COMMITTED transaction on one connection. Its statements go to
   * the mysql2 connection itself: serverless-mysql's query() reconnects and repeats a
   * statement when the connection drops, which here would run the rest of the transaction
   * on a new connection, outside it and without its lock. On any failure the connection is
   * closed instead of rolled back (the server rolls back a transaction whose connection
   * ends, and a connection that just failed may not take a ROLLBACK); the next call
   * connects again.
   */
  private transaction<T>(operation: string, work: (statement: Statement) => Promise<T>): Promise<T> {
    return this.serially(async () => {
      await this.schema();
      // Through serverless-mysql: connects (with its retries) and applies to the next transaction.
      await this.run(operation, 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      const client = this.db.getClient() as MysqlConnection | null;
      if (client === null) throw new StoreError(`MySQL ${operation} failed: the connection closed`, operation);
      const statement: Statement = <R>(sql: string, values: unknown[] = []) =>
        new Promise<R>((resolve, reject) => {
          client.query({ sql, values, timeout: this.queryTimeoutMs }, (error, result) =>
            error ? reject(error) : resolve(result as R),
          );
        });
      try {
        await statement('START TRANSACTION');
        const result = await work(statement);
        await statement('COMMIT');
        return result;
      } catch (error) {
        client.destroy();
        this.db.quit(); // forget the closed connection
        throw new StoreError(`MySQL ${operation} failed: ${describe(error)}`, operation, { cause: error });
      }
    });
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

  /**
   * One transaction per join, so that the limit holds however many joins of one
   * connection run at once in other containers:
   * - `FOR UPDATE` on the connection's row queues every join of that connection behind
   *   the one in progress, and each holder commits before the next gets the lock;
   * - under READ COMMITTED the count is a fresh snapshot taken when its statement starts,
   *   which is after the lock was granted, so it sees every membership committed before;
   * - only `join` adds memberships (leave and remove only lower the count).
   * READ COMMITTED also takes no gap locks, so joins of different connections (which share
   * index ranges of the members table) cannot deadlock on each other's gaps. It needs row
   * or mixed binary logging (RDS MySQL 8's default; a STATEMENT binlog would refuse the insert).
   */
  async join(connectionId: string, room: string, maxRooms: number): Promise<JoinResult> {
    const { connections, members } = this.t;
    return this.transaction('join', async (statement) => {
      const known = await statement<unknown[]>(
        `SELECT connection_id FROM \`${connections}\` WHERE connection_id = ? FOR UPDATE`,
        [connectionId],
      );
      if (known.length === 0) return 'unknown_connection';
      const [counted] = await statement<{ n: number | string; here: number | string | null }[]>(
        `SELECT COUNT(*) AS n, COALESCE(SUM(room = ?), 0) AS here FROM \`${members}\` WHERE connection_id = ?`,
        [room, connectionId],
      );
      if (Number(counted?.here ?? 0) > 0) return 'already_member';
      if (Number(counted?.n ?? 0) >= maxRooms) return 'limit_reached';
      await statement(`INSERT INTO \`${members}\` (room, connection_id) VALUES (?, ?)`, [room, connectionId]);
      return 'joined';
    });
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

  async connectionsOf(subject: string): Promise<string[]> {
    const rows = await this.query<{ connection_id: string }[]>(
      'connections of',
      // utf8mb4_bin is a PAD SPACE collation ('alice ' = 'alice'): the index finds the
      // candidates, the byte comparison keeps only the exact subject.
      `SELECT connection_id FROM \`${this.t.connections}\`
       WHERE subject = ? AND CAST(subject AS BINARY) = CAST(? AS BINARY)`,
      [subject, subject],
    );
    return rows.map((row) => row.connection_id);
  }

  async members(room: string, limit: number): Promise<ConnectionPage> {
    const { connections, members } = this.t;
    // Joined with the connections, so a membership left behind by a failed removal is
    // neither counted nor listed.
    const [counted] = await this.query<{ n: number | string }[]>(
      'members',
      `SELECT COUNT(*) AS n FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id
       WHERE m.room = ?`,
      [room],
    );
    const rows = await this.query<ConnectionRow[]>(
      'members',
      `SELECT c.connection_id, c.connected_at, c.subject
       FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id
       WHERE m.room = ? ORDER BY c.connected_at, c.connection_id LIMIT ?`,
      [room, limit],
    );
    return { count: Number(counted?.n ?? 0), connections: rows.map(toConnection) };
  }

  /** Test helper for the contract suite: drop this store's tables. */
  async dropTables(): Promise<void> {
    await this.run('drop', `DROP TABLE IF EXISTS \`${this.t.connections}\`, \`${this.t.members}\``);
    this.ready = undefined;
  }
}

/** mysql2's typings do not declare the static profile lookup its index exports. */
interface Mysql2Module {
  ConnectionConfig: { getSSLProfile(name: string): { ca: string | string[] } };
}

/** The Amazon RDS CA bundle (mysql2's `Amazon RDS` profile), loaded only when TLS is used. */
function rdsCa(): string | string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('mysql2') as Mysql2Module).ConnectionConfig.getSSLProfile('Amazon RDS').ca;
}

/**
 * TLS for the connection to RDS: the server's certificate must chain to the CA *and* name
 * the host we dialled. The CA alone is not enough: every RDS instance in every account has
 * a certificate from that CA, so without the name check anyone able to redirect the
 * connection (DNS, a route) could present their own instance's certificate. mysql2's
 * `Amazon RDS` profile is only `{ ca }`, and unless `verifyIdentity` is set mysql2 hands
 * node's TLS a checkServerIdentity that accepts any name (lib/base/connection.js,
 * startTLS); with it, node's tls.checkServerIdentity runs against the host (sent as SNI).
 */
export function tlsOptions(ca?: string): { ca: string | string[]; rejectUnauthorized: true; verifyIdentity: true } {
  return { ca: ca ?? rdsCa(), rejectUnauthorized: true, verifyIdentity: true };
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
