/**
 * A broadcast split into shards under `npm start`: with FANOUT_SHARD_SIZE 5, a message to 23
 * clients is handed to the `deliver` function in 5 shards through serverless-offline's Lambda
 * Invoke API (asynchronously, as in AWS), each client hears it exactly once, and the sender
 * gets the queued summary and then one final summary. POST /publish with `wait: true` answers
 * with the final one. On both stores.
 */
import { TestClient } from '../support/harnesses/client';
import type { Received } from '../support/harnesses/client';
import { SLOW_FIRST_POST } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';
import { storeCases } from '../support/harnesses/store-cases';
import type { TestStore } from '../support/harnesses/store-cases';

jest.setTimeout(240_000);

const CLIENTS = 23;
const cases = storeCases('shards', { settings: { FANOUT_SHARD_SIZE: 5 }, env: SLOW_FIRST_POST });

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const storeCase of cases) {
  (storeCase.skip ? describe.skip : describe)(`sharded fan-out under serverless-offline, ${storeCase.name}`, () => {
    let service: OfflineService;
    let store: TestStore;
    const clients: TestClient[] = [];

    beforeAll(async () => {
      ({ service, store } = await storeCase.start());
      for (let i = 0; i < CLIENTS; i++) clients.push(await TestClient.connect(service.url));
    });

    afterAll(async () => {
      await Promise.all(clients.map((client) => client.socket.close()));
      await service?.stop();
      await store?.dropTables?.();
      await store?.close();
    });

    const messagesWith = (client: TestClient, data: string) =>
      client.messages.filter((m) => m.type === 'message' && m.data === data);

    it(`delivers a broadcast to ${CLIENTS} clients exactly once each through 5 shards, and reports it once`, async () => {
      const sender = clients[0] as TestClient;
      const queued = sender.next((m) => m.type === 'delivery' && m.state === 'queued', 60_000);
      const done = sender.next((m) => m.type === 'delivery' && m.state === 'done', 120_000);
      sender.send({ action: 'sendmessage', data: 'through shards' });
      expect(await queued).toMatchObject({ recipients: CLIENTS, shards: 5, sent: 0, unsent: CLIENTS });
      const final = await done.catch((error: unknown) => {
        const problems = service
          .output()
          .split('\n')
          .filter((line) => /error|shard/i.test(line));
        throw new Error(`${(error as Error).message}\n${problems.slice(-20).join('\n')}`);
      });
      expect(final).toMatchObject({ recipients: CLIENTS, sent: CLIENTS, stale: 0, failed: 0, unsent: 0, shards: 5 });
      expect(final.deliveryId).toBe((await queued).deliveryId);
      await later(1_000); // a duplicate would have arrived by now
      for (const client of clients) expect(messagesWith(client, 'through shards')).toHaveLength(1);
      expect(sender.messages.filter((m: Received) => m.type === 'delivery')).toHaveLength(0);
    });

    it('answers POST /publish with the final summary when asked to wait', async () => {
      const response = await fetch(`http://localhost:${service.httpPort}/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: 'published in shards', wait: true }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({
        type: 'delivery',
        state: 'done',
        recipients: CLIENTS,
        sent: CLIENTS,
        shards: 5,
      });
      await later(1_000);
      for (const client of clients) expect(messagesWith(client, 'published in shards')).toHaveLength(1);
    });
  });
}
