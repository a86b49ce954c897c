/**
 * The local ports' guard (scripts/local-guard.js): on the HTTP, WebSocket and Lambda ports,
 * only the local Host, no web origin but the chat page's (and, for WebSocket handshakes,
 * LOCAL_ALLOWED_ORIGINS), whatever the path's spelling and the method; no CORS header on any
 * answer. The rules first, then the guard installed into real servers built as
 * serverless-offline builds them (hapi, and `ws` on the WebSocket port's server).
 * test/e2e/local-ports.test.ts and test/browser/local-origin.test.ts attack `npm start` itself.
 */
import * as http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Server as HapiServer } from '@hapi/hapi';
import { WebSocketServer } from 'ws';
import { corsHeaders, handshake, rawRequest as raw } from '../support/harnesses/raw-http';

// The hapi that serverless-offline builds its three servers with (no dependency of ours).
const offlineDir = join(__dirname, '..', '..', 'node_modules', 'serverless-offline');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hapi = require(require.resolve('@hapi/hapi', { paths: [offlineDir] })) as typeof import('@hapi/hapi');

type Rules = { port: number; name: string };
type Problem = { status: number; reason: string; message: string };
type RefusalFields = Record<string, unknown>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const guard = require('../../scripts/local-guard.js') as {
  localRequestProblem(
    request: { method: string; url?: string; headers: Record<string, string> },
    rules: Rules,
    options?: { upgrade?: boolean },
  ): Problem | undefined;
  portRules(ports: Ports, allowedOrigins?: string[]): Map<number, Rules>;
  parseAllowedOrigins(raw: unknown): { origins: string[]; problems: string[] };
  ownOrigins(httpPort: number): string[];
  installLocalGuard(
    ports: Ports,
    env: Record<string, string | undefined>,
    options?: { log?: (fields: RefusalFields) => void; warn?: (message: string) => void },
  ): { uninstall(): void };
  refusalLog(options: {
    write: (line: string) => void;
    env?: Record<string, string>;
    now?: () => number;
  }): (fields: RefusalFields) => void;
  LOG_PER_WINDOW: number;
};

interface Ports {
  http: number;
  websocket: number;
  lambda: number;
}

const PORTS: Ports = { http: 3000, websocket: 3001, lambda: 3002 };
const DEV_APP = 'http://localhost:5173';
const rules = guard.portRules(PORTS, [DEV_APP]);
const rulesOf = (port: number): Rules => rules.get(port) as Rules;
const ALL_PORTS = [PORTS.http, PORTS.websocket, PORTS.lambda];

/** The problem's status for a request to `port`, or undefined when it is served. */
function verdict(
  port: number,
  headers: Record<string, string>,
  options: { method?: string; url?: string; upgrade?: boolean } = {},
): number | undefined {
  const { method = 'GET', url = '/', upgrade = false } = options;
  return guard.localRequestProblem({ method, url, headers }, rulesOf(port), { upgrade })?.status;
}

const local = (port: number) => ({ host: `localhost:${port}` });
const json = { 'content-type': 'application/json' };

/** Every way a path to one of the ports' routes may be spelled: the guard never reads it. */
const SPELLINGS = [
  '/publish',
  '/publish/',
  '/%70ublish',
  '/%70ublish/',
  '//publish',
  '/./publish',
  '/x/../publish',
  '/PUBLISH',
  '/publish?x=1',
  '/publish#x',
  '/@connections/abc',
  '/@connections/abc/',
  '/%40connections/abc',
  '/2015-03-31/functions/aws-node-websockets-dev-deliver/invocations',
  '/2015-03-31/functions/aws-node-websockets-dev-%64eliver/invocations/',
  'http://localhost:3000/publish',
  '*',
  '',
];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const FOREIGN_ORIGINS = [
  'https://attacker.example',
  'null',
  'http://localhost:3001', // the WebSocket port serves no page: not an origin of the service
  'http://localhost:3002',
  'http://localhost.attacker.example:3000',
  'http://localhost:3000.attacker.example',
  'http://127.0.0.1:3000, https://attacker.example', // two Origin headers, as Node joins them
  'http://localhost:3000/',
  'file://',
];

