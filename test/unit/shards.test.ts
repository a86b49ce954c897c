import { DeliveryError } from '../../src/errors';
import { planDelivery, waitForSummary } from '../../src/chat/fanout/shards';
import type { ShardEvent } from '../../src/chat/fanout/shards';
import { MAX_ATTEMPTS, runShard, ShardGivenUpError } from '../../src/chat/fanout/shard-runner';
import type { ShardRun } from '../../src/chat/fanout/shard-runner';
import type { MemoryStore } from '../support/stand-ins/memory-store';
import { bytes, plan, runner, withConnections } from '../support/harnesses/shards';

const shuffled = <T>(items: T[]) =>
  items
    .map((item) => ({ item, key: Math.random() }))
    .sort((a, b) => a.key - b.key)
    .map(({ item }) => item);

describe('planDelivery', () => {
  it('keeps a small audience on the direct path: one page, no shards, nothing recorded', async () => {
    const store = withConnections(5);
    const { result, events } = await plan(store, 5);
    expect(result).toEqual({ kind: 'direct', audience: ['c0000', 'c0001', 'c0002', 'c0003', 'c0004'] });
    expect(events).toHaveLength(0);
    expect(store.openDelivery).not.toHaveBeenCalled();
  });

  it('splits 23 recipients into 5 shards of at most 5 by ranges, and answers queued', async () => {
    const store = withConnections(23);
    const { result, events } = await plan(store, 5);
    expect(result).toMatchObject({
      kind: 'queued',
      queued: { type: 'delivery', state: 'queued', recipients: 23, shards: 5, sent: 0, unsent: 23 },
    });
    expect(events.map((e) => e.range)).toEqual([
      { after: null, upTo: 'c0004' },
      { after: 'c0004', upTo: 'c0009' },
      { after: 'c0009', upTo: 'c0014' },
      { after: 'c0014', upTo: 'c0019' },
      { after: 'c0019', upTo: null },
    ]);
    expect(events.map((e) => e.size)).toEqual([5, 5, 5, 5, 3]);
    // A shard carries its range and the message, never ids.
    expect(JSON.stringify(events)).not.toContain('c0001');
  });

  it('makes no empty last shard when the audience is a multiple of the shard size', async () => {
    const { events } = await plan(withConnections(20), 5);
    expect(events).toHaveLength(4);
    expect(events[3]?.range).toEqual({ after: 'c0014', upTo: null });
  });

  it("shards a room's members only", async () => {
    const store = withConnections(30, 'big');
    store.rows.set('outsider', { connectionId: 'outsider', connectedAt: 0, subject: null });
    const { result, events } = await plan(store, 10, 'big');
    expect(result).toMatchObject({ kind: 'queued', queued: { room: 'big', recipients: 30, shards: 3 } });
    expect(events.every((e) => e.room === 'big')).toBe(true);
  });

  it('counts a shard Lambda would not take as failed', async () => {
    const store = withConnections(12);
    let calls = 0;
    const result = await planDelivery(
      store,
      {
        size: 5,
        invoke: async () => {
          if (calls++ === 1) throw new Error('throttled');
        },
      },
      undefined,
      bytes,
      {},
    );
    if (result.kind === 'queued') await result.handOver();
    expect(result.kind).toBe('queued');
    const id = result.kind === 'queued' ? (result.queued.deliveryId as string) : '';
    expect(await store.deliveryState(id)).toMatchObject({ done: 1, failed: 5 });
  });
});

