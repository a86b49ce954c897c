/**
 * Cold start: the compiled handler module loaded in a fresh Node process, and its
 * first invocation (the `$default` route, which reads the store and posts a reply),
 * timed with process.hrtime inside the child. Also the deploy zip from `sls package`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { mysqlFromUrl } from '../../src/config';
import { MysqlConnectionStore } from '../../src/data';
import type { StandIn } from './stand-in';
import { median, round } from './stats';
import { packageService } from '../../test/support/package';

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
}

export interface PackageResult {
  zipBytes: number;
  zipMb: number;
  files: number;
  packageMs: number;
}

/** The child: load, invoke one route (`$default` unless BENCH_ROUTE) twice, print the timings as JSON. */
const CHILD = `
const ms = (a, b) => Number(b - a) / 1e6;
const t0 = process.hrtime.bigint();
const mod = require(process.env.BENCH_MODULE);
const t1 = process.hrtime.bigint();
if (!process.env.BENCH_INVOKE) { console.log(JSON.stringify({ loadMs: ms(t0, t1) })); process.exit(0); }
const context = { getRemainingTimeInMillis: () => 29000 };
const event = (id) => ({
  requestContext: { connectionId: id, connectedAt: Date.now(), routeKey: '$default', eventType: 'MESSAGE',
    domainName: 'localhost', stage: 'local', requestId: id, apiId: 'bench' },
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
  options: { processes: number; mysqlUrl: string | undefined; zipDir?: string },
): Promise<ColdStartRow[]> {
  // Only our code is timed here: the stand-in answers at once and nobody is gone.
  await standIn.configure({ latencyMs: 0, goneShare: 0 });
  const { dir, handler } = compile();
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: 'us-east-1',
    LOG_LEVEL: 'error',
    IS_OFFLINE: 'true',
    MANAGEMENT_ENDPOINT: standIn.url,
  };
  type Case = { name: string; env: (i: number) => NodeJS.ProcessEnv };
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
  // The delivery path the message routes load (src/communication.ts and what it requires),
  // beside the SDK client it replaced, which is no longer loaded.
  cases.push({
    name: 'communication.js alone (our delivery path)',
    env: () => ({ ...base, BENCH_MODULE: join(dir, 'src', 'communication.js') }),
  });
  // Where the load time goes: each top-level dependency alone, in a fresh process.
  for (const dependency of ['@aws-sdk/client-apigatewaymanagementapi', 'serverless-mysql', 'zod']) {
    cases.push({
      name: `require('${dependency}') alone`,
      env: () => ({ ...base, BENCH_MODULE: require.resolve(dependency, { paths: [root] }) }),
    });
  }

  const samples = cases.map(() => [] as (ChildResult & { processMs: number })[]);
  try {
    // Interleaved, so that a noisy moment hits every case alike.
    for (let i = 0; i < options.processes; i++) {
      for (const [index, item] of cases.entries()) samples[index]?.push(runChild(item.env(i)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (options.mysqlUrl) {
      // The MySQL case's processes created these tables; leave nothing behind.
      const mysql = new MysqlConnectionStore(mysqlFromUrl(options.mysqlUrl, 'bench_cold_'));
      await mysql.dropTables().finally(() => mysql.close());
    }
  }
  return cases.map((item, index) => {
    const runs = samples[index] ?? [];
    const invoked = runs.every((r) => r.firstInvokeMs !== undefined);
    return {
      case: item.name,
      processes: runs.length,
      loadMs: round(median(runs.map((r) => r.loadMs))),
      firstInvokeMs: invoked ? round(median(runs.map((r) => r.firstInvokeMs ?? 0))) : null,
      warmInvokeMs: invoked ? round(median(runs.map((r) => r.warmInvokeMs ?? 0))) : null,
      processMs: round(median(runs.map((r) => r.processMs))),
    };
  });
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
