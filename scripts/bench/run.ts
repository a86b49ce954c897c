/**
 * The benchmark as a function (`npm run bench` prints and saves it; the e2e smoke test
 * runs it small): fan-out, store calls per fan-out, cold start and package size, and
 * load under serverless-offline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { mysqlFromUrl } from '../../src/config';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { benchColdStart, MESSAGE_PATH_TARGET_MS, packageForBench } from './cold-start';
import type { BreakdownRow, ColdStartRow, PackageResult } from './cold-start';
import { benchDelivery, CHOSEN as DELIVERY_CHOSEN } from './delivery';
import type { DeliveryResults } from './delivery';
import { benchFanOut } from './fanout';
import type { FanOutRow } from './fanout';
import { benchBoundedLoad } from './bounded-load';
import type { BoundedLoadRow } from './bounded-load';
import { benchLoad } from './load';
import type { LoadRow } from './load';
import { benchHistory } from './history';
import type { HistoryRow } from './history';
import { benchInvocations, benchQueries } from './queries';
import type { InvocationRow, QueryRow, WireCount } from './queries';
import { benchRights } from './rights';
import type { RightsRow } from './rights';
import { benchSecrets } from './secrets';
import type { SecretsRow } from './secrets';
import { benchShards } from './shards';
import type { ShardRow } from './shards';
import { startStandIn } from './stand-in';

export interface BenchOptions {
  smoke: boolean;
  /**
   * Run only these sections: `--only delivery` (CPU per post of each candidate), `--only fanout`
   * (N = 10,000 at concurrency 50, ours against the SDK client it replaced), `--only cold-start`,
   * `--only history` (the sequence + history write per post, a read of 1,000), `--only shards`
   * (100,000 and 1,000,000 recipients through the shard code, ~5 minutes), or several, comma-separated.
   */
  only?: Section[] | undefined;
  /** An unzipped package whose message path the cold-start section times beside ours (`--baseline DIR`). */
  baselineDir?: string | undefined;
  /** mysql://…; undefined to skip MySQL. Unreachable servers are skipped with a note. */
  mysqlUrl: string | undefined;
  log?: (message: string) => void;
}

export type Section = 'delivery' | 'fanout' | 'cold-start' | 'load' | 'rights' | 'history' | 'shards';
export const SECTIONS: readonly Section[] = ['delivery', 'fanout', 'cold-start', 'load', 'rights', 'history', 'shards'];

export interface BenchResults {
  mode: 'full' | 'smoke';
  startedAt: string;
  durationS: number;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string };
  settings: {
    latencyMs: number;
    goneShare: number;
    repetitions: number;
    sequentialSubset: number;
    coldStartProcesses: number;
    loadClients: number;
    /** Handshakes in flight at once while the load clients connect (and clients closing at once). */
    loadConcurrency: number;
  };
  mysql: string;
  /** CPU per post of each way to make the management API request (its own section). */
  delivery: DeliveryResults;
  fanOut: FanOutRow[];
  queries: QueryRow[];
  /** MySQL statements per invocation of each route, counted on the wire (empty without MySQL). */
  invocations: InvocationRow[];
  coldStart: ColdStartRow[];
  /** Where the message path's load goes, by package or file, largest first. */
  coldStartBreakdown: BreakdownRow[];
  /** Modules the message path loaded though it does not need them (none, as designed). */
  loadedButNotNeeded: string[];
  package: PackageResult | null;
  load: LoadRow[];
  /** `--only load`: 2,000 clients in rooms of 50 under the local runtime's bound, and the service's peak RSS. */
  boundedLoad: BoundedLoadRow | null;
  /** What reading a secret adds to a cold start, by way of reading it. */
  secrets: SecretsRow[];
  /** What the rights check costs the message path (src/auth/rooms.ts, src/chat/access.ts). */
  rights: RightsRow[];
  /** What a room message's sequence + history write costs, and one history read of 1,000. */
  history: HistoryRow[];
  /** Audiences beyond one invocation, through the shard code (`--only shards`, and full runs). */
  shards: { rows: ShardRow[] };
}

