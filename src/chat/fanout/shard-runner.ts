/**
 * One shard of a sharded delivery (./shards.ts plans them), as the `deliver` function runs it
 * (./deliver.ts): its range page by page from the cursor an earlier attempt saved, paced to its
 * share of the stage's rate (./pacing.ts), its progress saved after every page, and its finish
 * in the store.
 *
 * Every shard ends. A failure anywhere in an attempt (the store's first step included) fails the
 * attempt, and the attempt is counted in the store: at its start, or, when the store failed
 * then, as soon as the store answers again within STORE_WAIT_MS. Lambda retries a failed
 * attempt; the one the store counts as the last (MAX_ATTEMPTS) gives the shard up, what it did
 * not reach counted as `failed`. An attempt the store never answered could not be counted, so
 * Lambda may give up before the store's count reaches the last one: such a delivery (like one
 * whose events were lost, or whose runtime crashed) is ended by the sweep (./abandoned.ts).
 */
import type { ConnectionStore, DeliveryCounts, ShardProgress } from '../../data';
import { log } from '../../log';
import { sleep as sleepFor } from '../../timeout';
import type { DeliveryFrame } from '../frames';
import { Pacer, pacedFanOut } from './pacing';
import type { ShardEvent } from './shards';
import { announceFinal } from './summary';

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
/**
 * How long a failed attempt keeps asking a failing store to count it (and, on the last attempt,
 * to record the give-up): a stall shorter than this costs one counted attempt, where an attempt
 * nobody counted would leave the give-up to the sweep. Less than Lambda's first retry delay
 * (one minute), and never past the attempt's `endBy`.
 */
export const STORE_WAIT_MS = 30_000;
/** The pauses between those questions: doubling from the first to the longest. */
const STORE_PAUSE_MS = { first: 250, longest: 4_000 };

