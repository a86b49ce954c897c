// The three local ports of `npm start` (HTTP_PORT: POST /publish and the chat page; WS_PORT:
// the WebSocket handshakes and the management API; LAMBDA_PORT: offline's Lambda invoke API)
// belong to the local user only. Installed once by scripts/offline-preload.js into the
// serverless process.
//
// Why: offline answers any Origin with `access-control-allow-origin: <that origin>` and
// `access-control-allow-credentials: true`, accepts WebSocket handshakes and management posts
// from any page, lets the Lambda port invoke any function with any event, and ignores Host. A
// web page on another origin in the developer's browser could publish, inject frames, invoke
// `deliver` with a forged shard, and read the answers; DNS rebinding (a name of the attacker's
// resolving to 127.0.0.1) got past the browser's same-origin rule altogether.
//
// Where: every request of every port passes one place, the Node server's `emit`, before hapi
// (the HTTP and Lambda ports, and the WS port's management API) or `ws` (the handshakes)
// sees it, and before offline's router normalises the path. So the rules never look at the
// path (`/publish/`, `/%70ublish`, `//publish` are all the same request to them), and they
// cover every method, `Expect: 100-continue` requests (hapi listens to 'checkContinue'),
// upgrades and CONNECT. On each guarded port:
// - the Host must be localhost, 127.0.0.1 or [::1] with that port (else 403: DNS rebinding);
// - an Origin must be the chat page's own (http://localhost:HTTP_PORT, 127.0.0.1, [::1]), or,
//   for a WebSocket handshake only, one of LOCAL_ALLOWED_ORIGINS (else 403); no Origin at all
//   is a program (curl, wscat, the AWS SDK, `npm run publish`), served as before;
// - a page's request without an Origin (a no-cors GET: an image, a script) is told by its
//   Sec-Fetch-Site: from another site it is refused too (403), navigations aside;
// - a POST to the HTTP port must be JSON (else 415): a form or text/plain body is what a page
//   can send without asking first, should a browser ever omit the Origin;
// - no answer carries a CORS header (`access-control-*`), so no page can read one.
// Each refusal is one JSON line on stderr (port, reason, Origin, Host, method, path).
'use strict';
const { Buffer } = require('node:buffer');
const { STATUS_CODES } = require('node:http');
const { setTimeout } = require('node:timers');
const { URL } = require('node:url');

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** The chat page's origins, the only web origins the local service is. */
function ownOrigins(httpPort) {
  return ['http', 'https'].flatMap((scheme) => LOOPBACK_NAMES.map((name) => `${scheme}://${name}:${httpPort}`));
}

/**
 * LOCAL_ALLOWED_ORIGINS: exact origins (`scheme://host[:port]`, comma-separated; a YAML list
 * arrives joined by commas) whose pages may open the WebSocket port. Returns the origins and a
 * one-line problem per entry that is no origin.
 */
