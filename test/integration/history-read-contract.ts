/**
 * The part of the store contract that bounds a history read: no text past the byte budget, a
 * walk over numbers missing in the middle, and answers identical to a read of every message.
 * Each adapter's test file calls `historyReadContract` beside `storeContract`.
 */
import { historyFrame } from '../../src/chat/history';
import { MAX_MESSAGE_BYTES } from '../../src/chat/protocol';
import type { HistoryPage } from '../../src/data';
import type { ContractStore } from './store-contract';

const WIDE = { maxPerRoom: 1000, notBefore: 0 };

export function historyReadContract(name: string, create: () => Promise<ContractStore>): void {
  describe(`${name} store: the byte budget of a history read (contract)`, () => {
    let store: ContractStore;

    beforeEach(async () => {
      store = await create();
    });

    afterEach(async () => {
      await store.dropTables();
      await store.close();
    });

    /** A kept text of exactly `bytes` bytes in UTF-8, half as many characters ('é' is 2 bytes). */
    const text = (bytes: number) => 'é'.repeat(bytes / 2);
    const append = (room: string, n: number, bytes: number, sentAt = 1_000 + n) =>
      store.appendToRoom(room, { id: `id-${n}`, sentAt, body: text(bytes) });
    const seqs = (page: HistoryPage) => page.messages.map((m) => m.seq);

    it('reads no text past the budget, counted in bytes, and names the first message it did not read', async () => {
      for (let n = 1; n <= 3; n++) await append('red', n, 1_000);
      // 2,000 bytes hold two (in characters, 1,500 would have held all three)
      const two = await store.roomHistory('red', 0, 100, WIDE, 2_000);
      expect({ seqs: seqs(two), next: two.next, latest: two.latest }).toEqual({ seqs: [1, 2], next: 3, latest: 3 });
      expect(two.messages[1]).toEqual({ seq: 2, id: 'id-2', sentAt: 1_002, body: text(1_000) });
      const one = await store.roomHistory('red', 0, 100, WIDE, 1_999);
      expect([seqs(one), one.next]).toEqual([[1], 2]);
      // the first alone is over it: nothing read, and its number still said
      expect(await store.roomHistory('red', 1, 100, WIDE, 999)).toEqual({ latest: 3, messages: [], next: 2 });
      // within the budget to the end, or stopped by the limit: no `next`
      expect(await store.roomHistory('red', 0, 100, WIDE, 3_000)).not.toHaveProperty('next');
      const limited = await store.roomHistory('red', 0, 2, WIDE, 1_000_000);
      expect([seqs(limited), limited.next]).toEqual([[1, 2], undefined]);
      // by default, one answer's worth: 128 KB
      await append('big', 1, 100_000);
      await append('big', 2, 100_000);
      const page = await store.roomHistory('big', 0, 1_000, WIDE);
      expect([seqs(page), page.next]).toEqual([[1], 2]);
    });

    it('walks over numbers missing in the middle (trimmed, or outside the window), with one budget and limit', async () => {
      // sent out of order (two containers' clocks): the trim at 75 takes 2 and 5 out of the middle
      const sentAt = [100, 50, 200, 300, 40, 400, 500];
      for (const [i, at] of sentAt.entries()) await append('red', i + 1, 1_000, at);
      expect(await store.trimHistory({ maxPerRoom: 1_000, notBefore: 75 })).toBe(2);
      expect(seqs(await store.roomHistory('red', 0, 100, WIDE))).toEqual([1, 3, 4, 6, 7]);
      const budgeted = await store.roomHistory('red', 0, 100, WIDE, 3_000);
      expect([seqs(budgeted), budgeted.next]).toEqual([[1, 3, 4], 6]);
      const limited = await store.roomHistory('red', 0, 4, WIDE, 1_000_000);
      expect([seqs(limited), limited.next]).toEqual([[1, 3, 4, 6], undefined]);
      // not trimmed, only outside the window of the read: skipped the same way
      for (const [i, at] of sentAt.entries()) await append('blue', i + 1, 1_000, at);
      const windowed = await store.roomHistory('blue', 0, 100, { maxPerRoom: 1_000, notBefore: 75 }, 4_000);
      expect([seqs(windowed), windowed.next]).toEqual([[1, 3, 4, 6], 7]);
    });

    it('gives every history answer frame for frame as a read of every message would', async () => {
      // sizes around the answer's 128 KB: many small, some large, one that fits no answer alone
      const sizes = [200, 60_000, 200, 200, 70_000, 131_072, 30_000, 100_000, 200, 64_000, 200, 1_000];
      for (const [i, bytes] of sizes.entries()) {
        const body = JSON.stringify({ type: 'message', id: `id-${i}`, data: 'd'.repeat(bytes) });
        await store.appendToRoom('mixed', { id: `id-${i}`, sentAt: 1_000 + i, body });
      }
      for (const after of [0, 1, 2, 4, 5, 6, 7, 9, 11, 12]) {
        for (const limit of [1, 2, 3, 1_000]) {
          const everything = await store.roomHistory('mixed', after, limit, WIDE, Number.MAX_SAFE_INTEGER);
          const budgeted = await store.roomHistory('mixed', after, limit, WIDE, MAX_MESSAGE_BYTES);
          const read = budgeted.messages.reduce((sum, m) => sum + Buffer.byteLength(m.body), 0);
          expect(read).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
          expect([after, limit, historyFrame('mixed', after, budgeted).text]).toEqual([
            after,
            limit,
            historyFrame('mixed', after, everything).text,
          ]);
        }
      }
    });
  });
}
