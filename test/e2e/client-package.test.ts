/**
 * The client package from its tarball, as a user of this repository gets it: `npm run
 * client:pack` ends with the tarball's path; installed into an empty project (with `ws`, as
 * Node 20 needs), a Node ES module imports RealtimeClient from the package's name, connects to
 * the real service (`npm start`'s launcher), joins, publishes and reads history with the
 * iterator; TypeScript checks an app against its declarations; esbuild bundles it for the
 * browser with nothing of `ws` or Node; the chat page serves the same build. (Chromium runs that
 * bundle in test/browser/client-package.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { consumerProject, outcome, PACKAGE_NAME, packClientTarball, ROOT } from '../support/harnesses/client-package';
import type { ConsumerProject } from '../support/harnesses/client-package';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(240_000);

let service: OfflineService;
let project: ConsumerProject;
let packOutput: string;

beforeAll(async () => {
  const packed = await packClientTarball();
  packOutput = packed.output;
  [project, service] = await Promise.all([consumerProject(packed.tarball), startOffline()]);
});

afterAll(async () => {
  project?.remove();
  await service?.stop();
});

/** A Node ES module of the project, run to its end with SERVICE_URL; its exit code and output. */
function runApp(name: string, source: string) {
  const file = project.write(name, source);
  return outcome(process.execPath, [file], project.dir, 60_000, { SERVICE_URL: service.url });
}

/** What the app prints last: one JSON line. */
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1) ?? 'null') as Record<string, unknown>;

const APP = `
import { ClientRefusedError, RealtimeClient } from '${PACKAGE_NAME}';

const room = 'from-the-tarball';
const client = new RealtimeClient({ url: process.env.SERVICE_URL, reconnect: { maxAttempts: 3 } });
const live = [];
client.on('message', (m) => m.type === 'message' && m.room === room && live.push(m.seq));
client.on('error', (e) => console.error('error event:', e.name, e.message));
client.join(room, { backlog: 10 });
client.connect();
const published = [];
for (const n of [1, 2, 3]) published.push((await client.publish(room, { n })).seq);
const pages = [];
for await (const page of client.history(room, { limit: 2 })) pages.push(page.messages.map((m) => m.data?.n ?? m.type));
const back = [];
for await (const page of client.history(room, { before: Infinity, limit: 2 })) back.push(page.messages.map((m) => m.seq));
let refused;
try {
  for await (const page of client.history('never-joined')) void page;
} catch (error) {
  refused = error instanceof ClientRefusedError ? error.code : String(error);
}
for (const deadline = Date.now() + 10_000; live.length < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
client.close();
console.log(JSON.stringify({ published, pages, back, live, refused, state: client.state }));
`;

