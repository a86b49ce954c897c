/**
 * A typed client for this service, for browsers (the global WebSocket) and Node (the `ws`
 * package's WebSocket, passed in): it reconnects with backoff and full jitter, rejoins its
 * rooms, keeps the connection alive with `ping`, asks for a fresh token before every
 * connect, and queues what is sent while it is not open (bounded, refused loudly beyond).
 * It hands a room's frames to the app once each and in `seq` order, asking the service's
 * history for what it missed (./rooms.ts), and drops every repeated `id`.
 * docs/client.md is its reference and shows it in use.
 *
 * No runtime dependency: what it shares with the server (src/chat/frames.ts, src/chat/protocol.ts)
 * it imports as types only, which compile to nothing; the one piece of code it shares is the
 * backoff (src/backoff.ts), pure and bundled with it.
 */
import type { Command } from '../src/chat/protocol';
import type { ServerMessage } from '../src/chat/frames';
import { backoffDelay, backoffSettings } from './backoff';
import type { Backoff } from './backoff';
import { Emitter } from './emitter';
import { ClientClosedError, ClientSocketError, ClientTokenError, ClientUnsentError } from './errors';
import { parseFrame } from './frames';
import {
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_QUEUE_LIMIT,
  DEFAULT_RENEW_AFTER_MS,
  DEFAULT_REORDER_WAIT_MS,
  HEARTBEAT_CLOSE_CODE,
  HISTORY_TIMEOUT_MS,
  SEEN_IDS,
} from './options';
import type {
  ClientCloseEvent,
  ClientEvents,
  ClientState,
  MessageData,
  RealtimeClientOptions,
  TokenProvider,
} from './options';
import { senderFor } from './outgoing';
import type { Sender } from './outgoing';
import { SendQueue } from './queue';
import { Handover } from './renewal';
import { isRoomFrame, RoomSequencer } from './rooms';
import type { RoomFrame } from './rooms';
import { describeErrorEvent, detach, globalWebSocket, OPEN } from './socket';
import type { WebSocketConstructor, WebSocketLike } from './socket';

export type { ReconnectOptions } from './backoff';
export type { GapEvent } from './rooms';
export * from './errors';
export { isServerMessage, parseFrame } from './frames';
export * from './options';
export { describeError, forbiddenDetails } from './refusals';
export type { WebSocketConstructor, WebSocketLike } from './socket';
export type * from '../src/chat/frames';

