// Required into the serverless process by `npm start` (scripts/offline.ts passes
// `--require` to node) before serverless-offline builds its WebSocket server.
//
// Why: serverless-offline 13.10.1 (and 14.8.2, the newest, which needs Serverless v4 anyway)
// puts no 'error' listener on the sockets it accepts. `ws` emits 'error' on a server-side
// socket for every protocol violation a client commits (invalid UTF-8, RSV bits, an unmasked
// frame, an unknown opcode, a bad close code, a frame over the 100 MiB maxPayload), and an
// 'error' with no listener is thrown: one bad frame ended the whole local server and every
// client on it. API Gateway closes only the offending connection; so do we now.
//
// How: wrap `WebSocketServer#handleUpgrade`, the public method serverless-offline's server
// calls for every upgrade request, so that each socket gets a listener before offline sees
// it. ws has then stopped reading and queued a close frame with the protocol's code (1002,
// 1007 or 1009); it ends the socket once that frame is written (within milliseconds here).
// Should the write never complete (a peer that stops reading), ws would keep the socket for
// its 30 s close timeout; CLOSE_GRACE_MS bounds that. The 'close' event that follows makes
// offline run `$disconnect`, as for any other close.
// test/e2e/malformed-frames.test.ts sends each of those frames.
//
// It also keeps all three local ports (HTTP, WebSocket, Lambda) to the local user
// (scripts/local-guard.js says why and how), and API Gateway's limits on the WebSocket port
// (scripts/local-limits.js). Local behaviour of the ports is one module each, installed once
// at the end of this file.
'use strict';
const path = require('node:path');
const { setTimeout, clearTimeout } = require('node:timers');
const { isMainThread } = require('node:worker_threads');
const { register } = require('node:module');
const { pathToFileURL } = require('node:url');
const { installLocalLimits, isLimitError } = require('./local-limits');

/** A backstop: long enough for the close frame to leave, short enough not to keep a broken socket listed. */
const CLOSE_GRACE_MS = 1000;
const PATCHED = Symbol.for('aws-node-websockets.error-listener');

function warn(message) {
  process.stderr.write(`[aws-node-websockets] ${message}\n`);
}

function onProtocolError(socket, error) {
  // A frame over API Gateway's limits is no protocol error: scripts/local-limits.js logs it.
  if (!isLimitError(error)) {
    const code = error && typeof error.code === 'string' ? ` (${error.code})` : '';
    warn(`closed a connection that broke the WebSocket protocol: ${error && error.message}${code}`);
  }
  const timer = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function patch() {
  // The `ws` that serverless-offline resolves. Its ESM entry (which offline imports) re-exports
  // the CommonJS classes required here, so both see the same prototype.
  const offline = path.join(process.cwd(), 'node_modules', 'serverless-offline');
  let WebSocketServer;
  try {
    ({ WebSocketServer } = require(require.resolve('ws', { paths: [offline] })));
  } catch (error) {
    warn(`could not load ws to guard the WebSocket server against malformed frames: ${error.message}`);
    return;
  }
  const proto = WebSocketServer && WebSocketServer.prototype;
  if (!proto || typeof proto.handleUpgrade !== 'function') {
    warn('ws has no WebSocketServer#handleUpgrade: a malformed frame may stop the local server');
    return;
  }
  if (proto.handleUpgrade[PATCHED]) return;
  const handleUpgrade = proto.handleUpgrade;
  proto.handleUpgrade = function (req, socket, head, cb) {
    return handleUpgrade.call(this, req, socket, head, (client, request) => {
      client.on('error', (error) => onProtocolError(client, error));
      cb(client, request);
    });
  };
  proto.handleUpgrade[PATCHED] = true;
}

// The pool and handshake guard of scripts/offline-runtime.js are written against this
// version's internals (LambdaFunction's methods, WebSocketClients#verifyClient); another
// version gets offline's own behaviour and a line saying so, never a half-applied patch.
const OFFLINE_VERSION = '13.10.1';

function installRuntime() {
  let version;
  try {
    ({ version } = require(path.join(process.cwd(), 'node_modules', 'serverless-offline', 'package.json')));
  } catch (error) {
    warn(`could not read serverless-offline's version: ${error.message}`);
    return;
  }
  if (version !== OFFLINE_VERSION) {
    warn(
      `serverless-offline is ${version}, not ${OFFLINE_VERSION}: LOCAL_MAX_CONCURRENCY, the discarding of ` +
        "timed-out instances, the 429 of a throttled handshake, Lambda's retries of an asynchronous " +
        "invocation and API Gateway's limits are not applied",
    );
    return false;
  }
  register(pathToFileURL(path.join(__dirname, 'offline-hooks.mjs')).href);
  return true;
}

/**
 * offline's three ports, from the options that scripts/offline.ts passes (offline's defaults
 * otherwise): { http, websocket, lambda }.
 */
function offlinePorts(argv = process.argv) {
  const option = (name, fallback) => {
    const index = argv.indexOf(name);
    const value = index === -1 ? undefined : Number(argv[index + 1]);
    return Number.isInteger(value) ? value : fallback;
  };
  return {
    http: option('--httpPort', 3000),
    websocket: option('--websocketPort', 3001),
    lambda: option('--lambdaPort', 3002),
  };
}

// Worker threads inherit --require, but the servers, the pool and the guard live in the main thread only.
// The limits are installed before the guard, so that the guard's wrapper runs first: a request
// it refuses (a foreign page's) takes none of the developer's throttling tokens.
if (isMainThread) {
  if (process.env.WS_COMPILE_CACHE) {
    require('./compile-cache').installCompileCache(process.cwd(), process.env.WS_COMPILE_CACHE);
  }
  patch();
  if (installRuntime()) installLocalLimits(offlinePorts(), process.env);
  require('./local-guard').installLocalGuard(offlinePorts(), process.env);
}
