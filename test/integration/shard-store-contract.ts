/**
 * The part of the store contract that sharded fan-outs rely on: keyset pages of an
 * audience, the marks that cut it into shards, and the tallies that give exactly one
 * final summary. Each adapter's test file calls `shardStoreContract` beside `storeContract`.
 */
import type { ContractStore } from './store-contract';

const counts = (sent: number, stale = 0, failed = 0, unsent = 0) => ({ sent, stale, failed, unsent });

/**
 * `openAgain` opens another handle on the same tables (another container's connection, another
 * worker's file handle), for the races between a shard and the sweep.
 */
export function shardStoreContract(
  name: string,
  create: () => Promise<ContractStore>,
  openAgain: (store: ContractStore) => ContractStore,
): void {
  describe(`${name} store: paged audiences and shard tallies (contract)`, () => {
    let store: ContractStore;
    const others: ContractStore[] = [];

    beforeEach(async () => {
      store = await create();
    });

    afterEach(async () => {
      await Promise.all(others.splice(0).map((other) => other.close()));
      await store.dropTables();
      await store.close();
    });

    async function addMany(ids: readonly string[], room?: string): Promise<void> {
      for (const connectionId of ids) {
        await store.add({ connectionId, connectedAt: 1, subject: null });
        if (room !== undefined) await store.join(connectionId, room, 50);
      }
    }

    it('pages everyone in id order by keyset ranges, and never repeats or skips an id', async () => {
      const ids = Array.from({ length: 23 }, (_, i) => `c${String(i).padStart(3, '0')}`);
      await addMany([...ids].reverse());
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await store.audiencePage(undefined, { after, upTo: null }, 5);
        if (page.length === 0) break;
        seen.push(...page);
        after = page[page.length - 1] as string;
      }
      expect(seen).toEqual(ids);
      expect(await store.audienceCount()).toBe(23);
    });

    it("bounds a page by its range's upper end, inclusive", async () => {
      await addMany(['a', 'b', 'c', 'd', 'e']);
      expect(await store.audiencePage(undefined, { after: 'a', upTo: 'c' }, 10)).toEqual(['b', 'c']);
      expect(await store.audiencePage(undefined, { after: null, upTo: 'b' }, 1)).toEqual(['a']);
    });

    it("pages a room's members only, and counts them", async () => {
      await addMany(['m1', 'm2', 'm3'], 'lobby');
      await addMany(['x1', 'x2']);
      expect(await store.audiencePage('lobby', { after: null, upTo: null }, 10)).toEqual(['m1', 'm2', 'm3']);
      expect(await store.audiencePage('lobby', { after: 'm1', upTo: null }, 1)).toEqual(['m2']);
      expect(await store.audienceCount('lobby')).toBe(3);
    });

    it('finds the n-th id after a mark, and nothing past the end', async () => {
      await addMany(['a', 'b', 'c', 'd', 'e']);
      expect(await store.audienceMark(undefined, null, 2)).toBe('b');
      expect(await store.audienceMark(undefined, 'b', 3)).toBe('e');
      expect(await store.audienceMark(undefined, 'c', 3)).toBeUndefined();
    });

    it('treats ids as case-sensitive and binary-ordered in ranges', async () => {
      await addMany(['B', 'a', 'b']);
      expect(await store.audiencePage(undefined, { after: null, upTo: null }, 10)).toEqual(['B', 'a', 'b']);
    });

    it('resumes a shard where it saved its cursor, counting its attempts', async () => {
      await store.openDelivery({ deliveryId: 'd1', shards: 2, recipients: 10, summaryTo: '{}' }, 1_000);
      const first = await store.startShard('d1', 0, 1_000);
      expect(first).toEqual({ cursor: null, ...counts(0), attempts: 1, done: false });
      await store.saveShard('d1', 0, 'k', counts(3, 1), 1_001);
      const again = await store.startShard('d1', 0, 1_002);
      expect(again).toEqual({ cursor: 'k', ...counts(3, 1), attempts: 2, done: false });
    });

    it('counts an attempt asked again after a lost answer once, and a new attempt asked again too', async () => {
      await store.openDelivery({ deliveryId: 'd7', shards: 1, recipients: 1, summaryTo: '{}' }, 1_000);
      // The first attempt's count is written whatever `again` says (the row shows none yet).
      expect(await store.startShard('d7', 0, 1_000, true)).toMatchObject({ attempts: 1 });
      expect(await store.startShard('d7', 0, 1_000, true)).toMatchObject({ attempts: 1 }); // its answer was lost
      expect(await store.startShard('d7', 0, 61_000, true)).toMatchObject({ attempts: 2 }); // the retry's start failed
      expect(await store.startShard('d7', 0, 61_000, true)).toMatchObject({ attempts: 2 });
      expect(await store.startShard('d7', 0, 181_000)).toMatchObject({ attempts: 3, done: false });
    });

    it('lists the deliveries opened before a time whose summary nobody claimed, oldest first', async () => {
      for (const [deliveryId, at] of [
        ['late', 300],
        ['early', 100],
        ['young', 900],
        ['claimed', 200],
      ] as const) {
        await store.openDelivery({ deliveryId, shards: 1, recipients: 1, summaryTo: '{}' }, at);
      }
      await store.finishShard('claimed', 0, counts(1));
      expect(await store.abandonedDeliveries(500, 10)).toEqual(['early', 'late']);
      expect(await store.abandonedDeliveries(500, 1)).toEqual(['early']);
    });

    it('ends a delivery: unfinished shards with what they saved, the unreached failed, the summary claimed once', async () => {
      await store.openDelivery({ deliveryId: 'd8', shards: 4, recipients: 40, summaryTo: '{"to":"s"}' }, 1);
      await store.finishShard('d8', 0, counts(9, 1));
      await store.startShard('d8', 1, 2);
      await store.saveShard('d8', 1, 'k', counts(3, 0, 1, 0), 3);
      await store.startShard('d8', 2, 2); // started, saved nothing; shard 3 never started
      const ended = await store.endDelivery('d8');
      expect(ended).toEqual({
        state: expect.objectContaining({
          deliveryId: 'd8',
          shards: 4,
          done: 4,
          summarized: true,
          summaryTo: '{"to":"s"}',
        }),
        unfinished: 3,
      });
      expect(ended?.state).toMatchObject(counts(12, 1, 27, 0));
      expect(await store.deliveryState('d8')).toMatchObject({ done: 4, summarized: true, ...counts(12, 1, 27, 0) });
      expect(await store.endDelivery('d8')).toBeUndefined();
      // A shard that comes late finds itself done: it neither counts nor claims.
      expect(await store.startShard('d8', 3, 4)).toMatchObject({ done: true });
      expect(await store.finishShard('d8', 3, counts(10))).toBeUndefined();
      expect(await store.abandonedDeliveries(10, 10)).toEqual([]);
      expect(await store.activeShards(0)).toBe(0);
      expect(await store.endDelivery('nope')).toBeUndefined();
    });

    /**
     * One delivery of `shards` whose shard 0 is done; then `shard` finishes on one handle while the
     * sweep ends the delivery on the other. Each round the two trade handles and the order they
     * are started in. Returns who claimed the summary, and the delivery's tally after both.
     */
    async function race(round: number, shards: number, shard: number) {
      others[0] ??= openAgain(store);
      const other = others[0];
      const deliveryId = `race${shards}-${round}`;
      await store.openDelivery({ deliveryId, shards, recipients: 10 * shards, summaryTo: '{}' }, 1);
      await store.finishShard(deliveryId, 0, counts(10));
      const [shardStore, sweepStore] = round % 2 === 0 ? [store, other] : [other, store];
      const finish = () =>
        shardStore.finishShard(deliveryId, shard, counts(10)).then((state) => ({ by: 'shard', state }));
      const end = () => sweepStore.endDelivery(deliveryId).then((ended) => ({ by: 'sweep', state: ended?.state }));
      const results = await Promise.all(round % 4 < 2 ? [finish(), end()] : [end(), finish()]);
      const claims = results.filter((result) => result.state !== undefined);
      const final = await store.deliveryState(deliveryId);
      expect(final).toEqual(claims[0]?.state);
      // Counted by exactly one of them: the shard's 10 as sent, or as failed by the sweep.
      expect(final).toMatchObject({ done: shards, summarized: true, stale: 0, unsent: 0 });
      expect((final?.sent ?? 0) + (final?.failed ?? 0)).toBe(10 * shards);
      return { claimedBy: claims.map((claim) => claim.by), sent: final?.sent };
    }

    it('claims the summary once when a late shard finishes as the sweep ends its delivery', async () => {
      for (let round = 0; round < 12; round++) {
        // Shard 1 never finishes, so the late shard's finish cannot complete the delivery: only the sweep claims.
        const { claimedBy, sent } = await race(round, 3, 2);
        expect(claimedBy).toEqual(['sweep']);
        expect([10, 20]).toContain(sent);
      }
    });

    it('claims the summary once when the last shard finishes as the sweep ends its delivery', async () => {
      for (let round = 0; round < 12; round++) {
        const { claimedBy, sent } = await race(round, 2, 1);
        // The shard finished first (and claimed, its 10 sent) or found its row done (the sweep claimed).
        expect([['shard'], ['sweep']]).toContainEqual(claimedBy);
        expect(sent).toBe(claimedBy[0] === 'shard' ? 20 : 10);
      }
    });

    it('gives the totals to the one finish that completes the delivery, and to no repeated finish', async () => {
      await store.openDelivery({ deliveryId: 'd2', shards: 3, recipients: 9, summaryTo: '{"to":"x"}' }, 1);
      expect(await store.finishShard('d2', 2, counts(3))).toBeUndefined();
      expect(await store.finishShard('d2', 2, counts(3))).toBeUndefined(); // a retried shard
      expect(await store.finishShard('d2', 0, counts(2, 1))).toBeUndefined();
      const last = await store.finishShard('d2', 1, counts(1, 0, 2));
      expect(last).toMatchObject({ deliveryId: 'd2', shards: 3, done: 3, recipients: 9, summaryTo: '{"to":"x"}' });
      expect(last).toMatchObject(counts(6, 1, 2, 0));
      expect(await store.finishShard('d2', 1, counts(1, 0, 2))).toBeUndefined();
      expect(await store.deliveryState('d2')).toMatchObject({ done: 3, summarized: true, ...counts(6, 1, 2, 0) });
    });

    it('claims the summary once when every shard finishes at the same time', async () => {
      const shards = 12;
      await store.openDelivery({ deliveryId: 'd3', shards, recipients: shards, summaryTo: '{}' }, 1);
      const results = await Promise.all(
        Array.from({ length: shards }, (_, shard) => store.finishShard('d3', shard, counts(1))),
      );
      expect(results.filter((result) => result !== undefined)).toHaveLength(1);
      expect(await store.deliveryState('d3')).toMatchObject({ done: shards, sent: shards });
    });

    it('forgets deliveries opened before a cutoff, with their shards', async () => {
      await store.openDelivery({ deliveryId: 'old', shards: 2, recipients: 2, summaryTo: '{}' }, 10);
      await store.openDelivery({ deliveryId: 'new', shards: 1, recipients: 1, summaryTo: '{}' }, 100);
      await store.startShard('old', 0, 10);
      expect(await store.removeDeliveriesBefore(50)).toBe(1);
      expect(await store.deliveryState('old')).toBeUndefined();
      expect(await store.deliveryState('new')).toBeDefined();
      expect(await store.activeShards(0)).toBe(0);
    });

    it('opens a delivery once however often it is opened', async () => {
      const record = { deliveryId: 'd4', shards: 2, recipients: 4, summaryTo: '{}' };
      await store.openDelivery(record, 1);
      await store.openDelivery(record, 2);
      expect(await store.deliveryState('d4')).toMatchObject({ shards: 2, done: 0, summarized: false });
      expect(await store.deliveryState('nope')).toBeUndefined();
    });

    it('counts the shards started and still working since a time, of every delivery', async () => {
      await store.openDelivery({ deliveryId: 'd5', shards: 3, recipients: 3, summaryTo: '{}' }, 100);
      await store.openDelivery({ deliveryId: 'd6', shards: 2, recipients: 2, summaryTo: '{}' }, 50);
      expect(await store.activeShards(0)).toBe(0); // planned, not started
      await store.startShard('d5', 0, 100);
      await store.startShard('d5', 1, 100);
      await store.startShard('d6', 0, 50);
      expect(await store.activeShards(0)).toBe(3);
      expect(await store.activeShards(60)).toBe(2);
      await store.finishShard('d5', 0, counts(1));
      expect(await store.activeShards(60)).toBe(1);
    });
  });
}
