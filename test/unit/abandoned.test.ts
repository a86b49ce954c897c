/**
 * The sweep ends sharded deliveries whose shards are gone (a crash, a lost event, a shard
 * Lambda gave up on while the store was down): once a delivery is older than
 * SWEEP_DELIVERY_AGE_MS, every shard not done is finished with what it saved, the recipients
 * nobody counted are `failed`, and the sender gets one `done` summary if still connected.
 * Through the `sweep` handler, with the management stand-in as API Gateway.
 */
import { sweep, useStore } from '../../src/handler';
import { endAbandonedDeliveries, ENDED_PER_SWEEP } from '../../src/chat/fanout/abandoned';
import { runShard } from '../../src/chat/fanout/shard-runner';
import { planDelivery } from '../../src/chat/fanout/shards';
import type { ShardEvent } from '../../src/chat/fanout/shards';
import { FUNCTION_ENV } from '../support/harnesses/handler';
import { bytes, runner, withConnections } from '../support/harnesses/shards';
import { useManagementStandIn } from '../support/stand-ins/management-stand-in';
import { memoryStore } from '../support/stand-ins/memory-store';
import type { MemoryStore } from '../support/stand-ins/memory-store';

const AGE_MS = 60_000;
Object.assign(process.env, FUNCTION_ENV, { SWEEP_DELIVERY_AGE_MS: String(AGE_MS), POST_TIMEOUT_MS: '300' });

const management = useManagementStandIn();

/** 12 connections and the sender, in 3 shards of 5, 5 and 3, queued `ageMs` ago. */
async function queued(ageMs: number): Promise<{ store: MemoryStore; events: ShardEvent[]; deliveryId: string }> {
  const store = withConnections(12);
  store.rows.set('sender', { connectionId: 'sender', connectedAt: Date.now(), subject: null });
  useStore(store);
  const events: ShardEvent[] = [];
  const sharding = { size: 5, invoke: async (event: ShardEvent) => void events.push(event) };
  const at = () => Date.now() - ageMs;
  const plan = await planDelivery(store, sharding, undefined, bytes, { connectionId: 'sender', id: 'm1' }, at);
  if (plan.kind !== 'queued') throw new Error('expected a sharded delivery');
  await plan.handOver();
  return { store, events, deliveryId: plan.queued.deliveryId as string };
}

const summaries = () => management.posted().filter((p) => p.to === 'sender' && p.message.type === 'delivery');

it('ends a delivery older than SWEEP_DELIVERY_AGE_MS whose shards are gone: one summary, the unreached failed', async () => {
  const { store, events, deliveryId } = await queued(AGE_MS + 1_000);
  const [first, second, third] = events as [ShardEvent, ShardEvent, ShardEvent];
  const { run, posts } = runner(store);
  await runShard(run, first);
  // The second got 2 posts out and saved them, then its runtime died; the third never ran.
  await store.startShard(deliveryId, second.shard, Date.now());
  await store.saveShard(deliveryId, second.shard, 'c0006', { sent: 2, stale: 0, failed: 0, unsent: 0 }, Date.now());

  expect(await sweep(undefined, { getRemainingTimeInMillis: () => 60_000 })).toMatchObject({ abandoned: 1 });

  expect(summaries().map((p) => p.message)).toEqual([
    expect.objectContaining({ state: 'done', deliveryId, id: 'm1', shards: 3, recipients: 13, sent: 7, failed: 6 }),
  ]);
  expect(await store.deliveryState(deliveryId)).toMatchObject({ done: 3, summarized: true, sent: 7, failed: 6 });
  // Ended once: the next sweep finds nothing, and a shard that shows up late finds itself done.
  expect(await sweep(undefined, { getRemainingTimeInMillis: () => 60_000 })).toMatchObject({ abandoned: 0 });
  await expect(runShard(run, third)).resolves.toMatchObject({ outcome: 'duplicate' });
  expect(summaries()).toHaveLength(1);
  expect([...posts].sort()).toEqual(['c0000', 'c0001', 'c0002', 'c0003', 'c0004']); // the first shard's, no late one's
});

it('leaves a delivery younger than SWEEP_DELIVERY_AGE_MS to its shards', async () => {
  const { store, deliveryId } = await queued(AGE_MS - 10_000);
  expect(await sweep(undefined, { getRemainingTimeInMillis: () => 60_000 })).toMatchObject({ abandoned: 0 });
  expect(await store.deliveryState(deliveryId)).toMatchObject({ done: 0, summarized: false });
  expect(summaries()).toEqual([]);
});

it('ends the tally of a delivery whose sender is gone too', async () => {
  const { store, deliveryId } = await queued(AGE_MS + 1_000);
  management.answer(410, { to: 'sender' });
  expect(await sweep(undefined, { getRemainingTimeInMillis: () => 60_000 })).toMatchObject({ abandoned: 1 });
  expect(await store.deliveryState(deliveryId)).toMatchObject({ done: 3, summarized: true, sent: 0, failed: 13 });
});

it('ends at most ENDED_PER_SWEEP deliveries in one run, oldest first, and starts none after its deadline', async () => {
  const store = memoryStore();
  for (let i = 0; i < ENDED_PER_SWEEP + 5; i++) {
    await store.openDelivery({ deliveryId: `d${i}`, shards: 2, recipients: 4, summaryTo: '{"startedAt":0}' }, i);
  }
  const ending = { store, openedBefore: 1_000, send: async () => undefined, deadline: Date.now() + 60_000 };
  expect(await endAbandonedDeliveries({ ...ending, deadline: Date.now() - 1 })).toBe(0);
  expect(store.endDelivery).not.toHaveBeenCalled();
  expect(await endAbandonedDeliveries(ending)).toBe(ENDED_PER_SWEEP);
  expect(await store.deliveryState('d0')).toMatchObject({ summarized: true, failed: 4 });
  expect(await store.deliveryState(`d${ENDED_PER_SWEEP}`)).toMatchObject({ summarized: false });
  expect(await endAbandonedDeliveries(ending)).toBe(5);
});
