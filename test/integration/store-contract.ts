/**
 * The contract every ConnectionStore adapter must pass. Each adapter's test file calls
 * `storeContract` with a factory that gives a fresh, empty store.
 */
import type { ConnectionStore, JoinResult } from '../../src/data';

export interface ContractStore extends ConnectionStore {
  dropTables(): Promise<void>;
}

/** The rooms limit the contract joins with (the service's own is in src/chat/actions.ts). */
const LIMIT = 50;

const INJECTION_IDS = [
  "x'; DROP TABLE connections; --",
  'a" OR "1"="1',
  "Robert'); DELETE FROM room_members; --",
  '\\\\0%_*?`$(rm -rf)',
  'ÄÖÜ-💥-連線',
];

/**
 * A fresh store from `create` for each test, handed to `use`, and dropped and closed after it.
 * When opening failed (the suite's own check failed first) there is none to close, so that
 * failure's message is the one to read.
 */
export function storePerTest(create: () => Promise<ContractStore>, use: (store: ContractStore) => void): void {
  let opened: ContractStore | undefined;

  beforeEach(async () => {
    opened = await create();
    use(opened);
  });

  afterEach(async () => {
    const done = opened;
    opened = undefined;
    if (done === undefined) return;
    await done.dropTables();
    await done.close();
  });
}

/**
 * `create` gives a fresh, empty store; `openAgain` another handle (its own database
 * connection or file handle) on the same data, as another Lambda container would have.
 */
