/**
 * The client's room delivery (client/rooms.ts through client/index.ts) with a fake
 * WebSocket and jest's fake clock: once each, in seq order, history asked for what is
 * missing, a gap event for what history no longer has, the next connection opened before
 * API Gateway's 2-hour limit, and refused joins forgotten.
 */
import type { RealtimeClientOptions } from '../../client';
import type { fakeWebSocket } from '../support/stand-ins/fake-websocket';
import {
  history,
  historyAsks,
  joinedAt as joinedOn,
  msg,
  roomClient,
  useFakeSockets,
} from '../support/harnesses/room-client';

let fake: ReturnType<typeof fakeWebSocket>;
useFakeSockets((made) => (fake = made));

const client = (options: Partial<RealtimeClientOptions> = {}) => roomClient(fake, options);
/** Open, joined to `lobby` at `seq`. */
const joinedAt = (seq: number, options: Partial<RealtimeClientOptions> = {}) => joinedOn(fake, seq, options);

describe('room frames', () => {
  it('hands over a room frame once, however often it is posted', () => {
    const { room } = joinedAt(0);
    for (const seq of [1, 1, 2, 1, 2, 3, 3]) fake.last().receive(msg(seq));
    expect(room()).toEqual([1, 2, 3]);
  });

  it('puts shuffled frames in seq order, an early one waiting for those before it', () => {
    const { room } = joinedAt(10);
    const order = [16, 10, 13, 12, 19, 11, 14, 18, 15, 17].map((n) => n + 1);
    for (const seq of order) fake.last().receive(msg(seq));
    expect(room()).toEqual(Array.from({ length: 10 }, (_, i) => 11 + i));
    expect(historyAsks(fake.last())).toEqual([]);
  });

  it('drops frames sent before the join (seq not after joined`s)', () => {
    const { room } = joinedAt(5);
    fake.last().receive(msg(5));
    fake.last().receive(msg(6));
    expect(room()).toEqual([6]);
  });

  it('holds frames that arrive before `joined` and starts after its seq', () => {
    const { c, room } = client();
    c.join('lobby');
    c.connect();
    fake.last().open();
    fake.last().receive(msg(8));
    fake.last().receive(msg(7));
    expect(room()).toEqual([]);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 6 });
    expect(room()).toEqual([7, 8]);
  });

  it('starts at the lowest frame held when no `joined` says where (a service without room numbers in it)', () => {
    const { c, room } = client({ reorderWaitMs: 200 });
    c.join('lobby');
    c.connect();
    fake.last().open();
    fake.last().receive({ type: 'joined', room: 'lobby' });
    fake.last().receive(msg(5));
    fake.last().receive(msg(4));
    expect(room()).toEqual([]);
    jest.advanceTimersByTime(200);
    expect(room()).toEqual([4, 5]);
  });

  it('asks history for a missing frame after reorderWaitMs, and hands over what it answers in order', () => {
    const { room } = joinedAt(0, { reorderWaitMs: 500 });
    fake.last().receive(msg(1));
    fake.last().receive(msg(3));
    jest.advanceTimersByTime(499);
    expect(historyAsks(fake.last())).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(historyAsks(fake.last())).toEqual([{ action: 'history', room: 'lobby', after: 1, limit: 1000 }]);
    fake.last().receive(history('lobby', 3, [msg(2), msg(3)]));
    expect(room()).toEqual([1, 2, 3]);
  });

  it('follows `more` until history is read to its end', () => {
    const { room } = joinedAt(0, { reorderWaitMs: 10 });
    fake.last().receive(msg(5));
    jest.advanceTimersByTime(10);
    fake.last().receive(history('lobby', 5, [msg(1), msg(2)], { more: true }));
    expect(historyAsks(fake.last()).at(-1)).toMatchObject({ after: 2 });
    fake.last().receive(history('lobby', 5, [msg(3), msg(4), msg(5)]));
    expect(room()).toEqual([1, 2, 3, 4, 5]);
  });

  it('emits a gap for what history no longer has, and goes on after it', () => {
    const { room, gaps } = joinedAt(0, { reorderWaitMs: 10 });
    fake.last().receive(msg(1));
    fake.last().receive(msg(9));
    jest.advanceTimersByTime(10);
    fake.last().receive(history('lobby', 9, [msg(7), msg(8), msg(9)], { gap: true }));
    expect(gaps).toEqual([{ room: 'lobby', after: 1, before: 7 }]);
    expect(room()).toEqual([1, 7, 8, 9]);
    fake.last().receive(msg(10));
    expect(room()).toEqual([1, 7, 8, 9, 10]);
  });

  it('asks again when history does not answer in time', () => {
    joinedAt(0, { reorderWaitMs: 10 });
    fake.last().receive(msg(2));
    jest.advanceTimersByTime(10);
    expect(historyAsks(fake.last())).toHaveLength(1);
    jest.advanceTimersByTime(10_000);
    expect(historyAsks(fake.last())).toHaveLength(2);
  });

  it('drops a repeated frame with an id that is not a room frame (a broadcast, a direct message)', () => {
    const { c, messages } = client();
    c.connect();
    fake.last().open();
    const broadcast = { type: 'message', id: 'b1', from: null, origin: 'server', sentAt: 1, data: 1 };
    fake.last().receive(broadcast);
    fake.last().receive(broadcast);
    expect(messages.filter((m) => m.type === 'message')).toHaveLength(1);
  });

  it('never hands over a history frame itself', () => {
    const { messages } = joinedAt(0);
    fake.last().receive(history('lobby', 0, []));
    expect(messages.map((m) => m.type)).toEqual(['joined']);
  });
});

