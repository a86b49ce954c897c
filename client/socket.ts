/**
 * The part of the standard WebSocket API the client uses, declared here so that client/
 * type-checks without lib "dom" and runs on anything that implements it: the browser's
 * WebSocket, and the `ws` package's in Node (whose `onmessage` gives text frames as strings).
 */

export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
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
