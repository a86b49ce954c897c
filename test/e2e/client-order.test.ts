/**
 * The typed client's publish order, join backlog and history() against the real service
 * (`npm start`'s launcher under serverless-offline), on both stores, over Node's `ws`:
 * - a burst of 20 publishes from one client, started before its join was answered, takes the
 *   room's numbers in the order sent and reaches another member in that order, each once;
 *   with `ordered: false` all 20 arrive once, in the room's order (which may differ from the
 *   order sent: not asserted either way);
 * - join with a backlog gives the room's last n frames, then the live ones, each once, in seq
 *   order and with no hole between them, while another client publishes during the join;
 * - history() pages through more than one 128 KB answer, forward and backward.
 */
import WebSocket from 'ws';
import { RealtimeClient } from '../../client';
import type { HistoryPage, PublishResult, RoomFrame, ServerMessage } from '../../client';
import type { OfflineService } from '../support/harnesses/offline';
import { eventually, storeCases } from '../support/harnesses/store-cases';
import type { TestStore } from '../support/harnesses/store-cases';

jest.setTimeout(240_000);

const cases = storeCases('client_order');

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const storeCase of cases) {
  (storeCase.skip ? describe.skip : describe)(
    `the typed client's order, backlog and history, ${storeCase.name}`,
    () => {
      let service: OfflineService;
      let store: TestStore;
      const clients: RealtimeClient[] = [];

      beforeAll(async () => {
        ({ service, store } = await storeCase.start());
      });

      afterEach(() => {
        for (const client of clients.splice(0)) client.close();
      });

      afterAll(async () => {
        await service?.stop();
        await store?.dropTables?.();
        await store?.close();
      });

      /** A typed client in `room` (joined with `backlog`), connecting; and the frames its app got. */
      function member(room: string, backlog = 0) {
        const client = new RealtimeClient({ url: service.url, WebSocket, reconnect: { initialDelayMs: 100 } });
        clients.push(client);
        const heard: ServerMessage[] = [];
        client.on('message', (m) => heard.push(m));
        client.join(room, { backlog });
        client.connect();
        return {
          client,
          heard,
          /** The room's numbered frames the app got (messages and presence events), in the order it got them. */
          frames: () =>
            heard.filter((m): m is RoomFrame => (m.type === 'message' || m.type === 'presence') && m.room === room),
          joinedAt: async () => {
            const joined = await eventually(
              async () => heard.find((m) => m.type === 'joined' && m.room === room),
              (found) => found !== undefined,
              20_000,
            );
            if (joined?.type !== 'joined' || joined.seq === undefined) throw new Error(`no joined for ${room}`);
            return joined.seq;
          },
        };
      }

      /** Waits until `read` holds at least `count` items, then returns them. */
      const atLeast = <T>(read: () => T[], count: number) =>
        eventually(
          async () => read(),
          (items) => items.length >= count,
          30_000,
        );

      it('numbers a burst of 20 publishes from one client in the order sent, and another member gets them in that order', async () => {
        const listener = member('burst');
        await listener.joinedAt();
        const sender = member('burst');
        // Not waiting for the sender's join: its publishes wait for the join's answer themselves.
        const results = await Promise.all(range(0, 19).map((n) => sender.client.publish('burst', { n })));
        const seqs = results.map((r) => r.seq);
        expect(seqs).toEqual(range(seqs[0] as number, (seqs[0] as number) + 19));
        const got = (await atLeast(() => listener.frames().filter((f) => f.type === 'message'), 20)).map((f) => ({
          seq: f.seq,
          data: f.type === 'message' ? f.data : undefined,
        }));
        expect(got).toEqual(results.map((r, n) => ({ seq: r.seq, data: { n } })));
        expect(results.map((r) => r.id)).toEqual(
          got.map((_, i) => listener.frames().filter((f) => f.type === 'message')[i]?.id),
        );
      });

      it('delivers a burst of 20 unordered publishes once each, in the order the room numbered them', async () => {
        const listener = member('unordered');
        await listener.joinedAt();
        const sender = member('unordered');
        await sender.joinedAt();
        const results = await Promise.all(
          range(0, 19).map((n) => sender.client.publish('unordered', { n }, { ordered: false })),
        );
        const frames = (await atLeast(() => listener.frames().filter((f) => f.type === 'message'), 20)).slice(0, 20);
        const bySeq = [...results].sort((a, b) => a.seq - b.seq);
        expect(frames.map((f) => [f.seq, f.id])).toEqual(bySeq.map((r) => [r.seq, r.id]));
        await new Promise((resolve) => setTimeout(resolve, 500)); // a repeat would have come by now
        expect(listener.frames().filter((f) => f.type === 'message')).toHaveLength(20);
      });

      it('gives a joining member the last 10 frames, then the live ones, once each and without a hole, while another publishes', async () => {
        const author = member('backlog');
        for (const n of range(1, 30)) await author.client.publish('backlog', { before: n });
        const during: Promise<PublishResult>[] = [];
        const joiner = member('backlog', 10);
        for (const n of range(1, 10)) during.push(author.client.publish('backlog', { during: n }));
        const joinedSeq = await joiner.joinedAt();
        const last = (await Promise.all(during)).at(-1) as PublishResult;
        const frames = await eventually(
          async () => joiner.frames(),
          (got) => got.some((f) => f.seq === last.seq),
          30_000,
        );
        const seqs = frames.map((f) => f.seq);
        // Contiguous from 9 before the join's number to the last one sent: nothing twice, nothing missing.
        expect(seqs).toEqual(range(joinedSeq - 9, seqs.at(-1) as number));
        expect(seqs.at(-1)).toBeGreaterThanOrEqual(last.seq);
        const data = frames.flatMap((f) => (f.type === 'message' ? [f.data] : []));
        expect(data).toEqual(expect.arrayContaining(range(1, 10).map((n) => ({ during: n }))));
        expect(data).toContainEqual({ before: 30 });
        expect(data).not.toContainEqual({ before: 1 });
      });

      it('pages through more than one 128 KB answer with history(), forward and backward', async () => {
        const author = member('history-pages');
        const sent: PublishResult[] = [];
        for (const n of range(1, 12))
          sent.push(await author.client.publish('history-pages', { n, text: 'x'.repeat(20_000) }));
        const forward: HistoryPage[] = [];
        for await (const page of author.client.history('history-pages', { limit: 1_000 })) forward.push(page);
        // 12 messages of 20 KB do not fit one answer: the limit of 1,000 is not what cut them.
        expect(forward.length).toBeGreaterThan(1);
        expect(forward.slice(0, -1).every((page) => page.more)).toBe(true);
        const forwardIds = forward.flatMap((page) =>
          page.messages.filter((m) => m.type === 'message').map((m) => m.id),
        );
        expect(forwardIds).toEqual(sent.map((r) => r.id));
        const backward: HistoryPage[] = [];
        for await (const page of author.client.history('history-pages', { before: Infinity, limit: 5 }))
          backward.push(page);
        const backwardSeqs = backward.reverse().flatMap((page) => page.messages.map((m) => m.seq));
        expect(backwardSeqs).toEqual(forward.flatMap((page) => page.messages.map((m) => m.seq)));
        // Reading back from a number stops there, and a loop left early asks nothing more.
        const before = (sent[6] as PublishResult).seq;
        for await (const page of author.client.history('history-pages', { before, limit: 3 })) {
          expect(page.messages.map((m) => m.seq)).toEqual(range(before - 3, before - 1));
          break;
        }
      });
    },
  );
}
