/**
 * Ids, room numbers and history against the real service (`npm start`'s launcher under
 * serverless-offline, embedded store), with the typed client on Node's `ws`: a reconnect
 * loses nothing and repeats nothing; posts repeated by the management endpoint reach the app
 * once; 40 fast messages reach it in seq order; `history` answers a member as first
 * delivered; a server that accepts and drops every connection gets ever longer gaps.
 */
import { createServer } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { RealtimeClient } from '../../client';
import type { ClientReconnectingEvent, FrameOf, GapEvent, ResetEvent, ServerMessage } from '../../client';
import { TestClient } from '../support/harnesses/client';
import { startDoublingProxy } from '../support/stand-ins/doubling-proxy';
import type { DoublingProxy } from '../support/stand-ins/doubling-proxy';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(120_000);

const WAIT_MS = 20_000;

let service: OfflineService;
let proxy: DoublingProxy;
const clients: RealtimeClient[] = [];
const raw: TestClient[] = [];

async function until(check: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A typed client and what its app was handed; `gate` holds its reconnects until opened. */
function realtime(url = service.url, reconnect = { initialDelayMs: 100, maxDelayMs: 500 }) {
  let gate: Promise<void> = Promise.resolve();
  const client = new RealtimeClient({ url, WebSocket, reconnect, token: () => gate.then(() => undefined) });
  clients.push(client);
  const heard: ServerMessage[] = [];
  const gaps: GapEvent[] = [];
  const resets: ResetEvent[] = [];
  const reconnecting: ClientReconnectingEvent[] = [];
  let opens = 0;
  client.on('message', (m) => heard.push(m));
  client.on('gap', (g) => gaps.push(g));
  client.on('reset', (r) => resets.push(r));
  client.on('reconnecting', (e) => reconnecting.push(e));
  client.on('open', () => (opens += 1));
  const inRoom = (room: string) =>
    heard.filter((m): m is FrameOf<'message'> => m.type === 'message' && m.room === room);
  return {
    client,
    heard,
    gaps,
    resets,
    reconnecting,
    opens: () => opens,
    inRoom,
    hold(): () => void {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return release;
    },
    joined: (room: string) => until(() => heard.some((m) => m.type === 'joined' && m.room === room), `joined ${room}`),
  };
}

async function rawClient(): Promise<TestClient> {
  const made = await TestClient.connect(service.url);
  raw.push(made);
  return made;
}

async function connectionIdOf(client: ReturnType<typeof realtime>): Promise<string> {
  const mark = client.heard.length;
  client.client.list();
  await until(() => client.heard.slice(mark).some((m) => m.type === 'connections'), 'connections');
  return (client.heard.slice(mark).find((m) => m.type === 'connections') as FrameOf<'connections'>).you;
}

beforeAll(async () => {
  proxy = await startDoublingProxy();
  service = await startOffline({ env: { MANAGEMENT_ENDPOINT: proxy.endpoint, PRESENCE_MAX_MEMBERS: '0' } });
  proxy.forwardTo(service.port);
});

afterEach(() => {
  proxy.doubling = false;
});

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.allSettled(raw.map((client) => client.close()));
  await service?.stop();
  await proxy?.close();
});

