/**
 * Who may connect: the `$connect` authorizer. A client presents a JWT in the `token`
 * query-string parameter (browsers cannot set headers on a WebSocket). Two modes, never
 * mixed (src/auth/settings.ts): HS256 signed with the shared secret, or RS256/ES256 signed by an
 * identity provider whose public keys are fetched from its JWKS URL. Either way the token
 * must be unexpired, already valid, issued (`iat`) within the maximum token age and live
 * no longer than it, carry a `sub`, and match the configured issuer and audience. The
 * `sub` becomes the policy's principalId, which API Gateway hands to every later event of
 * the connection (src/handler.ts).
 *
 * Refusals are Deny policies rather than thrown errors: API Gateway and
 * serverless-offline both answer a Deny with 403, whereas a thrown "Unauthorized" is a
 * 401 in AWS but a 500 offline.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { SignJWT, createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import type { AuthSettings, KeySetSettings } from './settings';
import { errorText, KeySetError, TokenError } from '../errors';
import { log } from '../log';
import { encodeRights, parseRights, ROOMS_CONTEXT_KEY, RoomsClaimError } from './rooms';
import { MAX_SUBJECT_LENGTH, subjectProblem } from './subject';
import type { RoomRights } from './rooms';

/** The only algorithm of the secret mode: a token may not choose its own (`none`, HS512, RS256...). */
export const ALGORITHM = 'HS256';

/**
 * The algorithms of the JWKS mode: asymmetric only, so that a public key from the key set
 * can never be used as an HMAC secret (a token "signed" HS256 with the public key).
 */
export const JWKS_ALGORITHMS = ['RS256', 'ES256'];

export { MAX_SUBJECT_LENGTH };

/**
 * API Gateway limits a WebSocket authorizer's whole answer (policy and context) to 8 KB;
 * a larger one fails the handshake with a 500 that says nothing. We refuse it ourselves.
 */
export const MAX_AUTHORIZER_RESULT_BYTES = 8192;

/**
 * The token travels in the handshake's URL, which API Gateway takes up to 4,096 characters (its
 * quota for a WebSocket API): a longer token never reaches the authorizer in AWS, and is refused
 * alike locally, before any verification. An Entra ID token with groups is ~2-3 KB.
 */
export const MAX_TOKEN_LENGTH = 4096;

