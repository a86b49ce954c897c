// The limits API Gateway puts on a WebSocket API, kept by `npm start`'s local gateway, so that
// what fails in AWS fails here first. Installed once by scripts/offline-preload.js into the
// serverless process, beside the ports' guard; every limit is on by default and each has a
// setting of its own (scripts/local-limits-settings.js), so that a test can shorten it or
// turn it off.
//
// What AWS does, and where it says so (docs/operations.md#local-limits has the table):
// - Stage throttling, `DefaultRouteSettings` (WS_THROTTLE_BURST, WS_THROTTLE_RATE): a token
//   bucket per route ("Protect your WebSocket APIs in API Gateway"). A `$connect` over it fails
//   the handshake with 429; a message over it is dropped and answered on the socket with API
//   Gateway's own frame, `{"message":"Too Many Requests","connectionId":…,"requestId":…}`
//   (assumed: the text of a 429, in the shape of API Gateway's "Internal server error" frame,
//   which clients report and serverless-offline copies). `$disconnect` is not throttled
//   here: a close cannot be refused.
// - New connections, 500 a second per account and region (the WebSocket quotas table): a
//   bucket of 500 refilled at 500/s; a handshake over it gets 429 (assumed: the quota's
//   answer is not documented).
// - Frames of at most 32 KB, messages of at most 128 KB (the quotas table, and its footnote:
//   "a message larger than 32 KB must be split into multiple frames, each 32 KB or smaller
//   [...] If a larger message (or larger frame size) is received, the connection is closed
//   with code 1009"). The reason "Message too big" is what clients have reported AWS sends.
//   KB is taken as 1,024 bytes of payload (the frame's header not counted). The same footnote
//   applies to @connections: a post's data goes out in frames of at most 32 KB, and a post of
//   more than 128 KB is refused (PostToConnection's PayloadTooLargeException, 413).
// - 10 minutes idle and 2 hours in all, then the connection is closed (the quotas table).
//   Idle means no data message either way (control frames do not count, as clients report
//   of AWS); the close code is not documented: 1001 "Going away" is assumed, as
//   serverless-offline does.
'use strict';
const { Buffer } = require('node:buffer');
const { randomUUID } = require('node:crypto');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { setTimeout, clearTimeout } = require('node:timers');
const { refusalLog, writeRefusal } = require('./local-guard');
const { AWS_LIMITS, LIMIT_SETTINGS, describeLimits, durationText, readLimits } = require('./local-limits-settings');