function parseAllowedOrigins(raw) {
  const origins = [];
  const problems = [];
  for (const entry of String(raw ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    if (entry === '*' || entry === 'null') {
      problems.push(`LOCAL_ALLOWED_ORIGINS takes exact origins, not "${entry}"`);
      continue;
    }
    let url;
    try {
      url = new URL(entry);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      problems.push(`LOCAL_ALLOWED_ORIGINS: "${entry}" is not an http(s) origin like http://localhost:5173`);
    } else if (url.origin !== entry) {
      problems.push(`LOCAL_ALLOWED_ORIGINS: "${entry}" is not an origin as a browser sends it: write ${url.origin}`);
    } else {
      origins.push(entry);
    }
  }
  return { origins, problems };
}

/**
 * What one port accepts. `ports`: { http, websocket, lambda }; `allowedOrigins`: the parsed
 * LOCAL_ALLOWED_ORIGINS. Returns a Map from port number to its rules.
 */
function portRules(ports, allowedOrigins = []) {
  const own = new Set(ownOrigins(ports.http));
  const rules = new Map();
  rules.set(ports.http, { port: ports.http, name: 'HTTP_PORT', origins: own, handshakeOrigins: own, jsonPosts: true });
  rules.set(ports.websocket, {
    port: ports.websocket,
    name: 'WS_PORT',
    origins: own,
    handshakeOrigins: new Set([...own, ...allowedOrigins]),
    jsonPosts: false,
  });
  rules.set(ports.lambda, {
    port: ports.lambda,
    name: 'LAMBDA_PORT',
    origins: own,
    handshakeOrigins: own,
    jsonPosts: false,
  });
  return rules;
}

function header(headers, name) {
  const value = headers[name];
  return value === undefined ? undefined : String(value);
}

/**
 * Why a request must not be served, as { status, reason, message }, or undefined to serve it.
 * `request` needs only method and headers (Node's IncomingMessage has them); `upgrade` says
 * whether it asks for a WebSocket. The path is never read: see the header.
 */
function localRequestProblem(request, rules, { upgrade = false } = {}) {
  const headers = request.headers || {};
  const port = rules.port;
  const host = String(headers.host || '').toLowerCase();
  if (!LOOPBACK_NAMES.some((name) => host === `${name}:${port}`)) {
    return {
      status: 403,
      reason: 'host',
      message: `this local server answers only Host localhost:${port}, 127.0.0.1:${port} or [::1]:${port}`,
    };
  }
  // Version 8 of the WebSocket protocol (which ws still accepts) names it Sec-WebSocket-Origin.
  const origins = [header(headers, 'origin'), header(headers, 'sec-websocket-origin')].filter((o) => o !== undefined);
  const allowed = upgrade ? rules.handshakeOrigins : rules.origins;
  if (origins.some((origin) => !allowed.has(origin.toLowerCase()))) {
    return {
      status: 403,
      reason: 'origin',
      message:
        upgrade && rules.name === 'WS_PORT'
          ? 'this local WebSocket server takes no handshake from a web page of another origin ' +
            '(a page of your own app may: add its origin to LOCAL_ALLOWED_ORIGINS)'
          : 'this local server answers no web page of another origin',
    };
  }
  const method = String(request.method || '').toUpperCase();
  const site = String(headers['sec-fetch-site'] || '').toLowerCase();
  const navigation = String(headers['sec-fetch-mode'] || '').toLowerCase() === 'navigate';
  if (
    origins.length === 0 &&
    (site === 'cross-site' || site === 'same-site') &&
    !(navigation && (method === 'GET' || method === 'HEAD'))
  ) {
    return { status: 403, reason: 'cross-site', message: 'this local server answers no web page of another site' };
  }
  if (rules.jsonPosts && method === 'POST') {
    const type = String(headers['content-type'] || '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (type !== 'application/json') {
      return {
        status: 415,
        reason: 'content-type',
        message: 'POST /publish takes a JSON body: send Content-Type: application/json',
      };
    }
  }
  return undefined;
}

const CORS_HEADER = /^access-control-/i;

/** Drops every CORS header the framework sets on this response, however it sets it. */
function withoutCors(response) {
  for (const method of ['setHeader', 'appendHeader']) {
    const original = response[method];
    if (typeof original !== 'function') continue;
    response[method] = function (name, value) {
      if (CORS_HEADER.test(String(name))) return this;
      return original.call(this, name, value);
    };
  }
  const writeHead = response.writeHead;
  response.writeHead = function (status, ...rest) {
    const last = rest[rest.length - 1];
    if (Array.isArray(last)) rest[rest.length - 1] = withoutCorsPairs(last);
    else if (last && typeof last === 'object') {
      for (const name of Object.keys(last)) if (CORS_HEADER.test(name)) delete last[name];
    }
    for (const name of this.getHeaderNames()) if (CORS_HEADER.test(name)) this.removeHeader(name);
    return writeHead.call(this, status, ...rest);
  };
}

/** writeHead's array forms: [[name, value], ...] or Node's flat [name, value, name, value, ...]. */
function withoutCorsPairs(headers) {
  if (headers.length > 0 && Array.isArray(headers[0]))
    return headers.filter(([name]) => !CORS_HEADER.test(String(name)));
  const kept = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (!CORS_HEADER.test(String(headers[i]))) kept.push(headers[i], headers[i + 1]);
  }
  return kept;
}

/** Refusals logged one by one in each window; beyond that a flood is counted, in one line per window. */
const LOG_WINDOW_MS = 1_000;
const LOG_PER_WINDOW = 20;
/** Longest Origin, Host or path copied into a log line: they are the caller's words. */
const LOG_FIELD_MAX = 200;

function clip(value) {
  if (value === undefined) return undefined;
  const text = String(value);
  return text.length > LOG_FIELD_MAX ? `${text.slice(0, LOG_FIELD_MAX)}…` : text;
}

/**
 * One JSON line per refusal (warn, as src/log.ts writes them), at most LOG_PER_WINDOW a second;
 * `message` and `summary` (the line that counts the rest) name what was refused.
 */
function refusalLog(options = {}) {
  const write = options.write ?? ((line) => process.stderr.write(`${line}\n`));
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const message = options.message ?? 'refused a request to a local port';
  const summary = options.summary ?? 'refused more requests to local ports than are logged one by one';
  let windowStart = -Infinity;
  let logged = 0;
  let unlogged = 0;
  let timer;
  const line = (message, fields) =>
    write(JSON.stringify({ level: 'warn', time: new Date(now()).toISOString(), message, ...fields }));
  const flush = () => {
    timer = undefined;
    if (unlogged > 0) line(summary, { unlogged });
    unlogged = 0;
  };
  return (fields) => {
    if (String(env.LOG_LEVEL || '').toLowerCase() === 'error') return;
    if (now() - windowStart >= LOG_WINDOW_MS) {
      windowStart = now();
      logged = 0;
    }
    if (logged < LOG_PER_WINDOW) {
      logged += 1;
      line(message, fields);
      return;
    }
    unlogged += 1;
    if (timer === undefined) {
      timer = setTimeout(flush, LOG_WINDOW_MS);
      timer.unref();
    }
  };
}

