// Lambda's asynchronous invocation (`InvocationType: Event`) under `npm start`, put into
// serverless-offline's Invoke API by scripts/offline-hooks.mjs. offline 13.10.1 runs such an
// event once and drops its failure (an unhandled rejection); AWS keeps the event in a queue
// (the Lambda guide, "How Lambda handles errors and retries with asynchronous invocation"):
//
// - a function error (thrown, or the function timing out) is retried `maximumRetryAttempts`
//   times (2 by default), one minute after the first attempt and two after the second;
// - a throttled call (no instance free) is no attempt: the event goes back to the queue and is
//   tried again, 1 s later and doubling up to 5 minutes;
// - no attempt starts once the event is `maximumEventAge` old (6 hours by default);
// - an event that failed every attempt, or grew too old, goes to the on-failure destination.
//
// The same here, from the function's own `maximumRetryAttempts` and `maximumEventAge`
// (serverless.yml), so that a shard of a sharded delivery fails, is retried and is given up as in
// AWS. LOCAL_ASYNC_RETRY_DELAYS_MS (`60000,120000` by default) sets the waits before the retries
// (tests shorten them). The on-failure destination is a log line naming the event's shard. The
// queue lives in this process: a crash or kill -9 loses it, as AWS loses an event now and then
// (docs/operations.md: the sweep ends such a delivery).
'use strict';
const { setTimeout } = require('node:timers');

/** Lambda's waits before the second and the third attempt. */
const DEFAULT_RETRY_DELAYS_MS = [60_000, 120_000];
/** A throttled event's first wait and longest one. */
const THROTTLE_DELAY_MS = { first: 1_000, longest: 300_000 };
const DEFAULT_MAX_RETRY_ATTEMPTS = 2;
const DEFAULT_MAX_EVENT_AGE_S = 21_600;

function warn(message) {
  process.stderr.write(`[aws-node-websockets] ${message}\n`);
}

/** LOCAL_ASYNC_RETRY_DELAYS_MS as a list of whole ms, or Lambda's (a bad value is said, not ignored). */
function retryDelays(env = process.env) {
  const raw = env.LOCAL_ASYNC_RETRY_DELAYS_MS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_RETRY_DELAYS_MS;
  const delays = raw.split(',').map((part) => Number(part.trim()));
  if (delays.every((ms) => Number.isInteger(ms) && ms >= 0)) return delays;
  warn(`LOCAL_ASYNC_RETRY_DELAYS_MS must be whole ms separated by commas, got "${raw}": using Lambda's 60000,120000`);
  return DEFAULT_RETRY_DELAYS_MS;
}

/** What the log says of an event: a shard's delivery and number, or its first characters. */
function describeEvent(event) {
  if (event && event.type === 'shard') return `shard ${event.shard} of delivery ${event.deliveryId}`;
  const text = JSON.stringify(event) ?? String(event);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

function errorText(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The queue. `deps`: `ThrottledError` (the pool's, which is no attempt), and for tests `env`,
 * `now` and `setTimer`. `enqueue(lease, functionName, event)` takes an event at once (offline
 * answers 202) and runs it in the background; `lease.runHandler()` runs one attempt.
 */
function asyncQueue(deps = {}) {
  const delays = retryDelays(deps.env);
  const now = deps.now || Date.now;
  const setTimer = deps.setTimer || ((run, ms) => setTimeout(run, ms).unref());
  const isThrottle = (error) => deps.ThrottledError !== undefined && error instanceof deps.ThrottledError;
  let pending = 0;

  function enqueue(lease, functionName, event) {
    const config = lease.asyncConfig || {};
    const maxAttempts = 1 + (config.maximumRetryAttempts ?? DEFAULT_MAX_RETRY_ATTEMPTS);
    const expires = now() + (config.maximumEventAge ?? DEFAULT_MAX_EVENT_AGE_S) * 1000;
    const what = `${functionName}: ${describeEvent(event)}`;
    let attempts = 0;
    let throttleDelay = THROTTLE_DELAY_MS.first;
    pending++;
    const giveUp = (why) => {
      pending--;
      warn(`${what}: ${why}; in AWS it would go to the on-failure destination`);
    };
    const later = (ms) => {
      if (now() + ms >= expires) giveUp(`event older than maximumEventAge before its next attempt`);
      else setTimer(run, ms);
    };
    const run = () => {
      lease.runHandler().then(
        () => void pending--,
        (error) => {
          if (isThrottle(error)) {
            later(throttleDelay);
            throttleDelay = Math.min(2 * throttleDelay, THROTTLE_DELAY_MS.longest);
            return;
          }
          attempts++;
          if (attempts >= maxAttempts) {
            giveUp(`failed on all ${maxAttempts} attempts (${errorText(error)})`);
            return;
          }
          const delay = delays[Math.min(attempts - 1, delays.length - 1)] ?? 0;
          warn(`${what}: attempt ${attempts} of ${maxAttempts} failed (${errorText(error)}); retried in ${delay} ms`);
          later(delay);
        },
      );
    };
    run();
  }

  return { enqueue, pending: () => pending };
}

module.exports = { asyncQueue, retryDelays, DEFAULT_RETRY_DELAYS_MS };
