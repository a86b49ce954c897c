/**
 * The part of the standard WebSocket API the client uses, declared here so that client/
 * type-checks without lib "dom" and runs on anything that implements it: the browser's
 * WebSocket, and the `ws` package's in Node (whose `onmessage` gives text frames as strings).
 */

/**
 * A handler property whose parameter is checked both ways (the "bivariance hack" of
 * method syntax): the browser's and `ws`'s handlers take their own, richer event classes,
 * of which the client reads only the fields named here.
 */
type Handler<E> = { handle(event: E): void }['handle'] | null;

export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown>;
  onmessage: Handler<{ data: unknown }>;
  onclose: Handler<{ code: number; reason: string }>;
  onerror: Handler<unknown>;
  /**
   * One message as one frame (`data` a string), or, on a socket that can split a message
   * (client/outgoing.ts canFragment), one frame of it: `fin` false for all but the last.
   */
  send(data: string | Uint8Array, options?: { binary?: boolean; fin?: boolean }): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `readyState` values of the standard API (the same in browsers and in `ws`). */
export const OPEN = 1;

/** The browser's WebSocket (or Node 22's global one), when there is one. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

/** The text of an error event: `ws` puts the reason in `message` (e.g. "Unexpected server response: 403"). */
export function describeErrorEvent(event: unknown): string {
  const message = (event as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message !== '' ? message : 'the WebSocket reported an error';
}

/**
 * A socket we are done with must not call back into the client. Its error handler stays, as
 * a no-op: `ws` emits 'error' when a socket still connecting is closed, and an 'error' with
 * no listener would be thrown as an uncaught exception and end a Node process.
 */
export function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onerror = ignore;
  socket.onclose = null;
}

function ignore(): void {}
