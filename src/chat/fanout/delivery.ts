/**
 * Delivering one message to many connections from one Lambda invocation.
 *
 * - At most `concurrency` posts are in flight (a pool of workers over one list), so
 *   memory and sockets stay bounded whatever the audience size.
 * - No post starts after `deadline`: API Gateway gives a route integration 29 s, and a
 *   fan-out that is cut off by a timeout reports nothing, so we stop early and report.
 *   The summary comes no later than the deadline plus one post timeout: `deliver` (post
 *   in src/communication.ts) aborts each attempt at its timeout and starts no retry that
 *   could end after the deadline, whatever the endpoint does.
 * - A 410 marks the connection stale; stale ids are returned together so the caller
 *   deletes them in one batched statement.
 */
import { DeliveryError, StaleConnectionError } from '../../errors';
import { log } from '../../log';

export interface FanOutOptions {
  concurrency: number;
  /** Ms epoch after which no new post starts. */
  deadline: number;
  now?: () => number;
}

export interface FanOutResult {
  recipients: number;
  sent: number;
  /** Connections API Gateway says are gone (410). */
  stale: string[];
  /** Posts that failed for another reason, after their retries. */
  failed: number;
  /** Recipients not attempted because the time budget ran out. */
  unsent: number;
}

/**
 * The time budget of a message route, whose function timeout is API Gateway's 29 s
 * integration limit (serverless.yml), with the default settings:
 *
 *   read the audience, then post; no post starts after the deadline           20.0 s
 *   posts in flight at the deadline end by their own timeout   POST_TIMEOUT_MS  + 1.5 s
 *   the sender's summary: one attempt, its own timeout         POST_TIMEOUT_MS  + 1.5 s
 *   the store's tail (`storeTailMs`, src/budgets.ts AFTER_FANOUT_MS): delete
 *   the stale rows (3 s), a failure's error reply (2 s), end() (1 s)             + 6.0 s
 *                                                                              = 29.0 s
 *
 * So the deadline is FANOUT_BUDGET_MS (25 s by default), but never later than the
 * invocation's remaining time minus what comes after it (2 x POST_TIMEOUT_MS + the store's
 * tail): 20 s in a 29 s function, whatever the settings say.
 */
export function fanOutDeadline(
  now: number,
  settings: { budgetMs: number; postTimeoutMs: number },
  remainingMs: number | undefined,
  storeTailMs = 1_000,
): number {
  const after = 2 * settings.postTimeoutMs + storeTailMs;
  const available = remainingMs === undefined ? settings.budgetMs : remainingMs - after;
  return now + Math.max(0, Math.min(settings.budgetMs, available));
}

export async function fanOut(
  recipients: readonly string[],
  deliver: (connectionId: string) => Promise<void>,
  options: FanOutOptions,
): Promise<FanOutResult> {
  const now = options.now ?? Date.now;
  const result: FanOutResult = { recipients: recipients.length, sent: 0, stale: [], failed: 0, unsent: 0 };
  let next = 0;

  const worker = async (): Promise<void> => {
    while (next < recipients.length) {
      if (now() >= options.deadline) {
        result.unsent += recipients.length - next;
        next = recipients.length;
        return;
      }
      const connectionId = recipients[next++] as string;
      try {
        await deliver(connectionId);
        result.sent++;
      } catch (error) {
        if (error instanceof StaleConnectionError) {
          result.stale.push(connectionId);
        } else {
          result.failed++;
          const level = error instanceof DeliveryError ? 'warn' : 'error';
          log[level]('delivery failed', { connectionId, error });
        }
      }
    }
  };

  const workers = Math.max(1, Math.min(options.concurrency, recipients.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return result;
}
