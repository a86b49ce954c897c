/**
 * The client's room delivery when the numbers stop adding up, with the fake WebSocket and
 * jest's fake clock: a service whose count started again (its store replaced) is a new count,
 * told as `reset`, whose frames are handed over, not dropped as repeats; and a hole history
 * does not fill costs a bounded number of requests, then one `gap`, and the count goes on.
 */
import type { RealtimeClientOptions } from '../../client';
import { HISTORY_MAX_ASKS, HISTORY_TIMEOUT_MS } from '../../client';
import type { fakeWebSocket } from '../support/stand-ins/fake-websocket';
import type { FakeSocket } from '../support/stand-ins/fake-websocket';
import {
  history,
  historyAsks,
  joinedAt as joinedOn,
  msg,
  reconnect,
  useFakeSockets,
} from '../support/harnesses/room-client';

let fake: ReturnType<typeof fakeWebSocket>;
useFakeSockets((made) => (fake = made));

const joinedAt = (seq: number, options: Partial<RealtimeClientOptions> = {}) => joinedOn(fake, seq, options);
/** A frame of the new count: the same numbers as the old one's, other ids. */
const fresh = (seq: number) => msg(seq, 'lobby', `new-${seq}`);

/** Joined at 0, handed the old count's 1, 2 and 3. */
function withOldCount(options: Partial<RealtimeClientOptions> = {}) {
  const made = joinedAt(0, options);
  for (const seq of [1, 2, 3]) fake.last().receive(msg(seq));
  expect(made.data()).toEqual([1, 2, 3]);
  return made;
}