/** What the `deliver` function needs (src/handler.ts builds it). */
export interface ShardRun {
  store: ConnectionStore;
  /** Posts to one connection (src/communication.ts through the handler's outbox). */
  send(connectionId: string, data: Uint8Array, deadline?: number): Promise<void>;
  concurrency: number;
  /** Ms epoch: no post starts after it; what is left is resumed by Lambda's retry. */
  deadline: number;
  /**
   * Ms epoch: no store step of a failed attempt (counting it, giving it up) starts after it,
   * so that one such step, the summary's post and the store's end() still fit. `deadline` by default.
   */
  endBy?: number;
  /** How long a failed attempt waits for a failing store (STORE_WAIT_MS by default). */
  storeWaitMs?: number;
  /** FANOUT_MAX_RATE, shared by every shard working in the stage. */
  maxRate: number;
  /** Whether Lambda will try the event again after a failure of the attempt the store counts as `attempts`. */
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

/** One attempt as it goes: when it started (its mark in the store), its progress once read, its counts so far. */
interface Attempt {
  startedAt: number;
  progress?: ShardProgress;
  counts: DeliveryCounts;
}

const countsOf = ({ sent, stale, failed, unsent }: DeliveryCounts): DeliveryCounts => ({ sent, stale, failed, unsent });

/** Finishes the shard in the store; the one call that completes the delivery announces its summary. */
async function finish(run: ShardRun, counts: DeliveryCounts, event: ShardEvent): Promise<DeliveryFrame | undefined> {
  const state = await run.store.finishShard(event.deliveryId, event.shard, counts);
  return state && announceFinal(run, state);
}

/** The shard's range from the attempt's cursor, page by page, its counts kept in `attempt`. */
async function postRange(run: ShardRun, event: ShardEvent, attempt: Attempt & { progress: ShardProgress }) {
  const now = run.now ?? Date.now;
  const pageSize = run.pageSize ?? SHARD_PAGE;
  const { deliveryId, shard } = event;
  const { counts } = attempt;
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
  let cursor = attempt.progress.cursor ?? event.range.after;
  try {
    for (;;) {
      if (now() >= run.deadline) throw new ShardTimeError(`shard ${shard} of ${deliveryId} ran out of time`);
      const page = await run.store.audiencePage(event.room, { after: cursor, upTo: event.range.upTo }, pageSize);
      if (page.length === 0) return;
      // The sender that asked for no echo is read with its range, and neither posted to nor counted.
      const targets = event.except === undefined ? page : page.filter((id) => id !== event.except);
      const result = await pacedFanOut(targets, (id) => run.send(id, bytes, run.deadline), {
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
      // Every target attempted: the page is done (its last id may be the one left out).
      if (result.attempted === targets.length) cursor = page[page.length - 1] as string;
      else if (result.attempted > 0) cursor = targets[result.attempted - 1] as string;
      await run.store.saveShard(deliveryId, shard, cursor, counts, now());
      if (result.attempted < targets.length)
        throw new ShardTimeError(`shard ${shard} of ${deliveryId} ran out of time`);
      if (page.length < pageSize) return;
    }
  } finally {
    clearInterval(refresh);
  }
}

/**
 * `step` until it resolves, pausing between tries, but no try starts after `until`: undefined
 * then (the store did not answer in time).
 */
async function whileTheStoreFails<T>(run: ShardRun, until: number, step: () => Promise<T>): Promise<T | undefined> {
  const now = run.now ?? Date.now;
  const sleep = run.sleep ?? sleepFor;
  for (let pause = STORE_PAUSE_MS.first; ; pause = Math.min(2 * pause, STORE_PAUSE_MS.longest)) {
    try {
      return await step();
    } catch (error) {
      if (now() + pause >= until) return undefined;
      log.warn('the store failed too; asking it again', { error, pauseMs: pause });
      await sleep(pause);
    }
  }
}

type Settled =
  | { kind: 'duplicate' }
  | { kind: 'retried'; attempts: number }
  | { kind: 'given-up'; attempts: number; counts: DeliveryCounts; summary?: DeliveryFrame };

/**
 * After a failed attempt: counts it (if its start could not), and on the last attempt gives the
 * shard up, what it did not reach counted as failed. Throws the error for Lambda to retry the
 * shard or, given up, to keep the event in the on-failure destination.
 */
async function afterFailure(run: ShardRun, event: ShardEvent, attempt: Attempt, error: unknown): Promise<ShardOutcome> {
  const now = run.now ?? Date.now;
  const { deliveryId, shard } = event;
  const until = Math.min(run.endBy ?? run.deadline, now() + (run.storeWaitMs ?? STORE_WAIT_MS));
  const settled = await whileTheStoreFails(run, until, async (): Promise<Settled> => {
    if (attempt.progress === undefined) {
      // The store failed at the attempt's start: this counts it, once, however often it is asked.
      attempt.progress = await run.store.startShard(deliveryId, shard, attempt.startedAt, true);
      attempt.counts = countsOf(attempt.progress);
    }
    const { attempts, done } = attempt.progress;
    if (done) return { kind: 'duplicate' };
    if (run.retried(attempts)) return { kind: 'retried', attempts };
    const counts = { ...attempt.counts };
    const reached = counts.sent + counts.stale + counts.failed + counts.unsent;
    counts.failed += Math.max(0, event.size - reached);
    const summary = await finish(run, counts, event);
    return { kind: 'given-up', attempts, counts, ...(summary ? { summary } : {}) };
  });
  if (settled === undefined) {
    log.error(
      'shard attempt failed, and the store did not answer to count it: Lambda retries it, or the sweep ends its delivery',
      {
        deliveryId,
        shard,
        error,
      },
    );
    throw error;
  }
  if (settled.kind === 'duplicate') {
    log.info('shard attempt failed, but the shard was finished by another invocation', { deliveryId, shard, error });
    return { outcome: 'duplicate', counts: attempt.counts };
  }
  if (settled.kind === 'retried') {
    log.warn('shard attempt failed; Lambda retries it from its cursor', {
      deliveryId,
      shard,
      attempts: settled.attempts,
      error,
    });
    throw error;
  }
  log.error('shard given up; what it did not reach is counted as failed', {
    deliveryId,
    shard,
    attempts: settled.attempts,
    error,
  });
  const { counts, summary } = settled;
  throw new ShardGivenUpError({ outcome: 'given-up', counts, ...(summary ? { summary } : {}) }, { cause: error });
}

/**
 * Posts one shard: its range, page by page, from where an earlier attempt saved its cursor.
 * Stale connections are removed per page. A failure anywhere fails the attempt (afterFailure):
 * with a retry to come, the error is thrown (Lambda retries, the retry resumes); on the last
 * attempt the shard is given up, what it did not reach is counted as failed, and the error is
 * still thrown, so that Lambda keeps the event in the on-failure destination.
 */
export async function runShard(run: ShardRun, event: ShardEvent): Promise<ShardOutcome> {
  const now = run.now ?? Date.now;
  const attempt: Attempt = { startedAt: now(), counts: { sent: 0, stale: 0, failed: 0, unsent: 0 } };
  try {
    const progress = await run.store.startShard(event.deliveryId, event.shard, attempt.startedAt);
    attempt.progress = progress;
    attempt.counts = countsOf(progress);
    if (progress.done) {
      log.info('shard already finished; nothing to do', { deliveryId: event.deliveryId, shard: event.shard });
      return { outcome: 'duplicate', counts: attempt.counts };
    }
    await postRange(run, event, { ...attempt, progress });
    const summary = await finish(run, attempt.counts, event);
    return { outcome: 'done', counts: attempt.counts, ...(summary ? { summary } : {}) };
  } catch (error) {
    return afterFailure(run, event, attempt, error);
  }
}
