/**
 * API Gateway's throttling under `npm start`, with small figures so that a test can exceed
 * them: the stage's token bucket per route (WS_THROTTLE_BURST 3, WS_THROTTLE_RATE 1/s), whose
 * `$connect` refuses handshakes with 429 and whose message routes answer "Too Many Requests"
 * on a connection that stays open; and the account's new connections a second
 * (LOCAL_NEW_CONNECTIONS_PER_SECOND 3, the stage's throttling off so that only it counts).
 */
import WebSocket from 'ws';
import { ClientGatewayError, RealtimeClient } from '../../client';
import { TestClient } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(180_000);

const BURST = 3;
const RATE = 1;

/** `count` handshakes at once: each one's status (101 when it opened), and the seconds they took. */
async function handshakes(
  url: string,
  count: number,
): Promise<{ statuses: number[]; seconds: number; open: WebSocket[] }> {
  const started = performance.now();
  const open: WebSocket[] = [];
  const statuses = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<number>((done) => {
          const socket = new WebSocket(url);
          socket.once('open', () => {
            open.push(socket);
            done(101);
          });
          socket.once('unexpected-response', (_request, response) => done(response.statusCode ?? 0));
          socket.once('error', () => done(0));
        }),
    ),
  );
  return { statuses, seconds: (performance.now() - started) / 1_000, open };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe("the stage's throttling per route", () => {
  let service: OfflineService;
  const closeLater: { close(): unknown }[] = [];

  beforeAll(async () => {
    service = await startOffline({ env: { WS_THROTTLE_BURST: String(BURST), WS_THROTTLE_RATE: String(RATE) } });
  });

  afterAll(async () => {
    for (const each of closeLater) each.close();
    await service?.stop();
  });

  it("refuses handshakes beyond $connect's bucket with 429", async () => {
    const { statuses, seconds, open } = await handshakes(service.url, 8);
    closeLater.push(...open);
    const opened = statuses.filter((status) => status === 101).length;
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(BURST + Math.floor(seconds * RATE));
    expect(statuses.filter((status) => status !== 101).every((status) => status === 429)).toBe(true);
    expect(opened).toBeLessThan(8);
    expect(service.output()).toContain('"limit":"throttle","route":"$connect"');
  });

  it('answers messages beyond a route\'s bucket with "Too Many Requests" on a connection that stays open', async () => {
    await sleep((BURST / RATE) * 1_000 + 500); // $connect's bucket fills again
    const client = await TestClient.connect(service.url);
    closeLater.push({ close: () => void client.close() });
    const you = (await client.request({ action: 'list' }, 'connections')).you;

    const started = performance.now();
    for (let i = 0; i < 8; i++) client.send({ action: 'ping' });
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => client.next((m) => m.type === 'pong' || m.message === 'Too Many Requests')),
    );
    const seconds = (performance.now() - started) / 1_000;
    const throttled = answers.filter((m) => m.message === 'Too Many Requests');
    const pongs = answers.filter((m) => m.type === 'pong');
    expect(pongs.length).toBeLessThanOrEqual(BURST + Math.ceil(seconds * RATE));
    expect(throttled.length).toBeGreaterThanOrEqual(8 - BURST - Math.ceil(seconds * RATE));
    expect(throttled.length).toBeGreaterThan(0);
    for (const frame of throttled) {
      expect(frame).toEqual({ message: 'Too Many Requests', connectionId: you, requestId: expect.any(String) });
    }
    // The connection is still open, and `list` is another route, with a bucket of its own.
    expect(client.closed).toBe(false);
    expect((await client.request({ action: 'list' }, 'connections')).you).toBe(you);
    expect(service.output()).toContain(`"limit":"throttle","route":"ping","connectionId":"${you}"`);
  });

  it('reaches the typed client as a ClientGatewayError that says it was throttled', async () => {
    await sleep((BURST / RATE) * 1_000 + 500);
    const client = new RealtimeClient({ url: service.url, WebSocket, heartbeatMs: 0 });
    closeLater.push(client);
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    const opened = new Promise((done) => client.on('open', () => done(undefined)));
    client.connect();
    await opened;
    for (let i = 0; i < 8; i++) client.ping();
    const deadline = Date.now() + 20_000;
    while (errors.length === 0 && Date.now() < deadline) await sleep(50);
    expect(errors[0]).toBeInstanceOf(ClientGatewayError);
    expect(errors[0]).toMatchObject({ throttled: true, gatewayMessage: 'Too Many Requests' });
    expect(client.state).toBe('open');
  });
});

describe('the new connections a second', () => {
  const PER_SECOND = 3;
  let service: OfflineService;
  const open: WebSocket[] = [];

  beforeAll(async () => {
    // The stage's throttling is off here so that the account's quota alone refuses handshakes.
    service = await startOffline({
      env: { LOCAL_THROTTLE: 'off', LOCAL_NEW_CONNECTIONS_PER_SECOND: String(PER_SECOND) },
    });
  });

  afterAll(async () => {
    for (const socket of open) socket.close();
    await service?.stop();
  });

  it('refuses handshakes beyond them with 429, and takes new ones a second later', async () => {
    const first = await handshakes(service.url, 10);
    open.push(...first.open);
    const opened = first.statuses.filter((status) => status === 101).length;
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(PER_SECOND + Math.floor(first.seconds * PER_SECOND));
    expect(first.statuses.filter((status) => status !== 101).every((status) => status === 429)).toBe(true);
    expect(opened).toBeLessThan(10);
    expect(service.output()).toContain('"limit":"new-connections"');

    await sleep(1_500);
    const later = await handshakes(service.url, 1);
    open.push(...later.open);
    expect(later.statuses).toEqual([101]);
  });
});
