/**
 * The real service under serverless-offline (each function in its own worker thread)
 * with real WebSocket clients, once against the embedded store and once against MySQL.
 * Specification of issues 3 (local runtime) and 4 (messaging).
 */
import { TestClient } from '../support/harnesses/client';
import type { Received } from '../support/harnesses/client';
import type { OfflineService } from '../support/harnesses/offline';
import { emptyServicePerTest, eventually, storeCases } from '../support/harnesses/store-cases';
import type { TestStore } from '../support/harnesses/store-cases';

jest.setTimeout(120_000);

const cases = storeCases('e2e');

for (const storeCase of cases) {
  (storeCase.skip ? describe.skip : describe)(`the service under serverless-offline, ${storeCase.name}`, () => {
    let service: OfflineService;
    let store: TestStore;
    const clients: TestClient[] = [];

    /** Connects one at a time: offline starts a fresh worker for each concurrent call. */
    async function connect(count: number): Promise<TestClient[]> {
      const made: TestClient[] = [];
      for (let i = 0; i < count; i++) made.push(await TestClient.connect(service.url));
      clients.push(...made);
      return made;
    }

    const list = (client: TestClient) => client.request({}, 'connections');
    const idOf = async (client: TestClient) => (await list(client)).you as string;

    // Each test starts from an empty service.
    emptyServicePerTest(storeCase, clients, (started) => ({ service, store } = started));

    describe('connections', () => {
      it('lists all three connected clients to the sender, with itself named', async () => {
        const [a, b, c] = (await connect(3)) as [TestClient, TestClient, TestClient];
        const ids = [await idOf(a), await idOf(b), await idOf(c)];
        const reply = await list(a);
        expect(reply).toMatchObject({ type: 'connections', you: ids[0], count: 3, truncated: false });
        expect((reply.connections as { connectionId: string }[]).map((x) => x.connectionId).sort()).toEqual(
          [...ids].sort(),
        );
      });

      it('forgets a client that closed: the next list has two and its row is gone', async () => {
        const [a, b, c] = (await connect(3)) as [TestClient, TestClient, TestClient];
        const gone = await idOf(c);
        await c.close();
        const reply = await eventually(
          () => list(a),
          (r) => r.count === 2,
        );
        expect(reply.count).toBe(2);
        expect((reply.connections as { connectionId: string }[]).map((x) => x.connectionId)).not.toContain(gone);
        expect(await store.get(gone)).toBeUndefined();
        void b;
      });

      it('removes a connection that vanished without $disconnect when a delivery to it fails (410)', async () => {
        const [a] = (await connect(1)) as [TestClient];
        // A row whose socket offline never had: what a lost $disconnect leaves behind in AWS.
        await store.add({ connectionId: 'ghost-connection', connectedAt: Date.now(), subject: null });
        await store.join('ghost-connection', 'red', 50);
        expect((await list(a)).count).toBe(2);
        const delivery = await a.request({ action: 'sendmessage', data: 'anyone?' }, 'delivery');
        expect(delivery).toMatchObject({ recipients: 2, sent: 1, stale: 1, failed: 0, unsent: 0 });
        expect(await store.get('ghost-connection')).toBeUndefined();
        expect(await store.audience('red')).toEqual([]);
        expect((await list(a)).count).toBe(1);
      });
    });

    describe('messaging', () => {
      it('broadcasts sendmessage to every connection, with a delivery summary to the sender', async () => {
        const all = await connect(4);
        const [sender] = all as [TestClient];
        const heard = all.map((client) => client.ofType('message'));
        const delivery = await sender.request({ action: 'sendmessage', data: { text: 'hello all' } }, 'delivery');
        expect(delivery).toEqual({
          type: 'delivery',
          id: expect.any(String),
          recipients: 4,
          sent: 4,
          stale: 0,
          failed: 0,
          unsent: 0,
        });
        const senderId = await idOf(sender);
        for (const message of await Promise.all(heard)) {
          expect(message).toMatchObject({
            type: 'message',
            from: null,
            connectionId: senderId,
            data: { text: 'hello all' },
          });
        }
      });

      it('publishes to a room’s members only; leaving and disconnecting take a member out', async () => {
        const [a, b, c, d] = (await connect(4)) as [TestClient, TestClient, TestClient, TestClient];
        expect(await a.request({ action: 'join', room: 'red' }, 'joined')).toMatchObject({
          type: 'joined',
          room: 'red',
        });
        await b.request({ action: 'join', room: 'red' }, 'joined');
        await c.request({ action: 'join', room: 'blue' }, 'joined');

        const delivery = await a.request({ action: 'publish', room: 'red', data: 'for red' }, 'delivery');
        expect(delivery).toMatchObject({ room: 'red', recipients: 2, sent: 2 });
        expect(await a.ofType('message')).toMatchObject({ room: 'red', data: 'for red' });
        expect(await b.ofType('message')).toMatchObject({ room: 'red', data: 'for red' });
        // Deliveries to one connection arrive in order: a later broadcast proves nothing earlier came.
        await d.request({ action: 'sendmessage', data: 'marker' }, 'delivery');
        for (const client of [c, d]) {
          expect(await client.ofType('message')).toMatchObject({ data: 'marker' });
          expect(client.messages.filter((m: Received) => m.room === 'red')).toEqual([]);
        }
        for (const client of [a, b]) await client.ofType('message'); // their marker

        expect(await b.request({ action: 'leave', room: 'red' }, 'left')).toEqual({
          type: 'left',
          room: 'red',
          wasMember: true,
        });
        expect(await b.request({ action: 'leave', room: 'red' }, 'left')).toMatchObject({ wasMember: false });
        // Only a member may publish to a room (membership first, auth off too).
        expect(await c.request({ action: 'publish', room: 'red', data: 2 }, 'error')).toMatchObject({
          code: 'forbidden',
          details: { room: 'red', missing: 'membership' },
        });
        expect(await a.request({ action: 'publish', room: 'red', data: 2 }, 'delivery')).toMatchObject({
          recipients: 1,
        });
        expect(await a.ofType('message')).toMatchObject({ room: 'red', data: 2 });

        const aId = await idOf(a);
        await a.close();
        await eventually(
          () => store.get(aId),
          (row) => row === undefined,
        );
        expect(await store.audience('red')).toEqual([]);
        expect(await d.request({ action: 'publish', room: 'red', data: 3 }, 'error')).toMatchObject({
          code: 'forbidden',
        });
      });

      const oversized = JSON.stringify({ action: 'sendmessage', data: 'x'.repeat(131_000) });
      const badInputs: [string, string, string][] = [
        ['invalid JSON', '{"action": "sendmessage", data: }', 'invalid_json'],
        ['plain text', 'hello there', 'invalid_json'],
        ['a JSON number', '42', 'invalid_message'],
        ['an unknown action', '{"action":"selfdestruct"}', 'unknown_action'],
        ['a numeric action', '{"action":12}', 'unknown_action'],
        ['sendmessage without data', '{"action":"sendmessage"}', 'invalid_message'],
        ['join with a numeric room', '{"action":"join","room":42}', 'invalid_message'],
        ['join with an object room', '{"action":"join","room":{"$ne":null}}', 'invalid_message'],
        ['publish without room', '{"action":"publish","data":1}', 'invalid_message'],
        ['oversized data', oversized, 'payload_too_large'],
        ['an injection-shaped room', `{"action":"join","room":"x'; DROP TABLE connections; --"}`, 'invalid_message'],
        ['a quote-breaking room', '{"action":"publish","room":"red\\" OR \\"1\\"=\\"1","data":1}', 'invalid_message'],
        ['a 65-character room', JSON.stringify({ action: 'join', room: 'r'.repeat(65) }), 'invalid_message'],
      ];

      it('answers every bad input with an error on the same connection, which keeps working, and changes nothing', async () => {
        const [client, other] = (await connect(2)) as [TestClient, TestClient];
        await other.request({ action: 'join', room: 'red' }, 'joined');
        const before = { page: await store.list(100), red: await store.audience('red') };
        for (const [what, body, code] of badInputs) {
          const error = await client.request(body, 'error');
          expect({ what, code: error.code, hasMessage: typeof error.message === 'string' }).toEqual({
            what,
            code,
            hasMessage: true,
          });
          expect(client.closed).toBe(false);
          expect((await list(client)).count).toBe(2);
        }
        expect(other.messages.filter((m) => m.type === 'message')).toEqual([]);
        expect({ page: await store.list(100), red: await store.audience('red') }).toEqual(before);
        // and the connection still does real work
        expect(await client.request({ action: 'sendmessage', data: 'still here' }, 'delivery')).toMatchObject({
          sent: 2,
        });
      });
    });
  });
}
