/**
 * A typed client for this service, for browsers (the global WebSocket) and Node (the global
 * one of Node 22, `ws`, or one passed in: ./node.ts): it reconnects with backoff and full
 * jitter, rejoins its rooms, keeps the connection alive with `ping`, asks for a fresh token
 * before every connect, and queues what is sent while it is not open (bounded, refused loudly
 * beyond). It hands a room's frames to the app once each and in `seq` order, asking the
 * service's history for what it missed (./rooms.ts), and drops every repeated `id`. `publish`
 * keeps one client's order in a room and resolves with the message's number; `history` pages
 * through a room (./requests.ts, ./history.ts). docs/client.md is its reference.
 *
 * No runtime dependency: what it shares with the server it imports from two files of src/
 * that import nothing (src/chat/frames.ts, types only; src/backoff.ts, pure), which the
 * package's build copies in (scripts/client/build.ts).
 */
import type { ClientCommand as Command, MessageData } from './commands';
import type { FrameOf, ServerMessage } from '../src/chat/frames';
import { checkCount, Connection } from './connection';
import { ClientQueueFullError } from './errors';
import { parseFrame } from './frames';
import { historyPages, historyRange } from './history';
import type { HistoryOptions, HistoryPage } from './history';
import {
  DEFAULT_PUBLISH_TIMEOUT_MS,
  DEFAULT_REORDER_WAIT_MS,
  HISTORY_MAX_ASKS,
  HISTORY_TIMEOUT_MS,
  SEEN_IDS,
} from './options';
import type { DeliveryOptions, RealtimeClientOptions } from './options';
import { Requests } from './requests';
import { isRoomFrame, RoomSequencer } from './rooms';
import type { RoomFrame } from './rooms';
import type { WebSocketLike } from './socket';

export type { ReconnectOptions } from './backoff';
export type { ClientCommand } from './commands';
export { DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE } from './history';
export type { HistoryOptions, HistoryPage } from './history';
export type { GapEvent, ResetEvent, RoomFrame } from './rooms';
export * from './errors';
export { isServerMessage, parseFrame } from './frames';
export * from './options';
export { describeError, forbiddenDetails } from './refusals';
export type { WebSocketConstructor, WebSocketLike } from './socket';
export type * from '../src/chat/frames';

/** The service's own rule for room names (src/chat/protocol.ts): a join it would refuse is refused here. */
const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface JoinOptions {
  /** Hand over the room's last `backlog` frames (messages and presence events) first, then the live ones. */
  backlog?: number;
}

export interface PublishOptions {
  /**
   * Default true: sent only once the previous ordered publish of this client in the room has
   * its number (or failed), so the room numbers them in the order they were called.
   * false: sent at once, and two may take their numbers in either order.
   */
  ordered?: boolean;
  /** This publish's timeout once sent (default: the client's `publishTimeoutMs`). */
  timeoutMs?: number;
  /** false: this connection gets no copy of its own message (the summary still comes). */
  echo?: boolean;
  /** true: an id, no `seq`, not kept in history (typing, cursors); never ordered. */
  ephemeral?: boolean;
}

/**
 * An ephemeral publish (typing, cursors): never ordered; with `summary: false` nothing comes
 * back, and the promise resolves once the message is sent (or queued while not open).
 */
export interface EphemeralOptions {
  ephemeral: true;
  echo?: boolean;
  summary?: boolean;
  timeoutMs?: number;
}

/** The echo opt-out of a publish, as the command carries it (summary: only for an ephemeral one). */
function deliveryFields(options: { echo?: boolean; summary?: boolean }): { echo?: boolean; summary?: boolean } {
  return {
    ...(options.echo === false ? { echo: false } : {}),
    ...(options.summary === false ? { summary: false } : {}),
  };
}

/** An ephemeral publish the service took: its message's `id` and the delivery summary (no number). */
export interface EphemeralResult {
  id: string;
  delivery: FrameOf<'delivery'>;
}

/** A publish the service took: its message's `id`, its number in the room, and the delivery summary. */
export interface PublishResult {
  id: string;
  seq: number;
  delivery: FrameOf<'delivery'>;
}

export class RealtimeClient extends Connection {
  private readonly sequencer: RoomSequencer;
  /** `type:id` of recent frames, oldest first: a repeat is dropped. */
  private readonly seen = new Set<string>();
  private readonly joined = new Set<string>();
  private readonly publishTimeoutMs: number;
  /** Publishes and history pages: sent with a ref, held until they may go, answered by it. */
  private readonly requests: Requests;

