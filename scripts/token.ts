/**
 * `npm run token -- --user alice [--ttl 1h] [--rooms lobby,team-*]`: a development token for the `$connect`
 * authorizer, signed with the configured AUTH_JWT_SECRET (the environment, else
 * .env.yml, else .env.yml.example, as settings.js resolves them) and carrying the
 * configured issuer and audience. It prints the token alone, so that
 *
 *   npx wscat -c "ws://localhost:3001?token=$(npm run -s token -- --user alice)"
 *
 * works. Anyone with the secret can mint any subject: this is for development and
 * tests, not an identity provider.
 *
 * `--rooms` sets the rights per room (src/auth/rooms.ts), as the claim's JSON
 * (`'{"lobby":["join","publish"]}'`) or as patterns with every right (`lobby,team-*`);
 * without it the token has no rooms claim and gets AUTH_DEFAULT_ROOMS. `--sub` is `--user`.
 *
 * `npm run token -- --stage dev --user alice` mints one for a deployed stage instead: the
 * key is then read from Secrets Manager (the secret the template generated for that stage,
 * or AUTH_JWT_SECRET_ARN) with the developer's own AWS credentials. The AWS SDK is loaded
 * only then (src/aws/secrets.ts requires it on the first read).
 */
import { parseArgs } from 'node:util';
import { MAX_SUBJECT_LENGTH } from '../src/auth/token';
import { rightsFromCli, RoomsClaimError } from '../src/auth/rooms';
import type { RoomRights } from '../src/auth/rooms';
import { loadSettings } from './local';
import { deployedKey, DevTokenError, localKey, mintDevToken } from './token/mint';

const USAGE =
  'usage: npm run token -- --user <subject> [--ttl <seconds, or 30s, 15m, 1h, 1d>] ' +
  `[--rooms '{"lobby":["join","publish"]}' | --rooms lobby,team-*] [--stage <deployed stage> [--region <region>]]`;

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
  if (seconds < 1 || seconds > MAX_TTL_SEC) {
    throw new UsageError(
      `--ttl must be between 1 s and 1 d; got "${raw}". This command mints short-lived tokens only, ` +
        'and the service refuses any token older than AUTH_MAX_TOKEN_AGE (default 1d) whatever its exp',
    );
  }
  return seconds;
}

async function main(): Promise<void> {
  let values: {
    user?: string;
    sub?: string;
    ttl?: string;
    help?: boolean;
    stage?: string;
    region?: string;
    rooms?: string;
  };
  try {
    ({ values } = parseArgs({
      options: {
        user: { type: 'string', short: 'u' },
        sub: { type: 'string' },
        rooms: { type: 'string' },
        ttl: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        stage: { type: 'string', short: 's' },
        region: { type: 'string', short: 'r' },
      },
    }));
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : String(cause), { cause });
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.user !== undefined && values.sub !== undefined) throw new UsageError('give --user or --sub, not both');
  const subject = (values.user ?? values.sub)?.trim();
  if (!subject) throw new UsageError('--user is required');
  if (subject.length > MAX_SUBJECT_LENGTH)
    throw new UsageError(`--user is longer than ${MAX_SUBJECT_LENGTH} characters`);
  const ttlSec = parseTtl(values.ttl ?? '1h');
  const rooms = values.rooms === undefined ? undefined : parseRooms(values.rooms);

  const stage = values.stage?.trim();
  if (values.stage !== undefined && !stage) throw new UsageError('--stage needs the name of a deployed stage');
  if (values.region !== undefined && stage === undefined) throw new UsageError('--region goes with --stage');

  // settings.js already lets the environment win over the file, as for npm start.
  const settings = await loadSettings(stage === undefined ? {} : { stage });
  if (settings.AUTH_MODE === 'jwks') {
    throw new UsageError(
      'AUTH_JWKS_URL is set, so the service accepts tokens from your identity provider only; ' +
        'get one there (see docs/auth.md). This command signs with AUTH_JWT_SECRET.',
    );
  }
  const secret = stage === undefined ? localKey(settings) : await deployedSecret(settings, stage, values.region);
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
  const token = await mintDevToken(settings, secret, { subject, ttlSec, rooms });
  process.stdout.write(`${token}\n`);
}

/** What the authorizer would accept, checked here so that a typo does not make a token it refuses. */
function parseRooms(raw: string): RoomRights {
  try {
    return rightsFromCli(raw);
  } catch (error) {
    if (!(error instanceof RoomsClaimError)) throw error;
    throw new UsageError(`--rooms: ${error.message}`, { cause: error });
  }
}

/** The HS256 key of a deployed stage, read with the developer's own credentials. */
async function deployedSecret(settings: Record<string, unknown>, stage: string, region?: string): Promise<string> {
  if (settings.AUTH_MODE !== 'hs256') {
    throw new UsageError(
      `Stage ${stage} is deployed with AUTH_MODE ${String(settings.AUTH_MODE)} in these settings: ` +
        'there is no HS256 key to mint tokens with.',
    );
  }
  return deployedKey(String(settings.AUTH_JWT_SECRET_ID), settings, region);
}

main().catch((error: unknown) => {
  console.error(`token: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof UsageError) console.error(USAGE);
  // A setting that makes minting impossible is the caller's to fix, like a wrong option.
  process.exit(error instanceof UsageError || error instanceof DevTokenError ? 2 : 1);
});