describe('localRequestProblem', () => {
  it('serves the loopback names with the port itself, on every port', () => {
    for (const port of ALL_PORTS) {
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
        expect(verdict(port, { host, ...json }, { method: 'POST', url: '/publish' })).toBeUndefined();
        expect(verdict(port, { host }, { upgrade: true })).toBeUndefined();
      }
    }
  });

  it('refuses any other Host (DNS rebinding), another port, or none, on every port, path and method', () => {
    for (const port of ALL_PORTS) {
      const hosts = [
        `attacker.example:${port}`,
        'localhost',
        `localhost:${port + 10}`,
        `127.0.0.2:${port}`,
        `localhost.:${port}`,
        `[::ffff:127.0.0.1]:${port}`,
        '',
      ];
      for (const host of hosts) {
        for (const url of SPELLINGS) {
          for (const method of METHODS) expect(verdict(port, { host, ...json }, { method, url })).toBe(403);
        }
        expect(verdict(port, { host }, { upgrade: true })).toBe(403);
      }
    }
  });

  it('refuses a foreign Origin on every port, whatever the path’s spelling and the method, handshakes included', () => {
    for (const port of ALL_PORTS) {
      for (const origin of FOREIGN_ORIGINS) {
        const headers = { ...local(port), origin, ...json };
        for (const url of SPELLINGS) {
          for (const method of METHODS)
            expect({ port, origin, url, method, status: verdict(port, headers, { method, url }) }).toEqual({
              port,
              origin,
              url,
              method,
              status: 403,
            });
        }
        expect(verdict(port, headers, { upgrade: true })).toBe(403);
      }
    }
  });

  it('takes the chat page’s own origins (localhost, 127.0.0.1, [::1] at HTTP_PORT) on every port', () => {
    expect(guard.ownOrigins(3000)).toEqual(expect.arrayContaining(['http://localhost:3000', 'http://[::1]:3000']));
    for (const port of ALL_PORTS) {
      for (const origin of guard.ownOrigins(PORTS.http)) {
        expect(verdict(port, { ...local(port), origin, ...json }, { method: 'POST' })).toBeUndefined();
        expect(verdict(port, { ...local(port), origin }, { upgrade: true })).toBeUndefined();
      }
    }
  });

  it('lets LOCAL_ALLOWED_ORIGINS open the WebSocket port, and nothing else', () => {
    const origin = DEV_APP;
    expect(verdict(PORTS.websocket, { ...local(PORTS.websocket), origin }, { upgrade: true })).toBeUndefined();
    // the management API on the same port, and the other ports, stay closed to it
    expect(verdict(PORTS.websocket, { ...local(PORTS.websocket), origin, ...json }, { method: 'POST' })).toBe(403);
    expect(verdict(PORTS.http, { ...local(PORTS.http), origin, ...json }, { method: 'POST' })).toBe(403);
    expect(verdict(PORTS.http, { ...local(PORTS.http), origin }, { upgrade: true })).toBe(403);
    expect(verdict(PORTS.lambda, { ...local(PORTS.lambda), origin }, { method: 'POST' })).toBe(403);
    // and without the setting, it is just another origin
    const plain = guard.portRules(PORTS).get(PORTS.websocket) as Rules;
    expect(
      guard.localRequestProblem({ method: 'GET', headers: { ...local(PORTS.websocket), origin } }, plain, {
        upgrade: true,
      })?.reason,
    ).toBe('origin');
  });

  it('reads the version-8 handshake’s Sec-WebSocket-Origin as an Origin', () => {
    const headers = { ...local(PORTS.websocket), 'sec-websocket-origin': 'https://attacker.example' };
    expect(verdict(PORTS.websocket, headers, { upgrade: true })).toBe(403);
  });

  it('serves programs, which send no Origin (curl, wscat, the AWS SDK, npm run publish)', () => {
    for (const port of ALL_PORTS) {
      for (const method of METHODS) expect(verdict(port, { ...local(port), ...json }, { method })).toBeUndefined();
      expect(verdict(port, local(port), { upgrade: true })).toBeUndefined();
    }
  });

  it('refuses a page’s request that carries no Origin (a no-cors GET) when it comes from another site', () => {
    for (const port of ALL_PORTS) {
      for (const site of ['cross-site', 'same-site']) {
        for (const mode of ['no-cors', 'cors', 'websocket']) {
          expect(verdict(port, { ...local(port), 'sec-fetch-site': site, 'sec-fetch-mode': mode })).toBe(403);
        }
        // a link to the chat page is followed (a navigation shows the page to the user, not to the site)
        expect(verdict(port, { ...local(port), 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate' })).toBeUndefined();
        const post = { ...local(port), ...json, 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate' };
        expect(verdict(port, post, { method: 'POST' })).toBe(403);
      }
      for (const site of ['same-origin', 'none']) {
        expect(verdict(port, { ...local(port), 'sec-fetch-site': site, 'sec-fetch-mode': 'no-cors' })).toBeUndefined();
      }
    }
  });

  it('takes only JSON in a POST to the HTTP port, on any path (415 otherwise); the other ports take any type', () => {
    const types = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', ''];
    for (const url of SPELLINGS) {
      for (const type of types) {
        expect(verdict(PORTS.http, { ...local(PORTS.http), 'content-type': type }, { method: 'POST', url })).toBe(415);
      }
    }
    const charset = { ...local(PORTS.http), 'content-type': 'Application/JSON; charset=utf-8' };
    expect(verdict(PORTS.http, charset, { method: 'POST' })).toBeUndefined();
    expect(
      verdict(PORTS.lambda, { ...local(PORTS.lambda), 'content-type': 'text/plain' }, { method: 'POST' }),
    ).toBeUndefined();
  });

  it('says why, in a line, for each refusal', () => {
    const problem = (headers: Record<string, string>, upgrade = false) =>
      guard.localRequestProblem({ method: 'GET', headers }, rulesOf(PORTS.websocket), { upgrade });
    expect(problem({ host: 'attacker.example:3001' })).toMatchObject({
      reason: 'host',
      message: 'this local server answers only Host localhost:3001, 127.0.0.1:3001 or [::1]:3001',
    });
    expect(problem({ ...local(3001), origin: 'https://attacker.example' }, true)?.message).toMatch(
      /no handshake from a web page of another origin .*LOCAL_ALLOWED_ORIGINS/,
    );
  });
});

describe('parseAllowedOrigins', () => {
  it('reads exact origins, comma-separated or as a YAML list', () => {
    expect(guard.parseAllowedOrigins(' http://localhost:5173 , https://app.test:8443,')).toEqual({
      origins: ['http://localhost:5173', 'https://app.test:8443'],
      problems: [],
    });
    expect(guard.parseAllowedOrigins(['http://localhost:5173', 'http://[::1]:5173']).origins).toEqual([
      'http://localhost:5173',
      'http://[::1]:5173',
    ]);
    expect(guard.parseAllowedOrigins(undefined)).toEqual({ origins: [], problems: [] });
  });

  it('refuses what is not an origin as a browser sends it, saying what to write', () => {
    const { origins, problems } = guard.parseAllowedOrigins(
      '*,null,http://localhost:5173/,http://LocalHost:5173,http://localhost:80,ftp://x.test,localhost:5173,http://localhost:5173/app',
    );
    expect(origins).toEqual([]);
    expect(problems).toEqual([
      'LOCAL_ALLOWED_ORIGINS takes exact origins, not "*"',
      'LOCAL_ALLOWED_ORIGINS takes exact origins, not "null"',
      'LOCAL_ALLOWED_ORIGINS: "http://localhost:5173/" is not an origin as a browser sends it: write http://localhost:5173',
      'LOCAL_ALLOWED_ORIGINS: "http://LocalHost:5173" is not an origin as a browser sends it: write http://localhost:5173',
      'LOCAL_ALLOWED_ORIGINS: "http://localhost:80" is not an origin as a browser sends it: write http://localhost',
      'LOCAL_ALLOWED_ORIGINS: "ftp://x.test" is not an http(s) origin like http://localhost:5173',
      'LOCAL_ALLOWED_ORIGINS: "localhost:5173" is not an http(s) origin like http://localhost:5173',
      'LOCAL_ALLOWED_ORIGINS: "http://localhost:5173/app" is not an origin as a browser sends it: write http://localhost:5173',
    ]);
  });
});

describe('refusalLog', () => {
  it('writes one JSON line per refusal, and counts a flood beyond its share in one line', async () => {
    const lines: string[] = [];
    let now = 1_000_000;
    const log = guard.refusalLog({ write: (line) => lines.push(line), env: {}, now: () => now });
    const fields = { port: 3001, reason: 'origin', origin: 'https://attacker.example', host: 'localhost:3001' };
    for (let i = 0; i < guard.LOG_PER_WINDOW + 30; i++) log(fields);
    expect(lines).toHaveLength(guard.LOG_PER_WINDOW);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: 'warn',
      message: 'refused a request to a local port',
      ...fields,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(JSON.parse(lines[lines.length - 1] as string)).toMatchObject({ unlogged: 30 });
    now += 1_000; // a new window: logged one by one again
    log(fields);
    expect(JSON.parse(lines[lines.length - 1] as string)).toMatchObject(fields);
  });

  it('is quiet under LOG_LEVEL=error', () => {
    const lines: string[] = [];
    guard.refusalLog({ write: (line) => lines.push(line), env: { LOG_LEVEL: 'error' } })({ port: 1 });
    expect(lines).toEqual([]);
  });
});

/**
 * Three servers as serverless-offline builds them: hapi with its CORS reflection and stripped
 * trailing slashes (HTTP and Lambda ports), and hapi sharing its listener with `ws` (WebSocket
 * port). Each route answers what offline would, with CORS headers set in every way Node allows.
 */
async function offlineLikeServers() {
  const reflectCors = (server: HapiServer) =>
    server.ext('onPreResponse', (request, h) => {
      const response = request.response;
      if (request.headers.origin && !('isBoom' in response && response.isBoom)) {
        const plain = response as { header(name: string, value: string): unknown };
        plain.header('access-control-allow-origin', String(request.headers.origin));
        plain.header('access-control-allow-credentials', 'true');
      }
      return h.continue;
    });
  const served: string[] = [];
  const make = async (routes: Parameters<HapiServer['route']>[0]) => {
    const server = new hapi.Server({ host: '127.0.0.1', port: 0, router: { stripTrailingSlash: true } });
    reflectCors(server);
    server.route(routes);
    await server.start();
    return server;
  };
  const httpServer = await make([
    {
      method: 'POST',
      path: '/publish',
      handler: (request) => {
        served.push(`publish ${request.path}`);
        return { sent: 1 };
      },
    },
  ]);
  const wsServer = await make([
    {
      method: 'POST',
      path: '/@connections/{id}',
      handler: (request, h) => {
        served.push(`post ${String((request.params as { id: string }).id)}`);
        return h.response().code(200);
      },
    },
  ]);
  const lambdaServer = await make([
    {
      method: 'POST',
      path: '/2015-03-31/functions/{name}/invocations',
      handler: (request) => {
        served.push(`invoke ${String((request.params as { name: string }).name)}`);
        return {};
      },
    },
  ]);
  // hapi has no CONNECT listener (Node then drops the socket unseen); a server that had one is guarded too.
  lambdaServer.listener.on('connect', (_request: http.IncomingMessage, socket: import('node:stream').Duplex) => {
    served.push('connect');
    socket.end('HTTP/1.1 200 Connection Established\r\n\r\n');
  });
  const sockets = new WebSocketServer({ server: wsServer.listener });
  sockets.on('connection', (socket) => socket.send('hello'));
  const port = (server: HapiServer) => (server.listener.address() as AddressInfo).port;
  return {
    ports: { http: port(httpServer), websocket: port(wsServer), lambda: port(lambdaServer) },
    served,
    async stop() {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      await Promise.all([httpServer.stop(), wsServer.stop(), lambdaServer.stop()]);
    },
  };
}

describe('installLocalGuard', () => {
  let servers: Awaited<ReturnType<typeof offlineLikeServers>>;
  let installed: { uninstall(): void };
  const refusals: RefusalFields[] = [];

  beforeAll(async () => {
    servers = await offlineLikeServers();
    installed = guard.installLocalGuard(
      servers.ports,
      { LOCAL_ALLOWED_ORIGINS: DEV_APP },
      {
        log: (fields) => refusals.push(fields),
      },
    );
  });

  afterAll(async () => {
    installed?.uninstall();
    await servers?.stop();
  });

  beforeEach(() => {
    servers.served.length = 0;
    refusals.length = 0;
  });

  const own = () => `http://localhost:${servers.ports.http}`;
  const hostOf = (port: number) => ({ host: `localhost:${port}` });

  it('refuses a foreign Origin on every spelling the router would serve, and serves none of them', async () => {
    const { http: port } = servers.ports;
    for (const path of ['/publish', '/publish/', '/%70ublish', '//publish', '/./publish', '/x/../publish']) {
      const headers = { ...hostOf(port), origin: 'https://attacker.example', 'content-type': 'text/plain' };
      const answer = await raw(port, 'POST', path, headers, '{}');
      expect({ path, status: answer.status, cors: corsHeaders(answer) }).toEqual({ path, status: 403, cors: [] });
      expect(answer.body).toBe('this local server answers no web page of another origin\n');
    }
    expect(servers.served).toEqual([]);
    expect(refusals[0]).toMatchObject({
      port,
      portName: 'HTTP_PORT',
      reason: 'origin',
      status: 403,
      kind: 'request',
      method: 'POST',
      path: '/publish',
      origin: 'https://attacker.example',
      host: `localhost:${port}`,
    });
    // the router does serve those spellings: without the guard each would have published
    const program = await raw(
      port,
      'POST',
      '/%70ublish',
      { ...hostOf(port), 'content-type': 'application/json' },
      '{}',
    );
    expect(program.status).toBe(200);
    expect(servers.served).toEqual(['publish /publish']);
  });

  it('refuses a preflight from a foreign origin with no CORS header, on every port', async () => {
    for (const port of Object.values(servers.ports)) {
      const answer = await raw(port, 'OPTIONS', '/publish/', {
        ...hostOf(port),
        origin: 'https://attacker.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      });
      expect({ port, status: answer.status, cors: corsHeaders(answer) }).toEqual({ port, status: 403, cors: [] });
    }
  });

  it('refuses a foreign Origin sent with Expect: 100-continue (hapi’s checkContinue), without reading the body', async () => {
    const { lambda: port } = servers.ports;
    const answer = await raw(
      port,
      'POST',
      '/2015-03-31/functions/deliver/invocations',
      { ...hostOf(port), origin: 'https://attacker.example', expect: '100-continue' },
      '{}',
    );
    expect(answer.status).toBe(403);
    expect(servers.served).toEqual([]);
  });

  it('refuses a rebinding Host on every port and in a handshake', async () => {
    for (const port of Object.values(servers.ports)) {
      const answer = await raw(port, 'POST', '/publish', { host: `attacker.example:${port}`, ...json }, '{}');
      expect(answer.status).toBe(403);
      expect(answer.body).toBe(
        `this local server answers only Host localhost:${port}, 127.0.0.1:${port} or [::1]:${port}\n`,
      );
    }
    expect(await handshake(servers.ports.websocket, { host: `attacker.example:${servers.ports.websocket}` })).toMatch(
      /^403 this local server answers only Host/,
    );
    expect(servers.served).toEqual([]);
    expect(refusals.map((r) => r.reason)).toEqual(['host', 'host', 'host', 'host']);
  });

  it('refuses a WebSocket handshake from a foreign page with 403, and takes the chat page, LOCAL_ALLOWED_ORIGINS and programs', async () => {
    const port = servers.ports.websocket;
    expect(await handshake(port, { origin: 'https://attacker.example' })).toMatch(/^403 this local WebSocket server/);
    expect(await handshake(port, { origin: 'null' })).toMatch(/^403 /);
    expect(refusals[0]).toMatchObject({ kind: 'handshake', reason: 'origin', origin: 'https://attacker.example' });
    expect(await handshake(port, { origin: own() })).toBe('open');
    expect(await handshake(port, { origin: DEV_APP })).toBe('open');
    expect(await handshake(port, {})).toBe('open');
  });

  it('refuses a management post from a foreign page, the allowed app’s included', async () => {
    const port = servers.ports.websocket;
    for (const origin of ['https://attacker.example', DEV_APP]) {
      for (const path of ['/@connections/abc', '/@connections/abc/', '/%40connections/abc']) {
        expect((await raw(port, 'POST', path, { ...hostOf(port), origin }, 'x')).status).toBe(403);
      }
    }
    expect(servers.served).toEqual([]);
    const program = await raw(
      port,
      'POST',
      '/@connections/abc',
      { ...hostOf(port), 'content-type': 'text/plain' },
      'x',
    );
    expect(program.status).toBe(200);
  });

  it('answers CONNECT from a foreign page with 403 too', async () => {
    const port = servers.ports.lambda;
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request({
        host: '127.0.0.1',
        port,
        method: 'CONNECT',
        path: 'localhost:3306',
        headers: { ...hostOf(port), origin: 'https://attacker.example' },
      });
      request.on('connect', (response, socket) => {
        socket.destroy();
        resolve(response.statusCode ?? 0);
      });
      request.on('response', (response) => resolve(response.statusCode ?? 0));
      request.on('error', reject);
      request.end();
    });
    expect(status).toBe(403);
    expect(servers.served).toEqual([]);
  });

  it('strips every CORS header from what it serves, own origin included', async () => {
    const { http: port } = servers.ports;
    const answer = await raw(port, 'POST', '/publish', { ...hostOf(port), origin: own(), ...json }, '{}');
    expect(answer.status).toBe(200);
    expect(corsHeaders(answer)).toEqual([]);
  });

  it('leaves servers on other ports alone', async () => {
    const other = http.createServer((_request, response) => {
      response.setHeader('access-control-allow-origin', '*');
      response.end('ok');
    });
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      const port = (other.address() as AddressInfo).port;
      const answer = await raw(port, 'GET', '/', { host: 'anything.example', origin: 'https://attacker.example' });
      expect(answer.status).toBe(200);
      expect(answer.headers['access-control-allow-origin']).toBe('*');
    } finally {
      other.close();
    }
  });

  it('says which LOCAL_ALLOWED_ORIGINS entries it ignores', () => {
    const warnings: string[] = [];
    const spare = guard.installLocalGuard(
      { http: 1, websocket: 2, lambda: 3 },
      { LOCAL_ALLOWED_ORIGINS: '*' },
      {
        warn: (message) => warnings.push(message),
        log: () => undefined,
      },
    );
    spare.uninstall();
    expect(warnings).toEqual(['LOCAL_ALLOWED_ORIGINS takes exact origins, not "*"; that entry is ignored']);
  });
});

describe('withoutCors', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { withoutCors } = require('../../scripts/local-guard.js') as {
    withoutCors(response: http.ServerResponse): void;
  };

  it('drops CORS headers set by setHeader, appendHeader and every form of writeHead', async () => {
    const forms: ((response: http.ServerResponse) => void)[] = [
      (r) => r.setHeader('Access-Control-Allow-Origin', '*').writeHead(200),
      (r) => r.appendHeader('access-control-allow-credentials', 'true').writeHead(200),
      (r) => r.writeHead(200, { 'access-control-allow-origin': '*', 'x-kept': '1' }),
      (r) => r.writeHead(200, 'OK', { 'access-control-allow-origin': '*', 'x-kept': '1' }),
      (r) => r.writeHead(200, ['access-control-allow-origin', '*', 'x-kept', '1']),
      (r) =>
        r.writeHead(200, [
          ['access-control-allow-origin', '*'],
          ['x-kept', '1'],
        ] as unknown as string[]),
      (r) => {
        r.setHeader('access-control-expose-headers', 'x');
        r.write('implicit head');
      },
    ];
    let form = 0;
    const server = http.createServer((_request, response) => {
      withoutCors(response);
      (forms[form] as (response: http.ServerResponse) => void)(response);
      response.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      for (form = 0; form < forms.length; form++) {
        const answer = await raw(port, 'GET', '/', { host: 'x' });
        expect({ form, status: answer.status, cors: corsHeaders(answer) }).toEqual({ form, status: 200, cors: [] });
        if (form >= 2 && form <= 5) expect(answer.headers['x-kept']).toBe('1');
      }
    } finally {
      server.close();
    }
  });
});
