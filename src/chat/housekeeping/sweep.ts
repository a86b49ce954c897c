/**
 * The scheduled sweep's work (src/handler.ts `sweep` runs it): rows that outlived their
 * sockets, the liveness probe of the rest, and trimming history and delivery tallies.
 */
import type { Context } from 'aws-lambda';
import { AFTER_FANOUT_MS } from '../../budgets';
import { backendEndpoint, livenessProbeAt, outboxAt } from '../../communication';
import { config, historyWindow, readHistorySettings } from '../../config';
import type { ConnectionStore } from '../../data';
import { log } from '../../log';

// The liveness sweep (and the chat delivery path behind it) is loaded only when it can run.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const livenessSweep = () => require('./liveness') as typeof import('./liveness');

/** How long the tally of a sharded delivery is kept: longer than Lambda keeps a throttled shard (6 h). */
export const DELIVERY_RECORD_MS = 24 * 60 * 60 * 1000;

/** API Gateway closes a WebSocket connection after 2 hours at most. */
export const MAX_CONNECTION_AGE_MS = 2 * 60 * 60 * 1000;

/** The sweep's budget when it runs without a Lambda context (`npm run sweep`). */
const SWEEP_BUDGET_MS = 30_000;

export interface SweepResult {
  removed: number;
  expired: number;
  gone: number;
  checked: number;
  trimmed: number;
}

/**
 * Scheduled: `$disconnect` is best-effort, so rows can outlive their sockets. No socket lives
 * longer than 2 hours, so anything older goes at once; then every row older than a few
 * minutes is asked about (src/chat/housekeeping/liveness.ts), oldest first, and what API Gateway says is
 * gone (410) goes too, with its memberships and presence events. Room history is trimmed
 * to its bounds here too (reads never go beyond them, so this only frees the space).
 */
export async function sweepStore(
  store: ConnectionStore,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<SweepResult> {
  const started = Date.now();
  const expired = await store.removeOlderThan(started - MAX_CONNECTION_AGE_MS);
  const { fanOut, liveness, presenceMaxMembers } = config();
  const endpoint = backendEndpoint();
  let gone = 0;
  let checked = 0;
  if (endpoint === undefined) {
    log.warn('no WebSocket API endpoint: the liveness sweep is skipped', { route: 'sweep' });
  } else {
    const remaining = context?.getRemainingTimeInMillis?.() ?? SWEEP_BUDGET_MS + AFTER_FANOUT_MS;
    const courier = {
      store,
      outbox: outboxAt(endpoint),
      concurrency: fanOut.concurrency,
      // The presence events of the last batch and the store's end() come after it.
      deadline: Date.now() + Math.max(0, remaining - AFTER_FANOUT_MS - fanOut.postTimeoutMs),
    };
    const result = await livenessSweep().sweepLiveness(courier, livenessProbeAt(endpoint), {
      ...liveness,
      presenceMaxMembers,
    });
    gone = result.removed;
    checked = result.checked;
  }
  // Only the history settings: `npm run sweep` hands the store over and sets nothing else.
  const trimmed = await store.trimHistory(historyWindow(readHistorySettings(process.env)));
  // A delivery's tally is read until its summary is sent; a day later nobody waits for it.
  const deliveries = await store.removeDeliveriesBefore(Date.now() - DELIVERY_RECORD_MS);
  const removed = expired + gone;
  log.info('sweep done', { route: 'sweep', removed, expired, gone, checked, trimmed, deliveries });
  return { removed, expired, gone, checked, trimmed };
}
