/**
 * Authentication against the real service: with AUTH_JWT_SECRET set,
 * serverless-offline runs the `authorize` function at every handshake, and only a
 * client with a good token gets a socket (and a row in the store).
 */
import { SignJWT } from 'jose';
import { mintToken } from '../../src/auth/token';
import { startOffline } from '../support/harnesses/offline';
import { useAuthService } from '../support/harnesses/auth-service';

jest.setTimeout(120_000);

const SECRET = 'e2e-secret-that-is-long-enough-for-hs256-0123';
const key = new TextEncoder().encode(SECRET);

const { connect, refusedWith } = useAuthService(() => startOffline({ env: { AUTH_JWT_SECRET: SECRET } }));

describe('$connect with AUTH_JWT_SECRET set', () => {
  it('lets a client with a valid token in, says who it is in broadcasts, and lists only its own user’s connections', async () => {
    const alice = await connect(await mintToken(key, { subject: 'alice', ttlSec: 300 }));
    const bob = await connect(await mintToken(key, { subject: 'bob', ttlSec: 300 }));

    const heard = bob.ofType('message');
    alice.send({ action: 'sendmessage', data: 'hello' });
    expect(await heard).toMatchObject({ type: 'message', from: 'alice', data: 'hello' });

    // No directory of users with auth on (LIST_SCOPE: own): bob sees his own connection only.
    const list = await bob.request({ action: 'list' }, 'connections');
    const from = (list.connections as { from: unknown }[]).map((c) => c.from).sort();
    expect(list.count).toBe(1);
    expect(from).toEqual(['bob']);
  });

  it('refuses a handshake without a token, with an expired token or with a wrong signature, and stores none of them', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ sub: 'eve', exp: now - 600 }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const forged = await mintToken(new TextEncoder().encode('not-the-secret-but-long-enough-0123456789'), {
      subject: 'eve',
      ttlSec: 300,
    });

    for (const token of [undefined, expired, forged, 'garbage']) {
      expect([401, 403]).toContain(await refusedWith(token));
    }

    const carol = await connect(await mintToken(key, { subject: 'carol', ttlSec: 300 }));
    const list = await carol.request({ action: 'list' }, 'connections');
    const from = (list.connections as { from: unknown }[]).map((c) => c.from);
    expect(from).not.toContain('eve');
    expect(from).not.toContain(null);
    expect(list.count).toBe(1); // carol's own
  });
});
