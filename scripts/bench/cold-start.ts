/**
 * Cold start: the compiled handler module loaded in a fresh Node process, and its
 * first invocation (the `$default` route, which reads the store and posts a reply),
 * timed with process.hrtime inside the child. Also the deploy zip from `sls package`,
 * the message path's load from it against its target, where that load goes (a
 * require-time breakdown), and the validators we could use, each loaded alone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { mysqlFromUrl } from '../../src/config';
import { MysqlConnectionStore } from '../../src/store/mysql';
import type { StandIn } from './stand-in';
import { median, round } from './stats';
import { packageService } from '../../test/support/package/package';

const root = resolve(__dirname, '..', '..');

export interface ColdStartRow {
  /** What was loaded / which store the first invocation used. */
  case: string;
  processes: number;
  /** require() of the module, ms (median). */
  loadMs: number;
  /** First invocation, ms (median); null when the case only loads. */
  firstInvokeMs: number | null;
  /** Second invocation in the same process (warm), ms (median). */
  warmInvokeMs: number | null;
  /** Spawn to exit of the whole process, ms (median), as seen by the parent. */
  processMs: number;
  /** What the load should stay under, where there is a target. */
  targetMs?: number;
}

/** The message path (handler + chat actions + communication, packaged) loads in at most this. */
export const MESSAGE_PATH_TARGET_MS = 60;

/** Modules the message path must not load: each is needed only by another route, or later. */
export const NOT_ON_MESSAGE_PATH = ['jose', 'mysql2', '@aws-sdk/client-secrets-manager', 'zod'] as const;

/** One package's (or one of our files') own share of the message path's load: its children excluded. */
export interface BreakdownRow {
  module: string;
  /** Median over the processes of its own require time, ms (0 in a process that did not load it). */
  selfMs: number;
}

export interface ColdStartResults {
  rows: ColdStartRow[];
  /** Where the message path's load goes, largest first (the timing hook adds a little to each). */
  breakdown: BreakdownRow[];
  /** Which of NOT_ON_MESSAGE_PATH the message path loaded: none, as designed. */
  loadedButNotNeeded: string[];
}

export interface PackageResult {
  zipBytes: number;
  zipMb: number;
  files: number;
  packageMs: number;
}

/**
 * The child: load BENCH_MODULE (several, joined by the path delimiter, in order), invoke one
 * route of the first (`$default` unless BENCH_ROUTE) twice, print the timings as JSON.
 * BENCH_STUB names files to put in the module cache as empty modules first (what a
 * bundler's alias would leave out). BENCH_BREAKDOWN times each module's own require, its
 * children excluded, by package (or our file), and prints it too.
 */
