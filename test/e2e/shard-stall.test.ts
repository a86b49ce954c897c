/**
 * A sharded delivery under `npm start` on MySQL whose database stalls for 7 s right after the
 * delivery was recorded (the sender has its `queued` summary; no shard has reached the store
 * yet). Every shard's first store step fails in the stall; each attempt is counted once the
 * database answers again, the local runtime retries it as Lambda does (shortened delays), and the
 * retry delivers: everyone hears the message once and the sender gets one `done` summary with
 * the right counts.
 */
import { createConnection } from 'mysql2/promise';
import type { TestClient } from '../support/harnesses/client';
import { driverOptions, mysqlSettings, SKIP_MYSQL } from '../support/harnesses/mysql';
import { SLOW_FIRST_POST } from '../support/harnesses/offline';
import { useProxiedService } from '../support/harnesses/proxied-service';
import { eventually } from '../support/harnesses/store-cases';

jest.setTimeout(240_000);

const CLIENTS = 12;
const STALL_MS = 7_000;
const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

(SKIP_MYSQL ? describe.skip : describe)('a sharded delivery whose database stalls after it was queued (MySQL)', () => {
  const harness = useProxiedService('shardstall', {
    settings: { FANOUT_SHARD_SIZE: 5 },
    // Lambda's retry delays (60 s, 120 s) shortened.
    env: { LOCAL_ASYNC_RETRY_DELAYS_MS: '1000,2000', ...SLOW_FIRST_POST },
  });

  it('counts the stalled attempts, retries them, and ends with one done summary: everyone sent', async () => {
    const clients: TestClient[] = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await harness.connect());
    const sender = clients[0] as TestClient;
    // The stall starts once the publisher's last write, the shards' rows, has been answered.
    harness.proxy.silentAfter(/^INSERT IGNORE INTO `\w+delivery_shards`/);
    const queued = sender.next((m) => m.type === 'delivery' && m.state === 'queued', 60_000);
    const done = sender.next((m) => m.type === 'delivery' && m.state === 'done', 120_000);
    sender.send({ action: 'sendmessage', data: 'through a stall' });
    const { deliveryId } = await queued;
    expect(harness.proxy.mode).toBe('silent');
    await later(STALL_MS);
    harness.proxy.setMode('pass');

    const final = await done.catch((error: unknown) => {
      const lines = harness.service.output().split('\n');
      throw new Error(`${(error as Error).message}\n${lines.filter((l) => /shard|attempt/i.test(l)).join('\n')}`);
    });
    expect(final).toMatchObject({
      deliveryId,
      shards: 3,
      recipients: CLIENTS,
      sent: CLIENTS,
      stale: 0,
      failed: 0,
      unsent: 0,
    });
    await later(1_000); // a repeat would have arrived by now
    for (const client of clients) {
      expect(client.messages.filter((m) => m.type === 'message' && m.data === 'through a stall')).toHaveLength(1);
    }
    expect(sender.messages.filter((m) => m.type === 'delivery')).toEqual([]);

    // Each shard's first attempt failed in the stall and was counted; its retry delivered.
    const db = await createConnection(driverOptions(mysqlSettings('')));
    try {
      const [rows] = await db.query(
        `SELECT shard, attempts, done FROM \`${harness.prefix}delivery_shards\` WHERE delivery_id = ? ORDER BY shard`,
        [deliveryId],
      );
      expect(rows).toEqual([0, 1, 2].map((shard) => ({ shard, attempts: 2, done: 1 })));
    } finally {
      await db.end();
    }
    const output = await eventually(
      async () => harness.service.output(),
      (text) => text.includes('attempt 1 of 3 failed'),
    );
    expect(output).toContain('shard attempt failed; Lambda retries it from its cursor');
    expect(output).not.toContain('on-failure destination');
  });
});
