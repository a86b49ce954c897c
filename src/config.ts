/**
 * Settings, read once per cold start from the environment that serverless.yml
 * (or the local launcher) gives the function. Every number is parsed explicitly and
 * a missing or malformed setting fails with a ConfigError that names it. The authorizer's
 * own settings are in src/auth/settings.ts.
 */
import { ConfigError } from './errors';

export type Env = Record<string, string | undefined>;

export interface MysqlSettings {
  kind: 'mysql';
  host: string;
  port: number;
  database: string;
  user: string;
  /** The password itself: a local server (LOCAL_DB_URL). */
  password?: string;
  /**
   * In AWS: the ARN of the secret RDS keeps the master credentials in
   * (`ManageMasterUserPassword`), read at the first connect instead of a password.
   */
  passwordSecretArn?: string;
  /**
   * In AWS by default (DB_AUTH=iam): no password, an RDS IAM auth token signed with the
   * function's role for each new connection (src/aws/rds-token.ts), as the application user.
   */
  iamAuth?: { region: string };
  /**
   * DB_MIGRATE. `deploy` (AWS's default, and `npm start`'s functions): the schema is migrated
   * before the functions run (the deploy's custom resource, or `npm start` itself), and the
   * store never checks it. `first-use` (a store built directly: tests, scripts): the store
   * checks the schema's version before its first statement and migrates it when older.
   */
  migrate?: 'deploy' | 'first-use';
  /** TLS with the Amazon RDS CA bundle; always on in AWS, off for a local server. */
  tls: boolean;
  tablePrefix: string;
  /**
   * DB_MAX_CONNECTIONS: the connections this service may hold on the instance (the template
   * computes it from the instance class). The store's connection management measures its
   * use against it (src/data.ts), so it never has to ask the server for max_connections.
   */
  maxConnections: number;
  /**
   * Whether the store may KILL idle connections of its database user. Only in AWS, where the
   * user is the service's own; a local server's user (often root) is shared with other programs.
   */
  reclaimIdle: boolean;
}

export interface EmbeddedSettings {
  kind: 'embedded';
  file: string;
  tablePrefix: string;
}

export type StoreSettings = MysqlSettings | EmbeddedSettings;

export interface FanOutSettings {
  /** Posts in flight at once, per fan-out. */
  concurrency: number;
  /** Stop starting new posts after this many ms (API Gateway's integration limit is 29 s). */
  budgetMs: number;
  /** Extra attempts for a 429 or 5xx answer. */
  retries: number;
  /** Base of the jittered exponential backoff between those attempts. */
  retryBaseMs: number;
  /** POST_TIMEOUT_MS: one post attempt is aborted after this long (src/communication.ts). */
  postTimeoutMs: number;
}

/**
 * A PostToConnection answers in tens of milliseconds; 1.5 s means the endpoint is stuck.
 * It is also what the message routes' time budget leaves room for (see fanOutDeadline
 * in src/chat/fanout/delivery.ts): 25 s of fan-out + 1.5 s for the last posts + 1.5 s for the sender's
 * summary + 1 s for the store and the return = API Gateway's 29 s.
 */
export const DEFAULT_POST_TIMEOUT_MS = 1_500;

/** What room history keeps (src/chat/history.ts); the sweep deletes the rest. */
export interface HistorySettings {
  /** ROOM_HISTORY_TTL: how long a room message stays in history. */
  ttlMs: number;
  /** ROOM_HISTORY_MAX: the most messages kept per room. */
  maxPerRoom: number;
}

/** A day, and 1,000 messages a room: a day's catching up for a chat, in at most one query. */
export const DEFAULT_HISTORY: HistorySettings = { ttlMs: 86_400_000, maxPerRoom: 1_000 };

/** What history keeps at `now`: the store reads and trims by it. */
export function historyWindow(settings: HistorySettings, now = Date.now()): { maxPerRoom: number; notBefore: number } {
  return { maxPerRoom: settings.maxPerRoom, notBefore: now - settings.ttlMs };
}