describe('after a reconnect to a count that started again', () => {
  it('takes a lower `joined` for a new count: a reset event, then the frames it had meanwhile, from its first', () => {
    const { data, resets, gaps } = withOldCount();
    const next = reconnect(fake);
    next.receive({ type: 'joined', room: 'lobby', seq: 2 });
    expect(resets).toEqual([{ room: 'lobby', previous: 3, latest: 2 }]);
    expect(historyAsks(next)).toEqual([{ action: 'history', room: 'lobby', after: 0, limit: 1000 }]);
    next.receive(history('lobby', 2, [fresh(1), fresh(2)]));
    next.receive(fresh(3));
    expect(data()).toEqual([1, 2, 3, 'new-1', 'new-2', 'new-3']);
    expect(gaps).toEqual([]);
  });

  it("keeps the new count's frames that arrive before `joined`, though their numbers are the old count's", () => {
    const { data, resets } = withOldCount();
    const next = reconnect(fake);
    next.receive(fresh(1)); // posted before the `joined` reply (they run in parallel)
    expect(data()).toEqual([1, 2, 3]);
    next.receive({ type: 'joined', room: 'lobby', seq: 0 });
    expect(resets).toEqual([{ room: 'lobby', previous: 3, latest: 0 }]);
    expect(data()).toEqual([1, 2, 3, 'new-1']);
    expect(historyAsks(next)).toEqual([]); // the new count had nothing before the join
    next.receive(fresh(2));
    expect(data()).toEqual([1, 2, 3, 'new-1', 'new-2']);
  });

  it('tells a new count that already passed its number by the id of its own last frame', () => {
    const { data, resets } = withOldCount();
    const next = reconnect(fake);
    next.receive({ type: 'joined', room: 'lobby', seq: 5 });
    expect(historyAsks(next)).toEqual([{ action: 'history', room: 'lobby', after: 2, limit: 1000 }]);
    next.receive(history('lobby', 5, [fresh(3), fresh(4), fresh(5)])); // 3 is not the 3 it got
    expect(resets).toEqual([{ room: 'lobby', previous: 3, latest: 5 }]);
    expect(historyAsks(next).at(-1)).toMatchObject({ after: 0 });
    next.receive(history('lobby', 5, [1, 2, 3, 4, 5].map(fresh)));
    expect(data()).toEqual([1, 2, 3, 'new-1', 'new-2', 'new-3', 'new-4', 'new-5']);
  });

  it('goes on with the same count when its own last frame is still there', () => {
    const { data, resets } = withOldCount();
    const next = reconnect(fake);
    next.receive({ type: 'joined', room: 'lobby', seq: 5 });
    next.receive(history('lobby', 5, [msg(3), msg(4), msg(5)]));
    expect(resets).toEqual([]);
    expect(data()).toEqual([1, 2, 3, 4, 5]);
  });

  it('hands over what it held of the old count first, its holes as gaps: that history is gone', () => {
    const { data, resets, gaps } = withOldCount({ reorderWaitMs: 1_000 });
    fake.last().receive(msg(5)); // waits for 4 when the connection drops
    const next = reconnect(fake);
    next.receive({ type: 'joined', room: 'lobby', seq: 0 });
    expect(gaps).toEqual([{ room: 'lobby', after: 3, before: 5 }]);
    expect(resets).toEqual([{ room: 'lobby', previous: 5, latest: 0 }]);
    next.receive(fresh(1));
    expect(data()).toEqual([1, 2, 3, 5, 'new-1']);
  });

  it("takes the first frame's number, at or below its own, for a new count when `joined` has none (an older service)", () => {
    const { data, resets } = withOldCount();
    const next = reconnect(fake);
    next.receive({ type: 'joined', room: 'lobby' });
    next.receive(fresh(1));
    next.receive(fresh(2));
    expect(resets).toEqual([{ room: 'lobby', previous: 3, latest: 0 }]);
    expect(data()).toEqual([1, 2, 3, 'new-1', 'new-2']);
  });

  it('takes a history answer below its own number for a new count too', () => {
    const { data, resets, gaps } = withOldCount({ reorderWaitMs: 10 });
    fake.last().receive(fresh(6));
    jest.advanceTimersByTime(10);
    fake.last().receive(history('lobby', 1, []));
    expect(gaps).toEqual([{ room: 'lobby', after: 3, before: 6 }]); // what it held is handed over first
    expect(resets).toEqual([{ room: 'lobby', previous: 6, latest: 1 }]);
    expect(historyAsks(fake.last()).at(-1)).toMatchObject({ after: 0 });
    fake.last().receive(history('lobby', 1, [fresh(1)]));
    expect(data()).toEqual([1, 2, 3, 'new-6', 'new-1']);
  });
});

