/**
 * Settings, read once per cold start from the environment that serverless.yml
 * (or the local launcher) gives the function. Every number is parsed explicitly and
 * a missing or malformed setting fails with a ConfigError that names it.
 */
import { ConfigError } from './errors';

type Env = Record<string, string | undefined>;

export interface MysqlSettings {
  kind: 'mysql';
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
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
}

export interface Config {
  offline: boolean;
  region: string;
  store: StoreSettings;
  /** Overrides the management API endpoint derived from the event (custom domains, local runs). */
  managementEndpoint: string | undefined;
  fanOut: FanOutSettings;
  /** Most connections listed in one `connections` reply (the count is always exact). */
  listPageSize: number;
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

function storeSettings(env: Env, offline: boolean): StoreSettings {
  const prefix = tablePrefix(env);
  if (offline) {
    // Locally the deployed DB_HOST (a Fn::GetAtt) is meaningless; a local MySQL is opted into.
    const url = usable(env.LOCAL_DB_URL);
    if (url !== undefined) return { ...mysqlFromUrl(url, prefix), maxConnections: maxConnections(env) };
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
    password: required(env, 'DB_PASSWORD'),
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
    },
    listPageSize: integer(env, 'LIST_PAGE_SIZE', 100, 1, 1000),
  };
}

let cached: Config | undefined;

/** The configuration of this container, read on first use and kept for warm invocations. */
export function config(): Config {
  cached ??= readConfig();
  return cached;
}

/** What the `$connect` authorizer verifies tokens against (src/auth.ts). */
export interface AuthSettings {
  /** The shared HS256 key. */
  secret: Uint8Array;
  /** When set, a token's `iss` must equal it. */
  issuer: string | undefined;
  /** When set, a token's `aud` must contain it. */
  audience: string | undefined;
  /** Seconds of disagreement between clocks tolerated on `exp` and `nbf`. */
  clockToleranceSec: number;
}

/** Lambda and most clients keep NTP time; 30 s absorbs what drift remains without extending a token much. */
export const CLOCK_TOLERANCE_SEC = 30;

/** HS256 keys shorter than the hash output are weaker than the algorithm (RFC 7518, 3.2). */
export const MIN_SECRET_LENGTH = 32;

/**
 * Read only by the authorizer, which is the only function given AUTH_JWT_SECRET: the
 * other functions trust the authorizer's principalId and never see the secret.
 */
export function readAuthSettings(env: Env = process.env): AuthSettings {
  const secret = usable(env.AUTH_JWT_SECRET);
  if (secret === undefined) throw new ConfigError('AUTH_JWT_SECRET is not set (see .env.yml.example)');
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`AUTH_JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  return {
    secret: new TextEncoder().encode(secret),
    issuer: usable(env.AUTH_JWT_ISSUER),
    audience: usable(env.AUTH_JWT_AUDIENCE),
    clockToleranceSec: CLOCK_TOLERANCE_SEC,
  };
}

let cachedAuth: AuthSettings | undefined;

/** The authorizer's settings, read on first use and kept for warm invocations. */
export function authSettings(): AuthSettings {
  cachedAuth ??= readAuthSettings();
  return cachedAuth;
}
