/**
 * The `$connect` authorizer's settings (src/auth/token.ts verifies tokens against them): one
 * mode, HS256 with a shared secret or an identity provider's key set, and the token limits.
 * Read only by the authorizer; a missing or malformed setting fails with a ConfigError.
 */
import { ConfigError } from '../errors';
import { readSecretString } from '../aws/secrets';
import { durationSec, usable } from '../config';
import type { Env } from '../config';
import { ALL_ROOMS, DEFAULT_ROOMS_CLAIM, parseRightsJson } from './rooms';
import type { RoomRights } from './rooms';

/** Where the JWKS mode fetches the identity provider's public keys, and how often. */
export interface KeySetSettings {
  /** The JWKS document, e.g. Cognito's `https://cognito-idp.<region>.amazonaws.com/<poolId>/.well-known/jwks.json`. */
  url: URL;
  /** Bound on one fetch of it, from connecting to the last byte (src/auth/token.ts enforces it). */
  timeoutMs: number;
  /** After a fetch, a token naming an unknown `kid` does not cause another one for this long. */
  cooldownMs: number;
  /** Keys are fetched again after this long even when every `kid` is known. */
  cacheMaxAgeMs: number;
}

interface CommonAuthSettings {
  /** When set, a token's `iss` must equal it (always set in JWKS mode). */
  issuer: string | undefined;
  /** When set, a token's `aud` must contain it (always set in JWKS mode). */
  audience: string | undefined;
  /** Seconds of disagreement between clocks tolerated on `exp`, `nbf` and `iat`. */
  clockToleranceSec: number;
  /** Longest lifetime (`exp - iat`) and age (`now - iat`) of a token, in seconds; `iat` is required. */
  maxTokenAgeSec: number;
  /** AUTH_ROOMS_CLAIM: the claim that holds a token's rights per room (src/auth/rooms.ts). */
  roomsClaim: string;
  /** AUTH_DEFAULT_ROOMS: the rights of a token without that claim; every right on every room by default. */
  defaultRooms: RoomRights;
}

/** HS256 tokens signed with a shared secret (`AUTH_JWT_SECRET`). */
export interface SecretAuthSettings extends CommonAuthSettings {
  mode: 'secret';
  /** The shared HS256 key. */
  secret: Uint8Array;
}

/** RS256/ES256 tokens from an identity provider, checked against its published keys (`AUTH_JWKS_URL`). */
export interface JwksAuthSettings extends CommonAuthSettings {
  mode: 'jwks';
  keySet: KeySetSettings;
  issuer: string;
  audience: string;
}

/** What the `$connect` authorizer verifies tokens against (src/auth/token.ts): one mode, never both. */
export type AuthSettings = SecretAuthSettings | JwksAuthSettings;

/** Lambda and most clients keep NTP time; 30 s absorbs what drift remains without extending a token much. */
export const CLOCK_TOLERANCE_SEC = 30;

/** HS256 keys shorter than the hash output are weaker than the algorithm (RFC 7518, 3.2). */
export const MIN_SECRET_LENGTH = 32;

/** A day: the longest `npm run token -- --ttl`, and Auth0's default access-token lifetime. */
export const DEFAULT_MAX_TOKEN_AGE_SEC = 86_400;

/** The setting's own ceiling, 30 days (the longest access token Auth0 issues). */
export const MAX_TOKEN_AGE_CEILING_SEC = 30 * 86_400;

/**
 * A JWKS fetch ends within 2 s, so a verification (which fetches at most once, src/auth/token.ts)
 * stays well inside the authorizer's 5 s function timeout (settings.js).
 */
export const JWKS_TIMEOUT_MS = 2_000;

/** jose's default: at most one refetch per 30 s for tokens naming a `kid` the set lacks. */
export const JWKS_COOLDOWN_MS = 30_000;

/** jose's default: the keys are refreshed every 10 minutes. */
export const JWKS_CACHE_MAX_AGE_MS = 600_000;

/** AUTH_MAX_TOKEN_AGE, default a day. */
export function readMaxTokenAge(env: Env): number {
  const raw = usable(env.AUTH_MAX_TOKEN_AGE);
  if (raw === undefined) return DEFAULT_MAX_TOKEN_AGE_SEC;
  const seconds = durationSec(raw);
  if (seconds === undefined) {
    throw new ConfigError(`AUTH_MAX_TOKEN_AGE must be seconds or like 30s, 15m, 1h, 1d; got "${raw}"`);
  }
  if (seconds < 1 || seconds > MAX_TOKEN_AGE_CEILING_SEC) {
    throw new ConfigError(`AUTH_MAX_TOKEN_AGE must be between 1 s and 30 d; got "${raw}"`);
  }
  return seconds;
}

