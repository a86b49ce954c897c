/**
 * Writes whose outcome is unknown. A store write that fails with a StoreError may still have
 * happened: the statement reached the database and only its answer was lost (a timeout, a
 * dropped connection), as it is in AWS when a Lambda times out between a commit and its answer.
 * Answering such a write as failed told clients things that were not true (a `leave` that did
 * happen answered `unavailable`, a refused `$connect` whose row stayed). So every write a route
 * answers for goes through `settle`: on a StoreError it runs the route's `truth` step, which reads
 * the store back (and finishes the write if it did not happen, or, for `$connect`, undoes it),
 * retried for SETTLE_WINDOW_MS while an attempt fits in the route's budget. One mechanism for
 * every route.
 */
import { sleep } from '../timeout';
import { ConfigError, CredentialsError, DatabasePasswordError, SecretError, StoreError } from '../errors';
import { log } from '../log';
import { MYSQL_TIMEOUTS } from './mysql-connections';

/** Pause between attempts of the truth step: a dropped connection is usually back within it. */
export const SETTLE_RETRY_MS = 250;

/**
 * No attempt starts later than this after the write failed: a database that stays silent longer
 * is down, and the client is better told so in time (a refused handshake well before the
 * function's timeout, `unavailable` within about 10 s) than after the whole budget.
 */
export const SETTLE_WINDOW_MS = 2_000;

/** One store operation, connecting included, at most (the MySQL adapter's bound; SQLite is faster). */
export const STORE_OPERATION_MS = MYSQL_TIMEOUTS.operationMs;

export interface SettleOptions {
  /** The store operation, for the log ('add', 'join', 'leave'). */
  operation: string;
  connectionId: string;
  /** Ms epoch: no attempt of the truth step may end after it (the route answers by then). */
  deadline: number;
  /** The longest one attempt of the truth step takes (the store's own operation timeouts). */
  attemptMs: number;
}

/**
 * Whether a failed write may have happened. Not when the store never got as far as the
 * database: its password could not be read or was refused, or its settings are wrong.
 */
function mayHaveHappened(error: unknown): error is StoreError {
  if (!(error instanceof StoreError) || error instanceof DatabasePasswordError) return false;
  const cause = error.cause;
  return !(cause instanceof SecretError || cause instanceof ConfigError || cause instanceof CredentialsError);
}

/**
 * Runs `write`; when it fails with a StoreError, returns what `truth` says happened instead. A
 * `truth` that cannot be had before the deadline leaves the original error to the caller
 * (the route answers 500/`unavailable` as before, and the liveness sweep is the backstop).
 */
export async function settle<T>(options: SettleOptions, write: () => Promise<T>, truth: () => Promise<T>): Promise<T> {
  const { operation, connectionId, deadline, attemptMs } = options;
  try {
    return await write();
  } catch (error) {
    if (!mayHaveHappened(error)) throw error;
    log.warn('store write outcome unknown; reading it back', { operation, connectionId, error });
    const lastStart = Date.now() + SETTLE_WINDOW_MS;
    for (let attempt = 1; ; attempt++) {
      if (Date.now() > lastStart || Date.now() + attemptMs > deadline) {
        log.warn('store write outcome still unknown when the budget ran out', { operation, connectionId, attempt });
        throw error;
      }
      try {
        const outcome = await truth();
        log.warn('store write outcome settled', { operation, connectionId, attempt, outcome });
        return outcome;
      } catch (readError) {
        if (!(readError instanceof StoreError)) throw readError;
        await sleep(SETTLE_RETRY_MS);
      }
    }
  }
}
