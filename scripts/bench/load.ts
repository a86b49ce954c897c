/**
 * Load under serverless-offline: many real `ws` clients connect concurrently, one broadcast
 * (`sendmessage`) must reach every one of them, all disconnect, and the store must end
 * up empty.
 *
 * serverless-offline 13 on its own starts a new worker thread (a full cold start of the
 * handler) for every invocation that finds all workers busy; the local runtime now bounds them
 * (LOCAL_MAX_CONCURRENCY, docs/operations.md#local-runtime; `--only load` measures that). The clients here connect concurrently with a bounded
 * number of handshakes in flight (`connectConcurrency`): the pool then grows to about that
 * many workers and they are reused, as warm Lambda instances are. Closing is bounded the
 * same way (`closeConcurrency` clients close at a time, each waiting for its close frame).
 */
import { mysqlFromUrl } from '../../src/config';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { startOffline, UNTHROTTLED } from '../../test/support/harnesses/offline';
import { TestClient } from '../../test/support/harnesses/client';
import type { Received } from '../../test/support/harnesses/client';
import { percentile, round } from './stats';

export interface LoadRow {
  store: 'embedded' | 'mysql';
  clients: number;
  /** Handshakes in flight at once during the connect phase. */
  connectConcurrency: number;
  /** Clients closing at once during the drain. */
  closeConcurrency: number;
  /** The first connect of the run, which starts the connect function's worker. */
  coldConnectMs: number;
  connectMs: number;
  connectsPerSecond: number;
  /** The sender's delivery summary. */
  delivery: { recipients: number; sent: number; stale: number; failed: number; unsent: number };
  /** Clients that received the broadcast (must equal `clients`). */
  received: number;
  lost: number;
  /** From the send to each client's receipt, ms. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** All clients closed until the last `$disconnect` had removed its row. */
  drainMs: number;
  /** What a fresh client is told afterwards: it must be the only connection. */
  finalCount: number;
  storeEmpty: boolean;
}

const TABLE_PREFIX = 'bench_load_';

/** Progress on stderr: a load run takes minutes and should not look hung. */
const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** TestClient.request with a timeout that allows for offline starting a worker. */
async function ask(client: TestClient, message: unknown, type: string): Promise<Received> {
  const reply = client.ofType(type, 120_000);
  client.send(message);
  return reply;
}

export interface LoadOptions {
  clients: number;
  mysqlUrl: string | undefined;
  /** Handshakes in flight at once (default 20). */
  connectConcurrency?: number;
  /** Clients closing at once (default 20). */
  closeConcurrency?: number;
}