describe('room messages with the typed client', () => {
  it('hands A exactly the 3 messages B sent while A was cut off, in order, once', async () => {
    const a = realtime();
    const b = realtime();
    a.client.join('cut');
    b.client.join('cut');
    a.client.connect();
    b.client.connect();
    await a.joined('cut');
    await b.joined('cut');

    for (let n = 0; n < 5; n++) b.client.publish('cut', `before ${n}`);
    await until(() => a.inRoom('cut').length === 5, "A's first 5");
    const first = a.inRoom('cut');
    const n0 = first[0]?.seq as number;
    expect(first.map((m) => m.seq)).toEqual([n0, n0 + 1, n0 + 2, n0 + 3, n0 + 4]);
    expect(new Set(first.map((m) => m.id)).size).toBe(5);

    // The service ends A's connection (DeleteConnection, as API Gateway does after 2 hours);
    // A's reconnect waits until B's 3 messages are delivered.
    const release = a.hold();
    const id = await connectionIdOf(a);
    const response = await fetch(`http://localhost:${service.port}/@connections/${encodeURIComponent(id)}`, {
      method: 'DELETE',
    });
    expect(response.status).toBe(204);
    await until(() => a.client.state !== 'open', 'A cut off');
    const summaries = () => b.heard.filter((m) => m.type === 'delivery' && m.room === 'cut').length;
    const before = summaries();
    for (let n = 0; n < 3; n++) b.client.publish('cut', `while away ${n}`);
    await until(() => summaries() === before + 3, "B's 3 deliveries");
    release();

    await until(() => a.inRoom('cut').length === 8, "A's 3 missed messages");
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // nothing more comes
    const after = a.inRoom('cut').slice(5);
    expect(after.map((m) => m.seq)).toEqual([n0 + 5, n0 + 6, n0 + 7]);
    expect(after.map((m) => m.data).sort()).toEqual(['while away 0', 'while away 1', 'while away 2']);
    expect(a.inRoom('cut')).toHaveLength(8);
    expect(a.gaps).toEqual([]);
    expect(a.opens()).toBe(2);
  });

  it('leaves the app no repeat when every post reaches the socket twice', async () => {
    const a = realtime();
    const b = realtime();
    a.client.join('twice');
    b.client.join('twice');
    a.client.connect();
    b.client.connect();
    await a.joined('twice');
    await b.joined('twice');
    const watcher = await rawClient();
    await watcher.request({ action: 'join', room: 'twice' }, 'joined');

    proxy.doubling = true;
    for (let n = 0; n < 5; n++) b.client.publish('twice', n);
    b.client.sendmessage('to everyone');
    await until(() => a.inRoom('twice').length === 5, "A's 5");
    await until(() => a.heard.some((m) => m.type === 'message' && m.data === 'to everyone'), 'the broadcast');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // The socket itself got every frame twice ...
    const frames = watcher.messages.filter((m) => m.type === 'message' && m.room === 'twice');
    expect(frames).toHaveLength(10);
    // ... the app once each, in order.
    const seqs = a.inRoom('twice').map((m) => m.seq as number);
    expect(seqs).toEqual([0, 1, 2, 3, 4].map((i) => (seqs[0] as number) + i));
    expect(a.heard.filter((m) => m.type === 'message' && m.data === 'to everyone')).toHaveLength(1);
  });

  it('hands over 40 fast messages from one sender in seq order', async () => {
    const a = realtime();
    const b = realtime();
    a.client.join('fast');
    b.client.join('fast');
    a.client.connect();
    b.client.connect();
    await a.joined('fast');
    await b.joined('fast');
    for (let n = 0; n < 40; n++) b.client.publish('fast', n);
    await until(() => a.inRoom('fast').length === 40, "A's 40", 60_000);
    const got = a.inRoom('fast');
    const start = got[0]?.seq as number;
    expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => start + i));
    expect(got.map((m) => m.data as number).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });
});

