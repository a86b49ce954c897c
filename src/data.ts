/**
 * The connection store. API Gateway keeps the sockets; every Lambda container is
 * separate, so who is connected (and to which rooms) lives in a database that all
 * of them share. One interface, two adapters: MySQL (AWS, or a local server) and an
 * embedded SQLite file for `npm start` (src/embedded-store.ts, loaded only when chosen).
 */
import type { Connection as MysqlConnection } from 'mysql2';
import serverlessMysql from 'serverless-mysql';
import type { ServerlessMysql } from 'serverless-mysql';
import type { Connection as Connection2 } from 'mysql2';
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

/**
 * Every wait on MySQL has an end, and the ends add up to less than each route's function
 * timeout (serverless.yml: `$connect`/`$disconnect` 10 s, messages 29 s, sweep 60 s), so a
 * database that is down, or that accepts TCP and never answers, gives a typed StoreError in
 * time for the handler to answer. With the database silent at any point:
 *
 * - connect (TCP + TLS + MySQL handshake): `connectMs`, and never past the operation's
 *   deadline. In-region RDS takes tens of ms.
 * - one store operation (one method call: connect if needed, the schema at a cold start, its
 *   statements, and any reconnect serverless-mysql makes by itself inside a statement):
 *   `operationMs` in all; each statement gets what is left.
 * - the sweep's one operation (`removeOlderThan`, many chunks on a big table): `sweepMs`.
 * - end(), once per invocation: `endMs` (see `end`).
 *
 * So per route: `$connect` = add + end <= 3 + 1 = 4 s of its 10; `$disconnect` = remove + end
 * <= 4 s of 10; a message whose store call fails answers `unavailable` after <= 3 s, then the
 * reply (<= 2 s) and end: 6 s of 29 (src/handler.ts: FAILURE_REPLY_TIMEOUT_MS, and the fan-out's
 * deadline kept clear of what may follow it); the sweep <= 45 + 1 s of 60. A connection that
 * timed out is destroyed.
 */
export const MYSQL_TIMEOUTS = { connectMs: 2_000, operationMs: 3_000, sweepMs: 45_000, endMs: 1_000 } as const;

/**
 * Connection management, in place of serverless-mysql's own (`manageConns`), measured against
 * DB_MAX_CONNECTIONS. serverless-mysql 2.1's end() runs its management queries with no timeout
 * (a database that stalls right after an answered message held the invocation until Lambda
 * killed it at 29 s), asks the server for max_connections (the template knows it), and with
 * `usedConnsFreq` at its default 0 counts the processlist in every invocation: one query per
 * invocation that the store itself never asked for. Ours runs with the same timeouts as any
 * statement, and at most once per `usedConnsFreqMs` per container.
 */
export const CONNECTION_MANAGEMENT = {
  /**
   * How often a container checks the server's connection count (serverless-mysql's
   * `usedConnsFreq`). The count changes when containers start or stop; every new container
   * checks at its first end(), the others every 10 s, so a fleet of N warm containers adds
   * N/10 small queries a second instead of one per invocation.
   */
  usedConnsFreqMs: 10_000,
  /**
   * Above this share of DB_MAX_CONNECTIONS (serverless-mysql's `connUtilization`), a container
   * reclaims idle connections, and gives up its own if there was none. 0.8 keeps a fifth of the
   * budget for the containers that start between two checks, and for an operator's client.
   */
  connUtilization: 0.8,
  /**
   * Over the threshold, our user's connections asleep this long (s) are killed, longest idle
   * first (serverless-mysql's `zombieMinTimeout`, 3 s). A warm container that finds its
   * connection killed reconnects on its next statement (serverless-mysql does that by itself);
   * 10 s spares the connections of containers that are busy right now.
   */
  zombieMinIdleS: 10,
  /**
   * Always killed (serverless-mysql's `zombieMaxTimeout`, 15 min): a container idle that long is
   * frozen or gone, and MySQL would keep its connection until `wait_timeout` (8 h by default).
   */
  zombieMaxIdleS: 900,
  /** At most this many KILLs per check, so that a check stays inside `endMs`. */
  killsPerCheck: 5,
  /**
   * "Too many connections" at connect is retried with full-jitter backoff (base, cap in ms)
   * while the operation's budget allows; a timeout or a refusal is not retried (a silent
   * server would only cost another `connectMs`). serverless-mysql's own retries are off
   * (`maxRetries` 0): each of them took a full connect timeout against a silent server, and
   * its counter resets only on a successful connect, so after one failure every later call
   * failed after one attempt while the first took four. A retry is made only if `minAttemptMs`
   * are left after its pause: with less, it would time out rather than hear the server.
   */
  backoff: { baseMs: 25, capMs: 400, minAttemptMs: 100 },
} as const;