/** A token bucket as API Gateway's throttling describes it: `burst` tokens, refilled at `rate` a second. */
class TokenBucket {
  constructor(burst, rate, now = () => performance.now()) {
    this.burst = burst;
    this.rate = rate;
    this.now = now;
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when there is none. */
  take() {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1_000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * The route API Gateway selects for a message: `$request.body.action` (serverless.yml's
 * websocketsApiRouteSelectionExpression) when that is a route of the API, else `$default`,
 * as serverless-offline selects it (a binary frame's bytes are read as text too).
 */
function selectRoute(data, routes) {
  let body;
  try {
    body = JSON.parse(String(data));
  } catch {
    return '$default';
  }
  const action = body !== null && typeof body === 'object' ? body.action : undefined;
  return typeof action === 'string' && action !== '' && routes.has(action) ? action : '$default';
}

// --- the installed gateway -----------------------------------------------------------------

/** What is installed: the limits, the WebSocket port, the buckets, and the log. */
let current;
const INSTALLED = Symbol.for('aws-node-websockets.local-limits');
/** Marks the error ws is handed for an oversized frame or message: the preload logs no protocol error for it. */
const LIMIT_ERROR = Symbol.for('aws-node-websockets.local-limit-error');
/** The connection id of each open socket (from offline's addClient), for the logs. */
const connectionIds = new WeakMap();

function isLimitError(error) {
  return Boolean(error && error[LIMIT_ERROR]);
}

/** One JSON line per refusal or close, at most LOG_PER_WINDOW a second (local-guard.js's log). */
function gatewayLog(env) {
  return refusalLog({
    env,
    message: 'the local API Gateway refused or closed',
    summary: 'refused or closed more than are logged one by one',
  });
}

/** The `ws` that serverless-offline resolves, and its Receiver's private symbol for its socket. */
function offlineWs() {
  const offline = path.join(process.cwd(), 'node_modules', 'serverless-offline');
  const entry = require.resolve('ws', { paths: [offline] });
  const ws = require(entry);
  // Not exported by the package: loaded by its file, the same module instance ws uses.
  const { kWebSocket } = require(path.join(path.dirname(entry), 'lib', 'constants.js'));
  return { Receiver: ws.Receiver, kWebSocket };
}

/**
 * Wraps ws's Receiver#haveLength, where a frame's length is known before its payload is read:
 * a data frame over the frame limit, or one that takes its message over the message limit,
 * closes the connection with 1009 "Message too big" and nothing of it reaches a function.
 */
function guardFrames(warn) {
  let Receiver;
  let kWebSocket;
  try {
    ({ Receiver, kWebSocket } = offlineWs());
  } catch (error) {
    warn(`could not load ws to keep API Gateway's frame limits: ${error.message}`);
    return;
  }
  const proto = Receiver && Receiver.prototype;
  if (!proto || typeof proto.haveLength !== 'function' || typeof proto.createError !== 'function' || !kWebSocket) {
    warn("ws's Receiver has changed: API Gateway's 32 KB frame and 128 KB message limits are not kept");
    return;
  }
  if (proto.haveLength[INSTALLED]) return;
  const haveLength = proto.haveLength;
  proto.haveLength = function (cb) {
    const limits = current && current.limits;
    if (limits && this._isServer && this._opcode < 0x08) {
      const frame = this._payloadLength;
      const message = this._totalPayloadLength + frame;
      const overFrame = limits.maxFrameBytes !== null && frame > limits.maxFrameBytes;
      const overMessage = limits.maxMessageBytes !== null && message > limits.maxMessageBytes;
      if (overFrame || overMessage) {
        const socket = this[kWebSocket];
        const reason = overFrame
          ? `a frame of ${frame} bytes (LOCAL_MAX_FRAME_BYTES: ${limits.maxFrameBytes})`
          : `a message of at least ${message} bytes (LOCAL_MAX_MESSAGE_BYTES: ${limits.maxMessageBytes})`;
        current.log({
          limit: overFrame ? 'frame' : 'message',
          connectionId: socket && connectionIds.get(socket),
          code: 1009,
          reason,
        });
        // API Gateway's close frame first; ws's own error path then stops reading and
        // closes (it finds the socket closing already), and the preload ends the socket.
        if (socket && typeof socket.close === 'function') socket.close(1009, 'Message too big');
        const error = this.createError(RangeError, reason, false, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
        error[LIMIT_ERROR] = true;
        cb(error);
        return;
      }
    }
    return haveLength.call(this, cb);
  };
  proto.haveLength[INSTALLED] = true;
}

function contentLength(request) {
  const value = Number(request.headers['content-length']);
  return Number.isFinite(value) ? value : 0;
}

/**
 * Why API Gateway would refuse this request on the WebSocket port before any function runs:
 * { status, limit, reason, body } or undefined. A handshake takes a new-connection token and
 * one of `$connect`'s; a management post larger than a message is refused.
 */
function gatewayProblem(event, request, state) {
  const { limits } = state;
  if (event === 'upgrade') {
    if (state.newConnections && !state.newConnections.take()) {
      return {
        status: 429,
        limit: 'new-connections',
        reason: `over ${limits.newConnectionsPerSecond} new connections a second (LOCAL_NEW_CONNECTIONS_PER_SECOND)`,
      };
    }
    if (limits.throttle && !state.bucket('$connect').take()) {
      return {
        status: 429,
        limit: 'throttle',
        route: '$connect',
        reason: `$connect over ${limits.throttle.burst} at once, ${limits.throttle.rate}/s (WS_THROTTLE_BURST, WS_THROTTLE_RATE)`,
      };
    }
    return undefined;
  }
  if (String(request.method).toUpperCase() === 'POST' && limits.maxMessageBytes !== null) {
    const size = contentLength(request);
    if (size > limits.maxMessageBytes) {
      return {
        status: 413,
        limit: 'post',
        reason: `a post of ${size} bytes to @connections (LOCAL_MAX_MESSAGE_BYTES: ${limits.maxMessageBytes})`,
        headers: { 'x-amzn-errortype': 'PayloadTooLargeException' },
      };
    }
  }
  return undefined;
}

/** Server prototypes whose `emit` is wrapped (a set, not a mark on the function: the guard wraps it too). */
const guardedServers = new WeakSet();
const STATUS_BODY = { 413: 'Request Entity Too Large', 429: 'Too Many Requests' };

/** Wraps Node's server `emit`, where every handshake and request of the WebSocket port passes first. */
function guardPort(Server) {
  const proto = Server.prototype;
  if (guardedServers.has(proto)) return;
  guardedServers.add(proto);
  const emit = proto.emit;
  proto.emit = function (event, request, target) {
    if ((event === 'upgrade' || event === 'request') && current && typeof this.address === 'function') {
      const address = this.address();
      if (address && typeof address === 'object' && address.port === current.port) {
        const problem = gatewayProblem(event, request, current);
        if (problem) {
          const { headers, ...fields } = problem;
          current.log({ ...fields, kind: event === 'upgrade' ? 'handshake' : 'request' });
          const answer = () =>
            writeRefusal(event, target, {
              status: problem.status,
              headers: { 'content-type': 'application/json', ...headers },
              body: JSON.stringify({ message: STATUS_BODY[problem.status] }),
            });
          // A post is read to its end first: a client still writing its body would otherwise
          // meet a reset instead of the answer.
          if (event === 'request' && !request.complete) {
            request.once('end', answer);
            request.resume();
          } else answer();
          return true;
        }
      }
    }
    return emit.apply(this, arguments);
  };
}

/**
 * A connection's life under the limits: its idle and age timers, its outgoing frames cut to
 * the frame limit, and each message it sends throttled by its route's bucket.
 */
function watchConnection(client, connectionId, routes, state) {
  const { limits } = state;
  const now = () => performance.now();
  const openedAt = now();
  let lastActive = openedAt;
  let timer;
  const touch = () => (lastActive = now());

  const close = (limit, reason) => {
    state.log({ limit, connectionId, code: 1001, reason });
    client.close(1001, 'Going away');
  };
  // One timer for both: activity only moves lastActive, and the timer, when it fires early, waits for the rest.
  const check = () => {
    const at = now();
    if (limits.maxConnectionAgeMs !== null && at - openedAt >= limits.maxConnectionAgeMs) {
      return close('max-age', `open for ${durationText(limits.maxConnectionAgeMs)} (LOCAL_MAX_CONNECTION_AGE)`);
    }
    if (limits.idleTimeoutMs !== null && at - lastActive >= limits.idleTimeoutMs) {
      return close('idle', `no message either way for ${durationText(limits.idleTimeoutMs)} (LOCAL_IDLE_TIMEOUT)`);
    }
    const due = Math.min(
      limits.maxConnectionAgeMs === null ? Infinity : openedAt + limits.maxConnectionAgeMs,
      limits.idleTimeoutMs === null ? Infinity : lastActive + limits.idleTimeoutMs,
    );
    if (due === Infinity) return;
    timer = setTimeout(check, Math.max(1, Math.ceil(due - at)));
    timer.unref();
  };
  check();
  client.once('close', () => clearTimeout(timer));

  const send = client.send;
  client.send = function (data, options, cb) {
    touch();
    const max = limits.maxFrameBytes;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    // A caller that gives options (fin, binary) frames its message itself.
    if (max === null || (options && typeof options === 'object') || !Buffer.isBuffer(bytes) || bytes.length <= max) {
      return send.apply(this, arguments);
    }
    const done = typeof options === 'function' ? options : cb;
    // As API Gateway sends a post of more than a frame: in frames of at most the frame limit.
    const binary = typeof data !== 'string';
    for (let offset = 0; offset < bytes.length; offset += max) {
      const fin = offset + max >= bytes.length;
      send.call(this, bytes.subarray(offset, offset + max), { binary, fin }, fin ? done : undefined);
    }
  };

  const emit = client.emit;
  client.emit = function (event, data) {
    if (event === 'message') {
      touch();
      const route = limits.throttle ? selectRoute(data, routes) : undefined;
      if (route !== undefined && !state.bucket(route).take()) {
        state.log({ limit: 'throttle', route, connectionId, reason: `${route} over its token bucket` });
        client.send(JSON.stringify({ message: 'Too Many Requests', connectionId, requestId: randomUUID() }));
        return true;
      }
    }
    return emit.apply(this, arguments);
  };
}

/** The route keys of each WebSocketClients (offline's registry of routes and sockets). */
const routesOf = new WeakMap();

/**
 * Called by scripts/offline-hooks.mjs with offline's WebSocketClients class: records each
 * route offline serves (addRoute) and watches each socket it adds (addClient).
 */
function watchWebSocketClients(WebSocketClients, warn = defaultWarn) {
  const proto = WebSocketClients.prototype;
  if (typeof proto.addRoute !== 'function' || typeof proto.addClient !== 'function') {
    warn("serverless-offline's WebSocketClients changed: throttling, idle and age limits are not kept");
    return;
  }
  if (proto.addClient[INSTALLED]) return;
  const addRoute = proto.addRoute;
  proto.addRoute = function (functionKey, definition) {
    if (!routesOf.has(this)) routesOf.set(this, new Set());
    if (definition && typeof definition.route === 'string') routesOf.get(this).add(definition.route);
    return addRoute.call(this, functionKey, definition);
  };
  const addClient = proto.addClient;
  proto.addClient = function (client, connectionId) {
    connectionIds.set(client, connectionId);
    if (current) watchConnection(client, connectionId, routesOf.get(this) ?? new Set(), current);
    return addClient.call(this, client, connectionId);
  };
  proto.addClient[INSTALLED] = true;
}

function defaultWarn(message) {
  process.stderr.write(`[aws-node-websockets] ${message}\n`);
}

/**
 * Keeps API Gateway's limits on the WebSocket port of `ports` ({ websocket }), as `env` sets
 * them (readLimits). `options`: `servers` (classes whose `emit` to wrap; Node's http and
 * https servers by default), `log`, `warn`, `now` (tests). Returns `uninstall()`.
 */
function installLocalLimits(ports, env = process.env, options = {}) {
  const warn = options.warn ?? defaultWarn;
  const { limits, problems } = readLimits(env);
  for (const problem of problems) warn(`${problem}; that limit is off`);
  const now = options.now ?? (() => performance.now());
  const buckets = new Map();
  const state = {
    port: ports.websocket,
    limits,
    log: options.log ?? gatewayLog(env),
    newConnections:
      limits.newConnectionsPerSecond === null
        ? null
        : new TokenBucket(limits.newConnectionsPerSecond, limits.newConnectionsPerSecond, now),
    bucket(route) {
      let bucket = buckets.get(route);
      if (!bucket) {
        bucket = new TokenBucket(limits.throttle.burst, limits.throttle.rate, now);
        buckets.set(route, bucket);
      }
      return bucket;
    },
  };
  current = state;
  for (const Server of options.servers ?? [require('node:http').Server, require('node:https').Server]) {
    guardPort(Server);
  }
  guardFrames(warn);
  return {
    limits,
    uninstall() {
      if (current === state) current = undefined;
    },
  };
}

module.exports = {
  AWS_LIMITS,
  LIMIT_SETTINGS,
  TokenBucket,
  describeLimits,
  installLocalLimits,
  isLimitError,
  readLimits,
  selectRoute,
  watchWebSocketClients,
};
