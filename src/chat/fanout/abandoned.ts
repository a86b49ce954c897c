/**
 * Sharded deliveries whose shards are gone, ended by the scheduled sweep
 * (src/chat/housekeeping/sweep.ts): the runtime crashed (`kill -9` of `npm start`), Lambda lost
 * an event or gave one up while the store was down (it is then in the on-failure queue, counted
 * by no attempt), or the publisher died before it handed every shard over. Nobody else would
 * ever finish them, and their sender would never get the `done` summary.
 *
 * The sweep ends those opened longer ago than SWEEP_DELIVERY_AGE_MS (by default no attempt of
 * any of their shards can still be running then: src/config.ts DEFAULT_ABANDONED_AFTER_MS), in
 * the store, one transaction each (every shard not done is marked done with the counts it saved,
 * what nobody counted is `failed`, the summary is claimed), and announces the summary as the last
 * shard would have: the sender's post, if it is still connected, a log line and the metrics.
 */
import type { ShardStore } from '../../data';
import { log } from '../../log';
import { announceFinal } from './summary';
import type { Announcer } from './summary';

/** Deliveries one sweep ends at most; the next sweep takes the rest. */
export const ENDED_PER_SWEEP = 100;

export interface Ending extends Announcer {
  store: ShardStore;
  /** Ms epoch: deliveries opened before it are ended. */
  openedBefore: number;
}

/** Ends the abandoned deliveries (none is started after `ending.deadline`); returns how many it ended. */
export async function endAbandonedDeliveries(ending: Ending): Promise<number> {
  const now = ending.now ?? Date.now;
  const ids = await ending.store.abandonedDeliveries(ending.openedBefore, ENDED_PER_SWEEP);
  let ended = 0;
  for (const deliveryId of ids) {
    if (now() >= ending.deadline) break;
    const result = await ending.store.endDelivery(deliveryId);
    // A shard finished it meanwhile (or another sweep did): its summary went out from there.
    if (result === undefined) continue;
    ended++;
    const { state, unfinished } = result;
    log.warn('delivery abandoned by its shards; the sweep ended it, what they did not count is failed', {
      deliveryId,
      shards: state.shards,
      unfinished,
      recipients: state.recipients,
      failed: state.failed,
    });
    await announceFinal(ending, state);
  }
  return ended;
}
