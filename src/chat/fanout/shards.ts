/**
 * Fan-outs larger than one invocation can post: the audience is cut into shards of
 * FANOUT_SHARD_SIZE recipients by keyset ranges of connection ids (a shard carries its range,
 * never its ids), each posted by an asynchronous invocation of the `deliver` function, paced to
 * its share of FANOUT_MAX_RATE (./pacing.ts). The store counts what each shard did; the shard
 * that finishes last claims the summary there (exactly one does) and sends it.
 *
 * Why asynchronous invocation and not SQS: docs/operations.md#fan-out.
 *
 * Memory: the publisher reads one page (FANOUT_SHARD_SIZE + 1 ids) to choose the path, then
 * only marks; a shard holds one page of SHARD_PAGE ids at a time.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionStore, DeliveryCounts, DeliveryState, IdRange } from '../../data';
import { StaleConnectionError } from '../../errors';
import { log } from '../../log';
import type { DeliveryFrame } from '../frames';
import { Pacer, pacedFanOut } from './pacing';
import { sleep as sleepFor } from '../../timeout';

/** Ids a shard reads and posts at a time: its memory, whatever the audience. */
export const SHARD_PAGE = 1_000;
/** A shard counts as sharing the rate while it saved progress this recently (a page takes ~20 s at 50/s). */
export const ACTIVE_WINDOW_MS = 60_000;
/**
 * How often a shard counts the shards at work again and takes its new share: shards start and
 * finish at any time, and a share taken once per page (20 s at 50/s) would let the ones that
 * started first post at the whole rate until their first page ends.
 */
export const SHARE_REFRESH_MS = 1_000;
/**
 * Attempts Lambda makes of one asynchronous event: the first and MaximumRetryAttempts (2, the
 * default, serverless.yml). The last one that fails gives the shard up: counted as failed.
 */
export const MAX_ATTEMPTS = 3;
/** Shard invocations handed to Lambda at once by the publisher. */
const INVOKE_CONCURRENCY = 8;

/** What the `deliver` function is invoked with. */
export interface ShardEvent {
  type: 'shard';
  deliveryId: string;
  shard: number;
  shards: number;
  /** The audience: a room's members, or everyone when absent. */
  room?: string;
  range: IdRange;
  /** Recipients the range held when it was planned: what a given-up shard counts as failed. */
  size: number;
  /** The encoded message, base64 (posted as is). */
  message: string;
}

export function isShardEvent(event: unknown): event is ShardEvent {
  const e = event as Partial<ShardEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    e.type === 'shard' &&
    typeof e.deliveryId === 'string' &&
    Number.isInteger(e.shard) &&
    Number.isInteger(e.shards) &&
    typeof e.message === 'string' &&
    typeof e.range === 'object' &&
    e.range !== null
  );
}

/** Whom the final summary goes to, kept with the delivery in the store. */
interface SummaryTo {
  connectionId?: string;
  room?: string;
  /** The message's id and room number, which every summary of it names. */
  id?: string;
  seq?: number;
  /** The sender's own name for its request, which every summary of it echoes. */
  ref?: string;
  startedAt: number;
}

/** The message a summary is of: its id, and its room number when it has one. */
function messageFields(to: { id?: string; seq?: number; ref?: string }): { id: string; seq?: number; ref?: string } {
  return {
    id: to.id ?? '',
    ...(to.seq === undefined ? {} : { seq: to.seq }),
    ...(to.ref === undefined ? {} : { ref: to.ref }),
  };
}

export interface Sharding {
  /** FANOUT_SHARD_SIZE */
  size: number;
  /** Queues one shard for the `deliver` function (src/aws/lambda-invoke.ts). */
  invoke(event: ShardEvent): Promise<void>;
}

export type Plan =
  | { kind: 'direct'; audience: string[] }
  | {
      kind: 'queued';
      /** Post this first: a small shard can finish before the last one is handed over. */
      queued: DeliveryFrame;
      /** Hands the shards to `deliver`; the final summary when a refused hand-over finished the delivery. */
      handOver: () => Promise<DeliveryFrame | undefined>;
    };

const zero = (): DeliveryCounts => ({ sent: 0, stale: 0, failed: 0, unsent: 0 });

/**
 * The ranges of `size` ids each, from marks found by the store (an index walk each, no ids
 * transferred). `firstMark` is the last id of the first shard. The last range is open-ended, so
 * connections added while planning are in it; an empty trailing range is never made.
 */
export async function shardRanges(
  store: ConnectionStore,
  room: string | undefined,
  size: number,
  firstMark: string,
): Promise<IdRange[]> {
  const ranges: IdRange[] = [{ after: null, upTo: firstMark }];
  let after = firstMark;
  for (;;) {
    const mark = await store.audienceMark(room, after, size);
    if (mark === undefined || (await store.audienceMark(room, mark, 1)) === undefined) {
      ranges.push({ after, upTo: null });
      return ranges;
    }
    ranges.push({ after, upTo: mark });
    after = mark;
  }
}

function roomField(room: string | undefined): { room?: string } {
  return room === undefined ? {} : { room };
}

