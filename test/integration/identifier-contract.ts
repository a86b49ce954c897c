/**
 * The contract on identifiers every ConnectionStore adapter must pass: connection ids, rooms,
 * subjects and delivery ids are bytes. `"a"` and `"a "` are two keys in every lookup, write and
 * removal, which a padding collation (MySQL's utf8mb4_bin: `'a ' = 'a'`) breaks. Each adapter's
 * test file calls `identifierContract` with a factory that gives a fresh, empty store.
 */
import { storePerTest } from './store-contract';
import type { ContractStore } from './store-contract';

const LIMIT = 50;
/** Spellings a padding or case-folding comparison would take for one. */
const SPELLINGS = ['a', 'a ', 'a  ', 'A', ' a'];
const WIDE = { maxPerRoom: 100, notBefore: 0 };

export function identifierContract(name: string, create: () => Promise<ContractStore>): void {
  describe(`${name} store: identifiers are bytes ("a" and "a " are two keys)`, () => {
    let store: ContractStore;
    storePerTest(create, (fresh) => (store = fresh));

    const sorted = (ids: string[]) => [...ids].sort();

    it('keeps connection ids apart in every read, and gives each back exactly as written', async () => {
      for (const [i, id] of SPELLINGS.entries())
        await store.add({ connectionId: id, connectedAt: i, subject: `u${i}` });
      expect(sorted(await store.audience())).toEqual(sorted(SPELLINGS));
      for (const [i, id] of SPELLINGS.entries()) {
        expect(await store.get(id)).toEqual({ connectionId: id, connectedAt: i, subject: `u${i}` });
      }
      expect(await store.get('a   ')).toBeUndefined();
      expect((await store.list(10)).connections.map((c) => c.connectionId)).toEqual(SPELLINGS);
      expect((await store.connectedBefore(100, 10)).map((c) => c.connectionId)).toEqual(SPELLINGS);
    });

    it('removes only the exact id: a padded spelling of a connection leaves it and its rooms alone', async () => {
      await store.add({ connectionId: 'a', connectedAt: 1, subject: null });
      await store.join('a', 'lobby', LIMIT, true);
      await store.remove('a ');
      await store.removeMany(['a  ', 'A', ' a']);
      expect(await store.get('a')).toBeDefined();
      expect(await store.roomsOf('a')).toEqual(['lobby']);
      expect(await store.presencePage('lobby', 10)).toEqual({
        count: 1,
        members: [{ connectionId: 'a', seesPresence: true }],
      });
      // and a padded spelling joins nothing in its name
      expect(await store.join('a ', 'lobby', LIMIT)).toBe('unknown_connection');
      expect(await store.leave('a ', 'lobby')).toBe(false);
      expect(await store.audience('lobby')).toEqual(['a']);
    });

    it('keeps rooms apart: members, presence, leaves and history with their own numbers', async () => {
      for (const id of ['A', 'B']) await store.add({ connectionId: id, connectedAt: 1, subject: null });
      expect(await store.join('A', 'r', LIMIT)).toBe('joined');
      expect(await store.join('A', 'r ', LIMIT)).toBe('joined');
      expect(await store.join('B', 'r ', LIMIT, true)).toBe('joined');
      expect(await store.roomsOf('A')).toEqual(['r', 'r ']);
      expect(await store.audience('r')).toEqual(['A']);
      expect(sorted(await store.audience('r '))).toEqual(['A', 'B']);
      expect((await store.members('r', 10)).count).toBe(1);
      expect((await store.presencePage('r', 10)).members).toEqual([{ connectionId: 'A', seesPresence: false }]);
      expect(await store.leave('B', 'r')).toBe(false);
      expect(await store.leave('A', 'r ')).toBe(true);
      expect(await store.roomsOf('A')).toEqual(['r']);

      expect(await store.appendToRoom('r', { id: 'm1', sentAt: 1, body: '{"n":1}' })).toBe(1);
      expect(await store.appendToRoom('r ', { id: 'm2', sentAt: 2, body: '{"n":2}' })).toBe(1);
      expect(await store.appendToRoom('r', { id: 'm3', sentAt: 3, body: '{"n":3}' })).toBe(2);
      expect((await store.roomHistory('r', 0, 10, WIDE)).messages.map((m) => m.id)).toEqual(['m1', 'm3']);
      expect(await store.roomHistory('r ', 0, 10, WIDE)).toMatchObject({ latest: 1, messages: [{ id: 'm2' }] });
      expect(await store.roomHistory('r  ', 0, 10, WIDE)).toEqual({ latest: 0, messages: [] });
    });

    it("keeps subjects apart: a user's connections, their list and whom they reach", async () => {
      await store.add({ connectionId: 'A1', connectedAt: 1, subject: 'alice' });
      await store.add({ connectionId: 'P1', connectedAt: 2, subject: 'alice ' });
      expect(await store.connectionsOf('alice')).toEqual(['A1']);
      expect(await store.connectionsOf('alice ')).toEqual(['P1']);
      expect(await store.connectionsOf('alice  ')).toEqual([]);
      expect(await store.listOf('alice ', 10)).toEqual({
        count: 1,
        connections: [{ connectionId: 'P1', connectedAt: 2, subject: 'alice ' }],
      });
      expect(await store.reachable('P1', 'alice ', 'A1')).toBe(false);
      expect(await store.reachable('A1', 'alice', 'P1')).toBe(false);
    });

    it('pages audiences in byte order, so a cursor at "a" goes on to "a " instead of skipping it', async () => {
      for (const id of ['a', 'a ', 'b']) await store.add({ connectionId: id, connectedAt: 1, subject: null });
      expect(await store.audiencePage(undefined, { after: null, upTo: null }, 10)).toEqual(['a', 'a ', 'b']);
      expect(await store.audiencePage(undefined, { after: 'a', upTo: null }, 10)).toEqual(['a ', 'b']);
      expect(await store.audiencePage(undefined, { after: null, upTo: 'a' }, 10)).toEqual(['a']);
      expect(await store.audienceMark(undefined, 'a', 1)).toBe('a ');
    });

    it('keeps delivery ids apart, and a shard cursor exactly as saved', async () => {
      await store.openDelivery({ deliveryId: 'd', shards: 1, recipients: 2, summaryTo: '{}' }, 1);
      expect(await store.deliveryState('d ')).toBeUndefined();
      await store.startShard('d', 0, 2);
      await store.saveShard('d', 0, 'a ', { sent: 1, stale: 0, failed: 0, unsent: 0 }, 3);
      expect(await store.startShard('d', 0, 4)).toMatchObject({ cursor: 'a ', sent: 1, attempts: 2 });
    });
  });
}
