// Module hooks (node:module `register`, from scripts/offline-preload.js) that put the local
// runtime's Lambda behaviour (scripts/offline-runtime.js says what and why) into
// serverless-offline as it is loaded: its LambdaFunctionPool module is replaced by a shim
// over our pool, and WebSocketClients gets our handshake guard. Nothing in node_modules is
// changed, so this survives `npm ci`; the preload checks offline's version first.
import { URL } from 'node:url';

const RUNTIME = new URL('./offline-runtime.js', import.meta.url).href;
const POOL = '/serverless-offline/src/lambda/LambdaFunctionPool.js';
const CLIENTS = '/serverless-offline/src/events/websocket/WebSocketClients.js';

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
    const loaded = await nextLoad(url, context);
    const source = `${String(loaded.source)}\nimport __awsNodeWebsocketsRuntime from ${JSON.stringify(RUNTIME)}\n__awsNodeWebsocketsRuntime.guardHandshakes(WebSocketClients)\n`;
    return { ...loaded, source, shortCircuit: true };
  }
  return nextLoad(url, context);
}
