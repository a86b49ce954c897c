/**
 * The local API Gateway's limits (scripts/local-limits.js): the settings read once with one
 * line per bad value, the token bucket, the route a message is throttled on, and the gateway
 * installed into a real Node server with `ws` on it, as serverless-offline builds its
 * WebSocket port: 429 handshakes, 413 posts, 1009 frames, "Too Many Requests" frames.
 * test/e2e/gateway-*.test.ts run each limit on the real `npm start`.
 */
import * as http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import WebSocket, { WebSocketServer } from 'ws';
import type { GatewayLimits } from '../../scripts/local';
import { guard } from '../support/harnesses/local-guard';
import { SETTING_KEYS } from '../support/harnesses/service';

type Limits = GatewayLimits;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const gateway = require('../../scripts/local-limits.js') as {
  AWS_LIMITS: Omit<Limits, 'throttle'>;
  LIMIT_SETTINGS: readonly { name: string; default: string | number }[];
  readLimits(settings: Record<string, unknown>): { limits: Limits; problems: string[] };
  describeLimits(limits: Limits): string;
  selectRoute(data: unknown, routes: ReadonlySet<string>): string;
  TokenBucket: new (burst: number, rate: number, now: () => number) => { take(): boolean };
  installLocalLimits(
    ports: { websocket: number },
    env: Record<string, string>,
    options: { servers: (typeof http.Server)[]; log: (fields: Record<string, unknown>) => void; warn: () => void },
  ): { uninstall(): void };
  watchWebSocketClients(WebSocketClients: new () => unknown): void;
};

const root = join(__dirname, '..', '..');
const STAGE = { WS_THROTTLE_BURST: 50, WS_THROTTLE_RATE: 25 };

describe('readLimits', () => {
  it("gives API Gateway's values by default, with the stage's throttling as the settings give it", () => {
    expect(gateway.readLimits(STAGE)).toEqual({
      limits: {
        throttle: { burst: 50, rate: 25 },
        newConnectionsPerSecond: 500,
        maxFrameBytes: 32_768,
        maxMessageBytes: 131_072,
        idleTimeoutMs: 600_000,
        maxConnectionAgeMs: 7_200_000,
      },
      problems: [],
    });
    expect(gateway.readLimits({ WS_THROTTLE_BURST: '3', WS_THROTTLE_RATE: '0.5' }).limits.throttle).toEqual({
      burst: 3,
      rate: 0.5,
    });
  });

  it('turns each limit off with `off`, and reads durations and sizes', () => {
    const { limits, problems } = gateway.readLimits({
      ...STAGE,
      LOCAL_THROTTLE: 'OFF',
      LOCAL_NEW_CONNECTIONS_PER_SECOND: 'off',
      LOCAL_MAX_FRAME_BYTES: 'off',
      LOCAL_MAX_MESSAGE_BYTES: '1000',
      LOCAL_IDLE_TIMEOUT: '30s',
      LOCAL_MAX_CONNECTION_AGE: 'off',
    });
    expect(problems).toEqual([]);
    expect(limits).toEqual({
      throttle: null,
      newConnectionsPerSecond: null,
      maxFrameBytes: null,
      maxMessageBytes: 1000,
      idleTimeoutMs: 30_000,
      maxConnectionAgeMs: null,
    });
    expect(
      gateway.readLimits({ ...STAGE, LOCAL_IDLE_TIMEOUT: '2', LOCAL_MAX_CONNECTION_AGE: '1d' }).limits,
    ).toMatchObject({ idleTimeoutMs: 2_000, maxConnectionAgeMs: 86_400_000 });
  });

  it.each([
    ['LOCAL_THROTTLE', 'maybe', /LOCAL_THROTTLE must be on or off, got "maybe"/],
    ['LOCAL_MAX_FRAME_BYTES', '32 KB', /LOCAL_MAX_FRAME_BYTES must be a positive whole number or off/],
    ['LOCAL_NEW_CONNECTIONS_PER_SECOND', '0', /LOCAL_NEW_CONNECTIONS_PER_SECOND must be a positive whole number/],
    ['LOCAL_IDLE_TIMEOUT', '500ms', /LOCAL_IDLE_TIMEOUT must be a duration from 1s to 24d/],
    ['LOCAL_MAX_CONNECTION_AGE', '30d', /LOCAL_MAX_CONNECTION_AGE must be a duration from 1s to 24d/],
  ])('refuses %s: %s in one line naming it', (name, value, problem) => {
    const { problems } = gateway.readLimits({ ...STAGE, [name]: value });
    expect(problems).toEqual([expect.stringMatching(problem)]);
  });

  it('says so when the throttling is on but the stage gives no figures', () => {
    expect(gateway.readLimits({}).problems).toEqual([expect.stringMatching(/WS_THROTTLE_BURST and WS_THROTTLE_RATE/)]);
  });

  it('says in one line what it keeps', () => {
    expect(gateway.describeLimits(gateway.readLimits({ ...STAGE, LOCAL_IDLE_TIMEOUT: '90s' }).limits)).toBe(
      'throttling 50 at once, 25/s per route, new connections 500/s, frames <= 32768 B, messages <= 131072 B, ' +
        'idle close 90s, connections end after 2h',
    );
  });
});