describe('a sharded delivery whose sender asked for no echo', () => {
  it('posts to everyone in every shard but the sender, counts it nowhere, and resumes past it', async () => {
    const store = withConnections(23);
    const events: ShardEvent[] = [];
    const sharding = { size: 5, invoke: async (e: ShardEvent) => void events.push(e) };
    // c0007 is the sender: the last id of a page (3 ids) of the second shard, where its cursor is saved.
    const result = await planDelivery(store, sharding, undefined, bytes, { connectionId: 'sender' }, Date.now, 'c0007');
    if (result.kind === 'queued') await result.handOver();
    expect(result).toMatchObject({ kind: 'queued', queued: { recipients: 22, unsent: 22, shards: 5 } });
    expect(events.every((e) => e.except === 'c0007')).toBe(true);
    const { run, posts, summaries } = runner(store);
    await Promise.all(events.map((event) => runShard(run, event)));
    expect(posts.sort()).toEqual([...store.rows.keys()].filter((id) => id !== 'c0007').sort());
    expect(summaries).toEqual([expect.objectContaining({ state: 'done', recipients: 22, sent: 22 })]);
  });

  it('sends no summary at all, queued or final, to a sender that asked for none', async () => {
    const store = withConnections(12);
    const { events } = await plan(store, 5, undefined, {});
    const { run, summaries } = runner(store);
    await Promise.all(events.map((event) => runShard(run, event)));
    expect(summaries).toEqual([]);
  });
});

