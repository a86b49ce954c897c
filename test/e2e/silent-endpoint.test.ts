/**
 * The real service under serverless-offline with real WebSocket clients, its management
 * API behind a loopback proxy that can go silent for one connection,
 * and messages that name the `$connect`/`$disconnect` routes as their action.
 */
import { TestClient } from '../support/harnesses/client';
import { startManagementProxy } from '../support/stand-ins/management-proxy';
import type { ManagementProxy } from '../support/stand-ins/management-proxy';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(120_000);

// Small, so that the test is quick; the arithmetic is the one of the 29 s route (src/chat/fanout/delivery.ts).
const BUDGET_MS = 2_000;
const POST_TIMEOUT_MS = 1_000;

describe('the service under serverless-offline, behind a management API that can go silent', () => {
  let proxy: ManagementProxy;
  let service: OfflineService;
  const clients: TestClient[] = [];

  /** One at a time: offline starts a fresh worker for each concurrent call. */
  async function connect(count: number): Promise<TestClient[]> {
    const made: TestClient[] = [];
    for (let i = 0; i < count; i++) made.push(await TestClient.connect(service.url));
    clients.push(...made);
    return made;
  }

  const idOf = async (client: TestClient) => (await client.request({}, 'connections')).you as string;

  beforeAll(async () => {
    proxy = await startManagementProxy();
    service = await startOffline({
      env: { MANAGEMENT_ENDPOINT: proxy.endpoint },
      settings: { FANOUT_BUDGET_MS: BUDGET_MS, POST_TIMEOUT_MS },
    });
    proxy.forwardTo(service.port);
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await service?.stop();
    await proxy?.close();
  });

  it('keeps a connection that sends {"action":"$disconnect"} and {"action":"$connect"}: each gets unknown_action, and it still works', async () => {
    const [client] = (await connect(1)) as [TestClient];
    const id = await idOf(client);

    for (const action of ['$disconnect', '$connect']) {
      const reply = await client.request({ action }, 'error');
      expect(reply).toMatchObject({ type: 'error', code: 'unknown_action' });
      expect(reply.message).toContain(JSON.stringify(action));
    }

    const list = await client.request({ action: 'list' }, 'connections');
    expect(list.connections).toContainEqual(expect.objectContaining({ connectionId: id }));
    await client.request({ action: 'join', room: 'solo' }, 'joined');
    client.send({ action: 'publish', room: 'solo', data: 'still here' });
    expect(await client.ofType('message')).toMatchObject({ room: 'solo', connectionId: id, data: 'still here' });
    expect(await client.ofType('delivery')).toMatchObject({ recipients: 1, sent: 1, failed: 0 });
  });

  it('sends the delivery summary by the budget plus one post timeout while one connection’s posts are never answered', async () => {
    const [sender, silent, other] = (await connect(3)) as [TestClient, TestClient, TestClient];
    const senderId = await idOf(sender);
    const silentId = await idOf(silent);
    await idOf(other);
    const { count } = await sender.request({}, 'connections');
    proxy.hold(silentId);

    const started = Date.now();
    sender.send({ action: 'sendmessage', data: 'anyone there?' });
    // Before the fix no summary ever came: the held post hung until offline killed the function (29 s).
    const summary = await sender.ofType('delivery', 20_000);
    const elapsed = Date.now() - started;

    expect(summary).toEqual({
      type: 'delivery',
      id: expect.any(String),
      recipients: count,
      sent: (count as number) - 1,
      stale: 0,
      failed: 1,
      unsent: 0,
    });
    expect(proxy.held(silentId)).toBeGreaterThanOrEqual(1);
    expect(await other.ofType('message')).toMatchObject({ connectionId: senderId, data: 'anyone there?' });
    expect(await sender.ofType('message')).toMatchObject({ connectionId: senderId, data: 'anyone there?' });
    expect(silent.messages.filter((m) => m.type === 'message')).toEqual([]);
    // The held post had to time out first; after that, generous room for offline's worker start.
    expect(elapsed).toBeGreaterThanOrEqual(POST_TIMEOUT_MS);
    expect(elapsed).toBeLessThan(BUDGET_MS + POST_TIMEOUT_MS + 10_000);
  });
});
