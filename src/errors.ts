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
  override readonly name: string = 'StoreError';
  constructor(
    message: string,
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * MySQL refused every password the database secret offered (AWSCURRENT read again, and
 * AWSPENDING) until the operation's budget ran out: a rotation that has not settled yet, or a
 * secret that does not match the server. A StoreError (the store could not be used, nothing was
 * written), named apart so that the logs tell it from a database that is down.
 */
export class DatabasePasswordError extends StoreError {
  override readonly name = 'DatabasePasswordError';
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

/** An event from an API, host or stage that is not ours: refused, nothing stored or posted. */
export class ForeignEventError extends Error {
  override readonly name = 'ForeignEventError';
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
  /** The rights would not fit: in the authorizer's answer (API Gateway's 8 KB), or in the token's URL (4,096 characters). */
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

/** Whose failure it is: the caller's (bad input, bad token), our own setup's, or a service we depend on. */
export type FailureSide = 'client' | 'ours' | 'dependency';

/**
 * What every route makes of an error: one table, so the socket, the publish function,
 * `POST /publish` and the authorizer cannot drift apart.
 */
export interface Failure {
  /** The status code the route returns (to API Gateway, or to an HTTP caller). */
  status: number;
  /** The code a client's error frame carries: the protocol's own for bad input, else these two. */
  code: string;
  side: FailureSide;
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * The failure table (docs/operations.md#failure-replies renders it). `unavailable` tells a
 * client that trying again may work (a dependency failed); `internal` that it will not. The
 * store and the secrets are failures of our own stack, answered 500, as the handshake has always
 * answered them; the management API and anything unnamed are 502, as API Gateway answers a
 * function that fails.
 */
export const FAILURE_TABLE: ReadonlyArray<readonly [ErrorClass, Failure]> = [
  [TokenError, { status: 403, code: 'auth_required', side: 'client' }],
  [ForeignEventError, { status: 403, code: 'forbidden', side: 'client' }],
  [ConfigError, { status: 500, code: 'internal', side: 'ours' }],
  [CredentialsError, { status: 500, code: 'internal', side: 'ours' }],
  [DatabasePasswordError, { status: 500, code: 'unavailable', side: 'dependency' }],
  [StoreError, { status: 500, code: 'unavailable', side: 'dependency' }],
  [SecretError, { status: 500, code: 'unavailable', side: 'dependency' }],
  [KeySetError, { status: 500, code: 'unavailable', side: 'dependency' }],
  [StaleConnectionError, { status: 502, code: 'unavailable', side: 'dependency' }],
  [DeliveryError, { status: 502, code: 'unavailable', side: 'dependency' }],
  [PostTimeoutError, { status: 502, code: 'unavailable', side: 'dependency' }],
];

/** An error no row names: a bug of ours, told to the client as `internal`. */
export const UNNAMED_FAILURE: Failure = { status: 502, code: 'internal', side: 'ours' };

/** The table's row for `error`; bad input keeps its own code (413 for a payload too large, else 400). */
export function failureOf(error: unknown): Failure {
  if (error instanceof BadMessageError) {
    return { status: error.code === 'payload_too_large' ? 413 : 400, code: error.code, side: 'client' };
  }
  for (const [type, failure] of FAILURE_TABLE) if (error instanceof type) return failure;
  return UNNAMED_FAILURE;
}

/** The error frame for input we refuse: the one shape the socket, the publish function and POST /publish send. */
export function refusalFrame(error: BadMessageError): {
  type: 'error';
  code: string;
  message: string;
  details?: unknown;
} {
  return {
    type: 'error',
    code: error.code,
    message: error.message,
    ...(error.details === undefined ? {} : { details: error.details }),
  };
}

/**
 * An error as one line of text for another error's message: its `code` (a Node or driver
 * code such as ECONNREFUSED) or its `name` when either says more than "Error", then its message.
 */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return `${code}: ${error.message}`;
  return error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
}