/** ROOM_HISTORY_TTL (like 30m, 24h, 7d) and ROOM_HISTORY_MAX. */
export function readHistorySettings(env: Env): HistorySettings {
  const raw = usable(env.ROOM_HISTORY_TTL);
  let ttlMs = DEFAULT_HISTORY.ttlMs;
  if (raw !== undefined) {
    const seconds = durationSec(raw);
    if (seconds === undefined || seconds < 60 || seconds > 30 * 86_400) {
      throw new ConfigError(`ROOM_HISTORY_TTL must be between 1m and 30d, like 30m, 24h, 7d; got "${raw}"`);
    }
    ttlMs = seconds * 1_000;
  }
  return { ttlMs, maxPerRoom: integer(env, 'ROOM_HISTORY_MAX', DEFAULT_HISTORY.maxPerRoom, 1, 100_000) };
}

/**
 * Fan-outs above `size` recipients are split into shards of `size`, each posted by the `deliver`
 * function (src/chat/fanout/shards.ts); docs/operations.md#fan-out says how the defaults are derived.
 */
export interface ShardSettings {
  /** FANOUT_SHARD_SIZE: recipients per shard; an audience of at most this many is posted by its own invocation. */
  size: number;
  /** FANOUT_MAX_RATE: posts/s across all shards of the stage; the default is half of the 10,000/s account quota. */
  maxRate: number;
  /** DELIVER_FUNCTION: the `deliver` function's name; unset, no audience is sharded. */
  deliverFunction: string | undefined;
  /** LAMBDA_ENDPOINT: where Lambda's Invoke API is (serverless-offline's under `npm start`). */
  lambdaEndpoint: string;
  /**
   * SWEEP_DELIVERY_AGE_MS: the sweep ends a sharded delivery still unfinished this long after it
   * was queued (src/chat/fanout/abandoned.ts).
   */
  abandonedAfterMs: number;
}

/**
 * serverless.yml's `deliver` function, in seconds: how long Lambda keeps a shard's event
 * (`maximumEventAge`: no attempt starts later) and how long one attempt runs at most
 * (`timeout`). test/deploy/shards.test.ts checks the template against these.
 */
export const DELIVER_LIMITS_S = { maximumEventAge: 3_600, timeout: 900 } as const;

/**
 * SWEEP_DELIVERY_AGE_MS by default, 80 minutes: the latest an attempt of a shard can start
 * (its event's age limit) and run (the timeout), and 5 minutes for the hand-over before the
 * event existed and clocks. After it no shard of the delivery can still post or count.
 */
export const DEFAULT_ABANDONED_AFTER_MS = (DELIVER_LIMITS_S.maximumEventAge + DELIVER_LIMITS_S.timeout + 300) * 1_000;

/** How long a sharded delivery's tally is kept (the sweep removes it then): a day. */
export const DELIVERY_RECORD_MS = 24 * 60 * 60 * 1000;

/** One invocation posts ~2,200/s at 20 ms (BENCHMARKS.md): 10,000 take ~5 s of a 20 s budget. */
export const DEFAULT_SHARD_SIZE = 10_000;
/** Half of API Gateway's default account quota (10,000 requests/s per region, every API shares it). */
export const DEFAULT_MAX_RATE = 5_000;

export interface Config {
  offline: boolean;
  shards: ShardSettings;
  region: string;
  store: StoreSettings;
  /** Overrides the management API endpoint derived from the event (custom domains, local runs). */
  managementEndpoint: string | undefined;
  fanOut: FanOutSettings;
  /** Most connections listed in one `connections` reply (the count is always exact). */
  listPageSize: number;
  /**
   * Presence events (join/leave) go to rooms of at most this many members; 0 turns them off.
   * Each event is a fan-out to the room, so a busy big room would multiply its traffic.
   */
  presenceMaxMembers: number;
  /**
   * The WebSocket API's management endpoint, for the `publish` function, which no socket
   * event calls (so none tells it the API). MANAGEMENT_ENDPOINT wins over it.
   */
  apiEndpoint: string | undefined;
  /** The liveness sweep (src/chat/housekeeping/liveness.ts): rows older than minAgeMs are asked about, batchSize at a time. */
  liveness: { minAgeMs: number; batchSize: number };
  /**
   * LIST_SCOPE: with auth on, `list` shows the caller's own user's connections (`own`, the
   * default) or everyone's (`all`). With auth off it is always everyone's.
   */
  listScope: 'own' | 'all';
  /** MAX_CONNECTIONS_PER_USER: the next `$connect` of a user with this many is refused (429). */
  maxConnectionsPerUser: number;
  history: HistorySettings;
}

