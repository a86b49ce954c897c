/**
 * A crash of `npm start` on MySQL: kill -9 during a broadcast, so no `$disconnect` runs and
 * every row stays. No socket survives a restart of the WebSocket server, so the next
 * `npm start` removes its tables' rows before it serves (as it empties the SQLite file):
 * `list` then counts only the new connection and a broadcast meets no stale one.
 */
import { MysqlConnectionStore } from '../../src/store/mysql';
import { TestClient } from '../support/harnesses/client';
import { MYSQL_URL, mysqlSettings, SKIP_MYSQL, uniquePrefix } from '../support/harnesses/mysql';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(180_000);

(SKIP_MYSQL ? describe.skip : describe)('kill -9 of npm start on MySQL, then npm start again', () => {
  const prefix = uniquePrefix('crash');
  const store = new MysqlConnectionStore(mysqlSettings(prefix));
  const clients: TestClient[] = [];
  let service: OfflineService | undefined;

  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await service?.stop();
    await store.dropTables();
    await store.close();
  });

  it('leaves no row of the crashed run: list counts the new connection only, a broadcast finds none stale', async () => {
    const options = { dbUrl: MYSQL_URL, env: { LOG_LEVEL: 'warn', DB_TABLE_PREFIX: prefix } };
    service = await startOffline(options);
    clients.push(...(await Promise.all(Array.from({ length: 30 }, () => TestClient.connect(String(service?.url))))));
    await clients[0]?.request({ action: 'join', room: 'red' }, 'joined');
    expect((await store.list(1)).count).toBe(30);

    clients[1]?.send({ action: 'sendmessage', data: 'to everyone' });
    await service.kill();
    service = undefined;
    expect((await store.list(1)).count).toBeGreaterThan(0);

    service = await startOffline(options);
    expect(service.output()).toMatch(/removed \d+ connection\(s\) an earlier run left in its tables/);
    const fresh = await TestClient.connect(service.url);
    clients.push(fresh);
    expect(await fresh.request({ action: 'list' }, 'connections')).toMatchObject({ count: 1 });
    expect((await store.members('red', 1)).count).toBe(0);
    expect(await fresh.request({ action: 'sendmessage', data: 'hello' }, 'delivery')).toMatchObject({
      recipients: 1,
      sent: 1,
      stale: 0,
    });
  });
});
