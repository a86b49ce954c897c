/**
 * Sharded deliveries as the unit tests run them: an in-memory store with `n` connections, a
 * delivery planned without invoking anything (its shard events kept), and a shard runner whose
 * posts and summaries to the sender are recorded.
 */
import type { DeliveryFrame } from '../../../src/chat/frames';
import { MAX_ATTEMPTS } from '../../../src/chat/fanout/shard-runner';
import type { ShardRun } from '../../../src/chat/fanout/shard-runner';
import { planDelivery } from '../../../src/chat/fanout/shards';
import type { ShardEvent } from '../../../src/chat/fanout/shards';
import { memoryStore } from '../stand-ins/memory-store';
import type { MemoryStore } from '../stand-ins/memory-store';

export const bytes = new TextEncoder().encode('{"type":"message","data":"hi"}');

/** `n` connections `c0000`, `c0001`, …, members of `room` when given. */
export function withConnections(n: number, room?: string): MemoryStore {
  const store = memoryStore();
  for (let i = 0; i < n; i++) {
    const id = `c${String(i).padStart(4, '0')}`;
    store.rows.set(id, { connectionId: id, connectedAt: i, subject: null });
    if (room !== undefined) store.rooms.set(room, (store.rooms.get(room) ?? new Set()).add(id));
  }
  return store;
}

/** Plans a delivery and keeps the shard events instead of invoking anything. */
export async function plan(
  store: MemoryStore,
  size: number,
  room?: string,
  summaryTo: { connectionId?: string } = { connectionId: 'sender' },
) {
  const events: ShardEvent[] = [];
  const result = await planDelivery(store, { size, invoke: async (e) => void events.push(e) }, room, bytes, summaryTo);
  if (result.kind === 'queued') await result.handOver();
  return { result, events };
}

/** A runner whose posts to `sender` are summaries (kept apart) and every other post is recorded. */
export function runner(store: MemoryStore, overrides: Partial<ShardRun> = {}) {
  const posts: string[] = [];
  const summaries: DeliveryFrame[] = [];
  const run: ShardRun = {
    store,
    send: async (id, data) => {
      if (id === 'sender') summaries.push(JSON.parse(new TextDecoder().decode(data)) as DeliveryFrame);
      else posts.push(id);
    },
    concurrency: 4,
    deadline: Date.now() + 60_000,
    maxRate: 1_000_000,
    retried: (attempts) => attempts < MAX_ATTEMPTS,
    pageSize: 3,
    ...overrides,
  };
  return { run, posts, summaries };
}
