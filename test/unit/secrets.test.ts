/**
 * Secrets Manager reads (src/aws/secrets.ts) with the SDK client mocked: the value, the
 * per-container cache, reading again after a rotation, and every failure as a SecretError
 * that never carries the secret. The real HTTP path (signing, abort on timeout) is in
 * test/integration/secrets-http.test.ts, the rotation against MySQL in mysql-secret.test.ts.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { authSettings, loadAuthSettings } from '../../src/auth/settings';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { ConfigError, SecretError, StoreError } from '../../src/errors';
import { authorize, connect, useStore } from '../../src/handler';
import {
  CachedSecret,
  passwordFromRdsSecret,
  rdsPassword,
  readSecretString,
  regionOf,
  resetSecretClients,
} from '../../src/aws/secrets';
import type { RotatedSecret } from '../../src/aws/secrets';
import { connectEvent, lambdaContext } from '../support/harnesses/events';
import { memoryStore } from '../support/stand-ins/memory-store';

const sm = mockClient(SecretsManagerClient);
const DB_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c3d-AbCdEf';
const JWT_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:aws-node-websockets-qa/auth-jwt-secret-XyZ123';
const rdsJson = (password: string) => JSON.stringify({ username: 'websockets', password });

function denied(): Error {
  return Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), {
    name: 'AccessDeniedException',
    $metadata: { httpStatusCode: 400 },
  });
}

beforeEach(() => {
  sm.reset();
  resetSecretClients();
});

describe('readSecretString', () => {
  it('asks for the secret by its ARN and returns its SecretString', async () => {
    sm.on(GetSecretValueCommand, { SecretId: DB_SECRET }).resolves({ SecretString: rdsJson('s3cret') });
    await expect(readSecretString(DB_SECRET)).resolves.toBe(rdsJson('s3cret'));
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
  });

  it('reads a secret in the region of its ARN', () => {
    expect(regionOf(DB_SECRET)).toBe('eu-west-1');
    expect(regionOf('aws-node-websockets-qa/auth-jwt-secret')).toBeUndefined();
  });

  it('turns an SDK failure into a SecretError naming the secret, with the cause', async () => {
    sm.on(GetSecretValueCommand).rejects(denied());
    const error = await readSecretString(DB_SECRET).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect(error).toMatchObject({ name: 'SecretError', secretId: DB_SECRET });
    expect((error as SecretError).message).toMatch(/AccessDeniedException/);
    expect(((error as SecretError).cause as Error).name).toBe('AccessDeniedException');
  });

  it('refuses a secret without a SecretString', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    await expect(readSecretString(DB_SECRET)).rejects.toThrow(/has no SecretString/);
  });

  it('gives up with a SecretError when Secrets Manager does not answer in time', async () => {
    sm.on(GetSecretValueCommand).callsFake(() => new Promise(() => undefined));
    const started = Date.now();
    const error = await readSecretString(DB_SECRET, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect((error as SecretError).message).toMatch(/timed out after 100 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('CachedSecret', () => {
  it('reads once per container and serves warm invocations from memory', async () => {
    const read = jest.fn(async () => 'value');
    const secret = new CachedSecret(read);
    await expect(secret.value()).resolves.toBe('value');
    await expect(secret.value()).resolves.toBe('value');
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('does not keep a failed read: the next use tries again', async () => {
    const read = jest.fn().mockRejectedValueOnce(new SecretError('down', 'x')).mockResolvedValueOnce('value');
    const secret = new CachedSecret(read);
    await expect(secret.value()).rejects.toThrow('down');
    await expect(secret.value()).resolves.toBe('value');
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('reads again on refresh, once for concurrent callers, and keeps the new value', async () => {
    const read = jest.fn().mockResolvedValueOnce('old').mockResolvedValueOnce('new');
    const secret = new CachedSecret(read);
    await expect(secret.value()).resolves.toBe('old');
    const [a, b] = await Promise.all([secret.refresh(), secret.refresh()]);
    expect([a, b]).toEqual(['new', 'new']);
    await expect(secret.value()).resolves.toBe('new');
    expect(read).toHaveBeenCalledTimes(2);
  });
});

describe('the database password (rdsPassword)', () => {
  it('is the "password" of the JSON secret RDS keeps, read once and again on refresh (rotation)', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: rdsJson('before-rotation') })
      .resolvesOnce({ SecretString: rdsJson('after-rotation') });
    const password = rdsPassword(DB_SECRET);
    await expect(password.value()).resolves.toBe('before-rotation');
    await expect(password.value()).resolves.toBe('before-rotation');
    await expect(password.refresh()).resolves.toBe('after-rotation');
    await expect(password.value()).resolves.toBe('after-rotation');
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('refuses a secret that is not RDS JSON, without quoting it', () => {
    for (const bad of ['not json at all: hunter2-hunter2', '{"username":"u"}', '{"password":""}', 'null']) {
      let error: unknown;
      try {
        passwordFromRdsSecret(bad, DB_SECRET);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(SecretError);
      expect(JSON.stringify({ message: (error as Error).message, cause: (error as Error).cause })).not.toContain(
        'hunter2',
      );
    }
  });
});

describe('the MySQL store with its password in a secret', () => {
  it('fails with a StoreError caused by the SecretError, without trying to connect, and $connect answers 500', async () => {
    const unreadable: RotatedSecret = {
      value: () => Promise.reject(new SecretError('reading secret failed: AccessDeniedException', DB_SECRET)),
      refresh: () => Promise.reject(new Error('refresh must not be called: MySQL never refused a password')),
      pending: () => Promise.reject(new Error('pending must not be called: MySQL never refused a password')),
    };
    // db.invalid would fail with ENOTFOUND if a connection were attempted.
    const store = new MysqlConnectionStore(
      {
        kind: 'mysql',
        host: 'db.invalid',
        port: 3306,
        database: 'd',
        user: 'u',
        passwordSecretArn: DB_SECRET,
        tls: true,
        maxConnections: 60,
        reclaimIdle: false,
        tablePrefix: '',
      },
      { passwordSecret: unreadable },
    );
    const error = await store.add({ connectionId: 'c1', connectedAt: 1, subject: null }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).cause).toBeInstanceOf(SecretError);

    Object.assign(process.env, { DB_HOST: 'db.invalid', DB_NAME: 'd', DB_USER: 'u', DB_SECRET_ARN: DB_SECRET });
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    useStore(store);
    try {
      await expect(connect(connectEvent('c2'), lambdaContext())).resolves.toEqual({ statusCode: 500 });
      expect(logged.mock.calls.join('\n')).toContain('SecretError');
    } finally {
      useStore(undefined);
      logged.mockRestore();
      await store.close();
    }
  });
});

describe('a SecretError reaching a handler', () => {
  it('is a failing dependency: 500, not 502', async () => {
    Object.assign(process.env, { DB_HOST: 'db.invalid', DB_NAME: 'd', DB_USER: 'u', DB_SECRET_ARN: DB_SECRET });
    const store = memoryStore();
    store.add.mockRejectedValueOnce(new SecretError('reading secret failed: ThrottlingException', DB_SECRET));
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    useStore(store);
    try {
      await expect(connect(connectEvent('c3'), lambdaContext())).resolves.toEqual({ statusCode: 500 });
    } finally {
      useStore(undefined);
      logged.mockRestore();
    }
  });
});

describe('the HS256 key in AWS (AUTH_JWT_SECRET_ARN)', () => {
  const KEY = 'k'.repeat(64);

  it('is read from the secret the ARN names, not from AUTH_JWT_SECRET', async () => {
    const read = jest.fn(async () => KEY);
    const settings = await loadAuthSettings({ AUTH_JWT_SECRET_ARN: JWT_SECRET, AUTH_JWT_ISSUER: 'me' }, read);
    expect(read).toHaveBeenCalledWith(JWT_SECRET);
    if (settings.mode !== 'secret') throw new Error(`expected the HS256 mode, got ${settings.mode}`);
    expect(Buffer.from(settings.secret).toString()).toBe(KEY);
    expect(settings.issuer).toBe('me');
  });

  it('refuses a key shorter than 32 characters, naming where it came from', async () => {
    await expect(loadAuthSettings({ AUTH_JWT_SECRET_ARN: JWT_SECRET }, async () => 'short')).rejects.toThrow(
      new ConfigError('the secret AUTH_JWT_SECRET_ARN names must be at least 32 characters'),
    );
  });

  it('is read by the authorizer on its first $connect and kept; a failed read fails the handshake (500) and is not kept', async () => {
    process.env.AUTH_JWT_SECRET_ARN = JWT_SECRET;
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      sm.on(GetSecretValueCommand).rejectsOnce(denied()).resolves({ SecretString: KEY });
      const event = {
        type: 'REQUEST' as const,
        methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:api/qa/$connect',
        queryStringParameters: {},
        requestContext: { connectionId: 'c1' },
      } as unknown as Parameters<typeof authorize>[0];
      // A read that fails is our fault: the authorizer throws (API Gateway answers 500).
      await expect(authorize(event)).rejects.toBeInstanceOf(SecretError);
      expect(logged.mock.calls.join('\n')).toContain('SecretError');
      // The next handshake reads again; a missing token is then an ordinary Deny.
      await expect(authorize(event)).resolves.toMatchObject({ policyDocument: { Statement: [{ Effect: 'Deny' }] } });
      await authSettings();
      await authSettings();
      expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
      expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: JWT_SECRET });
    } finally {
      delete process.env.AUTH_JWT_SECRET_ARN;
      logged.mockRestore();
    }
  });
});