/** True when something answers a real query at the URL within a few seconds. */
export async function mysqlReachable(url: string): Promise<boolean> {
  const settings = mysqlFromUrl(url, 'bench_');
  const open = await new Promise<boolean>((resolve) => {
    const socket = connect(settings.port, settings.host);
    socket.setTimeout(2_000, () => (socket.destroy(), resolve(false)));
    socket.once('connect', () => (socket.end(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
  if (!open) return false;
  const store = new MysqlConnectionStore(settings, { connectTimeoutMs: 3_000 });
  try {
    await store.list(1);
    await store.dropTables();
    return true;
  } catch {
    return false;
  } finally {
    await store.close();
  }
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const smoke = options.smoke;
  const settings = {
    latencyMs: smoke ? 5 : 20,
    goneShare: 0.1,
    repetitions: smoke ? 1 : 3,
    sequentialSubset: smoke ? 20 : 200,
    coldStartProcesses: smoke ? 1 : 5,
    loadClients: smoke ? 10 : 200,
    loadConcurrency: smoke ? 5 : 20,
  };
  if (options.only) return sectionsOnly(options.only, options, settings, started);
  const mysqlUrl = options.mysqlUrl && (await mysqlReachable(options.mysqlUrl)) ? options.mysqlUrl : undefined;
  const mysql = options.mysqlUrl === undefined ? 'not asked for' : mysqlUrl ? 'reachable' : 'unreachable: skipped';
  log(`MySQL: ${mysql}`);

  const standIn = await startStandIn({ latencyMs: settings.latencyMs, goneShare: settings.goneShare });
  let delivery: DeliveryResults;
  let fanOut: FanOutRow[];
  let queries: QueryRow[];
  let invocations: InvocationRow[];
  let history: HistoryRow[];
  let coldStart: ColdStartSection;
  let shardRows: ShardRow[];
  try {
    log('CPU per post of each delivery candidate');
    delivery = await benchDelivery(standIn, deliveryPlan(smoke));
    log('fan-out against the stand-in management API');
    fanOut = await benchFanOut(standIn, {
      plan: smoke
        ? [{ recipients: 200, concurrencies: [50] }]
        : [
            { recipients: 1_000, concurrencies: [50, 100, 200], repetitions: 5 },
            { recipients: 10_000, concurrencies: [50, 100, 200], repetitions: 3 },
          ],
      latencyMs: settings.latencyMs,
      goneShare: settings.goneShare,
      repetitions: settings.repetitions,
      sequentialSubset: settings.sequentialSubset,
    });
    log('store calls per fan-out');
    queries = await benchQueries(standIn, {
      recipients: smoke ? 100 : 1_000,
      goneShare: settings.goneShare,
      latencyMs: settings.latencyMs,
      mysqlUrl,
    });
    log('MySQL statements per invocation, on the wire');
    invocations = await benchInvocations(standIn, { mysqlUrl });
    log('room history: the sequence + history write per post, a read of 1,000');
    history = await benchHistory({ smoke, mysqlUrl });
    coldStart = await coldStartSection(standIn, options, settings, mysqlUrl);
    shardRows = smoke ? [] : await shardSection(standIn, settings, log);
  } finally {
    await standIn.close();
  }
  log('the rights check on the message path');
  const rights = await benchRights({ smoke });
  log('secrets: the SDK client, a lean signed request, an RDS IAM token');
  const secrets = await benchSecrets({ processes: settings.coldStartProcesses });
  log(`load under serverless-offline (${settings.loadClients} clients)`);
  const load = await benchLoad({
    clients: settings.loadClients,
    mysqlUrl: smoke ? undefined : mysqlUrl,
    connectConcurrency: settings.loadConcurrency,
    closeConcurrency: settings.loadConcurrency,
  });

  return {
    mode: smoke ? 'smoke' : 'full',
    startedAt: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine: machine(),
    settings,
    mysql,
    delivery,
    fanOut,
    queries,
    invocations,
    coldStart: coldStart.rows,
    coldStartBreakdown: coldStart.breakdown,
    loadedButNotNeeded: coldStart.loadedButNotNeeded,
    package: coldStart.package,
    load,
    boundedLoad: null,
    secrets,
    rights,
    history,
    shards: { rows: shardRows },
  };
}

/** The audiences the shard section delivers to. */
export const SHARD_AUDIENCES = [100_000, 1_000_000];

function shardSection(
  standIn: Awaited<ReturnType<typeof startStandIn>>,
  settings: BenchResults['settings'],
  log: (message: string) => void,
): Promise<ShardRow[]> {
  log('shards: audiences beyond one invocation, through the shard code');
  return benchShards(standIn, { audiences: SHARD_AUDIENCES, latencyMs: settings.latencyMs, log });
}

function machine(): BenchResults['machine'] {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

type ColdStartSection = Awaited<ReturnType<typeof benchColdStart>> & { package: PackageResult | null };

/** `sls package` (not in a smoke run), then the cold-start cases, the packaged code among them. */
async function coldStartSection(
  standIn: Awaited<ReturnType<typeof startStandIn>>,
  options: BenchOptions,
  settings: BenchResults['settings'],
  mysqlUrl: string | undefined,
): Promise<ColdStartSection> {
  const log = options.log ?? (() => {});
  let zipDir: string | undefined;
  let packaged: PackageResult | null = null;
  try {
    if (!options.smoke) {
      log('sls package');
      zipDir = mkdtempSync(join(tmpdir(), 'bench-zip-'));
      packaged = await packageForBench(zipDir);
    }
    log('cold start');
    const results = await benchColdStart(standIn, {
      processes: settings.coldStartProcesses,
      mysqlUrl,
      zipDir,
      baselineDir: options.baselineDir,
    });
    return { ...results, package: packaged };
  } finally {
    if (zipDir) rmSync(zipDir, { recursive: true, force: true });
  }
}

/** A run's header with every section empty, for the runs of one section. */
function emptyResults(options: BenchOptions, settings: BenchResults['settings'], started: number): BenchResults {
  return {
    mode: options.smoke ? 'smoke' : 'full',
    startedAt: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine: machine(),
    settings,
    mysql: 'not asked for',
    delivery: { rows: [], chosen: '' },
    fanOut: [],
    queries: [],
    invocations: [],
    coldStart: [],
    coldStartBreakdown: [],
    loadedButNotNeeded: [],
    secrets: [],
    package: null,
    load: [],
    boundedLoad: null,
    rights: [],
    history: [],
    shards: { rows: [] },
  };
}

/** N = 5,000 posts at concurrency 50, 5 interleaved repetitions (the smoke run: 200, 1). */
function deliveryPlan(smoke: boolean) {
  return { posts: smoke ? 200 : 5_000, concurrency: 50, repetitions: smoke ? 1 : 5, coreOnly: smoke };
}

/**
 * `--only delivery` (under a minute) and/or `--only fanout`: the delivery comparison, and the
 * fan-out the delivery targets are set on (N = 10,000, concurrency 50, 20 ms stand-in).
 */
async function sectionsOnly(
  sections: readonly Section[],
  options: BenchOptions,
  settings: BenchResults['settings'],
  started: number,
): Promise<BenchResults> {
  const standIn = await startStandIn({ latencyMs: 0, goneShare: 0 });
  let delivery: DeliveryResults = { rows: [], chosen: DELIVERY_CHOSEN };
  let fanOut: FanOutRow[] = [];
  let coldStart: Partial<BenchResults> = {};
  let boundedLoad: BoundedLoadRow | null = null;
  let rights: RightsRow[] = [];
  let history: HistoryRow[] = [];
  let shardRows: ShardRow[] = [];
  try {
    if (sections.includes('shards')) {
      shardRows = await shardSection(standIn, settings, options.log ?? (() => {}));
    }
    if (sections.includes('load')) {
      options.log?.('load: 2,000 clients in rooms of 50 under the bounded local runtime');
      boundedLoad = await benchBoundedLoad({ clients: options.smoke ? 100 : 2_000, roomSize: 50, rssBoundMb: 2_048 });
    }
    if (sections.includes('rights')) {
      options.log?.('the rights check on the message path');
      rights = await benchRights({ smoke: options.smoke });
    }
    if (sections.includes('history')) {
      const mysqlUrl = options.mysqlUrl && (await mysqlReachable(options.mysqlUrl)) ? options.mysqlUrl : undefined;
      options.log?.(`room history (MySQL: ${mysqlUrl ? 'reachable' : 'skipped'})`);
      history = await benchHistory({ smoke: options.smoke, mysqlUrl });
    }
    if (sections.includes('delivery')) {
      options.log?.('CPU per post of each delivery candidate');
      delivery = await benchDelivery(standIn, deliveryPlan(options.smoke));
    }
    if (sections.includes('fanout')) {
      options.log?.('fan-out: ours against the SDK client it replaced');
      fanOut = await benchFanOut(standIn, {
        plan: [{ recipients: options.smoke ? 200 : 10_000, concurrencies: [50] }],
        latencyMs: settings.latencyMs,
        goneShare: settings.goneShare,
        repetitions: settings.repetitions,
        sequentialSubset: settings.sequentialSubset,
        references: false,
      });
    }
    if (sections.includes('cold-start')) {
      // Package and cold start alone (no MySQL case), for comparing loads.
      const section = await coldStartSection(standIn, options, settings, undefined);
      coldStart = {
        coldStart: section.rows,
        coldStartBreakdown: section.breakdown,
        loadedButNotNeeded: section.loadedButNotNeeded,
        package: section.package,
      };
    }
  } finally {
    await standIn.close();
  }
  return {
    ...emptyResults(options, settings, started),
    delivery,
    fanOut,
    rights,
    ...coldStart,
    boundedLoad,
    history,
    shards: { rows: shardRows },
  } satisfies BenchResults;
}

const table = (header: string[], rows: (string | number)[][]): string =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');

const fmt = (value: number | null): string => (value === null ? '–' : value.toLocaleString('en-US'));

const wireText = (wire: WireCount | null): string =>
  wire === null
    ? '–'
    : `${wire.total}: ` +
      Object.entries(wire.byKind)
        .map(([kind, n]) => `${kind}${n > 1 ? ` ×${n}` : ''}`)
        .join(', ');

/** The bounded load's table (`--only load`), when it ran. */
function boundedLoadMarkdown(results: BenchResults): string[] {
  const out: string[] = [];
  const bounded = results.boundedLoad;
  if (bounded) {
    out.push(
      `\n### Bounded load (${bounded.clients} clients in rooms of ${bounded.roomSize}, LOCAL_MAX_CONCURRENCY ${bounded.maxConcurrency})\n`,
    );
    out.push(
      table(
        [
          'connect ms',
          'refused',
          'publish ms',
          'received / expected',
          'RSS before / peak MB',
          'peak threads',
          'under bound',
        ],
        [
          [
            fmt(bounded.connectMs),
            bounded.refused,
            fmt(bounded.publishMs),
            `${fmt(bounded.received)} / ${fmt(bounded.expected)}`,
            `${fmt(bounded.baselineRssMb)} / ${fmt(bounded.peakRssMb)}`,
            bounded.peakThreads,
            `${bounded.withinBound ? 'yes' : 'NO'} (< ${fmt(bounded.rssBoundMb)} MB)`,
          ],
        ],
      ),
    );
  }
  return out;
}

/** The cold-start tables: every case, the message path against its target, and where its load goes. */
function coldStartMarkdown(results: BenchResults): string[] {
  if (results.coldStart.length === 0) return [];
  const out: string[] = [];
  out.push(`\n### Cold start (fresh Node processes, median of ${results.settings.coldStartProcesses}, interleaved)\n`);
  out.push(
    table(
      ['case', 'load ms', 'target ms', 'first invocation ms', 'warm invocation ms', 'process spawn→exit ms'],
      results.coldStart.map((r) => [
        r.case,
        fmt(r.loadMs),
        r.targetMs === undefined ? '–' : `≤ ${r.targetMs} ${r.loadMs <= r.targetMs ? '(met)' : '(MISSED)'}`,
        fmt(r.firstInvokeMs),
        fmt(r.warmInvokeMs),
        fmt(r.processMs),
      ]),
    ),
  );
  if (results.package) {
    const p = results.package;
    out.push(
      `\nDeploy zip (\`sls package\`): ${fmt(p.zipBytes)} bytes = ${p.zipMb} MB, ${p.files} files; packaging took ${fmt(p.packageMs)} ms.`,
    );
  }
  const shown = results.coldStartBreakdown.filter((row) => row.selfMs >= 0.5);
  out.push(
    `\n#### Where the message path's load goes (its own require time per package or file, children excluded; ` +
      `median of ${results.settings.coldStartProcesses}; target ${MESSAGE_PATH_TARGET_MS} ms for the whole)\n`,
  );
  out.push(
    table(
      ['module', 'own ms'],
      shown.map((row) => [row.module, row.selfMs]),
    ),
  );
  out.push(
    `\n${results.coldStartBreakdown.length - shown.length} more modules under 0.5 ms each. Loaded though not needed: ` +
      `${results.loadedButNotNeeded.length === 0 ? 'none' : results.loadedButNotNeeded.join(', ')}.`,
  );
  return out;
}

function rightsMarkdown(rows: readonly RightsRow[]): string[] {
  return [
    "\n### The rights check on the message path (a member's publish to a room of 10, embedded store in memory, " +
      'an outbox that does nothing; median of 5 repetitions after a warm-up)\n',
    table(
      ['case', 'messages', 'µs / message', 'store calls / message', 'status'],
      rows.map((r) => [r.case, fmt(r.messages), r.usPerMessage, r.storeCalls, r.status]),
    ),
  ];
}

/** The results as Markdown tables (also what BENCHMARKS.md shows). */
export function renderMarkdown(results: BenchResults): string {
  const { machine, settings } = results;
  const out: string[] = [];
  out.push(
    `Run ${results.startedAt} (${results.mode}, ${results.durationS} s) on ${machine.cpus} × ${machine.cpuModel}, ` +
      `${machine.memoryGb} GB, Node ${machine.node}, ${machine.platform}. MySQL: ${results.mysql}.`,
  );
  const { delivery } = results;
  if (delivery.rows.length > 0) {
    const posts = delivery.rows[0]?.posts ?? 0;
    out.push(
      `\n### Delivery: CPU per post (stand-in at 0 ms, ${fmt(posts)} posts through fanOut at concurrency 50, ` +
        `median of ${delivery.rows[0]?.repetitions ?? 0} interleaved repetitions after a warm-up; × floor: median of each repetition's ratio; chosen: ${delivery.chosen})\n`,
    );
    out.push(
      table(
        ['candidate', 'CPU µs / post', '× floor', 'wall ms', 'CPU / wall', 'errors'],
        delivery.rows.map((r) => [r.candidate, r.cpuPerPostUs, r.ratioToFloor, fmt(r.wallMs), r.cpuPerWall, r.errors]),
      ),
    );
  }
  if (results.shards.rows.length > 0) {
    out.push(
      `\n### Sharded fan-out (stand-in latency ${settings.latencyMs} ms, every shard at once with its own client, ` +
        `paced to FANOUT_MAX_RATE; ideal = recipients / rate)\n`,
    );
    out.push(
      table(
        [
          'recipients',
          'shard size',
          'shards',
          'delivered (distinct)',
          'posts',
          'failed / unsent',
          'summaries',
          'seconds',
          'ideal s',
          '× ideal',
          'plan s',
          'ids held per shard',
          'heap peak MB (per shard)',
          'max in flight',
          'CPU / wall: shards, stand-in',
          'load avg',
        ],
        results.shards.rows.map((r) => [
          fmt(r.recipients),
          fmt(r.shardSize),
          r.shards,
          fmt(r.delivered),
          fmt(r.posts),
          `${r.failed} / ${r.unsent}`,
          r.summaries,
          r.seconds,
          r.idealSeconds,
          `${r.ratioToIdeal} ${r.ratioToIdeal <= 1.2 ? '(met)' : '(MISSED)'}`,
          r.planSeconds,
          fmt(r.pageIds),
          `${r.heapPeakMb} (${r.heapPerShardMb})`,
          r.maxInFlight,
          `${r.senderCpuPerWall}, ${r.standInCpuPerWall}`,
          r.loadAverage,
        ]),
      ),
    );
  }
  if (results.fanOut.length > 0) {
    out.push(
      `\n### Fan-out (stand-in latency ${settings.latencyMs} ms, ${settings.goneShare * 100}% of ids answer 410; ` +
        `median of the repetitions per row, after one discarded warm-up round)\n`,
    );
    out.push(
      table(
        [
          'strategy',
          'N',
          'reps',
          'time ms',
          'posts/s',
          'max in flight',
          'sockets',
          'ideal ms',
          '× ideal',
          'sent / 410 / failed',
          'sender CPU ms',
          'sender CPU µs / post',
          'sender CPU / wall',
          'stand-in CPU ms',
          'heap peak MB',
        ],
        results.fanOut.map((r) => [
          r.strategy + (r.extrapolated ? ` (measured on ${r.measured}, extrapolated)` : ''),
          fmt(r.recipients),
          r.repetitions,
          fmt(r.ms),
          fmt(r.postsPerSecond),
          r.maxInFlight,
          r.sockets,
          fmt(r.idealMs),
          r.ratioToIdeal,
          `${r.sent} / ${r.stale} / ${r.failed}`,
          fmt(r.senderCpuMs),
          r.cpuPerPostUs,
          r.senderCpuPerWall,
          fmt(r.standInCpuMs),
          r.heapPeakMb,
        ]),
      ),
    );
  }
  if (results.rights.length > 0) out.push(...rightsMarkdown(results.rights));
  if (results.history.length > 0) {
    out.push(
      '\n### Room history: the sequence + history write per post (one after another, median and p99; MySQL through the counting proxy)\n',
    );
    out.push(
      table(
        ['store', 'case', 'operations', 'median ms', 'p99 ms', 'MySQL commands / operation'],
        results.history.map((r) => [r.store, r.case, r.operations, r.medianMs, r.p99Ms, r.commandsPerOperation ?? '–']),
      ),
    );
  }
  // `--only`: the sections asked for, nothing else (a full run always measures secrets).
  if (results.secrets.length === 0) {
    return [...out, ...coldStartMarkdown(results), ...boundedLoadMarkdown(results)].join('\n') + '\n';
  }
  out.push('\n### Store calls per fan-out (sendmessage through messaging.ts, counting proxy)\n');
  out.push(
    table(
      [
        'store',
        'recipients',
        '410s',
        'store calls',
        'as designed (1 audience + 1 removeMany)',
        'SQL statements per removeMany',
        'rows left / expected',
        'sendmessage ms',
        'MySQL commands on the wire (incl. end())',
      ],
      results.queries.map((r) => [
        r.store,
        r.recipients,
        r.stale,
        Object.entries(r.calls)
          .map(([name, c]) => `${name} ×${c.count} (${c.ms} ms)`)
          .join(', '),
        r.asDesigned ? 'yes' : 'NO',
        r.statementsPerRemoveMany,
        `${r.rowsLeft} / ${r.rowsExpected}`,
        fmt(r.ms),
        wireText(r.wire),
      ]),
    ),
  );
  if (results.invocations.length > 0) {
    out.push(
      '\n### MySQL statements per invocation (real handlers, counted on the wire by a protocol-reading proxy, end() included)\n',
    );
    out.push(
      table(
        ['invocation', 'status', 'commands'],
        results.invocations.map((r) => [r.invocation, r.statusCode, wireText(r.wire)]),
      ),
    );
  }
  out.push(...coldStartMarkdown(results));
  out.push(
    `\n### Secrets: what the first read adds to a cold start (fresh Node processes, median of ${settings.coldStartProcesses}; ` +
      'a Secrets Manager stand-in on 127.0.0.1)\n',
  );
  out.push(
    table(
      ['way', 'load ms', 'first read ms', 'load + first read ms', 'second read ms'],
      results.secrets.map((r) => [r.case, fmt(r.loadMs), fmt(r.firstReadMs), fmt(r.coldMs), fmt(r.warmReadMs)]),
    ),
  );
  out.push(
    `\n### Load under serverless-offline (${settings.loadClients} clients, ${settings.loadConcurrency} handshakes in flight, --noTimeout)\n`,
  );
  out.push(
    table(
      [
        'store',
        'clients',
        'in flight (connect / close)',
        'cold connect ms',
        'connect storm ms',
        'connects/s',
        'received / lost',
        'delivery summary',
        'latency p50 / p99 / max ms',
        'drain ms',
        'store empty',
      ],
      results.load.map((r) => [
        r.store,
        r.clients,
        `${r.connectConcurrency} / ${r.closeConcurrency}`,
        fmt(r.coldConnectMs),
        fmt(r.connectMs),
        r.connectsPerSecond,
        `${r.received} / ${r.lost}`,
        `${r.delivery.sent} sent, ${r.delivery.stale} stale, ${r.delivery.failed} failed, ${r.delivery.unsent} unsent`,
        `${fmt(r.latencyP50Ms)} / ${fmt(r.latencyP99Ms)} / ${fmt(r.latencyMaxMs)}`,
        fmt(r.drainMs),
        r.storeEmpty ? `yes (count ${r.finalCount})` : `NO (count ${r.finalCount})`,
      ]),
    ),
  );
  out.push(...boundedLoadMarkdown(results));
  return out.join('\n') + '\n';
}
