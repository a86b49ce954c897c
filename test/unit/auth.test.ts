import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { MAX_SUBJECT_LENGTH, authorizeConnect, mintToken, verifyToken } from '../../src/auth/token';
import { CLOCK_TOLERANCE_SEC, DEFAULT_MAX_TOKEN_AGE_SEC, readAuthSettings } from '../../src/auth/settings';
import type { AuthSettings } from '../../src/auth/settings';
import { ConfigError } from '../../src/errors';
import { hs256Settings, nowSec, refusal, SECRET, sign } from '../support/harnesses/tokens';

const settings: AuthSettings = hs256Settings;
const key = new TextEncoder().encode(SECRET);

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('readAuthSettings', () => {
  it('reads the secret, the optional issuer and audience, a fixed clock tolerance and a day as maximum token age', () => {
    const read = readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_JWT_ISSUER: 'me', AUTH_JWT_AUDIENCE: 'ws' });
    expect(read).toEqual({
      mode: 'secret',
      secret: key,
      issuer: 'me',
      audience: 'ws',
      clockToleranceSec: CLOCK_TOLERANCE_SEC,
      maxTokenAgeSec: DEFAULT_MAX_TOKEN_AGE_SEC,
      roomsClaim: 'rooms',
      defaultRooms: { '*': ['join', 'publish', 'presence'] },
    });
    expect(DEFAULT_MAX_TOKEN_AGE_SEC).toBe(24 * 3600);
  });

  it('reads AUTH_MAX_TOKEN_AGE in seconds or with a unit, as npm run token --ttl does', () => {
    const age = (value: string) =>
      readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_MAX_TOKEN_AGE: value }).maxTokenAgeSec;
    expect(age('90')).toBe(90);
    expect(age('30s')).toBe(30);
    expect(age('15m')).toBe(900);
    expect(age('1h')).toBe(3600);
    expect(age('7d')).toBe(7 * 86400);
    for (const bad of ['0', '1w', '1.5h', '-1', 'forever', '31d']) {
      expect(() => age(bad)).toThrow(/AUTH_MAX_TOKEN_AGE/);
    }
  });

  it('refuses a missing or short secret with a ConfigError naming it', () => {
    expect(() => readAuthSettings({})).toThrow(ConfigError);
    expect(() => readAuthSettings({ AUTH_JWT_SECRET: 'short' })).toThrow(/AUTH_JWT_SECRET/);
  });
});

