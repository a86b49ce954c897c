/**
 * The client's settings, states and events, and the defaults and limits it works with
 * (client/index.ts exports every one of them).
 */
import type { ServerMessage } from '../src/chat/frames';
import type { ReconnectOptions } from './backoff';
import type { GapEvent, ResetEvent } from './rooms';
import type { WebSocketConstructor } from './socket';

export type { ClientCommand, DeliveryOptions, MessageData } from './commands';

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
  /**
   * How long a room frame that arrived early waits for those before it before the client
   * asks the service's history for them. Default 1 s.
   */
  reorderWaitMs?: number;
  /**
   * After this long open, the client opens its next connection, rejoins there, and closes
   * the old one once the joins are answered: API Gateway ends every connection after 2
   * hours, and a connection it ends loses what is sent until the next one is up. 0: never.
   * Default 110 minutes.
   */
  renewAfterMs?: number;
  /**
   * How long a publish waits for its answer (the delivery summary, with its number) once
   * sent, before it fails with ClientTimeoutError and the room's next ordered publish goes.
   * Default 30 s: the message function's own limit is 29 s, and a large room's fan-out ends
   * before its summary is sent.
   */
  publishTimeoutMs?: number;
}

/** The standard AbortSignal's part that history() uses (browsers and Node have it; no DOM types needed). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
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
  /** 1 for the first retry after a drop; reset once a connection has stayed open `reconnect.stableAfterMs`. */
  attempt: number;
  delayMs: number;
}

export interface ClientEvents {
  /** Every (re)connect, after the remembered rooms' joins and the queued messages were sent. */
  open: undefined;
  close: ClientCloseEvent;
  reconnecting: ClientReconnectingEvent;
  /**
   * Every frame but `history` answers (their frames come one by one, in order, as `message`).
   * A room's numbered frames come once each and in `seq` order; every frame with an `id`
   * comes once.
   */
  message: ServerMessage;
  /**
   * Some of a room's messages could not be recovered: history no longer had them, or did not
   * give them after HISTORY_MAX_ASKS requests.
   */
  gap: GapEvent;
  /**
   * A room's numbers went back (the service's store was replaced, so its count started again):
   * the room's frames go on in the service's count, none taken for a repeat of the old one.
   */
  reset: ResetEvent;
  error: Error;
}

export const DEFAULT_HEARTBEAT_MS = 5 * 60_000;
export const DEFAULT_QUEUE_LIMIT = 100;
export const DEFAULT_REORDER_WAIT_MS = 1_000;
export const DEFAULT_RENEW_AFTER_MS = 110 * 60_000;
export const DEFAULT_PUBLISH_TIMEOUT_MS = 30_000;
/**
 * A publish or history request about a room waits for the room's join to be answered on the
 * connection (else it could overtake the join and be refused), but no longer than this: a
 * join whose answer was lost does not hold them for ever.
 */
export const JOIN_WAIT_MS = 10_000;
/** An unanswered history request is asked again after this long. */
export const HISTORY_TIMEOUT_MS = 10_000;
/**
 * History requests for one hole in a room's count, answered or not, before the client gives
 * it up as a `gap` and goes on: a hole costs at most this many requests, and lasts
 * 4 x `reorderWaitMs` when they are answered at once (3 x HISTORY_TIMEOUT_MS when not).
 */
export const HISTORY_MAX_ASKS = 3;
/** A renewal's old connection is closed after this long even when not every join was answered. */
export const HANDOVER_TIMEOUT_MS = 10_000;
/** Ids remembered to drop repeats: far more than the frames of one burst of retries. */
export const SEEN_IDS = 2_000;
/** API Gateway's WebSocket frame size quota: 32 KB of payload (client/outgoing.ts). */
export const MAX_FRAME_BYTES = 32 * 1024;
/** API Gateway's message payload size quota, 128 KB: the service's MAX_MESSAGE_BYTES too. */
export const MAX_MESSAGE_BYTES = 128 * 1024;
/** The close code of a connection the heartbeat found dead (4000-4999: for applications, RFC 6455 7.4.2). */
export const HEARTBEAT_CLOSE_CODE = 4000;