/** Runs `task` for every item with at most `limit` in flight; settles like Promise.allSettled. */
async function pooled<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>) {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await task(items[index] as T) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

export async function benchLoad(options: LoadOptions): Promise<LoadRow[]> {
  const settings = {
    count: options.clients,
    connectConcurrency: options.connectConcurrency ?? 20,
    closeConcurrency: options.closeConcurrency ?? 20,
  };
  const rows: LoadRow[] = [];
  rows.push(await loadOnce('embedded', settings, undefined));
  if (options.mysqlUrl) rows.push(await loadOnce('mysql', settings, options.mysqlUrl));
  return rows;
}

async function loadOnce(
  store: 'embedded' | 'mysql',
  {
    count,
    connectConcurrency,
    closeConcurrency,
  }: { count: number; connectConcurrency: number; closeConcurrency: number },
  dbUrl: string | undefined,
): Promise<LoadRow> {
  // Start from empty tables: a previous run that was cut short may have left rows.
  const mysql = dbUrl ? new MysqlConnectionStore(mysqlFromUrl(dbUrl, TABLE_PREFIX)) : undefined;
  await mysql?.dropTables();
  // warn: one info line per invocation would be hundreds of lines through offline's pipe.
  const service = await startOffline({
    ...(dbUrl ? { dbUrl } : {}),
    // The bench measures the runtime, not API Gateway's throttling, which its storm of
    // handshakes and messages would meet first (docs/operations.md#local-limits).
    env: { DB_TABLE_PREFIX: TABLE_PREFIX, LOG_LEVEL: 'warn', ...UNTHROTTLED },
    timeoutMs: 120_000,
    // offline starts a new worker (a cold start) for every concurrent invocation; in a storm on
    // 2 cores those exceed the connect function's 10 s timeout, so the timeout is lifted here.
    args: ['--noTimeout'],
  });
  const clients: TestClient[] = [];
  try {
    // Warm-up: the first invocation of each function starts its worker (seconds here), which
    // would count against the storm's connects. Measured and reported on its own.
    const warmStarted = performance.now();
    const warm = await TestClient.connect(service.url, 120_000);
    const coldConnectMs = performance.now() - warmStarted;
    await ask(warm, { action: 'sendmessage', data: 'warm-up' }, 'delivery');
    await ask(warm, {}, 'connections');
    await warm.close();

    const connectStarted = performance.now();
    const settled = await pooled(
      Array.from({ length: count }, (_, i) => i),
      connectConcurrency,
      () => TestClient.connect(service.url, 180_000),
    );
    const connectMs = performance.now() - connectStarted;
    progress(
      `${store}: ${count} connected in ${Math.round(connectMs)} ms (${connectConcurrency} handshakes in flight)`,
    );
    for (const result of settled) if (result.status === 'fulfilled') clients.push(result.value);
    const refused = settled.find((result) => result.status === 'rejected');
    if (refused) {
      throw new Error(
        `${count - clients.length} of ${count} clients could not connect: ${String(refused.reason)}\n` +
          service.output().slice(-4000),
      );
    }

    const [sender] = clients as [TestClient];
    const marker = `bench-${Date.now()}`;
    const receipts = clients.map((client) =>
      client
        .next((m) => m.type === 'message' && (m.data as { marker?: string } | undefined)?.marker === marker, 120_000)
        .then(() => performance.now())
        .catch(() => undefined),
    );
    const summary = sender.ofType('delivery', 120_000);
    const sentAt = performance.now();
    sender.send({ action: 'sendmessage', data: { marker } });
    const delivery = (await summary) as unknown as LoadRow['delivery'];
    const times = (await Promise.all(receipts)).filter((t): t is number => t !== undefined).map((t) => t - sentAt);

    progress(`${store}: broadcast received by ${times.length}`);
    const closeStarted = performance.now();
    await pooled(clients, closeConcurrency, (client) => client.close());
    const count_ = async (): Promise<number> => {
      const probe = await TestClient.connect(service.url, 180_000);
      try {
        const reply = await ask(probe, {}, 'connections');
        return Number(reply.count);
      } finally {
        await probe.close();
      }
    };
    // A probe's own `$disconnect` may still be pending when the next probe asks, so "only me" is count 1.
    let finalCount = Number.NaN;
    await until(async () => (finalCount = await count_()) === 1, 120_000);
    const drainMs = performance.now() - closeStarted;
    return {
      store,
      clients: count,
      connectConcurrency,
      closeConcurrency,
      coldConnectMs: round(coldConnectMs, 0),
      connectMs: round(connectMs, 0),
      connectsPerSecond: round((count / connectMs) * 1000, 1),
      delivery: {
        recipients: delivery.recipients,
        sent: delivery.sent,
        stale: delivery.stale,
        failed: delivery.failed,
        unsent: delivery.unsent,
      },
      received: times.length,
      lost: count - times.length,
      latencyP50Ms: round(percentile(times, 50)),
      latencyP99Ms: round(percentile(times, 99)),
      latencyMaxMs: round(percentile(times, 100)),
      drainMs: round(drainMs, 0),
      finalCount,
      storeEmpty: finalCount === 1,
    };
  } catch (error) {
    throw new Error(
      `load (${store}) failed: ${String(error)}\n--- serverless-offline output ---\n${service.output().slice(-6000)}`,
      {
        cause: error,
      },
    );
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await service.stop();
    await mysql?.dropTables();
    await mysql?.close();
  }
}
