/**
 * Cold start. The rows the targets are for: each function's first invocation from the deploy
 * zip, as in AWS (cold-functions.ts), for the zip `sls package` makes and, in the same run, for
 * each other way of packaging measured (PACKAGING_OPTIONS: the compiled files with their
 * node_modules as before, bundles with and without each cut). Beside them: the tsc output's
 * handler invoked in a fresh process with the local stores, and the store's driver, the secret
 * reader and the validator each loaded alone.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { mysqlFromUrl } from '../../src/config';
import { MysqlConnectionStore } from '../../src/store/mysql';
import type { StandIn } from './stand-in';
import { median, round } from './stats';
import { packageService } from '../../test/support/package/package';
import type { Template } from '../../test/support/package/package';
import { benchFunctions } from './cold-functions';
import type { FunctionColdStart, Layout } from './cold-functions';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bundle } = require('../../infra/bundle.js') as {
  bundle(options: {
    entry: string;
    outfile: string;
    region?: string;
    minify: boolean;
    cjkTables: boolean;
  }): Promise<unknown>;
};

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

export interface ColdStartResults {
  /** Each function's first invocation from the deploy zip as shipped: the rows the targets are for. */
  functions: FunctionColdStart[];
  /** The same, for each way of packaging measured beside it in the same run (the shipped one among them). */
  options: ColdStartOption[];
  /** Our compiled modules and single packages loaded (and invoked) alone in fresh processes. */
  cases: ColdStartRow[];
}

export interface ColdStartOption {
  option: string;
  /** The deployment zip's size, where the option is a zip `sls package` made. */
  zipBytes: number | null;
  shipped: boolean;
  functions: FunctionColdStart[];
}

export interface PackageResult {
  zipBytes: number;
  zipMb: number;
  files: number;
  packageMs: number;
}

/**
 * The child: load BENCH_MODULE, invoke one route of it (`$default` unless BENCH_ROUTE) twice
 * when BENCH_INVOKE is set, print the timings as JSON.
 */
