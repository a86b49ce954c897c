/**
 * settings.js decides whether `$connect` has an authorizer and what that function is
 * given. Run on a private copy of the service (no developer .env.yml), with the
 * environment set per test.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { AUTH_ENV_KEYS, copyService } from '../support/harnesses/service';

type Settings = Record<string, unknown> & {
  AUTHORIZE_FUNCTION: { environment: Record<string, string> } | null;
  CONNECT_ROUTE: { route: string; authorizer?: unknown };
};

const dir = copyService('settings');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require(join(dir, 'settings.js')) as () => Promise<Settings>;

async function settingsWith(env: Record<string, string>): Promise<Settings> {
  const saved = Object.fromEntries(AUTH_ENV_KEYS.map((key) => [key, process.env[key]]));
  for (const key of AUTH_ENV_KEYS) delete process.env[key];
  Object.assign(process.env, env);
  try {
    return await load();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const jwks = {
  AUTH_JWKS_URL: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example/.well-known/jwks.json',
  AUTH_JWT_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example',
  AUTH_JWT_AUDIENCE: '1example23456789',
};

describe('settings.js, authorization', () => {
  it('puts an authorizer on $connect for AUTH_JWKS_URL, giving it the key set, issuer and audience and no secret', async () => {
    const settings = await settingsWith({ ...jwks, AUTH_MAX_TOKEN_AGE: '1h' });
    expect(settings.CONNECT_ROUTE).toEqual({
      route: '$connect',
      authorizer: { name: 'authorize', identitySource: ['route.request.querystring.token'] },
    });
    expect(settings.AUTHORIZE_FUNCTION?.environment).toEqual({ ...jwks, AUTH_MAX_TOKEN_AGE: '1h' });
  });

  it('gives the authorizer the rooms claim name and the default rights, and nobody else', async () => {
    const settings = await settingsWith({
      ...jwks,
      AUTH_ROOMS_CLAIM: 'custom:rooms',
      AUTH_DEFAULT_ROOMS: '{"lobby":["join"]}',
    });
    expect(settings.AUTHORIZE_FUNCTION?.environment).toEqual({
      ...jwks,
      AUTH_ROOMS_CLAIM: 'custom:rooms',
      AUTH_DEFAULT_ROOMS: '{"lobby":["join"]}',
    });
  });

  it('refuses AUTH_JWKS_URL together with a secret, or without issuer and audience', async () => {
    await expect(settingsWith({ ...jwks, AUTH_JWT_SECRET: 'x'.repeat(40) })).rejects.toThrow(/both set/);
    await expect(settingsWith({ AUTH_JWKS_URL: jwks.AUTH_JWKS_URL })).rejects.toThrow(/AUTH_JWT_ISSUER/);
  });

  it('still gives the secret mode its key (deployed: only the ARN of its secret), and no authorizer without either', async () => {
    const secret = 'a-secret-that-is-long-enough-for-hs256-0123';
    expect((await settingsWith({ AUTH_JWT_SECRET: secret })).AUTHORIZE_FUNCTION?.environment).toEqual({
      AUTH_JWT_SECRET_ARN: { Ref: 'AuthJwtSecret' },
    });
    const open = await settingsWith({});
    expect(open.AUTHORIZE_FUNCTION).toBeNull();
    expect(open.CONNECT_ROUTE).toEqual({ route: '$connect' });
  });
});
