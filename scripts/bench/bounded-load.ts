/**
 * `npm run bench -- --only load`: 2,000 clients in rooms of 50 under serverless-offline with
 * the local runtime's bound (LOCAL_MAX_CONCURRENCY instances per function), each publishing
 * once to its room, while the service's memory is sampled. Unbounded, offline started a worker
 * thread per concurrent invocation: this load took it from 668 MB to 8.1 GB RSS and 769 threads,
 * delivered nothing in 60 s, and new handshakes hung. The figure to hold: peak RSS under 2 GB.
 *
 * RSS is the sum over the service's process group (the launcher, serverless and its worker
 * threads), read from /proc every 250 ms. Presence events are off (PRESENCE_MAX_MEMBERS 0) so
 * that what is measured is the publishes: 2,000 x 50 deliveries.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { TestClient } from '../../test/support/harnesses/client';
import { startOffline, UNTHROTTLED } from '../../test/support/harnesses/offline';
import { round } from './stats';

export interface BoundedLoadRow {
  clients: number;
  roomSize: number;
  /** LOCAL_MAX_CONCURRENCY (instances per function). */
  maxConcurrency: number;
  connectMs: number;
  /** Handshakes refused (429 when throttled); the rest opened. */
  refused: number;
  publishMs: number;
  /** Messages the clients should receive (every member of a room hears every publish to it). */
  expected: number;
  received: number;
  baselineRssMb: number;
  peakRssMb: number;
  peakThreads: number;
  /** The bound this run is held to. */
  rssBoundMb: number;
  withinBound: boolean;
}

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/** RSS (MB) and threads of every process in the group `pgid`, from /proc (Linux). */
export function groupUsage(pgid: number): { rssMb: number; threads: number } {
  let rssKb = 0;
  let threads = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 5 (pgrp) comes after the command in parentheses, which may hold spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      rssKb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      threads += Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // the process ended between the listing and the read
    }
  }
  return { rssMb: rssKb / 1024, threads };
}

async function pooled<T>(
  count: number,
  limit: number,
  task: (index: number) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await task(index) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

export async function benchBoundedLoad(options: {
  clients: number;
  roomSize: number;
  rssBoundMb: number;
}): Promise<BoundedLoadRow> {
  const { clients: count, roomSize, rssBoundMb } = options;
  const maxConcurrency = Number(process.env.LOCAL_MAX_CONCURRENCY || 4);
  const service = await startOffline({
    env: {
      LOG_LEVEL: 'error',
      PRESENCE_MAX_MEMBERS: '0',
      LOCAL_MAX_CONCURRENCY: String(maxConcurrency),
      // 2,000 clients through the runtime, not through API Gateway's throttling (load.ts says why).
      ...UNTHROTTLED,
    },
    timeoutMs: 120_000,
  });
  const clients: TestClient[] = [];
  let peak = { rssMb: 0, threads: 0 };
  const sampler = setInterval(() => {
    const now = groupUsage(service.pid);
    peak = { rssMb: Math.max(peak.rssMb, now.rssMb), threads: Math.max(peak.threads, now.threads) };
  }, 250);
  try {
    const baseline = groupUsage(service.pid);
    const connectStarted = performance.now();
    // 100 handshakes in flight: a client fleet reconnecting, not one at a time.
    const settled = await pooled(count, 100, () => TestClient.connect(service.url, 60_000));
    const connectMs = performance.now() - connectStarted;
    for (const result of settled) if (result.status === 'fulfilled') clients.push(result.value);
    const refused = count - clients.length;
    progress(`load: ${clients.length} of ${count} connected in ${Math.round(connectMs)} ms`);

    await pooled(clients.length, 100, (i) =>
      (clients[i] as TestClient).request({ action: 'join', room: `room-${Math.floor(i / roomSize)}` }, 'joined'),
    );
    progress('load: every client joined its room');

    const marker = `bounded-${Date.now()}`;
    let received = 0;
    for (const client of clients) {
      client.socket.on('message', (raw) => {
        if (String(raw).includes(marker)) received++;
      });
    }
    const rooms = new Map<string, number>();
    clients.forEach((_, i) => {
      const room = `room-${Math.floor(i / roomSize)}`;
      rooms.set(room, (rooms.get(room) ?? 0) + 1);
    });
    const expected = [...rooms.values()].reduce((sum, members) => sum + members * members, 0);
    const publishStarted = performance.now();
    clients.forEach((client, i) =>
      client.send({ action: 'publish', room: `room-${Math.floor(i / roomSize)}`, data: { marker } }),
    );
    const deadline = Date.now() + 180_000;
    while (received < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    const publishMs = performance.now() - publishStarted;
    progress(`load: ${received} of ${expected} messages received in ${Math.round(publishMs)} ms`);
    return {
      clients: count,
      roomSize,
      maxConcurrency,
      connectMs: round(connectMs, 0),
      refused,
      publishMs: round(publishMs, 0),
      expected,
      received,
      baselineRssMb: round(baseline.rssMb, 0),
      peakRssMb: round(peak.rssMb, 0),
      peakThreads: peak.threads,
      rssBoundMb,
      withinBound: peak.rssMb < rssBoundMb,
    };
  } finally {
    clearInterval(sampler);
    await Promise.allSettled(clients.map((client) => client.close()));
    await service.stop();
  }
}
