/**
 * Pacing for a shard of a fan-out: posts start at most `rate` per second (the shard's share of
 * FANOUT_MAX_RATE), and a 429 from API Gateway slows the shard down instead of failing the post.
 *
 * Adaptive backoff (AIMD): a 429 halves the pace (at most once per HALVE_EVERY_MS, since many
 * posts in flight meet the same throttle together), down to 1/64 of the target; the pace then
 * grows back linearly, to the full target within RECOVERY_MS of the last 429.
 */
import { DeliveryError, StaleConnectionError } from '../../errors';
import { log } from '../../log';
import { sleep as sleepFor } from '../../timeout';

export const HALVE_EVERY_MS = 250;
/**
 * Posts in flight are bounded by what the pace starts in this long: at API Gateway's tens of
 * milliseconds that is several times what the pace needs, and an endpoint that slows down past it
 * (overload) gets fewer posts instead of a pile-up that times out and is retried, which a
 * recipient can hear twice.
 */
export const IN_FLIGHT_WINDOW_MS = 200;
export const RECOVERY_MS = 2_000;
export const MIN_FACTOR = 1 / 64;

export interface PacerOptions {
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class Pacer {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** When the next post may start (ms epoch). Slots are absolute, so timer granularity costs no rate. */
  private nextSlot = 0;
  private factor = 1;
  private lastThrottle = Number.NEGATIVE_INFINITY;
  private factorAtThrottle = 1;

  constructor(
    private target: number,
    options: PacerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? sleepFor;
  }

  /** The shard's share changes as other shards start and finish. */
  setTarget(rate: number): void {
    this.target = Math.max(rate, 0.001);
  }

  /** Posts per second now: the target, lowered by recent 429s. */
  get rate(): number {
    const since = this.now() - this.lastThrottle;
    if (since >= RECOVERY_MS) return this.target;
    this.factor = Math.min(1, this.factorAtThrottle + (1 - this.factorAtThrottle) * (since / RECOVERY_MS));
    return this.target * this.factor;
  }

  /** Waits for this post's slot. */
  async take(): Promise<void> {
    const now = this.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + 1000 / this.rate;
    if (slot > now) await this.sleep(slot - now);
  }

  /** API Gateway answered 429: slow down. */
  throttled(): void {
    const now = this.now();
    if (now - this.lastThrottle < HALVE_EVERY_MS) return;
    const current = this.rate / this.target;
    this.factorAtThrottle = Math.max(MIN_FACTOR, current / 2);
    this.factor = this.factorAtThrottle;
    this.lastThrottle = now;
    // The slots already handed out were at the old pace: push the next one back.
    this.nextSlot = Math.max(this.nextSlot, now + 1000 / this.rate);
  }
}

export interface PagedFanOutOptions {
  concurrency: number;
  /** Ms epoch: no post starts after it. */
  deadline: number;
  pacer: Pacer;
  now?: () => number;
}

export interface PagedFanOutResult {
  /** How many ids from the start of the page have reached a final state: the page's next cursor. */
  attempted: number;
  sent: number;
  stale: string[];
  failed: number;
  /** Throttled until the deadline: not delivered, not given up by us. */
  unsent: number;
  throttled: number;
}

const isThrottle = (error: unknown) => error instanceof DeliveryError && error.statusCode === 429;

/**
 * Posts one page, in order, paced. Workers take ids from the front, so when the deadline comes
 * the ids before `attempted` are all settled and the rest are untouched: a retry of the shard
 * resumes at `page[attempted - 1]`, and nobody hears the message twice from us.
 */
export async function pacedFanOut(
  page: readonly string[],
  send: (connectionId: string) => Promise<void>,
  options: PagedFanOutOptions,
): Promise<PagedFanOutResult> {
  const now = options.now ?? Date.now;
  const result: PagedFanOutResult = { attempted: 0, sent: 0, stale: [], failed: 0, unsent: 0, throttled: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < page.length && now() < options.deadline) {
      const connectionId = page[next++] as string;
      for (;;) {
        await options.pacer.take();
        try {
          await send(connectionId);
          result.sent++;
        } catch (error) {
          if (error instanceof StaleConnectionError) {
            result.stale.push(connectionId);
          } else if (isThrottle(error)) {
            result.throttled++;
            options.pacer.throttled();
            if (now() < options.deadline) continue; // the same id again, at the slower pace
            result.unsent++;
          } else {
            result.failed++;
            log[error instanceof DeliveryError ? 'warn' : 'error']('delivery failed', { connectionId, error });
          }
        }
        break;
      }
    }
  };
  const paced = Math.ceil((options.pacer.rate * IN_FLIGHT_WINDOW_MS) / 1000);
  const workers = Math.max(1, Math.min(options.concurrency, page.length, Math.max(2, paced)));
  await Promise.all(Array.from({ length: workers }, worker));
  result.attempted = next;
  return result;
}
