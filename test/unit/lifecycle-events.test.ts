/**
 * Lifecycle events through the handlers (src/events/lifecycle.ts), the store in memory and the
 * events caught by a sink: a connection opens and closes (client, server, sweep), a room is
 * occupied and vacated, a user joins and leaves, and the debounce takes back a departure that a
 * return follows within EVENTS_DEBOUNCE_MS (here 300 ms), but not one it follows later.
 */
import { connect, disconnect, message, sweep } from '../../src/handler';
import type { WebSocketEvent } from '../../src/handler';
import { AFTER_REPLY_MS } from '../../src/budgets';
import { useSink } from '../../src/events/emitter';
import { StoreError } from '../../src/errors';
import { CLOSE_BUDGET } from '../../src/chat/fanout/gone';
import type { LifecycleEvent } from '../../src/events/types';
import { authorizedAs, connectEvent, disconnectEvent, lambdaContext, messageEvent } from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';

const DEBOUNCE_MS = 300;
const harness = useHandlerHarness({ EVENTS_DEBOUNCE_MS: String(DEBOUNCE_MS), EVENTS_STAGE: 'unit' });

let events: LifecycleEvent[];
beforeEach(() => {
  events = [];
  useSink({
    put: async (batch) => {
      events.push(...(batch as LifecycleEvent[]));
      return [];
    },
  });
});
afterEach(() => useSink(undefined));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function as<T extends WebSocketEvent>(event: T, subject?: string): T {
  if (subject !== undefined) event.requestContext.authorizer = authorizedAs(subject);
  return event;
}

async function open(id: string, subject?: string) {
  expect(await connect(as(connectEvent(id), subject), lambdaContext())).toEqual({ statusCode: 200 });
}
async function act(id: string, body: unknown, subject?: string) {
  expect(await message(as(messageEvent(body, id, 'message'), subject), lambdaContext())).toEqual({ statusCode: 200 });
}
async function close(id: string, subject?: string, code = 1000, reason = '') {
  const event = as(disconnectEvent(id), subject);
  Object.assign(event.requestContext, { disconnectStatusCode: code, disconnectReason: reason });
  expect(await disconnect(event, lambdaContext())).toEqual({ statusCode: 200 });
}

/** `type user room` per event, the way the tests compare sequences. */
const seen = () => events.map((e) => [e.type, e.detail.user, e.detail.room].filter(Boolean).join(' '));

describe('connection events', () => {
  it('connection.opened carries the id, subject, stage and a time; closed says the client closed it', async () => {
    await open('c1', 'alice');
    await close('c1', 'alice');
    expect(seen()).toEqual(['connection.opened alice', 'connection.closed alice']);
    const [openedEvent, closedEvent] = events;
    expect(openedEvent?.detail).toMatchObject({ connectionId: 'c1', subject: 'alice', stage: 'unit' });
    expect(Date.parse(openedEvent?.detail.time ?? '')).not.toBeNaN();
    expect(closedEvent?.detail.reason).toBe('client');
    expect(openedEvent?.detail.id).not.toBe(closedEvent?.detail.id);
  });

  it("a close API Gateway made (1001 'Going away') is the server's", async () => {
    await open('c1');
    await close('c1', undefined, 1001, 'Going away');
    expect(events[1]?.detail.reason).toBe('server');
  });

  it('with auth off a connection is its own user', async () => {
    await open('c1');
    expect(events[0]?.detail).toMatchObject({ connectionId: 'c1', subject: null, user: 'c1' });
  });
});

