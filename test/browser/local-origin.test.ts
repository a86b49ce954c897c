/**
 * The local endpoints are local: a web page of another origin in the developer's browser
 * (real Chromium) cannot use any of `npm start`'s three ports (scripts/local-guard.js): it
 * cannot push through `POST /publish` in any spelling nor read its answer, open a WebSocket,
 * inject a frame through the management API, or invoke a function on the Lambda port; DNS
 * rebinding (a name of the attacker's that resolves to 127.0.0.1, simulated with Chromium's
 * host resolver rules) meets a 403 because of its Host. The connected client hears nothing.
 * The chat page still chats, and a page of LOCAL_ALLOWED_ORIGINS (the developer's own app)
 * may open the WebSocket, and only that.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { browserDescribe, launchChromium, openChat } from '../support/harnesses/browser';
import { say, statusSays } from '../support/harnesses/chat';
import type { Received } from '../support/harnesses/client';
import { TestClient } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(120_000);

let service: OfflineService;
let browser: Browser;
let attacker: Server;
let attackerPort: number;
/** The developer's own web app (a dev server), whose origin is in LOCAL_ALLOWED_ORIGINS. */
let devApp: Server;
let devAppPort: number;
let victim: TestClient;
let victimId: string;

/** An empty page on 127.0.0.1, from which the tests run their scripts. */
async function emptySite(): Promise<[Server, number]> {
  const site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>a page</p>'));
  await new Promise<void>((done) => site.listen(0, '127.0.0.1', done));
  return [site, (site.address() as AddressInfo).port];
}

beforeAll(async () => {
  // The attacker's own site, and the developer's app.
  [attacker, attackerPort] = await emptySite();
  [devApp, devAppPort] = await emptySite();
  service = await startOffline({ settings: { LOCAL_ALLOWED_ORIGINS: `http://localhost:${devAppPort}` } });
  browser = await launchChromium(['--host-resolver-rules=MAP attacker.example 127.0.0.1']);
  victim = await TestClient.connect(service.url);
  victimId = (await victim.request({ action: 'list' }, 'connections')).you as string;
});

afterAll(async () => {
  await victim?.close();
  await browser?.close();
  await new Promise((done) => attacker?.close(done));
  await new Promise((done) => devApp?.close(done));
  await service?.stop();
});

const evil = () => `http://attacker.example:${attackerPort}/`;

/** What `script` gets from a page at `pageUrl`, in a browser context of its own. */
async function fromPage<R>(pageUrl: string, script: (page: Page) => Promise<R>): Promise<R> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(pageUrl);
    return await script(page);
  } finally {
    await context.close();
  }
}

/** What a script of `pageUrl` gets from fetching `target` with `init`: the status and body, or the error. */
function fetchFrom(pageUrl: string, target: string, init: RequestInit): Promise<string> {
  return fromPage(pageUrl, (page) =>
    page.evaluate(
      async ([url, options]) => {
        try {
          const response = await fetch(url as string, options as RequestInit);
          return `${response.status} ${await response.text()}`;
        } catch (error) {
          return `failed: ${(error as Error).name}`;
        }
      },
      [target, init] as const,
    ),
  );
}

/** Whether a script of `pageUrl` can open a WebSocket to `target`: 'open', or 'refused' (error, no open). */
function socketFrom(pageUrl: string, target: string): Promise<string> {
  return fromPage(pageUrl, (page) =>
    page.evaluate(
      (url) =>
        new Promise<string>((done) => {
          const socket = new WebSocket(url);
          socket.onopen = () => {
            socket.close();
            done('open');
          };
          socket.onerror = () => done('refused');
        }),
      target,
    ),
  );
}

async function victimHearsNothing(): Promise<void> {
  await expect(victim.next((m) => m.type === 'message', 1_500)).rejects.toThrow(/no matching message/);
}

/** The guard's log lines (JSON on the service's stderr), for what the page cannot see. */
function refusals(): Record<string, unknown>[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.includes('"refused a request to a local port"'))
    .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>);
}

