/**
 * The `deliver` function's work (src/handler.ts `deliver` runs it): one shard of a large
 * fan-out, posted through the backend outbox at the stage's paced rate.
 */
import type { Context } from 'aws-lambda';
import { AFTER_SHARD_MS, AFTER_SHARD_WAIT_MS } from '../../budgets';
import { backendOutbox } from '../../communication';
import { config } from '../../config';
import type { ConnectionStore } from '../../data';
import { MAX_ATTEMPTS, runShard } from './shard-runner';
import type { ShardEvent } from './shards';

// Powertools is loaded only for a shard's final summary.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fanOutMetrics = () => require('./metrics') as typeof import('./metrics');

/** `store` is taken only when the shard runs, so a shard refused before it leaves the store unused. */
export async function deliverShard(
  event: ShardEvent,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  store: () => ConnectionStore,
): Promise<{ outcome: string }> {
  const { fanOut, shards: settings } = config();
  // `deliver`, like `publish`, is called by no socket event: the environment names its API.
  const outbox = backendOutbox();
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  const started = Date.now();
  const result = await runShard(
    {
      store: store(),
      send: (id, data, deadline) => outbox.send(id, data, deadline),
      concurrency: fanOut.concurrency,
      deadline: started + Math.max(0, remaining - AFTER_SHARD_MS),
      endBy: started + Math.max(0, remaining - AFTER_SHARD_WAIT_MS),
      maxRate: settings.maxRate,
      // Lambda's asynchronous retries, which `npm start`'s local runtime makes too (scripts/offline-async.js).
      retried: (attempts) => attempts < MAX_ATTEMPTS,
      onSummary: (summary, seconds) => fanOutMetrics().publishDeliveryMetrics(summary, seconds),
    },
    event,
  );
  return { outcome: result.outcome };
}
