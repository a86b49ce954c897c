/**
 * The local ports' guard (scripts/local-guard.js) installed into real servers built as
 * serverless-offline builds them (hapi, and `ws` on the WebSocket port's server): every
 * spelling the router would serve is refused before it, handshakes, management posts,
 * Expect: 100-continue and CONNECT included; no CORS header on any answer; servers on other
 * ports are left alone.
 */
import * as http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Server as HapiServer } from '@hapi/hapi';
import { WebSocketServer } from 'ws';
import { guard } from '../support/harnesses/local-guard';
import type { RefusalFields } from '../support/harnesses/local-guard';
import { corsHeaders, handshake, rawRequest as raw } from '../support/harnesses/raw-http';

// The hapi that serverless-offline builds its three servers with (no dependency of ours).
const offlineDir = join(__dirname, '..', '..', 'node_modules', 'serverless-offline');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const hapi = require(require.resolve('@hapi/hapi', { paths: [offlineDir] })) as typeof import('@hapi/hapi');

const DEV_APP = 'http://localhost:5173';
const json = { 'content-type': 'application/json' };

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
  const { withoutCors } = guard;

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
