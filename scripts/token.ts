/**
 * `npm run token -- --user alice [--ttl 1h]`: a development token for the `$connect`
 * authorizer, signed with the configured AUTH_JWT_SECRET (the environment, else
 * .env.yml, else .env.yml.example, as settings.js resolves them) and carrying the
 * configured issuer and audience. It prints the token alone, so that
 *
 *   npx wscat -c "ws://localhost:3001?token=$(npm run -s token -- --user alice)"
 *
 * works. Anyone with the secret can mint any subject: this is for development and
 * tests, not an identity provider.
 */
import { parseArgs } from 'node:util';
import { MAX_SUBJECT_LENGTH, mintToken } from '../src/auth';
import { MIN_SECRET_LENGTH, readMaxTokenAge } from '../src/config';
import { loadSettings } from './local';

const USAGE = 'usage: npm run token -- --user <subject> [--ttl <seconds, or 30s, 15m, 1h, 1d>]';
const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
/** A token longer-lived than a day is a standing credential; mint a new one instead. */
const MAX_TTL_SEC = 86400;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function parseTtl(raw: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(raw.trim());
  if (!match) throw new UsageError(`--ttl must be a number of seconds or like 30s, 15m, 1h, 1d; got "${raw}"`);
  const seconds = Number(match[1]) * (UNIT_SEC[match[2] || 's'] ?? 1);
  if (seconds < 1 || seconds > MAX_TTL_SEC) throw new UsageError(`--ttl must be between 1 s and 1 d; got "${raw}"`);
  return seconds;
}

function optional(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

async function main(): Promise<void> {
  let values: { user?: string; ttl?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { user: { type: 'string', short: 'u' }, ttl: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : String(cause), { cause });
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const subject = values.user?.trim();
  if (!subject) throw new UsageError('--user is required');
  if (subject.length > MAX_SUBJECT_LENGTH)
    throw new UsageError(`--user is longer than ${MAX_SUBJECT_LENGTH} characters`);
  const ttlSec = parseTtl(values.ttl ?? '1h');

  // settings.js already lets the environment win over the file, as for npm start.
  const settings = await loadSettings();
  if (optional(settings.AUTH_JWKS_URL) !== undefined) {
    throw new UsageError(
      'AUTH_JWKS_URL is set, so the service accepts tokens from your identity provider only; ' +
        'get one there (see README.md, Authorization). This command signs with AUTH_JWT_SECRET.',
    );
  }
  const secret = optional(settings.AUTH_JWT_SECRET);
  if (secret === undefined) {
    // This process cannot know what a running service was started with: say how to give this
    // command the same secret, and nothing about the service.
    throw new UsageError(
      'No AUTH_JWT_SECRET in this shell or in .env.yml, so there is nothing to sign with. ' +
        'For a service started with a secret, give this command the same secret: ' +
        'AUTH_JWT_SECRET=<the-same-secret> npm run token -- --user <subject> (or export it in this shell), ' +
        'or set it once in .env.yml, which npm start and npm run token both read.',
    );
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new UsageError(`AUTH_JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  const maxAgeSec = readMaxTokenAge({ AUTH_MAX_TOKEN_AGE: optional(String(settings.AUTH_MAX_TOKEN_AGE ?? '')) });
  if (ttlSec > maxAgeSec) {
    throw new UsageError(
      `--ttl is longer than AUTH_MAX_TOKEN_AGE (${maxAgeSec} s): the service would refuse the token`,
    );
  }
  const token = await mintToken(new TextEncoder().encode(secret), {
    subject,
    ttlSec,
    issuer: optional(settings.AUTH_JWT_ISSUER),
    audience: optional(settings.AUTH_JWT_AUDIENCE),
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  console.error(`token: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof UsageError) console.error(USAGE);
  process.exit(error instanceof UsageError ? 2 : 1);
});