/** AUTH_DEFAULT_ROOMS, the claim's JSON; unset: every right on every room (tokens of an identity provider keep working). */
export function readDefaultRooms(env: Env): RoomRights {
  const raw = usable(env.AUTH_DEFAULT_ROOMS);
  if (raw === undefined) return ALL_ROOMS;
  try {
    return parseRightsJson(raw, 'AUTH_DEFAULT_ROOMS');
  } catch (cause) {
    throw new ConfigError((cause as Error).message, { cause });
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** JWKS mode: AUTH_JWKS_URL with the issuer and audience that tell this service's tokens apart. */
function readJwksSettings(env: Env, url: string, common: CommonAuthSettings): JwksAuthSettings {
  if (usable(env.AUTH_JWT_SECRET) !== undefined) {
    throw new ConfigError('AUTH_JWKS_URL and AUTH_JWT_SECRET are both set: choose one way of verifying tokens');
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new ConfigError(`AUTH_JWKS_URL is not a URL: "${url}"`, { cause });
  }
  // The keys decide who gets in: fetched over anything but verified TLS, they could be swapped.
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname))) {
    throw new ConfigError('AUTH_JWKS_URL must be an https:// URL');
  }
  // The key set is shared by every application of the pool or tenant: issuer and audience
  // are what make a token one for this service.
  const { issuer, audience } = common;
  if (issuer === undefined || audience === undefined) {
    throw new ConfigError('AUTH_JWKS_URL needs AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE too (see docs/auth.md)');
  }
  return {
    ...common,
    mode: 'jwks',
    issuer,
    audience,
    keySet: {
      url: parsed,
      timeoutMs: JWKS_TIMEOUT_MS,
      cooldownMs: JWKS_COOLDOWN_MS,
      cacheMaxAgeMs: JWKS_CACHE_MAX_AGE_MS,
    },
  };
}

/**
 * Read only by the authorizer, the only function given the AUTH_* settings (and the key, or
 * the ARN of the secret holding it): the other functions trust the authorizer's principalId
 * and never see it. `fromSecret` is the key read from AUTH_JWT_SECRET_ARN; without it,
 * AUTH_JWT_SECRET (local runs).
 */
export function readAuthSettings(env: Env = process.env, fromSecret?: string): AuthSettings {
  const common: CommonAuthSettings = {
    issuer: usable(env.AUTH_JWT_ISSUER),
    audience: usable(env.AUTH_JWT_AUDIENCE),
    clockToleranceSec: CLOCK_TOLERANCE_SEC,
    maxTokenAgeSec: readMaxTokenAge(env),
    roomsClaim: usable(env.AUTH_ROOMS_CLAIM) ?? DEFAULT_ROOMS_CLAIM,
    defaultRooms: readDefaultRooms(env),
  };
  const jwksUrl = usable(env.AUTH_JWKS_URL);
  if (jwksUrl !== undefined) return readJwksSettings(env, jwksUrl, common);

  const source = fromSecret === undefined ? 'AUTH_JWT_SECRET' : `the secret AUTH_JWT_SECRET_ARN names`;
  const secret = fromSecret ?? usable(env.AUTH_JWT_SECRET);
  if (secret === undefined) {
    throw new ConfigError('neither AUTH_JWT_SECRET_ARN nor AUTH_JWT_SECRET is set (see .env.yml.example)');
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`${source} must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  return { ...common, mode: 'secret', secret: new TextEncoder().encode(secret) };
}

/**
 * The authorizer's settings. In AWS the HS256 key is in Secrets Manager (AUTH_JWT_SECRET_ARN,
 * which only the authorizer's role may read), read here; locally it is AUTH_JWT_SECRET.
 */
export async function loadAuthSettings(
  env: Env = process.env,
  read: (secretId: string) => Promise<string> = (secretId) => readSecretString(secretId),
): Promise<AuthSettings> {
  const arn = usable(env.AUTH_JWT_SECRET_ARN);
  return readAuthSettings(env, arn === undefined ? undefined : await read(arn));
}

let cachedAuth: Promise<AuthSettings> | undefined;

/**
 * The authorizer's settings, read on the first `$connect` of a container and kept for warm
 * ones (a failed read is not kept). A rotated key reaches containers started after it.
 */
export function authSettings(): Promise<AuthSettings> {
  cachedAuth ??= loadAuthSettings().catch((error: unknown) => {
    cachedAuth = undefined;
    throw error;
  });
  return cachedAuth;
}
