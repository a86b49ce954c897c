// The local runtime's Lambda behaviour under load, put into serverless-offline by
// scripts/offline-hooks.mjs (registered by scripts/offline-preload.js):
//
// - `boundedPool` replaces offline's LambdaFunctionPool. offline 13.10.1 starts a new worker
//   thread for every concurrent invocation (2,000 clients took the service past 8 GB), and
//   when a timeout terminates an instance's worker it puts the instance back as idle: every
//   later call routed to it waited for a dead thread and timed out too. Here, as in Lambda,
//   a function has at most LOCAL_MAX_CONCURRENCY instances; a call beyond that waits for one
//   (at most the function's own timeout) and is then throttled; an instance whose call timed
//   out, or whose worker died, is discarded and never reused.
// - `asyncInvocations` is the queue of asynchronous invocations (scripts/offline-async.js):
//   Lambda's retries of a failed event, which offline does not make.
// - `guardHandshakes` wraps offline's WebSocketClients#verifyClient: a throttled `$connect`
//   (its authorizer's or its function's) is refused with 429, as API Gateway does, instead of
//   offline's 500/502, and every refused handshake is logged with its status and reason
//   (offline logged none of them).
//
// Both rely on the API of offline 13.10.1's LambdaFunction (constructor, setEvent,
// setClientContext, runHandler, cleanup) and WebSocketClients#verifyClient; the preload
// checks the version (test/unit/offline-runtime.test.ts covers the pool).
'use strict';
const { performance } = require('node:perf_hooks');
const { setTimeout, clearTimeout } = require('node:timers');

/** Instances per function when LOCAL_MAX_CONCURRENCY is unset: 2,000 clients stay under 2 GB RSS. */
const DEFAULT_MAX_CONCURRENCY = 4;

function warn(message) {
  process.stderr.write(`[aws-node-websockets] ${message}\n`);
}

/** LOCAL_MAX_CONCURRENCY as a positive integer, or the default (a bad value is said, not ignored). */
function maxConcurrency(env = process.env) {
  const raw = env.LOCAL_MAX_CONCURRENCY;
  if (raw === undefined || raw.trim() === '') return DEFAULT_MAX_CONCURRENCY;
  const value = Number(raw);
  if (Number.isInteger(value) && value >= 1) return value;
  warn(`LOCAL_MAX_CONCURRENCY must be a positive integer, got "${raw}": using ${DEFAULT_MAX_CONCURRENCY}`);
  return DEFAULT_MAX_CONCURRENCY;
}

/** Thrown to the caller of a call that found no free instance within its wait. */
class ThrottledError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ThrottledError';
  }
}

/**
 * Why the latest call for a connection id failed in the runtime (throttled, timed out, worker
 * died), for the handshake guard's log line and status. Entries are taken by the guard or
 * dropped after a minute, so the map stays small.
 */
const failures = new Map();
const FAILURE_TTL_MS = 60_000;

function noteFailure(event, failure) {
  const id = event && event.requestContext && event.requestContext.connectionId;
  if (typeof id !== 'string') return;
  failures.set(id, failure);
  const timer = setTimeout(() => failures.delete(id), FAILURE_TTL_MS);
  timer.unref();
}

function takeFailure(connectionId) {
  const failure = failures.get(connectionId);
  failures.delete(connectionId);
  return failure;
}

/** The function's timeout in ms, as offline reads it (function, provider, then 6 s). */
function timeoutMsOf(definition, serverless) {
  const provider = (serverless && serverless.service && serverless.service.provider) || {};
  return (definition.timeout ?? provider.timeout ?? 6) * 1000;
}

/**
 * A LambdaFunctionPool class over offline's LambdaFunction. `deps`: LambdaFunction,
 * LambdaTimeoutError, and optionally `now` and `env` (tests).
 */
