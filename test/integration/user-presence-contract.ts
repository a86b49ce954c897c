/**
 * The part of the store contract that lifecycle events and per-user presence rest on
 * (src/store/user-presence.ts): tallies per room and user, members grouped by user, and
 * departures that only the waiter of that very departure, or a return, takes back.
 * Each adapter's test file calls `userPresenceContract` beside `storeContract`.
 */
import type { ContractStore } from './store-contract';

export function userPresenceContract(name: string, create: () => Promise<ContractStore>): void {
  describe(`${name} store: per-user presence and departures (contract)`, () => {
    let store: ContractStore;

    beforeEach(async () => {
      store = await create();
    });

    afterEach(async () => {
      await store.dropTables();
      await store.close();
    });

    async function member(id: string, subject: string | null, room: string, at = 1_000) {
      await store.add({ connectionId: id, connectedAt: at, subject });
      await store.join(id, room, 50);
    }

    it("tallies the room's memberships and the user's (by subject; with none, by connection)", async () => {
      await member('a1', 'alice', 'r', 1_000);
      await member('a2', 'alice', 'r', 2_000);
      await member('b1', 'bob', 'r', 3_000);
      await member('x1', null, 'r', 4_000);
      await member('a3', 'alice', 'other', 5_000);
      expect(await store.tally('r', { connectionId: 'a1', subject: 'alice' })).toEqual({ room: 4, user: 2 });
      expect(await store.tally('r', { connectionId: 'x1', subject: null })).toEqual({ room: 4, user: 1 });
      expect(await store.tally('r', { connectionId: 'zz', subject: 'zed' })).toEqual({ room: 4, user: 0 });
      expect(await store.tally('empty', { connectionId: 'a1', subject: 'alice' })).toEqual({ room: 0, user: 0 });
    });

    it('lists the members grouped by user, with their connection counts, in order of arrival', async () => {
      await member('a1', 'alice', 'r', 1_000);
      await member('b1', 'bob', 'r', 2_000);
      await member('a2', 'alice', 'r', 3_000);
      await member('x1', null, 'r', 4_000);
      expect(await store.usersIn('r', 10)).toEqual({
        count: 3,
        users: [
          { user: 'alice', subject: 'alice', connections: 2 },
          { user: 'bob', subject: 'bob', connections: 1 },
          { user: 'x1', subject: null, connections: 1 },
        ],
      });
      expect(await store.usersIn('r', 1)).toEqual({
        count: 3,
        users: [{ user: 'alice', subject: 'alice', connections: 2 }],
      });
    });

    it('a departure is claimed once, only with its own time; a later one under the same key replaces it', async () => {
      const first = { room: 'r', user: 'alice', at: 1_000, connectionId: 'a1', subject: 'alice' };
      await store.markDeparture(first);
      await store.markDeparture({ ...first, at: 2_000, connectionId: 'a2' });
      expect(await store.claimDeparture(first)).toBe(false);
      expect(await store.staleDepartures(5_000, 10)).toEqual([{ ...first, at: 2_000, connectionId: 'a2' }]);
      expect(await store.claimDeparture({ room: 'r', user: 'alice', at: 2_000 })).toBe(true);
      expect(await store.claimDeparture({ room: 'r', user: 'alice', at: 2_000 })).toBe(false);
    });

    it('a return takes any departure of the user from the room back, once', async () => {
      await store.markDeparture({ room: 'r', user: '', at: 1_000, connectionId: 'a1', subject: null });
      await store.markDeparture({ room: 'r', user: 'a1', at: 1_000, connectionId: 'a1', subject: null });
      expect(await store.claimReturn('r', 'a1')).toBe(true);
      expect(await store.claimReturn('r', 'a1')).toBe(false);
      expect(await store.staleDepartures(1_001, 10)).toEqual([
        { room: 'r', user: '', at: 1_000, connectionId: 'a1', subject: null },
      ]);
      expect(await store.staleDepartures(1_000, 10)).toEqual([]);
    });

    it('a counted join answers the tally after it and takes back the returns it is', async () => {
      const alice = (id: string) => ({ connectionId: id, subject: 'alice' });
      await store.add({ connectionId: 'a1', connectedAt: 1_000, subject: 'alice' });
      await store.add({ connectionId: 'a2', connectedAt: 2_000, subject: 'alice' });
      await store.markDeparture({ room: 'r', user: '', at: 500, connectionId: 'a0', subject: 'alice' });
      await store.markDeparture({ room: 'r', user: 'alice', at: 500, connectionId: 'a0', subject: 'alice' });
      expect(await store.joinCounted(alice('a1'), 'r', 50)).toEqual({
        result: 'joined',
        tally: { room: 1, user: 1 },
        returned: { room: true, user: true },
      });
      expect(await store.staleDepartures(10_000, 10)).toEqual([]);
      // A second tab: no return to take back, the user is there already.
      expect(await store.joinCounted(alice('a2'), 'r', 50)).toEqual({
        result: 'joined',
        tally: { room: 2, user: 2 },
        returned: { room: false, user: false },
      });
      expect(await store.joinCounted(alice('a2'), 'r', 50)).toEqual({ result: 'already_member' });
      expect(await store.joinCounted({ connectionId: 'zz', subject: null }, 'r', 50)).toEqual({
        result: 'unknown_connection',
      });
      expect(await store.audience('r')).toHaveLength(2);
    });

    it("a counted leave answers the tally after it and marks the user's and the room's departures", async () => {
      await member('a1', 'alice', 'r', 1_000);
      await member('a2', 'alice', 'r', 2_000);
      await member('x1', null, 'r', 3_000);
      const a1 = { connectionId: 'a1', subject: 'alice' };
      const x1 = { connectionId: 'x1', subject: null };
      expect(await store.leaveCounted(a1, 'r', 5_000)).toEqual({
        wasMember: true,
        tally: { room: 2, user: 1 },
        departures: [],
      });
      expect(await store.leaveCounted(a1, 'r', 5_000)).toEqual({ wasMember: false, departures: [] });
      expect(await store.leaveCounted(x1, 'r', 6_000)).toEqual({
        wasMember: true,
        tally: { room: 1, user: 0 },
        departures: [{ room: 'r', user: 'x1', at: 6_000, ...x1 }],
      });
      const a2 = { connectionId: 'a2', subject: 'alice' };
      const last = [
        { room: 'r', user: 'alice', at: 7_000, ...a2 },
        { room: 'r', user: '', at: 7_000, ...a2 },
      ];
      expect(await store.leaveCounted(a2, 'r', 7_000)).toEqual({
        wasMember: true,
        tally: { room: 0, user: 0 },
        departures: last,
      });
      expect(await store.staleDepartures(10_000, 10)).toEqual(
        expect.arrayContaining([...last, { room: 'r', user: 'x1', at: 6_000, ...x1 }]),
      );
      expect(await store.staleDepartures(10_000, 10)).toHaveLength(3);
      // The leave's two claimed together, each once; a replaced one (another time) is not claimed.
      expect(await store.claimDepartures([...last, { room: 'r', user: 'x1', at: 5_999, ...x1 }])).toEqual(last);
      expect(await store.claimDepartures(last)).toEqual([]);
      expect(await store.staleDepartures(10_000, 10)).toEqual([{ room: 'r', user: 'x1', at: 6_000, ...x1 }]);
    });

    it('a counted removal answers its subject and rooms with their tallies, and marks their departures', async () => {
      await member('a1', 'alice', 'r', 1_000);
      await member('a2', 'alice', 'r', 2_000);
      await store.join('a1', 'solo', 50);
      await member('b1', 'bob', 'shared', 3_000);
      await store.join('a1', 'shared', 50);
      const removal = await store.removeCounted('a1', 9_000, null);
      expect(removal).toEqual({
        known: true,
        subject: 'alice',
        rooms: [
          { room: 'r', tally: { room: 1, user: 1 } },
          { room: 'shared', tally: { room: 1, user: 0 } },
          { room: 'solo', tally: { room: 0, user: 0 } },
        ],
        departures: [
          { room: 'shared', user: 'alice', at: 9_000, connectionId: 'a1', subject: 'alice' },
          { room: 'solo', user: 'alice', at: 9_000, connectionId: 'a1', subject: 'alice' },
          { room: 'solo', user: '', at: 9_000, connectionId: 'a1', subject: 'alice' },
        ],
      });
      expect(await store.staleDepartures(10_000, 10)).toHaveLength(3);
      expect(await store.get('a1')).toBeUndefined();
      expect(await store.roomsOf('a1')).toEqual([]);
      expect(await store.removeCounted('a1', 9_500, null)).toEqual({
        known: false,
        subject: null,
        rooms: [],
        departures: [],
      });
    });
  });
}
