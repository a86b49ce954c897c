/**
 * Authentication against the real service: with AUTH_JWT_SECRET set,
 * serverless-offline runs the `authorize` function at every handshake, and only a
 * client with a good token gets a socket (and a row in the store).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { withRecorded } from '../../scripts/docs';
import { blocksOf } from '../../scripts/docs/blocks';
import { recordSessions } from '../../scripts/docs/sessions';
import { mintToken } from '../../src/auth/token';
import { root } from '../support/harnesses/service';
import { startOffline } from '../support/harnesses/offline';
import { useAuthService } from '../support/harnesses/auth-service';

jest.setTimeout(120_000);

const SECRET = 'e2e-secret-that-is-long-enough-for-hs256-0123';
const key = new TextEncoder().encode(SECRET);

const { connect, refusedWith, url } = useAuthService(() => startOffline({ env: { AUTH_JWT_SECRET: SECRET } }));

describe('$connect with AUTH_JWT_SECRET set', () => {
  // First, while alice's is the only connection: the transcript's broadcast counts one recipient.
  it("answers as docs/auth.md's transcript shows (npm run docs -- --transcripts)", async () => {
    const token = (user: string) => mintToken(key, { subject: user, ttlSec: 300 });
    const recorded = withRecorded(await recordSessions(url(), { auth: true, token }));
    const committed = blocksOf(readFileSync(join(root, 'docs', 'auth.md'), 'utf8')).get('auth-session');
    const body = blocksOf(recorded['docs/auth.md']!).get('auth-session');
    expect(committed).toBe(body);
    expect(body).toContain('"id":');
  });

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