  constructor(options: RealtimeClientOptions) {
    super(options);
    this.publishTimeoutMs = checkCount('publishTimeoutMs', options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS);
    this.requests = new Requests({
      socket: () => (this.isOpen() ? this.socket : undefined),
      inRoom: (room) => this.joined.has(room),
      closed: () => this.state === 'closed',
      check: (text) => this.sender.check(text),
      send: (socket, text) => this.sender.send(socket, text),
    });
    const reorderWaitMs = checkCount('reorderWaitMs', options.reorderWaitMs ?? DEFAULT_REORDER_WAIT_MS);
    this.sequencer = new RoomSequencer(
      {
        // Whether it came live or from history: a frame whose id the app got is not handed over again.
        deliver: (frame) => {
          if (this.firstSight(frame)) this.emitter.emit('message', frame);
        },
        fetch: (room, after) => this.requestHistory(room, after),
        gap: (event) => this.emitter.emit('gap', event),
        reset: (event) => this.emitter.emit('reset', event),
      },
      { reorderWaitMs, fetchTimeoutMs: HISTORY_TIMEOUT_MS, maxAsks: HISTORY_MAX_ASKS },
    );
  }

  /** The rooms this client asked to be in; rejoined after every reconnect. */
  get rooms(): ReadonlySet<string> {
    return this.joined;
  }

  /** To every connection, this one included unless `echo: false`. */
  sendmessage(data: MessageData, options: DeliveryOptions = {}): void {
    this.sendCommand({ action: 'sendmessage', data, ...options });
  }

  /** To every connection of a user (needs authorization on the service), or to one connection. */
  send(target: { user: string } | { connectionId: string }, data: MessageData, options: DeliveryOptions = {}): void {
    const command: Command =
      'user' in target
        ? { action: 'send', user: target.user, data, ...options }
        : { action: 'send', connectionId: target.connectionId, data, ...options };
    this.sendCommand(command);
  }

  /**
   * Joins a room and remembers it. While not open nothing is queued: the join is sent on
   * open with the other remembered rooms (a new connection is in no room). `backlog`: the
   * room's last frames before the join come first (once: not on a rejoin, nor for a room
   * the client is already in).
   */
  join(room: string, options: JoinOptions = {}): void {
    this.refuseWhenClosed();
    if (typeof room !== 'string' || !ROOM_PATTERN.test(room)) {
      // Not remembered: the service would refuse it on every reconnect.
      throw new RangeError(`room must be 1 to 64 letters, digits or _ . : - (got ${JSON.stringify(room)})`);
    }
    const backlog = checkCount('backlog', options.backlog ?? 0);
    if (!this.joined.has(room) && backlog > 0) this.sequencer.expectBacklog(room, backlog);
    this.joined.add(room);
    if (this.isOpen()) this.sendJoin(this.socket as WebSocketLike, room);
  }

  /** Leaves a room and forgets it; while not open there is nothing to send (a new connection is in no room). */
  leave(room: string): void {
    this.refuseWhenClosed();
    this.joined.delete(room);
    this.sequencer.forget(room);
    if (this.isOpen()) this.sendCommand({ action: 'leave', room });
    this.requests.pump();
  }

  /**
   * Publishes to a room; resolves with the message's `id` and number once the service's
   * delivery summary names them. Ordered by default (PublishOptions.ordered). While it cannot
   * go (not open, the room's join unanswered, an earlier publish unanswered) it is held, up
   * to `queueLimit`: beyond, or after close(), it throws. Its promise fails with
   * ClientRefusedError, ClientTimeoutError, ClientAnswerLostError or ClientClosedError, and
   * never as an unhandled rejection when the app does not wait for it. `echo: false`: no copy
   * to this connection. `ephemeral: true` for what needs no order or history (typing,
   * cursors): never held for an earlier publish, and its result has no `seq`; members hear it
   * as a `message` event without `seq`, never through the sequencer. A publish always asks for
   * its delivery summary: that is how it learns its number.
   */
  publish(room: string, data: MessageData, options: EphemeralOptions & { summary: false }): Promise<void>;
  publish(room: string, data: MessageData, options: EphemeralOptions): Promise<EphemeralResult>;
  publish(room: string, data: MessageData, options?: PublishOptions & { ephemeral?: false }): Promise<PublishResult>;
  publish(
    room: string,
    data: MessageData,
    options: PublishOptions & { summary?: boolean } = {},
  ): Promise<PublishResult | EphemeralResult | void> {
    this.refuseWhenClosed();
    if (options.ephemeral === true && options.summary === false) {
      // Nothing comes back to wait for (typing, cursors): sent, or queued while not open, as a list is.
      this.sendCommand({ action: 'publish', room, data, ...deliveryFields(options), ephemeral: true });
      return Promise.resolve();
    }
    if (options.summary === false) {
      throw new RangeError(
        'summary: false is for an ephemeral publish only: a publish learns its number from its summary',
      );
    }
    const ephemeral = options.ephemeral === true;
    const ordered = !ephemeral && options.ordered !== false;
    if (this.requests.held >= this.queueLimit && this.requests.wouldHold(room, ordered)) {
      throw new ClientQueueFullError(this.queueLimit, true);
    }
    const timeoutMs = checkCount('timeoutMs', options.timeoutMs ?? this.publishTimeoutMs);
    const command = {
      action: 'publish' as const,
      room,
      data,
      ...deliveryFields(options),
      ...(ephemeral ? { ephemeral: true } : {}),
    };
    const answer = this.requests.ask(command, { timeoutMs, clock: 'sent', ordered });
    const result = answer.then((delivery) =>
      ephemeral ? { id: delivery.id, delivery } : { id: delivery.id, seq: delivery.seq ?? 0, delivery },
    );
    result.catch(() => undefined); // an app that does not wait for it hears of it as an `error` frame
    return result;
  }

