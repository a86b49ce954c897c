// Module hooks (node:module `register`, from scripts/offline-preload.js) that put the local
// runtime's Lambda behaviour (scripts/offline-runtime.js says what and why) into
// serverless-offline as it is loaded: its LambdaFunctionPool module is replaced by a shim
// over our pool, an asynchronous Invoke goes to our queue (scripts/offline-async.js: Lambda's
// retries), WebSocketClients gets our handshake guard and API Gateway's limits per route and
// connection (scripts/local-limits.js), and the management API gets
// GetConnection (`GET /@connections/{id}`), which offline does not implement (it answers every
// GET with 426), so that the liveness sweep can ask it. Nothing in node_modules is changed,
// so this survives `npm ci`; the preload checks offline's version first.
import process from 'node:process';
import { URL } from 'node:url';

const RUNTIME = new URL('./offline-runtime.js', import.meta.url).href;
const LIMITS = new URL('./local-limits.js', import.meta.url).href;
const POOL = '/serverless-offline/src/lambda/LambdaFunctionPool.js';
const CLIENTS = '/serverless-offline/src/events/websocket/WebSocketClients.js';
const ROUTES = '/serverless-offline/src/events/websocket/http-routes/connections/connectionsRoutes.js';
const INVOCATIONS = '/serverless-offline/src/lambda/routes/invocations/InvocationsController.js';

/** One textual change of offline's source; without its anchor the module is left as it is, and said so. */
function replaced(source, anchor, replacement, what) {
  if (source.includes(anchor)) return source.replace(anchor, replacement);
  process.stderr.write(`[aws-node-websockets] serverless-offline's source changed: ${what} is not applied\n`);
  return source;
}

/** offline's module with one change (`replaced`), the runtime imported, and `tail` after it. */
async function withRuntime(url, context, nextLoad, change, tail = '') {
  const loaded = await nextLoad(url, context);
  const source = replaced(String(loaded.source), ...change);
  const patched = `${source}\nimport __awsNodeWebsocketsRuntime from ${JSON.stringify(RUNTIME)}\n${tail}`;
  return { ...loaded, source: patched, shortCircuit: true };
}

export async function load(url, context, nextLoad) {
  const path = url.split('?')[0];
  if (path.endsWith(POOL)) {
    // Same URL, so the relative imports below are offline's own modules.
    const source = [
      'import LambdaFunction from "./LambdaFunction.js"',
      'import { LambdaTimeoutError } from "../errors/index.js"',
      `import runtime from ${JSON.stringify(RUNTIME)}`,
      'export default runtime.boundedPool({ LambdaFunction, LambdaTimeoutError })',
    ].join('\n');
    return { format: 'module', source, shortCircuit: true };
  }
  if (path.endsWith(CLIENTS)) {
    // Whether a connection is open, for GetConnection: the map is private to the class.
    const change = [
      '  addClient(webSocketClient, connectionId) {',
      '  hasClient(connectionId) {\n    return this.#clients.has(connectionId)\n  }\n\n  addClient(webSocketClient, connectionId) {',
      'GetConnection',
    ];
    return withRuntime(
      url,
      context,
      nextLoad,
      change,
      [
        '__awsNodeWebsocketsRuntime.guardHandshakes(WebSocketClients)',
        // API Gateway's limits per route and per connection (scripts/local-limits.js).
        `import __awsNodeWebsocketsLimits from ${JSON.stringify(LIMITS)}`,
        '__awsNodeWebsocketsLimits.watchWebSocketClients(WebSocketClients)',
        '',
      ].join('\n'),
    );
  }
  if (path.endsWith(INVOCATIONS)) {
    // An asynchronous invocation goes to our queue, which retries it as Lambda does, instead of
    // one run whose failure nobody catches.
    const change = [
      "      // don't await result!\n      lambdaFunction.runHandler()",
      '      __awsNodeWebsocketsRuntime.asyncInvocations().enqueue(lambdaFunction, functionName, event)',
      "Lambda's retries of an asynchronous invocation",
    ];
    return withRuntime(url, context, nextLoad, change);
  }
  if (path.endsWith(ROUTES)) {
    const loaded = await nextLoad(url, context);
    const anchor = 'export default function connectionsRoutes(webSocketClients) {';
    const source = String(loaded.source);
    if (!source.includes(anchor)) {
      process.stderr.write("[aws-node-websockets] serverless-offline's source changed: GetConnection is not applied\n");
      return loaded;
    }
    const routes = [
      source.replace(anchor, 'function offlineConnectionsRoutes(webSocketClients) {'),
      `import __awsNodeWebsocketsRuntime from ${JSON.stringify(RUNTIME)}`,
      'export default function connectionsRoutes(webSocketClients) {',
      '  return [...offlineConnectionsRoutes(webSocketClients), __awsNodeWebsocketsRuntime.getConnectionRoute(webSocketClients)]',
      '}',
    ].join('\n');
    return { ...loaded, source: routes, shortCircuit: true };
  }
  return nextLoad(url, context);
}
