/**
 * Tokens of an identity provider against the real service: with AUTH_JWKS_URL set (a key set served on
 * loopback by this test, as an identity provider would), serverless-offline runs the
 * `authorize` function at every handshake; a token signed by a published key gets a
 * socket and its `sub` is the connection's `from`, anything else is refused.
 */
import { SignJWT } from 'jose';
import { AUDIENCE, ISSUER, makeKey, startJwksServer, tokenFrom } from '../support/stand-ins/jwks';
import type { JwksServer, TestKey } from '../support/stand-ins/jwks';
import { startOffline } from '../support/harnesses/offline';
import { useAuthService } from '../support/harnesses/auth-service';

jest.setTimeout(120_000);

let jwks: JwksServer | undefined;
let rsa: TestKey;
let ec: TestKey;

const { connect, refusedWith } = useAuthService(
  async () => {
    [rsa, ec] = await Promise.all([makeKey('RS256', 'e2e-rsa'), makeKey('ES256', 'e2e-ec')]);
    jwks = await startJwksServer([rsa, ec]);
    return startOffline({ env: { AUTH_JWKS_URL: jwks.url, AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE } });
  },
  async () => jwks?.stop(),
);

describe('$connect with AUTH_JWKS_URL set', () => {
  it("lets in clients with the provider's RS256 and ES256 tokens, each known by its sub", async () => {
    const alice = await connect(await tokenFrom(rsa, { claims: { sub: 'alice' } }));
    const bob = await connect(await tokenFrom(ec, { claims: { sub: 'bob' } }));

    const heard = bob.ofType('message');
    alice.send({ action: 'sendmessage', data: 'hello' });
    expect(await heard).toMatchObject({ type: 'message', from: 'alice', data: 'hello' });

    const list = await bob.request({ action: 'list' }, 'connections');
    const from = (list.connections as { from: unknown }[]).map((c) => c.from).sort();
    expect(from).toEqual(['bob']); // with auth on, the list holds the caller's own user's connections
    expect(jwks!.requests()).toBeGreaterThanOrEqual(1);
  });

  it('refuses (403) no token, an unknown key, another audience, and HS256 signed with the public key', async () => {
    const stranger = await makeKey('RS256', 'stranger');
    const now = Math.floor(Date.now() / 1000);
    const confused = await new SignJWT({ sub: 'eve', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
      .sign(new TextEncoder().encode(JSON.stringify(rsa.jwk)));
    const refused = [
      await refusedWith(undefined),
      await refusedWith(await tokenFrom(stranger, { claims: { sub: 'eve' } })),
      await refusedWith(await tokenFrom(rsa, { claims: { sub: 'eve', aud: 'another-app' } })),
      await refusedWith(confused),
    ];
    // A Deny is 403; without the token parameter AWS answers 401 before the authorizer runs.
    expect([401, 403]).toContain(refused[0]);
    expect(refused.slice(1)).toEqual([403, 403, 403]);

    const carol = await connect(await tokenFrom(rsa, { claims: { sub: 'carol' } }));
    const list = await carol.request({ action: 'list' }, 'connections');
    const from = (list.connections as { from: unknown }[]).map((c) => c.from);
    expect(from).not.toContain('eve');
    expect(from).not.toContain(null);
  });
});