describe('a service whose store is replaced between two connections', () => {
  it("hands A the new count's messages sent while it was away, after a reset event, and what follows", async () => {
    // A service of its own: `npm start` empties its SQLite file at every start, so the one
    // started again on the same ports has a new store, whose room numbers start again at 1.
    const env = { PRESENCE_MAX_MEMBERS: '0' };
    let current: OfflineService | undefined = await startOffline({ env });
    try {
      const first = current;
      const a = realtime(first.url);
      const b = realtime(first.url);
      for (const each of [a, b]) {
        each.client.join('renewed');
        each.client.connect();
        await each.joined('renewed');
      }
      for (let n = 0; n < 3; n++) b.client.publish('renewed', `old ${n}`);
      await until(() => a.inRoom('renewed').length === 3, "A's 3 of the old count");
      const previous = a.inRoom('renewed').at(-1)?.seq as number;

      const release = a.hold(); // A comes back only once B has spoken in the new count
      await first.stop();
      current = undefined;
      await until(() => a.client.state !== 'open' && b.client.state !== 'open', 'both cut off');
      current = await startOffline({ env, ports: first.ports });

      const joins = () => b.heard.filter((m) => m.type === 'joined').length;
      await until(() => joins() === 2, "B's joined on the new store", 30_000);
      const summaries = () => b.heard.filter((m) => m.type === 'delivery' && m.room === 'renewed').length;
      const before = summaries();
      for (let n = 0; n < 2; n++) b.client.publish('renewed', `new ${n}`);
      await until(() => summaries() === before + 2, "B's 2 deliveries in the new count");
      release();

      await until(() => a.inRoom('renewed').length === 5, "the new count's 2 that A missed", 30_000);
      expect(a.resets).toEqual([{ room: 'renewed', previous, latest: 2 }]);
      expect(b.resets).toEqual([{ room: 'renewed', previous, latest: 0 }]);
      b.client.publish('renewed', 'new 2');
      await until(() => a.inRoom('renewed').length === 6, "A's live one of the new count");
      // Messages published together run in parallel: each count's numbers say their order.
      const got = a.inRoom('renewed');
      expect(
        got
          .slice(0, 3)
          .map((m) => m.data as string)
          .sort(),
      ).toEqual(['old 0', 'old 1', 'old 2']);
      expect(
        got
          .slice(3, 5)
          .map((m) => m.data as string)
          .sort(),
      ).toEqual(['new 0', 'new 1']);
      expect(got[5]?.data).toBe('new 2');
      expect(got.map((m) => m.seq)).toEqual([previous - 2, previous - 1, previous, 1, 2, 3]);
      expect(a.gaps).toEqual([]);
    } finally {
      await current?.stop();
    }
  }, 240_000);
});

describe('the history action', () => {
  it('answers a member the frames after a number, as first delivered; refuses a non-member', async () => {
    const member = await rawClient();
    const stranger = await rawClient();
    const joined = await member.request({ action: 'join', room: 'archive' }, 'joined');
    const start = joined.seq as number;
    for (let n = 0; n < 3; n++) await member.request({ action: 'publish', room: 'archive', data: n }, 'delivery');
    const delivered = member.messages.filter((m) => m.type === 'message').sort((x, y) => Number(x.seq) - Number(y.seq));
    expect(delivered).toHaveLength(3);

    const answer = await member.request({ action: 'history', room: 'archive', after: start + 1 }, 'history');
    expect(answer).toEqual({
      type: 'history',
      room: 'archive',
      latest: start + 3,
      messages: delivered.slice(1),
      more: false,
      gap: false,
    });
    const refused = await stranger.request({ action: 'history', room: 'archive' }, 'error');
    expect(refused).toMatchObject({ code: 'not_member', action: 'history', room: 'archive' });
    // the connection stays open and usable
    expect(await stranger.request({ action: 'ping' }, 'pong')).toMatchObject({ type: 'pong' });
  });
});

describe('reconnecting to a server that accepts and drops every connection', () => {
  it('waits ever longer, up to maxDelayMs: the count never starts again on an open', async () => {
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    const accepted: number[] = [];
    wss.on('connection', (socket) => {
      accepted.push(Date.now());
      socket.close(1011, 'going away');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const address = http.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    try {
      const c = realtime(`ws://127.0.0.1:${address.port}`, { initialDelayMs: 50, maxDelayMs: 400 });
      c.client.connect();
      await until(() => c.reconnecting.length >= 8, '8 reconnects', 30_000);
      c.client.close();
      expect(c.reconnecting.map((e) => e.attempt)).toEqual(
        Array.from({ length: c.reconnecting.length }, (_, i) => i + 1),
      );
      // full jitter: each delay below its cap, and the caps reach maxDelayMs from the 4th on
      for (const [i, event] of c.reconnecting.entries()) {
        expect(event.delayMs).toBeLessThan(Math.min(400, 50 * 2 ** i));
      }
      expect(accepted.length).toBeGreaterThanOrEqual(8);
    } finally {
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
