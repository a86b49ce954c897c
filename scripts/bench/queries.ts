/**
 * Store calls per fan-out: messaging's sendmessage path (src/chat/actions.ts) against a
 * real store wrapped in a counting proxy of the ConnectionStore interface, with the
 * stand-in answering 410 for a share of the recipients. The design promise is one
 * audience read and one batched removeMany, whatever the audience size.
 *
 * Store calls are not what the database sees: an adapter may send several statements per
 * call, and serverless-mysql sends statements of its own (its end() counted the server's
 * connections in every invocation). So against MySQL the statements are also counted on the
 * wire, by a loopback proxy that reads the MySQL protocol (test/support/stand-ins/tcp-proxy.ts), for
 * the fan-out and for one invocation of each route through the real handlers, end() included.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import serverlessMysql from 'serverless-mysql';
import { clientFor, post, resetClients } from '../../src/communication';
import { mysqlFromUrl } from '../../src/config';
import type { MysqlSettings } from '../../src/config';
import { MysqlConnectionStore } from '../../src/store/mysql';
import type { ConnectionStore } from '../../src/data';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { connect, defaultHandler, disconnect, message, useStore } from '../../src/handler';
import type { HandlerResult, WebSocketEvent } from '../../src/handler';
import { handleMessage } from '../../src/chat/actions';
import { connectEvent, disconnectEvent, lambdaContext, messageEvent } from '../../test/support/harnesses/events';
import { startTcpProxy } from '../../test/support/stand-ins/tcp-proxy';
import type { ProxiedCommand, TcpProxy } from '../../test/support/stand-ins/tcp-proxy';
import { isGone } from './stand-in';
import type { StandIn } from './stand-in';
import { round } from './stats';
import { chatSession } from '../../test/support/harnesses/session';

export interface CallStats {
  count: number;
  ms: number;
}

export interface QueryRow {
  store: 'embedded' | 'mysql';
  recipients: number;
  stale: number;
  /** Every ConnectionStore method called during the one sendmessage, with count and total ms. */
  calls: Record<string, CallStats>;
  totalCalls: number;
  /** True when exactly one audience read and one removeMany (and nothing else) hit the store. */
  asDesigned: boolean;
  /** Rows left after the fan-out, and how many there should be (recipients - stale). */
  rowsLeft: number;
  rowsExpected: number;
  /** Wall time of the whole sendmessage (read, fan-out, delete, summary). */
  ms: number;
  /** SQL statements one removeMany issues per 5,000-id chunk, read from the adapter (not measured). */
  statementsPerRemoveMany: number;
  /** MySQL only: commands on the wire for the sendmessage and the end() after it, as a route runs them. */
  wire: WireCount | null;
}

export interface WireCount {
  /** Every command a client sent (queries, pings, quits), the library's own included. */
  total: number;
  /** The same, by kind (see `label`), in order of first appearance. */
  byKind: Record<string, number>;
}

/** One invocation of a route through the real handler (src/handler.ts), end() included. */
export interface InvocationRow {
  /** Which route, and in which state of the container. */
  invocation: string;
  statusCode: number;
  wire: WireCount;
}

/** What a command on the wire is, in a few words. */
export function label(command: ProxiedCommand): string {
  const sql = command.sql;
  if (sql === undefined) return command.command;
  if (/information_schema\.processlist/i.test(sql)) return 'processlist (connections)';
  if (/@@max_connections/i.test(sql)) return 'max_connections';
  if (/^KILL/i.test(sql)) return 'KILL';
  const words = sql.split(' ');
  const table = /(?:FROM|INTO|EXISTS|UPDATE)\s+`?([A-Za-z0-9_]+)`?/i.exec(sql)?.[1];
  const kind = `${words[0] ?? ''} ${words[0] === 'CREATE' ? 'TABLE' : ''}`.trim().toUpperCase();
  return table ? `${kind} ${table.replace(/^bench_[a-z]+_/, '')}` : kind;
}

function count(commands: readonly ProxiedCommand[]): WireCount {
  const byKind: Record<string, number> = {};
  for (const command of commands) byKind[label(command)] = (byKind[label(command)] ?? 0) + 1;
  return { total: commands.length, byKind };
}

/** Lets the commands already written cross the proxy before it is read or reset. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

/** MySQL settings that reach the server through the counting proxy. */
function throughProxy(mysqlUrl: string, prefix: string, proxy: TcpProxy): MysqlSettings {
  return { ...mysqlFromUrl(mysqlUrl, prefix), host: '127.0.0.1', port: proxy.port };
}

/**
 * Runs `work` on a MySQL store of its own tables (`prefix`) reached through a counting proxy,
 * so a section can report commands on the wire; the tables are dropped before and after.
 */