describe('runShard', () => {
  it('delivers 23 recipients through 5 shards finishing in any order, each once, with one summary', async () => {
    const store = withConnections(23);
    const { events } = await plan(store, 5);
    const { run, posts, summaries } = runner(store);
    const outcomes = await Promise.all(shuffled(events).map((event) => runShard(run, event)));
    expect(posts.sort()).toEqual([...store.rows.keys()].sort());
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ type: 'delivery', state: 'done', recipients: 23, sent: 23, shards: 5 });
    expect(outcomes.filter((o) => o.summary !== undefined)).toHaveLength(1);
  });

  it('resumes a failed shard from its cursor on the retry: nobody hears it twice', async () => {
    const store = withConnections(12);
    const { events } = await plan(store, 6);
    const [first, second] = events as [ShardEvent, ShardEvent];
    let failOnce = true;
    const { run, posts, summaries } = runner(store);
    const flaky: ShardRun = {
      ...run,
      send: async (id, data) => {
        if (id === 'c0004' && failOnce) {
          failOnce = false;
          throw new Error('the container died');
        }
        return run.send(id, data);
      },
      concurrency: 1,
    };
    await runShard(flaky, second);
    await expect(runShard(flaky, first)).resolves.toMatchObject({ outcome: 'done' });
    // The error was a failed post (counted), not a lost shard: c0004 is counted failed, not resent.
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ recipients: 12, sent: 11, failed: 1 });
    expect(new Set(posts).size).toBe(posts.length);
  });

  it('throws on a failed attempt with retries left, and the retry continues where it stopped', async () => {
    const store = withConnections(9);
    const { events } = await plan(store, 3);
    const { run, posts, summaries } = runner(store, { pageSize: 1 });
    let pages = 0;
    const broken: ShardRun = {
      ...run,
      store: Object.assign(Object.create(store) as MemoryStore, {
        audiencePage: async (...args: Parameters<MemoryStore['audiencePage']>) => {
          if (args[1].after === 'c0001' && pages++ === 0) throw new Error('the database went away');
          return store.audiencePage(...args);
        },
      }),
    };
    const [a, b, c] = events as [ShardEvent, ShardEvent, ShardEvent];
    await expect(runShard(broken, a)).rejects.toThrow('the database went away');
    expect(summaries).toHaveLength(0);
    await runShard(broken, c);
    await runShard(broken, b);
    await runShard(broken, a); // Lambda's retry
    expect(posts.sort()).toEqual([...store.rows.keys()].sort());
    expect(summaries).toEqual([expect.objectContaining({ recipients: 9, sent: 9, failed: 0 })]);
  });

  it('gives a shard up on its last attempt: what it did not reach is failed, and the summary still comes once', async () => {
    const store = withConnections(10);
    const { events } = await plan(store, 5);
    const { run, summaries } = runner(store);
    const [a, b] = events as [ShardEvent, ShardEvent];
    const broken: ShardRun = {
      ...run,
      store: Object.assign(Object.create(store) as MemoryStore, {
        audiencePage: async () => Promise.reject(new Error('the database went away')),
      }),
    };
    await runShard(run, b);
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) await expect(runShard(broken, a)).rejects.toThrow();
    const last = await runShard(broken, a).catch((error: unknown) => error);
    expect(last).toBeInstanceOf(ShardGivenUpError);
    expect(summaries).toEqual([expect.objectContaining({ state: 'done', recipients: 10, sent: 5, failed: 5 })]);
    // A repeated event (Lambda delivers at least once) finds the shard done.
    await expect(runShard(run, a)).resolves.toMatchObject({ outcome: 'duplicate' });
    expect(summaries).toHaveLength(1);
  });

  it("reads the room's members when it runs: who left after the message was planned misses it, who joined gets it", async () => {
    const store = withConnections(10, 'big');
    const { events } = await plan(store, 5, 'big');
    await store.leave('c0001', 'big');
    store.rows.set('c0001a', { connectionId: 'c0001a', connectedAt: 0, subject: null });
    await store.join('c0001a', 'big', 50);
    const { run, posts } = runner(store);
    for (const event of events) await runShard(run, event);
    expect(posts).not.toContain('c0001');
    expect(posts).toContain('c0001a');
  });

  it('removes stale connections page by page and counts them', async () => {
    const store = withConnections(8);
    const { events } = await plan(store, 4);
    const { run, summaries } = runner(store);
    const gone: ShardRun = {
      ...run,
      send: async (id, data) => {
        if (id === 'c0002' || id === 'c0006') {
          const { StaleConnectionError } = await import('../../src/errors');
          throw new StaleConnectionError(id);
        }
        return run.send(id, data);
      },
    };
    for (const event of events) await runShard(gone, event);
    expect(store.rows.has('c0002')).toBe(false);
    expect(summaries[0]).toMatchObject({ recipients: 8, sent: 6, stale: 2 });
  });

  /** A runner at 400 posts/s in pages of 5 on a virtual clock: sleeping moves it on. */
  function pacedRunner(store: Parameters<typeof runner>[0]) {
    let t = 0;
    const { run } = runner(store, {
      maxRate: 400,
      pageSize: 5,
      now: () => t,
      sleep: async (ms) => void (t += ms),
      deadline: Number.MAX_SAFE_INTEGER,
    });
    return { run, elapsed: () => t };
  }

  it('shares the rate with the other shards at work', async () => {
    const store = withConnections(20);
    const { events } = await plan(store, 5);
    const { run, elapsed } = pacedRunner(store);
    for (const event of events.slice(1)) await store.startShard(event.deliveryId, event.shard, 0);
    await runShard(run, events[0] as ShardEvent);
    // 4 shards at work: 100 posts/s each, so 5 posts take 40 ms (the first starts at once).
    expect(elapsed()).toBe(40);
  });

  it('does not take the whole rate when it starts before the other shards of its delivery', async () => {
    const store = withConnections(20);
    const { events } = await plan(store, 5);
    const { run, elapsed } = pacedRunner(store);
    await runShard(run, events[0] as ShardEvent); // no other shard has started yet
    expect(elapsed()).toBe(40); // 100 posts/s, a quarter of the rate, not 400
  });

  it('keeps 429s from failing posts', async () => {
    const store = withConnections(6);
    const { events } = await plan(store, 3);
    const { run, summaries } = runner(store);
    let throttles = 3;
    const busy: ShardRun = {
      ...run,
      send: async (id, data) => {
        if (id !== 'sender' && throttles-- > 0) throw new DeliveryError(id, 429, true);
        return run.send(id, data);
      },
    };
    for (const event of events) await runShard(busy, event);
    expect(summaries[0]).toMatchObject({ sent: 6, failed: 0 });
  });
});

describe('waitForSummary', () => {
  it('answers with the final summary once the last shard is done, or nothing at the deadline', async () => {
    const store = withConnections(10);
    const { result, events } = await plan(store, 5, undefined, {});
    const id = result.kind === 'queued' ? (result.queued.deliveryId as string) : '';
    expect(await waitForSummary(store, id, Date.now() + 30, { intervalMs: 10 })).toBeUndefined();
    const { run } = runner(store);
    const waiting = waitForSummary(store, id, Date.now() + 5_000, { intervalMs: 10 });
    for (const event of events) await runShard(run, event);
    await expect(waiting).resolves.toMatchObject({ state: 'done', recipients: 10, sent: 10 });
  });
});
