/**
 * Tokens from an identity provider, verified against its JWKS, served
 * here on 127.0.0.1 by test/support/stand-ins/jwks.ts with keys made in the test.
 */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { SignJWT, exportSPKI } from 'jose';
import { authorizeConnect, verifyToken } from '../../src/auth/token';
import {
  CLOCK_TOLERANCE_SEC,
  DEFAULT_MAX_TOKEN_AGE_SEC,
  JWKS_CACHE_MAX_AGE_MS,
  JWKS_COOLDOWN_MS,
  JWKS_TIMEOUT_MS,
  readAuthSettings,
} from '../../src/auth/settings';
import type { JwksAuthSettings } from '../../src/auth/settings';
import { ConfigError, KeySetError } from '../../src/errors';
import { refusal } from '../support/harnesses/tokens';
import { AUDIENCE, ISSUER, makeKey, startJwksServer, tokenFrom } from '../support/stand-ins/jwks';
import type { JwksServer, TestKey } from '../support/stand-ins/jwks';

const servers: JwksServer[] = [];
let rsa: TestKey;
let ec: TestKey;
let outsider: TestKey;

beforeAll(async () => {
  [rsa, ec, outsider] = await Promise.all([
    makeKey('RS256', 'rsa-1'),
    makeKey('ES256', 'ec-1'),
    makeKey('RS256', 'outsider'),
  ]);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function serve(keys: readonly TestKey[]): Promise<JwksServer> {
  const server = await startJwksServer(keys);
  servers.push(server);
  return server;
}

/** Settings as the authorizer reads them, each with a key set (and cache) of its own. */
function jwksSettings(server: JwksServer, keySet: Partial<JwksAuthSettings['keySet']> = {}): JwksAuthSettings {
  const read = readAuthSettings({ AUTH_JWKS_URL: server.url, AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE });
  if (read.mode !== 'jwks') throw new Error('expected JWKS mode');
  return { ...read, keySet: { ...read.keySet, ...keySet } };
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('readAuthSettings in JWKS mode', () => {
  const env = { AUTH_JWKS_URL: 'https://idp.example/jwks.json', AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE };

  it('reads the key set URL, the required issuer and audience, and the fetch bounds', () => {
    expect(readAuthSettings(env)).toEqual({
      mode: 'jwks',
      issuer: ISSUER,
      audience: AUDIENCE,
      clockToleranceSec: CLOCK_TOLERANCE_SEC,
      maxTokenAgeSec: DEFAULT_MAX_TOKEN_AGE_SEC,
      keySet: {
        url: new URL(env.AUTH_JWKS_URL),
        timeoutMs: JWKS_TIMEOUT_MS,
        cooldownMs: JWKS_COOLDOWN_MS,
        cacheMaxAgeMs: JWKS_CACHE_MAX_AGE_MS,
      },
      // Without AUTH_ROOMS_CLAIM and AUTH_DEFAULT_ROOMS: the `rooms` claim, and every room when a token has none.
      roomsClaim: 'rooms',
      defaultRooms: { '*': ['join', 'publish', 'presence'] },
    });
  });

  it('never mixes modes: a shared secret as well is a ConfigError', () => {
    expect(() => readAuthSettings({ ...env, AUTH_JWT_SECRET: 'x'.repeat(40) })).toThrow(/both set/);
  });

  it('requires the issuer and the audience', () => {
    expect(() => readAuthSettings({ ...env, AUTH_JWT_ISSUER: '' })).toThrow(ConfigError);
    expect(() => readAuthSettings({ ...env, AUTH_JWT_AUDIENCE: undefined })).toThrow(/AUTH_JWT_AUDIENCE/);
  });

  it('requires https, except on a loopback address (tests)', () => {
    expect(() => readAuthSettings({ ...env, AUTH_JWKS_URL: 'http://idp.example/jwks.json' })).toThrow(/https/);
    expect(() => readAuthSettings({ ...env, AUTH_JWKS_URL: 'not a url' })).toThrow(/not a URL/);
    expect(readAuthSettings({ ...env, AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json' }).mode).toBe('jwks');
  });
});

describe('verifyToken in JWKS mode', () => {
  it('accepts RS256 and ES256 tokens signed by keys in the set, with their subjects', async () => {
    const server = await serve([rsa, ec]);
    const settings = jwksSettings(server);
    await expect(verifyToken(await tokenFrom(rsa), settings)).resolves.toMatchObject({ subject: 'alice' });
    await expect(verifyToken(await tokenFrom(ec, { claims: { sub: 'bob' } }), settings)).resolves.toMatchObject({
      subject: 'bob',
    });
  });

  it('fetches the key set once and reuses it for later verifications (warm invocations)', async () => {
    const server = await serve([rsa, ec]);
    const settings = jwksSettings(server);
    for (let i = 0; i < 3; i++) await verifyToken(await tokenFrom(i % 2 ? ec : rsa), settings);
    expect(server.requests()).toBe(1);
  });

  it('refuses another issuer or another audience', async () => {
    const settings = jwksSettings(await serve([rsa]));
    const otherIssuer = await tokenFrom(rsa, { claims: { iss: 'https://other.example' } });
    const otherAudience = await tokenFrom(rsa, { claims: { aud: 'another-app' } });
    const noAudience = await tokenFrom(rsa, { claims: { aud: undefined } });
    for (const token of [otherIssuer, otherAudience, noAudience]) {
      expect(await refusal(verifyToken(token, settings))).toBe('bad_claims');
    }
  });

  it('refuses a token signed by a key the provider does not publish', async () => {
    const settings = jwksSettings(await serve([rsa]));
    expect(await refusal(verifyToken(await tokenFrom(outsider), settings))).toBe('unknown_key');
    // ... also when it claims the kid of a published key
    expect(await refusal(verifyToken(await tokenFrom(outsider, { kid: rsa.kid }), settings))).toBe('bad_signature');
  });

  it('refuses HS256 "signed" with the public key, without even fetching the keys', async () => {
    const server = await serve([rsa]);
    const settings = jwksSettings(server);
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'mallory', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 };
    for (const publicMaterial of [await exportSPKI(rsa.publicKey), JSON.stringify(rsa.jwk)]) {
      const forged = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
        .sign(new TextEncoder().encode(publicMaterial));
      expect(await refusal(verifyToken(forged, settings))).toBe('bad_algorithm');
    }
    const unsigned = `${base64url({ alg: 'none', kid: rsa.kid })}.${base64url(claims)}.`;
    expect(await refusal(verifyToken(unsigned, settings))).toBe('bad_algorithm');
    expect(server.requests()).toBe(0);
  });

  it('applies the maximum token age to provider tokens too', async () => {
    const settings = jwksSettings(await serve([rsa]));
    const now = Math.floor(Date.now() / 1000);
    const tooLong = await tokenFrom(rsa, { claims: { iat: now, exp: now + DEFAULT_MAX_TOKEN_AGE_SEC + 60 } });
    expect(await refusal(verifyToken(tooLong, settings))).toBe('too_long_lived');
  });

  it('follows a key rotation: a token with a new kid makes it fetch the set again, once', async () => {
    const next = await makeKey('RS256', 'rsa-2');
    const fresh = await tokenFrom(next, { claims: { sub: 'carol' } });
    const server = await serve([rsa]);
    const settings = jwksSettings(server, { cooldownMs: 1_000 });
    await verifyToken(await tokenFrom(rsa), settings);
    expect(server.requests()).toBe(1);

    server.publish([next]); // the provider rotates: the old key is withdrawn

    // Within the cooldown an unknown kid does not make it fetch again (tokens with
    // made-up kids cannot make us hammer the provider)...
    expect(await refusal(verifyToken(fresh, settings))).toBe('unknown_key');
    expect(server.requests()).toBe(1);

    // ...after it, one refetch, and the new key is known.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expect(verifyToken(fresh, settings)).resolves.toMatchObject({ subject: 'carol' });
    expect(server.requests()).toBe(2);
    await expect(verifyToken(await tokenFrom(next), settings)).resolves.toMatchObject({ subject: 'alice' });
    expect(server.requests()).toBe(2);

    // The withdrawn key no longer lets anyone in.
    expect(await refusal(verifyToken(await tokenFrom(rsa), settings))).toBe('unknown_key');
  });

  describe('when the key set cannot be had', () => {
    const bound = 300;

    async function keySetFailure(behaviour: 'silent' | 'half-body' | 'error'): Promise<{ error: unknown; ms: number }> {
      const server = await serve([rsa]);
      server.behave(behaviour);
      const settings = jwksSettings(server, { timeoutMs: bound });
      const started = Date.now();
      const error = await verifyToken(await tokenFrom(rsa), settings).then(
        () => new Error('the token was accepted'),
        (e: unknown) => e,
      );
      return { error, ms: Date.now() - started };
    }

    it('gives up on a server that accepts and never answers, within the bound, with a KeySetError', async () => {
      const { error, ms } = await keySetFailure('silent');
      expect(error).toBeInstanceOf(KeySetError);
      expect((error as Error).message).toContain('127.0.0.1');
      expect(ms).toBeLessThan(bound + 2_000); // generous: the bound is what matters, not the machine
    });

    it('gives up on a server that sends headers and then withholds the body, within the bound', async () => {
      const { error, ms } = await keySetFailure('half-body');
      expect(error).toBeInstanceOf(KeySetError);
      expect(ms).toBeLessThan(bound + 2_000);
    });

    it('reports an HTTP error as a KeySetError, not as a bad token', async () => {
      const { error } = await keySetFailure('error');
      expect(error).toBeInstanceOf(KeySetError);
    });

    it('makes the authorizer fail (500) instead of denying (403): it is not the client that is wrong', async () => {
      const server = await serve([rsa]);
      server.behave('error');
      const event = {
        type: 'REQUEST',
        methodArn: 'arn:aws:execute-api:us-east-1:123456789012:abcdef/dev/$connect',
        queryStringParameters: { token: await tokenFrom(rsa) },
        requestContext: { connectionId: 'conn-1' },
      } as unknown as APIGatewayRequestAuthorizerEvent;
      await expect(authorizeConnect(event, jwksSettings(server))).rejects.toBeInstanceOf(KeySetError);
    });
  });
});
