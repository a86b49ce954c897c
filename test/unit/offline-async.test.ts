/**
 * Lambda's asynchronous invocation under `npm start` (scripts/offline-async.js): a failed event
 * is tried again after Lambda's delays until the function's maximumRetryAttempts are spent, and
 * then given up with a line saying so; a throttled call is no attempt and waits in the queue,
 * but never past maximumEventAge. On a virtual clock.
 */
import { resolve } from 'node:path';

interface Lease {
  asyncConfig?: { maximumRetryAttempts?: number; maximumEventAge?: number };
  runHandler(): Promise<unknown>;
}
interface Queue {
  enqueue(lease: Lease, functionName: string, event: unknown): void;
  pending(): number;
}
interface AsyncModule {
  asyncQueue(deps: {
    ThrottledError?: new (message: string) => Error;
    env?: Record<string, string>;
    now?: () => number;
    setTimer?: (run: () => void, ms: number) => void;
  }): Queue;
  retryDelays(env: Record<string, string>): number[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { asyncQueue, retryDelays } = require(resolve('scripts/offline-async.js')) as AsyncModule;

class ThrottledError extends Error {}

/** A queue on a virtual clock: `advance` runs the timers that are due, in order. */
function virtualQueue(env: Record<string, string> = {}) {
  let t = 0;
  let timers: { at: number; run: () => void }[] = [];
  const queue = asyncQueue({
    ThrottledError,
    env,
    now: () => t,
    setTimer: (run, ms) => void timers.push({ at: t + ms, run }),
  });
  const settle = () => new Promise((done) => setImmediate(done));
  const advance = async (ms: number) => {
    const until = t + ms;
    await settle();
    for (;;) {
      const next = timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      timers = timers.filter((timer) => timer !== next);
      t = next.at;
      next.run();
      await settle();
    }
    t = until;
  };
  return { queue, advance, now: () => t };
}

/** A function whose attempts answer as `outcomes` says, in turn; the times it was run are kept. */
function lease(outcomes: ('ok' | 'fail' | 'throttled')[], asyncConfig?: Lease['asyncConfig']) {
  const runs: number[] = [];
  return {
    runs,
    start: (now: () => number): Lease => ({
      ...(asyncConfig ? { asyncConfig } : {}),
      runHandler: async () => {
        runs.push(now());
        const outcome = outcomes.shift() ?? 'ok';
        if (outcome === 'fail') throw new Error('the store stalled');
        if (outcome === 'throttled') throw new ThrottledError('all instances busy');
        return { outcome: 'done' };
      },
    }),
  };
}

let lines: string[];
let stderr: jest.SpyInstance;
beforeEach(() => {
  lines = [];
  stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
});
afterEach(() => stderr.mockRestore());

const shard = { type: 'shard', deliveryId: 'd1', shard: 2 };

describe('asynchronous invocation under npm start', () => {
  it('retries a failed event one and then two minutes later, as Lambda does, and stops when it succeeds', async () => {
    const { queue, advance, now } = virtualQueue();
    const fn = lease(['fail', 'fail', 'ok']);
    queue.enqueue(fn.start(now), 'deliver', shard);
    await advance(10 * 60_000);
    expect(fn.runs).toEqual([0, 60_000, 180_000]);
    expect(queue.pending()).toBe(0);
    expect(lines.join('')).toContain('deliver: shard 2 of delivery d1: attempt 1 of 3 failed');
  });

  it('gives the event up after maximumRetryAttempts + 1 failed attempts, and says so', async () => {
    const { queue, advance, now } = virtualQueue({ LOCAL_ASYNC_RETRY_DELAYS_MS: '100,200' });
    const fn = lease(['fail', 'fail', 'fail', 'fail'], { maximumRetryAttempts: 2 });
    queue.enqueue(fn.start(now), 'deliver', shard);
    await advance(60_000);
    expect(fn.runs).toEqual([0, 100, 300]);
    expect(queue.pending()).toBe(0);
    expect(lines.join('')).toMatch(
      /deliver: shard 2 of delivery d1: failed on all 3 attempts \(Error: the store stalled\); in AWS it would go to the on-failure destination/,
    );
  });

  it('does not count a throttled call as an attempt, and waits longer after each one', async () => {
    const { queue, advance, now } = virtualQueue({ LOCAL_ASYNC_RETRY_DELAYS_MS: '100,200' });
    const fn = lease(['throttled', 'throttled', 'fail', 'throttled', 'fail', 'fail']);
    queue.enqueue(fn.start(now), 'deliver', shard);
    await advance(60_000);
    // 1 s and 2 s after the throttles, 100 ms after the first failure, 4 s after the next throttle, 200 ms.
    expect(fn.runs).toEqual([0, 1_000, 3_000, 3_100, 7_100, 7_300]);
    expect(lines.join('')).toContain('failed on all 3 attempts');
  });

  it('starts no attempt once the event is maximumEventAge old', async () => {
    const { queue, advance, now } = virtualQueue({ LOCAL_ASYNC_RETRY_DELAYS_MS: '100,200' });
    const fn = lease(
      Array.from({ length: 20 }, () => 'throttled' as const),
      { maximumEventAge: 60 },
    );
    queue.enqueue(fn.start(now), 'deliver', shard);
    await advance(10 * 60_000);
    expect(fn.runs).toEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000]);
    expect(lines.join('')).toContain('event older than maximumEventAge before its next attempt');
    expect(queue.pending()).toBe(0);
  });

  it("reads LOCAL_ASYNC_RETRY_DELAYS_MS, and says so when it is not whole ms (Lambda's then)", () => {
    expect(retryDelays({ LOCAL_ASYNC_RETRY_DELAYS_MS: ' 500, 1000 ' })).toEqual([500, 1_000]);
    expect(retryDelays({})).toEqual([60_000, 120_000]);
    expect(retryDelays({ LOCAL_ASYNC_RETRY_DELAYS_MS: '1s,2s' })).toEqual([60_000, 120_000]);
    expect(lines.join('')).toContain('LOCAL_ASYNC_RETRY_DELAYS_MS must be whole ms');
  });
});