/** The final summary, from the store's totals. */
export function finalSummary(state: DeliveryState): DeliveryFrame {
  const to = JSON.parse(state.summaryTo) as SummaryTo;
  const { sent, stale, failed, unsent } = state;
  return {
    type: 'delivery',
    ...roomField(to.room),
    ...messageFields(to),
    state: 'done',
    deliveryId: state.deliveryId,
    shards: state.shards,
    recipients: sent + stale + failed + unsent,
    sent,
    stale,
    failed,
    unsent,
  };
}

/** Seconds from the queued summary to the final one. */
export function secondsOf(state: DeliveryState, now: number): number {
  return (now - (JSON.parse(state.summaryTo) as SummaryTo).startedAt) / 1000;
}

/**
 * Chooses the path. An audience of at most `size` is returned whole (one page) and posted by
 * this invocation, as before; a larger one is planned and recorded, and the caller gets the
 * queued summary and `handOver`, which gives the shards to `deliver`. A shard Lambda would not
 * take is given up at once (failed); should that finish the delivery, its final summary comes back.
 */
export async function planDelivery(
  store: ConnectionStore,
  sharding: Sharding,
  room: string | undefined,
  bytes: Uint8Array,
  summaryTo: { connectionId?: string; id?: string; seq?: number; ref?: string },
  now: () => number = Date.now,
): Promise<Plan> {
  const first = await store.audiencePage(room, { after: null, upTo: null }, sharding.size + 1);
  if (first.length <= sharding.size) return { kind: 'direct', audience: first };
  const firstMark = first[sharding.size - 1] as string;
  first.length = 0; // the shards read their own pages
  const recipients = await store.audienceCount(room);
  const ranges = await shardRanges(store, room, sharding.size, firstMark);
  const deliveryId = randomUUID();
  const startedAt = now();
  const to: SummaryTo = { ...summaryTo, ...roomField(room), startedAt };
  await store.openDelivery({ deliveryId, shards: ranges.length, recipients, summaryTo: JSON.stringify(to) }, startedAt);
  const message = Buffer.from(bytes).toString('base64');
  const sizeOf = (shard: number) =>
    shard < ranges.length - 1 ? sharding.size : Math.max(0, recipients - sharding.size * (ranges.length - 1));
  const queued: DeliveryFrame = {
    type: 'delivery',
    ...roomField(room),
    ...messageFields(summaryTo),
    state: 'queued',
    deliveryId,
    shards: ranges.length,
    recipients,
    sent: 0,
    stale: 0,
    failed: 0,
    unsent: recipients,
  };
  const handOver = async (): Promise<DeliveryFrame | undefined> => {
    let final: DeliveryFrame | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ranges.length) {
        const shard = next++;
        const event: ShardEvent = {
          type: 'shard',
          deliveryId,
          shard,
          shards: ranges.length,
          ...roomField(room),
          range: ranges[shard] as IdRange,
          size: sizeOf(shard),
          message,
        };
        try {
          await sharding.invoke(event);
        } catch (error) {
          log.error('shard not handed over; counted as failed', { deliveryId, shard, error });
          const state = await store.finishShard(deliveryId, shard, { ...zero(), failed: event.size });
          if (state) final = finalSummary(state);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(INVOKE_CONCURRENCY, ranges.length) }, worker));
    log.info('fan-out queued', { deliveryId, recipients, shards: ranges.length, ...roomField(room) });
    return final;
  };
  return { kind: 'queued', queued, handOver };
}

/** What the `deliver` function needs (src/handler.ts builds it). */
export interface ShardRun {
  store: ConnectionStore;
  /** Posts to one connection (src/communication.ts through the handler's outbox). */
  send(connectionId: string, data: Uint8Array, deadline?: number): Promise<void>;
  concurrency: number;
  /** Ms epoch: no post starts after it; what is left is resumed by Lambda's retry. */
  deadline: number;
  /** FANOUT_MAX_RATE, shared by every shard working in the stage. */
  maxRate: number;
  /** Whether Lambda will try the event again after a failure of this attempt. */
  retried(attempts: number): boolean;
  pageSize?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called once per delivery, by the shard that sent its summary. */
  onSummary?: (summary: DeliveryFrame, seconds: number) => void;
}

/** The shard's time ran out with ids left: a retry resumes at its cursor. */
export class ShardTimeError extends Error {
  override readonly name = 'ShardTimeError';
}

export interface ShardOutcome {
  outcome: 'done' | 'duplicate' | 'given-up';
  counts: DeliveryCounts;
  summary?: DeliveryFrame;
}

/** The shard's last attempt failed: it is counted (failed) and its event goes to the on-failure destination. */
export class ShardGivenUpError extends Error {
  override readonly name = 'ShardGivenUpError';
  constructor(
    readonly outcome: ShardOutcome,
    options: { cause: unknown },
  ) {
    super('the shard failed on its last attempt and was given up', options);
  }
}