/** Server answers that mean "no free connection now"; another attempt shortly may get one. */
const TOO_MANY_CONNECTIONS = new Set(['ER_CON_COUNT_ERROR', 'ER_TOO_MANY_USER_CONNECTIONS', 'ER_USER_LIMIT_REACHED']);

export interface MysqlStoreOptions {
  connectTimeoutMs?: number;
  /**
   * PEM of the CA the server's certificate must chain to, instead of the Amazon RDS bundle.
   * Only for tests against a TLS server of their own; no setting or environment variable
   * reaches it, so a deployment always trusts the RDS bundle alone.
   */
  tlsCa?: string;
  /** Where the password comes from when settings name a secret (tests give a stand-in). */
  passwordSecret?: SecretValue;
  operationTimeoutMs?: number;
  sweepTimeoutMs?: number;
  endTimeoutMs?: number;
  /** For tests: how often end() checks the connection count. */
  usedConnsFreqMs?: number;
}

export interface ConnectionUsage {
  /** Connections open on the server, every user's. */
  used: number;
  /** Our user's sleeping connections idle at least `zombieMinIdleS` (not ours), longest first. */
  idle: { id: number; idleS: number }[];
}

/**
 * What end()'s check does about what it found: over `connUtilization` of the budget, kill the
 * idle connections it found (if it may), and if none, release our own; under it, kill only
 * those idle longer than `zombieMaxIdleS`.
 */
