/**
 * The summaries of a sharded delivery: whom they go to (kept with the delivery in the store),
 * the final one built from the store's totals, and its announcement (the post to the sender, a
 * log line, the metrics) by whoever claimed it: the shard that finished last, or the sweep
 * that ended an abandoned delivery (./abandoned.ts).
 */
import type { DeliveryState } from '../../data';
import { StaleConnectionError } from '../../errors';
import { log } from '../../log';
import type { DeliveryFrame } from '../frames';

/** Whom the final summary goes to, kept with the delivery in the store. */
export interface SummaryTo {
  connectionId?: string;
  room?: string;
  /** The message's id and room number, which every summary of it names. */
  id?: string;
  seq?: number;
  /** The sender's own name for its request, which every summary of it echoes. */
  ref?: string;
  startedAt: number;
}

/** The message a summary is of: its id, its room number when it has one, and the sender's ref. */
export function messageFields(to: { id?: string; seq?: number; ref?: string }): {
  id: string;
  seq?: number;
  ref?: string;
} {
  return {
    id: to.id ?? '',
    ...(to.seq === undefined ? {} : { seq: to.seq }),
    ...(to.ref === undefined ? {} : { ref: to.ref }),
  };
}

export function roomField(room: string | undefined): { room?: string } {
  return room === undefined ? {} : { room };
}

/** The final summary, from the store's totals. */
export function finalSummary(state: DeliveryState): DeliveryFrame {
  const to = JSON.parse(state.summaryTo) as SummaryTo;
  const { sent, stale, failed, unsent } = state;
  return {
    type: 'delivery',
    ...roomField(to.room),
    ...messageFields(to),
    state: 'done',
    deliveryId: state.deliveryId,
    shards: state.shards,
    recipients: sent + stale + failed + unsent,
    sent,
    stale,
    failed,
    unsent,
  };
}

/** Seconds from the queued summary to the final one. */
export function secondsOf(state: DeliveryState, now: number): number {
  return (now - (JSON.parse(state.summaryTo) as SummaryTo).startedAt) / 1000;
}

/** What announcing a claimed summary needs. */
export interface Announcer {
  /** Posts to one connection (the sender's). */
  send(connectionId: string, data: Uint8Array, deadline?: number): Promise<void>;
  /** Ms epoch: the post starts no retry that could end after it. */
  deadline: number;
  now?: () => number;
  /** Called once per delivery, by whoever claimed its summary (the metrics). */
  onSummary?: (summary: DeliveryFrame, seconds: number) => void;
}

/**
 * Announces a summary this caller claimed in the store: the metrics, a log line, and the post
 * to the sender. Claimed already, it is never sent twice; a sender that left (or a post that
 * fails) is logged, not thrown: it is no failure of the delivery.
 */
export async function announceFinal(announcer: Announcer, state: DeliveryState): Promise<DeliveryFrame> {
  const summary = finalSummary(state);
  const seconds = secondsOf(state, (announcer.now ?? Date.now)());
  try {
    announcer.onSummary?.(summary, seconds);
  } catch (error) {
    // Claimed already: a failure here must not keep the summary from its sender.
    log.warn('delivery metrics not written', { deliveryId: state.deliveryId, error });
  }
  log.info('fan-out done', { ...summary, seconds });
  const to = JSON.parse(state.summaryTo) as SummaryTo;
  if (to.connectionId !== undefined) {
    try {
      await announcer.send(to.connectionId, new TextEncoder().encode(JSON.stringify(summary)), announcer.deadline);
    } catch (error) {
      const level = error instanceof StaleConnectionError ? 'info' : 'warn';
      log[level]('final summary not posted', { deliveryId: state.deliveryId, connectionId: to.connectionId, error });
    }
  }
  return summary;
}
