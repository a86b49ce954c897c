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
  | 'bad_subject'
  | 'unknown_key'
  | 'too_long_lived'
  /** The rooms claim is not a rights map (src/auth/rooms.ts). */
  | 'bad_rooms'
  /** The rights would not fit in the authorizer's answer (API Gateway's 8 KB). */
  | 'rooms_too_large';

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
 * The identity provider's key set (JWKS) could not be had: the fetch timed out, failed or
 * did not return a key set. Our dependency failed, not the token: the authorizer lets it
 * through as an error (the handshake fails with 500) instead of blaming the client.
 */
export class KeySetError extends Error {
  override readonly name = 'KeySetError';
}

/**
 * A post got no complete answer in time and was aborted. It travels as the `cause` of a
 * DeliveryError: the endpoint may be stuck or slow, so it is retryable within the deadline.
 */
export class PostTimeoutError extends Error {
  override readonly name = 'PostTimeoutError';
  constructor(
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`no complete answer from the management API within ${timeoutMs} ms`, options);
  }
}

/**
 * No AWS credentials to sign with (Lambda always sets them for the function's role).
 * Our own setup is wrong: the route answers 500, at once, instead of looking elsewhere.
 */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
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