/** Port -> its rules, for every installed guard: the servers listening on these ports are guarded. */
const guarded = new Map();
const REQUEST_EVENTS = new Set(['request', 'checkContinue', 'checkExpectation']);
const SOCKET_EVENTS = new Set(['upgrade', 'connect']);
const INSTALLED = Symbol.for('aws-node-websockets.local-guard');

function rulesOf(server) {
  if (guarded.size === 0 || typeof server.address !== 'function') return undefined;
  const address = server.address();
  return address && typeof address === 'object' ? guarded.get(address.port) : undefined;
}

const HEADERS = {
  'content-type': 'text/plain; charset=utf-8',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  connection: 'close',
};

/** Answers a refused request with its status and one line, and closes the connection. */
function refuse(event, target, problem) {
  writeRefusal(event, target, { status: problem.status, body: `${problem.message}\n` });
}

/**
 * Answers a request (`target`: its response) or a handshake or CONNECT (`target`: the raw
 * socket) with `status`, `headers` over HEADERS, and `body`, and closes the connection.
 */
function writeRefusal(event, target, { status, headers = {}, body }) {
  const all = { ...HEADERS, ...headers, 'content-length': Buffer.byteLength(body) };
  if (REQUEST_EVENTS.has(event)) {
    target.writeHead(status, all);
    target.end(body);
    return;
  }
  // An upgrade or CONNECT hands over the raw socket, which Node no longer watches for errors.
  target.on('error', () => target.destroy());
  if (!target.writable) {
    target.destroy();
    return;
  }
  const head = Object.entries(all).map(([name, value]) => `${name}: ${value}\r\n`);
  target.once('finish', () => target.destroy());
  target.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head.join('')}\r\n${body}`);
}

function patchEmit(proto) {
  if (proto.emit[INSTALLED]) return;
  const emit = proto.emit;
  proto.emit = function (event, request, target) {
    const socketEvent = SOCKET_EVENTS.has(event);
    if (socketEvent || REQUEST_EVENTS.has(event)) {
      const rules = rulesOf(this);
      if (rules) {
        const problem = localRequestProblem(request, rules, { upgrade: event === 'upgrade' });
        if (problem) {
          rules.log({
            port: rules.port,
            portName: rules.name,
            reason: problem.reason,
            status: problem.status,
            kind: event === 'upgrade' ? 'handshake' : event === 'connect' ? 'connect' : 'request',
            method: clip(request.method),
            path: clip(request.url),
            origin: clip(request.headers.origin ?? request.headers['sec-websocket-origin']),
            host: clip(request.headers.host),
          });
          refuse(event, target, problem);
          return true;
        }
        if (!socketEvent) withoutCors(target);
      }
    }
    return emit.apply(this, arguments);
  };
  proto.emit[INSTALLED] = true;
}

/**
 * Guards the servers that listen on `ports` ({ http, websocket, lambda }), whenever they are
 * created, with LOCAL_ALLOWED_ORIGINS read from `env`. `options`: `servers` (the classes
 * whose `emit` to wrap; Node's http and https servers by default), `log` (a refusal's fields ->
 * nothing; one JSON line on stderr by default) and `warn` (for what it cannot use). Returns
 * `uninstall()`, which stops guarding those ports (tests).
 */
function installLocalGuard(ports, env = process.env, options = {}) {
  const warn = options.warn ?? ((message) => process.stderr.write(`[aws-node-websockets] ${message}\n`));
  const { origins, problems } = parseAllowedOrigins(env.LOCAL_ALLOWED_ORIGINS);
  for (const problem of problems) warn(`${problem}; that entry is ignored`);
  const log = options.log ?? refusalLog({ env });
  const rules = portRules(ports, origins);
  for (const [port, rule] of rules) guarded.set(port, { ...rule, log });
  for (const Server of options.servers ?? [require('node:http').Server, require('node:https').Server]) {
    patchEmit(Server.prototype);
  }
  const installed = new Map([...rules.keys()].map((port) => [port, guarded.get(port)]));
  return {
    uninstall() {
      for (const [port, rule] of installed) if (guarded.get(port) === rule) guarded.delete(port);
    },
  };
}

module.exports = {
  installLocalGuard,
  localRequestProblem,
  ownOrigins,
  parseAllowedOrigins,
  portRules,
  refusalLog,
  withoutCors,
  writeRefusal,
  LOG_PER_WINDOW,
};