describe('the settings of the limits', () => {
  it('are each a setting of .env.yml.example, shown there with its default', () => {
    const example = readFileSync(join(root, '.env.yml.example'), 'utf8');
    for (const spec of gateway.LIMIT_SETTINGS) {
      expect(SETTING_KEYS).toContain(spec.name);
      expect(example).toMatch(new RegExp(`^# ${spec.name}: ${String(spec.default)} `, 'm'));
    }
  });

  it("are the rows of operations.md's table of the local limits, each with its default", () => {
    const operations = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
    const section = operations.slice(operations.indexOf("### API Gateway's limits locally"));
    const start = section.indexOf('| limit');
    const table = section.slice(start, section.indexOf('\n\n', start)).split('\n').slice(2);
    const settingOf = (row: string) => /`(LOCAL_[A-Z_]+)`/.exec(row)?.[1];
    expect(table.map(settingOf)).toEqual(gateway.LIMIT_SETTINGS.map((spec) => spec.name));
    for (const spec of gateway.LIMIT_SETTINGS) {
      const row = table.find((line) => settingOf(line) === spec.name) as string;
      expect(row).toContain(typeof spec.default === 'number' ? `| ${spec.default} ` : `\`${spec.default}\``);
    }
  });

  it("read routes as serverless.yml's route selection expression does", () => {
    const service = load(readFileSync(join(root, 'serverless.yml'), 'utf8')) as {
      provider: { websocketsApiRouteSelectionExpression: string };
    };
    expect(service.provider.websocketsApiRouteSelectionExpression).toBe('$request.body.action');
  });
});

