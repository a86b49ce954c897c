/**
 * The typed client on the fake WebSocket, as the unit tests of its room delivery drive it:
 * numbered room frames and `history` answers to feed it, and what it handed the app (frames,
 * gaps, resets) and asked the service (history requests) to check.
 */
import { RealtimeClient } from '../../../client';
import type { ClientEvents, RealtimeClientOptions, ServerMessage } from '../../../client';
import { fakeWebSocket } from '../stand-ins/fake-websocket';
import type { FakeSocket } from '../stand-ins/fake-websocket';

type Fake = ReturnType<typeof fakeWebSocket>;

export const URL = 'ws://service.test';

/**
 * For each test of the file: jest's fake clock, a fake WebSocket class of its own (handed to
 * `use`) and a fixed jitter (Math.random at 0.5), all undone after it.
 */
export function useFakeSockets(use: (fake: Fake) => void): void {
  beforeEach(() => {
    jest.useFakeTimers();
    use(fakeWebSocket());
    jest.spyOn(Math, 'random').mockReturnValue(0.5);
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });
}

/** A client on `fake`, and what its app was handed. */
export function roomClient(fake: Fake, options: Partial<RealtimeClientOptions> = {}) {
  const c = new RealtimeClient({ url: URL, WebSocket: fake.WebSocket, heartbeatMs: 0, ...options });
  const messages: ServerMessage[] = [];
  const gaps: ClientEvents['gap'][] = [];
  const resets: ClientEvents['reset'][] = [];
  c.on('message', (m) => messages.push(m));
  c.on('gap', (g) => gaps.push(g));
  c.on('reset', (r) => resets.push(r));
  /** The seq of each `message` frame of the room the app got, in the order it got them. */
  const room = (name = 'lobby') =>
    messages.filter((m) => m.type === 'message' && m.room === name).map((m) => (m as { seq?: number }).seq);
  /** The data of each of those frames (which count a frame was of, where the numbers repeat). */
  const data = (name = 'lobby') =>
    messages.filter((m) => m.type === 'message' && m.room === name).map((m) => (m as { data?: unknown }).data);
  return { c, messages, gaps, resets, room, data };
}

/** A client open and joined to `lobby`, whose `joined` said `seq`. */
export function joinedAt(fake: Fake, seq: number, options: Partial<RealtimeClientOptions> = {}) {
  const made = roomClient(fake, options);
  made.c.join('lobby');
  made.c.connect();
  fake.last().open();
  fake.last().receive({ type: 'joined', room: 'lobby', seq });
  return made;
}

/** A room message numbered `seq`; its data is its id, so that two counts' frames tell apart. */
export function msg(seq: number, room = 'lobby', id = `m-${room}-${seq}`) {
  return {
    type: 'message',
    id,
    seq,
    room,
    from: null,
    connectionId: 'sender=',
    origin: 'client',
    sentAt: 1,
    data: id === `m-${room}-${seq}` ? seq : id,
  } as const;
}

export function history(
  room: string,
  latest: number,
  messages: unknown[],
  extra: { more?: boolean; gap?: boolean } = {},
) {
  return { type: 'history', room, latest, messages, more: extra.more ?? false, gap: extra.gap ?? false };
}

/** The history requests the client sent on a socket. */
export const historyAsks = (socket: FakeSocket) => socket.commands().filter((m) => m.action === 'history');

/** The connection drops and the client's retry opens the next one (not yet joined). */
export function reconnect(fake: Fake): FakeSocket {
  fake.last().drop();
  jest.runOnlyPendingTimers();
  const next = fake.last();
  next.open();
  return next;
}
