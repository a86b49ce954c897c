/**
 * A WebSocket stand-in for the client's unit tests: it does what the test tells it to
 * (open, receive, drop, fail) and records what the client sent. It implements the standard
 * API surface the client uses, no more (client/socket.ts).
 */
import type { WebSocketConstructor, WebSocketLike } from '../../../client';

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSED = 3;

export class FakeSocket implements WebSocketLike {
  readyState = CONNECTING;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  /** Each message sent, whole (the frames of a split one joined). */
  readonly sent: string[] = [];
  /** Each frame sent: its bytes and whether it ends its message. */
  readonly frames: { bytes: Uint8Array; fin: boolean }[] = [];
  private pending: Uint8Array[] = [];
  closedWith: { code?: number; reason?: string } | undefined;

  constructor(readonly url: string) {}

  send(data: string | Uint8Array, options?: { binary?: boolean; fin?: boolean }): void {
    // As the browser's and ws's do for a socket still connecting.
    if (this.readyState !== OPEN) throw new Error(`send on a socket in state ${this.readyState}`);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const fin = options?.fin ?? true;
    this.frames.push({ bytes, fin });
    this.pending.push(bytes);
    if (!fin) return;
    this.sent.push(Buffer.concat(this.pending).toString('utf8'));
    this.pending = [];
  }

  close(code?: number, reason?: string): void {
    this.readyState = CLOSED;
    this.closedWith = { code, reason };
  }

  /** What the client sent, parsed. */
  commands(): Record<string, unknown>[] {
    return this.sent.map((text) => JSON.parse(text) as Record<string, unknown>);
  }

  open(): void {
    this.readyState = OPEN;
    this.onopen?.({});
  }

  receive(data: unknown): void {
    this.onmessage?.({ data: typeof data === 'string' || data instanceof Uint8Array ? data : JSON.stringify(data) });
  }

  /** The connection ends (server close, network loss): code 1006 is "no close frame". */
  drop(code = 1006, reason = ''): void {
    this.readyState = CLOSED;
    this.onclose?.({ code, reason });
  }

  /** An error event; as `ws`'s (an EventEmitter), one that nobody listens to is thrown. */
  error(message: string): void {
    if (!this.onerror) throw new Error(`unhandled 'error' event: ${message}`);
    this.onerror({ message });
  }

  /** A handshake refused (e.g. 403), as `ws` reports it: an error, then a close that was never open. */
  refuse(status = 403): void {
    this.error(`Unexpected server response: ${status}`);
    this.drop(1006, '');
  }
}

/**
 * `ws`'s surface beyond the standard one, as far as the client looks at it: `terminate`, the
 * mark of a WebSocket whose `send` takes `{ fin }` and so can send a message in frames.
 */
class FakeWsSocket extends FakeSocket {
  terminate(): void {
    this.close(1006);
  }
}

/**
 * A WebSocket class of its own per test, and the sockets it made, oldest first: a browser's
 * (one frame per message) by default, `ws`'s with `{ fragments: true }`.
 */
export function fakeWebSocket(options: { fragments?: boolean } = {}): {
  WebSocket: WebSocketConstructor;
  sockets: FakeSocket[];
  last(): FakeSocket;
} {
  const sockets: FakeSocket[] = [];
  const Base = options.fragments ? FakeWsSocket : FakeSocket;
  class WebSocket extends Base {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return {
    WebSocket,
    sockets,
    last() {
      const socket = sockets.at(-1);
      if (!socket) throw new Error('no socket was created');
      return socket;
    },
  };
}
