/**
 * What a deploy with these settings leaves open to others, said before it is deployed
 * (`npm run deploy`, and `-- --check`): one warning line per exposed default, the ones the
 * README lists under "What the defaults expose" and those of docs/auth.md. Warnings, not
 * problems: each is a choice someone may make on purpose, so none stops the deploy.
 */
import { readDefaultRooms } from '../../src/auth/settings';
import { encodeRights } from '../../src/auth/rooms';
import { asEnv } from './settings';
import type { Env, Settings } from './settings';

/** Whether `$connect` requires a token: AUTH_MODE, else a key or key set named (settings.js's authModeOf). */
function authOn(env: Env): boolean {
  const mode = env.AUTH_MODE?.toLowerCase();
  if (mode !== undefined) return mode !== 'off';
  return (env.AUTH_JWKS_URL ?? env.AUTH_JWT_SECRET ?? env.AUTH_JWT_SECRET_ARN) !== undefined;
}

/**
 * One line on what a token without the rooms claim may do, when AUTH_DEFAULT_ROOMS says it
 * (unset, exposedDefaults warns instead). Undefined with auth off or AUTH_DEFAULT_ROOMS unset.
 */
export function describeRooms(settings: Settings): string | undefined {
  const env = asEnv(settings);
  if (!authOn(env) || env.AUTH_DEFAULT_ROOMS === undefined) return undefined;
  const claim = env.AUTH_ROOMS_CLAIM ?? 'rooms';
  return `rooms: a token without the "${claim}" claim gets AUTH_DEFAULT_ROOMS ${encodeRights(readDefaultRooms(env))}`;
}

/** The exposed defaults of these settings, one line each (without a "warning:" prefix); [] when none. */
export function exposedDefaults(settings: Settings): string[] {
  const env = asEnv(settings);
  const warnings: string[] = [];
  if (!authOn(env)) {
    warnings.push(
      'auth is off (AUTH_MODE): anyone who knows the wss:// URL can connect, read every broadcast and send to ' +
        'everyone; set AUTH_MODE: hs256 or jwks (docs/auth.md)',
    );
  } else {
    const claim = env.AUTH_ROOMS_CLAIM ?? 'rooms';
    if (env.AUTH_DEFAULT_ROOMS === undefined) {
      warnings.push(
        `AUTH_DEFAULT_ROOMS is unset: a token without the "${claim}" claim may join, publish to and see every ` +
          "room; set AUTH_DEFAULT_ROOMS: '{}' to give such tokens no room (docs/auth.md#rooms-and-rights)",
      );
    }
    if (env.LIST_SCOPE?.toLowerCase() === 'all') {
      warnings.push(
        "LIST_SCOPE is all: every signed-in user's `list` shows everyone's connections, with their subjects and " +
          'connection ids; LIST_SCOPE: own shows only their own',
      );
    }
  }
  // serverless.yml's defaults: DB_NETWORK public, DB_ALLOWED_CIDR 0.0.0.0/0 (infra/network.js).
  const network = env.DB_NETWORK ?? 'public';
  const cidr = env.DB_ALLOWED_CIDR ?? '0.0.0.0/0';
  if (network === 'public' && /\/0$/.test(cidr)) {
    warnings.push(
      `DB_NETWORK is public and DB_ALLOWED_CIDR ${cidr}: the database's port 3306 is open to every address, ` +
        'guarded by TLS and its password; narrow DB_ALLOWED_CIDR, or DB_NETWORK: private (about $33 a month ' +
        'more, docs/deploy.md#network-path)',
    );
  }
  return warnings;
}