browserDescribe('POST /publish from a page of another origin', () => {
  const publish = () => `http://localhost:${service.httpPort}/publish`;
  const body = JSON.stringify({ data: { origin: 'server', text: 'pushed by a web page' } });

  it('is refused as a simple text/plain request (no preflight): nothing delivered, nothing readable', async () => {
    const result = await fetchFrom(evil(), publish(), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body,
      credentials: 'include',
    });
    expect(result).toBe('failed: TypeError'); // no CORS header: the page cannot read the answer
    await victimHearsNothing();
  });

  it('is refused in the spellings offline routes to it too (/publish/, /%70ublish), as text/plain', async () => {
    for (const path of ['/publish/', '/%70ublish']) {
      const url = `http://localhost:${service.httpPort}${path}`;
      const readable = await fetchFrom(evil(), url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body,
        credentials: 'include',
      });
      expect({ path, readable }).toEqual({ path, readable: 'failed: TypeError' });
      const blind = await fetchFrom(evil(), url, { method: 'POST', mode: 'no-cors', body });
      expect({ path, blind }).toEqual({ path, blind: '0 ' });
    }
    await victimHearsNothing();
  });

  it('is refused blind too (no-cors): the server answers 403 before publishing', async () => {
    const result = await fetchFrom(evil(), publish(), { method: 'POST', mode: 'no-cors', body });
    expect(result).toBe('0 '); // an opaque answer, and nothing was sent
    await victimHearsNothing();
  });

  it('is refused as JSON: the preflight gets a 403 without CORS headers', async () => {
    const result = await fetchFrom(evil(), publish(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(result).toBe('failed: TypeError');
    await victimHearsNothing();
  });

  it('is refused after DNS rebinding: the page is same-origin, but its Host is not the server’s', async () => {
    // attacker.example now resolves to 127.0.0.1: the page and /publish share an origin.
    const rebound = `http://attacker.example:${service.httpPort}`;
    const result = await fetchFrom(`${rebound}/`, `${rebound}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(result).toMatch(/^403 this local server answers only Host localhost:/);
    await victimHearsNothing();
  });

  it('still works from the developer’s own tools (curl, npm run publish): no Origin, JSON, local Host', async () => {
    const heard = victim.ofType('message');
    const response = await fetch(publish(), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(await heard).toMatchObject({ origin: 'server', data: { text: 'pushed by a web page' } });
  });
});

browserDescribe('the WebSocket port, from a page of another origin', () => {
  it('refuses the handshake: the page gets no socket, no $connect runs', async () => {
    const before = (await victim.request({ action: 'list' }, 'connections')).count;
    expect(await socketFrom(evil(), `ws://localhost:${service.port}`)).toBe('refused');
    expect(await socketFrom(evil(), `ws://127.0.0.1:${service.port}/?token=x`)).toBe('refused');
    expect((await victim.request({ action: 'list' }, 'connections')).count).toBe(before);
    expect(refusals()).toContainEqual(
      expect.objectContaining({ port: service.port, kind: 'handshake', reason: 'origin', origin: evil().slice(0, -1) }),
    );
  });

  it('refuses POST /@connections/<id>: no frame reaches the connection, even blind', async () => {
    const target = `http://localhost:${service.port}/@connections/${encodeURIComponent(victimId)}`;
    const frame = JSON.stringify({ type: 'message', from: 'admin', data: 'injected by a web page' });
    expect(await fetchFrom(evil(), target, { method: 'POST', body: frame })).toBe('failed: TypeError');
    expect(await fetchFrom(evil(), target, { method: 'POST', mode: 'no-cors', body: frame })).toBe('0 ');
    await victimHearsNothing();
  });

  it('refuses a no-cors GET, which carries no Origin, by its Sec-Fetch-Site', async () => {
    const target = `http://localhost:${service.port}/@connections/${encodeURIComponent(victimId)}`;
    expect(await fetchFrom(evil(), target, { mode: 'no-cors' })).toBe('0 ');
    expect(refusals()).toContainEqual(
      expect.objectContaining({ port: service.port, reason: 'cross-site', method: 'GET' }),
    );
  });

  it('is refused after DNS rebinding: the socket is same-origin, but its Host is not the server’s', async () => {
    const rebound = `attacker.example:${service.port}`;
    expect(await socketFrom(`http://${rebound}/`, `ws://${rebound}/`)).toBe('refused');
  });
});

browserDescribe('the Lambda port, from a page of another origin', () => {
  const invoke = (name: string) =>
    `http://localhost:${service.ports.lambda}/2015-03-31/functions/aws-node-websockets-dev-${name}/invocations`;
  /** A shard that deliver would post to every connection, as an "admin" with a huge seq. */
  const forged = JSON.stringify({
    type: 'shard',
    deliveryId: 'forged-by-a-page',
    shard: 0,
    shards: 1,
    range: { after: null, upTo: null },
    size: 1,
    message: Buffer.from(JSON.stringify({ type: 'message', seq: 1_000_000, from: 'admin', data: 'forged' })).toString(
      'base64',
    ),
  });

  it('refuses to invoke publish or deliver, readable or blind: nothing is delivered', async () => {
    const publishEvent = JSON.stringify({ data: 'invoked by a web page' });
    const text = { 'content-type': 'text/plain' };
    expect(await fetchFrom(evil(), invoke('publish'), { method: 'POST', headers: text, body: publishEvent })).toBe(
      'failed: TypeError',
    );
    expect(await fetchFrom(evil(), invoke('deliver'), { method: 'POST', headers: text, body: forged })).toBe(
      'failed: TypeError',
    );
    expect(await fetchFrom(evil(), invoke('deliver'), { method: 'POST', mode: 'no-cors', body: forged })).toBe('0 ');
    await victimHearsNothing();
  });

  it('is refused after DNS rebinding: same-origin, but not the server’s Host', async () => {
    const rebound = `http://attacker.example:${service.ports.lambda}`;
    const target = `${rebound}/2015-03-31/functions/aws-node-websockets-dev-deliver/invocations`;
    expect(await fetchFrom(`${rebound}/`, target, { method: 'POST', body: forged })).toMatch(
      /^403 this local server answers only Host localhost:/,
    );
    await victimHearsNothing();
  });
});

browserDescribe('the pages that may', () => {
  it('the chat page still chats with the service', async () => {
    const chat = await openChat(browser, `http://localhost:${service.httpPort}/`);
    try {
      await statusSays(chat.page, `Connected to ws://localhost:${service.port}`);
      const heard = victim.next((m: Received) => JSON.stringify(m).includes('hello from the chat page'), 20_000);
      await say(chat.page, 'hello from the chat page');
      expect(await heard).toMatchObject({ type: 'message' });
      expect(chat.errors).toEqual([]);
    } finally {
      await chat.page.context().close();
    }
  });

  it('a page of LOCAL_ALLOWED_ORIGINS opens the WebSocket, and still cannot publish', async () => {
    const app = `http://localhost:${devAppPort}/`;
    expect(await socketFrom(app, `ws://localhost:${service.port}`)).toBe('open');
    // another port of the same host is another origin
    expect(await socketFrom(`http://127.0.0.1:${devAppPort}/`, `ws://localhost:${service.port}`)).toBe('refused');
    const publish = `http://localhost:${service.httpPort}/publish`;
    expect(
      await fetchFrom(app, publish, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }),
    ).toBe('failed: TypeError');
  });
});

