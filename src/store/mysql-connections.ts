/**
 * The MySQL connection of one container, managed for Lambda: every wait has an end (the
 * budgets in docs/operations.md#time-budgets), "too many connections" is retried with
 * backoff, and idle connections are reclaimed against DB_MAX_CONNECTIONS
 * (docs/operations.md#connection-management). The store's queries live in ./mysql.ts.
 */
import type { Connection as MysqlConnection } from 'mysql2';
import serverlessMysql from 'serverless-mysql';
import type { ServerlessMysql } from 'serverless-mysql';
import type { Connection as Connection2, TypeCastField, TypeCastNext } from 'mysql2';
import type { MysqlSettings } from '../config';
import { DatabasePasswordError, errorText, StoreError } from '../errors';
import { fullJitter } from '../backoff';
import { sleep, withTimeout } from '../timeout';
import type { RdsTokenSource } from '../aws/rds-token';
import { rdsPassword } from '../aws/secrets';
import type { RotatedSecret } from '../aws/secrets';
import { clearTextToken, iamToken } from './mysql-auth';
import { accessDenied, RotatingPassword } from './mysql-password';
import { tlsOptions } from './mysql-tls';

/** One statement inside a transaction (MysqlSession.transaction). */
export type Statement = <R = unknown>(sql: string, values?: unknown[]) => Promise<R>;

/**
 * Every wait on MySQL has an end, and per route they add up to less than the function's
 * timeout, so a silent database gives a typed StoreError in time to answer. The sums per
 * route are in docs/operations.md#time-budgets.
 */
export const MYSQL_TIMEOUTS = { connectMs: 2_000, operationMs: 3_000, sweepMs: 45_000, endMs: 1_000 } as const;

/**
 * Our connection management instead of serverless-mysql's `manageConns`, whose queries run
 * without a timeout and once per invocation; why each value is what it is:
 * docs/operations.md#connection-management.
 */
