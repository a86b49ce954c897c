/**
 * The client (client/index.ts) with a fake WebSocket and jest's fake clock: reconnect with
 * full jitter, giving up, rejoining, the heartbeat, the token provider, the send queue and
 * the parsing of what the service sends.
 */
import {
  ClientClosedError,
  ClientFrameError,
  ClientQueueFullError,
  ClientSocketError,
  ClientTokenError,
  ClientUnsentError,
  HEARTBEAT_CLOSE_CODE,
  RealtimeClient,
} from '../../client';
import type { ClientEvents, RealtimeClientOptions, ServerMessage } from '../../client';
import { backoffDelay, backoffSettings } from '../../client/backoff';
import { fakeWebSocket } from '../support/stand-ins/fake-websocket';
import type { FakeSocket } from '../support/stand-ins/fake-websocket';

const URL = 'ws://service.test';

let fake: ReturnType<typeof fakeWebSocket>;
let random: jest.SpyInstance;

beforeEach(() => {
  jest.useFakeTimers();
  fake = fakeWebSocket();
  random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
});

afterEach(() => {
  random.mockRestore();
  jest.useRealTimers();
});

/** A client on the fake WebSocket, and every event it emitted, in order. */
function client(options: Partial<RealtimeClientOptions> = {}) {
  const instance = new RealtimeClient({ url: URL, WebSocket: fake.WebSocket, ...options });
  const events: { name: keyof ClientEvents; event: unknown }[] = [];
  for (const name of ['open', 'close', 'reconnecting', 'message', 'error'] as const) {
    instance.on(name, (event: unknown) => events.push({ name, event }));
  }
  const of = <K extends keyof ClientEvents>(name: K) =>
    events.filter((e) => e.name === name).map((e) => e.event as ClientEvents[K]);
  return { client: instance, events, of };
}

/** Lets the token provider's promise settle (the clock does not move). */
const settle = () => jest.advanceTimersByTimeAsync(0);

describe('backoffDelay', () => {
  const settings = backoffSettings({ initialDelayMs: 100, maxDelayMs: 1_000 });

  it('doubles the cap per attempt up to maxDelayMs, and picks uniformly below it (full jitter)', () => {
    const almostOne = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 50, 5_000].map((n) => backoffDelay(n, settings, almostOne))).toEqual([
      99, 199, 399, 799, 999, 999, 999, 999,
    ]);
    expect([1, 4, 5_000].map((n) => backoffDelay(n, settings, () => 0))).toEqual([0, 0, 0]);
    expect(backoffDelay(3, settings, () => 0.25)).toBe(100);
  });

  it('refuses settings that cannot be a delay', () => {
    expect(() => backoffSettings({ initialDelayMs: -1 })).toThrow(RangeError);
    expect(() => backoffSettings({ maxDelayMs: Number.NaN })).toThrow(RangeError);
    expect(() => backoffSettings({ initialDelayMs: 2_000, maxDelayMs: 1_000 })).toThrow(RangeError);
  });
});

describe('connecting', () => {
  it('opens one socket however often connect() is called, and says open', () => {
    const { client: c, of } = client();
    expect(c.state).toBe('idle');
    c.connect();
    c.connect();
    expect(fake.sockets).toHaveLength(1);
    expect(c.state).toBe('connecting');
    fake.last().open();
    c.connect();
    expect(fake.sockets).toHaveLength(1);
    expect(c.state).toBe('open');
    expect(of('open')).toHaveLength(1);
  });

  it('uses the global WebSocket when none is passed, and says so when there is none', () => {
    const global = globalThis as { WebSocket?: unknown };
    const before = global.WebSocket;
    try {
      global.WebSocket = fake.WebSocket;
      new RealtimeClient({ url: URL }).connect();
      expect(fake.sockets).toHaveLength(1);
      delete global.WebSocket;
      expect(() => new RealtimeClient({ url: URL })).toThrow(/no global WebSocket/);
    } finally {
      global.WebSocket = before;
    }
  });
});