export interface VerifiedToken {
  subject: string;
  /** The token's rooms claim, or the default rights when it has none (src/auth/rooms.ts). */
  rooms: RoomRights;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export interface VerifyOptions {
  /** The time to check `exp`, `nbf` and `iat` against (tests); defaults to now. */
  now?: Date;
}

function algorithmsOf(settings: AuthSettings): string[] {
  return settings.mode === 'jwks' ? JWKS_ALGORITHMS : [ALGORITHM];
}

function refusalOf(error: unknown, settings: AuthSettings): TokenError {
  if (error instanceof TokenError) return error;
  if (error instanceof errors.JWTExpired) {
    if (error.claim === 'iat') {
      return new TokenError('too_long_lived', `token was issued more than ${settings.maxTokenAgeSec} s ago`, {
        cause: error,
      });
    }
    return new TokenError('expired', 'token has expired', { cause: error });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if ((error.claim === 'nbf' || error.claim === 'iat') && error.reason === 'check_failed') {
      return new TokenError('not_yet_valid', `token is not valid yet ("${error.claim}" is in the future)`, {
        cause: error,
      });
    }
    return new TokenError('bad_claims', `token claim "${error.claim}" is ${error.reason}`, { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return new TokenError('bad_algorithm', `only ${algorithmsOf(settings).join(' or ')} tokens are accepted`, {
      cause: error,
    });
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenError('bad_signature', 'token signature does not verify', { cause: error });
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new TokenError('unknown_key', "token's key is not in the identity provider's key set", { cause: error });
  }
  return new TokenError('malformed', 'token is not a well-formed JWT', { cause: error });
}

/**
 * An agent whose every request has a hard deadline. jose bounds a key-set fetch only until
 * the response headers arrive (its `timeoutDuration` is a socket idle timeout raced
 * against 'response'): a server that sends headers and then trickles or withholds the
 * body would hold the authorizer until Lambda killed it. Without keep-alive each request
 * has a socket of its own, destroyed when the deadline passes, which fails the fetch at
 * whatever stage it is.
 */
function deadlineAgent(url: URL, timeoutMs: number): HttpAgent {
  const agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    const socket = create(options, callback);
    if (socket) {
      const timer = setTimeout(
        () => socket.destroy(new KeySetError(`no complete key set within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.once('close', () => clearTimeout(timer));
    }
    return socket;
  };
  return agent;
}

/** One remote key set per settings object: authSettings() is read once per container, so warm invocations share it. */
const keySets = new WeakMap<KeySetSettings, JWTVerifyGetKey>();

/**
 * The identity provider's keys, fetched on first use and cached (jose's remote key set):
 * refreshed after `cacheMaxAgeMs`, and a token naming a `kid` the cached set lacks makes
 * it fetch again once (not within `cooldownMs` of the last fetch, so tokens with made-up
 * `kid`s cannot make us hammer the provider). A verification therefore fetches at most
 * once, within `timeoutMs`. A failed fetch becomes a KeySetError; a missing key stays a
 * jose error for refusalOf.
 */
function keySetFor(settings: KeySetSettings): JWTVerifyGetKey {
  let getKey = keySets.get(settings);
  if (getKey === undefined) {
    const remote = createRemoteJWKSet(settings.url, {
      timeoutDuration: settings.timeoutMs,
      cooldownDuration: settings.cooldownMs,
      cacheMaxAge: settings.cacheMaxAgeMs,
      agent: deadlineAgent(settings.url, settings.timeoutMs),
    });
    const source = `${settings.url.origin}${settings.url.pathname}`;
    getKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        throw new KeySetError(`the key set at ${source} could not be fetched: ${errorText(error)}`, { cause: error });
      }
    };
    keySets.set(settings, getKey);
  }
  return getKey;
}

/**
 * Verifies a token; throws TokenError saying why it is refused, or KeySetError when the
 * identity provider's keys could not be fetched. `exp` is required: a token that never
 * expires could not be withdrawn short of changing the key. `iat` is required and bounds
 * the token's lifetime and age to the maximum token age.
 */
export async function verifyToken(
  token: string | undefined,
  settings: AuthSettings,
  options: VerifyOptions = {},
): Promise<VerifiedToken> {
  if (token === undefined || token === '') throw new TokenError('missing', 'no token');
  if (token.length > MAX_TOKEN_LENGTH) throw tooLong(token, settings.roomsClaim);
  const checks: JWTVerifyOptions = {
    algorithms: algorithmsOf(settings),
    requiredClaims: ['exp', 'sub', 'iat'],
    clockTolerance: settings.clockToleranceSec,
    maxTokenAge: settings.maxTokenAgeSec,
    ...(settings.issuer === undefined ? {} : { issuer: settings.issuer }),
    ...(settings.audience === undefined ? {} : { audience: settings.audience }),
    ...(options.now === undefined ? {} : { currentDate: options.now }),
  };
  try {
    const { payload } =
      settings.mode === 'jwks'
        ? await jwtVerify(token, keySetFor(settings.keySet), checks)
        : await jwtVerify(token, settings.secret, checks);
    const subject = payload.sub;
    if (typeof subject !== 'string' || subject.trim() === '') {
      throw new TokenError('bad_subject', 'token has no subject');
    }
    const problem = subjectProblem(subject);
    if (problem !== undefined) throw new TokenError('bad_subject', `token subject ${problem}`);
    // jose checks the age (now - iat); the lifetime the issuer gave the token is ours to bound.
    const expiresAt = payload.exp as number;
    if (expiresAt - (payload.iat as number) > settings.maxTokenAgeSec) {
      throw new TokenError('too_long_lived', `token lives longer than ${settings.maxTokenAgeSec} s (exp - iat)`);
    }
    // Own claims only: a claim named like a member of Object.prototype is absent unless the token has it.
    const claim = Object.hasOwn(payload, settings.roomsClaim) ? payload[settings.roomsClaim] : undefined;
    return { subject, expiresAt, rooms: roomsOf(claim, settings) };
  } catch (error) {
    if (error instanceof KeySetError) throw error;
    throw refusalOf(error, settings);
  }
}

/**
 * A token over MAX_TOKEN_LENGTH: `rooms_too_large` when its rooms claim is what makes it too
 * long (without the claim it would fit), `malformed` otherwise.
 */
function tooLong(token: string, claim: string): TokenError {
  const without = lengthWithout(token, claim);
  if (without !== undefined && without <= MAX_TOKEN_LENGTH) {
    return new TokenError(
      'rooms_too_large',
      `the rooms claim makes the token ${token.length} characters; API Gateway takes at most ${MAX_TOKEN_LENGTH} in its URL`,
    );
  }
  return new TokenError('malformed', 'token is too long');
}

/**
 * How long the token would be without the claim, read from its payload without verifying it
 * (this only names the reason of a refusal); undefined when it is not a JWT with that claim.
 * A token many times too long is not read at all.
 */
function lengthWithout(token: string, claim: string): number | undefined {
  if (token.length > 4 * MAX_TOKEN_LENGTH) return undefined;
  const [header, payload, signature, ...more] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined || more.length > 0) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof claims !== 'object' || claims === null || !Object.hasOwn(claims, claim)) return undefined;
  const rest = JSON.stringify(Object.fromEntries(Object.entries(claims).filter(([name]) => name !== claim)));
  return header.length + signature.length + 2 + Math.ceil((Buffer.byteLength(rest) * 4) / 3);
}

/**
 * The rights a token carries: its claim, else the configured default. The claim may be the
 * JSON itself or a string of it (identity providers that add string claims only).
 */
function roomsOf(claim: unknown, settings: AuthSettings): RoomRights {
  if (claim === undefined) return settings.defaultRooms;
  try {
    if (typeof claim === 'string') {
      let value: unknown;
      try {
        value = JSON.parse(claim);
      } catch {
        // Not JSON: a comma-separated list would be ambiguous with a room name; refuse it.
        throw new RoomsClaimError('the claim is a string that is not JSON');
      }
      return parseRights(value);
    }
    return parseRights(claim);
  } catch (error) {
    if (!(error instanceof RoomsClaimError)) throw error;
    throw new TokenError('bad_rooms', `token claim "${settings.roomsClaim}": ${error.message}`, { cause: error });
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
  /** The rooms claim (src/auth/rooms.ts); none: the token gets AUTH_DEFAULT_ROOMS. */
  rooms?: RoomRights | readonly string[] | undefined;
  /** The claim's name (AUTH_ROOMS_CLAIM), `rooms` by default. */
  roomsClaim?: string | undefined;
}

/** Signs a token the authorizer accepts (`npm run token`, tests). */
export async function mintToken(secret: Uint8Array, options: MintOptions): Promise<string> {
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const claims = options.rooms === undefined ? {} : { [options.roomsClaim ?? 'rooms']: options.rooms };
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setSubject(options.subject)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + options.ttlSec);
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  return jwt.sign(secret);
}

function policy(
  principalId: string,
  effect: 'Allow' | 'Deny',
  methodArn: string,
  context?: Record<string, string>,
): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: methodArn }],
    },
    ...(context === undefined ? {} : { context }),
  };
}

/** An Allow that carries the rights, or a TokenError when it would not fit API Gateway's limit. */
function allow(subject: string, rooms: RoomRights, methodArn: string): APIGatewayAuthorizerResult {
  const result = policy(subject, 'Allow', methodArn, { [ROOMS_CONTEXT_KEY]: encodeRights(rooms) });
  const size = Buffer.byteLength(JSON.stringify(result));
  if (size > MAX_AUTHORIZER_RESULT_BYTES) {
    throw new TokenError(
      'rooms_too_large',
      `the rooms claim makes the authorizer's answer ${size} bytes; API Gateway takes at most ${MAX_AUTHORIZER_RESULT_BYTES}`,
    );
  }
  return result;
}

/**
 * The REQUEST authorizer's answer for one `$connect`: Allow on exactly this route's ARN
 * for a good token, Deny otherwise. The refusal is logged with its reason, never with
 * the token (it is a credential until it expires). A KeySetError is not the client's
 * fault and is not a refusal: it propagates, and the handshake fails with 500.
 */
export async function authorizeConnect(
  event: APIGatewayRequestAuthorizerEvent,
  settings: AuthSettings,
): Promise<APIGatewayAuthorizerResult> {
  const connectionId = event.requestContext?.connectionId;
  try {
    const { subject, rooms } = await verifyToken(event.queryStringParameters?.token ?? undefined, settings);
    const result = allow(subject, rooms, event.methodArn);
    log.info('connection authorized', { route: '$connect', connectionId, subject });
    return result;
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