describe('room and member events', () => {
  it("occupied and joined on a user's first connection only; left and vacated after the debounce", async () => {
    await open('a1', 'alice');
    await open('a2', 'alice');
    await open('b1', 'bob');
    events.length = 0;
    await act('a1', { action: 'join', room: 'r' }, 'alice');
    await act('a2', { action: 'join', room: 'r' }, 'alice');
    await act('b1', { action: 'join', room: 'r' }, 'bob');
    expect(seen()).toEqual(['room.occupied alice r', 'member.joined alice r', 'member.joined bob r']);
    expect(events[1]?.detail.seq).toBe(0);
    events.length = 0;
    await act('a1', { action: 'leave', room: 'r' }, 'alice'); // alice still has a2 there
    await act('b1', { action: 'leave', room: 'r' }, 'bob');
    await act('a2', { action: 'leave', room: 'r' }, 'alice');
    expect(seen()).toEqual(['member.left bob r', 'member.left alice r', 'room.vacated alice r']);
  });

  it('a return within the debounce emits neither the departure nor a second arrival', async () => {
    await open('a1', 'alice');
    await act('a1', { action: 'join', room: 'r' }, 'alice');
    events.length = 0;
    // The close waits out the debounce; alice's new connection joins while it waits.
    const closing = close('a1', 'alice');
    await sleep(DEBOUNCE_MS / 3);
    await open('a2', 'alice');
    await act('a2', { action: 'join', room: 'r' }, 'alice');
    await closing;
    expect(seen()).toEqual(['connection.closed alice', 'connection.opened alice']);
    expect(harness.store.departures.size).toBe(0);
  });

  it('a return after the debounce is a new arrival', async () => {
    await open('a1', 'alice');
    await act('a1', { action: 'join', room: 'r' }, 'alice');
    await close('a1', 'alice');
    await open('a2', 'alice');
    await act('a2', { action: 'join', room: 'r' }, 'alice');
    expect(seen().slice(3)).toEqual([
      'connection.closed alice',
      'member.left alice r',
      'room.vacated alice r',
      'connection.opened alice',
      'room.occupied alice r',
      'member.joined alice r',
    ]);
  });

  it('a departure whose route ran out of time is emitted by the sweep', async () => {
    await open('a1', 'alice');
    await act('a1', { action: 'join', room: 'r' }, 'alice');
    // Too little time left to wait out the debounce: the departure stays in the store.
    const event = as(disconnectEvent('a1'), 'alice');
    await disconnect(event, lambdaContext(AFTER_REPLY_MS + DEBOUNCE_MS / 3));
    expect(seen()).not.toContain('member.left alice r');
    const [departure] = harness.store.departures.values();
    if (departure === undefined) throw new Error('no departure kept');
    departure.at -= 60_000; // long past the debounce and the sweep's margin
    for (const kept of harness.store.departures.values()) kept.at = departure.at;
    await sweep(undefined, { getRemainingTimeInMillis: () => 30_000 });
    expect(seen().slice(-2)).toEqual(['member.left alice r', 'room.vacated alice r']);
  });
});

describe("events from the store's own step", () => {
  it("a join's arrivals follow the tally and returns its join step answered, with no reads of their own", async () => {
    await open('c1', 'alice');
    // As if the join step had taken back the room's departure (a return within the debounce).
    harness.store.joinCounted.mockImplementationOnce(async (who, room, max, sees) => ({
      result: await harness.store.join(who.connectionId, room, max, sees),
      tally: { room: 1, user: 1 },
      returned: { room: true, user: false },
    }));
    harness.store.tally.mockClear();
    harness.store.claimReturn.mockClear();
    await act('c1', { action: 'join', room: 'r' }, 'alice');
    expect(seen()).toEqual(['connection.opened alice', 'member.joined alice r']);
    expect(harness.store.tally).not.toHaveBeenCalled();
    expect(harness.store.claimReturn).not.toHaveBeenCalled();
  });

  it('a join whose answer was lost (the membership is there) reads its tally and returns instead', async () => {
    await open('c1', 'alice');
    harness.store.joinCounted.mockImplementationOnce(async (who, room, max, sees) => {
      await harness.store.join(who.connectionId, room, max, sees);
      throw new StoreError('MySQL join failed: connection lost', 'join');
    });
    await act('c1', { action: 'join', room: 'r' }, 'alice');
    expect(seen()).toEqual(['connection.opened alice', 'room.occupied alice r', 'member.joined alice r']);
  });

  it("a $disconnect's departures are those its removal step marked", async () => {
    await open('c1', 'alice');
    await act('c1', { action: 'join', room: 'r' }, 'alice');
    harness.store.markDeparture.mockClear();
    await close('c1', 'alice');
    expect(harness.store.removeCounted).toHaveBeenCalledTimes(1);
    // Marked by the step itself (the memory store's is made of markDeparture), never again by the route.
    expect(harness.store.markDeparture).toHaveBeenCalledTimes(2);
    expect(seen().slice(-3)).toEqual(['connection.closed alice', 'member.left alice r', 'room.vacated alice r']);
  });
});

