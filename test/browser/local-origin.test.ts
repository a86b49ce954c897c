/**
 * The local endpoints are local: a web page of another origin in the developer's browser
 * (real Chromium) cannot push through `POST /publish` nor read its answer, and DNS
 * rebinding (a name of the attacker's that resolves to 127.0.0.1, simulated with Chromium's
 * host resolver rules) meets a 403 because of its Host. The connected client hears nothing.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/harnesses/browser';
import { TestClient } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(120_000);

let service: OfflineService;
let browser: Browser;
let attacker: Server;
let attackerPort: number;
let victim: TestClient;

beforeAll(async () => {
  service = await startOffline();
  // The attacker's own site: an empty page, from which the tests run their scripts.
  attacker = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>evil</p>'));
  await new Promise<void>((done) => attacker.listen(0, '127.0.0.1', done));
  attackerPort = (attacker.address() as AddressInfo).port;
  browser = await launchChromium(['--host-resolver-rules=MAP attacker.example 127.0.0.1']);
  victim = await TestClient.connect(service.url);
});

afterAll(async () => {
  await victim?.close();
  await browser?.close();
  await new Promise((done) => attacker?.close(done));
  await service?.stop();
});

/** What a script of `pageUrl` gets from fetching `target` with `init`: the status and body, or the error. */
async function fetchFrom(pageUrl: string, target: string, init: RequestInit): Promise<string> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(pageUrl);
    return await page.evaluate(
      async ([url, options]) => {
        try {
          const response = await fetch(url as string, options as RequestInit);
          return `${response.status} ${await response.text()}`;
        } catch (error) {
          return `failed: ${(error as Error).name}`;
        }
      },
      [target, init] as const,
    );
  } finally {
    await context.close();
  }
}

async function victimHearsNothing(): Promise<void> {
  await expect(victim.next((m) => m.type === 'message', 1_500)).rejects.toThrow(/no matching message/);
}

describe('POST /publish from a page of another origin', () => {
  const publish = () => `http://localhost:${service.httpPort}/publish`;
  const evil = () => `http://attacker.example:${attackerPort}/`;
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

describe('the chat page and LAMBDA_PORT', () => {
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
