/**
 * The client package's tarball in a browser: an app installs it, bundles it with esbuild for
 * the browser and serves the bundle from its own origin (in LOCAL_ALLOWED_ORIGINS, as a
 * developer's dev server would be); in Chromium the page connects to the service with the
 * browser's own WebSocket, joins with a backlog, publishes in order and pages through history.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/harnesses/browser';
import { consumerProject, PACKAGE_NAME, packClientTarball } from '../support/harnesses/client-package';
import type { ConsumerProject } from '../support/harnesses/client-package';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(240_000);

let project: ConsumerProject;
let site: Server;
let sitePort: number;
let service: OfflineService;
let browser: Browser;

const PAGE = `
import { RealtimeClient } from '${PACKAGE_NAME}';

const room = 'in-a-browser';
const client = new RealtimeClient({ url: new URL(location.href).searchParams.get('ws') });
const live = [];
client.on('message', (m) => m.type === 'message' && m.room === room && live.push(m.data));
client.join(room, { backlog: 5 });
client.connect();
window.result = (async () => {
  const published = [];
  for (const n of [1, 2, 3]) published.push((await client.publish(room, n)).seq);
  const pages = [];
  for await (const page of client.history(room, { before: Infinity, limit: 2 })) pages.push(page.messages.map((m) => m.seq));
  while (live.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
  client.close();
  return { published, pages, live };
})();
`;

beforeAll(async () => {
  const { tarball } = await packClientTarball();
  project = await consumerProject(tarball);
  project.write('page.js', PAGE);
  await build({
    absWorkingDir: project.dir,
    entryPoints: ['page.js'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    outfile: join(project.dir, 'out', 'page.js'),
    logLevel: 'silent',
  });
  const bundle = readFileSync(join(project.dir, 'out', 'page.js'));
  site = createServer((req, res) => {
    if (req.url?.startsWith('/page.js'))
      return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<script type="module" src="/page.js"></script>');
  });
  await new Promise<void>((done) => site.listen(0, '127.0.0.1', done));
  sitePort = (site.address() as AddressInfo).port;
  [service, browser] = await Promise.all([
    startOffline({ settings: { LOCAL_ALLOWED_ORIGINS: `http://localhost:${sitePort}` } }),
    launchChromium(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await new Promise((done) => site?.close(done));
  await service?.stop();
  project?.remove();
});

it('runs in Chromium from its tarball: connects, joins, publishes in order and pages back through history', async () => {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`http://localhost:${sitePort}/?ws=${encodeURIComponent(`ws://localhost:${service.port}`)}`);
    await page.waitForFunction(() => 'result' in globalThis, undefined, { timeout: 30_000 });
    const result = (await page.evaluate(() => (globalThis as unknown as { result: Promise<unknown> }).result)) as {
      published: number[];
      pages: number[][];
      live: number[];
    };
    expect(errors).toEqual([]);
    const [first] = result.published as [number];
    expect(result.published).toEqual([first, first + 1, first + 2]);
    expect(result.pages[0]).toEqual([first + 1, first + 2]);
    expect(result.pages.reverse().flat().slice(-3)).toEqual(result.published);
    expect(result.live).toEqual([1, 2, 3]);
  } finally {
    await context.close();
  }
});
