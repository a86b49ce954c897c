/**
 * What is sent while the client is not open: kept in order up to a limit and sent on the
 * next open; beyond the limit a send is refused, so that nothing is lost silently.
 */
import { ClientQueueFullError } from './errors';
import { OPEN } from './socket';
import type { WebSocketLike } from './socket';

export class SendQueue {
  /** JSON texts waiting for an open socket, oldest first. */
  private readonly texts: string[] = [];

  constructor(private readonly limit: number) {}

  /** Throws ClientQueueFullError beyond the limit. */
  push(text: string): void {
    if (this.texts.length >= this.limit) throw new ClientQueueFullError(this.limit);
    this.texts.push(text);
  }

  /** Sends in order with `send` while the socket stays open; what it could not take stays queued. */
  flush(socket: WebSocketLike, send: (socket: WebSocketLike, text: string) => void): void {
    while (this.texts.length > 0 && socket.readyState === OPEN) {
      send(socket, this.texts[0] as string);
      this.texts.shift();
    }
  }

  /** Empties the queue, returning what was never sent. */
  takeAll(): string[] {
    return this.texts.splice(0);
  }
}
