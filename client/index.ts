/**
 * A typed client for this service, for browsers (the global WebSocket) and Node (the `ws`
 * package's WebSocket, passed in): it reconnects with backoff and full jitter, rejoins its
 * rooms, keeps the connection alive with `ping`, asks for a fresh token before every
 * connect, and queues what is sent while it is not open (bounded, refused loudly beyond).
 * docs/client.md is its reference and shows it in use.
 *
 * No runtime dependency: what it shares with the server (src/chat/frames.ts, src/chat/protocol.ts)
 * it imports as types only, which compile to nothing; the one piece of code it shares is the
 * backoff (src/backoff.ts), pure and bundled with it.
 */
import type { Command } from '../src/chat/protocol';
import type { ServerMessage } from '../src/chat/frames';
import { backoffDelay, backoffSettings } from './backoff';
import type { Backoff, ReconnectOptions } from './backoff';
import { Emitter } from './emitter';
import {
  ClientClosedError,
  ClientQueueFullError,
  ClientSocketError,
  ClientTokenError,
  ClientUnsentError,
} from './errors';
import { parseFrame } from './frames';
import { describeErrorEvent, globalWebSocket, OPEN } from './socket';
import type { WebSocketConstructor, WebSocketLike } from './socket';

export type { ReconnectOptions } from './backoff';
export {
  ClientClosedError,
  ClientFrameError,
  ClientQueueFullError,
  ClientSocketError,
  ClientTokenError,
  ClientUnsentError,
} from './errors';
export { isServerMessage, parseFrame } from './frames';
export { describeError, forbiddenDetails } from './refusals';
export type { WebSocketConstructor, WebSocketLike } from './socket';
export type * from '../src/chat/frames';

/** What a message may carry: any JSON value (the protocol's `data`, src/chat/protocol.ts). */
export type MessageData = Extract<Command, { action: 'sendmessage' }>['data'];

/** Returns the token to connect with; nothing (or '') connects without one. May be async. */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

export interface RealtimeClientOptions {
  /** ws://localhost:3001 locally, wss://<api>.execute-api.<region>.amazonaws.com/<stage> deployed. */
  url: string;
  /** Called before every connect and reconnect, so that an expiring token is replaced; sent as `?token=`. */
  token?: TokenProvider;
  /** The WebSocket class: the global one by default (browsers); `import WebSocket from 'ws'` in Node. */
  WebSocket?: WebSocketConstructor;
  reconnect?: ReconnectOptions;
  /**
   * A `ping` this often while open; 0: none. Default 5 minutes: API Gateway closes a
   * connection after 10 minutes without a message, and background tabs' timers run late.
   * A connection that sent nothing back between two pings is taken for dead (a laptop that
   * slept, a network that changed: the socket may not notice for many minutes), closed
   * with HEARTBEAT_CLOSE_CODE and reconnected.
   */
  heartbeatMs?: number;
  /** Messages kept while not open, sent in order on open; 0 refuses them. Default 100. */
  queueLimit?: number;
}

/**
 * `connecting`: the first attempt after connect(); `reconnecting`: waiting for, or making, a
 * retry after a drop or a failed attempt; `closed`: after close(), or when the retries are spent.
 */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientCloseEvent {
  /**
   * The socket's close code, or the client's own: 1000 after close(), HEARTBEAT_CLOSE_CODE for
   * a connection found dead, 1006 when no socket was made (the token provider failed).
   */
  code: number;
  reason: string;
  /** Whether a retry is scheduled (a 'reconnecting' event follows). */
  willReconnect: boolean;
  /** False when the attempt never opened: a refused handshake (403 with a bad token), an unreachable URL. */
  wasOpen: boolean;
}

export interface ClientReconnectingEvent {
  /** 1 for the first retry after a drop; reset by every successful open. */
  attempt: number;
  delayMs: number;
}

export interface ClientEvents {
  /** Every (re)connect, after the remembered rooms' joins and the queued messages were sent. */
  open: undefined;
  close: ClientCloseEvent;
  reconnecting: ClientReconnectingEvent;
  message: ServerMessage;
  error: Error;
}

export const DEFAULT_HEARTBEAT_MS = 5 * 60_000;
export const DEFAULT_QUEUE_LIMIT = 100;
/** The close code of a connection the heartbeat found dead (4000-4999: for applications, RFC 6455 7.4.2). */
export const HEARTBEAT_CLOSE_CODE = 4000;

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
  private readonly backoff: Backoff;
  private readonly heartbeatMs: number;
  private readonly queueLimit: number;

  private readonly emitter = new Emitter<ClientEvents>();
  private readonly joined = new Set<string>();
  /** JSON texts waiting for an open socket, oldest first. */
  private readonly queue: string[] = [];
  private socket: WebSocketLike | undefined;
  private current: ClientState = 'idle';
  /** Failed attempts and drops since the last successful open. */
  private attempt = 0;
  /** Bumped by every attempt and by close(): a token that arrives for an older one is ignored. */
  private generation = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
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
    this.backoff = backoffSettings(options.reconnect);
    this.heartbeatMs = checkCount('heartbeatMs', options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    this.queueLimit = checkCount('queueLimit', options.queueLimit ?? DEFAULT_QUEUE_LIMIT);
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
    if (socket) {
      detach(socket);
      try {
        socket.close(1000, 'closed by the client');
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
    this.joined.add(room);
    if (this.isOpen()) this.sendCommand({ action: 'join', room });
  }

  /** Leaves a room and forgets it; while not open there is nothing to send (a new connection is in no room). */
  leave(room: string): void {
    this.refuseWhenClosed();
    this.joined.delete(room);
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
   * lost silently: ClientClosedError after close(), ClientQueueFullError beyond the limit.
   */
  private sendCommand(command: Command): void {
    const text = JSON.stringify(command);
    this.refuseWhenClosed();
    if (this.isOpen()) {
      (this.socket as WebSocketLike).send(text);
      return;
    }
    if (this.queue.length >= this.queueLimit) throw new ClientQueueFullError(this.queueLimit);
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
    this.socket = undefined;
    detach(socket);
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

  /** Rooms first, then the queue in order, then the heartbeat; 'open' once all of it is on its way. */
  private opened(socket: WebSocketLike): void {
    this.current = 'open';
    this.attempt = 0;
    for (const room of this.joined) socket.send(JSON.stringify({ action: 'join', room } satisfies Command));
    while (this.queue.length > 0 && socket.readyState === OPEN) {
      socket.send(this.queue[0] as string);
      this.queue.shift();
    }
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
    this.emitter.emit('message', message);
  }

  /**
   * An attempt failed or an open connection dropped: retry after a jittered delay, or give
   * up once `maxAttempts` retries in a row failed. A refused handshake (403: a bad or expired
   * token) is retried like any failure, since the next token may be good; it is never a tight
   * loop: delays grow until a connection opens, and maxAttempts bounds the retries.
   */
  private failed(close: Omit<ClientCloseEvent, 'willReconnect'>): void {
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
    this.retryTimer = undefined;
    this.heartbeatTimer = undefined;
  }

  private reportUnsent(): void {
    if (this.queue.length === 0) return;
    this.emitter.emit('error', new ClientUnsentError(this.queue.splice(0)));
  }
}

/**
 * A socket we are done with must not call back into the client. Its error handler stays, as
 * a no-op: `ws` emits 'error' when a socket still connecting is closed, and an 'error' with
 * no listener would be thrown as an uncaught exception and end a Node process.
 */
function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onerror = ignore;
  socket.onclose = null;
}

function ignore(): void {}
