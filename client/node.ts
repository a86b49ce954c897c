/**
 * The package's entry in Node (the `node` condition of its `exports` map): the same client,
 * whose WebSocket, unless one is passed, is Node's own (a global from Node 22 on) or else the
 * `ws` package's, an optional peer dependency. Browsers and bundlers for them get ./index.ts,
 * which never names `ws` nor anything of Node.
 */
import { createRequire } from 'node:module';
import { RealtimeClient as Client } from './index';
import type { RealtimeClientOptions, WebSocketConstructor } from './index';
import { globalWebSocket } from './socket';

export * from './index';

export class RealtimeClient extends Client {
  constructor(options: RealtimeClientOptions) {
    super({ ...options, WebSocket: options.WebSocket ?? nodeWebSocket() });
  }
}

/** Node's global WebSocket, else `ws` when it is installed beside the package; a TypeError saying what to do when neither is there. */
export function nodeWebSocket(): WebSocketConstructor {
  const global = globalWebSocket();
  if (global !== undefined) return global;
  try {
    return createRequire(import.meta.url)('ws') as WebSocketConstructor;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw error;
    throw new TypeError(
      'this Node has no global WebSocket (Node 22 and later have one) and the ws package is not installed: ' +
        'npm i ws, or pass a WebSocket class as the WebSocket option',
      { cause: error },
    );
  }
}
