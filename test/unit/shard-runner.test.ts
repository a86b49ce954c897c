/**
 * Every shard ends: a failure anywhere in an attempt (its first store step included) fails the
 * attempt and counts toward its attempts, also when the store failed at that moment and answers
 * again a little later; the last attempt gives up what it did not reach as `failed`, and the
 * delivery's `done` summary is sent exactly once. Time is virtual: a retry starts a minute after
 * the attempt before it, as Lambda's does.
 */
import { StoreError } from '../../src/errors';
import type { ShardProgress } from '../../src/data';
import { MAX_ATTEMPTS, runShard, ShardGivenUpError, STORE_WAIT_MS } from '../../src/chat/fanout/shard-runner';
import type { ShardOutcome } from '../../src/chat/fanout/shard-runner';
import type { ShardEvent } from '../../src/chat/fanout/shards';
import type { MemoryStore } from '../support/stand-ins/memory-store';
import { plan, runner, withConnections } from '../support/harnesses/shards';

const stalled = () => new StoreError('MySQL create schema failed: ETIMEDOUT', 'create schema');

/** A runner on a virtual clock: sleeping moves it on, and so does `nextAttempt` (Lambda's retry delay). */
function clocked(store: MemoryStore) {
  let t = 1_000_000;
  const sleeps: number[] = [];
  const harness = runner(store, {
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
    deadline: Number.MAX_SAFE_INTEGER,
  });
  return { ...harness, sleeps, nextAttempt: () => void (t += 60_000), now: () => t };
}

/** What the store answered the runner's last startShard: the attempts it counts. */
async function lastProgress(store: MemoryStore): Promise<ShardProgress> {
  const results = store.startShard.mock.results;
  return (await results[results.length - 1]?.value) as ShardProgress;
}

/** Two shards of 5; the second posted whole, so the first decides the delivery's end. */
async function twoShards() {
  const store = withConnections(10);
  const { events } = await plan(store, 5);
  const [a, b] = events as [ShardEvent, ShardEvent];
  const harness = clocked(store);
  await runShard(harness.run, b);
  harness.sleeps.length = 0; // the pacer's, while b posted
  return { store, a, b, ...harness };
}

/** The attempt's outcome, or what it threw. */
const settle = (outcome: Promise<ShardOutcome>): Promise<{ value?: ShardOutcome; error?: unknown }> =>
  outcome.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

