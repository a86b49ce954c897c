/**
 * The local HTTP server's guard (scripts/local-guard.js): only requests meant for it, by
 * Host; POST /publish only as JSON, from no foreign Origin, and with no CORS headers.
 * test/browser/local-origin.test.ts drives the same attacks from a real browser.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as http from 'node:http';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const guard = require('../../scripts/local-guard.js') as {
  localRequestProblem(
    request: { method: string; url: string; headers: Record<string, string> },
    port: number,
  ): { status: number; message: string } | undefined;
  guardHttpPort(module: typeof http, port: number): void;
};

const PORT = 3000;
const problem = (url: string, headers: Record<string, string>, method = 'POST') =>
  guard.localRequestProblem({ method, url, headers }, PORT)?.status;
const json = { 'content-type': 'application/json' };

describe('localRequestProblem', () => {
  it('serves the loopback names with the port', () => {
    for (const host of ['localhost:3000', '127.0.0.1:3000', '[::1]:3000', 'LOCALHOST:3000']) {
      expect(problem('/publish', { host, ...json })).toBeUndefined();
      expect(problem('/', { host }, 'GET')).toBeUndefined();
    }
  });

  it('refuses any other Host (DNS rebinding), another port, or none, on every path', () => {
    for (const host of ['attacker.example:3000', 'localhost', 'localhost:3001', '127.0.0.2:3000', '']) {
      expect(problem('/publish', { host, ...json })).toBe(403);
      expect(problem('/', { host }, 'GET')).toBe(403);
    }
  });

  it('refuses a foreign Origin on /publish, preflight included, and lets its own through', () => {
    const host = 'localhost:3000';
    for (const origin of [
      'https://attacker.example',
      'null',
      'http://localhost:3001',
      'http://localhost.attacker:3000',
    ]) {
      expect(problem('/publish', { host, origin, ...json })).toBe(403);
      expect(problem('/publish', { host, origin }, 'OPTIONS')).toBe(403);
    }
    expect(problem('/publish', { host, origin: 'http://127.0.0.1:3000', ...json })).toBeUndefined();
  });

  it('takes only application/json bodies on POST /publish (415 otherwise)', () => {
    const host = 'localhost:3000';
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
      expect(problem('/publish', { host, 'content-type': type })).toBe(415);
    }
    expect(problem('/publish?x=1', { host, 'content-type': 'application/json; charset=utf-8' })).toBeUndefined();
  });
});

describe('guardHttpPort', () => {
  it('answers for the guarded server and strips CORS headers from /publish, leaving other servers alone', async () => {
    const server = createServer((_req, res) => {
      res.setHeader('access-control-allow-origin', 'http://localhost');
      res.writeHead(200, { 'access-control-allow-credentials': 'true', 'content-type': 'text/plain' });
      res.end('ok');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as AddressInfo).port;
    guard.guardHttpPort(http, port);
    try {
      const base = `http://127.0.0.1:${port}`;
      const served = await fetch(`${base}/publish`, { method: 'POST', headers: json, body: '{}' });
      expect(served.status).toBe(200);
      expect([...served.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
      const refused = await fetch(`${base}/publish`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: '{}',
      });
      expect(refused.status).toBe(415);
      // the page keeps whatever headers its handler sets
      expect((await fetch(`${base}/`)).headers.get('access-control-allow-origin')).toBe('http://localhost');
    } finally {
      await new Promise((done) => server.close(done));
    }
  });
});
