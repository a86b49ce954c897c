/**
 * Store calls per fan-out: messaging's sendmessage path (src/messaging.ts) against a
 * real store wrapped in a counting proxy of the ConnectionStore interface, with the
 * stand-in answering 410 for a share of the recipients. The design promise is one
 * audience read and one batched removeMany, whatever the audience size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientFor, post, resetClients } from '../../src/communication';
import { mysqlFromUrl } from '../../src/config';
import { MysqlConnectionStore } from '../../src/data';
import type { ConnectionStore } from '../../src/data';
import { EmbeddedConnectionStore } from '../../src/embedded-store';
import { handleMessage } from '../../src/messaging';
import { isGone } from './stand-in';
import type { StandIn } from './stand-in';
import { round } from './stats';

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
      const mysql = new MysqlConnectionStore(mysqlFromUrl(options.mysqlUrl, 'bench_q_'));
      try {
        await mysql.dropTables();
        rows.push(await measure('mysql', mysql, standIn, options, 2));
        await mysql.dropTables();
      } finally {
        await mysql.close();
      }
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
): Promise<QueryRow> {
  const ids = Array.from({ length: options.recipients }, (_, i) => `q-${kind}-${i}`);
  // The sender is one of the audience and must not be gone, so that it gets its summary.
  const sender = ids.find((id) => !isGone(id, options.goneShare)) as string;
  for (const [i, connectionId] of ids.entries()) await inner.add({ connectionId, connectedAt: i, subject: null });
  const expectedStale = ids.filter((id) => isGone(id, options.goneShare)).length;

  const { store, calls } = countingStore(inner);
  resetClients();
  const client = clientFor(standIn.url, { region: 'us-east-1', offline: true, maxSockets: 50 });
  const started = performance.now();
  const status = await handleMessage(
    {
      store,
      outbox: { send: (id, data, deadline) => post(client, id, data, { retries: 2, retryBaseMs: 50, deadline }) },
      connectionId: sender,
      subject: null,
      concurrency: 50,
      deadline: Date.now() + 120_000,
      listPageSize: 100,
      presenceMaxMembers: 100,
    },
    JSON.stringify({ action: 'sendmessage', data: 'bench' }),
  );
  const ms = performance.now() - started;
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
  };
}
