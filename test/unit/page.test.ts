/**
 * The chat page's local-only function (scripts/page/handler.ts) and where settings.js puts
 * it: under `serverless offline` only, so a deploy never gets it.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTENT_TYPES, contentSecurityPolicy, page } from '../../scripts/page/handler';
import { copyService } from '../support/harnesses/service';

function get(rawPath: string): Promise<{ statusCode?: number; headers?: Record<string, unknown>; body?: string }> {
  return page({ rawPath, requestContext: { http: { method: 'GET' } } } as unknown as APIGatewayProxyEventV2);
}

describe('the page function', () => {
  let parent: string;
  let dir: string;
  const saved = process.env.PAGE_DIR;

  beforeAll(() => {
    parent = mkdtempSync(join(tmpdir(), 'page-'));
    dir = join(parent, 'page');
    mkdirSync(dir);
    for (const name of Object.keys(CONTENT_TYPES)) writeFileSync(join(dir, name), `contents of ${name}`);
    // beside the folder, where a path with `..` would reach
    writeFileSync(join(parent, 'secret.txt'), 'not to be served');
  });
  beforeEach(() => (process.env.PAGE_DIR = dir));
  afterAll(() => {
    rmSync(parent, { recursive: true, force: true });
    if (saved === undefined) delete process.env.PAGE_DIR;
    else process.env.PAGE_DIR = saved;
  });

  it('serves index.html at / as HTML that no browser keeps across restarts', async () => {
    const response = await get('/');
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('contents of index.html');
    expect(response.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  });

  it('sends a Content-Security-Policy: its own files, and sockets only to itself and the service it talks to', async () => {
    const response = await page({
      rawPath: '/',
      headers: { host: '127.0.0.1:3000' },
      queryStringParameters: { url: 'wss://abc.execute-api.eu-west-1.amazonaws.com/dev?x=1' },
      requestContext: { http: { method: 'GET' } },
    } as unknown as APIGatewayProxyEventV2);
    const policy = String(response.headers?.['content-security-policy']);
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("connect-src 'self' wss://abc.execute-api.eu-west-1.amazonaws.com");
    expect(contentSecurityPolicy('localhost:3000', 3001)).toContain("connect-src 'self' ws://localhost:3001;");
    // a ?url= that is not a WebSocket URL adds nothing
    expect(contentSecurityPolicy('localhost:3000', 3001, 'https://evil.example')).toContain(
      "connect-src 'self' ws://localhost:3001;",
    );
  });

  it('serves each built file with its content type', async () => {
    for (const [name, type] of Object.entries(CONTENT_TYPES)) {
      const response = await get(`/${name}`);
      expect(response).toMatchObject({ statusCode: 200, body: `contents of ${name}` });
      expect(response.headers?.['content-type']).toBe(type);
    }
  });

  it('answers 404 for anything else, a path out of the folder included', async () => {
    for (const path of ['/nope.js', '/../secret.txt', '/%2e%2e/secret.txt', '/index.html/..', '/constructor']) {
      expect((await get(path)).statusCode).toBe(404);
    }
  });

  it('says the page was not built when a listed file is missing, and that PAGE_DIR is needed when unset', async () => {
    rmSync(join(dir, 'page.js'));
    expect(await get('/page.js')).toMatchObject({ statusCode: 404, body: 'page.js was not built' });
    delete process.env.PAGE_DIR;
    expect((await get('/')).statusCode).toBe(500);
  });
});

describe('settings.js and the page function', () => {
  type Settings = Record<string, unknown>;
  let dir: string;
  const argv = process.argv;

  beforeAll(() => {
    dir = copyService('page-settings');
    // A deploy reads settings of its own (settings.js refuses one without a .env.yml).
    copyFileSync(join(dir, '.env.yml.example'), join(dir, '.env.yml'));
  });
  afterEach(() => (process.argv = argv));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function settingsFor(args: string[]): Promise<Settings> {
    process.argv = [argv[0] ?? 'node', 'serverless', ...args];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(join(dir, 'settings.js')) as () => Promise<Settings>)();
  }

  it('adds the page and its GET routes under `serverless offline`, reading the folder npm start builds', async () => {
    const settings = await settingsFor(['offline']);
    expect(settings.PAGE_FUNCTION).toMatchObject({
      handler: 'scripts/page/handler.page',
      environment: { PAGE_DIR: join(dir, '.local', 'page') },
    });
    const routes = (settings.PAGE_FUNCTION as { events: { httpApi: { method: string; path: string } }[] }).events;
    // exactly the files the handler serves: a route to a missing file, or a file without a route, fails
    expect(routes.every((event) => event.httpApi.method === 'GET')).toBe(true);
    expect(routes.map((event) => event.httpApi.path).sort()).toEqual(
      [
        '/',
        ...Object.keys(CONTENT_TYPES)
          .filter((name) => name !== 'index.html')
          .map((name) => `/${name}`),
      ].sort(),
    );
    expect(settings.PAGE_DIR).toBe(join(dir, '.local', 'page'));
  });

  it('leaves the page out of a package or deploy', async () => {
    expect((await settingsFor(['package'])).PAGE_FUNCTION).toBeNull();
    expect((await settingsFor(['deploy', '--stage', 'prod'])).PAGE_FUNCTION).toBeNull();
  });
});
