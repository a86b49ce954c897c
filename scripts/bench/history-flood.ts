/**
 * `--only history`: 40 `history` requests at once (8 connections, 5 each) for a room of 1,000
 * kept messages of 120 KB, against the real service under serverless-offline on each store,
 * while a bystander publishes in another room (test/support/harnesses/history-flood.ts, which
 * test/e2e/history-flood.test.ts asserts on). The service's RSS is the sum over its process
 * group, sampled every 250 ms.
 */
import type { ConnectionStore } from '../../src/data';
import { mysqlFromUrl } from '../../src/config';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { historyFlood, seedLargeHistory } from '../../test/support/harnesses/history-flood';
import { startOffline } from '../../test/support/harnesses/offline';
import { groupUsage } from './bounded-load';
import { median, round } from './stats';

export interface HistoryFloodRow {
  store: 'embedded' | 'mysql';
  kept: number;
  requests: number;
  /** Replies that were `history` answers; the rest were errors (`unavailable`) or throttled. */
  answered: number;
  largestReplyKb: number;
  floodMs: number;
  bystanderAtRestMs: number;
  bystanderWorstMs: number;
  /** The bystander's publishes refused or failed (throttled by the local runtime, `unavailable`). */
  bystanderRefused: number;
  baselineRssMb: number;
  peakRssMb: number;
}

const PREFIX = 'bench_hf_';
const PLAN = { room: 'archive', flooders: 8, requestsEach: 5, replyTimeoutMs: 240_000 };

async function flood(kind: HistoryFloodRow['store'], kept: number, mysqlUrl?: string): Promise<HistoryFloodRow> {
  const service = await startOffline({
    ...(mysqlUrl === undefined ? {} : { dbUrl: mysqlUrl }),
    env: {
      LOG_LEVEL: 'error',
      PRESENCE_MAX_MEMBERS: '0',
      ...(mysqlUrl === undefined ? {} : { DB_TABLE_PREFIX: PREFIX }),
    },
    timeoutMs: 120_000,
  });
  const store: ConnectionStore =
    mysqlUrl === undefined
      ? new EmbeddedConnectionStore({ kind: 'embedded', file: String(service.storeFile), tablePrefix: '' })
      : new MysqlConnectionStore(mysqlFromUrl(mysqlUrl, PREFIX));
  let peakRssMb = 0;
  const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, groupUsage(service.pid).rssMb)), 250);
  try {
    await seedLargeHistory(store, PLAN.room, kept, 120_000);
    const baselineRssMb = groupUsage(service.pid).rssMb;
    const outcome = await historyFlood(service.url, PLAN);
    return {
      store: kind,
      kept,
      requests: outcome.replies.length,
      answered: outcome.replies.filter((reply) => reply.type === 'history').length,
      largestReplyKb: round(outcome.largestReplyBytes / 1024, 1),
      floodMs: round(outcome.floodMs, 0),
      bystanderAtRestMs: round(median(outcome.atRestMs), 0),
      bystanderWorstMs: round(Math.max(...outcome.duringMs), 0),
      bystanderRefused: outcome.bystanderRefused.length,
      baselineRssMb: round(baselineRssMb, 0),
      peakRssMb: round(peakRssMb, 0),
    };
  } finally {
    clearInterval(sampler);
    // The service first: its $disconnects would make the tables again after the drop.
    await service.stop();
    if (store instanceof MysqlConnectionStore) await store.dropTables();
    await store.close();
  }
}

export async function benchHistoryFlood(options: {
  smoke: boolean;
  mysqlUrl: string | undefined;
}): Promise<HistoryFloodRow[]> {
  const kept = options.smoke ? 100 : 1_000;
  const rows = [await flood('embedded', kept)];
  if (options.mysqlUrl) rows.push(await flood('mysql', kept, options.mysqlUrl));
  return rows;
}
