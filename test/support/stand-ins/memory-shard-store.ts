/**
 * The paged-audience and tally half of the in-memory store (test/support/stand-ins/memory-store.ts):
 * plausible, synchronous steps (so atomic like the real stores' transactions).
 */
import type { DeliveryCounts, DeliveryState, ShardProgress, ShardStore } from '../../../src/data';
import { endedTotals } from '../../../src/store/types';

/** Binary order, as both adapters order connection ids. */
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function memoryShardStore(audienceOf: (room: string | undefined) => Iterable<string>): ShardStore {
  const deliveries = new Map<string, DeliveryState>();
  /** When each delivery was opened (ms epoch). */
  const openedAt = new Map<string, number>();
  const shards = new Map<string, ShardProgress & { updatedAt: number }>();
  const key = (deliveryId: string, shard: number) => `${deliveryId}#${shard}`;
  const stateOf = (delivery: DeliveryState): DeliveryState => ({ ...delivery });
  const sorted = (room: string | undefined) => [...audienceOf(room)].sort(byId);
  const fresh = (now: number) => ({
    cursor: null,
    sent: 0,
    stale: 0,
    failed: 0,
    unsent: 0,
    attempts: 0,
    done: false,
    updatedAt: now,
  });
  return {
    audiencePage: async (room, { after, upTo }, limit) =>
      sorted(room)
        .filter((id) => (after === null || id > after) && (upTo === null || id <= upTo))
        .slice(0, limit),
    audienceMark: async (room, after, skip) => sorted(room).filter((id) => after === null || id > after)[skip - 1],
    audienceCount: async (room) => [...audienceOf(room)].length,
    openDelivery: async (record, now) => {
      if (deliveries.has(record.deliveryId)) return;
      deliveries.set(record.deliveryId, {
        ...record,
        done: 0,
        sent: 0,
        stale: 0,
        failed: 0,
        unsent: 0,
        summarized: false,
      });
      openedAt.set(record.deliveryId, now);
      for (let shard = 0; shard < record.shards; shard++) shards.set(key(record.deliveryId, shard), fresh(now));
    },
    startShard: async (deliveryId, shard, now, again = false) => {
      const row = shards.get(key(deliveryId, shard)) ?? fresh(now);
      if (!(again && row.attempts > 0 && row.updatedAt === now)) row.attempts += 1;
      row.updatedAt = now;
      shards.set(key(deliveryId, shard), row);
      const { cursor, sent, stale, failed, unsent, attempts, done } = row;
      return { cursor, sent, stale, failed, unsent, attempts, done };
    },
    saveShard: async (deliveryId, shard, cursor, counts: DeliveryCounts, now) => {
      const row = shards.get(key(deliveryId, shard));
      if (row && !row.done) Object.assign(row, counts, { cursor, updatedAt: now });
    },
    finishShard: async (deliveryId, shard, counts) => {
      const row = shards.get(key(deliveryId, shard));
      const delivery = deliveries.get(deliveryId);
      if (!row || row.done || !delivery) return undefined;
      Object.assign(row, counts, { done: true });
      delivery.done += 1;
      delivery.sent += counts.sent;
      delivery.stale += counts.stale;
      delivery.failed += counts.failed;
      delivery.unsent += counts.unsent;
      if (delivery.done < delivery.shards || delivery.summarized) return undefined;
      delivery.summarized = true;
      return stateOf(delivery);
    },
    deliveryState: async (deliveryId) => {
      const delivery = deliveries.get(deliveryId);
      return delivery && stateOf(delivery);
    },
    abandonedDeliveries: async (openedBefore, limit) =>
      [...deliveries.values()]
        .filter((delivery) => !delivery.summarized && (openedAt.get(delivery.deliveryId) ?? 0) < openedBefore)
        .map((delivery) => delivery.deliveryId)
        .sort((a, b) => (openedAt.get(a) ?? 0) - (openedAt.get(b) ?? 0))
        .slice(0, limit),
    endDelivery: async (deliveryId) => {
      const delivery = deliveries.get(deliveryId);
      if (!delivery || delivery.summarized) return undefined;
      const open = [...shards.entries()]
        .filter(([k, row]) => k.startsWith(`${deliveryId}#`) && !row.done)
        .map(([, row]) => row);
      const totals = endedTotals(delivery, open);
      for (const row of open) row.done = true;
      Object.assign(delivery, totals, { done: delivery.shards, summarized: true });
      return { state: stateOf(delivery), unfinished: open.length };
    },
    removeDeliveriesBefore: async () => 0,
    activeShards: async (since) =>
      [...shards.values()].filter((row) => !row.done && row.attempts > 0 && row.updatedAt >= since).length,
  };
}