describe('verifyToken', () => {
  it('accepts a token minted with the secret and returns its subject', async () => {
    const before = nowSec();
    const token = await mintToken(key, { subject: 'alice', ttlSec: 60 });
    const verified = await verifyToken(token, settings);
    expect(verified.subject).toBe('alice');
    expect(verified.expiresAt).toBeGreaterThanOrEqual(before + 60);
    expect(verified.expiresAt).toBeLessThanOrEqual(nowSec() + 60);
  });

  it('refuses a missing token', async () => {
    expect(await refusal(verifyToken(undefined, settings))).toBe('missing');
    expect(await refusal(verifyToken('', settings))).toBe('missing');
  });

  it('refuses garbage and oversized input as malformed', async () => {
    expect(await refusal(verifyToken('not-a-jwt', settings))).toBe('malformed');
    expect(await refusal(verifyToken('a.b.c', settings))).toBe('malformed');
    expect(await refusal(verifyToken('x'.repeat(5000), settings))).toBe('malformed');
  });

  it('refuses an expired token', async () => {
    const token = await sign({ sub: 'alice', exp: nowSec() - 120 });
    expect(await refusal(verifyToken(token, settings))).toBe('expired');
  });

  it('refuses a token without exp, since it could never be withdrawn', async () => {
    const token = await sign({ sub: 'alice' });
    expect(await refusal(verifyToken(token, settings))).toBe('bad_claims');
  });

  it('refuses a token that is not valid yet', async () => {
    const token = await sign({ sub: 'alice', nbf: nowSec() + 300, exp: nowSec() + 600 });
    expect(await refusal(verifyToken(token, settings))).toBe('not_yet_valid');
  });

  it('tolerates clocks that disagree by less than the skew, not more', async () => {
    const justExpired = await sign({ sub: 'alice', exp: nowSec() - (CLOCK_TOLERANCE_SEC - 5) });
    const almostValid = await sign({ sub: 'alice', nbf: nowSec() + (CLOCK_TOLERANCE_SEC - 5), exp: nowSec() + 600 });
    await expect(verifyToken(justExpired, settings)).resolves.toMatchObject({ subject: 'alice' });
    await expect(verifyToken(almostValid, settings)).resolves.toMatchObject({ subject: 'alice' });

    const later = new Date(Date.now() + 10_000);
    expect(await refusal(verifyToken(justExpired, settings, { now: later }))).toBe('expired');
  });

  it('refuses a token signed with another secret', async () => {
    const token = await sign(
      { sub: 'alice', exp: nowSec() + 60 },
      { secret: 'another-secret-that-is-long-enough-0123' },
    );
    expect(await refusal(verifyToken(token, settings))).toBe('bad_signature');
  });

  it('refuses a token whose signature was tampered with', async () => {
    const token = await mintToken(key, { subject: 'alice', ttlSec: 60 });
    const [header, , signature] = token.split('.');
    const forged = `${header}.${base64url({ sub: 'mallory', exp: nowSec() + 60 })}.${signature}`;
    expect(await refusal(verifyToken(forged, settings))).toBe('bad_signature');
  });

  it('refuses HS512 even when signed with the right secret', async () => {
    const token = await sign({ sub: 'alice', exp: nowSec() + 60 }, { alg: 'HS512' });
    expect(await refusal(verifyToken(token, settings))).toBe('bad_algorithm');
  });

  it('refuses an unsigned token (alg none), crafted by hand', async () => {
    const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'alice', exp: nowSec() + 60 })}.`;
    expect(await refusal(verifyToken(unsigned, settings))).toBe('bad_algorithm');
  });

  it('refuses a token without a subject, or with one too long to store', async () => {
    const none = await sign({ exp: nowSec() + 60 });
    const blank = await sign({ sub: '  ', exp: nowSec() + 60 });
    const long = await sign({ sub: 'a'.repeat(MAX_SUBJECT_LENGTH + 1), exp: nowSec() + 60 });
    const longest = await sign({ sub: 'a'.repeat(MAX_SUBJECT_LENGTH), exp: nowSec() + 60 });
    expect(await refusal(verifyToken(none, settings))).toBe('bad_claims');
    expect(await refusal(verifyToken(blank, settings))).toBe('bad_subject');
    expect(await refusal(verifyToken(long, settings))).toBe('bad_subject');
    await expect(verifyToken(longest, settings)).resolves.toMatchObject({ subject: 'a'.repeat(MAX_SUBJECT_LENGTH) });
  });

  describe('the maximum token age (AUTH_MAX_TOKEN_AGE, default a day)', () => {
    const day = DEFAULT_MAX_TOKEN_AGE_SEC;

    it('refuses a token that expires in 2100', async () => {
      const token = await sign({ sub: 'alice', exp: Math.floor(Date.UTC(2100, 0, 1) / 1000) });
      expect(await refusal(verifyToken(token, settings))).toBe('too_long_lived');
    });

    it('accepts a lifetime (exp - iat) of exactly the maximum, refuses one second more', async () => {
      const iat = nowSec();
      await expect(verifyToken(await sign({ sub: 'alice', iat, exp: iat + day }), settings)).resolves.toMatchObject({
        subject: 'alice',
      });
      expect(await refusal(verifyToken(await sign({ sub: 'alice', iat, exp: iat + day + 1 }), settings))).toBe(
        'too_long_lived',
      );
    });

    it('requires iat', async () => {
      const token = await sign({ sub: 'alice', iat: undefined, exp: nowSec() + 60 });
      expect(await refusal(verifyToken(token, settings))).toBe('bad_claims');
    });

    it('refuses a token issued longer ago than the maximum, even if it has not expired', async () => {
      const token = await sign({ sub: 'alice', iat: nowSec() - day - 3600, exp: nowSec() + 60 });
      expect(await refusal(verifyToken(token, settings))).toBe('too_long_lived');
    });

    it('refuses a token issued in the future beyond the clock tolerance', async () => {
      const soon = await sign({ sub: 'alice', iat: nowSec() + (CLOCK_TOLERANCE_SEC - 5), exp: nowSec() + 600 });
      const later = await sign({ sub: 'alice', iat: nowSec() + 600, exp: nowSec() + 1200 });
      await expect(verifyToken(soon, settings)).resolves.toMatchObject({ subject: 'alice' });
      expect(await refusal(verifyToken(later, settings))).toBe('not_yet_valid');
    });

    it('follows a shorter setting: a 1 h token is refused when the maximum is 15 minutes', async () => {
      const strict = readAuthSettings({ AUTH_JWT_SECRET: SECRET, AUTH_MAX_TOKEN_AGE: '15m' });
      await expect(verifyToken(await mintToken(key, { subject: 'alice', ttlSec: 900 }), strict)).resolves.toBeDefined();
      const hour = await mintToken(key, { subject: 'alice', ttlSec: 3600 });
      expect(await refusal(verifyToken(hour, strict))).toBe('too_long_lived');
    });
  });

  describe('with an issuer and an audience configured', () => {
    const strict = readAuthSettings({
      AUTH_JWT_SECRET: SECRET,
      AUTH_JWT_ISSUER: 'https://id.example',
      AUTH_JWT_AUDIENCE: 'ws',
    });
    const good = { subject: 'alice', ttlSec: 60, issuer: 'https://id.example', audience: 'ws' };

    it('accepts a token with both', async () => {
      const token = await mintToken(key, good);
      await expect(verifyToken(token, strict)).resolves.toMatchObject({ subject: 'alice' });
    });

    it('refuses another issuer, another audience, or none at all', async () => {
      for (const token of [
        await mintToken(key, { ...good, issuer: 'https://evil.example' }),
        await mintToken(key, { ...good, audience: 'other' }),
        await mintToken(key, { subject: 'alice', ttlSec: 60 }),
      ]) {
        expect(await refusal(verifyToken(token, strict))).toBe('bad_claims');
      }
    });
  });
});

describe('authorizeConnect', () => {
  const methodArn = 'arn:aws:execute-api:us-east-1:123456789012:abcdef/dev/$connect';
  function event(token?: string): APIGatewayRequestAuthorizerEvent {
    return {
      type: 'REQUEST',
      methodArn,
      queryStringParameters: token === undefined ? null : { token },
      requestContext: { connectionId: 'conn-1', identity: { sourceIp: '127.0.0.1' } },
    } as unknown as APIGatewayRequestAuthorizerEvent;
  }

  let stderr: jest.SpyInstance;
  beforeEach(() => {
    stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => stderr.mockRestore());

  it('allows execute-api:Invoke on exactly the event methodArn, for the token subject, with its rights', async () => {
    const token = await mintToken(key, { subject: 'alice', ttlSec: 60 });
    await expect(authorizeConnect(event(token), settings)).resolves.toEqual({
      principalId: 'alice',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: methodArn }],
      },
      context: { rooms: '{"*":["join","publish","presence"]}' },
    });
  });

  it('denies a bad token and logs a warning with the reason but not the token', async () => {
    const previous = process.env.LOG_LEVEL;
    process.env.LOG_LEVEL = 'warn';
    try {
      const token = await sign({ sub: 'alice', exp: nowSec() - 600 });
      const result = await authorizeConnect(event(token), settings);
      expect(result.policyDocument.Statement).toEqual([
        { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: methodArn },
      ]);
      expect(stderr).toHaveBeenCalledTimes(1);
      const line = String(stderr.mock.calls[0]?.[0]);
      expect(JSON.parse(line)).toMatchObject({
        level: 'warn',
        message: 'connection refused',
        reason: 'expired',
        connectionId: 'conn-1',
      });
      expect(line).not.toContain(token);
      expect(line).not.toContain(token.split('.')[2]);
    } finally {
      process.env.LOG_LEVEL = previous;
    }
  });

  it('denies a connection without a token', async () => {
    const result = await authorizeConnect(event(), settings);
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
  });
});