/**
 * serverless-offline passes a CloudFormation intrinsic (Fn::GetAtt) through as the
 * string "[object Object]"; such a value is never a usable setting.
 */
export function usable(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === '[object Object]') return undefined;
  return trimmed;
}

export function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = usable(env[name]);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function required(env: Env, name: string): string {
  const value = usable(env[name]);
  if (value === undefined) throw new ConfigError(`${name} is not set (see .env.yml.example)`);
  return value;
}

function tablePrefix(env: Env): string {
  const prefix = env.DB_TABLE_PREFIX ?? '';
  if (!/^[A-Za-z0-9_]{0,32}$/.test(prefix)) {
    throw new ConfigError('DB_TABLE_PREFIX may only hold letters, digits and _ (at most 32)');
  }
  return prefix;
}

/**
 * RDS for MySQL's default max_connections is DBInstanceClassMemory / 12582880: about 60 to 66
 * for the default db.t4g.micro (1 GiB, less what RDS keeps for itself). The lower end, so
 * that a missing DB_MAX_CONNECTIONS errs towards releasing connections early.
 */
export const DEFAULT_DB_MAX_CONNECTIONS = 60;

function maxConnections(env: Env): number {
  return integer(env, 'DB_MAX_CONNECTIONS', DEFAULT_DB_MAX_CONNECTIONS, 1, 100_000);
}

/** `mysql://user:password@host:port/database`, as given to `npm start` through LOCAL_DB_URL. */
export function mysqlFromUrl(url: string, prefix: string): MysqlSettings {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError('LOCAL_DB_URL is not a URL (expected mysql://user:password@host:port/database)', {
      cause,
    });
  }
  if (parsed.protocol !== 'mysql:') throw new ConfigError('LOCAL_DB_URL must start with mysql://');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!parsed.hostname || !database) throw new ConfigError('LOCAL_DB_URL needs a host and a database name');
  return {
    kind: 'mysql',
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 3306,
    database,
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    tls: parsed.searchParams.get('tls') === 'rds',
    tablePrefix: prefix,
    maxConnections: DEFAULT_DB_MAX_CONNECTIONS,
    reclaimIdle: false,
  };
}

/** DB_MIGRATE: who migrates the schema (MysqlSettings.migrate). */
function migrateMode(env: Env, fallback: 'deploy' | 'first-use'): 'deploy' | 'first-use' {
  const raw = usable(env.DB_MIGRATE) ?? fallback;
  if (raw !== 'deploy' && raw !== 'first-use') {
    throw new ConfigError(`DB_MIGRATE must be deploy or first-use, got "${raw}"`);
  }
  return raw;
}

/**
 * DB_AUTH: how the functions authenticate to MySQL in AWS. `iam` (the template's): as the
 * application user, with an RDS IAM auth token. `secret`: with the password of the secret
 * DB_SECRET_ARN names (the master user's, which RDS rotates), as before the deploy made a user;
 * the default when DB_SECRET_ARN is set and DB_AUTH is not.
 */
function awsAuth(env: Env): Pick<MysqlSettings, 'iamAuth' | 'passwordSecretArn'> {
  const raw = usable(env.DB_AUTH) ?? (usable(env.DB_SECRET_ARN) === undefined ? 'iam' : 'secret');
  if (raw === 'iam') return { iamAuth: { region: usable(env.AWS_REGION) ?? 'us-east-1' } };
  if (raw === 'secret') return { passwordSecretArn: required(env, 'DB_SECRET_ARN') };
  throw new ConfigError(`DB_AUTH must be iam or secret, got "${raw}"`);
}

function storeSettings(env: Env, offline: boolean): StoreSettings {
  const prefix = tablePrefix(env);
  if (offline) {
    // Locally the deployed DB_HOST (a Fn::GetAtt) is meaningless; a local MySQL is opted into.
    const url = usable(env.LOCAL_DB_URL);
    if (url !== undefined) {
      return {
        ...mysqlFromUrl(url, prefix),
        maxConnections: maxConnections(env),
        migrate: migrateMode(env, 'first-use'),
      };
    }
    return {
      kind: 'embedded',
      file: usable(env.EMBEDDED_STORE_FILE) ?? '.local/connections.sqlite',
      tablePrefix: prefix,
    };
  }
  return {
    kind: 'mysql',
    host: required(env, 'DB_HOST'),
    port: integer(env, 'DB_PORT', 3306, 1, 65535),
    database: required(env, 'DB_NAME'),
    user: required(env, 'DB_USER'),
    ...awsAuth(env),
    migrate: migrateMode(env, 'deploy'),
    tls: true,
    tablePrefix: prefix,
    maxConnections: maxConnections(env),
    reclaimIdle: true,
  };
}

