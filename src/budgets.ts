/**
 * What each route keeps of its invocation after its own work (the store's end(), an error
 * reply, a shard's bookkeeping): the budgets the handlers and their bodies are built around.
 */
import { DEFAULT_POST_TIMEOUT_MS } from './config';
import { MYSQL_TIMEOUTS } from './data';

/**
 * The longest a failure reply is waited for: it is sent while the invocation is already
 * failing, so a silent management endpoint must not take the rest of the function's time.
 */
export const FAILURE_REPLY_TIMEOUT_MS = 2_000;

/** What an invocation keeps after the error reply: the store's end() and a margin. */
export const AFTER_REPLY_MS = MYSQL_TIMEOUTS.endMs + 500;

/**
 * What a message invocation may still need after its fan-out's deadline, on the store's side:
 * the batched delete of the stale connections (one store operation), then, should it fail,
 * the error reply, and the store's end(). (The posts of the tail, a delivery in flight and the
 * summary, are bounded by the management client's request timeout, src/communication.ts.)
 */
export const AFTER_FANOUT_MS = MYSQL_TIMEOUTS.operationMs + FAILURE_REPLY_TIMEOUT_MS + MYSQL_TIMEOUTS.endMs;

/**
 * What a shard keeps after its last post: saving its progress and finishing it (three store
 * operations), the final summary's post, and the store's end().
 */
export const AFTER_SHARD_MS = 3 * MYSQL_TIMEOUTS.operationMs + 2 * DEFAULT_POST_TIMEOUT_MS + MYSQL_TIMEOUTS.endMs;

/**
 * What a failed shard attempt keeps after the last moment it may ask the store to count it or
 * record its give-up: that one step (two store operations), the final summary's post, and end().
 */
export const AFTER_SHARD_WAIT_MS = 2 * MYSQL_TIMEOUTS.operationMs + DEFAULT_POST_TIMEOUT_MS + MYSQL_TIMEOUTS.endMs;