export const CONNECTION_MANAGEMENT = {
  /** How often a container counts the server's connections (serverless-mysql's `usedConnsFreq`). */
  usedConnsFreqMs: 10_000,
  /** Above this share of DB_MAX_CONNECTIONS a container reclaims idle connections (`connUtilization`). */
  connUtilization: 0.8,
  /** Over the threshold, our user's connections asleep this long (s) are killed, longest idle first. */
  zombieMinIdleS: 10,
  /** Always killed: a container idle this long (s) is frozen or gone (`zombieMaxTimeout`). */
  zombieMaxIdleS: 900,
  /** At most this many KILLs per check, so that a check stays inside `endMs`. */
  killsPerCheck: 5,
  /**
   * "Too many connections" at connect, and "Access denied" while a rotation of the password
   * settles (./mysql-password.ts), are retried with full-jitter backoff while the budget
   * allows, and only with `minAttemptMs` left after the pause; nothing else is retried.
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
  passwordSecret?: RotatedSecret;
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

/** A statement (or what was left of its operation's budget) ran out of time. */
function timeoutError(ms: number): Error {
  return Object.assign(new Error(`no answer within ${Math.max(0, Math.round(ms))} ms`), { code: 'STORE_TIMEOUT' });
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Identifiers are stored as bytes (VARBINARY, ./mysql-schema.ts), which mysql2 hands over as
 * Buffers. The store keeps no other binary data, so every binary string it reads is an
 * identifier it wrote as UTF-8 text, and is read back as that text.
 */
export function identifiersAsText(field: TypeCastField, next: TypeCastNext): unknown {
  const value = next();
  return Buffer.isBuffer(value) && (field.type === 'VAR_STRING' || field.type === 'STRING')
    ? value.toString('utf8')
    : value;
}

export class MysqlSession {
  private readonly db: ServerlessMysql;
  /** With RDS IAM auth: the token each new connection is made with, signed locally. */
  private readonly token: RdsTokenSource | undefined;
  /** In AWS, the password is read from Secrets Manager before the first connect. */
  private readonly password: RotatingPassword | undefined;
  private readonly user: string;
  private readonly maxConnections: number;
  private readonly reclaimIdle: boolean;
  protected readonly timeouts: { connectMs: number; operationMs: number; sweepMs: number; endMs: number };
  private readonly usedConnsFreqMs: number;
  private lane: Promise<unknown> = Promise.resolve();
  /** serverless-mysql rethrows connect errors as `new Error(String(e))`; keep the original. */
  private lastConnectError: unknown;
  /** The open mysql2 connection, to destroy its socket for real on a timeout. */
  private connection: Connection2 | undefined;
  /** When end() last counted the server's connections (ms epoch; 0: not yet in this container). */
  private checkedAt = 0;

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    const secret =
      options.passwordSecret ??
      (settings.passwordSecretArn === undefined ? undefined : rdsPassword(settings.passwordSecretArn));
    this.password = secret === undefined ? undefined : new RotatingPassword(secret);
    this.token = iamToken(settings);
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
        ...(this.token === undefined ? {} : { authPlugins: { mysql_clear_password: clearTextToken } }),
        supportBigNumbers: true,
        charset: 'utf8mb4',
        typeCast: identifiersAsText,
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
  protected budget(ms = this.timeouts.operationMs): number {
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
        const pause = fullJitter(attempt, baseMs, capMs);
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
    return withTimeout(this.db.query<T>({ sql, values }), ms, () => {
      this.destroyConnection();
      return timeoutError(ms);
    });
  }

  /** `sql` undefined: only connects (when there is no connection), with the same recovery. */
  protected async run<T>(operation: string, sql: string | undefined, values: unknown[], deadline: number): Promise<T> {
    try {
      return await this.attempt<T>(sql, values, deadline);
    } catch (error) {
      const failure = this.failure(operation, error);
      if (this.password === undefined || !accessDenied(failure.cause)) throw failure;
      // RDS rotates the master password (every 7 days by default) and this container read it
      // earlier: the secret's other passwords, within this operation's budget.
      try {
        await this.password.recover(
          operation,
          failure.cause,
          async (password) => {
            this.db.config({ password });
            await this.connect(deadline);
          },
          deadline,
          CONNECTION_MANAGEMENT.backoff,
        );
        return sql === undefined ? (undefined as T) : await this.statement<T>(sql, values, deadline - Date.now());
      } catch (retryError) {
        if (retryError instanceof DatabasePasswordError) throw retryError;
        throw this.failure(operation, retryError, ' after reading the password again');
      }
    }
  }

  /** serverless-mysql rethrows connect errors without their code: the kept original is the cause. */
  private failure(operation: string, error: unknown, context = ''): StoreError {
    const cause = this.lastConnectError ?? error;
    this.lastConnectError = undefined;
    return new StoreError(`MySQL ${operation} failed${context}: ${errorText(cause)}`, operation, { cause });
  }

  /**
   * One statement, connecting first when there is no connection (within the deadline); the
   * password, when it comes from a secret, is set before serverless-mysql connects.
   */
  private async attempt<T>(sql: string | undefined, values: unknown[], deadline: number): Promise<T> {
    if (this.db.getClient() === null) {
      if (this.password !== undefined) this.db.config({ password: await this.password.current(deadline) });
      // A fresh token when the kept one is near its end: RDS checks it at connect time only.
      if (this.token !== undefined) this.db.config({ password: this.token.token() });
      await this.connect(deadline);
      this.password?.connected();
    }
    return sql === undefined ? (undefined as T) : this.statement<T>(sql, values, deadline - Date.now());
  }

  /**
   * Statements one after another on this session's connection, each ending by `deadline`: how
   * the deploy step migrates the schema and makes the application user (src/deploy/).
   */
  executor(operation: string, deadline: number): <T = unknown>(sql: string, values?: unknown[]) => Promise<T> {
    return <T>(sql: string, values: unknown[] = []) =>
      this.serially(() => this.run<T>(operation, sql, values, deadline));
  }

  /** Runs before every operation's first statement (nothing, unless the store migrates on first use). */
  protected prepare(deadline: number): Promise<void> {
    void deadline;
    return Promise.resolve();
  }

  /** One statement of an operation that must end by `deadline` (see MYSQL_TIMEOUTS). */
  protected async query<T>(operation: string, sql: string, values: unknown[], deadline: number): Promise<T> {
    return this.serially(async () => {
      await this.prepare(deadline);
      return this.run<T>(operation, sql, values, deadline);
    });
  }

  /**
   * This store's calls, one after another. serverless-mysql has one connection and mysql2
   * runs its statements in order anyway, so this costs no parallelism; it keeps a call made
   * while a transaction is open (one store used by concurrent callers: tests, scripts) from
   * running inside that transaction.
   */
  protected serially<T>(work: () => Promise<T>): Promise<T> {
    const result = this.lane.then(work, work);
    this.lane = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs `work` as one READ COMMITTED transaction on one connection (exclusive() says how).
   * On any failure the connection is closed instead of rolled back (the server rolls back a
   * transaction whose connection ends, and a connection that just failed may not take a
   * ROLLBACK); the next call connects again.
   */
  protected transaction<T>(
    operation: string,
    work: (statement: Statement) => Promise<T>,
    deadline = this.budget(),
  ): Promise<T> {
    return this.exclusive(operation, deadline, async (statement) => {
      await statement('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await statement('START TRANSACTION');
      const result = await work(statement);
      await statement('COMMIT');
      return result;
    });
  }

  /**
   * One statement that must not run twice (a stored procedure that numbers a message or
   * makes a membership), sent as exclusive() sends them: never repeated by the library.
   */
  protected once<T>(operation: string, sql: string, values: unknown[], deadline = this.budget()): Promise<T> {
    return this.exclusive(operation, deadline, (statement) => statement<T>(sql, values));
  }

  /**
   * Runs `work`'s statements on the mysql2 connection itself: serverless-mysql's query()
   * reconnects and repeats a statement when the connection drops, which would run the rest of
   * a transaction on a new connection, outside it and without its lock, or run a procedure
   * twice. Each statement gets what is left of the operation's budget, and a statement that
   * runs out of it ends its connection for good (as statement() does); any failure closes it.
   */
  private exclusive<T>(operation: string, deadline: number, work: (statement: Statement) => Promise<T>): Promise<T> {
    return this.serially(async () => {
      await this.prepare(deadline);
      await this.run(operation, undefined, [], deadline); // connects, within the deadline
      const client = this.db.getClient() as MysqlConnection | null;
      if (client === null) throw new StoreError(`MySQL ${operation} failed: the connection closed`, operation);
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
        return await work(statement);
      } catch (error) {
        this.destroyConnection(); // a transaction is rolled back; the next call connects again
        throw new StoreError(`MySQL ${operation} failed: ${errorText(error)}`, operation, { cause: error });
      }
    });
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
}