export function reclaimPlan(
  usage: ConnectionUsage,
  options: { maxConnections: number; reclaimIdle: boolean },
): { crowded: boolean; kill: number[] } {
  const { connUtilization, zombieMaxIdleS, killsPerCheck } = CONNECTION_MANAGEMENT;
  const crowded = usage.used > connUtilization * options.maxConnections;
  if (!options.reclaimIdle) return { crowded, kill: [] };
  const due = usage.idle.filter((connection) => crowded || connection.idleS >= zombieMaxIdleS);
  return { crowded, kill: due.slice(0, killsPerCheck).map((connection) => connection.id) };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A statement (or what was left of its operation's budget) ran out of time. */
function timeoutError(ms: number): Error {
  return Object.assign(new Error(`no answer within ${Math.max(0, Math.round(ms))} ms`), { code: 'STORE_TIMEOUT' });
}

/** MySQL's answer to a wrong password (errno 1045). */
function accessDenied(error: unknown): boolean {
  const { code, errno } = (error ?? {}) as { code?: unknown; errno?: unknown };
  return code === 'ER_ACCESS_DENIED_ERROR' || errno === 1045;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export class MysqlConnectionStore implements ConnectionStore {
  readonly kind = 'mysql' as const;
  private readonly db: ServerlessMysql;
  private readonly t: { connections: string; members: string };
  /** In AWS, the password is read from Secrets Manager before the first connect. */
  private readonly passwordSecret: SecretValue | undefined;
  private readonly user: string;
  private readonly maxConnections: number;
  private readonly reclaimIdle: boolean;
  private readonly timeouts: { connectMs: number; operationMs: number; sweepMs: number; endMs: number };
  private readonly usedConnsFreqMs: number;
  private ready: Promise<void> | undefined;
  private lane: Promise<unknown> = Promise.resolve();
  /** serverless-mysql rethrows connect errors as `new Error(String(e))`; keep the original. */
  private lastConnectError: unknown;
  /** The open mysql2 connection, to destroy its socket for real on a timeout. */
  private connection: Connection2 | undefined;
  /** When end() last counted the server's connections (ms epoch; 0: not yet in this container). */
  private checkedAt = 0;

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    this.t = tableNames(settings.tablePrefix);
    this.passwordSecret =
      options.passwordSecret ??
      (settings.passwordSecretArn === undefined ? undefined : rdsPassword(settings.passwordSecretArn));
    this.user = settings.user;
    this.maxConnections = settings.maxConnections;
    this.reclaimIdle = settings.reclaimIdle;
    this.timeouts = {
      connectMs: options.connectTimeoutMs ?? MYSQL_TIMEOUTS.connectMs,
      operationMs: options.operationTimeoutMs ?? MYSQL_TIMEOUTS.operationMs,
      sweepMs: options.sweepTimeoutMs ?? MYSQL_TIMEOUTS.sweepMs,
      endMs: options.endTimeoutMs ?? MYSQL_TIMEOUTS.endMs,
    };
    this.usedConnsFreqMs = options.usedConnsFreqMs ?? CONNECTION_MANAGEMENT.usedConnsFreqMs;
    this.db = serverlessMysql({
      config: {
        host: settings.host,
        port: settings.port,
        database: settings.database,
        user: settings.user,
        password: settings.password,
        connectTimeout: this.timeouts.connectMs,
        ...(settings.tls ? { ssl: tlsOptions(options.tlsCa) } : {}),
        supportBigNumbers: true,
        charset: 'utf8mb4',
      },
      // Ours instead (CONNECTION_MANAGEMENT, `end`): so `connUtilization`, `usedConnsFreq`,
      // `maxConnsFreq`, `zombieMinTimeout`, `zombieMaxTimeout` and `backoff` are not used.
      manageConns: false,
      maxRetries: 0,
      // Not retried by the library: a statement that timed out may have run (ours are
      // idempotent, but a retry would not fit in the operation's budget either).
      maxQueryRetries: 0,
      onConnect: (connection: Connection2) => {
        this.connection = connection;
      },
      onConnectError: (error: unknown) => {
        this.lastConnectError = error;
      },
    });
  }

  /** A deadline `ms` from now, for one operation. */
  private budget(ms = this.timeouts.operationMs): number {
    return Date.now() + ms;
  }

  /**
   * Connects, retrying only "too many connections", and only while the deadline allows. When
   * the deadline cuts the last attempt short, the refusals are what made the operation fail,
   * so that is the error it reports (not the cut-short attempt's ETIMEDOUT).
   */
  private async connect(deadline: number): Promise<void> {
    const { baseMs, capMs, minAttemptMs } = CONNECTION_MANAGEMENT.backoff;
    let refusal: unknown;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      if (left < 1) throw refusal ?? timeoutError(left);
      // Read by mysql2 when serverless-mysql creates the connection (synchronously, inside
      // connect()): never past the deadline. Restored for the reconnects serverless-mysql makes
      // by itself inside a statement (bounded by the statement's own timer).
      const connectTimeout = Math.min(this.timeouts.connectMs, left);
      this.db.config({ connectTimeout });
      const connecting = this.db.connect();
      this.db.config({ connectTimeout: this.timeouts.connectMs });
      try {
        await connecting;
        return;
      } catch (error) {
        const cause = this.lastConnectError ?? error;
        this.lastConnectError = undefined;
        const code = codeOf(cause);
        if (code === undefined || !TOO_MANY_CONNECTIONS.has(code)) {
          const cutShort = refusal !== undefined && connectTimeout < this.timeouts.connectMs && code === 'ETIMEDOUT';
          throw cutShort ? refusal : cause;
        }
        refusal = cause;
        const pause = Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
        if (Date.now() + pause + minAttemptMs >= deadline) throw cause;
        await sleep(pause);
      }
    }
  }

  /**
   * Ends the connection for good after a timeout: serverless-mysql forgets it (its COM_QUIT
   * waits behind the stuck statement and is never sent), mysql2 is told it is closing (so the
   * stuck statement is never retried on a new connection), and the socket is destroyed:
   * mysql2's destroy() only half-closes it (FIN), and a silent server never closes its side.
   */
  private destroyConnection(): void {
    const connections = new Set([this.connection, this.db.getClient()]);
    this.connection = undefined;
    if (this.db.getClient() !== null) this.db.quit();
    for (const connection of connections) {
      if (!connection) continue;
      connection.destroy();
      (connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
    }
  }

  /**
   * One statement, abandoned (and its connection destroyed) after `ms`. Not mysql2's own
   * `timeout` option: its timer stays armed when the statement fails otherwise (a lost
   * connection), fires later into serverless-mysql's callback, which then destroys whatever
   * connection is current by then, or throws a TypeError in a timer when there is none.
   */
  private statement<T>(sql: string, values: unknown[], ms: number): Promise<T> {
    if (ms < 1) return Promise.reject(timeoutError(ms));
    const running = this.db.query<T>({ sql, values });
    running.catch(() => undefined); // abandoned on a timeout: it never settles then
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.destroyConnection();
        reject(timeoutError(ms));
      }, ms);
    });
    return Promise.race([running, timedOut]).finally(() => clearTimeout(timer));
  }

  private async run<T>(operation: string, sql: string, values: unknown[], deadline: number): Promise<T> {
    try {
      return await this.attempt<T>(sql, values, deadline);
    } catch (error) {
      const failure = this.failure(operation, error);
      if (this.passwordSecret === undefined || !accessDenied(failure.cause)) throw failure;
      // RDS rotates the master password (every 7 days by default) and this container read
      // it earlier: read the secret again and reconnect, once.
      try {
        await this.passwordSecret.refresh();
        return await this.attempt<T>(sql, values, deadline);
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

  /**
   * One statement, connecting first when there is no connection (within the deadline); the
   * password, when it comes from a secret, is set before serverless-mysql connects.
   */
  private async attempt<T>(sql: string, values: unknown[], deadline: number): Promise<T> {
    if (this.db.getClient() === null) {
      if (this.passwordSecret !== undefined) this.db.config({ password: await this.passwordSecret.value() });
      await this.connect(deadline);
    }
    return this.statement<T>(sql, values, deadline - Date.now());
  }

  /** Creates the tables once per container (cold start), not on every call. */
  private schema(deadline: number): Promise<void> {
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
        [],
        deadline,
      );
      await this.addSubjectIndex(deadline);
      await this.run(
        'create schema',
        `CREATE TABLE IF NOT EXISTS \`${members}\` (
           room VARCHAR(64) NOT NULL,
           connection_id VARCHAR(128) NOT NULL,
           PRIMARY KEY (room, connection_id),
           KEY idx_member_connection (connection_id)
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
        [],
        deadline,
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
  private async addSubjectIndex(deadline: number): Promise<void> {
    const { connections } = this.t;
    const found = await this.run<unknown[]>(
      'migrate schema',
      `SELECT 1 FROM information_schema.statistics
       WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ? LIMIT 1`,
      [connections, SUBJECT_INDEX],
      deadline,
    );
    if (found.length > 0) return;
    try {
      await this.run(
        'migrate schema',
        `ALTER TABLE \`${connections}\` ADD INDEX ${SUBJECT_INDEX} (subject)`,
        [],
        deadline,
      );
    } catch (error) {
      if ((error as { cause?: { code?: unknown } }).cause?.code !== 'ER_DUP_KEYNAME') throw error;
    }
  }

  /** One statement of an operation that must end by `deadline` (see MYSQL_TIMEOUTS). */
  private async query<T>(operation: string, sql: string, values: unknown[], deadline: number): Promise<T> {
    return this.serially(async () => {
      await this.schema(deadline);
      return this.run<T>(operation, sql, values, deadline);
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
  private transaction<T>(
    operation: string,
    work: (statement: Statement) => Promise<T>,
    deadline = this.budget(),
  ): Promise<T> {
    return this.serially(async () => {
      await this.schema(deadline);
      // Through run(): connects (within the deadline) and applies to the next transaction.
      await this.run(operation, 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED', [], deadline);
      const client = this.db.getClient() as MysqlConnection | null;
      if (client === null) throw new StoreError(`MySQL ${operation} failed: the connection closed`, operation);
      // Each statement gets what is left of the operation's budget, and a statement that runs
      // out of it ends its connection for good (as statement() does).
      const statement: Statement = <R>(sql: string, values: unknown[] = []) => {
        const left = deadline - Date.now();
        if (left < 1) return Promise.reject(timeoutError(left));
        return new Promise<R>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.destroyConnection();
            reject(timeoutError(left));
          }, left);
          client.query({ sql, values }, (error, result) => {
            clearTimeout(timer);
            if (error) reject(error);
            else resolve(result as R);
          });
        });
      };
      try {
        await statement('START TRANSACTION');
        const result = await work(statement);
        await statement('COMMIT');
        return result;
      } catch (error) {
        this.destroyConnection(); // the server rolls back; the next call connects again
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
      this.budget(),
    );
  }

  async remove(connectionId: string): Promise<void> {
    await this.removeMany([connectionId]);
  }

  async removeMany(connectionIds: readonly string[]): Promise<void> {
    await this.deleteMany(connectionIds, this.budget());
  }

  private async deleteMany(connectionIds: readonly string[], deadline: number): Promise<void> {
    const { connections, members } = this.t;
    for (const chunk of chunks(connectionIds, DELETE_CHUNK)) {
      // Connections first: should the second statement fail, a leftover membership only
      // makes a later room delivery meet a 410, which removes it again.
      await this.query('remove', `DELETE FROM \`${connections}\` WHERE connection_id IN (?)`, [chunk], deadline);
      await this.query('remove', `DELETE FROM \`${members}\` WHERE connection_id IN (?)`, [chunk], deadline);
    }
  }

  async get(connectionId: string): Promise<Connection | undefined> {
    const rows = await this.query<ConnectionRow[]>(
      'get',
      `SELECT connection_id, connected_at, subject FROM \`${this.t.connections}\` WHERE connection_id = ?`,
      [connectionId],
      this.budget(),
    );
    return rows[0] ? toConnection(rows[0]) : undefined;
  }

  async list(limit: number): Promise<ConnectionPage> {
    const deadline = this.budget();
    const [counted] = await this.query<{ n: number | string }[]>(
      'list',
      `SELECT COUNT(*) AS n FROM \`${this.t.connections}\``,
      [],
      deadline,
    );
    const rows = await this.query<ConnectionRow[]>(
      'list',
      `SELECT connection_id, connected_at, subject FROM \`${this.t.connections}\`
       ORDER BY connected_at, connection_id LIMIT ?`,
      [limit],
      deadline,
    );
    return { count: Number(counted?.n ?? 0), connections: rows.map(toConnection) };
  }

  async audience(room?: string): Promise<string[]> {
    const rows =
      room === undefined
        ? await this.query<{ connection_id: string }[]>(
            'audience',
            `SELECT connection_id FROM \`${this.t.connections}\``,
            [],
            this.budget(),
          )
        : await this.query<{ connection_id: string }[]>(
            'audience',
            `SELECT connection_id FROM \`${this.t.members}\` WHERE room = ?`,
            [room],
            this.budget(),
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
      this.budget(),
    );
    return result.affectedRows > 0;
  }

  async roomsOf(connectionId: string): Promise<string[]> {
    const rows = await this.query<{ room: string }[]>(
      'rooms',
      `SELECT room FROM \`${this.t.members}\` WHERE connection_id = ? ORDER BY room`,
      [connectionId],
      this.budget(),
    );
    return rows.map((row) => row.room);
  }

  async removeOlderThan(cutoff: number): Promise<number> {
    const deadline = this.budget(this.timeouts.sweepMs);
    const rows = await this.query<{ connection_id: string }[]>(
      'sweep',
      `SELECT connection_id FROM \`${this.t.connections}\` WHERE connected_at < ?`,
      [cutoff],
      deadline,
    );
    const ids = rows.map((row) => row.connection_id);
    await this.deleteMany(ids, deadline);
    return ids.length;
  }

  /**
   * Once per invocation. Usually nothing at all; once per `usedConnsFreqMs` per container, one
   * query counts the server's connections and finds our user's longest-idle ones; KILLs follow
   * only when some are due (CONNECTION_MANAGEMENT). All of it within `endMs`, and on a timeout
   * the connection is destroyed, so a database that stalls after an answered message costs
   * the invocation at most `endMs`, not the function timeout.
   */
  async end(): Promise<void> {
    if (this.db.getClient() === null) return;
    const now = Date.now();
    if (now - this.checkedAt < this.usedConnsFreqMs) return;
    this.checkedAt = now;
    const deadline = this.budget(this.timeouts.endMs);
    const { zombieMinIdleS, killsPerCheck } = CONNECTION_MANAGEMENT;
    // One statement: the total (every user's, as max_connections counts them all), and our
    // user's sleeping connections idle at least zombieMinIdleS, longest first, with their age.
    const rows = await this.run<{ used: number | string; id: number | string | null; idle: number | string | null }[]>(
      'end',
      `SELECT t.used, z.ID AS id, z.TIME AS idle
       FROM (SELECT COUNT(*) AS used FROM information_schema.PROCESSLIST) t
       LEFT JOIN (SELECT ID, TIME FROM information_schema.PROCESSLIST
                  WHERE USER = ? AND COMMAND = 'Sleep' AND TIME >= ? AND ID <> CONNECTION_ID()
                  ORDER BY TIME DESC LIMIT ?) z ON TRUE`,
      [this.user, zombieMinIdleS, killsPerCheck],
      deadline,
    );
    const plan = reclaimPlan(
      {
        used: Number(rows[0]?.used ?? 0),
        idle: rows.flatMap((row) => (row.id === null ? [] : [{ id: Number(row.id), idleS: Number(row.idle) }])),
      },
      { maxConnections: this.maxConnections, reclaimIdle: this.reclaimIdle },
    );
    let killed = 0;
    for (const id of plan.kill) {
      try {
        await this.run('end', 'KILL ?', [id], deadline);
        killed++;
      } catch (error) {
        // Gone in the meantime (its container closed it): that is what we wanted.
        if (codeOf((error as StoreError).cause) !== 'ER_NO_SUCH_THREAD') throw error;
      }
    }
    // Crowded and nothing reclaimed: hand our own connection back (a clean COM_QUIT); this
    // container's next invocation connects again.
    if (plan.crowded && killed === 0) {
      this.connection = undefined;
      this.db.quit();
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
      this.budget(),
    );
    return rows.map((row) => row.connection_id);
  }

  async members(room: string, limit: number): Promise<ConnectionPage> {
    const { connections, members } = this.t;
    const deadline = this.budget();
    // Joined with the connections, so a membership left behind by a failed removal is
    // neither counted nor listed.
    const [counted] = await this.query<{ n: number | string }[]>(
      'members',
      `SELECT COUNT(*) AS n FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id
       WHERE m.room = ?`,
      [room],
      deadline,
    );
    const rows = await this.query<ConnectionRow[]>(
      'members',
      `SELECT c.connection_id, c.connected_at, c.subject
       FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id
       WHERE m.room = ? ORDER BY c.connected_at, c.connection_id LIMIT ?`,
      [room, limit],
      deadline,
    );
    return { count: Number(counted?.n ?? 0), connections: rows.map(toConnection) };
  }

  /** Test helper for the contract suite: drop this store's tables. */
  async dropTables(): Promise<void> {
    await this.run(
      'drop',
      `DROP TABLE IF EXISTS \`${this.t.connections}\`, \`${this.t.members}\``,
      [],
      this.budget(this.timeouts.sweepMs),
    );
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