describe('reconnecting', () => {
  it('waits a jittered delay that doubles per attempt up to maxDelayMs, opening no socket before it', () => {
    const { client: c, of } = client({ reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 } });
    c.connect();
    fake.last().open();
    fake.last().drop(1001, 'going away');
    expect(c.state).toBe('reconnecting');
    expect(of('close')).toEqual([{ code: 1001, reason: 'going away', willReconnect: true, wasOpen: true }]);

    for (const expected of [50, 100, 200, 400, 500, 500]) {
      const made = fake.sockets.length;
      expect(of('reconnecting').at(-1)?.delayMs).toBe(expected);
      jest.advanceTimersByTime(expected - 1);
      expect(fake.sockets).toHaveLength(made);
      jest.advanceTimersByTime(1);
      expect(fake.sockets).toHaveLength(made + 1);
      fake.last().drop();
    }
    expect(of('reconnecting').map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(random).toHaveBeenCalledTimes(7);
  });

  it('takes the delay from Math.random across the whole range [0, cap)', () => {
    const { client: c, of } = client({ reconnect: { initialDelayMs: 1_000, maxDelayMs: 1_000 } });
    random.mockReturnValueOnce(0).mockReturnValueOnce(0.999);
    c.connect();
    fake.last().drop();
    jest.advanceTimersByTime(0);
    fake.last().drop();
    expect(of('reconnecting').map((e) => e.delayMs)).toEqual([0, 999]);
  });

  it('gives up after maxAttempts failed retries in a row: closed, and no socket after that', () => {
    const { client: c, of } = client({ reconnect: { initialDelayMs: 10, maxDelayMs: 10, maxAttempts: 2 } });
    c.connect();
    fake.last().drop();
    jest.runOnlyPendingTimers();
    fake.last().drop();
    jest.runOnlyPendingTimers();
    fake.last().drop();
    expect(c.state).toBe('closed');
    expect(of('close').map((e) => e.willReconnect)).toEqual([true, true, false]);
    expect(of('reconnecting')).toHaveLength(2);
    jest.advanceTimersByTime(60_000);
    expect(fake.sockets).toHaveLength(3);
    expect(() => c.sendmessage('late')).toThrow(ClientClosedError);
  });

  it('never retries with maxAttempts 0', () => {
    const { client: c, of } = client({ reconnect: { maxAttempts: 0 } });
    c.connect();
    fake.last().open();
    fake.last().drop(1001, '');
    expect(c.state).toBe('closed');
    expect(of('close')).toEqual([{ code: 1001, reason: '', willReconnect: false, wasOpen: true }]);
  });

  it('counts attempts from 1 again only after a connection stayed open stableAfterMs', () => {
    const { client: c, of } = client({ reconnect: { initialDelayMs: 100, maxAttempts: 5, stableAfterMs: 1_000 } });
    c.connect();
    fake.last().drop();
    jest.advanceTimersByTime(50);
    fake.last().drop();
    jest.advanceTimersByTime(100);
    fake.last().open();
    jest.advanceTimersByTime(1_000);
    fake.last().drop();
    expect(of('reconnecting').map((e) => [e.attempt, e.delayMs])).toEqual([
      [1, 50],
      [2, 100],
      [1, 50],
    ]);
  });

  it('keeps counting when every connection is dropped right after it opened: the delays grow to maxDelayMs', () => {
    const { client: c, of } = client({ reconnect: { initialDelayMs: 100, maxDelayMs: 800, stableAfterMs: 1_000 } });
    c.connect();
    for (let i = 0; i < 6; i++) {
      fake.last().open();
      jest.advanceTimersByTime(10);
      fake.last().drop();
      jest.runOnlyPendingTimers();
    }
    // Math.random is 0.5 here: half of each cap
    expect(of('reconnecting').map((e) => [e.attempt, e.delayMs])).toEqual([
      [1, 50],
      [2, 100],
      [3, 200],
      [4, 400],
      [5, 400],
      [6, 400],
    ]);
  });

  it('retries a refused handshake (403) with growing delays, reporting it as an error and a close that never opened', () => {
    const { client: c, of } = client({ reconnect: { initialDelayMs: 100, maxAttempts: 2 } });
    c.connect();
    fake.last().refuse(403);
    jest.runOnlyPendingTimers();
    fake.last().refuse(403);
    jest.runOnlyPendingTimers();
    fake.last().refuse(403);
    const errors = of('error');
    expect(errors).toHaveLength(3);
    expect(errors[0]).toBeInstanceOf(ClientSocketError);
    expect(errors[0]?.message).toBe('Unexpected server response: 403');
    expect(of('close').map((e) => [e.wasOpen, e.willReconnect])).toEqual([
      [false, true],
      [false, true],
      [false, false],
    ]);
    expect(of('reconnecting').map((e) => e.delayMs)).toEqual([50, 100]);
    expect(c.state).toBe('closed');
  });

  it('rejoins its rooms on the new connection before sending what was queued', () => {
    const { client: c } = client();
    c.connect();
    fake.last().open();
    c.join('red');
    c.join('blue');
    c.join('green');
    c.leave('blue');
    fake.last().drop();
    void c.publish('red', { n: 1 });
    jest.runOnlyPendingTimers();
    expect(fake.last().sent).toEqual([]);
    fake.last().open();
    expect(fake.last().commands()).toEqual([
      { action: 'join', room: 'red' },
      { action: 'join', room: 'green' },
    ]);
    // A publish to a room waits for the room's join to be answered on this connection.
    fake.last().receive({ type: 'joined', room: 'red', seq: 0 });
    expect(fake.last().commands().at(-1)).toEqual({ action: 'publish', room: 'red', data: { n: 1 }, ref: 'r1' });
    expect([...c.rooms]).toEqual(['red', 'green']);
  });

  it('queues no join or leave while not open: the rooms remembered are joined on open, once', () => {
    const { client: c } = client({ queueLimit: 0 });
    c.join('red');
    c.join('red');
    c.join('blue');
    c.leave('blue');
    c.connect();
    fake.last().open();
    expect(fake.last().commands()).toEqual([{ action: 'join', room: 'red' }]);
  });

  it('does not reconnect after close(), even from a pending retry', () => {
    const { client: c, of } = client();
    c.connect();
    fake.last().drop();
    c.close();
    jest.advanceTimersByTime(120_000);
    expect(fake.sockets).toHaveLength(1);
    expect(c.state).toBe('closed');
    expect(of('close').at(-1)).toEqual({
      code: 1000,
      reason: 'closed by the client',
      willReconnect: false,
      wasOpen: false,
    });
  });

  it('closes the open socket on close() and ignores whatever it does after', () => {
    const { client: c, of } = client();
    c.connect();
    const socket = fake.last();
    socket.open();
    c.close();
    expect(socket.closedWith).toEqual({ code: 1000, reason: 'closed by the client' });
    socket.receive({ type: 'pong', at: 1 });
    socket.drop();
    expect(of('message')).toEqual([]);
    expect(of('close')).toHaveLength(1);
    jest.advanceTimersByTime(120_000);
    expect(fake.sockets).toHaveLength(1);
  });

  it('survives the error ws emits for a socket closed while still connecting, and does not report it', () => {
    const { client: c, of } = client();
    c.connect();
    const socket = fake.last();
    c.close();
    expect(() => socket.error('WebSocket was closed before the connection was established')).not.toThrow();
    socket.drop();
    expect(of('error')).toEqual([]);
    expect(of('close')).toHaveLength(1);
  });

  it('starts afresh on connect() after it was closed', () => {
    const { client: c } = client();
    c.connect();
    fake.last().open();
    c.close();
    c.connect();
    expect(fake.sockets).toHaveLength(2);
    fake.last().open();
    expect(c.state).toBe('open');
  });
});

