import { DeliveryError, StaleConnectionError } from '../../src/errors';
import { IN_FLIGHT_WINDOW_MS, MIN_FACTOR, Pacer, pacedFanOut, RECOVERY_MS } from '../../src/chat/fanout/pacing';

/** A clock that only moves when the code under test sleeps. */
function fakeClock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('Pacer', () => {
  it('starts posts no faster than its rate', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(100, clock);
    const start = clock.now();
    for (let i = 0; i < 101; i++) await pacer.take();
    // 101 slots at 10 ms apart: the last starts 1 s after the first.
    expect(clock.now() - start).toBe(1_000);
  });

  it('halves its pace on a 429, once for a burst of them, and recovers within RECOVERY_MS', () => {
    const clock = fakeClock();
    const pacer = new Pacer(1_000, clock);
    pacer.throttled();
    pacer.throttled(); // the same throttle seen by other posts in flight
    expect(pacer.rate).toBe(500);
    clock.advance(300);
    const recovered = pacer.rate; // partly back up
    expect(recovered).toBeGreaterThan(500);
    pacer.throttled(); // a later 429 halves what the pace had become
    expect(pacer.rate).toBeCloseTo(recovered / 2, 5);
    clock.advance(RECOVERY_MS / 2);
    expect(pacer.rate).toBeGreaterThan(250);
    expect(pacer.rate).toBeLessThan(1_000);
    clock.advance(RECOVERY_MS);
    expect(pacer.rate).toBe(1_000);
  });

  it('never slows below MIN_FACTOR of its target', () => {
    const clock = fakeClock();
    const pacer = new Pacer(6_400, clock);
    for (let i = 0; i < 20; i++) {
      pacer.throttled();
      clock.advance(250);
    }
    expect(pacer.rate).toBeGreaterThanOrEqual(6_400 * MIN_FACTOR);
  });

  it('follows a new share of the rate', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(10, clock);
    pacer.setTarget(1_000);
    await pacer.take();
    const start = clock.now();
    await pacer.take();
    expect(clock.now() - start).toBe(1);
  });
});

describe('pacedFanOut', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `c${String(i).padStart(3, '0')}`);

  it('retries a throttled post at a slower pace instead of failing it', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(1_000, clock);
    const tries = new Map<string, number>();
    const result = await pacedFanOut(
      ids(10),
      async (id) => {
        const n = (tries.get(id) ?? 0) + 1;
        tries.set(id, n);
        if (id === 'c003' && n <= 2) throw new DeliveryError(id, 429, true);
      },
      { concurrency: 2, deadline: clock.now() + 60_000, pacer, now: clock.now },
    );
    expect(result).toMatchObject({ attempted: 10, sent: 10, failed: 0, unsent: 0, throttled: 2 });
    expect(tries.get('c003')).toBe(3);
    expect(pacer.rate).toBeLessThan(1_000);
  });

  it('stops at the deadline with a settled prefix: the cursor for a retry', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(100, clock); // 10 ms per post
    const seen: string[] = [];
    const result = await pacedFanOut(ids(100), async (id) => void seen.push(id), {
      concurrency: 4,
      deadline: clock.now() + 200,
      pacer,
      now: clock.now,
    });
    expect(result.attempted).toBeLessThan(100);
    expect(seen.sort()).toEqual(ids(100).slice(0, result.attempted));
    expect(result.sent).toBe(result.attempted);
  });

  it('keeps in flight only what its pace starts in IN_FLIGHT_WINDOW_MS, within the concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 300));
      inFlight--;
    };
    const options = { concurrency: 50, deadline: Date.now() + 60_000 };
    // 50/s with 300 ms posts would have 15 in flight; the window allows 10.
    await pacedFanOut(ids(30), slow, { ...options, pacer: new Pacer(50) });
    expect(peak).toBe(Math.ceil((50 * IN_FLIGHT_WINDOW_MS) / 1000));
    peak = 0;
    await pacedFanOut(ids(80), slow, { ...options, pacer: new Pacer(1_000_000) });
    expect(peak).toBe(50);
  });

  it('collects stale connections and counts other failures', async () => {
    const clock = fakeClock();
    const result = await pacedFanOut(
      ids(5),
      async (id) => {
        if (id === 'c001') throw new StaleConnectionError(id);
        if (id === 'c002') throw new DeliveryError(id, 500, true);
      },
      { concurrency: 3, deadline: clock.now() + 60_000, pacer: new Pacer(1_000, clock), now: clock.now },
    );
    expect(result).toMatchObject({ attempted: 5, sent: 3, stale: ['c001'], failed: 1, unsent: 0 });
  });
});
