/**
 * join(room, { backlog: n }) (client/rooms.ts through client/index.ts) with a fake WebSocket:
 * the room's last n frames before the join, then the live ones, each once and in seq order,
 * with nothing lost between them however the live frames and the backlog's answer interleave.
 */
import type { RealtimeClientOptions } from '../../client';
import type { fakeWebSocket } from '../support/stand-ins/fake-websocket';
import { history, historyAsks, msg, reconnect, roomClient, useFakeSockets } from '../support/harnesses/room-client';

let fake: ReturnType<typeof fakeWebSocket>;
useFakeSockets((made) => (fake = made));

/** A client that joined `lobby` with `backlog` and is open; its join not answered yet. */
function joining(backlog: number, options: Partial<RealtimeClientOptions> = {}) {
  const made = roomClient(fake, options);
  made.c.join('lobby', { backlog });
  made.c.connect();
  fake.last().open();
  return made;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The room's history answer holding frames `from` to `to`, the room's last number being `latest`. */
const kept = (latest: number, from: number, to: number, extra: { more?: boolean; gap?: boolean } = {}) =>
  history(
    'lobby',
    latest,
    range(from, to).map((n) => msg(n)),
    extra,
  );

describe('join with a backlog', () => {
  it("hands over the room's last n frames, then the live ones, each once, in seq order", () => {
    const { room, gaps } = joining(5);
    fake.last().receive(msg(11)); // live, before `joined`
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 10 });
    expect(historyAsks(fake.last())).toEqual([{ action: 'history', room: 'lobby', after: 5, limit: 1000 }]);
    fake.last().receive(msg(12)); // live, while the backlog is read
    fake.last().receive(kept(12, 6, 12));
    fake.last().receive(msg(13));
    fake.last().receive(msg(12)); // a repeat
    expect(room()).toEqual(range(6, 13));
    expect(gaps).toEqual([]);
  });

  it('reads a backlog longer than one answer (`more`) before the live frames', () => {
    const { room } = joining(6);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 20 });
    fake.last().receive(msg(21));
    fake.last().receive(kept(21, 15, 17, { more: true }));
    expect(room()).toEqual([15, 16, 17]);
    expect(historyAsks(fake.last()).at(-1)).toMatchObject({ after: 17 });
    fake.last().receive(kept(21, 18, 21));
    expect(room()).toEqual(range(15, 21));
  });

  it('gives what the room has when it has fewer than n (from its first frame)', () => {
    const { room } = joining(50);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 3 });
    expect(historyAsks(fake.last())).toEqual([expect.objectContaining({ after: 0 })]);
    fake.last().receive(kept(3, 1, 3));
    expect(room()).toEqual([1, 2, 3]);
  });

  it("is no gap where history no longer keeps the backlog's oldest frames: it starts at the oldest kept", () => {
    const { room, gaps } = joining(100);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 500 });
    fake.last().receive(kept(500, 481, 500, { gap: true }));
    expect(room()).toEqual(range(481, 500));
    expect(gaps).toEqual([]);
  });

  it('still reports a gap that opens after the backlog started', () => {
    const { room, gaps } = joining(10);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 30 });
    fake.last().receive(kept(30, 21, 24, { more: true }));
    fake.last().receive(kept(30, 27, 30, { gap: true }));
    expect(room()).toEqual([21, 22, 23, 24, 27, 28, 29, 30]);
    expect(gaps).toEqual([{ room: 'lobby', after: 24, before: 27 }]);
  });

  it('asks nothing for an empty room, and starts with the live frames', () => {
    const { room } = joining(10);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 0 });
    fake.last().receive(msg(1));
    expect(historyAsks(fake.last())).toEqual([]);
    expect(room()).toEqual([1]);
  });

  it('is asked again on the next connection when the first dropped before its answer, and not repeated after', () => {
    const { room } = joining(3);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 9 });
    const next = reconnect(fake);
    next.receive({ type: 'joined', room: 'lobby', seq: 10 });
    expect(historyAsks(next)).toEqual([expect.objectContaining({ after: 6 })]);
    next.receive(kept(10, 7, 10));
    expect(room()).toEqual([7, 8, 9, 10]);
    const third = reconnect(fake);
    third.receive({ type: 'joined', room: 'lobby', seq: 10 });
    expect(historyAsks(third)).toEqual([]);
  });

  it('applies to a first join only: joining a room the client is in changes nothing', () => {
    const { c, room } = joining(0);
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 8 });
    c.join('lobby', { backlog: 5 });
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 8 });
    fake.last().receive(msg(9));
    expect(historyAsks(fake.last())).toEqual([]);
    expect(room()).toEqual([9]);
  });

  it('throws RangeError for a backlog that is not a whole number >= 0, and joins nothing', () => {
    const { c } = roomClient(fake);
    for (const backlog of [-1, 1.5, NaN]) expect(() => c.join('lobby', { backlog })).toThrow(RangeError);
    expect([...c.rooms]).toEqual([]);
  });
});
