/**
 * Fan-out throughput: our path (fanOut + post through clientFor's client) against the SDK
 * client it replaced and two reference strategies, all against the same stand-in
 * management API, interleaved repetition by repetition so that machine noise falls on
 * every strategy alike.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { clientFor, post, resetClients } from '../../src/communication';
import { encode } from '../../src/chat/outbox';
import { fanOut } from '../../src/chat/fanout/delivery';
import { sdkManagementClient } from './delivery';
import type { StandIn } from './stand-in';
import { median, round, withHeapPeak } from './stats';

export interface FanOutRow {
  strategy: string;
  recipients: number;
  /** Posts in flight the strategy allows (null: unbounded). */
  concurrency: number | null;
  /** Recipients actually posted to per repetition (fewer than `recipients` when extrapolated). */
  measured: number;
  extrapolated: boolean;
  repetitions: number;
  /** Median wall time, ms (extrapolated linearly to `recipients` when `extrapolated`). */
  ms: number;
  postsPerSecond: number;
  /** Highest in-flight count the stand-in saw (median over repetitions). */
  maxInFlight: number;
  /** TCP connections the stand-in accepted (median). */
  sockets: number;
  /** ceil(N / concurrency) x latency; for unbounded, one latency. */
  idealMs: number;
  ratioToIdeal: number;
  sent: number;
  stale: number;
  failed: number;
  heapPeakMb: number;
  /** CPU used by the benchmark process (the sender) and by the stand-in, ms (median). */
  senderCpuMs: number;
  standInCpuMs: number;
  /** The sender's CPU per post, µs (compare with the floor in the delivery section). */
  cpuPerPostUs: number;
  /** Sender CPU over wall time: near 1, the sender's CPU and not the latency set the pace. */
  senderCpuPerWall: number;
}

export interface FanOutBenchOptions {
  /** Audience sizes, each with the concurrencies of our path to measure at that size (and its own repetitions). */
  plan: { recipients: number; concurrencies: number[]; repetitions?: number }[];
  latencyMs: number;
  goneShare: number;
  repetitions: number;
  /** The sequential strategy posts to this many recipients and is extrapolated to N. */
  sequentialSubset: number;
  /** Also the sequential and unbounded Promise.all references (default true). */
  references?: boolean;
}

const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };
const region = 'us-east-1';

interface Outcome {
  sent: number;
  stale: number;
  failed: number;
}

interface Sample {
  ms: number;
  maxInFlight: number;
  sockets: number;
  heap: number;
  outcome: Outcome;
  senderCpuMs: number;
  standInCpuMs: number;
}

type Strategy = {
  name: string;
  concurrency: number | null;
  measured: (n: number) => number;
  run: (url: string, ids: string[], data: Uint8Array) => Promise<Outcome>;
};

/** Our code path, as the message handler runs it (handler.ts outboxFor + messaging). */
function ours(concurrency: number): Strategy {
  return {
    name: `ours: fanOut + post (concurrency ${concurrency})`,
    concurrency,
    measured: (n) => n,
    run: async (url, ids, data) => {
      resetClients(); // a fresh client (and sockets) per repetition, like the references
      const client = clientFor(url, { region, offline: true, maxSockets: concurrency });
      const deadline = Date.now() + 10 * 60_000; // throughput, not the 25 s budget, is measured here
      const result = await fanOut(ids, (id) => post(client, id, data, { retries: 2, retryBaseMs: 50, deadline }), {
        concurrency,
        deadline,
      });
      resetClients();
      return { sent: result.sent, stale: result.stale.length, failed: result.failed };
    },
  };
}

/** The same fan-out over the SDK client src/communication.ts used before (no retries: none were needed here). */
function sdkBefore(concurrency: number): Strategy {
  return {
    name: `before: fanOut + SDK client (concurrency ${concurrency})`,
    concurrency,
    measured: (n) => n,
    run: async (url, ids, data) => {
      const client = sdkManagementClient(url, concurrency);
      const outcome: Outcome = { sent: 0, stale: 0, failed: 0 };
      await fanOut(ids, (id) => postCounting(client, id, data, outcome), {
        concurrency,
        deadline: Date.now() + 10 * 60_000,
      });
      client.destroy();
      return outcome;
    },
  };
}

function isGoneError(error: unknown): boolean {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 410;
}

/** One post as the reference strategies make it: no retries of ours, the outcome counted. */
async function postCounting(
  client: ApiGatewayManagementApiClient,
  id: string,
  data: Uint8Array,
  outcome: Outcome,
): Promise<void> {
  try {
    await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
    outcome.sent++;
  } catch (error) {
    if (isGoneError(error)) outcome.stale++;
    else outcome.failed++;
  }
}