const CHILD = `
const ms = (a, b) => Number(b - a) / 1e6;
const { delimiter } = require('node:path');
const Module = require('node:module');
const list = (name) => (process.env[name] || '').split(delimiter).filter(Boolean);
for (const file of list('BENCH_STUB')) require.cache[file] = { id: file, filename: file, loaded: true, exports: {} };
const self = {};
if (process.env.BENCH_BREAKDOWN) {
  const original = Module._load;
  const open = [];
  const owner = (file) => {
    const at = file.lastIndexOf('node_modules/');
    if (at < 0) return 'src/' + file.split(/[\\/]src[\\/]/).pop();
    const [scope, name] = file.slice(at + 13).split('/');
    return scope.startsWith('@') ? scope + '/' + name : scope;
  };
  Module._load = function (request, parent, isMain) {
    let file;
    try { file = Module._resolveFilename(request, parent, isMain); } catch { return original.apply(this, arguments); }
    if (!file.includes('/') || Module._cache[file]) return original.apply(this, arguments);
    const started = process.hrtime.bigint();
    open.push(0);
    try { return original.apply(this, arguments); } finally {
      const total = ms(started, process.hrtime.bigint());
      const children = open.pop();
      if (open.length > 0) open[open.length - 1] += total;
      const key = owner(file);
      self[key] = (self[key] || 0) + total - children;
    }
  };
}
const t0 = process.hrtime.bigint();
const [mod] = list('BENCH_MODULE').map((file) => require(file));
const t1 = process.hrtime.bigint();
if (!process.env.BENCH_INVOKE) { console.log(JSON.stringify({ loadMs: ms(t0, t1), self })); process.exit(0); }
const context = { getRemainingTimeInMillis: () => 29000 };
const event = (id) => ({
  requestContext: { connectionId: id, connectedAt: Date.now(), routeKey: '$default', eventType: 'MESSAGE',
    domainName: 'localhost', stage: 'local', requestId: id, apiId: 'private' },
  body: '{}', isBase64Encoded: false,
});
const route = mod[process.env.BENCH_ROUTE || 'defaultHandler'];
(async () => {
  const a = await route(event('cold-1'), context);
  const t2 = process.hrtime.bigint();
  const b = await route(event('cold-2'), context);
  const t3 = process.hrtime.bigint();
  console.log(JSON.stringify({ loadMs: ms(t0, t1), firstInvokeMs: ms(t1, t2), warmInvokeMs: ms(t2, t3),
    statuses: [a.statusCode, b.statusCode] }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

interface ChildResult {
  loadMs: number;
  /** BENCH_BREAKDOWN: own require time per package or file, ms. */
  self?: Record<string, number>;
  firstInvokeMs?: number;
  warmInvokeMs?: number;
  statuses?: number[];
}

function runChild(env: NodeJS.ProcessEnv): ChildResult & { processMs: number } {
  const started = performance.now();
  const child = spawnSync(process.execPath, ['-e', CHILD], { env, encoding: 'utf8', timeout: 60_000 });
  const processMs = performance.now() - started;
  if (child.status !== 0) throw new Error(`cold-start child failed (${child.status}): ${child.stderr}`);
  const line = child.stdout.trim().split('\n').pop() ?? '';
  const result = JSON.parse(line) as ChildResult;
  if (result.statuses && result.statuses.some((status) => status !== 200)) {
    throw new Error(`cold-start invocation answered ${result.statuses.join(', ')}: ${child.stderr}`);
  }
  return { ...result, processMs };
}

/**
 * A benchmark child's environment: nothing of ours, fake credentials and no instance-metadata
 * probing, so no AWS SDK in it ever looks for real credentials or leaves the loopback.
 */
export function childEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: 'us-east-1',
  };
}

/** Compiles src/ with the project's tsconfig into a temp dir that sees the project's node_modules. */
export function compile(): { dir: string; handler: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-build-'));
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', dir],
    { stdio: 'inherit' },
  );
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, handler: join(dir, 'src', 'handler.js') };
}

export async function benchColdStart(
  standIn: StandIn,
  options: {
    processes: number;
    mysqlUrl: string | undefined;
    zipDir?: string;
    /** Another unzipped package (e.g. an earlier commit's) whose message path is timed beside ours. */
    baselineDir?: string;
  },
): Promise<ColdStartResults> {
  // Only our code is timed here: the stand-in answers at once and nobody is gone.
  await standIn.configure({ latencyMs: 0, goneShare: 0 });
  const { dir, handler } = compile();
  const base: NodeJS.ProcessEnv = {
    ...childEnv(),
    LOG_LEVEL: 'error',
    IS_OFFLINE: 'true',
    MANAGEMENT_ENDPOINT: standIn.url,
  };
  type Case = { name: string; env: (i: number) => NodeJS.ProcessEnv; target?: number };
  const cases: Case[] = [
    {
      name: 'handler.js + first $default (embedded store)',
      env: (i) => ({
        ...base,
        BENCH_MODULE: handler,
        BENCH_INVOKE: '1',
        EMBEDDED_STORE_FILE: join(dir, `cold-${i}.sqlite`), // a new file: the schema is created, as on a cold start
      }),
    },
  ];
  cases.push({
    name: 'handler.js + first $connect (embedded store)',
    env: (i) => ({
      ...base,
      BENCH_MODULE: handler,
      BENCH_INVOKE: '1',
      BENCH_ROUTE: 'connect',
      EMBEDDED_STORE_FILE: join(dir, `cold-connect-${i}.sqlite`),
    }),
  });
  if (options.mysqlUrl) {
    cases.push({
      name: 'handler.js + first $default (MySQL)',
      env: () => ({
        ...base,
        BENCH_MODULE: handler,
        BENCH_INVOKE: '1',
        LOCAL_DB_URL: options.mysqlUrl,
        DB_TABLE_PREFIX: 'bench_cold_',
      }),
    });
  }
  if (options.zipDir) {
    cases.push({
      name: 'handler.js from the deploy zip (load only)',
      env: () => ({ ...base, BENCH_MODULE: join(options.zipDir as string, 'src', 'handler.js') }),
    });
  }
  // The message route's first invocation loads messaging (protocol, the validator) and
  // communication (the delivery client) on top of handler.js: that sum is the message path.
  const packaged = options.zipDir ?? dir;
  const from = options.zipDir ? 'the deploy zip' : 'tsc output (no zip in a smoke run)';
  // A baseline packaged before the chat/ folder existed has the actions in src/messaging.js.
  const messagePath = (base: string) =>
    ['handler', existsSync(join(base, 'src', 'chat', 'actions.js')) ? 'chat/actions' : 'messaging', 'communication']
      .map((name) => join(base, 'src', `${name}.js`))
      .join(delimiter);
  cases.push({
    name: `message path: handler + actions + communication from ${from} (load only)`,
    target: MESSAGE_PATH_TARGET_MS,
    env: () => ({ ...base, BENCH_MODULE: messagePath(packaged) }),
  });
  if (options.baselineDir) {
    cases.push({
      name: `message path of the baseline package (${options.baselineDir}, load only)`,
      target: MESSAGE_PATH_TARGET_MS,
      env: () => ({ ...base, BENCH_MODULE: messagePath(options.baselineDir as string) }),
    });
  }
  cases.push({
    name: 'src/aws/management-api.js alone (the lean signed client)',
    env: () => ({ ...base, BENCH_MODULE: join(packaged, 'src', 'aws', 'management-api.js') }),
  });
  // The delivery path the message routes load (src/communication.ts and what it requires),
  // beside the SDK client it replaced, which is no longer loaded.
  cases.push({
    name: 'communication.js alone (our delivery path)',
    env: () => ({ ...base, BENCH_MODULE: join(packaged, 'src', 'communication.js') }),
  });
  // Where the load time goes: each top-level dependency alone, in a fresh process, and the
  // validators we could use (zod as before, valibot as now).
  const resolved = (name: string) => require.resolve(name, { paths: [root] });
  for (const dependency of [
    '@aws-sdk/client-apigatewaymanagementapi',
    'serverless-mysql',
    'zod',
    'zod/mini',
    'valibot',
  ]) {
    cases.push({
      name: `require('${dependency}') alone`,
      env: () => ({ ...base, BENCH_MODULE: resolved(dependency) }),
    });
  }
  // zod has no entry point without its 64 locales (even zod/v4/core loads them all); this is
  // what leaving them out would give, as a bundler's alias could. Not an option for us: the
  // package is zipped as installed, by serverless-plugin-typescript's tsc output.
  const zodDir = dirname(resolved('zod'));
  cases.push({
    name: "require('zod') without its locales (locales/index stubbed)",
    env: () => ({
      ...base,
      BENCH_MODULE: resolved('zod'),
      BENCH_STUB: ['locales/index.cjs', 'v4/locales/index.cjs'].map((file) => join(zodDir, file)).join(delimiter),
    }),
  });
  // The same message path again, with its requires timed one by one (in processes of their own:
  // the timing hook adds to the load).
  const breakdownCase: Case = {
    name: 'message path, require-time breakdown',
    env: () => ({ ...base, BENCH_MODULE: messagePath(packaged), BENCH_BREAKDOWN: '1' }),
  };
  const breakdownRuns: ChildResult[] = [];

  const samples = cases.map(() => [] as (ChildResult & { processMs: number })[]);
  try {
    // Interleaved, so that a noisy moment hits every case alike.
    for (let i = 0; i < options.processes; i++) {
      for (const [index, item] of cases.entries()) samples[index]?.push(runChild(item.env(i)));
      breakdownRuns.push(runChild(breakdownCase.env(i)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (options.mysqlUrl) {
      // The MySQL case's processes created these tables; leave nothing behind.
      const mysql = new MysqlConnectionStore(mysqlFromUrl(options.mysqlUrl, 'bench_cold_'));
      await mysql.dropTables().finally(() => mysql.close());
    }
  }
  const rows = cases.map((item, index): ColdStartRow => {
    const runs = samples[index] ?? [];
    const invoked = runs.every((r) => r.firstInvokeMs !== undefined);
    return {
      case: item.name,
      processes: runs.length,
      loadMs: round(median(runs.map((r) => r.loadMs))),
      firstInvokeMs: invoked ? round(median(runs.map((r) => r.firstInvokeMs ?? 0))) : null,
      warmInvokeMs: invoked ? round(median(runs.map((r) => r.warmInvokeMs ?? 0))) : null,
      processMs: round(median(runs.map((r) => r.processMs))),
      ...(item.target === undefined ? {} : { targetMs: item.target }),
    };
  });
  return { rows, ...breakdownOf(breakdownRuns) };
}

/** Median own time per module over the processes, largest first, and the unneeded modules seen. */
function breakdownOf(runs: ChildResult[]): Omit<ColdStartResults, 'rows'> {
  const modules = new Set(runs.flatMap((run) => Object.keys(run.self ?? {})));
  const breakdown = [...modules]
    .map((module) => ({ module, selfMs: round(median(runs.map((run) => run.self?.[module] ?? 0)), 2) }))
    .sort((a, b) => b.selfMs - a.selfMs);
  const loadedButNotNeeded = NOT_ON_MESSAGE_PATH.filter((name) => modules.has(name));
  return { breakdown, loadedButNotNeeded };
}

/** The deploy zip's size, from `sls package` in a private copy; unzipped into `unzipTo` so it can be loaded. */
export async function packageForBench(unzipTo?: string): Promise<PackageResult> {
  const packaged = await packageService({ unzipTo, timeoutMs: 300_000 });
  return {
    zipBytes: packaged.zipBytes,
    zipMb: round(packaged.zipBytes / 1024 / 1024, 2),
    files: packaged.zipEntries.filter((entry) => !entry.endsWith('/')).length,
    packageMs: round(packaged.packageMs, 0),
  };
}