describe('a shard attempt that fails', () => {
  it('is counted when its first store step failed, once the store answers again; the third gives the shard up', async () => {
    const { store, a, run, posts, summaries, sleeps, nextAttempt } = await twoShards();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      nextAttempt();
      // The stall: the attempt's first step and the next two questions fail, then the store answers.
      for (let i = 0; i < 3; i++) store.startShard.mockRejectedValueOnce(stalled());
      const { error } = await settle(runShard(run, a));
      expect((await lastProgress(store)).attempts).toBe(attempt);
      if (attempt < MAX_ATTEMPTS) expect(error).toBeInstanceOf(StoreError);
      else expect(error).toBeInstanceOf(ShardGivenUpError);
    }
    expect(sleeps).toEqual([250, 500, 250, 500, 250, 500]);
    // Nothing of the first shard was posted; it is all failed, and the summary came once.
    expect(posts.sort()).toEqual(['c0005', 'c0006', 'c0007', 'c0008', 'c0009']);
    expect(summaries).toEqual([expect.objectContaining({ state: 'done', recipients: 10, sent: 5, failed: 5 })]);
    await expect(runShard(run, a)).resolves.toMatchObject({ outcome: 'duplicate' });
    expect(summaries).toHaveLength(1);
  });

  it('is counted once when its first store step was written but its answer was lost', async () => {
    const { store, a, run, nextAttempt } = await twoShards();
    const write = store.startShard.getMockImplementation() as MemoryStore['startShard'];
    store.startShard.mockImplementationOnce(async (...args) => {
      await write(...args);
      throw stalled();
    });
    nextAttempt();
    await expect(runShard(run, a)).rejects.toBeInstanceOf(StoreError);
    expect((await lastProgress(store)).attempts).toBe(1);
    nextAttempt();
    store.audiencePage.mockRejectedValueOnce(stalled());
    await expect(runShard(run, a)).rejects.toBeInstanceOf(StoreError);
    expect((await lastProgress(store)).attempts).toBe(2);
  });

  it('stays uncounted when the store does not answer within STORE_WAIT_MS, and is thrown for Lambda', async () => {
    const { store, a, run, summaries, sleeps, nextAttempt } = await twoShards();
    store.startShard.mockRejectedValue(stalled());
    nextAttempt();
    await expect(runShard(run, a)).rejects.toBeInstanceOf(StoreError);
    const waited = sleeps.reduce((sum, ms) => sum + ms, 0);
    expect(waited).toBeLessThan(STORE_WAIT_MS);
    expect(waited).toBeGreaterThan(STORE_WAIT_MS - 4_000);
    // Nothing could be counted or finished: the sweep ends this delivery (test/unit/abandoned.test.ts).
    expect(summaries).toEqual([]);
    expect(await store.deliveryState(a.deliveryId)).toMatchObject({ done: 1, summarized: false });
  });

  it('is counted when saving its progress fails; the last one gives up with what it posted as sent', async () => {
    const { store, a, run, posts, summaries, nextAttempt } = await twoShards();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      nextAttempt();
      store.saveShard.mockRejectedValueOnce(stalled());
      await settle(runShard(run, a));
    }
    // Each attempt posted the page of 3 its cursor pointed at, and could not save that it did.
    expect(posts.filter((id) => id < 'c0005').sort()).toEqual([
      'c0000',
      'c0000',
      'c0000',
      'c0001',
      'c0001',
      'c0001',
      'c0002',
      'c0002',
      'c0002',
    ]);
    expect(summaries).toEqual([expect.objectContaining({ recipients: 10, sent: 8, failed: 2 })]);
  });

  it('is counted when its finish fails; the retry finishes without posting again', async () => {
    const { store, a, run, posts, summaries, nextAttempt } = await twoShards();
    nextAttempt();
    store.finishShard.mockRejectedValueOnce(stalled());
    await expect(runShard(run, a)).rejects.toBeInstanceOf(StoreError);
    expect(summaries).toEqual([]);
    nextAttempt();
    await expect(runShard(run, a)).resolves.toMatchObject({ outcome: 'done' });
    expect((await lastProgress(store)).attempts).toBe(2);
    expect(posts.filter((id) => id < 'c0005').sort()).toEqual(['c0000', 'c0001', 'c0002', 'c0003', 'c0004']);
    expect(summaries).toEqual([expect.objectContaining({ recipients: 10, sent: 10, failed: 0 })]);
  });

  it("records the give-up once the store answers again, when the last attempt's store fails too", async () => {
    const { store, a, run, summaries, nextAttempt } = await twoShards();
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      nextAttempt();
      store.audiencePage.mockRejectedValueOnce(stalled());
      await expect(runShard(run, a)).rejects.toBeInstanceOf(StoreError);
    }
    nextAttempt();
    store.audiencePage.mockRejectedValueOnce(stalled());
    store.finishShard.mockRejectedValueOnce(stalled()).mockRejectedValueOnce(stalled());
    await expect(runShard(run, a)).rejects.toBeInstanceOf(ShardGivenUpError);
    expect(store.finishShard).toHaveBeenCalledTimes(4); // b's, and a's three tries
    expect(summaries).toEqual([expect.objectContaining({ recipients: 10, sent: 5, failed: 5 })]);
  });

  it('gives one summary when every shard gives up on its last attempt at once', async () => {
    const store = withConnections(12);
    const { events } = await plan(store, 3);
    const { run, summaries, nextAttempt } = clocked(store);
    store.audiencePage.mockRejectedValue(stalled());
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      nextAttempt();
      const outcomes = await Promise.all(events.map((event) => settle(runShard(run, event))));
      const givenUp = outcomes.filter((o) => o.error instanceof ShardGivenUpError);
      expect(givenUp).toHaveLength(attempt === MAX_ATTEMPTS ? events.length : 0);
    }
    expect(summaries).toEqual([expect.objectContaining({ state: 'done', recipients: 12, sent: 0, failed: 12 })]);
  });

  it('still posts the summary, once, when writing its metrics fails', async () => {
    const store = withConnections(6);
    const { events } = await plan(store, 3);
    const { run, summaries } = clocked(store);
    const failing = {
      ...run,
      onSummary: () => {
        throw new Error('metrics unavailable');
      },
    };
    for (const event of events) await runShard(failing, event);
    expect(summaries).toEqual([expect.objectContaining({ state: 'done', recipients: 6, sent: 6 })]);
  });
});
