/**
 * `npm start`'s three ports belong to the local user (scripts/local-guard.js): against the real
 * service, a request with a foreign Origin or a rebinding Host gets 403 on the HTTP port
 * (`POST /publish` in every spelling offline routes), the WebSocket port (the handshake and
 * `POST /@connections/<id>`) and the Lambda port (`publish`, and `deliver` with a forged
 * shard), nothing is delivered, no answer carries a CORS header, and each refusal is one JSON
 * log line. Programs (no Origin) and the chat page's own origin are served; a LOCAL_ALLOWED_ORIGINS
 * origin may open the WebSocket and nothing else.
 */
import { randomUUID } from 'node:crypto';
import { TestClient } from '../support/harnesses/client';
import type { Received } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';
import { corsHeaders, handshake, rawRequest } from '../support/harnesses/raw-http';

jest.setTimeout(180_000);

const FOREIGN = ['https://attacker.example', 'null'];
/** The developer's own web app (a Vite dev server), let in by LOCAL_ALLOWED_ORIGINS. */
const DEV_APP = 'http://localhost:5173';
const json = { 'content-type': 'application/json' };
/** What a page sends without a preflight. */
const textPlain = { 'content-type': 'text/plain' };

let service: OfflineService;
let victim: TestClient;
let victimId: string;

beforeAll(async () => {
  service = await startOffline({ settings: { LOCAL_ALLOWED_ORIGINS: DEV_APP } });
  victim = await TestClient.connect(service.url);
  victimId = (await victim.request({ action: 'list' }, 'connections')).you as string;
});

afterAll(async () => {
  await victim?.close();
  await service?.stop();
});

const ownOrigin = () => `http://localhost:${service.ports.http}`;
const localHost = (port: number) => ({ host: `localhost:${port}` });
const rebound = (port: number) => ({ host: `attacker.example:${port}` });

/** A marker no real message carries, so that a frame the attacker got through is told apart. */
const marker = () => `forged-${randomUUID()}`;
const carries = (mark: string) => (m: Received) => JSON.stringify(m).includes(mark);

async function victimHearsNothing(mark: string): Promise<void> {
  await expect(victim.next(carries(mark), 2_000)).rejects.toThrow(/no matching message/);
}

/** The guard's log lines for `port` (JSON lines on the service's stderr). */
function refusals(port: number): Record<string, unknown>[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.includes('"refused a request to a local port"'))
    .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>)
    .filter((entry) => entry.port === port);
}

/** Each refusal: 403 with the guard's line, no CORS header. */
function expectRefused(answer: { status: number; body: string }, what: unknown): void {
  expect({ what, status: answer.status, cors: corsHeaders(answer as never) }).toEqual({ what, status: 403, cors: [] });
  expect(answer.body).toMatch(/^this local server answers (no web page|only Host)/);
}

it('names the origins LOCAL_ALLOWED_ORIGINS lets in when it starts', () => {
  expect(service.output()).toContain(
    `[aws-node-websockets] local ports: pages of ${DEV_APP} may open the WebSocket port (LOCAL_ALLOWED_ORIGINS)`,
  );
});