/** The service's own rule for room names (src/chat/protocol.ts): a join it would refuse is refused here. */
const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be an integer >= 0, got ${value}`);
  return value;
}

function withToken(url: string, token: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

export class RealtimeClient {
  private readonly url: string;
  private readonly tokenProvider: TokenProvider | undefined;
  private readonly WebSocket: WebSocketConstructor;
  /** In frames of at most 32 KB where the WebSocket can split a message (client/outgoing.ts). */
  private readonly sender: Sender;
  private readonly backoff: Backoff;
  private readonly heartbeatMs: number;
  private readonly renewAfterMs: number;
  private readonly sequencer: RoomSequencer;
  /** `type:id` of recent frames, oldest first: a repeat is dropped. */
  private readonly seen = new Set<string>();

  private readonly emitter = new Emitter<ClientEvents>();
  private readonly joined = new Set<string>();
  private readonly queue: SendQueue;
  private socket: WebSocketLike | undefined;
  private current: ClientState = 'idle';
  /** Failed attempts and drops since the last successful open. */
  private attempt = 0;
  /** Bumped by every attempt and by close(): a token that arrives for an older one is ignored. */
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  /** Resets the backoff once a connection has stayed open `stableAfterMs`. */
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private renewTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly handover = new Handover();
  /** Whether any frame arrived since the last heartbeat ping. */
  private heardSincePing = true;

  constructor(options: RealtimeClientOptions) {
    if (typeof options.url !== 'string' || options.url === '') throw new TypeError('url is required');
    const WebSocket = options.WebSocket ?? globalWebSocket();
    if (WebSocket === undefined) {
      throw new TypeError("there is no global WebSocket here: pass one (Node: import WebSocket from 'ws')");
    }
    this.url = options.url;
    this.tokenProvider = options.token;
    this.WebSocket = WebSocket;
    this.sender = senderFor(WebSocket);
    this.backoff = backoffSettings(options.reconnect);
    this.heartbeatMs = checkCount('heartbeatMs', options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    this.queue = new SendQueue(checkCount('queueLimit', options.queueLimit ?? DEFAULT_QUEUE_LIMIT));
    this.renewAfterMs = checkCount('renewAfterMs', options.renewAfterMs ?? DEFAULT_RENEW_AFTER_MS);
    const reorderWaitMs = checkCount('reorderWaitMs', options.reorderWaitMs ?? DEFAULT_REORDER_WAIT_MS);
    this.sequencer = new RoomSequencer(
      {
        deliver: (frame) => this.emitter.emit('message', frame),
        fetch: (room, after) => this.requestHistory(room, after),
        gap: (event) => this.emitter.emit('gap', event),
      },
      { reorderWaitMs, fetchTimeoutMs: HISTORY_TIMEOUT_MS },
    );
  }

  get state(): ClientState {
    return this.current;
  }

  /** The rooms this client asked to be in; rejoined after every reconnect. */
  get rooms(): ReadonlySet<string> {
    return this.joined;
  }

  on<K extends keyof ClientEvents>(name: K, listener: (event: ClientEvents[K]) => void): () => void {
    return this.emitter.on(name, listener);
  }

  /** Opens the connection; does nothing when it is open or on its way. After close() it starts afresh. */
  connect(): void {
    if (this.current !== 'idle' && this.current !== 'closed') return;
    this.attempt = 0;
    this.attemptConnection('connecting');
  }

  /** Closes for good: no reconnect, and queued messages are reported unsent (ClientUnsentError). */
  close(): void {
    if (this.current === 'closed') return;
    const wasOpen = this.current === 'open';
    this.generation += 1;
    this.stopTimers();
    const socket = this.socket;
    this.socket = undefined;
    for (const each of [socket, this.handover.retire()]) {
      if (!each) continue;
      detach(each);
      try {
        each.close(1000, 'closed by the client');
      } catch {
        // A socket that cannot be closed is already closing: nothing more to do with it.
      }
    }
    this.current = 'closed';
    this.emitter.emit('close', { code: 1000, reason: 'closed by the client', willReconnect: false, wasOpen });
    this.reportUnsent();
  }

  /** To every connection, this one included. */
  sendmessage(data: MessageData): void {
    this.sendCommand({ action: 'sendmessage', data });
  }

  /** To every connection of a user (needs authorization on the service), or to one connection. */
  send(target: { user: string } | { connectionId: string }, data: MessageData): void {
    const command: Command =
      'user' in target
        ? { action: 'send', user: target.user, data }
        : { action: 'send', connectionId: target.connectionId, data };
    this.sendCommand(command);
  }

  /**
   * Joins a room and remembers it. While not open nothing is queued: the join is sent on
   * open with the other remembered rooms (a new connection is in no room).
   */
  join(room: string): void {
    this.refuseWhenClosed();
    if (typeof room !== 'string' || !ROOM_PATTERN.test(room)) {
      // Not remembered: the service would refuse it on every reconnect.
      throw new RangeError(`room must be 1 to 64 letters, digits or _ . : - (got ${JSON.stringify(room)})`);
    }
    this.joined.add(room);
    if (this.isOpen()) this.sendCommand({ action: 'join', room });
  }

  /** Leaves a room and forgets it; while not open there is nothing to send (a new connection is in no room). */
  leave(room: string): void {
    this.refuseWhenClosed();
    this.joined.delete(room);
    this.sequencer.forget(room);
    if (this.isOpen()) this.sendCommand({ action: 'leave', room });
  }

  publish(room: string, data: MessageData): void {
    this.sendCommand({ action: 'publish', room, data });
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

  /**
   * Sends now when open, else queues (up to queueLimit). Refusals throw, so that nothing is
   * lost silently: ClientClosedError after close(), ClientQueueFullError beyond the limit,
   * ClientMessageTooLargeError for what API Gateway would close the connection for.
   */
  private sendCommand(command: Command): void {
    const text = JSON.stringify(command);
    this.refuseWhenClosed();
    this.sender.check(text);
    if (this.isOpen()) {
      this.sender.send(this.socket as WebSocketLike, text);
      return;
    }
    this.queue.push(text);
  }

  private refuseWhenClosed(): void {
    if (this.current === 'closed') throw new ClientClosedError();
  }

  /** Open, and the socket agrees: a browser socket that is closing drops what it is given without a word. */
  private isOpen(): boolean {
    return this.current === 'open' && this.socket?.readyState === OPEN;
  }

  private attemptConnection(state: 'connecting' | 'reconnecting'): void {
    const generation = ++this.generation;
    this.current = state;
    if (this.tokenProvider === undefined) {
      this.dial(undefined);
      return;
    }
    const provider = this.tokenProvider;
    new Promise<string | null | undefined>((resolve) => resolve(provider())).then(
      (token) => {
        if (generation === this.generation) this.dial(token);
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        this.emitter.emit('error', new ClientTokenError({ cause: error }));
        this.failed({ code: 1006, reason: 'the token provider failed', wasOpen: false });
      },
    );
  }

  private dial(token: string | null | undefined): void {
    const url = token ? withToken(this.url, token) : this.url;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocket(url);
    } catch (error) {
      // e.g. a malformed URL: the browser throws a SyntaxError from the constructor.
      this.emitter.emit('error', new ClientSocketError('the WebSocket could not be created', { cause: error }));
      this.failed({ code: 1006, reason: 'the WebSocket could not be created', wasOpen: false });
      return;
    }
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: WebSocketLike): void {
    socket.onopen = () => {
      if (this.socket === socket) this.opened(socket);
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.heardSincePing = true;
      this.received(event.data);
    };
    socket.onerror = (event) => {
      if (this.socket === socket) this.emitter.emit('error', new ClientSocketError(describeErrorEvent(event)));
    };
    socket.onclose = (event) => {
      if (this.socket === socket)
        this.lost(socket, { code: event.code, reason: event.reason, wasOpen: this.current === 'open' });
    };
  }

  private lost(socket: WebSocketLike, close: Omit<ClientCloseEvent, 'willReconnect'>): void {
    detach(socket);
    if (this.resumeRetiring()) return;
    this.socket = undefined;
    this.stopTimers();
    this.failed(close);
  }

  /** The heartbeat's ping went unanswered: give up on this socket now rather than wait for its close. */
  private abandon(socket: WebSocketLike): void {
    const reason = 'no answer to the heartbeat';
    try {
      socket.close(HEARTBEAT_CLOSE_CODE, reason);
    } catch {
      // Already closing: it is detached below either way.
    }
    this.lost(socket, { code: HEARTBEAT_CLOSE_CODE, reason, wasOpen: true });
  }

  /**
   * Rooms first, then the queue in order, then the heartbeat; 'open' once all of it is on its
   * way. The backoff starts again only once the connection has stayed open a while.
   */
  private opened(socket: WebSocketLike, { resumed = false } = {}): void {
    this.current = 'open';
    this.stableTimer = setTimeout(() => {
      if (this.socket === socket) this.attempt = 0;
    }, this.backoff.stableAfterMs);
    if (this.renewAfterMs > 0) this.renewTimer = setTimeout(() => this.renew(socket), this.renewAfterMs);
    if (!resumed) {
      this.sequencer.reconnected();
      for (const room of this.joined) socket.send(JSON.stringify({ action: 'join', room } satisfies Command));
      if (this.handover.active) this.handover.awaitJoins(new Set(this.joined));
    }
    this.queue.flush(socket, this.sender.send);
    if (this.heartbeatMs > 0) {
      const ping = JSON.stringify({ action: 'ping' } satisfies Command);
      this.heardSincePing = true;
      this.heartbeatTimer = setInterval(() => {
        if (this.socket !== socket) return;
        if (!this.heardSincePing) return this.abandon(socket);
        if (socket.readyState !== OPEN) return;
        this.heardSincePing = false;
        socket.send(ping);
      }, this.heartbeatMs);
    }
    this.emitter.emit('open', undefined);
  }

  private received(data: unknown): void {
    let message: ServerMessage;
    try {
      message = parseFrame(data);
    } catch (error) {
      this.emitter.emit('error', error as Error);
      return;
    }
    if (message.type === 'history') return this.sequencer.history(message);
    if ('id' in message && typeof message.id === 'string') {
      const key = `${message.type}:${message.id}`;
      if (this.seen.has(key)) return; // a repeat of a post
      this.seen.add(key);
      if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value as string);
    }
    if (isRoomFrame(message)) {
      // Only for rooms this client is in: a frame of a room just left would restart its count.
      if (this.joined.has(message.room)) this.sequencer.frame(message as RoomFrame);
      return;
    }
    if (message.type === 'joined') {
      if (typeof message.seq === 'number' && this.joined.has(message.room)) {
        this.sequencer.joined(message.room, message.seq, this.handover.active);
      }
      this.handover.answered(message.room);
    } else if (message.type === 'error' && message.action === 'join' && message.room !== undefined) {
      // A refused join is forgotten, not asked again on every reconnect.
      this.joined.delete(message.room);
      this.sequencer.forget(message.room);
      this.handover.answered(message.room);
    }
    this.emitter.emit('message', message);
  }

  /** What came after `after` in a room; false when not open (the next open's `joined` asks again). */
  private requestHistory(room: string, after: number): boolean {
    if (!this.isOpen()) return false;
    (this.socket as WebSocketLike).send(
      JSON.stringify({ action: 'history', room, after, limit: 1000 } satisfies Command),
    );
    return true;
  }

  /**
   * Before API Gateway's 2-hour limit: the next connection is opened while this one still
   * delivers; repeats heard on both are dropped by id and seq.
   */
  private renew(socket: WebSocketLike): void {
    if (this.socket !== socket || this.current !== 'open') return;
    this.stopTimers();
    this.handover.begin(socket, (data) => this.received(data));
    this.socket = undefined;
    this.attemptConnection('reconnecting');
  }

  /** A renewal's new connection failed: the old one, still open, goes on as the current one. */
  private resumeRetiring(): boolean {
    const old = this.handover.retire();
    if (old === undefined) return false;
    this.stopTimers();
    this.socket = old;
    this.attach(old);
    if (old.readyState === OPEN) this.opened(old, { resumed: true });
    else this.lost(old, { code: 1006, reason: 'the connection closed during its renewal', wasOpen: true });
    return true;
  }

  /**
   * An attempt failed or an open connection dropped: retry after a jittered delay, or give
   * up once `maxAttempts` retries in a row failed. A refused handshake (403: a bad or expired
   * token) is retried like any failure, since the next token may be good; it is never a tight
   * loop: delays grow until a connection opens, and maxAttempts bounds the retries.
   */
  private failed(close: Omit<ClientCloseEvent, 'willReconnect'>): void {
    if (this.resumeRetiring()) return;
    this.attempt += 1;
    const attempt = this.attempt;
    if (attempt > this.backoff.maxAttempts) {
      this.current = 'closed';
      this.emitter.emit('close', { ...close, willReconnect: false });
      this.reportUnsent();
      return;
    }
    this.current = 'reconnecting';
    const delayMs = backoffDelay(attempt, this.backoff);
    const generation = this.generation;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.attemptConnection('reconnecting');
    }, delayMs);
    this.emitter.emit('close', { ...close, willReconnect: true });
    // A 'close' listener may have called close() (or connect() would not: it is a no-op here).
    if (this.generation === generation) this.emitter.emit('reconnecting', { attempt, delayMs });
  }

  private stopTimers(): void {
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.stableTimer);
    clearTimeout(this.renewTimer);
    this.retryTimer = undefined;
    this.heartbeatTimer = undefined;
    this.stableTimer = undefined;
    this.renewTimer = undefined;
  }

  private reportUnsent(): void {
    const unsent = this.queue.takeAll();
    if (unsent.length > 0) this.emitter.emit('error', new ClientUnsentError(unsent));
  }
}
