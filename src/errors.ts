/**
 * Typed errors. Callers act on the class (`instanceof`), logs carry the `name`,
 * and the original failure travels on as `cause`. None of these is ever sent to a
 * client verbatim: replies use `code` and a fixed message.
 */

/** A setting is missing or unusable. Raised at cold start so the log says which. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The connection store could not do what was asked (database down, timeout, bad schema). */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    message: string,
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** API Gateway answered 410 Gone: the connection no longer exists and its row must go. */
export class StaleConnectionError extends Error {
  override readonly name = 'StaleConnectionError';
  constructor(
    readonly connectionId: string,
    options?: { cause?: unknown },
  ) {
    super(`connection ${connectionId} is gone (410)`, options);
  }
}

/** Any other failure to post to a connection. `retryable` for throttling and 5xx. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    readonly connectionId: string,
    readonly statusCode: number | undefined,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(
      `posting to connection ${connectionId} failed` + (statusCode === undefined ? '' : ` with status ${statusCode}`),
      options,
    );
  }
}

/** The message a client sent cannot be acted on. Its `code` and `message` go back to that client. */
export class BadMessageError extends Error {
  override readonly name = 'BadMessageError';
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Why a token is refused. Logged (never the token itself); the client only sees the handshake fail. */
export type TokenRefusal =
  | 'missing'
  | 'malformed'
  | 'bad_algorithm'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_claims'
  | 'bad_subject';

/** A `$connect` token that does not let the connection in. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly reason: TokenRefusal,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A secret could not be read from Secrets Manager (denied, missing, throttled, timed out,
 * or not in the expected shape). A failing dependency: the route answers 500.
 */
export class SecretError extends Error {
  override readonly name = 'SecretError';
  constructor(
    message: string,
    /** The secret's ARN or name (never its value). */
    readonly secretId: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