async function finish(run: ShardRun, event: ShardEvent, counts: DeliveryCounts): Promise<DeliveryFrame | undefined> {
  const state = await run.store.finishShard(event.deliveryId, event.shard, counts);
  if (!state) return undefined;
  const summary = finalSummary(state);
  const now = (run.now ?? Date.now)();
  run.onSummary?.(summary, secondsOf(state, now));
  log.info('fan-out done', { ...summary, seconds: secondsOf(state, now) });
  const to = JSON.parse(state.summaryTo) as SummaryTo;
  if (to.connectionId !== undefined) {
    try {
      await run.send(to.connectionId, new TextEncoder().encode(JSON.stringify(summary)), run.deadline);
    } catch (error) {
      // Claimed already: it is not sent twice. A sender that left is no failure of the delivery.
      const level = error instanceof StaleConnectionError ? 'info' : 'warn';
      log[level]('final summary not posted', { deliveryId: event.deliveryId, connectionId: to.connectionId, error });
    }
  }
  return summary;
}

/**
 * Posts one shard: its range, page by page, from where an earlier attempt saved its cursor.
 * Stale connections are removed per page. On a failure with a retry to come, the error is
 * thrown (Lambda retries, the retry resumes); on the last attempt the shard is given up, what
 * it did not reach is counted as failed, and the error is still thrown, so that Lambda keeps
 * the event in the on-failure destination.
 */
export async function runShard(run: ShardRun, event: ShardEvent): Promise<ShardOutcome> {
  const now = run.now ?? Date.now;
  const pageSize = run.pageSize ?? SHARD_PAGE;
  const { deliveryId, shard } = event;
  const progress = await run.store.startShard(deliveryId, shard, now());
  const counts: DeliveryCounts = {
    sent: progress.sent,
    stale: progress.stale,
    failed: progress.failed,
    unsent: progress.unsent,
  };
  if (progress.done) {
    log.info('shard already finished; nothing to do', { deliveryId, shard });
    return { outcome: 'duplicate', counts };
  }
  const bytes = Buffer.from(event.message, 'base64');
  const active = () => run.store.activeShards(now() - ACTIVE_WINDOW_MS);
  // Until the count is taken again, assume every shard of this delivery is at work: the shards
  // that start first cannot see the others yet, and must not take the whole rate meanwhile.
  const pacer = new Pacer(run.maxRate / Math.max(1, event.shards, await active()), { now, sleep: run.sleep });
  const refresh = setInterval(() => {
    active()
      .then((n) => pacer.setTarget(run.maxRate / Math.max(1, n)))
      .catch((error: unknown) => log.warn('shard could not count the shards at work', { deliveryId, shard, error }));
  }, SHARE_REFRESH_MS);
  refresh.unref();
  let cursor = progress.cursor ?? event.range.after;
  try {
    for (;;) {
      if (now() >= run.deadline) throw new ShardTimeError(`shard ${shard} of ${deliveryId} ran out of time`);
      const page = await run.store.audiencePage(event.room, { after: cursor, upTo: event.range.upTo }, pageSize);
      if (page.length === 0) break;
      const result = await pacedFanOut(page, (id) => run.send(id, bytes, run.deadline), {
        concurrency: run.concurrency,
        deadline: run.deadline,
        pacer,
        now,
      });
      if (result.stale.length > 0) await run.store.removeMany(result.stale);
      counts.sent += result.sent;
      counts.stale += result.stale.length;
      counts.failed += result.failed;
      counts.unsent += result.unsent;
      if (result.attempted > 0) cursor = page[result.attempted - 1] as string;
      await run.store.saveShard(deliveryId, shard, cursor, counts, now());
      if (result.attempted < page.length) throw new ShardTimeError(`shard ${shard} of ${deliveryId} ran out of time`);
      if (page.length < pageSize) break;
    }
  } catch (error) {
    if (run.retried(progress.attempts)) {
      log.warn('shard attempt failed; Lambda retries it from its cursor', {
        deliveryId,
        shard,
        attempts: progress.attempts,
        error,
      });
      throw error;
    }
    const reached = counts.sent + counts.stale + counts.failed + counts.unsent;
    counts.failed += Math.max(0, event.size - reached);
    log.error('shard given up; what it did not reach is counted as failed', {
      deliveryId,
      shard,
      attempts: progress.attempts,
      error,
    });
    const summary = await finish(run, event, counts);
    throw new ShardGivenUpError({ outcome: 'given-up', counts, ...(summary ? { summary } : {}) }, { cause: error });
  } finally {
    clearInterval(refresh);
  }
  const summary = await finish(run, event, counts);
  return { outcome: 'done', counts, ...(summary ? { summary } : {}) };
}

/**
 * For a caller that asked to wait (`wait: true`): the final summary once the store has it, or
 * undefined at `deadline` (the caller then answers with the queued one).
 */
export async function waitForSummary(
  store: ConnectionStore,
  deliveryId: string,
  deadline: number,
  options: { intervalMs?: number; now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<DeliveryFrame | undefined> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepFor;
  const interval = options.intervalMs ?? 250;
  for (;;) {
    const state = await store.deliveryState(deliveryId);
    if (state && state.done >= state.shards) return finalSummary(state);
    const left = deadline - now();
    if (left <= 0) return undefined;
    await sleep(Math.min(interval, left));
  }
}
