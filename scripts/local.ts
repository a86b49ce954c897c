/**
 * What the local scripts must agree on, in one place: the settings (settings.js, where the
 * environment wins over .env.yml), the ports, and which store the local service uses.
 * `npm start` (offline.ts) runs the service on that store; `npm run sweep` (sweep.ts) sweeps
 * the same one; `npm run token` (token.ts) signs with the same secret.
 */
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readConfig } from '../src/config';
import { createStore } from '../src/data';
import type { ConnectionStore } from '../src/data';
import { MysqlConnectionStore } from '../src/store/mysql';
import { checkAuth, checkTunables, text } from './deploy/checks';

/**
 * The settings serverless.yml gets, resolved by settings.js in the current folder (the
 * service's). `local` applies the rules of `serverless offline` (npm start), as settings.js
 * will when offline reads them. Its problems are thrown as one-line Errors.
 */
export function loadSettings(options: { stage?: string; local?: boolean } = {}): Promise<Record<string, unknown>> {
  type Load = (input: { options: { stage?: string }; local: boolean }) => Promise<Record<string, unknown>>;
  const { local = false, ...cliOptions } = options;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(resolve('settings.js')) as Load)({ options: cliOptions, local });
}

/** Where a setting came from, for a message: the environment wins over the file (settings.js). */
function sourceOf(name: string): string {
  if (text(process.env[name]) !== undefined) return 'from the environment';
  return existsSync(resolve('.env.yml')) ? 'in .env.yml' : 'in .env.yml.example';
}

/**
 * What `npm run deploy -- --check` finds wrong that matters to a local run too: the
 * functions' tunables, read by the functions' own reader, and the auth settings. One line
 * each, naming the setting and where it was set.
 */
export function localSettingProblems(settings: Record<string, unknown>): string[] {
  const origins = allowedOrigins(settings);
  const limits = gatewayLimits(settings);
  return [...checkTunables(settings), ...checkAuth(settings), ...origins.problems, ...limits.problems].map(
    (problem) => {
      const name = /^[A-Z][A-Z0-9_]+/.exec(problem)?.[0];
      return name === undefined ? problem : `${problem} (${sourceOf(name)})`;
    },
  );
}

type LocalGuard = { parseAllowedOrigins(raw: unknown): { origins: string[]; problems: string[] } };

/**
 * LOCAL_ALLOWED_ORIGINS (a comma-separated string, or a YAML list): the origins of the
 * developer's own web apps whose pages may open the WebSocket port, read by the guard's own
 * parser (scripts/local-guard.js), with a one-line problem per entry that is no origin.
 */
export function allowedOrigins(settings: Record<string, unknown>): { origins: string[]; problems: string[] } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const guard = require('./local-guard.js') as LocalGuard;
  return guard.parseAllowedOrigins(settings.LOCAL_ALLOWED_ORIGINS);
}

/** API Gateway's limits as `npm start` keeps them (scripts/local-limits.js): null is off. */
export interface GatewayLimits {
  throttle: { burst: number; rate: number } | null;
  newConnectionsPerSecond: number | null;
  maxFrameBytes: number | null;
  maxMessageBytes: number | null;
  idleTimeoutMs: number | null;
  maxConnectionAgeMs: number | null;
}

type LimitsModule = {
  LIMIT_SETTINGS: readonly { name: string }[];
  readLimits(settings: Record<string, unknown>): { limits: GatewayLimits; problems: string[] };
  describeLimits(limits: GatewayLimits): string;
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const limitsModule = require('./local-limits.js') as LimitsModule;

/**
 * The local gateway's limits from the settings (LOCAL_THROTTLE and the stage's WS_THROTTLE_*,
 * LOCAL_MAX_FRAME_BYTES, ...), read by the gateway's own parser: the limits, a line per bad
 * value, the line `npm start` prints, and the variables that hand them to the serverless
 * process (where the gateway reads them again).
 */
export function gatewayLimits(settings: Record<string, unknown>): {
  limits: GatewayLimits;
  problems: string[];
  description: string;
  env: Record<string, string>;
} {
  const { limits, problems } = limitsModule.readLimits(settings);
  const env: Record<string, string> = {};
  for (const name of [
    ...limitsModule.LIMIT_SETTINGS.map((spec) => spec.name),
    'WS_THROTTLE_BURST',
    'WS_THROTTLE_RATE',
  ]) {
    const value = settings[name];
    if (value !== undefined && value !== null) env[name] = String(value);
  }
  return { limits, problems, description: limitsModule.describeLimits(limits), env };
}

/**
 * One round trip to the store the functions will use (after migrating its tables), so that a
 * LOCAL_DB_URL pointing at nothing stops `npm start` instead of failing every handshake.
 * The store's own budgets bound it (MySQL: a 2 s connect, a 3 s statement). Returns the
 * problem, in one line, or undefined. `clear` also removes every row the tables hold
 * (`removed` says how many): what `npm start` does to MySQL's rows at start, as it empties
 * the SQLite file, since no socket of an earlier run survives a restart of the WebSocket server.
 */
export async function probeStore(
  store: LocalStore,
  settings: Record<string, unknown>,
  options: { clear?: boolean; removed?: (count: number) => void; migrated?: (versions: number[]) => void } = {},
): Promise<string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, IS_OFFLINE: 'true' };
  for (const [key, value] of Object.entries(settings)) if (typeof value !== 'object') env[key] = text(value);
  if (store.kind === 'mysql') env.LOCAL_DB_URL = store.url;
  else {
    delete env.LOCAL_DB_URL;
    env.EMBEDDED_STORE_FILE = store.file;
  }
  let opened: ConnectionStore | undefined;
  try {
    opened = createStore(readConfig(env).store);
    // The same migration the deploy's custom resource runs in AWS; the functions then never
    // check the schema (offline.ts gives them DB_MIGRATE=deploy). SQLite makes its tables when opened.
    if (opened instanceof MysqlConnectionStore) {
      const report = await opened.migrateSchema();
      if (report.applied.length > 0) options.migrated?.(report.applied);
    }
    await opened.list(1);
    // Everything connected before now: the rows of an earlier run (a kill -9, a crash, a
    // close storm that outlived it); this run has no connection yet.
    if (options.clear) options.removed?.(await opened.removeOlderThan(Date.now() + 1));
    return undefined;
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
    return store.kind === 'mysql'
      ? `LOCAL_DB_URL ${redact(store.url)} (${sourceOf('LOCAL_DB_URL')}): the database did not answer: ${reason}`
      : `the embedded store ${store.file} cannot be opened: ${reason}`;
  } finally {
    await opened?.close().catch(() => undefined);
  }
}