export function storeContract(
  name: string,
  create: () => Promise<ContractStore>,
  openAgain: (store: ContractStore) => ContractStore,
): void {
  describe(`${name} connection store (contract)`, () => {
    let store: ContractStore;
    storePerTest(create, (fresh) => (store = fresh));

    it('starts empty', async () => {
      expect(await store.list(10)).toEqual({ count: 0, connections: [] });
      expect(await store.audience()).toEqual([]);
    });

    it('adds a connection with its connected-at time and subject, and lists it', async () => {
      await store.add({ connectionId: 'A1', connectedAt: 1_700_000_000_000, subject: 'alice' });
      expect(await store.get('A1')).toEqual({ connectionId: 'A1', connectedAt: 1_700_000_000_000, subject: 'alice' });
      expect(await store.list(10)).toEqual({
        count: 1,
        connections: [{ connectionId: 'A1', connectedAt: 1_700_000_000_000, subject: 'alice' }],
      });
    });

    it('adds idempotently: a retried $connect updates instead of failing', async () => {
      await store.add({ connectionId: 'A1', connectedAt: 1, subject: null });
      await store.add({ connectionId: 'A1', connectedAt: 2, subject: 'bob' });
      expect(await store.list(10)).toEqual({
        count: 1,
        connections: [{ connectionId: 'A1', connectedAt: 2, subject: 'bob' }],
      });
    });

    it('treats connection ids as case-sensitive, as API Gateway does', async () => {
      await store.add({ connectionId: 'abc=', connectedAt: 1, subject: null });
      await store.add({ connectionId: 'ABC=', connectedAt: 2, subject: null });
      expect((await store.audience()).sort()).toEqual(['ABC=', 'abc=']);
    });

    it('removes a connection and leaves the others', async () => {
      await store.add({ connectionId: 'A', connectedAt: 1, subject: null });
      await store.add({ connectionId: 'B', connectedAt: 2, subject: null });
      await store.remove('A');
      expect(await store.get('A')).toBeUndefined();
      expect(await store.audience()).toEqual(['B']);
    });

    it('removing an unknown connection is not an error', async () => {
      await expect(store.remove('nobody')).resolves.toBeUndefined();
    });

    it('lists the oldest connections first, bounded by the limit, with the exact count', async () => {
      for (let i = 0; i < 5; i++) await store.add({ connectionId: `C${i}`, connectedAt: 100 - i, subject: null });
      const page = await store.list(2);
      expect(page.count).toBe(5);
      expect(page.connections.map((c) => c.connectionId)).toEqual(['C4', 'C3']);
    });

    it('removes many connections, and their memberships, in one call', async () => {
      const ids = Array.from({ length: 12_000 }, (_, i) => `bulk-${i}`);
      for (const id of ids.slice(0, 3)) await store.add({ connectionId: id, connectedAt: 1, subject: null });
      await store.add({ connectionId: 'keep', connectedAt: 1, subject: null });
      await store.join('bulk-0', 'room', LIMIT);
      await store.join('keep', 'room', LIMIT);
      await store.removeMany(ids); // more ids than one statement takes: chunked inside
      expect(await store.audience()).toEqual(['keep']);
      expect(await store.audience('room')).toEqual(['keep']);
    });

    it('stores injection-shaped ids verbatim and harmlessly', async () => {
      for (const [i, id] of INJECTION_IDS.entries()) await store.add({ connectionId: id, connectedAt: i, subject: id });
      await store.add({ connectionId: 'innocent', connectedAt: 99, subject: null });
      for (const id of INJECTION_IDS) await store.join(id, 'lobby', LIMIT);
      const page = await store.list(100);
      expect(page.count).toBe(INJECTION_IDS.length + 1);
      expect(page.connections.map((c) => c.connectionId)).toEqual([...INJECTION_IDS, 'innocent']);
      expect(page.connections.map((c) => c.subject)).toEqual([...INJECTION_IDS, null]);
      expect((await store.audience('lobby')).sort()).toEqual([...INJECTION_IDS].sort());
      await store.remove(INJECTION_IDS[0] as string);
      expect(await store.get('innocent')).toBeDefined();
      expect(await store.list(100)).toMatchObject({ count: INJECTION_IDS.length });
    });

    describe('rooms', () => {
      beforeEach(async () => {
        for (const id of ['A', 'B', 'C']) await store.add({ connectionId: id, connectedAt: 1, subject: null });
      });

      it('a connection may be in many rooms, and a room holds many connections', async () => {
        await store.join('A', 'red', LIMIT);
        await store.join('A', 'blue', LIMIT);
        await store.join('B', 'red', LIMIT);
        expect(await store.roomsOf('A')).toEqual(['blue', 'red']);
        expect((await store.audience('red')).sort()).toEqual(['A', 'B']);
        expect(await store.audience('blue')).toEqual(['A']);
        expect(await store.audience('green')).toEqual([]);
      });

      it('joining twice is idempotent', async () => {
        expect(await store.join('A', 'red', LIMIT)).toBe('joined');
        expect(await store.join('A', 'red', LIMIT)).toBe('already_member');
        expect(await store.audience('red')).toEqual(['A']);
      });

      it('does not add an unknown connection to a room', async () => {
        expect(await store.join('ghost', 'red', LIMIT)).toBe('unknown_connection');
        expect(await store.audience('red')).toEqual([]);
      });

      it('refuses a new room at the limit, but answers a room the connection is in', async () => {
        for (const room of ['r1', 'r2', 'r3']) expect(await store.join('A', room, 3)).toBe('joined');
        expect(await store.join('A', 'r4', 3)).toBe('limit_reached');
        expect(await store.join('A', 'r2', 3)).toBe('already_member');
        expect(await store.roomsOf('A')).toEqual(['r1', 'r2', 'r3']);
        // the limit is per connection
        expect(await store.join('B', 'r4', 3)).toBe('joined');
        // leaving frees a place
        await store.leave('A', 'r1');
        expect(await store.join('A', 'r4', 3)).toBe('joined');
        expect(await store.roomsOf('A')).toEqual(['r2', 'r3', 'r4']);
      });

      describe('under concurrency', () => {
        const HANDLES = 6;
        const JOINS = 120;
        let handles: ContractStore[];

        beforeEach(() => {
          handles = [store, ...Array.from({ length: HANDLES - 1 }, () => openAgain(store))];
        });

        afterEach(async () => {
          // undefined when the suite's own check failed before any beforeEach ran.
          await Promise.all((handles ?? []).slice(1).map((handle) => handle.close()));
        });

        const count = (results: JoinResult[], result: JoinResult) => results.filter((r) => r === result).length;

        it(`holds the limit exactly when ${JOINS} joins of distinct rooms race from ${HANDLES} handles`, async () => {
          const rooms = Array.from({ length: JOINS }, (_, i) => `room-${i}`);
          // Two connections' joins at once, interleaved: the limit is per connection and one
          // connection's joins must not block or fail the other's.
          const racing = rooms.flatMap((room, i) => [
            (handles[i % HANDLES] as ContractStore).join('A', room, LIMIT),
            (handles[(i + 1) % HANDLES] as ContractStore).join('B', room, LIMIT),
          ]);
          const results = await Promise.all(racing);
          const ofA = results.filter((_, i) => i % 2 === 0);
          const ofB = results.filter((_, i) => i % 2 === 1);
          for (const [id, of] of [
            ['A', ofA],
            ['B', ofB],
          ] as const) {
            expect({ id, joined: count(of, 'joined'), refused: count(of, 'limit_reached') }).toEqual({
              id,
              joined: LIMIT,
              refused: JOINS - LIMIT,
            });
            const joinedRooms = rooms.filter((_, i) => of[i] === 'joined');
            expect(await store.roomsOf(id)).toEqual([...joinedRooms].sort());
          }
        });

        it('adds a connection to a room once when the same join races from every handle', async () => {
          const results = await Promise.all(
            Array.from({ length: 30 }, (_, i) => (handles[i % HANDLES] as ContractStore).join('A', 'red', LIMIT)),
          );
          expect(count(results, 'joined')).toBe(1);
          expect(count(results, 'already_member')).toBe(29);
          expect(await store.audience('red')).toEqual(['A']);
        });

        it('adds nothing for a connection removed while its joins race', async () => {
          const joins = Array.from({ length: 30 }, (_, i) =>
            (handles[i % HANDLES] as ContractStore).join('C', `room-${i}`, LIMIT),
          );
          await handles[1]?.remove('C');
          const results = await Promise.all(joins);
          expect(results.every((r) => r === 'joined' || r === 'unknown_connection')).toBe(true);
          expect(await store.roomsOf('C')).toEqual([]);
        });
      });

      it('leaving reports whether the connection was a member, and an emptied room leaves nothing', async () => {
        await store.join('A', 'red', LIMIT);
        expect(await store.leave('A', 'red')).toBe(true);
        expect(await store.leave('A', 'red')).toBe(false);
        expect(await store.audience('red')).toEqual([]);
        expect(await store.roomsOf('A')).toEqual([]);
      });

      it('a disconnect removes the connection from all its rooms', async () => {
        await store.join('A', 'red', LIMIT);
        await store.join('A', 'blue', LIMIT);
        await store.join('B', 'red', LIMIT);
        await store.remove('A');
        expect(await store.audience('red')).toEqual(['B']);
        expect(await store.audience('blue')).toEqual([]);
        expect(await store.roomsOf('A')).toEqual([]);
      });
    });

    it('sweeps connections older than the cutoff, with their memberships', async () => {
      await store.add({ connectionId: 'old', connectedAt: 1_000, subject: null });
      await store.add({ connectionId: 'new', connectedAt: 5_000, subject: null });
      await store.join('old', 'r', LIMIT);
      await store.join('new', 'r', LIMIT);
      expect(await store.removeOlderThan(2_000)).toBe(1);
      expect(await store.audience()).toEqual(['new']);
      expect(await store.audience('r')).toEqual(['new']);
      expect(await store.removeOlderThan(2_000)).toBe(0);
    });

    it('pages the connections older than a cutoff oldest first, ties broken by id (the liveness sweep)', async () => {
      for (const [id, at] of [
        ['d', 3_000],
        ['b', 1_000],
        ['a', 1_000],
        ['c', 2_000],
        ['young', 9_000],
      ] as const) {
        await store.add({ connectionId: id, connectedAt: at, subject: null });
      }
      const first = await store.connectedBefore(5_000, 2);
      expect(first.map((c) => c.connectionId)).toEqual(['a', 'b']);
      const second = await store.connectedBefore(5_000, 2, first[1]);
      expect(second.map((c) => c.connectionId)).toEqual(['c', 'd']);
      expect(await store.connectedBefore(5_000, 2, second[1])).toEqual([]);
      expect(second[0]).toEqual({ connectionId: 'c', connectedAt: 2_000, subject: null });
    });

    it('is usable again after end(), as on a warm invocation', async () => {
      await store.add({ connectionId: 'A', connectedAt: 1, subject: null });
      await store.end();
      expect(await store.get('A')).toBeDefined();
    });

    describe("a user's connections (direct messages)", () => {
      it('finds every connection of one subject, and only those', async () => {
        await store.add({ connectionId: 'A1', connectedAt: 1, subject: 'alice' });
        await store.add({ connectionId: 'A2', connectedAt: 2, subject: 'alice' });
        await store.add({ connectionId: 'B1', connectedAt: 3, subject: 'bob' });
        await store.add({ connectionId: 'N1', connectedAt: 4, subject: null });
        expect((await store.connectionsOf('alice')).sort()).toEqual(['A1', 'A2']);
        expect(await store.connectionsOf('bob')).toEqual(['B1']);
        expect(await store.connectionsOf('carol')).toEqual([]);
      });

      it('compares subjects exactly: case, accents and injection-shaped subjects', async () => {
        await store.add({ connectionId: 'lower', connectedAt: 1, subject: 'alice' });
        await store.add({ connectionId: 'upper', connectedAt: 2, subject: 'Alice' });
        await store.add({ connectionId: 'accent', connectedAt: 3, subject: 'alicé' });
        // A padding collation (utf8mb4_bin) would take 'alice ' for 'alice' (./identifier-contract.ts).
        await store.add({ connectionId: 'padded', connectedAt: 4, subject: 'alice ' });
        for (const [i, id] of INJECTION_IDS.entries())
          await store.add({ connectionId: id, connectedAt: 10 + i, subject: id });
        expect(await store.connectionsOf('alice')).toEqual(['lower']);
        expect(await store.connectionsOf('Alice')).toEqual(['upper']);
        expect(await store.connectionsOf('alice ')).toEqual(['padded']);
        expect(await store.connectionsOf("x' OR '1'='1")).toEqual([]);
        for (const id of INJECTION_IDS) expect(await store.connectionsOf(id)).toEqual([id]);
      });

      it('forgets a removed connection and follows a re-added one to its new subject', async () => {
        await store.add({ connectionId: 'A1', connectedAt: 1, subject: 'alice' });
        await store.add({ connectionId: 'A2', connectedAt: 2, subject: 'alice' });
        await store.remove('A1');
        await store.add({ connectionId: 'A2', connectedAt: 3, subject: 'bob' });
        expect(await store.connectionsOf('alice')).toEqual([]);
        expect(await store.connectionsOf('bob')).toEqual(['A2']);
      });
    });

    describe('room history (sequence numbers)', () => {
      const WIDE = { maxPerRoom: 1000, notBefore: 0 };
      const entry = (n: number, sentAt = 1_000 + n) => ({ id: `id-${n}`, sentAt, body: `{"n":${n}}` });

      it('numbers each room from 1 on, by exactly 1, and keeps the messages in order', async () => {
        expect(await store.appendToRoom('red', entry(1))).toBe(1);
        expect(await store.appendToRoom('red', entry(2))).toBe(2);
        expect(await store.appendToRoom('blue', entry(3))).toBe(1);
        expect(await store.appendToRoom('red', entry(4))).toBe(3);
        const page = await store.roomHistory('red', 0, 100, WIDE);
        expect(page).toEqual({
          latest: 3,
          messages: [
            { seq: 1, ...entry(1) },
            { seq: 2, ...entry(2) },
            { seq: 3, ...entry(4) },
          ],
        });
        expect(await store.roomHistory('green', 0, 100, WIDE)).toEqual({ latest: 0, messages: [] });
      });

      it("numbers a member's message only, checked in the same step: a non-member's takes no number", async () => {
        await store.add({ connectionId: 'M', connectedAt: 1, subject: null });
        await store.add({ connectionId: 'N', connectedAt: 2, subject: null });
        await store.join('M', 'red', 50);
        expect(await store.appendToRoom('red', entry(1), 'M')).toBe(1);
        expect(await store.appendToRoom('red', entry(2), 'N')).toBe(0);
        expect(await store.appendToRoom('red', entry(3), 'gone')).toBe(0);
        expect(await store.appendToRoom('blue', entry(4), 'M')).toBe(0);
        expect(await store.appendToRoom('red', entry(5), 'M')).toBe(2);
        expect(await store.roomHistory('red', 0, 100, WIDE)).toEqual({
          latest: 2,
          messages: [
            { seq: 1, ...entry(1) },
            { seq: 2, ...entry(5) },
          ],
        });
        expect(await store.roomHistory('blue', 0, 100, WIDE)).toEqual({ latest: 0, messages: [] });
      });

      it("reads a room's history with the reader's membership in the same step, and nothing for a non-member", async () => {
        await store.add({ connectionId: 'M', connectedAt: 1, subject: null });
        await store.add({ connectionId: 'N', connectedAt: 2, subject: null });
        await store.join('M', 'red', 50);
        await store.join('M', 'quiet', 50);
        await store.join('N', 'blue', 50);
        for (let n = 1; n <= 3; n++) await store.appendToRoom('red', entry(n));
        expect(await store.roomHistory('red', 1, 100, WIDE, undefined, 'M')).toEqual({
          latest: 3,
          messages: [
            { seq: 2, ...entry(2) },
            { seq: 3, ...entry(3) },
          ],
          member: true,
        });
        expect(await store.roomHistory('red', 0, 100, WIDE, undefined, 'N')).toEqual({
          latest: 0,
          messages: [],
          member: false,
        });
        // A room without messages: its members are told so, others only that they are not in it.
        expect(await store.roomHistory('quiet', 0, 100, WIDE, undefined, 'M')).toEqual({
          latest: 0,
          messages: [],
          member: true,
        });
        expect(await store.roomHistory('quiet', 0, 100, WIDE, undefined, 'N')).toEqual({
          latest: 0,
          messages: [],
          member: false,
        });
        await store.leave('M', 'red');
        expect((await store.roomHistory('red', 0, 100, WIDE, undefined, 'M')).member).toBe(false);
      });

      it('reads after a number, bounded by the limit, and says the latest even when nothing is after', async () => {
        for (let n = 1; n <= 5; n++) await store.appendToRoom('red', entry(n));
        const page = await store.roomHistory('red', 2, 2, WIDE);
        expect(page.latest).toBe(5);
        expect(page.messages.map((m) => m.seq)).toEqual([3, 4]);
        expect(await store.roomHistory('red', 5, 10, WIDE)).toEqual({ latest: 5, messages: [] });
      });

      it('keeps frames of 128 KB and injection-shaped rooms verbatim', async () => {
        const body = JSON.stringify({ data: 'x'.repeat(128 * 1024 - 100), quote: '\'"`;--' });
        const room = INJECTION_IDS[0] as string;
        await store.appendToRoom(room, { id: 'big', sentAt: 1, body });
        expect((await store.roomHistory(room, 0, 1, WIDE)).messages[0]?.body).toBe(body);
        expect(await store.roomHistory('x', 0, 1, WIDE)).toEqual({ latest: 0, messages: [] });
      });

      it('reads only within the bounds, and the trim deletes what is outside them; numbers go on', async () => {
        for (let n = 1; n <= 6; n++) await store.appendToRoom('red', entry(n, n * 100));
        await store.appendToRoom('blue', entry(7, 50));
        const window = { maxPerRoom: 3, notBefore: 450 };
        // the last 3 of red are 4..6; of those, sent at or after 450: 5 and 6
        expect((await store.roomHistory('red', 0, 100, window)).messages.map((m) => m.seq)).toEqual([5, 6]);
        expect(await store.trimHistory(window)).toBe(5); // red 1-4, blue's only one
        expect((await store.roomHistory('red', 0, 100, WIDE)).messages.map((m) => m.seq)).toEqual([5, 6]);
        expect(await store.roomHistory('blue', 0, 100, WIDE)).toEqual({ latest: 1, messages: [] });
        expect(await store.trimHistory(window)).toBe(0);
        // a trimmed room counts on: its old numbers are never given to another message
        expect(await store.appendToRoom('blue', entry(8))).toBe(2);
      });

      describe('under concurrency', () => {
        const HANDLES = 6;
        const POSTS = 120;
        let handles: ContractStore[];

        beforeEach(() => {
          handles = [store, ...Array.from({ length: HANDLES - 1 }, () => openAgain(store))];
        });

        afterEach(async () => {
          await Promise.all((handles ?? []).slice(1).map((handle) => handle.close()));
        });

        it(`gives ${POSTS} publishers racing from ${HANDLES} handles on two rooms 1..n each, none shared or skipped`, async () => {
          const racing = Array.from({ length: POSTS }, (_, i) =>
            (handles[i % HANDLES] as ContractStore).appendToRoom(i % 2 ? 'red' : 'blue', entry(i)),
          );
          const seqs = await Promise.all(racing);
          for (const [room, parity] of [
            ['blue', 0],
            ['red', 1],
          ] as const) {
            const mine = seqs.filter((_, i) => i % 2 === parity);
            expect([...mine].sort((a, b) => a - b)).toEqual(Array.from({ length: POSTS / 2 }, (_, i) => i + 1));
            const page = await store.roomHistory(room, 0, POSTS, WIDE);
            expect(page.latest).toBe(POSTS / 2);
            // each kept message under the number its publisher was given
            const given = new Map(mine.map((seq, k) => [seq, `id-${2 * k + parity}`]));
            expect(page.messages.map((m) => [m.seq, m.id])).toEqual([...given].sort((a, b) => a[0] - b[0]));
          }
        });
      });
    });

    describe('room members (presence)', () => {
      it('lists the oldest members first with their subjects, bounded, with the exact count', async () => {
        for (let i = 0; i < 5; i++) {
          await store.add({ connectionId: `M${i}`, connectedAt: 100 - i, subject: i % 2 ? `user${i}` : null });
          await store.join(`M${i}`, 'red', LIMIT);
        }
        await store.add({ connectionId: 'outside', connectedAt: 1, subject: 'x' });
        await store.join('outside', 'blue', LIMIT);
        const page = await store.members('red', 2);
        expect(page).toEqual({
          count: 5,
          connections: [
            { connectionId: 'M4', connectedAt: 96, subject: null },
            { connectionId: 'M3', connectedAt: 97, subject: 'user3' },
          ],
        });
        expect((await store.members('red', 10)).connections).toHaveLength(5);
        expect(await store.members('green', 10)).toEqual({ count: 0, connections: [] });
      });

      it('follows leaves and disconnects', async () => {
        for (const id of ['A', 'B', 'C']) {
          await store.add({ connectionId: id, connectedAt: 1, subject: null });
          await store.join(id, 'red', LIMIT);
        }
        await store.leave('A', 'red');
        await store.remove('B');
        expect(await store.members('red', 10)).toEqual({
          count: 1,
          connections: [{ connectionId: 'C', connectedAt: 1, subject: null }],
        });
      });

      it('tells apart the members that joined with the right to see presence, counting all', async () => {
        for (const [i, id] of ['A', 'B', 'C'].entries()) {
          await store.add({ connectionId: id, connectedAt: 10 + i, subject: null });
        }
        await store.join('A', 'red', LIMIT, true);
        await store.join('B', 'red', LIMIT);
        await store.join('C', 'red', LIMIT, false);
        await store.join('C', 'blue', LIMIT, true);
        expect(await store.presencePage('red', 10)).toEqual({
          count: 3,
          members: [
            { connectionId: 'A', seesPresence: true },
            { connectionId: 'B', seesPresence: false },
            { connectionId: 'C', seesPresence: false },
          ],
        });
        expect(await store.presencePage('red', 1)).toEqual({
          count: 3,
          members: [{ connectionId: 'A', seesPresence: true }],
        });
        expect(await store.presencePage('blue', 10)).toEqual({
          count: 1,
          members: [{ connectionId: 'C', seesPresence: true }],
        });
        expect(await store.presencePage('green', 10)).toEqual({ count: 0, members: [] });
      });

      it('keeps the right with its membership: a repeated join changes nothing, a leave or removal ends it', async () => {
        for (const id of ['A', 'B', 'C']) await store.add({ connectionId: id, connectedAt: 1, subject: null });
        await store.join('A', 'red', LIMIT, true);
        expect(await store.join('A', 'red', LIMIT, false)).toBe('already_member');
        await store.join('B', 'red', LIMIT, true);
        await store.join('C', 'red', LIMIT, true);
        expect((await store.presencePage('red', 10)).members.map((m) => m.seesPresence)).toEqual([true, true, true]);
        // The same ids again, joining without the right: nothing of the old memberships may remain.
        await store.leave('A', 'red');
        await store.join('A', 'red', LIMIT, false);
        await store.remove('B');
        await store.add({ connectionId: 'B', connectedAt: 1, subject: null });
        await store.join('B', 'red', LIMIT, false);
        await store.removeMany(['C']);
        expect(
          (await store.presencePage('red', 10)).members.sort((x, y) => (x.connectionId < y.connectionId ? -1 : 1)),
        ).toEqual([
          { connectionId: 'A', seesPresence: false },
          { connectionId: 'B', seesPresence: false },
        ]);
      });

      it('forgets the right of connections the sweep removes', async () => {
        await store.add({ connectionId: 'old', connectedAt: 1, subject: null });
        await store.join('old', 'red', LIMIT, true);
        expect(await store.removeOlderThan(2)).toBe(1);
        await store.add({ connectionId: 'old', connectedAt: 3, subject: null });
        await store.join('old', 'red', LIMIT);
        expect(await store.presencePage('red', 10)).toEqual({
          count: 1,
          members: [{ connectionId: 'old', seesPresence: false }],
        });
      });
    });

    describe('rights: what one user may see and reach', () => {
      beforeEach(async () => {
        const rows: [string, string][] = [
          ['A1', 'alice'],
          ['A2', 'alice'],
          ['A3', 'alice '],
          ['B1', 'bob'],
          ['E1', 'eve'],
        ];
        for (const [i, [connectionId, subject]] of rows.entries()) {
          await store.add({ connectionId, connectedAt: 10 + i, subject });
        }
        await store.join('A1', 'secret-room', LIMIT);
        await store.join('B1', 'secret-room', LIMIT);
        await store.join('E1', 'lobby', LIMIT);
      });

      it("pages one user's own connections, oldest first, with the exact count, comparing subjects exactly", async () => {
        expect(await store.listOf('alice', 1)).toEqual({
          count: 2,
          connections: [{ connectionId: 'A1', connectedAt: 10, subject: 'alice' }],
        });
        expect((await store.listOf('alice', 10)).connections.map((c) => c.connectionId)).toEqual(['A1', 'A2']);
        expect(await store.listOf('nobody', 10)).toEqual({ count: 0, connections: [] });
      });

      it("reaches the user's own connections and room-mates only, and no unknown id", async () => {
        expect(await store.reachable('A2', 'alice', 'A1')).toBe(true);
        expect(await store.reachable('B1', 'bob', 'A1')).toBe(true);
        expect(await store.reachable('E1', 'eve', 'A1')).toBe(false);
        expect(await store.reachable('E1', 'eve', 'B1')).toBe(false);
        // 'alice ' is another user, even where a collation pads
        expect(await store.reachable('A3', 'alice ', 'A1')).toBe(false);
        expect(await store.reachable('E1', 'eve', 'nobody')).toBe(false);
        await store.leave('B1', 'secret-room');
        expect(await store.reachable('B1', 'bob', 'A1')).toBe(false);
      });
    });
  });
}