describe('the sweep', () => {
  it('closes expired connections with reason sweep, and their rooms emit their departures', async () => {
    await harness.store.add({ connectionId: 'old', connectedAt: Date.now() - 3 * 3_600_000, subject: 'zed' });
    await harness.store.join('old', 'r', 50);
    await sweep(undefined, { getRemainingTimeInMillis: () => 30_000 });
    expect(seen()).toEqual(['connection.closed zed', 'member.left zed r', 'room.vacated zed r']);
    expect(events[0]?.detail.reason).toBe('sweep');
  });

  it('closes what GetConnection says is gone (410) with reason sweep', async () => {
    await harness.store.add({ connectionId: 'ghost', connectedAt: Date.now() - 30 * 60_000, subject: null });
    await harness.store.add({ connectionId: 'alive', connectedAt: Date.now() - 30 * 60_000, subject: null });
    await harness.store.join('ghost', 'r', 50);
    await harness.store.join('alive', 'r', 50);
    harness.management.answer(410, { to: 'ghost' });
    await sweep(undefined, { getRemainingTimeInMillis: () => 30_000 });
    expect(seen()).toEqual(['connection.closed ghost', 'member.left ghost r']);
    expect(events[0]?.detail).toMatchObject({ reason: 'sweep', connectionId: 'ghost' });
  });
});

describe('connections a post finds gone (410) before their $disconnect', () => {
  it('are closed as their $disconnect would: closed (gone), their departures, their rooms told; the $disconnect adds nothing', async () => {
    await open('a1', 'alice');
    await open('b1', 'bob');
    await act('a1', { action: 'join', room: 'r' }, 'alice');
    await act('b1', { action: 'join', room: 'r' }, 'bob');
    events.length = 0;
    harness.management.resetHistory();
    // alice's socket is gone; bob's message meets it first (410), then alice's $disconnect runs.
    harness.management.answer(410, { to: 'a1' });
    await act('b1', { action: 'publish', room: 'r', data: 'hi' }, 'bob');
    expect(seen()).toEqual(['connection.closed alice', 'member.left alice r']);
    expect(events[0]?.detail).toMatchObject({ connectionId: 'a1', subject: 'alice', reason: 'gone' });
    const told = harness.management.posted().filter((post) => post.to === 'b1' && post.message.type === 'presence');
    expect(told.map((post) => post.message)).toEqual([
      expect.objectContaining({ event: 'leave', room: 'r', connectionId: 'a1', user: 'alice', last: true }),
    ]);
    // bob's summary came before any of it: the closing is after the answer.
    const kinds = harness.management
      .posted()
      .filter((post) => post.to === 'b1')
      .map((post) => post.message.type);
    expect(kinds.indexOf('delivery')).toBeLessThan(kinds.indexOf('presence'));
    await close('a1', 'alice');
    expect(seen()).toEqual(['connection.closed alice', 'member.left alice r']);
  });

  it('a sender already gone when its own answer is posted is closed the same way', async () => {
    await open('a1', 'alice');
    await act('a1', { action: 'join', room: 'r' }, 'alice');
    events.length = 0;
    harness.management.answer(410, { to: 'a1' });
    await act('a1', { action: 'members', room: 'r' }, 'alice');
    expect(seen()).toEqual(['connection.closed alice', 'member.left alice r', 'room.vacated alice r']);
    await close('a1', 'alice');
    expect(seen()).toHaveLength(3);
  });

  it('a $disconnect whose row is gone but whose membership was left behind: its departures, no second closed', async () => {
    await open('a1', 'alice');
    await act('a1', { action: 'join', room: 'r' }, 'alice');
    harness.store.rows.delete('a1'); // the row gone, its membership left (a removal whose second statement failed)
    events.length = 0;
    await close('a1', 'alice');
    expect(seen()).toEqual(['member.left alice r', 'room.vacated alice r']);
  });

  it('a $disconnect after the sweep removed its row emits no second connection.closed', async () => {
    await harness.store.add({ connectionId: 'ghost', connectedAt: Date.now() - 30 * 60_000, subject: null });
    harness.management.answer(410, { to: 'ghost' });
    await sweep(undefined, { getRemainingTimeInMillis: () => 30_000 });
    await close('ghost');
    expect(seen()).toEqual(['connection.closed ghost']);
    expect(events.map((e) => e.detail.reason)).toEqual(['sweep']);
  });

  it(`a route closes at most ${CLOSE_BUDGET} so; more gone at once are removed alone, as before`, async () => {
    await open('s1', 'sender');
    await act('s1', { action: 'join', room: 'big' }, 'sender');
    const gone = Array.from({ length: CLOSE_BUDGET + 5 }, (_, i) => `g${i}`);
    for (const id of gone) {
      await harness.store.add({ connectionId: id, connectedAt: Date.now(), subject: null });
      await harness.store.join(id, 'big', 50);
      harness.management.answer(410, { to: id });
    }
    events.length = 0;
    await act('s1', { action: 'publish', room: 'big', data: 'hi' }, 'sender');
    expect(events.filter((e) => e.type === 'connection.closed')).toHaveLength(CLOSE_BUDGET);
    expect(await harness.store.audience('big')).toEqual(['s1']);
  });
});