export function readConfig(env: Env = process.env): Config {
  const offline = env.IS_OFFLINE === 'true';
  return {
    offline,
    region: usable(env.AWS_REGION) ?? 'us-east-1',
    store: storeSettings(env, offline),
    managementEndpoint: usable(env.MANAGEMENT_ENDPOINT),
    fanOut: {
      concurrency: integer(env, 'FANOUT_CONCURRENCY', 50, 1, 1000),
      budgetMs: integer(env, 'FANOUT_BUDGET_MS', 25_000, 100, 28_000),
      retries: integer(env, 'FANOUT_RETRIES', 2, 0, 10),
      retryBaseMs: integer(env, 'FANOUT_RETRY_BASE_MS', 50, 1, 5_000),
      postTimeoutMs: integer(env, 'POST_TIMEOUT_MS', DEFAULT_POST_TIMEOUT_MS, 100, 10_000),
    },
    listPageSize: integer(env, 'LIST_PAGE_SIZE', 100, 1, 1000),
    presenceMaxMembers: integer(env, 'PRESENCE_MAX_MEMBERS', 100, 0, 10_000),
    apiEndpoint: usable(env.WEBSOCKET_API_ENDPOINT),
    liveness: {
      // A few minutes: a `$connect` still running is never asked about, a ghost waits one sweep period.
      minAgeMs: integer(env, 'SWEEP_MIN_AGE_MS', 300_000, 0, 7_200_000),
      batchSize: integer(env, 'SWEEP_BATCH_SIZE', 200, 1, 5_000),
    },
    listScope: listScope(env),
    maxConnectionsPerUser: integer(env, 'MAX_CONNECTIONS_PER_USER', DEFAULT_MAX_CONNECTIONS_PER_USER, 1, 10_000),
    history: readHistorySettings(env),
    shards: shardSettings(env, offline),
  };
}

function shardSettings(env: Env, offline: boolean): ShardSettings {
  const region = usable(env.AWS_REGION) ?? 'us-east-1';
  const localPort = integer(env, 'LAMBDA_PORT', 3002, 1, 65_535);
  return {
    size: integer(env, 'FANOUT_SHARD_SIZE', DEFAULT_SHARD_SIZE, 1, 1_000_000),
    maxRate: integer(env, 'FANOUT_MAX_RATE', DEFAULT_MAX_RATE, 1, 1_000_000),
    abandonedAfterMs: integer(env, 'SWEEP_DELIVERY_AGE_MS', DEFAULT_ABANDONED_AFTER_MS, 0, DELIVERY_RECORD_MS),
    deliverFunction: usable(env.DELIVER_FUNCTION),
    lambdaEndpoint:
      usable(env.LAMBDA_ENDPOINT) ??
      (offline ? `http://localhost:${localPort}` : `https://lambda.${region}.amazonaws.com`),
  };
}

/** A user with a few tabs and devices is far below it; one token opening hundreds is not. */
export const DEFAULT_MAX_CONNECTIONS_PER_USER = 20;

function listScope(env: Env): 'own' | 'all' {
  const raw = usable(env.LIST_SCOPE)?.toLowerCase() ?? 'own';
  if (raw !== 'own' && raw !== 'all') throw new ConfigError(`LIST_SCOPE must be own or all, got "${raw}"`);
  return raw;
}

let cached: Config | undefined;

/** The configuration of this container, read on first use and kept for warm invocations. */
export function config(): Config {
  cached ??= readConfig();
  return cached;
}

const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90`, `30s`, `15m`, `1h`, `1d` in seconds (the forms `npm run token -- --ttl` takes); undefined otherwise. */
export function durationSec(raw: string): number | undefined {
  const match = /^(\d+)([smhd]?)$/.exec(raw.trim());
  if (!match) return undefined;
  return Number(match[1]) * (UNIT_SEC[match[2] || 's'] ?? 1);
}