const CHILD = `
const ms = (a, b) => Number(b - a) / 1e6;
const t0 = process.hrtime.bigint();
const mod = require(process.env.BENCH_MODULE);
const t1 = process.hrtime.bigint();
if (!process.env.BENCH_INVOKE) { console.log(JSON.stringify({ loadMs: ms(t0, t1) })); process.exit(0); }
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

/** Each way of packaging measured, beside the shipped one (`sls package` as it is). */
interface PackagingOption {
  option: string;
  /** An unzipped `sls package` (`env`: its environment), or a bundle the bench makes from the tsc output. */
  from:
    | { package: Record<string, string> }
    | { bundle: { region?: string; minify: boolean; cjkTables: boolean; lazy: boolean } };
  shipped?: boolean;
}

const REGION = 'us-east-1';

export const PACKAGING_OPTIONS: PackagingOption[] = [
  {
    option: 'before: tsc output + pruned node_modules (WS_PACKAGE_BUNDLE=off)',
    from: { package: { WS_PACKAGE_BUNDLE: 'off' } },
  },
  {
    option: "one bundle: every region's RDS certificates, iconv-lite's CJK tables, nothing split",
    from: { bundle: { minify: true, cjkTables: true, lazy: false } },
  },
  {
    option: "+ the region's RDS certificates only",
    from: { bundle: { region: REGION, minify: true, cjkTables: true, lazy: false } },
  },
  {
    option: '+ no CJK tables',
    from: { bundle: { region: REGION, minify: true, cjkTables: false, lazy: false } },
  },
  {
    option: 'shipped (sls package): + the Secrets Manager client and jose in files of their own',
    from: { package: {} },
    shipped: true,
  },
];

/**
 * Every function's first invocation in each packaging option (cold-functions.ts), then our
 * modules and single packages alone. `packaged`: false in a smoke run (no `sls package`: only
 * the cases from the tsc output).
 */
export async function benchColdStart(
  standIn: StandIn,
  options: {
    processes: number;
    mysqlUrl: string | undefined;
    packaged: boolean;
    /** An unzipped package of another commit, timed as one more option (`--baseline DIR`). */
    baselineDir?: string | undefined;
    log: (message: string) => void;
  },
): Promise<ColdStartResults & { package: PackageResult | null }> {
  // Only our code is timed here: the stand-in answers at once and nobody is gone.
  await standIn.configure({ latencyMs: 0, goneShare: 0 });
  const { dir, handler } = compile();
  const scratch = mkdtempSync(join(tmpdir(), 'bench-cold-'));
  try {
    let functions: FunctionColdStart[] = [];
    let optionRows: ColdStartOption[] = [];
    let shippedPackage: Packaged | null = null;
    if (options.packaged) {
      let template: Template | undefined;
      const layouts: (Layout & { zipBytes: number | null; shipped: boolean })[] = [];
      for (const [index, item] of PACKAGING_OPTIONS.entries()) {
        const folder = join(scratch, `option-${index}`);
        let zipBytes: number | null = null;
        if ('package' in item.from) {
          options.log(`sls package (${item.option})`);
          const packaged = await packageForBench(folder, item.from.package);
          zipBytes = packaged.zipBytes;
          template ??= packaged.template;
          if (item.shipped) shippedPackage = packaged;
        } else {
          await bundle({ entry: handler, outfile: join(folder, 'src', 'handler.js'), ...item.from.bundle });
        }
        layouts.push({
          name: item.option,
          zipBytes,
          shipped: item.shipped === true,
          fileOf: (fn) => ({
            cwd: folder,
            file: join(folder, `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.js`),
          }),
        });
      }
      const baseline = options.baselineDir;
      if (baseline !== undefined) {
        layouts.push({
          name: `baseline: ${baseline}`,
          zipBytes: null,
          shipped: false,
          fileOf: (fn) => ({
            cwd: baseline,
            file: join(baseline, `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.js`),
          }),
        });
      }
      const timed = await benchFunctions(template as Template, layouts, {
        processes: options.processes,
        managementUrl: standIn.url,
        log: options.log,
      });
      optionRows = layouts.map((layout) => ({
        option: layout.name,
        zipBytes: layout.zipBytes,
        shipped: layout.shipped,
        functions: timed.get(layout.name) ?? [],
      }));
      functions = optionRows.find((row) => row.shipped)?.functions ?? [];
      const credentialMs = credentialStepMs(dir, options.processes);
      functions = functions.map((row) => ({
        ...row,
        credentialMs,
        loadAndCredentialMs: round(row.loadMs + credentialMs),
      }));
    }
    options.log('cold start: modules and packages alone');
    const cases = await moduleCases(dir, handler, { ...options, managementUrl: standIn.url });
    return { functions, options: optionRows, cases, package: shippedPackage && packageSummary(shippedPackage) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The credential step of a first store use in AWS: signing the RDS IAM auth token
 * (src/aws/rds-token.ts, no request is sent), timed in fresh processes from the tsc output. Its
 * module's load is part of the bundle's, so only the signing is counted: median ms.
 */
function credentialStepMs(dir: string, processes: number): number {
  const script = `
    const { rdsAuthToken } = require(${JSON.stringify(join(dir, 'src', 'aws', 'rds-token.js'))});
    const t0 = process.hrtime.bigint();
    rdsAuthToken({ host: 'db.example.internal', port: 3306, user: 'websockets_app', region: 'us-east-1' },
      { accessKeyId: 'AKIDCOLDSTARTBENCH', secretAccessKey: 'cold-start-bench', sessionToken: 'cold-start-bench' }, new Date());
    console.log(Number(process.hrtime.bigint() - t0) / 1e6);`;
  const runs: number[] = [];
  for (let i = 0; i < processes; i++) {
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: childEnv() });
    if (child.status !== 0) throw new Error(`the credential step failed: ${child.stderr}`);
    runs.push(Number(child.stdout.trim()));
  }
  return round(median(runs));
}

/** The tsc output's handler invoked with the embedded store (and a local MySQL), and single packages loaded alone. */
async function moduleCases(
  dir: string,
  handler: string,
  options: { processes: number; mysqlUrl: string | undefined; managementUrl: string },
): Promise<ColdStartRow[]> {
  const base: NodeJS.ProcessEnv = {
    ...childEnv(),
    LOG_LEVEL: 'error',
    IS_OFFLINE: 'true',
    MANAGEMENT_ENDPOINT: options.managementUrl,
  };
  type Case = { name: string; env: (i: number) => NodeJS.ProcessEnv };
  const cases: Case[] = [
    {
      name: 'handler.js (tsc output) + first $default (embedded store)',
      env: (i) => ({
        ...base,
        BENCH_MODULE: handler,
        BENCH_INVOKE: '1',
        EMBEDDED_STORE_FILE: join(dir, `cold-${i}.sqlite`), // a new file: the schema is created, as on a cold start
      }),
    },
  ];
  if (options.mysqlUrl) {
    cases.push({
      name: 'handler.js (tsc output) + first $default (local MySQL, no TLS, no secret)',
      env: () => ({
        ...base,
        BENCH_MODULE: handler,
        BENCH_INVOKE: '1',
        LOCAL_DB_URL: options.mysqlUrl,
        DB_TABLE_PREFIX: 'bench_cold_',
      }),
    });
  }
  // What the store's driver and the credential step cost to load alone, beside the validator.
  const resolved = (name: string) => require.resolve(name, { paths: [root] });
  for (const dependency of [
    'mysql2',
    'serverless-mysql',
    '@aws-sdk/client-secrets-manager',
    'valibot',
    'zod',
    'jose',
  ]) {
    cases.push({
      name: `require('${dependency}') alone`,
      env: () => ({ ...base, BENCH_MODULE: resolved(dependency) }),
    });
  }
  const samples = cases.map(() => [] as (ChildResult & { processMs: number })[]);
  try {
    // Interleaved, so that a noisy moment hits every case alike.
    for (let i = 0; i < options.processes; i++) {
      for (const [index, item] of cases.entries()) samples[index]?.push(runChild(item.env(i)));
    }
  } finally {
    if (options.mysqlUrl) {
      // The MySQL case's processes created these tables; leave nothing behind.
      const mysql = new MysqlConnectionStore(mysqlFromUrl(options.mysqlUrl, 'bench_cold_'));
      await mysql.dropTables().finally(() => mysql.close());
    }
  }
  return cases.map((item, index): ColdStartRow => {
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

type Packaged = Awaited<ReturnType<typeof packageService>>;

function packageSummary(packaged: Packaged): PackageResult {
  return {
    zipBytes: packaged.zipBytes,
    zipMb: round(packaged.zipBytes / 1024 / 1024, 2),
    files: packaged.zipEntries.filter((entry) => !entry.endsWith('/')).length,
    packageMs: round(packaged.packageMs, 0),
  };
}

/** `sls package` in a private copy (`env`: over the environment), unzipped into `unzipTo` so it can be loaded. */
export async function packageForBench(unzipTo: string, env: Record<string, string> = {}): Promise<Packaged> {
  return packageService({ unzipTo, env, timeoutMs: 300_000 });
}