describe('after a reconnect', () => {
  it('rejoins, asks for what came after its last seq, and hands over exactly that, once, in order', () => {
    const { room } = joinedAt(0);
    for (const seq of [1, 2, 3]) fake.last().receive(msg(seq));
    fake.last().drop();
    jest.runOnlyPendingTimers();
    const next = fake.last();
    next.open();
    expect(next.commands()).toEqual([{ action: 'join', room: 'lobby' }]);
    next.receive({ type: 'joined', room: 'lobby', seq: 6 });
    // From its last frame on: that it is still the one it got says the count is the same one.
    expect(historyAsks(next)).toEqual([{ action: 'history', room: 'lobby', after: 2, limit: 1000 }]);
    next.receive(msg(7)); // live, before the answer: waits
    next.receive(history('lobby', 7, [msg(3), msg(4), msg(5), msg(6), msg(7)]));
    next.receive(msg(7)); // and again
    expect(room()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("starts the room's count again when the service's started again (its store was replaced)", () => {
    const { room } = joinedAt(0);
    for (const seq of [1, 2, 3]) fake.last().receive(msg(seq));
    fake.last().drop();
    jest.runOnlyPendingTimers();
    const next = fake.last();
    next.open();
    next.receive({ type: 'joined', room: 'lobby', seq: 0 });
    next.receive(history('lobby', 0, []));
    next.receive(msg(1, 'lobby', 'new-1'));
    next.receive(msg(2, 'lobby', 'new-2'));
    expect(room()).toEqual([1, 2, 3, 1, 2]);
  });

  it('asks for nothing when nothing was missed', () => {
    joinedAt(0);
    fake.last().receive(msg(1));
    fake.last().drop();
    jest.runOnlyPendingTimers();
    fake.last().open();
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 1 });
    expect(historyAsks(fake.last())).toEqual([]);
  });
});

describe('joins', () => {
  it('forgets a join the service refused, and does not send it again after a reconnect', () => {
    const { c } = client();
    c.join('lobby');
    c.join('full');
    c.connect();
    fake.last().open();
    fake.last().receive({ type: 'error', code: 'too_many_rooms', message: 'no', action: 'join', room: 'full' });
    expect([...c.rooms]).toEqual(['lobby']);
    fake.last().drop();
    jest.runOnlyPendingTimers();
    fake.last().open();
    expect(fake.last().commands()).toEqual([{ action: 'join', room: 'lobby' }]);
  });

  it('refuses a room name the service would refuse, and does not remember it', () => {
    const { c } = client();
    expect(() => c.join('bad room!')).toThrow(RangeError);
    expect(() => c.join('x'.repeat(65))).toThrow(RangeError);
    expect([...c.rooms]).toEqual([]);
  });

  it('forgets a room left: its count starts afresh on the next join', () => {
    const { c, room } = joinedAt(0);
    fake.last().receive(msg(1));
    c.leave('lobby');
    fake.last().receive(msg(2)); // in flight when it left: not handed over
    c.join('lobby');
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 4 });
    fake.last().receive(msg(5));
    expect(room()).toEqual([1, 5]);
  });
});

describe('renewal before the 2-hour limit', () => {
  it('opens the next connection first, rejoins there, and closes the old one once the joins are answered', () => {
    const { c, room, messages } = joinedAt(0, { renewAfterMs: 60_000 });
    const closes: unknown[] = [];
    c.on('close', (e) => closes.push(e));
    const old = fake.last();
    old.receive(msg(1));
    jest.advanceTimersByTime(60_000);
    const next = fake.last();
    expect(next).not.toBe(old);
    old.receive(msg(2)); // the old connection still delivers meanwhile
    next.open();
    expect(next.commands()).toEqual([{ action: 'join', room: 'lobby' }]);
    expect(old.readyState).toBe(1);
    next.receive(msg(3)); // both are in the room now: heard on both, handed over once
    old.receive(msg(3));
    next.receive({ type: 'joined', room: 'lobby', seq: 2 });
    expect(old.readyState).toBe(3);
    next.receive(msg(4));
    expect(room()).toEqual([1, 2, 3, 4]);
    expect(closes).toEqual([]);
    expect(c.state).toBe('open');
    expect(messages.filter((m) => m.type === 'joined')).toHaveLength(2);
  });

  it('goes on with the old connection when the next one fails to open', () => {
    const { c, room } = joinedAt(0, { renewAfterMs: 60_000 });
    const old = fake.last();
    jest.advanceTimersByTime(60_000);
    fake.last().refuse(403);
    expect(c.state).toBe('open');
    old.receive(msg(1));
    expect(room()).toEqual([1]);
  });
});
