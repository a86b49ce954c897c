/**
 * Minting development tokens the `$connect` authorizer accepts, shared by `npm run token` and
 * `npm run smoke`: the HS256 key (the local AUTH_JWT_SECRET, or a deployed stage's, read from
 * Secrets Manager with the developer's own credentials), and a token signed with it that carries
 * the configured issuer, audience and rooms claim and lives no longer than AUTH_MAX_TOKEN_AGE.
 */
import { mintToken } from '../../src/auth/token';
import type { RoomRights } from '../../src/auth/rooms';
import { MIN_SECRET_LENGTH, readMaxTokenAge } from '../../src/auth/settings';
import { readSecretString, regionOf } from '../../src/aws/secrets';

/** Reading the deployed key from a developer's machine may be slower than from Lambda. */
export const DEPLOYED_SECRET_TIMEOUT_MS = 10_000;

/** A setting that makes minting impossible: the caller's input, not a failure of AWS. */
export class DevTokenError extends Error {
  override readonly name = 'DevTokenError';
}

/** The settings settings.js resolves (scripts/local.ts loadSettings). */
export type Settings = Record<string, unknown>;

export function optional(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The local AUTH_JWT_SECRET, or undefined when none is set. */
export function localKey(settings: Settings): string | undefined {
  return optional(settings.AUTH_JWT_SECRET);
}

/**
 * A deployed stage's HS256 key, read from the secret `secretId` names (its ARN, or the name the
 * template generated) in `region`, else the ARN's, else the settings' REGION. Fails with the
 * SecretError of src/aws/secrets.ts (which never holds the value).
 */
export function deployedKey(secretId: string, settings: Settings, region?: string): Promise<string> {
  return readSecretString(secretId, {
    region: optional(region) ?? regionOf(secretId) ?? optional(settings.REGION) ?? 'us-east-1',
    timeoutMs: DEPLOYED_SECRET_TIMEOUT_MS,
  });
}

export interface DevTokenOptions {
  subject: string;
  ttlSec: number;
  /** The rooms claim; none: the token gets AUTH_DEFAULT_ROOMS. */
  rooms?: RoomRights | undefined;
}

/** AUTH_MAX_TOKEN_AGE in seconds: the service refuses a token that lives longer, whatever its `exp`. */
export function maxTokenAgeSec(settings: Settings): number {
  return readMaxTokenAge({ AUTH_MAX_TOKEN_AGE: optional(String(settings.AUTH_MAX_TOKEN_AGE ?? '')) });
}

/** A token signed with `key` that the service configured by `settings` accepts, or a DevTokenError saying why not. */
export async function mintDevToken(settings: Settings, key: string, options: DevTokenOptions): Promise<string> {
  if (key.length < MIN_SECRET_LENGTH) {
    throw new DevTokenError(`AUTH_JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  const maxAgeSec = maxTokenAgeSec(settings);
  if (options.ttlSec > maxAgeSec) {
    throw new DevTokenError(
      `a lifetime of ${options.ttlSec} s (--ttl) is longer than AUTH_MAX_TOKEN_AGE (${maxAgeSec} s): ` +
        'the service would refuse the token',
    );
  }
  return mintToken(new TextEncoder().encode(key), {
    subject: options.subject,
    ttlSec: options.ttlSec,
    issuer: optional(settings.AUTH_JWT_ISSUER),
    audience: optional(settings.AUTH_JWT_AUDIENCE),
    rooms: options.rooms,
    roomsClaim: optional(String(settings.AUTH_ROOMS_CLAIM ?? '')),
  });
}
