/**
 * The client's typed errors. The application tells them apart by class (`instanceof`) or
 * by `name`; each keeps what it is about (the limit, the frame, the cause).
 */
import type { ErrorCode, ErrorFrame } from '../src/chat/frames';

/**
 * A message was refused because the client already holds `limit` messages it could not send
 * yet (or the limit is 0): commands queued while not open, or publishes held (`held`: not
 * open, or waiting for their room's join or for an earlier publish's number).
 */
export class ClientQueueFullError extends Error {
  override readonly name = 'ClientQueueFullError';
  constructor(
    readonly limit: number,
    held = false,
  ) {
    super(
      limit === 0
        ? 'the client is not open and queues nothing (queueLimit: 0); the message was not sent'
        : held
          ? `the client already holds ${limit} publishes it cannot send yet (queueLimit); the message was not sent`
          : `the client is not open and its send queue is full (${limit} messages); the message was not sent`,
    );
  }
}

/** A message was refused because `close()` was called (or reconnecting gave up): nothing will send it. */
export class ClientClosedError extends Error {
  override readonly name = 'ClientClosedError';
  constructor() {
    super('the client is closed; the message was not sent (call connect() to open it again)');
  }
}

/**
 * Messages that were queued when the client closed (by `close()` or by giving up after
 * `maxAttempts`) and were never sent: reported once through the 'error' event, never dropped silently.
 */
export class ClientUnsentError extends Error {
  override readonly name = 'ClientUnsentError';
  /** The unsent messages, as the JSON text that would have been sent, oldest first. */
  constructor(readonly unsent: readonly string[]) {
    super(`${unsent.length} queued message(s) were not sent: the client closed before it was open again`);
  }
}

/** A frame from the service that is not a message this client knows (bad JSON, unknown type, missing field). */
export class ClientFrameError extends Error {
  override readonly name = 'ClientFrameError';
  constructor(
    message: string,
    /** The frame as received (text), or a description of a binary one. */
    readonly frame: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The token provider threw or rejected: this connection attempt fails and is retried with backoff. */
export class ClientTokenError extends Error {
  override readonly name = 'ClientTokenError';
  constructor(options: { cause: unknown }) {
    super('the token provider failed; the connection will be retried', options);
  }
}

/** The socket reported an error (a refused handshake, a network failure); its close event follows. */
export class ClientSocketError extends Error {
  override readonly name = 'ClientSocketError';
}

/** The service answered a request (a publish, a page of history) with an error frame: nothing was done. */
export class ClientRefusedError extends Error {
  override readonly name = 'ClientRefusedError';
  /** The error frame's code: `forbidden`, `not_member`, `payload_too_large`, `unavailable`... */
  readonly code: ErrorCode;
  constructor(readonly frame: ErrorFrame) {
    super(`the service refused the ${frame.action ?? 'request'}: ${frame.code}: ${frame.message}`);
    this.code = frame.code;
  }
}

/**
 * No answer came in time: for a publish, within its timeout of being sent (it may still be
 * delivered: the service may be slow, or its answer lost); for history, of being asked.
 */
export class ClientTimeoutError extends Error {
  override readonly name = 'ClientTimeoutError';
  constructor(
    /** What was asked: `publish` or `history`. */
    readonly action: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer to the ${action} within ${timeoutMs} ms`);
  }
}

/**
 * A publish was sent, and its connection closed before the service answered: it may or may
 * not have been published (the room's history tells). It is not sent again, which could
 * publish it twice.
 */
export class ClientAnswerLostError extends Error {
  override readonly name = 'ClientAnswerLostError';
  constructor(readonly room: string) {
    super(
      `the connection closed before the service answered a publish to ${room}: it may or may not have been published`,
    );
  }
}

/**
 * A message was refused before it was sent because API Gateway would close the connection for
 * it (code 1009): over 32 KB where the WebSocket sends each message as one frame (a browser),
 * or over 128 KB anywhere. The connection stays open; nothing was sent or queued.
 */
export class ClientMessageTooLargeError extends Error {
  override readonly name = 'ClientMessageTooLargeError';
  constructor(
    /** The message's size in bytes of UTF-8, as it would have been sent. */
    readonly size: number,
    /** The largest message this client can send, in bytes of UTF-8. */
    readonly limit: number,
    /** `frame`: too large for one frame, and this WebSocket cannot split it; `message`: too large for any. */
    readonly exceeds: 'frame' | 'message',
  ) {
    super(
      exceeds === 'frame'
        ? `the message is ${size} bytes, and this WebSocket sends a message as one frame (a browser's cannot ` +
            `split one): API Gateway takes frames of at most ${limit} bytes and would close the connection; nothing was sent`
        : `the message is ${size} bytes: API Gateway takes messages of at most ${limit} bytes and would close ` +
            'the connection; nothing was sent',
    );
  }
}

/**
 * A frame API Gateway itself sent instead of the service, `{"message":…,"connectionId":…,"requestId":…}`:
 * "Too Many Requests" when the stage's throttling dropped a message (send it again later), or
 * "Internal server error" when the service's function failed. The connection stays open.
 */
export class ClientGatewayError extends Error {
  override readonly name = 'ClientGatewayError';
  /** Whether the message was dropped by throttling (and may be sent again after a while). */
  readonly throttled: boolean;
  constructor(
    /** API Gateway's own words, e.g. "Too Many Requests". */
    readonly gatewayMessage: string,
    readonly requestId: string | undefined,
    /** The frame as received. */
    readonly frame: string,
  ) {
    const throttled = gatewayMessage === 'Too Many Requests';
    super(
      throttled
        ? 'API Gateway dropped a message: Too Many Requests (the stage is throttled; send it again later)'
        : `API Gateway answered a message itself: ${gatewayMessage}`,
    );
    this.throttled = throttled;
  }
}
