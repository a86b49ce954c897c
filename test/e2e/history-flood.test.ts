/**
 * A flood of `history` requests for a room of large messages, against the real service on each
 * store (serverless-offline with the local runtime: LOCAL_MAX_CONCURRENCY instances of the
 * `message` function, which answers history and publish alike), while a bystander publishes in
 * another room. Each answer holds at most 128 KB, and each read loads no more than that: every
 * request is answered (none `unavailable`), and the bystander waits for a few short reads ahead
 * of it, not for reads of every kept message (the figures: BENCHMARKS.md#room-history).
 */
import type { ConnectionStore } from '../../src/data';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { MAX_MESSAGE_BYTES } from '../../src/chat/protocol';
import { historyFlood, seedLargeHistory } from '../support/harnesses/history-flood';
import { MYSQL_URL, mysqlSettings, SKIP_MYSQL, uniquePrefix } from '../support/harnesses/mysql';
import { startOffline, UNTHROTTLED } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(300_000);

/** 1,000 kept messages of 120 KB (ROOM_HISTORY_MAX): 120 MB, all of which one read loaded before. */
const KEPT = 1_000;
const PLAN = { room: 'archive', flooders: 8, requestsEach: 5, replyTimeoutMs: 240_000 };

const stores: [string, string | undefined][] = [['the embedded store', undefined]];
if (!SKIP_MYSQL) stores.push(['MySQL', MYSQL_URL]);

describe.each(stores)('a flood of history requests for large messages, on %s', (_name, dbUrl) => {
  let service: OfflineService | undefined;
  let store: ConnectionStore | undefined;
  const prefix = uniquePrefix('flood');

  beforeAll(async () => {
    service = await startOffline({
      ...(dbUrl === undefined ? {} : { dbUrl }),
      env: {
        // 40 reads at once are over the stage's burst: API Gateway would refuse some before the
        // service saw them, and this measures the service.
        ...UNTHROTTLED,
        LOG_LEVEL: 'warn',
        PRESENCE_MAX_MEMBERS: '0',
        ...(dbUrl === undefined ? {} : { DB_TABLE_PREFIX: prefix }),
      },
    });
    store =
      dbUrl === undefined
        ? new EmbeddedConnectionStore({ kind: 'embedded', file: String(service.storeFile), tablePrefix: '' })
        : new MysqlConnectionStore(mysqlSettings(prefix));
    await seedLargeHistory(store, PLAN.room, KEPT, 120_000);
  });

  afterAll(async () => {
    // The service first: its $disconnects would make the tables again after the drop.
    await service?.stop();
    if (store instanceof MysqlConnectionStore) await store.dropTables();
    await store?.close();
  });

  it(`answers ${PLAN.flooders * PLAN.requestsEach} requests within 128 KB each, none unavailable, while a bystander elsewhere is served`, async () => {
    const flood = await historyFlood(String(service?.url), PLAN);

    expect(flood.replies.filter((reply) => reply.type !== 'history')).toEqual([]);
    expect(flood.replies).toHaveLength(PLAN.flooders * PLAN.requestsEach);
    for (const reply of flood.replies) {
      expect(reply).toMatchObject({ latest: KEPT, more: true, gap: false, messages: [{ seq: 1, id: 'seed0' }] });
    }
    expect(flood.largestReplyBytes).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(flood.bystanderRefused).toEqual([]);
    // Generous and relative: the bystander's slowest publish during the flood against its slowest
    // at rest. It waits behind the flood's reads for an instance of the same function, so some wait
    // is expected; reads of every kept message held it up for seconds (tens of them with 40 reads
    // of 1,000 in the service's memory at once).
    expect(Math.max(...flood.duringMs)).toBeLessThan(Math.max(20 * Math.max(...flood.atRestMs), 3_000));
  });
});
