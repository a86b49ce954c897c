import { DeliveryError, StaleConnectionError } from '../../src/errors';
import { fanOut, fanOutDeadline } from '../../src/chat/fanout/delivery';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
const later = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('fanOut', () => {
  it('never has more deliveries in flight than the concurrency bound, and uses all of it', async () => {
    let inFlight = 0;
    let peak = 0;
    const result = await fanOut(
      ids(200),
      async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await later(1);
        inFlight--;
      },
      { concurrency: 7, deadline: Date.now() + 60_000 },
    );
    expect(peak).toBe(7);
    expect(result).toEqual({ recipients: 200, sent: 200, stale: [], failed: 0, unsent: 0 });
  });

  it('delivers to each recipient exactly once', async () => {
    const seen: string[] = [];
    await fanOut(ids(50), async (id) => void seen.push(id), { concurrency: 8, deadline: Date.now() + 60_000 });
    expect(seen.sort()).toEqual(ids(50).sort());
  });

  it('collects the connections that are gone, and counts other failures', async () => {
    const result = await fanOut(
      ids(6),
      async (id) => {
        if (id === 'c1' || id === 'c4') throw new StaleConnectionError(id);
        if (id === 'c2') throw new DeliveryError(id, 500, true);
      },
      { concurrency: 3, deadline: Date.now() + 60_000 },
    );
    expect(result.stale.sort()).toEqual(['c1', 'c4']);
    expect(result).toMatchObject({ recipients: 6, sent: 3, failed: 1, unsent: 0 });
  });

  it('stops starting deliveries when the time budget is spent, and reports what was not sent', async () => {
    let clock = 0;
    const result = await fanOut(
      ids(10),
      async () => {
        clock += 10;
      },
      { concurrency: 1, deadline: 35, now: () => clock },
    );
    expect(result).toEqual({ recipients: 10, sent: 4, stale: [], failed: 0, unsent: 6 });
  });

  it('does nothing for an empty audience', async () => {
    const deliver = jest.fn();
    expect(await fanOut([], deliver, { concurrency: 5, deadline: Date.now() + 1_000 })).toEqual({
      recipients: 0,
      sent: 0,
      stale: [],
      failed: 0,
      unsent: 0,
    });
    expect(deliver).not.toHaveBeenCalled();
  });
});

describe('fanOutDeadline', () => {
  const settings = { budgetMs: 25_000, postTimeoutMs: 1_500 };

  it('is the budget when the invocation has time for the budget and what follows it', () => {
    expect(fanOutDeadline(1_000, settings, 29_000)).toBe(26_000);
    expect(fanOutDeadline(1_000, settings, undefined)).toBe(26_000);
  });

  it('leaves the last posts, the sender’s summary and 1 s for the store inside the remaining time', () => {
    // 20 s left: 20 - 2 x 1.5 - 1 = 16 s of fan-out.
    expect(fanOutDeadline(1_000, settings, 20_000)).toBe(17_000);
    expect(fanOutDeadline(1_000, { budgetMs: 25_000, postTimeoutMs: 5_000 }, 29_000)).toBe(19_000);
  });

  it('is now when not even that fits', () => {
    expect(fanOutDeadline(1_000, settings, 2_000)).toBe(1_000);
  });
});