describe('TokenBucket', () => {
  it('takes `burst` at once, then `rate` a second', () => {
    let now = 0;
    const bucket = new gateway.TokenBucket(3, 2, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now += 499;
    expect(bucket.take()).toBe(false);
    now += 1;
    expect(bucket.take()).toBe(true);
    now += 10_000; // never more than the burst
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  });
});

describe('selectRoute', () => {
  const routes = new Set(['$connect', '$default', 'sendmessage', 'ping']);
  it.each([
    ['{"action":"ping"}', 'ping'],
    ['{"action":"dance"}', '$default'],
    ['{"action":12}', '$default'],
    ['{}', '$default'],
    ['hello', '$default'],
    ['[1]', '$default'],
    [Buffer.from('{"action":"sendmessage"}'), 'sendmessage'],
  ])('routes %s to %s', (data, route) => {
    expect(gateway.selectRoute(data, routes)).toBe(route);
  });
});

describe('the gateway on a server built as offline builds its WebSocket port', () => {
  class LocalServer extends http.Server {}
  class Clients {
    readonly received: string[] = [];
    addRoute(_functionKey: string, _definition: { route: string }): void {}
    addClient(client: WebSocket): void {
      client.on('message', (data) => this.received.push(String(data)));
    }
  }
  gateway.watchWebSocketClients(Clients);

  let server: http.Server;
  let wss: WebSocketServer;
  let port: number;
  let uninstall: () => void;
  const logged: Record<string, unknown>[] = [];
  const clients = new Clients();
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    server = new LocalServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(200).end('posted'));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    wss = new WebSocketServer({ server });
    clients.addRoute('message', { route: 'ping' });
    let next = 0;
    wss.on('connection', (socket) => {
      // As the preload does: ws reports a refused frame as an error, which must have a listener.
      socket.on('error', () => undefined);
      (clients as unknown as { addClient(s: WebSocket, id: string): void }).addClient(socket, `id-${next++}`);
    });
    ({ uninstall } = gateway.installLocalLimits(
      { websocket: port },
      { WS_THROTTLE_BURST: '2', WS_THROTTLE_RATE: '0.001', LOCAL_NEW_CONNECTIONS_PER_SECOND: '1000' },
      { servers: [LocalServer], log: (fields) => logged.push(fields), warn: () => undefined },
    ));
  });

  afterAll(async () => {
    uninstall();
    for (const socket of sockets) socket.terminate();
    wss.close();
    await new Promise((done) => server.close(done));
  });

  const open = () =>
    new Promise<WebSocket | number>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}`);
      socket.once('open', () => {
        sockets.push(socket);
        resolve(socket);
      });
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    });

  it("answers a handshake beyond $connect's bucket with 429, before ws sees it", async () => {
    const outcomes = [await open(), await open(), await open()];
    expect(outcomes.map((o) => (typeof o === 'number' ? o : 101))).toEqual([101, 101, 429]);
    expect(logged).toContainEqual(expect.objectContaining({ limit: 'throttle', route: '$connect', status: 429 }));
  });

  it('answers a message beyond its route\'s bucket with "Too Many Requests", and the socket stays open', async () => {
    const socket = sockets[0] as WebSocket;
    const frames: string[] = [];
    socket.on('message', (data) => frames.push(String(data)));
    for (let i = 0; i < 3; i++) socket.send('{"action":"ping"}');
    socket.send('{"action":"other"}'); // $default: a bucket of its own
    while (frames.length < 1 || clients.received.length < 3) await new Promise((done) => setTimeout(done, 20));
    expect(clients.received).toEqual(['{"action":"ping"}', '{"action":"ping"}', '{"action":"other"}']);
    expect(JSON.parse(frames[0] as string)).toEqual({
      message: 'Too Many Requests',
      connectionId: 'id-0',
      requestId: expect.any(String),
    });
    expect(socket.readyState).toBe(WebSocket.OPEN);
  });

  it('refuses a post larger than a message with 413, read to its end first', async () => {
    const post = (bytes: number) =>
      fetch(`http://127.0.0.1:${port}/@connections/x`, { method: 'POST', body: 'b'.repeat(bytes) });
    const refused = await post(131_073);
    expect(refused.status).toBe(413);
    expect(refused.headers.get('x-amzn-errortype')).toBe('PayloadTooLargeException');
    expect(await refused.json()).toEqual({ message: 'Request Entity Too Large' });
    expect((await post(131_072)).status).toBe(200);
  });

  it('closes a connection that sends a frame over 32 KB with 1009 "Message too big"', async () => {
    const socket = sockets[1] as WebSocket;
    const closed = once(socket, 'close');
    socket.send('f'.repeat(32_769));
    const [code, reason] = (await closed) as [number, Buffer];
    expect({ code, reason: reason.toString() }).toEqual({ code: 1009, reason: 'Message too big' });
    expect(logged).toContainEqual(expect.objectContaining({ limit: 'frame', connectionId: 'id-1', code: 1009 }));
  });
});

describe('the gateway under the ports guard, installed in the order the preload installs them', () => {
  class GuardedServer extends http.Server {}
  let server: http.Server;
  let wss: WebSocketServer;
  let port: number;
  const undo: (() => void)[] = [];

  beforeAll(async () => {
    server = new GuardedServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    wss = new WebSocketServer({ server });
    const quiet = { log: () => undefined, warn: () => undefined };
    // Limits first, then the guard: the guard's wrapper is the outer one and runs first.
    undo.push(
      gateway.installLocalLimits(
        { websocket: port },
        { WS_THROTTLE_BURST: '1', WS_THROTTLE_RATE: '0.001' },
        { servers: [GuardedServer], ...quiet },
      ).uninstall,
    );
    undo.push(
      guard.installLocalGuard(
        { http: port + 1, websocket: port, lambda: port + 2 },
        {},
        { servers: [GuardedServer], ...quiet },
      ).uninstall,
    );
  });

  afterAll(async () => {
    for (const each of undo) each();
    wss.close();
    await new Promise((done) => server.close(done));
  });

  it("takes none of the developer's tokens for a handshake the guard refuses", async () => {
    const handshake = (origin?: string) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(`ws://localhost:${port}`, origin === undefined ? {} : { origin });
        socket.once('open', () => {
          socket.terminate();
          resolve(101);
        });
        socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.once('error', () => resolve(0));
      });
    expect([await handshake('https://evil.example'), await handshake('https://evil.example')]).toEqual([403, 403]);
    // $connect's bucket holds one token, still there for the developer's own client.
    expect(await handshake()).toBe(101);
    expect(await handshake()).toBe(429);
  });
});
