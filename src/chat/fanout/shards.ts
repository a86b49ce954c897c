/**
 * Fan-outs larger than one invocation can post: the audience is cut into shards of
 * FANOUT_SHARD_SIZE recipients by keyset ranges of connection ids (a shard carries its range,
 * never its ids), each posted by an asynchronous invocation of the `deliver` function, paced to
 * its share of FANOUT_MAX_RATE (./pacing.ts, ./shard-runner.ts). The store counts what each
 * shard did; the shard that finishes last claims the summary there (exactly one does) and sends
 * it, and a delivery whose shards are gone is ended by the sweep (./abandoned.ts).
 *
 * Why asynchronous invocation and not SQS: docs/operations.md#fan-out.
 *
 * Memory: the publisher reads one page (FANOUT_SHARD_SIZE + 1 ids) to choose the path, then
 * only marks; a shard holds one page of SHARD_PAGE ids at a time (./shard-runner.ts).
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionStore, DeliveryCounts, IdRange } from '../../data';
import { log } from '../../log';
import type { DeliveryFrame } from '../frames';
import { finalSummary, messageFields, roomField } from './summary';
import type { SummaryTo } from './summary';
import { sleep as sleepFor } from '../../timeout';

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
  /** A connection of the range not posted to: a sender that asked for no echo of its own message. */
  except?: string;
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
    e.range !== null &&
    (e.except === undefined || typeof e.except === 'string')
  );
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

/**
 * Chooses the path. An audience of at most `size` is returned whole (one page) and posted by
 * this invocation, as before; a larger one is planned and recorded, and the caller gets the
 * queued summary and `handOver`, which gives the shards to `deliver`. A shard Lambda would not
 * take is given up at once (failed); should that finish the delivery, its final summary comes back.
 * `except`: a connection of the audience (the sender, who asked for no echo) that no shard posts
 * to and no summary counts.
 */
export async function planDelivery(
  store: ConnectionStore,
  sharding: Sharding,
  room: string | undefined,
  bytes: Uint8Array,
  summaryTo: { connectionId?: string; id?: string; seq?: number; ref?: string },
  now: () => number = Date.now,
  except?: string,
): Promise<Plan> {
  const first = await store.audiencePage(room, { after: null, upTo: null }, sharding.size + 1);
  if (first.length <= sharding.size) return { kind: 'direct', audience: first };
  const firstMark = first[sharding.size - 1] as string;
  first.length = 0; // the shards read their own pages
  const counted = await store.audienceCount(room);
  // The sender it leaves out is one of the audience (a member of the room, or a connection of everyone).
  const recipients = except === undefined ? counted : Math.max(0, counted - 1);
  const ranges = await shardRanges(store, room, sharding.size, firstMark);
  const deliveryId = randomUUID();
  const startedAt = now();
  const to: SummaryTo = { ...summaryTo, ...roomField(room), startedAt };
  await store.openDelivery({ deliveryId, shards: ranges.length, recipients, summaryTo: JSON.stringify(to) }, startedAt);
  const message = Buffer.from(bytes).toString('base64');
  // What a given-up shard counts as failed: its range as planned (the sender left out counts in
  // it, so such a shard may count one more than it would have posted).
  const sizeOf = (shard: number) =>
    shard < ranges.length - 1 ? sharding.size : Math.max(0, counted - sharding.size * (ranges.length - 1));
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
          ...(except === undefined ? {} : { except }),
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
