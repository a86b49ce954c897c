/**
 * API Gateway's idle close and its connection cap under `npm start`, shortened so that the
 * test runs in seconds (LOCAL_IDLE_TIMEOUT 2s, LOCAL_MAX_CONNECTION_AGE 8s): a connection with
 * no message either way is closed with 1001 (ping frames do not count), the typed client's
 * keep-alive keeps one open, every connection is closed at the cap however busy, and the typed
 * client's renewal moves to a new connection before the cap without losing a message.
 */
import WebSocket from 'ws';
import { RealtimeClient } from '../../client';
import type { ClientCloseEvent, ServerMessage } from '../../client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(180_000);

const IDLE_MS = 2_000;
const MAX_AGE_MS = 8_000;
/** How much later than its limit a close may come on a busy machine (the timer, then the close frame). */
const LATE_MS = 1_500;

let service: OfflineService;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  service = await startOffline({ env: { LOCAL_IDLE_TIMEOUT: '2s', LOCAL_MAX_CONNECTION_AGE: '8s' } });
});

afterAll(async () => {
  for (const each of cleanup) each();
  await service?.stop();
});

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Opens a `ws` socket; resolves with it and when it opened. */
function openSocket(): Promise<{ socket: WebSocket; openedAt: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(service.url);
    cleanup.push(() => socket.terminate());
    socket.once('open', () => resolve({ socket, openedAt: performance.now() }));
    socket.once('error', reject);
  });
}

/** The close code, reason and the ms since `since` when the server closed the socket. */
function closeOf(socket: WebSocket, since: number): Promise<{ code: number; reason: string; afterMs: number }> {
  return new Promise((resolve) =>
    socket.once('close', (code, reason) =>
      resolve({ code, reason: reason.toString(), afterMs: performance.now() - since }),
    ),
  );
}

function typedClient(options: { heartbeatMs: number; renewAfterMs: number }) {
  const client = new RealtimeClient({ url: service.url, WebSocket, ...options });
  cleanup.push(() => client.close());
  const closes: ClientCloseEvent[] = [];
  const messages: ServerMessage[] = [];
  const errors: Error[] = [];
  let opens = 0;
  client.on('close', (event) => closes.push(event));
  client.on('message', (message) => messages.push(message));
  client.on('error', (error) => errors.push(error));
  client.on('open', () => (opens += 1));
  return { client, closes, messages, errors, opens: () => opens };
}

describe('the idle close', () => {
  it('closes a connection with no message either way for 2 s with 1001 "Going away", ping frames or not', async () => {
    const [quiet, pinging] = await Promise.all([openSocket(), openSocket()]);
    // WebSocket ping frames are control frames: API Gateway does not count them as activity.
    const pings = setInterval(() => pinging.socket.ping(), 300);
    cleanup.push(() => clearInterval(pings));
    const closes = await Promise.all([
      closeOf(quiet.socket, quiet.openedAt),
      closeOf(pinging.socket, pinging.openedAt),
    ]);
    clearInterval(pings);
    for (const close of closes) {
      expect(close).toMatchObject({ code: 1001, reason: 'Going away' });
      expect(close.afterMs).toBeGreaterThanOrEqual(IDLE_MS - 50);
      expect(close.afterMs).toBeLessThan(IDLE_MS + LATE_MS);
    }
    expect(service.output()).toMatch(/"limit":"idle","connectionId":"[^"]+","code":1001/);
  });

  it("does not close the typed client's connection: its keep-alive sends a ping action in time", async () => {
    const { client, closes, messages, errors } = typedClient({ heartbeatMs: 600, renewAfterMs: 0 });
    client.connect();
    await sleep(3 * IDLE_MS);
    expect(closes).toEqual([]);
    expect(client.state).toBe('open');
    expect(messages.filter((m) => m.type === 'pong').length).toBeGreaterThanOrEqual(3);
    expect(errors).toEqual([]);
  });
});

describe('the cap on a connection', () => {
  it('closes every connection after 8 s with 1001, however busy it is', async () => {
    const { socket, openedAt } = await openSocket();
    const busy = setInterval(() => socket.send('{"action":"ping"}'), 300);
    cleanup.push(() => clearInterval(busy));
    const close = await closeOf(socket, openedAt);
    clearInterval(busy);
    expect(close).toMatchObject({ code: 1001, reason: 'Going away' });
    expect(close.afterMs).toBeGreaterThanOrEqual(MAX_AGE_MS - 50);
    expect(close.afterMs).toBeLessThan(MAX_AGE_MS + LATE_MS);
    expect(service.output()).toMatch(/"limit":"max-age","connectionId":"[^"]+","code":1001/);
  });

  it("is met by the typed client's renewal: a new connection before it, and no message of its room lost", async () => {
    const { client, closes, messages, errors, opens } = typedClient({ heartbeatMs: 600, renewAfterMs: 3_000 });
    client.join('river');
    client.connect();
    const joined = Date.now() + 20_000;
    while (!messages.some((m) => m.type === 'joined') && Date.now() < joined) await sleep(50);

    // A backend publishes to the room for longer than one connection may live (POST /publish).
    const sent: number[] = [];
    const publishUntil = performance.now() + MAX_AGE_MS + 6_000;
    for (let n = 1; performance.now() < publishUntil; n++) {
      const response = await fetch(`http://localhost:${service.httpPort}/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ room: 'river', data: n }),
      });
      expect(response.status).toBe(200);
      sent.push(n);
      await sleep(150);
    }
    const received = () =>
      messages.filter((m) => m.type === 'message' && m.room === 'river').map((m) => (m as { data: number }).data);
    const deadline = Date.now() + 20_000;
    while (received().length < sent.length && Date.now() < deadline) await sleep(100);

    expect(received()).toEqual(sent); // every one, once, in order
    expect(opens()).toBeGreaterThanOrEqual(4); // renewed at least every 3 s over 14 s
    expect(closes).toEqual([]); // no connection of it was ever closed under it
    expect(errors).toEqual([]);
    expect(client.state).toBe('open');
  });
});
