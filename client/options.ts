/**
 * The client's settings, states and events, and the defaults and limits it works with
 * (client/index.ts exports every one of them).
 */
import type { Command } from '../src/chat/protocol';
import type { ServerMessage } from '../src/chat/frames';
import type { ReconnectOptions } from './backoff';
import type { GapEvent } from './rooms';
import type { WebSocketConstructor } from './socket';

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
  /** Some of a room's messages were lost: the service's history no longer had them. */
  gap: GapEvent;
  error: Error;
}

export const DEFAULT_HEARTBEAT_MS = 5 * 60_000;
export const DEFAULT_QUEUE_LIMIT = 100;
export const DEFAULT_REORDER_WAIT_MS = 1_000;
export const DEFAULT_RENEW_AFTER_MS = 110 * 60_000;
/** An unanswered history request is asked again after this long. */
export const HISTORY_TIMEOUT_MS = 10_000;
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