describe('HTTP_PORT', () => {
  const SPELLINGS = ['/publish', '/publish/', '/%70ublish', '/%70ublish/', '//publish', '/./publish', '/x/../publish'];

  it('refuses POST /publish from a foreign Origin in every spelling, as text/plain or JSON: nothing is delivered', async () => {
    const { http: port } = service.ports;
    const mark = marker();
    const body = JSON.stringify({ data: mark });
    for (const path of SPELLINGS) {
      for (const origin of FOREIGN) {
        for (const type of [textPlain, json]) {
          const headers = { ...localHost(port), origin, ...type };
          expectRefused(await rawRequest(port, 'POST', path, headers, body), { path, origin, type });
        }
      }
      // the developer's app may open the WebSocket, not publish
      expectRefused(await rawRequest(port, 'POST', path, { ...localHost(port), origin: DEV_APP, ...json }, body), path);
    }
    await victimHearsNothing(mark);
  });

  it('answers a foreign preflight with 403 and no CORS header', async () => {
    const { http: port } = service.ports;
    for (const path of SPELLINGS) {
      const answer = await rawRequest(port, 'OPTIONS', path, {
        ...localHost(port),
        origin: FOREIGN[0] as string,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      });
      expectRefused(answer, path);
    }
  });

  it('refuses a rebinding Host in every spelling', async () => {
    const { http: port } = service.ports;
    const mark = marker();
    for (const path of SPELLINGS) {
      const answer = await rawRequest(
        port,
        'POST',
        path,
        { ...rebound(port), ...json },
        JSON.stringify({ data: mark }),
      );
      expectRefused(answer, path);
    }
    await victimHearsNothing(mark);
  });

  it('serves programs (no Origin) and the chat page’s origin in those spellings, with no CORS header', async () => {
    const { http: port } = service.ports;
    // offline routes these to the publish function: what a page reached before the guard
    for (const [path, origin] of [
      ['/publish/', undefined],
      ['/%70ublish', undefined],
      ['/publish/', ownOrigin()],
    ] as const) {
      const mark = marker();
      const headers = { ...localHost(port), ...json, ...(origin ? { origin } : {}) };
      const answer = await rawRequest(port, 'POST', path, headers, JSON.stringify({ data: mark }));
      expect({ path, origin, status: answer.status, cors: corsHeaders(answer) }).toEqual({
        path,
        origin,
        status: 200,
        cors: [],
      });
      await victim.next(carries(mark), 20_000);
    }
  });
});

