/**
 * Who may connect: the `$connect` authorizer. A client presents a JWT in the `token`
 * query-string parameter (browsers cannot set headers on a WebSocket); it must be
 * HS256-signed with the shared secret, unexpired, already valid, carry a `sub`, and
 * match the configured issuer and audience. The `sub` becomes the policy's principalId,
 * which API Gateway hands to every later event of the connection (src/handler.ts).
 *
 * Refusals are Deny policies rather than thrown errors: API Gateway and
 * serverless-offline both answer a Deny with 403, whereas a thrown "Unauthorized" is a
 * 401 in AWS but a 500 offline.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { SignJWT, errors, jwtVerify } from 'jose';
import type { AuthSettings } from './config';
import { TokenError } from './errors';
import { log } from './log';

/** The only algorithm accepted: a token may not choose its own (`none`, HS512, RS256 with our key...). */
export const ALGORITHM = 'HS256';

/** The `subject` column is VARCHAR(255); a longer `sub` could not be stored. */
export const MAX_SUBJECT_LENGTH = 255;

/**
 * Half of a UTF-16 surrogate pair with no other half (`"\ud800"` in the token's JSON). It
 * has no UTF-8 form: replies carry it escaped while the store re-encodes it (U+FFFD or
 * `?`), so one user would show under two names. In Unicode mode `\p{Cs}` matches only unpaired halves:
 * `!subject.isWellFormed()` on ES2024, which our ES2022 target does not type.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** Far above any honest token; refuses absurd inputs before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;

export interface VerifiedToken {
  subject: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export interface VerifyOptions {
  /** The time to check `exp` and `nbf` against (tests); defaults to now. */
  now?: Date;
}

function refusalOf(error: unknown): TokenError {
  if (error instanceof TokenError) return error;
  if (error instanceof errors.JWTExpired) return new TokenError('expired', 'token has expired', { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && error.reason === 'check_failed') {
      return new TokenError('not_yet_valid', 'token is not valid yet', { cause: error });
    }
    return new TokenError('bad_claims', `token claim "${error.claim}" is ${error.reason}`, { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new TokenError('bad_algorithm', `only ${ALGORITHM} tokens are accepted`, { cause: error });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenError('bad_signature', 'token signature does not verify', { cause: error });
  }
  return new TokenError('malformed', 'token is not a well-formed JWT', { cause: error });
}

/**
 * Verifies a token; throws TokenError saying why it is refused. `exp` is required: a
 * token that never expires could not be withdrawn short of changing the secret.
 */
export async function verifyToken(
  token: string | undefined,
  settings: AuthSettings,
  options: VerifyOptions = {},
): Promise<VerifiedToken> {
  if (token === undefined || token === '') throw new TokenError('missing', 'no token');
  if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('malformed', 'token is too long');
  try {
    const { payload } = await jwtVerify(token, settings.secret, {
      algorithms: [ALGORITHM],
      requiredClaims: ['exp', 'sub'],
      clockTolerance: settings.clockToleranceSec,
      ...(settings.issuer === undefined ? {} : { issuer: settings.issuer }),
      ...(settings.audience === undefined ? {} : { audience: settings.audience }),
      ...(options.now === undefined ? {} : { currentDate: options.now }),
    });
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject.trim() === '') {
      throw new TokenError('bad_subject', 'token has no subject');
    }
    if (subject.length > MAX_SUBJECT_LENGTH) {
      throw new TokenError('bad_subject', `token subject is longer than ${MAX_SUBJECT_LENGTH} characters`);
    }
    if (LONE_SURROGATE.test(subject)) {
      throw new TokenError('bad_subject', 'token subject is not well-formed Unicode (it has a lone surrogate)');
    }
    return { subject, expiresAt: payload.exp as number };
  } catch (error) {
    throw refusalOf(error);
  }
}

export interface MintOptions {
  subject: string;
  /** Lifetime in seconds. */
  ttlSec: number;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Defaults to now; `iat` and `nbf` are set to it. */
  now?: Date;
}

/** Signs a token the authorizer accepts (`npm run token`, tests). */
export async function mintToken(secret: Uint8Array, options: MintOptions): Promise<string> {
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + options.ttlSec);
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  return jwt.sign(secret);
}

function policy(principalId: string, effect: 'Allow' | 'Deny', methodArn: string): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: methodArn }],
    },
  };
}

/**
 * The REQUEST authorizer's answer for one `$connect`: Allow on exactly this route's ARN
 * for a good token, Deny otherwise. The refusal is logged with its reason, never with
 * the token (it is a credential until it expires).
 */
export async function authorizeConnect(
  event: APIGatewayRequestAuthorizerEvent,
  settings: AuthSettings,
): Promise<APIGatewayAuthorizerResult> {
  const connectionId = event.requestContext?.connectionId;
  try {
    const { subject } = await verifyToken(event.queryStringParameters?.token ?? undefined, settings);
    log.info('connection authorized', { route: '$connect', connectionId, subject });
    return policy(subject, 'Allow', event.methodArn);
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    log.warn('connection refused', {
      route: '$connect',
      connectionId,
      reason: error.reason,
      sourceIp: event.requestContext?.identity?.sourceIp,
      error,
    });
    // API Gateway requires a principalId even on a Deny; this one is never stored.
    return policy('anonymous', 'Deny', event.methodArn);
  }
}
