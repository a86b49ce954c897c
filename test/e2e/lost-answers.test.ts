/**
 * The service under serverless-offline on MySQL behind a proxy that passes a write on and
 * then loses the database's answers for a while (test/support/tcp-proxy.ts, `hold`): the
 * write happened, the function cannot know it. Each route reads the truth back (or, for a
 * refused `$connect`, deletes its row) before it answers, so the store, the answers and the
 * presence events agree afterwards.
 */
import { MysqlConnectionStore } from '../../src/store/mysql';
import { TestClient } from '../support/client';
import { mysqlSettings, SKIP_MYSQL, uniquePrefix } from '../support/mysql';
import { startOffline } from '../support/offline';
import type { OfflineService } from '../support/offline';
import { startTcpProxy } from '../support/tcp-proxy';
import type { TcpProxy } from '../support/tcp-proxy';

jest.setTimeout(180_000);

/** Longer than the store's 3 s statement timeout, shorter than what is left of `$connect`'s 10 s. */
const HOLD_MS = 4_000;

(SKIP_MYSQL ? describe.skip : describe)('database answers lost after a write, under serverless-offline', () => {
  const prefix = uniquePrefix('lost');
  const settings = mysqlSettings(prefix);
  let proxy: TcpProxy;
  let service: OfflineService;
  /** Straight to the server: what is really stored. */
  let store: MysqlConnectionStore;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    proxy = await startTcpProxy({ host: settings.host, port: settings.port });
    service = await startOffline({
      dbUrl: proxy.url(settings.database, settings.user),
      env: { DB_TABLE_PREFIX: prefix },
    });
    store = new MysqlConnectionStore(settings);
  });

  afterAll(async () => {
    proxy?.setMode('pass');
    await Promise.allSettled(clients.map((client) => client.close()));
    await service?.stop();
    await proxy?.close();
    await store?.dropTables();
    await store?.close();
  });

  async function connect(): Promise<{ client: TestClient; id: string }> {
    const client = await TestClient.connect(service.url, 20_000);
    clients.push(client);
    const { you } = await client.request({ action: 'list' }, 'connections');
    return { client, id: String(you) };
  }

  /** Holds the answers from the statement that matches on, for HOLD_MS. */
  function holdAfter(pattern: RegExp): void {
    proxy.holdAnswersAfter(pattern);
    const started = Date.now();
    const timer = setInterval(() => {
      if (proxy.mode === 'hold' && Date.now() - started >= HOLD_MS) {
        clearInterval(timer);
        proxy.setMode('pass');
      }
    }, 50);
    setTimeout(() => clearInterval(timer), 60_000).unref();
  }

  it('a $connect whose insert happened but whose answer was lost is refused and leaves no row', async () => {
    const { client: a } = await connect();
    const before = (await store.list(10)).count;
    holdAfter(new RegExp(`^INSERT INTO \`${prefix}connections\``));
    const refused = await TestClient.connect(service.url, 20_000).then(
      (client) => (clients.push(client), 'open'),
      (error: { statusCode?: number }) => error.statusCode,
    );
    expect(refused).toBe(500);
    expect(proxy.mode).toBe('pass');
    expect((await store.list(10)).count).toBe(before);
    expect(service.output()).toContain('store write outcome settled');
    await a.close();
  });

  it('a join whose commit happened is answered joined and announced; a leave that happened is answered and announced as such', async () => {
    const { client: a, id: aId } = await connect();
    const { client: b } = await connect();
    await b.request({ action: 'join', room: 'red' }, 'joined');

    holdAfter(/^COMMIT/);
    const heardJoin = b.ofType('presence', 30_000);
    a.send({ action: 'join', room: 'red' });
    expect(await a.next(() => true, 30_000)).toEqual({ type: 'joined', room: 'red', seq: expect.any(Number) });
    expect(await heardJoin).toMatchObject({ type: 'presence', event: 'join', room: 'red', connectionId: aId });
    expect(await store.roomsOf(aId)).toEqual(['red']);

    holdAfter(new RegExp(`^DELETE FROM \`${prefix}room_members\` WHERE room`));
    const heardLeave = b.ofType('presence', 30_000);
    a.send({ action: 'leave', room: 'red' });
    expect(await a.next(() => true, 30_000)).toEqual({ type: 'left', room: 'red', wasMember: true });
    expect(await heardLeave).toMatchObject({ type: 'presence', event: 'leave', room: 'red', connectionId: aId });
    expect(await store.roomsOf(aId)).toEqual([]);
    expect((await store.members('red', 10)).count).toBe(1);
  });
});
