/**
 * The delivery path as it runs: src/communication.ts over src/aws/management-api.ts, posting
 * to a loopback stand-in of the management API (test/support/stand-ins/management-stand-in.ts).
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  classify,
  clientFor,
  OFFLINE_ENDPOINT,
  outboxAt,
  post,
  backendOutbox,
  resetClients,
  useManagementApiFactory,
} from '../../src/communication';
import { encode } from '../../src/chat/outbox';
import { readConfig } from '../../src/config';
import { ConfigError, CredentialsError, DeliveryError, StaleConnectionError } from '../../src/errors';
import { useManagementStandIn } from '../support/stand-ins/management-stand-in';

const management = useManagementStandIn();
const noSleep = () => Promise.resolve();
const region = 'us-east-1';

describe('the outbox built from the settings', () => {
  const awsEnv = {
    AWS_ACCESS_KEY_ID: 'AKIDFROMENV',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_REGION: region,
    // The store's settings are read with the rest; nothing here connects to it.
    DB_HOST: 'db.invalid',
    DB_NAME: 'test',
    DB_USER: 'test',
    DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db',
  };

  it('posts to its endpoint with the fan-out settings: one retry per FANOUT_RETRIES after a 503', async () => {
    const settings = readConfig({ ...awsEnv, FANOUT_RETRIES: '1', FANOUT_RETRY_BASE_MS: '1' });
    management.answer(503);
    await expect(
      outboxAt('https://abc.execute-api.us-east-1.amazonaws.com/dev', settings).send('c1', encode({ type: 'test' })),
    ).rejects.toBeInstanceOf(DeliveryError);
    expect(management.requests().map((r) => r.path)).toEqual(['/dev/@connections/c1', '/dev/@connections/c1']);
  });

  it('gives the publish function MANAGEMENT_ENDPOINT first, then the stage’s WEBSOCKET_API_ENDPOINT', async () => {
    const api = 'https://abc.execute-api.us-east-1.amazonaws.com/prod';
    await backendOutbox(readConfig({ ...awsEnv, WEBSOCKET_API_ENDPOINT: api })).send('c1', encode({ type: 'test' }));
    const custom = 'https://ws.example.com/v1';
    await backendOutbox(readConfig({ ...awsEnv, WEBSOCKET_API_ENDPOINT: api, MANAGEMENT_ENDPOINT: custom })).send(
      'c2',
      encode({ type: 'test' }),
    );
    expect(management.endpoints()).toEqual([api, custom]);
  });

  it('gives the publish function offline’s own endpoint locally, with no stage in the path', async () => {
    await backendOutbox(readConfig({ IS_OFFLINE: 'true' })).send('c1', encode({ type: 'test' }));
    expect(management.endpoints()).toEqual([OFFLINE_ENDPOINT]);
  });

  it('refuses to build the publish function’s outbox in AWS without an endpoint (ConfigError)', () => {
    expect(() => backendOutbox(readConfig(awsEnv))).toThrow(ConfigError);
    expect(management.endpoints()).toEqual([]);
  });
});

describe('clientFor', () => {
  it('keeps one client per endpoint and never re-points one', async () => {
    const a = clientFor('https://a.example/dev', { region, offline: false });
    const b = clientFor('https://b.example/prod', { region, offline: false });
    expect(clientFor('https://a.example/dev', { region, offline: false })).toBe(a);
    expect(b).not.toBe(a);
    expect(management.endpoints()).toEqual(['https://a.example/dev', 'https://b.example/prod']);

    await post(a, 'c1', encode({ type: 'test' }));
    await post(b, 'c1', encode({ type: 'test' }));
    expect(management.requests().map((r) => r.path)).toEqual(['/dev/@connections/c1', '/prod/@connections/c1']);
  });

  it('makes the real client when no test replaces it, and forgets clients on reset', () => {
    useManagementApiFactory(undefined);
    const a = clientFor('https://a.example/dev', { region, offline: false });
    expect(a.pathFor('c=1')).toBe('/dev/@connections/c%3D1');
    resetClients();
    expect(clientFor('https://a.example/dev', { region, offline: false })).not.toBe(a);
    expect(management.endpoints()).toEqual([]);
  });

  it('signs with the credentials Lambda puts in the environment, session token included', async () => {
    const env = { AWS_ACCESS_KEY_ID: 'AKIDFROMENV', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'token-1' };
    const client = clientFor('https://abc.execute-api.us-east-1.amazonaws.com/dev', { region, offline: false, env });
    await post(client, 'c1', encode({ type: 'test' }));
    const [request] = management.requests();
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDFROMENV\/\d{8}\/us-east-1\/execute-api\//,
    );
    expect(request?.headers['x-amz-security-token']).toBe('token-1');
  });

  it.each([
    ['offline', 'https://abc.execute-api.us-east-1.amazonaws.com/dev', true],
    ['pointed at localhost', 'http://localhost:3001', false],
    ['pointed at 127.0.0.1', 'http://127.0.0.1:3001', false],
  ])('signs with explicit fake credentials when %s, never looking for real ones', async (_when, endpoint, offline) => {
    const client = clientFor(endpoint, { region, offline, env: {} });
    await post(client, 'c1', encode({ type: 'test' }));
    const [request] = management.requests();
    expect(request?.headers.authorization).toMatch(/Credential=offline\//);
    expect(request?.headers['x-amz-security-token']).toBeUndefined();
  });

  it('fails at once with a CredentialsError in AWS when the environment has no credentials', () => {
    expect(() =>
      clientFor('https://abc.execute-api.us-east-1.amazonaws.com/dev', { region, offline: false, env: {} }),
    ).toThrow(CredentialsError);
    expect(management.endpoints()).toEqual([]);
  });

  it('keeps at most maxSockets kept-alive sockets to its endpoint, however many posts are in flight', async () => {
    const client = clientFor(management.url, { region, offline: true, maxSockets: 3 });
    const data = encode({ type: 'test' });
    await Promise.all(Array.from({ length: 30 }, (_, i) => post(client, `c${i}`, data)));
    const sockets = new Set(management.requests().map((r) => r.socket));
    expect(management.requests()).toHaveLength(30);
    expect(sockets.size).toBeGreaterThan(0);
    expect(sockets.size).toBeLessThanOrEqual(3);
  });
});

describe('classify', () => {
  it('turns a 410 into a StaleConnectionError', () => {
    expect(classify('c1', 410)).toBeInstanceOf(StaleConnectionError);
  });

  it.each([
    [429, true],
    [500, true],
    [503, true],
    [403, false],
    [400, false],
  ])('turns a %i into a DeliveryError (retryable: %s)', (code, retryable) => {
    const error = classify('c1', code);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ statusCode: code, retryable, connectionId: 'c1' });
  });

  it('treats a network failure (no status) as retryable', () => {
    expect(classify('c1', undefined, new Error('ECONNRESET'))).toMatchObject({
      statusCode: undefined,
      retryable: true,
    });
  });
});

describe('post', () => {
  const client = () => clientFor('https://a.example/dev', { region, offline: false });
  const data = encode({ type: 'test' });

  it('posts the bytes to the connection', async () => {
    await post(client(), 'c=1', data, { retries: 2, retryBaseMs: 1, sleep: noSleep });
    expect(management.requests()).toEqual([
      expect.objectContaining({ to: 'c=1', path: '/dev/@connections/c%3D1', message: { type: 'test' } }),
    ]);
  });

  it.each([429, 500, 503])('retries a %i a bounded number of times with a jittered pause', async (code) => {
    management.answer(code);
    const pauses: number[] = [];
    const sleep = (ms: number) => {
      pauses.push(ms);
      return Promise.resolve();
    };
    await expect(post(client(), 'c1', data, { retries: 3, retryBaseMs: 100, sleep })).rejects.toMatchObject({
      name: 'DeliveryError',
      statusCode: code,
      retryable: true,
    });
    expect(management.requests()).toHaveLength(4);
    expect(pauses).toHaveLength(3);
    pauses.forEach((pause, attempt) => expect(pause).toBeLessThanOrEqual(100 * 2 ** attempt));
  });

  it('does not retry a 410 or a 403', async () => {
    management.answer(410, { times: 1 });
    management.answer(403, { times: 1 });
    await expect(post(client(), 'c1', data, { retries: 3, retryBaseMs: 1, sleep: noSleep })).rejects.toBeInstanceOf(
      StaleConnectionError,
    );
    await expect(post(client(), 'c1', data, { retries: 3, retryBaseMs: 1, sleep: noSleep })).rejects.toMatchObject({
      name: 'DeliveryError',
      statusCode: 403,
      retryable: false,
    });
    expect(management.requests()).toHaveLength(2);
  });

  it('delivers on a retry after a throttled attempt', async () => {
    management.answer(429, { times: 1 });
    await post(client(), 'c1', data, { retries: 2, retryBaseMs: 1, sleep: noSleep });
    expect(management.requests()).toHaveLength(2);
  });

  it('does not start a retry that could end after the deadline', async () => {
    management.answer(503);
    // The pause would fit before the deadline, the attempt's timeout would not.
    await expect(
      post(client(), 'c1', data, { retries: 5, retryBaseMs: 1, timeoutMs: 2_000, deadline: Date.now() + 1_000 }),
    ).rejects.toBeInstanceOf(DeliveryError);
    expect(management.requests()).toHaveLength(1);

    management.reset();
    management.answer(503, { times: 1 });
    await post(client(), 'c1', data, { retries: 5, retryBaseMs: 1, timeoutMs: 2_000, deadline: Date.now() + 60_000 });
    expect(management.requests()).toHaveLength(2);
  });

  it('aborts an attempt that gets no answer within its timeout, as a retryable DeliveryError', async () => {
    management.answer('silent');
    const started = Date.now();
    const error: unknown = await post(client(), 'c1', data, { retries: 0, retryBaseMs: 1, timeoutMs: 100 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ connectionId: 'c1', retryable: true, cause: { name: 'PostTimeoutError' } });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('treats a refused connection as a retryable DeliveryError without a status', async () => {
    useManagementApiFactory(undefined);
    // A loopback port that was just freed: the connection is refused.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const refused = clientFor(`http://127.0.0.1:${port}`, { region, offline: true });
    await expect(post(refused, 'c1', data, { retries: 0, retryBaseMs: 1 })).rejects.toMatchObject({
      name: 'DeliveryError',
      statusCode: undefined,
      retryable: true,
    });
  });

  it('does not start a retry past the deadline', async () => {
    management.answer(503);
    await expect(
      post(client(), 'c1', data, { retries: 5, retryBaseMs: 1_000, deadline: Date.now() - 1, sleep: noSleep }),
    ).rejects.toBeInstanceOf(DeliveryError);
    expect(management.requests()).toHaveLength(1);
  });
});
