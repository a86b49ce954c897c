/**
 * HS256 tokens for unit tests of the token checks: one secret and the settings it gives,
 * a signer whose algorithm and key are the test's choice (not the service's), and `refusal`,
 * which turns a refused token into the reason the service gives for it.
 */
import { SignJWT } from 'jose';
import { readAuthSettings } from '../../../src/auth/settings';
import type { AuthSettings } from '../../../src/auth/settings';
import { TokenError } from '../../../src/errors';
import type { TokenRefusal } from '../../../src/errors';

export const SECRET = 'unit-test-secret-that-is-long-enough-0123';
export const hs256Settings: AuthSettings = readAuthSettings({ AUTH_JWT_SECRET: SECRET });
export const nowSec = (): number => Math.floor(Date.now() / 1000);

/**
 * Signs arbitrary claims. `iat` is now unless the claims say otherwise (`iat: undefined`
 * leaves it out). JSON.stringify writes a lone surrogate as the escape `\ud800`, so such a
 * claim survives signing.
 */
export function sign(
  claims: Record<string, unknown>,
  options: { alg?: string; secret?: string } = {},
): Promise<string> {
  return new SignJWT({ iat: nowSec(), ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .sign(new TextEncoder().encode(options.secret ?? SECRET));
}

/** Why `verification` refused its token; fails the test when it was accepted. */
export async function refusal(verification: Promise<unknown>): Promise<TokenRefusal> {
  try {
    await verification;
  } catch (error) {
    if (error instanceof TokenError) return error.reason;
    throw error;
  }
  throw new Error('the token was accepted');
}
