/**
 * The client's connection, whatever it carries: connect with a fresh token, reconnect with
 * backoff and full jitter, the heartbeat, the renewal before API Gateway's 2-hour limit, and
 * the queue of what is sent while not open. The client (./index.ts) builds on it: what a
 * connection is for (rooms, requests) comes in through the hooks at the end.
 */
import { backoffDelay, backoffSettings } from './backoff';
import type { Backoff } from './backoff';
import type { ClientCommand as Command } from './commands';
import { Emitter } from './emitter';
import { ClientClosedError, ClientSocketError, ClientTokenError, ClientUnsentError } from './errors';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_QUEUE_LIMIT, DEFAULT_RENEW_AFTER_MS, HEARTBEAT_CLOSE_CODE } from './options';
import type { ClientCloseEvent, ClientEvents, ClientState, RealtimeClientOptions, TokenProvider } from './options';
import { SendQueue } from './queue';
import { Handover } from './renewal';
import { senderFor } from './outgoing';
import type { Sender } from './outgoing';
import { describeErrorEvent, detach, globalWebSocket, OPEN } from './socket';
import type { WebSocketConstructor, WebSocketLike } from './socket';

export function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be an integer >= 0, got ${value}`);
  return value;
}

function withToken(url: string, token: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

export abstract class Connection {
  private readonly url: string;
  private readonly tokenProvider: TokenProvider | undefined;
  private readonly WebSocket: WebSocketConstructor;
  /** In frames of at most 32 KB where the WebSocket can split a message (./outgoing.ts). */
  protected readonly sender: Sender;
  private readonly backoff: Backoff;
  private readonly heartbeatMs: number;
  private readonly renewAfterMs: number;

  protected readonly emitter = new Emitter<ClientEvents>();
  protected readonly queue: SendQueue;
  protected readonly queueLimit: number;
  protected socket: WebSocketLike | undefined;
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
  protected readonly handover = new Handover((old) => this.gone(old));
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
    this.queueLimit = checkCount('queueLimit', options.queueLimit ?? DEFAULT_QUEUE_LIMIT);
    this.queue = new SendQueue(this.queueLimit);
    this.renewAfterMs = checkCount('renewAfterMs', options.renewAfterMs ?? DEFAULT_RENEW_AFTER_MS);
  }

  get state(): ClientState {
    return this.current;
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
  /**
   * Sends now when open, else queues (up to queueLimit). Refusals throw, so that nothing is
   * lost silently: ClientClosedError after close(), ClientQueueFullError beyond the limit,
   * ClientMessageTooLargeError for what API Gateway would close the connection for.
   */
  protected sendCommand(command: Command): void {
    const text = JSON.stringify(command);
    this.refuseWhenClosed();
    this.sender.check(text);
    if (this.isOpen()) {
      this.sender.send(this.socket as WebSocketLike, text);
      return;
    }
    this.queue.push(text);
  }
  protected refuseWhenClosed(): void {
    if (this.current === 'closed') throw new ClientClosedError();
  }
  /** Open, and the socket agrees: a browser socket that is closing drops what it is given without a word. */
  protected isOpen(): boolean {
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
    this.gone(socket);
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
   * Rooms first (`rejoin`), then the queue in order, then what the client held (`flushed`), then the heartbeat; 'open' once all of it is on its
   * way. The backoff starts again only once the connection has stayed open a while.
   */
  private opened(socket: WebSocketLike, { resumed = false } = {}): void {
    this.current = 'open';
    this.stableTimer = setTimeout(() => {
      if (this.socket === socket) this.attempt = 0;
    }, this.backoff.stableAfterMs);
    if (this.renewAfterMs > 0) this.renewTimer = setTimeout(() => this.renew(socket), this.renewAfterMs);
    this.rejoin(socket, resumed);
    this.queue.flush(socket, this.sender.send);
    this.flushed();
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
    const unsent = [...this.queue.takeAll(), ...this.unsent()];
    if (unsent.length > 0) this.emitter.emit('error', new ClientUnsentError(unsent));
  }

  /** A frame arrived on the current connection (or on a renewal's old one). */
  protected abstract received(data: unknown): void;
  /** A connection opened (`resumed`: a renewal's old one goes on): before the queue is sent. */
  protected abstract rejoin(socket: WebSocketLike, resumed: boolean): void;
  /** The queue was sent on a connection that opened: what the client held besides may go now. */
  protected abstract flushed(): void;
  /** A connection is gone (dropped, or a renewal's old one retired): what it carried unanswered is lost. */
  protected abstract gone(socket: WebSocketLike): void;
  /** On close, what the client held besides the queue, as the JSON texts that were never sent. */
  protected abstract unsent(): string[];
}