describe('WS_PORT', () => {
  it('refuses a handshake from a foreign Origin or with a rebinding Host with 403, and runs no $connect', async () => {
    const { ws: port } = service.ports;
    const before = (await victim.request({ action: 'list' }, 'connections')).count;
    for (const origin of [...FOREIGN, `http://localhost:${port}`, 'http://localhost:5174']) {
      expect(await handshake(port, { origin })).toMatch(/^403 this local WebSocket server takes no handshake/);
    }
    expect(await handshake(port, rebound(port))).toMatch(/^403 this local server answers only Host/);
    expect(await handshake(port, { ...rebound(port), origin: `http://attacker.example:${port}` })).toMatch(/^403 /);
    expect((await victim.request({ action: 'list' }, 'connections')).count).toBe(before);
  });

  it('opens for the chat page’s origins, LOCAL_ALLOWED_ORIGINS and programs', async () => {
    const { ws: port, http } = service.ports;
    const cases: Record<string, string>[] = [
      { origin: ownOrigin() },
      { origin: `http://127.0.0.1:${http}` },
      { origin: DEV_APP },
      {},
      localHost(port),
    ];
    for (const headers of cases) {
      expect({ headers, answer: await handshake(port, headers) }).toEqual({ headers, answer: 'open' });
    }
  });

  it('refuses POST /@connections/<id> from a foreign page or a rebinding Host in every spelling: no frame is injected', async () => {
    const { ws: port } = service.ports;
    const mark = marker();
    const id = encodeURIComponent(victimId);
    const frame = JSON.stringify({ type: 'message', from: 'admin', data: mark });
    for (const path of [
      `/@connections/${id}`,
      `/@connections/${id}/`,
      `/%40connections/${id}`,
      `//@connections/${id}`,
    ]) {
      for (const origin of [...FOREIGN, DEV_APP]) {
        expectRefused(await rawRequest(port, 'POST', path, { ...localHost(port), origin, ...textPlain }, frame), {
          path,
          origin,
        });
      }
      expectRefused(await rawRequest(port, 'POST', path, { ...rebound(port), ...textPlain }, frame), path);
    }
    await victimHearsNothing(mark);
    // the service's own management client (no Origin) still posts
    const posted = await rawRequest(port, 'POST', `/@connections/${id}`, { ...localHost(port), ...textPlain }, frame);
    expect(posted.status).toBeLessThan(300);
    await victim.next(carries(mark), 10_000);
  });

  it('logs each refusal as one JSON line with the port, the reason, the Origin and the Host', async () => {
    const { ws: port } = service.ports;
    // past the second in which the tests above were refused (a flood is counted, not logged line by line)
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await handshake(port, { origin: 'https://logged.example' });
    const logged = () => refusals(port).find((entry) => entry.origin === 'https://logged.example');
    for (let waited = 0; logged() === undefined && waited < 5_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const line = logged();
    expect(line).toMatchObject({
      level: 'warn',
      port,
      portName: 'WS_PORT',
      kind: 'handshake',
      reason: 'origin',
      status: 403,
      method: 'GET',
      host: `127.0.0.1:${port}`,
    });
  });
});

describe('LAMBDA_PORT', () => {
  const invocations = (name: string) => [
    `/2015-03-31/functions/aws-node-websockets-dev-${name}/invocations`,
    `/2015-03-31/functions/aws-node-websockets-dev-${name}/invocations/`,
    `/2015-03-31/functions/aws-node-websockets-dev-%${name.charCodeAt(0).toString(16)}${name.slice(1)}/invocations`,
    `/2014-11-13/functions/aws-node-websockets-dev-${name}/invoke-async/`,
  ];

  /** A shard that `deliver` posts to every connection: the message of an "admin" with a huge seq. */
  const forgedShard = (mark: string) =>
    JSON.stringify({
      type: 'shard',
      deliveryId: `forged-${randomUUID()}`,
      shard: 0,
      shards: 1,
      range: { after: null, upTo: null },
      size: 1,
      message: Buffer.from(JSON.stringify({ type: 'message', seq: 1_000_000, from: 'admin', data: mark })).toString(
        'base64',
      ),
    });

  it('refuses to invoke publish from a foreign Origin or with a rebinding Host: nothing is delivered', async () => {
    const { lambda: port } = service.ports;
    const mark = marker();
    const event = JSON.stringify({ data: mark });
    for (const path of invocations('publish')) {
      for (const origin of [...FOREIGN, DEV_APP, ownOrigin().replace('localhost', 'attacker.example')]) {
        expectRefused(await rawRequest(port, 'POST', path, { ...localHost(port), origin, ...textPlain }, event), {
          path,
          origin,
        });
      }
      expectRefused(await rawRequest(port, 'POST', path, { ...rebound(port), ...json }, event), path);
    }
    await victimHearsNothing(mark);
  });

  it('refuses deliver with a forged shard from a foreign Origin or with a rebinding Host: nothing is pushed', async () => {
    const { lambda: port } = service.ports;
    const mark = marker();
    for (const path of invocations('deliver')) {
      for (const origin of FOREIGN) {
        const headers = { ...localHost(port), origin, ...textPlain };
        expectRefused(await rawRequest(port, 'POST', path, headers, forgedShard(mark)), { path, origin });
      }
      expectRefused(await rawRequest(port, 'POST', path, { ...rebound(port), ...json }, forgedShard(mark)), path);
    }
    await victimHearsNothing(mark);
    expect(refusals(port).length).toBeGreaterThanOrEqual(12);
  });

  it('still invokes for programs (the service’s own shards, the AWS CLI): what a page got before the guard', async () => {
    const { lambda: port } = service.ports;
    const mark = marker();
    const path = invocations('deliver')[0] as string;
    const answer = await rawRequest(port, 'POST', path, { ...localHost(port), ...json }, forgedShard(mark));
    expect(answer.status).toBe(200);
    expect(corsHeaders(answer)).toEqual([]);
    expect(await victim.next(carries(mark), 20_000)).toMatchObject({ from: 'admin', seq: 1_000_000 });
  });
});
