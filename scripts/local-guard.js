// The local HTTP server of `npm start` (offline's HTTP_PORT: POST /publish and the chat page)
// answers only requests meant for it. Required by scripts/offline-preload.js into the
// serverless process, where it wraps the server's 'request' event before offline sees it.
//
// Why: offline answers any Origin with `access-control-allow-origin: <that origin>` and
// `access-control-allow-credentials: true`, takes a text/plain body (which a browser sends
// cross-origin without a preflight) and ignores Host. A web page on another origin in the
// developer's browser could then publish to every connected client and read the summary,
// and DNS rebinding (a name of the attacker's resolving to 127.0.0.1) got past the
// browser's same-origin rule altogether. So, on that port:
// - the Host must be localhost, 127.0.0.1 or [::1] with the port itself (else 403);
// - POST /publish takes application/json only (else 415), refuses any Origin but the
//   server's own (403), and its answers carry no CORS header at all.
'use strict';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** `http://<loopback name>:<port>`: the only origins the server is. */
function ownOrigins(port) {
  return LOOPBACK_NAMES.map((name) => `http://${name}:${port}`);
}

function pathOf(url) {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Why a request must not be served, as { status, message }, or undefined to serve it.
 * `request` needs only method, url and headers (Node's IncomingMessage has them).
 */
function localRequestProblem(request, port) {
  const headers = request.headers || {};
  const host = String(headers.host || '').toLowerCase();
  if (!LOOPBACK_NAMES.some((name) => host === `${name}:${port}`)) {
    return {
      status: 403,
      message: `this local server answers only Host localhost:${port}, 127.0.0.1:${port} or [::1]:${port}`,
    };
  }
  if (pathOf(String(request.url || '')) !== '/publish') return undefined;
  const origin = headers.origin;
  if (origin !== undefined && !ownOrigins(port).includes(String(origin).toLowerCase())) {
    return { status: 403, message: 'POST /publish does not answer requests from web pages of other origins' };
  }
  if (String(request.method).toUpperCase() === 'POST') {
    const type = String(headers['content-type'] || '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (type !== 'application/json') {
      return { status: 415, message: 'POST /publish takes a JSON body: send Content-Type: application/json' };
    }
  }
  return undefined;
}

const CORS_HEADER = /^access-control-/i;

/** Drops every CORS header the framework sets on this response. */
function withoutCors(response) {
  const setHeader = response.setHeader;
  response.setHeader = function (name, value) {
    if (CORS_HEADER.test(String(name))) return this;
    return setHeader.call(this, name, value);
  };
  const writeHead = response.writeHead;
  response.writeHead = function (status, ...rest) {
    const last = rest[rest.length - 1];
    if (last && typeof last === 'object' && !Array.isArray(last)) {
      for (const name of Object.keys(last)) if (CORS_HEADER.test(name)) delete last[name];
    }
    for (const name of this.getHeaderNames()) if (CORS_HEADER.test(name)) this.removeHeader(name);
    return writeHead.call(this, status, ...rest);
  };
}

const GUARDED = Symbol.for('aws-node-websockets.local-guard');

/** Guards the HTTP server that listens on `port` (the others, e.g. the WebSocket port's, are left alone). */
function guardHttpPort(http, port) {
  const proto = http.Server.prototype;
  if (proto.emit[GUARDED]) return;
  const emit = proto.emit;
  proto.emit = function (event, request, response) {
    if (event === 'request') {
      const address = typeof this.address === 'function' ? this.address() : null;
      if (address && typeof address === 'object' && address.port === port) {
        const problem = localRequestProblem(request, port);
        if (problem) {
          response.writeHead(problem.status, { 'content-type': 'text/plain; charset=utf-8' });
          response.end(`${problem.message}\n`);
          return true;
        }
        if (pathOf(String(request.url || '')) === '/publish') withoutCors(response);
      }
    }
    return emit.apply(this, arguments);
  };
  proto.emit[GUARDED] = true;
}

module.exports = { localRequestProblem, guardHttpPort, withoutCors, ownOrigins };