browserDescribe('the chat page and LAMBDA_PORT', () => {
  it('serves the page with a Content-Security-Policy, and only to its own Host', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const own = await page.goto(`http://localhost:${service.httpPort}/`);
      expect(own?.status()).toBe(200);
      expect(own?.headers()['content-security-policy']).toContain(`connect-src 'self' ws://localhost:${service.port}`);
      const rebound = await page.goto(`http://attacker.example:${service.httpPort}/`);
      expect(rebound?.status()).toBe(403);
    } finally {
      await context.close();
    }
  });

  it('binds the Lambda port to the loopback interface only', async () => {
    const { readFileSync } = await import('node:fs');
    const port = service.ports.lambda.toString(16).toUpperCase().padStart(4, '0');
    // /proc/net/tcp{,6}: "local_address" is hex IP:PORT; state 0A is LISTEN.
    const listeners = ['/proc/net/tcp', '/proc/net/tcp6']
      .flatMap((file) => readFileSync(file, 'utf8').split('\n').slice(1))
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[1]?.endsWith(`:${port}`) && fields[3] === '0A')
      .map((fields) => (fields[1] as string).split(':')[0]);
    expect(listeners.length).toBeGreaterThan(0);
    // 127.0.0.1 (0100007F) or ::1; never 0.0.0.0 or ::
    for (const address of listeners) {
      expect(['0100007F', '00000000000000000000000001000000']).toContain(address);
    }
  });
});