describe('heartbeat', () => {
  const pings = (socket: FakeSocket) => socket.commands().filter((m) => m.action === 'ping').length;

  /** Moves the clock `ms` ahead, the service answering each ping as it does (`pong`). */
  function answeringPings(socket: FakeSocket, ms: number): void {
    for (let step = 0; step < ms; step += 100) {
      const before = pings(socket);
      jest.advanceTimersByTime(100);
      if (pings(socket) > before) socket.receive({ type: 'pong', at: Date.now() });
    }
  }

  it('pings every heartbeatMs while open, and stops when the connection drops or is closed', () => {
    const { client: c } = client({ heartbeatMs: 1_000, reconnect: { initialDelayMs: 10_000, maxDelayMs: 10_000 } });
    c.connect();
    const first = fake.last();
    jest.advanceTimersByTime(5_000);
    expect(pings(first)).toBe(0); // not open yet
    first.open();
    answeringPings(first, 3_500);
    expect(pings(first)).toBe(3);
    first.drop();
    jest.advanceTimersByTime(4_999); // the retry is due at 5,000 ms (random 0.5)
    expect(pings(first)).toBe(3);
    jest.advanceTimersByTime(1);
    const second = fake.last();
    second.open();
    answeringPings(second, 2_000);
    expect(pings(second)).toBe(2);
    c.close();
    jest.advanceTimersByTime(10_000);
    expect(pings(second)).toBe(2);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('closes a connection that sent nothing back between two pings, and reconnects', () => {
    const { client: c, of } = client({ heartbeatMs: 1_000, reconnect: { initialDelayMs: 100 } });
    c.connect();
    const socket = fake.last();
    socket.open();
    jest.advanceTimersByTime(1_000);
    expect(pings(socket)).toBe(1);
    jest.advanceTimersByTime(999);
    expect(of('close')).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(socket.closedWith).toEqual({ code: HEARTBEAT_CLOSE_CODE, reason: 'no answer to the heartbeat' });
    expect(of('close')).toEqual([
      { code: HEARTBEAT_CLOSE_CODE, reason: 'no answer to the heartbeat', willReconnect: true, wasOpen: true },
    ]);
    expect(c.state).toBe('reconnecting');
    socket.drop(); // its own close event, later: already dealt with
    expect(of('close')).toHaveLength(1);
    jest.advanceTimersByTime(50);
    expect(fake.sockets).toHaveLength(2);
  });

  it('takes any frame, not only a pong, as a sign of life', () => {
    const { client: c, of } = client({ heartbeatMs: 1_000 });
    c.connect();
    const socket = fake.last();
    socket.open();
    for (let n = 0; n < 5; n += 1) {
      jest.advanceTimersByTime(1_000);
      socket.receive(n % 2 === 0 ? { type: 'joined', room: 'r' } : '{"not a frame"');
    }
    expect(pings(socket)).toBe(5);
    expect(of('close')).toEqual([]);
    expect(c.state).toBe('open');
  });

  it('defaults to one ping every 5 minutes, and none with heartbeatMs 0', () => {
    const { client: c } = client();
    c.connect();
    fake.last().open();
    jest.advanceTimersByTime(5 * 60_000 - 1);
    expect(pings(fake.last())).toBe(0);
    jest.advanceTimersByTime(1);
    expect(pings(fake.last())).toBe(1);

    const { client: quiet } = client({ heartbeatMs: 0 });
    quiet.connect();
    fake.last().open();
    jest.advanceTimersByTime(60 * 60_000);
    expect(pings(fake.last())).toBe(0);
  });
});

describe('token provider', () => {
  it('is called before every connect, and each connection uses the token it gave, URL-encoded', async () => {
    let n = 0;
    const token = jest.fn(async () => `token ${++n}&x=/`);
    const { client: c } = client({ token, reconnect: { initialDelayMs: 10 } });
    c.connect();
    expect(fake.sockets).toHaveLength(0); // waits for the token
    await settle();
    expect(fake.last().url).toBe(`${URL}?token=token%201%26x%3D%2F`);
    fake.last().open();
    fake.last().drop();
    await jest.advanceTimersByTimeAsync(10);
    expect(token).toHaveBeenCalledTimes(2);
    expect(fake.last().url).toBe(`${URL}?token=token%202%26x%3D%2F`);
  });

  it('appends the token to a URL that has a query already, and sends none when there is none', async () => {
    const tokens = ['abc', undefined];
    const { client: c } = client({
      url: `${URL}/dev?x=1`,
      token: () => tokens.shift(),
      reconnect: { initialDelayMs: 10 },
    });
    c.connect();
    await settle();
    expect(fake.last().url).toBe(`${URL}/dev?x=1&token=abc`);
    fake.last().drop();
    await jest.advanceTimersByTimeAsync(10);
    expect(fake.last().url).toBe(`${URL}/dev?x=1`);
  });

  it('that fails is an error event and a retry with backoff, not a crash', async () => {
    const token = jest
      .fn<Promise<string>, []>()
      .mockRejectedValueOnce(new Error('identity provider down'))
      .mockImplementationOnce(() => {
        throw new Error('thrown, not rejected');
      })
      .mockResolvedValue('fresh');
    const { client: c, of } = client({ token, reconnect: { initialDelayMs: 100 } });
    c.connect();
    await settle();
    expect(fake.sockets).toHaveLength(0);
    expect(c.state).toBe('reconnecting');
    const [first] = of('error');
    expect(first).toBeInstanceOf(ClientTokenError);
    expect((first as ClientTokenError).cause).toEqual(new Error('identity provider down'));
    expect(of('close')).toEqual([
      { code: 1006, reason: 'the token provider failed', willReconnect: true, wasOpen: false },
    ]);
    await jest.advanceTimersByTimeAsync(50);
    expect(of('error')).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(100);
    expect(token).toHaveBeenCalledTimes(3);
    expect(fake.last().url).toBe(`${URL}?token=fresh`);
  });

  it('whose token arrives after close() opens nothing', async () => {
    let resolve: (token: string) => void = () => undefined;
    const { client: c } = client({ token: () => new Promise<string>((r) => (resolve = r)) });
    c.connect();
    c.close();
    resolve('late');
    await settle();
    expect(fake.sockets).toHaveLength(0);
  });
});

describe('sending', () => {
  it('sends the echo, summary and ephemeral options with the message they are for', () => {
    const { client: c } = client();
    c.connect();
    fake.last().open();
    c.sendmessage('all', { echo: false });
    c.send({ user: 'alice' }, 'a', { summary: false });
    c.publish('lobby', { typing: true }, { ephemeral: true, echo: false, summary: false });
    expect(fake.last().commands()).toEqual([
      { action: 'sendmessage', data: 'all', echo: false },
      { action: 'send', user: 'alice', data: 'a', summary: false },
      { action: 'publish', room: 'lobby', data: { typing: true }, ephemeral: true, echo: false, summary: false },
    ]);
  });

  it('hands an ephemeral room message (no seq) to the app at once, never held for ordering', () => {
    const { client: c, of } = client();
    c.join('lobby');
    c.connect();
    fake.last().open();
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 5 });
    const typing = {
      type: 'message',
      id: 'typing0000000000',
      room: 'lobby',
      ephemeral: true,
      from: null,
      connectionId: 'abc=',
      origin: 'client',
      sentAt: 1,
      data: { typing: true },
    };
    fake.last().receive(typing);
    expect(of('message').filter((m) => m.type === 'message')).toEqual([typing]);
    // a frame that says ephemeral with something other than true is no frame of the service's
    fake.last().receive({ ...typing, id: 'typing0000000001', ephemeral: 'yes' });
    expect(of('message').filter((m) => m.type === 'message')).toHaveLength(1);
  });

  it('sends each typed command as the protocol spells it', () => {
    const { client: c } = client();
    c.connect();
    fake.last().open();
    c.sendmessage({ text: 'hi' });
    c.send({ user: 'alice' }, 'to alice');
    c.send({ connectionId: 'abc=' }, 'to one');
    c.join('lobby');
    fake.last().receive({ type: 'joined', room: 'lobby', seq: 0 });
    void c.publish('lobby', [1, 2]);
    c.members('lobby');
    c.list();
    c.ping();
    c.leave('lobby');
    expect(fake.last().commands()).toEqual([
      { action: 'sendmessage', data: { text: 'hi' } },
      { action: 'send', user: 'alice', data: 'to alice' },
      { action: 'send', connectionId: 'abc=', data: 'to one' },
      { action: 'join', room: 'lobby' },
      { action: 'publish', room: 'lobby', data: [1, 2], ref: 'r1' },
      { action: 'members', room: 'lobby' },
      { action: 'list' },
      { action: 'ping' },
      { action: 'leave', room: 'lobby' },
    ]);
  });

  it('queues while not open and sends the queue in order on open, then the publishes it held', () => {
    const { client: c } = client();
    c.sendmessage(1);
    c.connect();
    void c.publish('r', 2);
    c.list();
    fake.last().open();
    expect(fake.last().commands()).toEqual([
      { action: 'sendmessage', data: 1 },
      { action: 'list' },
      { action: 'publish', room: 'r', data: 2, ref: 'r1' },
    ]);
    c.sendmessage(3);
    expect(fake.last().commands().at(-1)).toEqual({ action: 'sendmessage', data: 3 });
  });

  it('refuses a message beyond queueLimit with ClientQueueFullError, keeping the ones it took', () => {
    const { client: c } = client({ queueLimit: 2 });
    c.sendmessage('a');
    c.sendmessage('b');
    let refusal: unknown;
    try {
      c.sendmessage('c');
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ClientQueueFullError);
    expect(refusal).toMatchObject({ name: 'ClientQueueFullError', limit: 2 });
    c.connect();
    fake.last().open();
    expect(
      fake
        .last()
        .commands()
        .map((m) => m.data),
    ).toEqual(['a', 'b']);
  });

  it('refuses everything with queueLimit 0 while not open', () => {
    const { client: c } = client({ queueLimit: 0 });
    expect(() => c.ping()).toThrow(ClientQueueFullError);
    c.connect();
    fake.last().open();
    c.ping();
    expect(fake.last().commands()).toEqual([{ action: 'ping' }]);
  });

  it('queues rather than hand a message to a socket that is closing (a browser would drop it)', () => {
    const { client: c } = client();
    c.connect();
    const socket = fake.last();
    socket.open();
    socket.readyState = 2; // CLOSING: the close event is still to come
    c.sendmessage('kept');
    expect(socket.sent).toEqual([]);
    socket.drop();
    jest.runOnlyPendingTimers();
    fake.last().open();
    expect(fake.last().commands()).toEqual([{ action: 'sendmessage', data: 'kept' }]);
  });

  it('refuses with ClientClosedError after close(), and reports what was queued as unsent', () => {
    const { client: c, of } = client();
    c.connect();
    c.sendmessage('queued');
    c.close();
    for (const call of [
      () => c.sendmessage('x'),
      () => c.join('r'),
      () => c.leave('r'),
      () => c.ping(),
      () => c.send({ user: 'u' }, 1),
    ]) {
      expect(call).toThrow(ClientClosedError);
    }
    const [unsent] = of('error');
    expect(unsent).toBeInstanceOf(ClientUnsentError);
    expect((unsent as ClientUnsentError).unsent).toEqual(['{"action":"sendmessage","data":"queued"}']);
  });

  it('reports the queue as unsent when it gives up reconnecting', () => {
    const { client: c, of } = client({ reconnect: { maxAttempts: 0 } });
    c.connect();
    c.publish('r', 'lost');
    fake.last().refuse();
    expect(of('error').map((e) => e.name)).toEqual(['ClientSocketError', 'ClientUnsentError']);
  });
});