/** One request at a time, default client: what a plain `for … await` loop does. */
function sequential(subset: number): Strategy {
  return {
    name: 'reference: sequential, default client',
    concurrency: 1,
    measured: (n) => Math.min(n, subset),
    run: async (url, ids, data) => {
      const client = new ApiGatewayManagementApiClient({ endpoint: url, region, credentials });
      const outcome: Outcome = { sent: 0, stale: 0, failed: 0 };
      for (const id of ids) await postCounting(client, id, data, outcome);
      client.destroy();
      return outcome;
    },
  };
}

/** AWS's chat sample: every post at once with Promise.all, default client (default handler and retries). */
const promiseAll: Strategy = {
  name: 'reference: unbounded Promise.all, default client',
  concurrency: null,
  measured: (n) => n,
  run: async (url, ids, data) => {
    const client = new ApiGatewayManagementApiClient({ endpoint: url, region, credentials });
    const outcome: Outcome = { sent: 0, stale: 0, failed: 0 };
    await Promise.all(ids.map((id) => postCounting(client, id, data, outcome)));
    client.destroy();
    return outcome;
  },
};

export async function benchFanOut(standIn: StandIn, options: FanOutBenchOptions): Promise<FanOutRow[]> {
  await standIn.configure({ latencyMs: options.latencyMs, goneShare: options.goneShare });
  const data = encode({ type: 'message', from: null, connectionId: 'bench-sender', sentAt: Date.now(), data: 'x' });
  const rows: FanOutRow[] = [];
  for (const { recipients: n, concurrencies, repetitions = options.repetitions } of options.plan) {
    const references = options.references === false ? [] : [sequential(options.sequentialSubset), promiseAll];
    const strategies = [...concurrencies.map(ours), sdkBefore(Math.min(...concurrencies)), ...references];
    const ids = Array.from({ length: n }, (_, i) => `bench-${n}-${i}`);
    const samples = strategies.map(() => [] as Sample[]);
    // One discarded round on a small audience first: otherwise whichever strategy runs first
    // pays for JIT warm-up and the SDK's first-use loading (seen as a 2x outlier).
    for (const strategy of strategies) {
      await strategy.run(standIn.url, ids.slice(0, Math.min(n, strategy.measured(n), 200)), data);
    }
    for (let rep = 0; rep < repetitions; rep++) {
      for (const [index, strategy] of strategies.entries()) {
        const target = ids.slice(0, strategy.measured(n));
        await standIn.reset();
        const cpu = process.cpuUsage();
        const started = performance.now();
        const { result: outcome, heapPeakMb } = await withHeapPeak(() => strategy.run(standIn.url, target, data));
        const ms = performance.now() - started;
        const used = process.cpuUsage(cpu);
        const seen = await standIn.stats();
        samples[index]?.push({
          ms,
          maxInFlight: seen.maxInFlight,
          sockets: seen.sockets,
          heap: heapPeakMb,
          outcome,
          senderCpuMs: (used.user + used.system) / 1000,
          standInCpuMs: seen.cpuMs,
        });
      }
    }
    for (const [index, strategy] of strategies.entries()) {
      const runs = samples[index] ?? [];
      const measured = strategy.measured(n);
      const scale = n / measured;
      const ms = median(runs.map((r) => r.ms)) * scale;
      const concurrency = strategy.concurrency;
      const idealMs = Math.ceil(n / (concurrency ?? n)) * options.latencyMs;
      const last = runs[runs.length - 1]?.outcome ?? { sent: 0, stale: 0, failed: 0 };
      rows.push({
        strategy: strategy.name,
        recipients: n,
        concurrency,
        measured,
        extrapolated: measured < n,
        repetitions: runs.length,
        ms: round(ms),
        postsPerSecond: round((n / ms) * 1000, 0),
        maxInFlight: median(runs.map((r) => r.maxInFlight)),
        sockets: median(runs.map((r) => r.sockets)),
        idealMs,
        ratioToIdeal: round(ms / idealMs, 2),
        sent: last.sent,
        stale: last.stale,
        failed: last.failed,
        heapPeakMb: median(runs.map((r) => r.heap)),
        senderCpuMs: round(median(runs.map((r) => r.senderCpuMs)) * scale, 0),
        standInCpuMs: round(median(runs.map((r) => r.standInCpuMs)) * scale, 0),
        cpuPerPostUs: round((median(runs.map((r) => r.senderCpuMs)) * 1000) / measured),
        senderCpuPerWall: round(median(runs.map((r) => r.senderCpuMs / r.ms)), 2),
      });
    }
  }
  return rows;
}