  /**
   * A room's kept frames, page by page (./history.ts): `for await (const page of
   * client.history('lobby', { before: Infinity }))`. Needs membership, as the service does;
   * breaking out of the loop stops it. Throws RangeError at once for bad options; a page fails
   * with ClientRefusedError (e.g. `not_member`), ClientTimeoutError or ClientClosedError.
   */
  history(room: string, options: HistoryOptions = {}): AsyncGenerator<HistoryPage, void, undefined> {
    this.refuseWhenClosed();
    historyRange(options);
    const timeoutMs = checkCount('timeoutMs', options.timeoutMs ?? HISTORY_TIMEOUT_MS);
    const signal = options.signal;
    return historyPages(
      (request) => this.requests.ask({ action: 'history', ...request }, { timeoutMs, clock: 'asked', signal }),
      room,
      options,
    );
  }

  members(room: string): void {
    this.sendCommand({ action: 'members', room });
  }

  list(): void {
    this.sendCommand({ action: 'list' });
  }

  ping(): void {
    this.sendCommand({ action: 'ping' });
  }

  // The connection's hooks (./connection.ts).

  protected rejoin(socket: WebSocketLike, resumed: boolean): void {
    if (!resumed) {
      this.sequencer.reconnected(this.handover.active);
      this.requests.opened();
      for (const room of this.joined) this.sendJoin(socket, room);
      if (this.handover.active) this.handover.awaitJoins(new Set(this.joined));
    } else {
      // The old connection, in its rooms all along, goes on.
      for (const room of this.joined) this.requests.joinAnswered(room);
    }
  }

  protected flushed(): void {
    this.requests.pump();
  }

  protected gone(socket: WebSocketLike): void {
    this.requests.abandon(socket);
  }

  protected unsent(): string[] {
    return this.requests.closeAll();
  }

  /** A join on `socket`: requests about the room wait for its answer (./requests.ts). */
  private sendJoin(socket: WebSocketLike, room: string): void {
    socket.send(JSON.stringify({ action: 'join', room } satisfies Command));
    this.requests.joinSent(room);
  }

  protected received(data: unknown): void {
    let message: ServerMessage;
    try {
      message = parseFrame(data);
    } catch (error) {
      this.emitter.emit('error', error as Error);
      return;
    }
    if (message.type === 'history') {
      // With a ref it answers history() (or came too late for it), not the room's own count.
      if (message.ref !== undefined) return void this.requests.answer(message);
      return this.sequencer.history(message);
    }
    if (message.type === 'delivery' || message.type === 'error') this.requests.answer(message);
    if (isRoomFrame(message)) {
      // Only for rooms this client is in: a frame of a room just left would restart its count.
      // Its id is checked when it is handed over (the sequencer's `deliver`).
      if (this.joined.has(message.room)) this.sequencer.frame(message as RoomFrame);
      return;
    }
    if ('id' in message && typeof message.id === 'string' && !this.firstSight(message)) return; // a repeat of a post
    if (message.type === 'joined') {
      if (this.joined.has(message.room)) this.sequencer.joined(message.room, message.seq, this.handover.active);
      this.handover.answered(message.room);
      this.requests.joinAnswered(message.room);
    } else if (message.type === 'error' && message.action === 'join' && message.room !== undefined) {
      // A refused join is forgotten, not asked again on every reconnect.
      this.joined.delete(message.room);
      this.sequencer.forget(message.room);
      this.handover.answered(message.room);
      this.requests.joinAnswered(message.room);
    }
    this.emitter.emit('message', message);
  }

  /**
   * Whether a frame's `type:id` is new (then remembered, among the last SEEN_IDS): false for a
   * repeat. A sharded delivery's `queued` and `done` summaries name the same message: its state
   * is part of the key, so only a repeat of the same summary is dropped.
   */
  private firstSight(frame: { type: string; id: string; state?: string }): boolean {
    const key = `${frame.type}:${frame.id}:${frame.state ?? ''}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value as string);
    return true;
  }

  /** What came after `after` in a room; false when not open (the next open's `joined` asks again). */
  private requestHistory(room: string, after: number): boolean {
    if (!this.isOpen()) return false;
    // The most a request may ask for: the service reads no more than one 128 KB answer whatever
    // the limit (docs/protocol.md#ids-order-and-history), so asking for fewer only adds round trips.
    (this.socket as WebSocketLike).send(
      JSON.stringify({ action: 'history', room, after, limit: 1000 } satisfies Command),
    );
    return true;
  }
}