describe('the client package, from its tarball', () => {
  it('is what npm run client:pack packs: its last line is the tarball, which holds the build and no source', () => {
    expect(packOutput.trim().split('\n').at(-1)).toBe(project.tarball);
    const files = execFileSync('tar', ['-tzf', project.tarball], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'package/package.json',
        'package/README.md',
        'package/dist/index.js',
        'package/dist/node.js',
        'package/dist/index.d.ts',
      ]),
    );
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('in Node, connects, joins, publishes in order and reads history with the iterator (ws: Node 20 has no global WebSocket)', async () => {
    const result = await runApp('app.mjs', APP);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const printed = lastJson(result.stdout);
    const published = printed.published as number[];
    expect(published).toEqual([published[0], (published[0] as number) + 1, (published[0] as number) + 2]);
    // Forward, two frames a page: the join's presence event may come first in the room's count.
    expect((printed.pages as unknown[][]).flat().filter((n) => typeof n === 'number')).toEqual([1, 2, 3]);
    expect((printed.back as number[][]).reverse().flat().slice(-3)).toEqual(published);
    expect(printed).toMatchObject({ live: published, refused: 'not_member', state: 'closed' });
  });

  it("prefers a global WebSocket (Node 22's own) over ws, and a WebSocket option over both", async () => {
    const result = await runApp(
      'global.mjs',
      `import WebSocket from 'ws';
       const made = { global: 0, option: 0 };
       const counted = (name) => class extends WebSocket { constructor(url) { super(url); made[name] += 1; } };
       globalThis.WebSocket = counted('global');
       const { RealtimeClient } = await import('${PACKAGE_NAME}');
       for (const options of [{}, { WebSocket: counted('option') }]) {
         const client = new RealtimeClient({ url: process.env.SERVICE_URL, ...options });
         client.connect();
         await new Promise((resolve) => client.on('open', resolve));
         client.close();
       }
       console.log(JSON.stringify(made));`,
    );
    expect(result.code).toBe(0);
    expect(lastJson(result.stdout)).toEqual({ global: 1, option: 1 });
  });

  it('type-checks an app against its declarations, with Node16 and bundler resolution, needing neither Node nor DOM types', async () => {
    project.write(
      'app.ts',
      `import { ClientRefusedError, RealtimeClient } from '${PACKAGE_NAME}';
       import type { HistoryPage, PublishResult, ServerMessage } from '${PACKAGE_NAME}';
       const client = new RealtimeClient({ url: 'ws://localhost:3001', publishTimeoutMs: 5_000 });
       let last: [string, unknown] | undefined;
       client.on('message', (m: ServerMessage) => {
         if (m.type === 'message' && m.seq !== undefined) last = [m.seq.toFixed(0), m.data];
       });
       export const lastHeard = () => last;
       client.join('lobby', { backlog: 5 });
       export async function demo(): Promise<number> {
         const result: PublishResult = await client.publish('lobby', { text: 'hi' }, { ordered: false });
         try {
           for await (const page of client.history('lobby', { before: result.seq, limit: 10 })) {
             const typed: HistoryPage = page;
             return typed.messages.length + result.delivery.recipients;
           }
         } catch (error) {
           if (error instanceof ClientRefusedError) return error.code.length;
         }
         return 0;
       }
       // @ts-expect-error: a publish needs its data
       void client.publish('lobby');
       `,
    );
    const strict = { strict: true, noEmit: true, skipLibCheck: false, target: 'ES2022', types: [] };
    const configs = {
      'tsconfig.node16.json': { ...strict, module: 'Node16', moduleResolution: 'Node16', lib: ['ES2022'] },
      'tsconfig.bundler.json': { ...strict, module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'] },
    };
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const [file, compilerOptions] of Object.entries(configs)) {
      project.write(file, JSON.stringify({ compilerOptions, files: ['app.ts'] }));
      const result = await outcome(process.execPath, [tsc, '-p', file], project.dir);
      expect({ file, code: result.code, output: result.stdout + result.stderr }).toEqual({ file, code: 0, output: '' });
    }
  });

  it('bundles for the browser with esbuild: the package alone, no ws, nothing of Node', async () => {
    project.write(
      'browser.js',
      `import { RealtimeClient } from '${PACKAGE_NAME}';\nglobalThis.client = new RealtimeClient({ url: 'ws://localhost:3001' });\n`,
    );
    const result = await build({
      absWorkingDir: project.dir,
      entryPoints: ['browser.js'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      outfile: join(project.dir, 'out', 'browser.js'),
      metafile: true,
      logLevel: 'silent',
    });
    expect(Object.keys(result.metafile.inputs).sort()).toEqual([
      'browser.js',
      'node_modules/@aws-node-websockets/client/dist/index.js',
    ]);
    const output = Object.values(result.metafile.outputs)[0];
    expect(output?.imports).toEqual([]);
  });

  it("is what the chat page of npm start runs: its client.js is the package's browser build, byte for byte", async () => {
    const served = await fetch(`http://localhost:${service.httpPort}/client.js`);
    expect(served.status).toBe(200);
    const packaged = readFileSync(join(project.dir, 'node_modules', PACKAGE_NAME, 'dist', 'index.js'), 'utf8');
    expect(await served.text()).toBe(packaged);
  });

  it('says to npm i ws on a Node with neither a global WebSocket nor ws', async () => {
    rmSync(join(project.dir, 'node_modules', 'ws'), { recursive: true, force: true });
    const result = await runApp(
      'no-ws.mjs',
      `import { RealtimeClient } from '${PACKAGE_NAME}';
       try { new RealtimeClient({ url: process.env.SERVICE_URL }); console.log('made'); }
       catch (error) { console.log(JSON.stringify({ name: error.name, message: error.message })); }`,
    );
    expect(result.code).toBe(0);
    expect(lastJson(result.stdout)).toEqual({ name: 'TypeError', message: expect.stringContaining('npm i ws') });
  });
});
