/**
 * A renewal's handover: the old connection is still heard while the next one rejoins the
 * rooms, and is closed once every join is answered (or after HANDOVER_TIMEOUT_MS).
 */
import { HANDOVER_TIMEOUT_MS } from './options';
import { detach } from './socket';
import type { WebSocketLike } from './socket';

export class Handover {
  /** During a renewal: the old connection, still heard until the new one's joins are answered. */
  private retiring: WebSocketLike | undefined;
  /** Rooms whose `joined` the new connection still waits for before the old one closes. */
  private awaitingJoins = new Set<string>();
  private handoverTimer: ReturnType<typeof setTimeout> | undefined;

  /** `gone`: an old connection closed (by its end, or by the service): what it carried unanswered is lost. */
  constructor(private readonly gone: (socket: WebSocketLike) => void = () => undefined) {}

  /** Whether a renewal is under way (an old connection is still heard). */
  get active(): boolean {
    return this.retiring !== undefined;
  }

  /** `socket` becomes the old connection: its frames still go to `received` until it closes. */
  begin(socket: WebSocketLike, received: (data: unknown) => void): void {
    this.retiring = socket;
    socket.onclose = () => {
      if (this.retiring !== socket) return;
      this.retiring = undefined;
      this.gone(socket);
    };
    socket.onmessage = (event) => {
      if (this.retiring === socket) received(event.data);
    };
  }

  awaitJoins(rooms: Set<string>): void {
    this.awaitingJoins = rooms;
    if (rooms.size === 0) return this.finish();
    this.handoverTimer = setTimeout(() => this.finish(), HANDOVER_TIMEOUT_MS);
  }

  /** A join was answered or refused: once none is awaited, the old connection may go. */
  answered(room: string): void {
    if (this.awaitingJoins.delete(room) && this.awaitingJoins.size === 0) this.finish();
  }

  /** The new connection is in every room: the old one may go. */
  finish(): void {
    const old = this.retire();
    if (!old) return;
    detach(old);
    try {
      old.close(1000, 'renewed');
    } catch {
      // Already closing.
    }
    this.gone(old);
  }

  /** Takes the renewal's old connection out of the client, if there is one. */
  retire(): WebSocketLike | undefined {
    const old = this.retiring;
    this.retiring = undefined;
    this.awaitingJoins.clear();
    clearTimeout(this.handoverTimer);
    this.handoverTimer = undefined;
    return old;
  }
}