describe('a hole history does not fill', () => {
  const answered = new WeakMap<FakeSocket, number>();

  /** Answers each history request on `socket` with `answer`, once, as soon as it is made, for `ms`. */
  function answerFor(socket: FakeSocket, ms: number, answer: () => unknown): void {
    for (let t = 0; t < ms; t += 10) {
      jest.advanceTimersByTime(10);
      while ((answered.get(socket) ?? 0) < historyAsks(socket).length) {
        answered.set(socket, (answered.get(socket) ?? 0) + 1);
        socket.receive(answer());
      }
    }
  }

  it(`asks at most ${HISTORY_MAX_ASKS} times for a frame numbered beyond history, then one gap, and goes on`, () => {
    const { room, gaps } = joinedAt(5, { reorderWaitMs: 300 });
    fake.last().receive(msg(40));
    // A wait before each request, and one after the last answer: then the hole is given up.
    answerFor(fake.last(), (HISTORY_MAX_ASKS + 1) * 300 - 10, () => history('lobby', 5, []));
    expect(gaps).toEqual([]);
    answerFor(fake.last(), 10, () => history('lobby', 5, []));
    expect(gaps).toHaveLength(1);
    answerFor(fake.last(), 10_000, () => history('lobby', 5, []));
    expect(historyAsks(fake.last())).toHaveLength(HISTORY_MAX_ASKS);
    expect(gaps).toEqual([{ room: 'lobby', after: 5, before: 40 }]);
    expect(room()).toEqual([40]);
    fake.last().receive(msg(41));
    jest.advanceTimersByTime(10_000);
    expect(room()).toEqual([40, 41]);
    expect(historyAsks(fake.last())).toHaveLength(HISTORY_MAX_ASKS);
  });

  it("comes back to the room's own count when it goes on below the frame beyond history: a reset", () => {
    const { room, gaps, resets } = joinedAt(5, { reorderWaitMs: 300 });
    fake.last().receive(msg(40));
    answerFor(fake.last(), 2_000, () => history('lobby', 5, []));
    expect(gaps).toEqual([{ room: 'lobby', after: 5, before: 40 }]);
    fake.last().receive(msg(6)); // taken for a repeat at first, so asked about
    expect(historyAsks(fake.last()).at(-1)).toMatchObject({ after: 40 });
    fake.last().receive(history('lobby', 6, []));
    expect(resets).toEqual([{ room: 'lobby', previous: 40, latest: 6 }]);
    expect(historyAsks(fake.last()).at(-1)).toMatchObject({ after: 5 }); // where it was before 40
    fake.last().receive(history('lobby', 6, [msg(6)]));
    fake.last().receive(msg(7));
    expect(room()).toEqual([40, 6, 7]);
    expect(historyAsks(fake.last())).toHaveLength(HISTORY_MAX_ASKS + 2);
  });

  it(`gives up on history that never answers after ${HISTORY_MAX_ASKS} requests, and goes on`, () => {
    const { room, gaps } = joinedAt(0, { reorderWaitMs: 10 });
    fake.last().receive(msg(1));
    fake.last().receive(msg(3));
    jest.advanceTimersByTime(10 + HISTORY_MAX_ASKS * HISTORY_TIMEOUT_MS);
    expect(historyAsks(fake.last())).toHaveLength(HISTORY_MAX_ASKS);
    expect(gaps).toEqual([{ room: 'lobby', after: 1, before: 3 }]);
    expect(room()).toEqual([1, 3]);
    jest.advanceTimersByTime(10 * HISTORY_TIMEOUT_MS);
    expect(historyAsks(fake.last())).toHaveLength(HISTORY_MAX_ASKS);
  });

  it('ends an unanswered catch-up after a reconnect in a gap up to the number `joined` said', () => {
    const { room, gaps } = joinedAt(0);
    fake.last().receive(msg(1));
    fake.last().receive(msg(2));
    const next = reconnect(fake);
    next.receive({ type: 'joined', room: 'lobby', seq: 5 });
    jest.advanceTimersByTime(HISTORY_MAX_ASKS * HISTORY_TIMEOUT_MS);
    expect(historyAsks(next)).toHaveLength(HISTORY_MAX_ASKS);
    expect(gaps).toEqual([{ room: 'lobby', after: 2, before: 6 }]);
    next.receive(msg(6));
    expect(room()).toEqual([1, 2, 6]);
  });

  it('bounds the requests of each hole, not of the room: a hole filled leaves the next one its own', () => {
    const { room, gaps } = joinedAt(0, { reorderWaitMs: 10 });
    fake.last().receive(msg(2));
    jest.advanceTimersByTime(10);
    jest.advanceTimersByTime(HISTORY_TIMEOUT_MS); // the first request is lost; the second is answered
    fake.last().receive(history('lobby', 2, [msg(1), msg(2)]));
    expect(room()).toEqual([1, 2]);
    fake.last().receive(msg(4));
    jest.advanceTimersByTime(10 + (HISTORY_MAX_ASKS - 1) * HISTORY_TIMEOUT_MS);
    fake.last().receive(history('lobby', 4, [msg(3), msg(4)]));
    expect(room()).toEqual([1, 2, 3, 4]);
    expect(gaps).toEqual([]);
    expect(historyAsks(fake.last())).toHaveLength(2 + HISTORY_MAX_ASKS);
  });
});
