/**
 * Sharded fan-out at scale: simulated audiences (100,000 and 1,000,000 connections in an
 * embedded store) delivered through the real shard code (planDelivery, then runShard for every
 * shard, all at once as Lambda would run them, each shard with a management client of its own
 * as each Lambda container has) against the stand-in management API, which counts distinct ids.
 * The pace is FANOUT_MAX_RATE's default, so the ideal time is recipients / rate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ManagementApi } from '../../src/aws/management-api';
import { post } from '../../src/communication';
import { encode } from '../../src/chat/outbox';
import { DEFAULT_MAX_RATE, DEFAULT_SHARD_SIZE } from '../../src/config';
import type { DeliveryFrame } from '../../src/chat/frames';
import { planDelivery } from '../../src/chat/fanout/shards';
import { runShard, SHARD_PAGE } from '../../src/chat/fanout/shard-runner';
import type { ShardEvent } from '../../src/chat/fanout/shards';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import type { StandIn } from './stand-in';
import { round, withHeapPeak } from './stats';

export interface ShardRow {
  recipients: number;
  shardSize: number;
  /** FANOUT_MAX_RATE, posts/s. */
  maxRate: number;
  shards: number;
  /** Distinct connection ids the stand-in was posted to. */
  delivered: number;
  /** Posts the stand-in received (equal to `delivered`: nobody heard it twice). */
  posts: number;
  sent: number;
  failed: number;
  unsent: number;
  /** Final summaries sent (one). */
  summaries: number;
  /** From planning to the final summary. */
  seconds: number;
  /** recipients / maxRate */
  idealSeconds: number;
  ratioToIdeal: number;
  /** Ids one shard holds at a time, whatever the audience. */
  pageIds: number;
  /** Heap growth of the whole run (all shards at once) and per shard, MB. */
  heapPeakMb: number;
  heapPerShardMb: number;
  /** Most posts the stand-in was answering at once. */
  maxInFlight: number;
  /** Seconds to plan and hand over every shard (the publisher's part). */
  planSeconds: number;
  /** CPU of the process running every shard over wall time (2 cores: up to 2). */
  senderCpuPerWall: number;
  /** CPU the stand-in used over wall time. */
  standInCpuPerWall: number;
  /** The machine's 1-minute load average at the end (other work on it slows every shard alike). */
  loadAverage: number;
}

export interface ShardBenchOptions {
  audiences: number[];
  shardSize?: number;
  maxRate?: number;
  latencyMs: number;
  concurrency?: number;
  log?: (message: string) => void;
}

const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };

/** Fills the connections table of `file` with `n` rows in one transaction (seconds for a million). */
function seed(file: string, n: number): void {
  const db = new Database(file);
  try {
    const insert = db.prepare('INSERT INTO "connections" (connection_id, connected_at, subject) VALUES (?, ?, NULL)');
    db.transaction(() => {
      for (let i = 0; i < n; i++) insert.run(`c${i.toString(36).padStart(8, '0')}`, i);
    })();
  } finally {
    db.close();
  }
}

export async function benchShards(standIn: StandIn, options: ShardBenchOptions): Promise<ShardRow[]> {
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
  const maxRate = options.maxRate ?? DEFAULT_MAX_RATE;
  const concurrency = options.concurrency ?? 50;
  const rows: ShardRow[] = [];
  await standIn.configure({ latencyMs: options.latencyMs, goneShare: 0 });
  const bytes = encode({ type: 'message', from: null, origin: 'server', sentAt: Date.now(), data: 'x' });
  for (const recipients of options.audiences) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-shards-'));
    const file = join(dir, 'store.sqlite');
    const store = new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: '' });
    try {
      await store.list(1); // creates the schema
      options.log?.(`shards: seeding ${recipients.toLocaleString('en-US')} connections`);
      seed(file, recipients);
      await standIn.reset();
      const summaries: DeliveryFrame[] = [];
      const clients: ManagementApi[] = [];
      options.log?.(`shards: delivering to ${recipients.toLocaleString('en-US')}`);
      const started = performance.now();
      const cpu = process.cpuUsage();
      let planSeconds = 0;
      const { result: shards, heapPeakMb } = await withHeapPeak(async () => {
        const events: ShardEvent[] = [];
        const plan = await planDelivery(
          store,
          { size: shardSize, invoke: async (e) => void events.push(e) },
          undefined,
          bytes,
          {},
        );
        if (plan.kind !== 'queued') throw new Error('the audience was not sharded');
        await plan.handOver();
        planSeconds = (performance.now() - started) / 1000;
        await Promise.all(
          events.map((event) => {
            const client = new ManagementApi(standIn.url, {
              region: 'us-east-1',
              credentials,
              maxSockets: concurrency,
            });
            clients.push(client);
            return runShard(
              {
                store,
                send: (id, data, deadline) =>
                  post(client, id, data, { retries: 2, retryBaseMs: 50, timeoutMs: 1_500, deadline }),
                concurrency,
                deadline: Date.now() + 900_000,
                maxRate,
                retried: () => false,
                onSummary: (summary) => void summaries.push(summary),
              },
              event,
            );
          }),
        );
        return events.length;
      });
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      for (const client of clients) client.destroy();
      const seen = await standIn.stats();
      const summary = summaries[0];
      const idealSeconds = recipients / maxRate;
      rows.push({
        recipients,
        shardSize,
        maxRate,
        shards,
        delivered: seen.distinct,
        posts: seen.posts,
        sent: summary?.sent ?? 0,
        failed: summary?.failed ?? 0,
        unsent: summary?.unsent ?? recipients,
        summaries: summaries.length,
        seconds: round(seconds, 1),
        idealSeconds: round(idealSeconds, 1),
        ratioToIdeal: round(seconds / idealSeconds, 2),
        pageIds: SHARD_PAGE,
        heapPeakMb,
        heapPerShardMb: round(heapPeakMb / shards, 2),
        maxInFlight: seen.maxInFlight,
        planSeconds: round(planSeconds, 2),
        senderCpuPerWall: round((used.user + used.system) / 1000 / 1000 / seconds, 2),
        standInCpuPerWall: round(seen.cpuMs / 1000 / seconds, 2),
        loadAverage: round(loadavg()[0] ?? 0, 1),
      });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
