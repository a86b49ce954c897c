/**
 * The benchmark as a function (`npm run bench` prints and saves it; the e2e smoke test
 * runs it small): fan-out, store calls per fan-out, cold start and package size, and
 * load under serverless-offline.
 */
import { connect } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { mysqlFromUrl } from '../../src/config';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { benchCapacity, CAPACITY_PLAN, CAPACITY_SMOKE_PLAN } from './capacity';
import type { CapacitySection } from './capacity';
import { benchColdStart } from './cold-start';
import { benchDelivery, CHOSEN as DELIVERY_CHOSEN } from './delivery';
import type { DeliveryResults } from './delivery';
import { benchFanOut } from './fanout';
import type { FanOutRow } from './fanout';
import { benchBoundedLoad } from './bounded-load';
import type { BoundedLoadRow } from './bounded-load';
import { benchLoad } from './load';
import { benchHistory } from './history';
import type { HistorySection } from './history';
import { benchInvocations, benchQueries } from './queries';
import type { InvocationRow, QueryRow } from './queries';
import { benchRights } from './rights';
import type { RightsRow } from './rights';
import { benchRoundTrips } from './round-trips';
import type { RoundTripSection } from './round-trips';
import { benchSecrets } from './secrets';
import { benchShards } from './shards';
import type { ShardRow } from './shards';
import type { BenchResults } from './results';
import { startStandIn } from './stand-in';

export interface BenchOptions {
  smoke: boolean;
  /**
   * Run only these sections: `--only delivery` (CPU per post of each candidate), `--only fanout`
   * (N = 10,000 at concurrency 50, ours against the SDK client it replaced), `--only cold-start`,
   * `--only history` (the sequence + history write per post, reads of 1,000, a flood of reads), `--only shards`
   * (100,000 and 1,000,000 recipients through the shard code, ~5 minutes), `--only capacity` (room
   * publishes/s by store handles and rooms, each route's duration), `--only round-trips` (MySQL round trips
   * per route, counted on the wire, and each route's median), or several, comma-separated.
   */
  only?: Section[] | undefined;
  /** An unzipped package whose message path the cold-start section times beside ours (`--baseline DIR`). */
  baselineDir?: string | undefined;
  /** mysql://…; undefined to skip MySQL. Unreachable servers are skipped with a note. */
  mysqlUrl: string | undefined;
  log?: (message: string) => void;
}

export type Section =
  'delivery' | 'fanout' | 'cold-start' | 'load' | 'rights' | 'history' | 'shards' | 'capacity' | 'round-trips';
export const SECTIONS: readonly Section[] = [
  'delivery',
  'fanout',
  'cold-start',
  'load',
  'rights',
  'history',
  'shards',
  'capacity',
  'round-trips',
];

export type { BenchResults } from './results';
export { renderMarkdown } from './render';

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
  let history: HistorySection;
  let coldStart: ColdStartSection;
  let shardRows: ShardRow[];
  let capacity: CapacitySection;
  let roundTrips: RoundTripSection;
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
    log('room history: the sequence + history write per post, reads of 1,000, a flood of reads');
    history = await benchHistory({ smoke, mysqlUrl });
    coldStart = await coldStartSection(standIn, options, settings, mysqlUrl);
    shardRows = smoke ? [] : await shardSection(standIn, settings, log);
    capacity = await capacitySection(standIn, smoke, mysqlUrl, log);
    log(`MySQL round trips per route (MySQL: ${mysqlUrl ? 'reachable' : 'skipped'})`);
    roundTrips = await benchRoundTrips(standIn, { smoke, mysqlUrl });
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
    coldStart: { functions: coldStart.functions, options: coldStart.options, cases: coldStart.cases },
    package: coldStart.package,
    load,
    boundedLoad: null,
    secrets,
    rights,
    history,
    shards: { rows: shardRows },
    capacity,
    roundTrips,
  };
}

/** Room publishes/s by store handles and rooms, and each route's duration (./capacity.ts). */
function capacitySection(
  standIn: Awaited<ReturnType<typeof startStandIn>>,
  smoke: boolean,
  mysqlUrl: string | undefined,
  log: (message: string) => void,
): Promise<CapacitySection> {
  log(`capacity: room publishes/s by store handles and rooms (MySQL: ${mysqlUrl ? 'reachable' : 'skipped'})`);
  return benchCapacity(standIn, { ...(smoke ? CAPACITY_SMOKE_PLAN : CAPACITY_PLAN), mysqlUrl, log });
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

type ColdStartSection = Awaited<ReturnType<typeof benchColdStart>>;

/** Each function's first invocation per packaging option (`sls package`, not in a smoke run), and single modules. */
async function coldStartSection(
  standIn: Awaited<ReturnType<typeof startStandIn>>,
  options: BenchOptions,
  settings: BenchResults['settings'],
  mysqlUrl: string | undefined,
): Promise<ColdStartSection> {
  const log = options.log ?? (() => {});
  log('cold start');
  return benchColdStart(standIn, {
    processes: settings.coldStartProcesses,
    mysqlUrl,
    packaged: !options.smoke,
    baselineDir: options.baselineDir,
    log,
  });
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
    coldStart: { functions: [], options: [], cases: [] },
    secrets: [],
    package: null,
    load: [],
    boundedLoad: null,
    rights: [],
    history: { rows: [], reads: [], flood: [] },
    shards: { rows: [] },
    capacity: { rows: [], routes: [] },
    roundTrips: { routes: [] },
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
  let history: HistorySection = { rows: [], reads: [], flood: [] };
  let shardRows: ShardRow[] = [];
  let capacity: CapacitySection = { rows: [], routes: [] };
  let roundTrips: RoundTripSection = { routes: [] };
  // Asked once, for the sections that measure MySQL too, and said in the run's header.
  const needsMysql = sections.includes('history') || sections.includes('capacity') || sections.includes('round-trips');
  const mysqlUrl =
    needsMysql && options.mysqlUrl && (await mysqlReachable(options.mysqlUrl)) ? options.mysqlUrl : undefined;
  const mysql =
    !needsMysql || options.mysqlUrl === undefined ? 'not asked for' : mysqlUrl ? 'reachable' : 'unreachable: skipped';
  try {
    if (sections.includes('capacity')) {
      capacity = await capacitySection(standIn, options.smoke, mysqlUrl, options.log ?? (() => {}));
    }
    if (sections.includes('round-trips')) {
      options.log?.(`MySQL round trips per route (MySQL: ${mysqlUrl ? 'reachable' : 'skipped'})`);
      roundTrips = await benchRoundTrips(standIn, { smoke: options.smoke, mysqlUrl });
    }
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
      // Each function from the packages (over TLS to a MariaDB of its own), and the modules alone.
      const section = await coldStartSection(standIn, options, settings, undefined);
      coldStart = {
        coldStart: { functions: section.functions, options: section.options, cases: section.cases },
        package: section.package,
      };
    }
  } finally {
    await standIn.close();
  }
  return {
    ...emptyResults(options, settings, started),
    mysql,
    delivery,
    fanOut,
    rights,
    ...coldStart,
    boundedLoad,
    history,
    shards: { rows: shardRows },
    capacity,
    roundTrips,
  } satisfies BenchResults;
}
