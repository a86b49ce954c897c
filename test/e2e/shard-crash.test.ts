/**
 * `kill -9` of `npm start` on MySQL in the middle of a sharded delivery: the shards' runtime and
 * the local queue of their events die with it, so no shard would ever finish the delivery. After
 * `npm start` again, `npm run sweep` (its bound shortened to 0 here; SWEEP_DELIVERY_AGE_MS) ends
 * it: the delivery's tally is finished once, with what the shards had counted and the rest
 * `failed`, its one summary announced (the sender's socket died with the crash), and no shard row
 * is left unfinished.
 */
import { createConnection } from 'mysql2/promise';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { TestClient } from '../support/harnesses/client';
import { driverOptions, MYSQL_URL, mysqlSettings, SKIP_MYSQL, uniquePrefix } from '../support/harnesses/mysql';
import { SLOW_FIRST_POST, startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';
import { runScript } from '../support/harnesses/scripts';
import { withoutSettings } from '../support/harnesses/service';
import { eventually } from '../support/harnesses/store-cases';

jest.setTimeout(240_000);

const CLIENTS = 15;

(SKIP_MYSQL ? describe.skip : describe)(
  'kill -9 of npm start during a sharded delivery on MySQL, then the sweep',
  () => {
    const prefix = uniquePrefix('shardcrash');
    const store = new MysqlConnectionStore(mysqlSettings(prefix));
    const clients: TestClient[] = [];
    let service: OfflineService | undefined;

    afterAll(async () => {
      await Promise.allSettled(clients.map((client) => client.close()));
      await service?.stop();
      await store.dropTables();
      await store.close();
    });

    /** The delivery's shard rows not done. */
    async function unfinishedShards(deliveryId: string): Promise<number> {
      const db = await createConnection(driverOptions(mysqlSettings('')));
      try {
        const [rows] = await db.query(
          `SELECT COUNT(*) AS n FROM \`${prefix}delivery_shards\` WHERE delivery_id = ? AND done = 0`,
          [deliveryId],
        );
        return Number((rows as { n: number }[])[0]?.n);
      } finally {
        await db.end();
      }
    }

    const sweep = (wsPort: number) =>
      runScript('sweep.ts', {
        cwd: (service as OfflineService).serviceDir,
        env: {
          ...withoutSettings(process.env),
          WS_PORT: String(wsPort),
          LOCAL_DB_URL: MYSQL_URL,
          DB_TABLE_PREFIX: prefix,
          SWEEP_DELIVERY_AGE_MS: '0',
          LOG_LEVEL: 'info',
        },
        timeoutMs: 60_000,
      });

    it('leaves the delivery unfinished; the sweep ends it once, with one summary and no unfinished row', async () => {
      // 15 recipients in 3 shards at 2 posts/s between them: the delivery takes about 7 s.
      const options = {
        dbUrl: MYSQL_URL,
        env: { LOG_LEVEL: 'warn', DB_TABLE_PREFIX: prefix, ...SLOW_FIRST_POST },
        settings: { FANOUT_SHARD_SIZE: 5, FANOUT_MAX_RATE: 2 },
      };
      service = await startOffline(options);
      for (let i = 0; i < CLIENTS; i++) clients.push(await TestClient.connect(service.url));
      const sender = clients[0] as TestClient;
      const queued = sender.next((m) => m.type === 'delivery' && m.state === 'queued', 60_000);
      sender.send({ action: 'sendmessage', data: 'before the crash' });
      const summary = await queued;
      const deliveryId = String(summary.deliveryId);
      const recipients = Number(summary.recipients);
      // Mid-delivery: someone has heard it, not everyone.
      await eventually(
        async () => clients.filter((c) => c.messages.some((m) => m.type === 'message')).length,
        (heard) => heard > 0,
        30_000,
      );
      await service.kill();
      service = undefined;
      const heard = clients.filter((c) => c.messages.some((m) => m.type === 'message')).length;
      expect(heard).toBeLessThan(CLIENTS);
      expect(await store.deliveryState(deliveryId)).toMatchObject({ summarized: false });
      expect(await unfinishedShards(deliveryId)).toBeGreaterThan(0);

      service = await startOffline(options);
      const run = await sweep(service.port);
      expect({ code: run.code, timedOut: run.timedOut, stderr: run.code === 0 ? '' : run.stderr }).toEqual({
        code: 0,
        timedOut: false,
        stderr: '',
      });
      expect(run.stdout).toContain('ended 1 sharded delivery(ies) still unfinished after SWEEP_DELIVERY_AGE_MS');
      const summaries = `${run.stdout}\n${run.stderr}`
        .split('\n')
        .filter((line) => line.includes('"fan-out done"') && line.includes(deliveryId));
      expect(summaries).toHaveLength(1);

      const final = await store.deliveryState(deliveryId);
      expect(final).toMatchObject({ summarized: true, shards: 3, done: 3, recipients });
      const { sent = 0, stale = 0, failed = 0, unsent = 0 } = final ?? {};
      expect(sent + stale + failed + unsent).toBe(recipients);
      // What the shards had saved before the crash is kept (they save after each page of 1,000, so
      // here after their whole range): at most what was heard, and the rest failed.
      expect(sent).toBeLessThanOrEqual(heard);
      expect(failed).toBeGreaterThan(0);
      expect(await unfinishedShards(deliveryId)).toBe(0);

      // Ended once: the next sweep has nothing to end.
      const again = await sweep(service.port);
      expect(again.stdout).toContain('ended 0 sharded delivery(ies)');
    });
  },
);