/** Whether something accepts TCP connections on localhost:port, asked once, for at most timeoutMs. */
function accepts(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: 'localhost', port, timeout: timeoutMs });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.once('connect', () => finish(true));
    socket.once('timeout', () => finish(false));
    socket.once('error', () => finish(false));
  });
}

/**
 * Resolves once every port accepts connections, or with false when `stopped()` says the
 * server is gone. serverless-offline prints its "listening" lines before the last of its
 * servers has bound, so the ports themselves are asked.
 */
export async function waitUntilListening(ports: readonly number[], stopped: () => boolean): Promise<boolean> {
  for (;;) {
    if (stopped()) return false;
    const answers = await Promise.all(ports.map((port) => accepts(port, 1_000)));
    if (answers.every(Boolean)) return true;
    await sleep(200);
  }
}

/** A port from the environment (WS_PORT, HTTP_PORT, LAMBDA_PORT), or its default. */
export function portSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw.trim() === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${name} must be a port number, got "${raw}"`);
  }
  return value;
}

export type LocalStore = { kind: 'mysql'; url: string } | { kind: 'embedded'; file: string };

/**
 * MySQL when LOCAL_DB_URL is set (settings.js has already let the environment win over
 * .env.yml, trimmed it, and made an empty one unset), else the embedded SQLite file of the
 * service on that WebSocket port: one file per port, so two services never share one.
 */
export function localStore(settings: Record<string, unknown>, wsPort: number): LocalStore {
  const url = settings.LOCAL_DB_URL;
  if (typeof url === 'string' && url !== '') return { kind: 'mysql', url };
  return { kind: 'embedded', file: resolve('.local', `connections-${wsPort}.sqlite`) };
}

/** The URL without its password, for logs; `setting` names it when it is not a URL. */
export function redact(url: string, setting = 'LOCAL_DB_URL'): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return `(unparseable ${setting})`;
  }
}

/** How the scripts name the store they use, e.g. "MySQL mysql://root@127.0.0.1:3306/test". */
export function describeStore(store: LocalStore): string {
  return store.kind === 'mysql' ? `MySQL ${redact(store.url)}` : `embedded SQLite ${store.file}`;
}

/**
 * Fails, with a one-line message naming the port, when one of them cannot be listened on.
 * The probe binds the unspecified address (both IPv6 and IPv4 where possible), which
 * collides with a listener on any local address, whichever `localhost` resolved to.
 */
export async function checkPortsFree(ports: Record<string, number>): Promise<void> {
  const names = Object.keys(ports);
  if (new Set(Object.values(ports)).size !== names.length) {
    throw new Error(`${names.join(', ')} must be different ports; got ${JSON.stringify(ports)}`);
  }
  for (const [name, port] of Object.entries(ports)) {
    const problem = await new Promise<string | undefined>((done) => {
      const probe = createServer();
      probe.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
      probe.listen(port, () => probe.close(() => done(undefined)));
    });
    if (problem === 'EADDRINUSE') {
      throw new Error(
        `${name} ${port} is already in use (another npm start?): stop it, or set ${name} to a free port. Nothing was changed.`,
      );
    }
    if (problem !== undefined)
      throw new Error(`${name} ${port} cannot be listened on (${problem}). Nothing was changed.`);
  }
}
