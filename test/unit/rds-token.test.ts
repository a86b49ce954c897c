import { Signer } from '@aws-sdk/rds-signer';
import { rdsAuthToken, RdsTokenSource, TOKEN_LIFETIME_S, TOKEN_REFRESH_MARGIN_MS } from '../../src/aws/rds-token';

const credentials = {
  accessKeyId: 'ASIAEXAMPLEEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==+/x',
};

const target = {
  host: 'ws-dev.cluster-abc123xyz.eu-west-1.rds.amazonaws.com',
  port: 3306,
  user: 'websockets_app',
  region: 'eu-west-1',
};

/** The SDK's token for the same target and credentials at `date` (its clock is Date). */
async function sdkToken(
  date: Date,
  creds: typeof credentials | Omit<typeof credentials, 'sessionToken'>,
  user = target.user,
) {
  jest.useFakeTimers({ now: date, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  try {
    const signer = new Signer({
      hostname: target.host,
      port: target.port,
      region: target.region,
      username: user,
      credentials: creds,
    });
    return await signer.getAuthToken();
  } finally {
    jest.useRealTimers();
  }
}

describe('rdsAuthToken', () => {
  const dates = [new Date('2026-12-07T03:04:05Z'), new Date('2027-02-28T23:59:59.999Z')];

  it.each(dates)('is byte for byte the token @aws-sdk/rds-signer signs, with a session token (%s)', async (date) => {
    const expected = await sdkToken(date, credentials);
    expect(rdsAuthToken(target, credentials, new Date(Math.floor(date.getTime() / 1000) * 1000))).toBe(expected);
  });

  it('is the same as the SDK without a session token, and for a user name that needs encoding', async () => {
    const date = dates[0] as Date;
    const long = { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey };
    expect(rdsAuthToken(target, long, date)).toBe(await sdkToken(date, long));
    const odd = 'app user+1';
    expect(rdsAuthToken({ ...target, user: odd }, credentials, date)).toBe(await sdkToken(date, credentials, odd));
  });

  it('is a connect for the user at host:port, valid 15 minutes', () => {
    const token = rdsAuthToken(target, credentials, dates[0] as Date);
    expect(token.startsWith(`${target.host}:3306/?Action=connect&DBUser=websockets_app&`)).toBe(true);
    expect(token).toContain('X-Amz-Expires=900&');
    expect(token).toContain('X-Amz-SignedHeaders=host');
    expect(token).toContain('%2Feu-west-1%2Frds-db%2Faws4_request');
  });
});

describe('RdsTokenSource', () => {
  it('signs once and keeps the token until shortly before it expires, then signs a new one', () => {
    let now = Date.parse('2026-12-07T03:00:00.250Z');
    let signings = 0;
    const source = new RdsTokenSource(
      target,
      () => {
        signings++;
        return credentials;
      },
      () => now,
    );
    const first = source.token();
    expect(first).toBe(rdsAuthToken(target, credentials, new Date('2026-12-07T03:00:00Z')));
    now += TOKEN_LIFETIME_S * 1000 - TOKEN_REFRESH_MARGIN_MS - 1_000;
    expect(source.token()).toBe(first);
    now += 1_000;
    const second = source.token();
    expect(second).not.toBe(first);
    expect(second).toContain('X-Amz-Date=20261207T031400Z');
    expect(signings).toBe(3);
  });

  it('signs again when the role credentials changed', () => {
    const now = Date.parse('2026-12-07T03:00:00Z');
    let creds = credentials;
    const source = new RdsTokenSource(
      target,
      () => creds,
      () => now,
    );
    const first = source.token();
    creds = { ...credentials, accessKeyId: 'ASIAOTHEROTHEROTHER' };
    expect(source.token()).not.toBe(first);
    expect(source.token()).toContain('ASIAOTHEROTHEROTHER');
  });
});