function boundedPool(deps) {
  const { LambdaFunction, LambdaTimeoutError } = deps;
  const now = deps.now || (() => performance.now());
  const limit = maxConcurrency(deps.env);

  return class BoundedLambdaFunctionPool {
    #serverless;
    #options;
    /** functionKey -> { idle: [{ instance, since }], busy: number, waiting: [{ wake, timer }] } */
    #functions = new Map();
    #timer = null;

    constructor(serverless, options) {
      this.#serverless = serverless;
      this.#options = options || {};
    }

    start() {
      this.#scheduleCleaner();
    }

    async cleanup() {
      clearTimeout(this.#timer);
      const all = [];
      for (const state of this.#functions.values()) {
        for (const { instance } of state.idle.splice(0)) all.push(instance.cleanup().catch(() => undefined));
      }
      await Promise.all(all);
    }

    /**
     * What offline's callers use: setEvent, setClientContext, runHandler (one call each, or one
     * per attempt of an asynchronous event: scripts/offline-async.js, which reads asyncConfig).
     */
    get(functionKey, functionDefinition) {
      let event;
      let clientContext;
      return {
        functionName: functionDefinition.name,
        asyncConfig: {
          maximumRetryAttempts: functionDefinition.maximumRetryAttempts,
          maximumEventAge: functionDefinition.maximumEventAge,
        },
        setEvent: (value) => (event = value),
        setClientContext: (value) => (clientContext = value),
        runHandler: () => this.#run(functionKey, functionDefinition, event, clientContext),
      };
    }

    /** Instances of a function now: busy and idle (for tests and the bench). */
    size(functionKey) {
      const state = this.#functions.get(functionKey);
      return state ? { busy: state.busy, idle: state.idle.length, waiting: state.waiting.length } : undefined;
    }

    #state(functionKey) {
      let state = this.#functions.get(functionKey);
      if (!state) {
        state = { idle: [], busy: 0, waiting: [] };
        this.#functions.set(functionKey, state);
      }
      return state;
    }

    /** Resolves once the call may take an instance; rejects with ThrottledError after `waitMs`. */
    #acquire(functionKey, state, waitMs) {
      if (state.busy < limit) {
        state.busy++;
        return Promise.resolve();
      }
      return new Promise((resolve, reject) => {
        const waiter = {
          wake: () => {
            clearTimeout(waiter.timer);
            state.busy++;
            resolve();
          },
          timer: setTimeout(() => {
            state.waiting.splice(state.waiting.indexOf(waiter), 1);
            reject(
              new ThrottledError(
                `${functionKey}: all ${limit} instances (LOCAL_MAX_CONCURRENCY) stayed busy for ${waitMs} ms`,
              ),
            );
          }, waitMs),
        };
        state.waiting.push(waiter);
      });
    }

    #release(state) {
      state.busy--;
      const next = state.waiting.shift();
      if (next) next.wake();
    }

    async #run(functionKey, definition, event, clientContext) {
      const state = this.#state(functionKey);
      const timeoutMs = timeoutMsOf(definition, this.#serverless);
      try {
        await this.#acquire(functionKey, state, timeoutMs);
      } catch (error) {
        noteFailure(event, { throttled: true, reason: error.message });
        throw error;
      }
      // The most recently used idle instance: the warmest, and the others age out.
      const idle = state.idle.pop();
      const instance = idle
        ? idle.instance
        : new LambdaFunction(functionKey, definition, this.#serverless, this.#options);
      instance.setEvent(event);
      if (clientContext !== undefined) instance.setClientContext(clientContext);
      let keep = !this.#options.reloadHandler;
      try {
        return await instance.runHandler();
      } catch (error) {
        const timedOut = error instanceof LambdaTimeoutError;
        const died = error instanceof Error && /^Worker stopped/.test(error.message);
        if (timedOut || died) {
          // offline has terminated (or lost) the worker; the instance would never answer again.
          keep = false;
          const reason = timedOut
            ? `${functionKey} timed out after ${timeoutMs} ms`
            : `${functionKey}: its worker thread died (${error.message})`;
          warn(`${reason}: that instance is discarded, the next call gets a new one`);
          noteFailure(event, { throttled: false, reason });
        }
        throw error;
      } finally {
        if (keep) state.idle.push({ instance, since: now() });
        else instance.cleanup().catch(() => undefined);
        this.#release(state);
      }
    }

    /** Ends instances idle for longer than offline's terminateIdleLambdaTime (60 s by default). */
    #scheduleCleaner() {
      const idleMs = (this.#options.terminateIdleLambdaTime ?? 60) * 1000;
      this.#timer = setTimeout(() => {
        const cutoff = now() - idleMs;
        for (const state of this.#functions.values()) {
          const stale = state.idle.filter(({ since }) => since <= cutoff);
          state.idle = state.idle.filter(({ since }) => since > cutoff);
          for (const { instance } of stale) instance.cleanup().catch(() => undefined);
        }
        this.#scheduleCleaner();
      }, idleMs);
      this.#timer.unref();
    }
  };
}

/** Why offline refused a handshake, when the runtime noted nothing: from its status. */
function statusReason(statusCode) {
  switch (statusCode) {
    case 401:
      return 'the authorizer answered Unauthorized';
    case 403:
      return "the authorizer's policy does not allow this API (or has no principalId)";
    case 500:
      return 'the authorizer failed (its log says why)';
    case 502:
      return 'the connect function failed or has no route';
    default:
      return `the connect function answered ${statusCode} (its log says why)`;
  }
}

/** Wraps WebSocketClients#verifyClient: 429 for a throttled handshake, a log line for every refusal. */
function guardHandshakes(WebSocketClients) {
  const proto = WebSocketClients.prototype;
  const verifyClient = proto.verifyClient;
  if (typeof verifyClient !== 'function') {
    warn('serverless-offline has no WebSocketClients#verifyClient: refused handshakes are not logged');
    return;
  }
  proto.verifyClient = async function (connectionId, request) {
    const result = await verifyClient.call(this, connectionId, request);
    const failure = takeFailure(connectionId);
    if (result.verified) return result;
    if (failure && failure.throttled) {
      warn(`refused handshake ${connectionId}: 429 throttled: ${failure.reason}`);
      return { ...result, statusCode: 429, message: 'Too Many Requests' };
    }
    warn(
      `refused handshake ${connectionId}: ${result.statusCode} ${failure ? failure.reason : statusReason(result.statusCode)}`,
    );
    return result;
  };
}

/**
 * GetConnection for offline's management API (hapi route, beside its POST and DELETE): 200
 * while the connection is open, 410 once it is gone, as API Gateway answers. The body has
 * only the id: offline keeps neither the connected-at time nor the identity per connection.
 */
function getConnectionRoute(webSocketClients) {
  return {
    method: 'GET',
    path: '/@connections/{connectionId}',
    handler(request, h) {
      const { connectionId } = request.params;
      if (typeof webSocketClients.hasClient === 'function' && webSocketClients.hasClient(connectionId)) {
        return h.response({ connectionId }).code(200);
      }
      return h.response(null).code(410);
    },
  };
}

let queue;

/** The asynchronous invocations' queue of this process (scripts/offline-async.js), made on first use. */
function asyncInvocations() {
  queue ??= require('./offline-async').asyncQueue({ ThrottledError });
  return queue;
}

module.exports = {
  asyncInvocations,
  getConnectionRoute,
  boundedPool,
  guardHandshakes,
  maxConcurrency,
  ThrottledError,
  DEFAULT_MAX_CONCURRENCY,
};