export async function withCountedMysql<T>(
  mysqlUrl: string,
  prefix: string,
  work: (store: MysqlConnectionStore, proxy: TcpProxy) => Promise<T>,
): Promise<T> {
  const settings = mysqlFromUrl(mysqlUrl, prefix);
  const proxy = await startTcpProxy({ host: settings.host, port: settings.port });
  const mysql = new MysqlConnectionStore(throughProxy(mysqlUrl, prefix, proxy));
  try {
    await mysql.dropTables();
    const result = await work(mysql, proxy);
    await mysql.dropTables();
    return result;
  } finally {
    await mysql.close();
    await proxy.close();
  }
}

/** Wraps every method of the store so that calls are counted and timed. */
export function countingStore(store: ConnectionStore): { store: ConnectionStore; calls: Record<string, CallStats> } {
  const calls: Record<string, CallStats> = {};
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const entry = (calls[property] ??= { count: 0, ms: 0 });
        entry.count++;
        const started = performance.now();
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) {
          return result.finally(() => (entry.ms += performance.now() - started));
        }
        entry.ms += performance.now() - started;
        return result;
      };
    },
  });
  return { store: proxy, calls };
}

export async function benchQueries(
  standIn: StandIn,
  options: { recipients: number; goneShare: number; latencyMs: number; mysqlUrl: string | undefined },
): Promise<QueryRow[]> {
  await standIn.configure({ latencyMs: options.latencyMs, goneShare: options.goneShare });
  const rows: QueryRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-queries-'));
  try {
    const embedded = new EmbeddedConnectionStore({
      kind: 'embedded',
      file: join(dir, 'q.sqlite'),
      tablePrefix: 'bench_q_',
    });
    rows.push(await measure('embedded', embedded, standIn, options, 2));
    await embedded.close();
    if (options.mysqlUrl) {
      rows.push(
        await withCountedMysql(options.mysqlUrl, 'bench_q_', (mysql, proxy) =>
          measure('mysql', mysql, standIn, options, 2, proxy),
        ),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

async function measure(
  kind: 'embedded' | 'mysql',
  inner: ConnectionStore,
  standIn: StandIn,
  options: { recipients: number; goneShare: number },
  statementsPerRemoveMany: number,
  proxy?: TcpProxy,
): Promise<QueryRow> {
  const ids = Array.from({ length: options.recipients }, (_, i) => `q-${kind}-${i}`);
  // The sender is one of the audience and must not be gone, so that it gets its summary.
  const sender = ids.find((id) => !isGone(id, options.goneShare)) as string;
  for (const [i, connectionId] of ids.entries()) await inner.add({ connectionId, connectedAt: i, subject: null });
  const expectedStale = ids.filter((id) => isGone(id, options.goneShare)).length;

  const { store, calls } = countingStore(inner);
  resetClients();
  const client = clientFor(standIn.url, { region: 'us-east-1', offline: true, maxSockets: 50 });
  // The rows above were added by this benchmark, not by the invocation; its first end() (the
  // connection check of a new container) is not part of it either.
  await inner.end();
  proxy?.resetCommands();
  const started = performance.now();
  const status = await handleMessage(
    chatSession({
      store,
      outbox: { send: (id, data, deadline) => post(client, id, data, { retries: 2, retryBaseMs: 50, deadline }) },
      connectionId: sender,
      deadline: Date.now() + 120_000,
    }),
    JSON.stringify({ action: 'sendmessage', data: 'bench' }),
  );
  const ms = performance.now() - started;
  await inner.end(); // as src/handler.ts's route does after every invocation
  const wire = proxy ? count(proxy.commands) : null;
  resetClients();
  if (status !== 200) throw new Error(`sendmessage answered ${status}`);

  const rowsLeft = (await inner.list(1)).count;
  await inner.removeMany(ids); // leave nothing behind
  const names = Object.keys(calls);
  const totalCalls = names.reduce((sum, name) => sum + (calls[name]?.count ?? 0), 0);
  return {
    store: kind,
    recipients: ids.length,
    stale: expectedStale,
    calls: Object.fromEntries(
      names.map((name) => [name, { count: calls[name]?.count ?? 0, ms: round(calls[name]?.ms ?? 0) }]),
    ),
    totalCalls,
    asDesigned: totalCalls === 2 && calls.audience?.count === 1 && calls.removeMany?.count === 1,
    rowsLeft,
    rowsExpected: ids.length - expectedStale,
    ms: round(ms),
    statementsPerRemoveMany,
    wire,
  };
}

/**
 * One container's life through the real handlers (src/handler.ts, `useStore`), counted on
 * the wire: a first `$connect` (cold: schema, and the connection check every new container
 * makes in its first end()), then warm invocations of each route. The check then comes back
 * at most every CONNECTION_MANAGEMENT.usedConnsFreqMs (10 s) per container, one statement.
 * Last, for comparison, serverless-mysql with its own connection management at its defaults
 * (what this project used before): the extra statements its end() sends.
 */
export async function benchInvocations(
  standIn: StandIn,
  options: { mysqlUrl: string | undefined },
): Promise<InvocationRow[]> {
  if (!options.mysqlUrl) return [];
  await standIn.configure({ latencyMs: 0, goneShare: 0 });
  const settings = mysqlFromUrl(options.mysqlUrl, 'bench_inv_');
  const proxy = await startTcpProxy({ host: settings.host, port: settings.port });
  // The handlers read their settings once per process (config()); these are what they need
  // here: offline (no AWS), and posts to the stand-in.
  const saved = {
    IS_OFFLINE: process.env.IS_OFFLINE,
    MANAGEMENT_ENDPOINT: process.env.MANAGEMENT_ENDPOINT,
    LOG_LEVEL: process.env.LOG_LEVEL,
  };
  Object.assign(process.env, { IS_OFFLINE: 'true', MANAGEMENT_ENDPOINT: standIn.url, LOG_LEVEL: 'warn' });
  // Straight to the server: creating and dropping the tables is not part of what is counted.
  const cleaner = new MysqlConnectionStore(settings);
  const store = new MysqlConnectionStore(throughProxy(options.mysqlUrl, 'bench_inv_', proxy));
  const rows: InvocationRow[] = [];
  const invoke = async (invocation: string, run: () => Promise<HandlerResult>) => {
    await settle();
    proxy.resetCommands();
    const { statusCode } = await run();
    await settle();
    rows.push({ invocation, statusCode, wire: count(proxy.commands) });
  };
  const ctx = () => lambdaContext();
  // The fixtures name a deployed API; offline serves only offline's own (src/aws/origin.ts).
  const offline = (event: WebSocketEvent): WebSocketEvent => {
    Object.assign(event.requestContext, { apiId: 'private', domainName: 'localhost', stage: 'local' });
    return event;
  };
  const on = (body: unknown, routeKey: string, id = 'bench-a'): WebSocketEvent =>
    offline(messageEvent(body, id, routeKey));
  try {
    await cleaner.dropTables();
    // The schema as a running stage has it: a new container's first operation then only reads
    // its version (the migration is a deploy's one-time cost, src/store/mysql-schema.ts).
    await cleaner.audienceCount();
    useStore(store);
    resetClients();
    await invoke('$connect, first of a new container (cold)', () => connect(offline(connectEvent('bench-a')), ctx()));
    await invoke('$connect, warm', () => connect(offline(connectEvent('bench-b')), ctx()));
    await invoke('$default {} (list), warm', () => defaultHandler(on({}, '$default'), ctx()));
    await invoke('sendmessage to 2, warm', () => message(on({ action: 'sendmessage', data: 1 }, 'sendmessage'), ctx()));
    await invoke('join, warm', () => message(on({ action: 'join', room: 'r' }, 'join'), ctx()));
    await invoke('leave, warm', () => message(on({ action: 'leave', room: 'r' }, 'leave'), ctx()));
    await invoke('$disconnect, warm', () => disconnect(offline(disconnectEvent('bench-b')), ctx()));
    const checking = new MysqlConnectionStore(throughProxy(options.mysqlUrl, 'bench_inv_', proxy), {
      usedConnsFreqMs: 0,
    });
    useStore(checking);
    await checking.list(1);
    await invoke('$disconnect, warm, when the 10 s connection check is due', () =>
      disconnect(offline(disconnectEvent('bench-a')), ctx()),
    );
    await checking.close();
    rows.push(...(await libraryDefaults(options.mysqlUrl, proxy)));
  } finally {
    useStore(undefined);
    resetClients();
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await store.close();
    await cleaner.dropTables().catch(() => undefined);
    await cleaner.close();
    await proxy.close();
  }
  return rows;
}

/** serverless-mysql 2.1 with `manageConns` at its defaults: what its end() adds to one statement. */
async function libraryDefaults(mysqlUrl: string, proxy: TcpProxy): Promise<InvocationRow[]> {
  const settings = throughProxy(mysqlUrl, 'bench_inv_', proxy);
  const db = serverlessMysql({
    config: {
      host: settings.host,
      port: settings.port,
      database: settings.database,
      user: settings.user,
      password: settings.password,
    },
  });
  const rows: InvocationRow[] = [];
  try {
    for (const invocation of ['first', 'second']) {
      await settle();
      proxy.resetCommands();
      await db.query('SELECT 1');
      await db.end();
      await settle();
      rows.push({
        invocation: `for comparison: serverless-mysql defaults, one statement + end(), ${invocation} invocation`,
        statusCode: 200,
        wire: count(proxy.commands),
      });
    }
  } finally {
    db.quit();
  }
  return rows;
}
