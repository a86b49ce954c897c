/**
 * The scheduled sweep's work (src/handler.ts `sweep` runs it): rows that outlived their
 * sockets, sharded deliveries whose shards are gone, the liveness probe of the rest, and
 * trimming history and delivery tallies.
 */
import type { Context } from 'aws-lambda';
import { AFTER_FANOUT_MS } from '../../budgets';
import { backendEndpoint, livenessProbeAt, outboxAt } from '../../communication';
import { config, DELIVERY_RECORD_MS, historyWindow, readHistorySettings } from '../../config';
import type { ConnectionStore } from '../../data';
import { log } from '../../log';
import { endAbandonedDeliveries } from '../fanout/abandoned';
import { emitStaleDepartures } from '../../events/lifecycle';

/* eslint-disable @typescript-eslint/no-require-imports */
// The liveness sweep (and the chat delivery path behind it) is loaded only when it can run.
const livenessSweep = () => require('./liveness') as typeof import('./liveness');
// Powertools is loaded only when the sweep ends a delivery (its metrics).
const fanOutMetrics = () => require('../fanout/metrics') as typeof import('../fanout/metrics');
/* eslint-enable @typescript-eslint/no-require-imports */

/** No abandoned delivery is ended after this much of the sweep's time: the liveness sweep gets the rest. */
export const ABANDONED_BUDGET_MS = 10_000;

/** API Gateway closes a WebSocket connection after 2 hours at most. */
export const MAX_CONNECTION_AGE_MS = 2 * 60 * 60 * 1000;

/** Rows read per page of expired connections: each is closed with its events before it goes. */
const EXPIRED_PAGE = 500;

/**
 * Connections older than any socket lives: read a page at a time, so that each gets its
 * `connection.closed` (and its rooms' departures); whatever is left at the deadline goes in one
 * statement, unannounced, as before events.
 */
async function removeExpired(store: ConnectionStore, cutoff: number, deadline: number): Promise<number> {
  let removed = 0;
  while (Date.now() < deadline) {
    const page = await store.connectedBefore(cutoff, EXPIRED_PAGE);
    if (page.length === 0) return removed;
    const roomsOf = new Map<string, string[]>();
    for (const row of page) roomsOf.set(row.connectionId, await store.roomsOf(row.connectionId));
    await store.removeMany(page.map((row) => row.connectionId));
    removed += page.length;
    const subjects = new Map(page.map((row) => [row.connectionId, row.subject]));
    await livenessSweep().closeAll({ store, deadline }, roomsOf, subjects);
  }
  return removed + (await store.removeOlderThan(cutoff));
}

/** The sweep's budget when it runs without a Lambda context (`npm run sweep`). */
const SWEEP_BUDGET_MS = 30_000;

export interface SweepResult {
  removed: number;
  expired: number;
  gone: number;
  checked: number;
  trimmed: number;
  /** Sharded deliveries whose shards were gone, ended here (src/chat/fanout/abandoned.ts). */
  abandoned: number;
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
  const expired = await removeExpired(store, started - MAX_CONNECTION_AGE_MS, started + ABANDONED_BUDGET_MS);
  const { fanOut, liveness, presenceMaxMembers, shards } = config();
  const endpoint = backendEndpoint();
  const abandoned = await endAbandonedDeliveries({
    store,
    openedBefore: started - shards.abandonedAfterMs,
    send: (connectionId, data, deadline) =>
      endpoint === undefined
        ? Promise.reject(new Error('no WebSocket API endpoint to post the summary to'))
        : outboxAt(endpoint).send(connectionId, data, deadline),
    deadline: Date.now() + ABANDONED_BUDGET_MS,
    onSummary: (summary, seconds) => fanOutMetrics().publishDeliveryMetrics(summary, seconds),
  });
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
  // Departures whose route did not live to the end of their debounce.
  const departures = await emitStaleDepartures(store, Date.now(), Date.now() + ABANDONED_BUDGET_MS);
  log.info('sweep done', {
    route: 'sweep',
    ...{ removed, expired, gone, checked, trimmed, abandoned, deliveries, departures },
  });
  return { removed, expired, gone, checked, trimmed, abandoned };
}