describe('receiving', () => {
  it('emits every frame the service sends as a typed message', () => {
    const { client: c, of } = client();
    c.join('lobby');
    c.connect();
    fake.last().open();
    const frames: ServerMessage[] = [
      { type: 'joined', room: 'lobby', seq: 0 },
      {
        type: 'message',
        id: 'm1',
        seq: 1,
        room: 'lobby',
        from: null,
        connectionId: 'a=',
        origin: 'client',
        sentAt: 5,
        data: { x: 1 },
      },
      { type: 'message', id: 'm2', from: null, origin: 'server', sentAt: 6, data: null },
      {
        type: 'presence',
        id: 'p1',
        seq: 2,
        room: 'lobby',
        event: 'leave',
        connectionId: 'b=',
        from: 'bob',
        reason: 'disconnect',
      },
      { type: 'error', code: 'too_many_rooms', message: 'no' },
    ];
    for (const frame of frames) fake.last().receive(frame);
    expect(of('message')).toEqual(frames);
    expect(of('error')).toEqual([]);
  });

  it("hands over a sharded delivery's queued and done summaries, which share the message's id, and drops a repeat of either", () => {
    const { client: c, of } = client();
    c.connect();
    fake.last().open();
    const counts = { recipients: 3, sent: 0, stale: 0, failed: 0, unsent: 0 };
    const queued = { type: 'delivery', id: 'm1', state: 'queued', deliveryId: 'd1', shards: 2, ...counts };
    const done = { ...queued, state: 'done', sent: 3 };
    for (const frame of [queued, queued, done, done]) fake.last().receive(frame);
    expect(of('message')).toEqual([queued, done]);
    expect(c.state).toBe('open');
  });

  it.each([
    ['not JSON', '{"type":'],
    ['not an object', '[1,2]'],
    ['of an unknown type', '{"type":"surprise"}'],
    ['without a field its type has', '{"type":"joined"}'],
    ['with a field of the wrong type', '{"type":"pong","at":"noon"}'],
    ['a client message without its sender', '{"type":"message","from":null,"origin":"client","sentAt":1,"data":1}'],
    ['a binary frame', new Uint8Array([1, 2])],
  ])('turns a frame %s into an error event, and keeps going', (_what, frame) => {
    const { client: c, of } = client();
    c.connect();
    fake.last().open();
    expect(() => fake.last().receive(frame)).not.toThrow();
    fake.last().receive({ type: 'pong', at: 1 });
    expect(of('error')).toHaveLength(1);
    expect(of('error')[0]).toBeInstanceOf(ClientFrameError);
    expect(of('message')).toEqual([{ type: 'pong', at: 1 }]);
    expect(c.state).toBe('open');
  });

  it("keeps telling the other listeners when one throws, and rethrows that listener's error on its own", () => {
    const { client: c, of } = client();
    const failure = new Error('listener bug');
    c.on('message', () => {
      throw failure;
    });
    c.connect();
    fake.last().open();
    fake.last().receive({ type: 'pong', at: 1 });
    expect(of('message')).toHaveLength(1);
    expect(() => jest.runOnlyPendingTimers()).toThrow(failure);
  });

  it('stops calling a listener once unsubscribed', () => {
    const { client: c } = client();
    const seen: unknown[] = [];
    const off = c.on('message', (m) => seen.push(m));
    c.connect();
    fake.last().open();
    fake.last().receive({ type: 'pong', at: 1 });
    off();
    fake.last().receive({ type: 'pong', at: 2 });
    expect(seen).toEqual([{ type: 'pong', at: 1 }]);
  });
});
