/**
 * The rules of the local ports' guard (scripts/local-guard.js): on the HTTP, WebSocket and
 * Lambda ports, only the local Host, no web origin but the chat page's (and, for WebSocket
 * handshakes, LOCAL_ALLOWED_ORIGINS), whatever the path's spelling and the method.
 * test/unit/local-guard-servers.test.ts installs them into servers built as serverless-offline
 * builds them; test/e2e/local-ports.test.ts and test/browser/local-origin.test.ts attack
 * `npm start` itself.
 */
import { guard } from '../support/harnesses/local-guard';
import type { Ports, Rules } from '../support/harnesses/local-guard';

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
    expect(guard.LOG_PER_WINDOW).toBe(20); // docs/operations.md, "Local ports answer you only"
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
