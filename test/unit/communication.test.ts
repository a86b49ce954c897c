import 'aws-sdk-client-mock-jest';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import {
  classify,
  clientFor,
  encode,
  endpointFor,
  OFFLINE_ENDPOINT,
  post,
  resetClients,
} from '../../src/communication';
import { DeliveryError, StaleConnectionError } from '../../src/errors';

const api = mockClient(ApiGatewayManagementApiClient);
const status = (code: number, name = 'Unknown') =>
  Object.assign(new Error(`status ${code}`), { name, $metadata: { httpStatusCode: code } });
const noSleep = () => Promise.resolve();

beforeEach(() => {
  api.reset();
  resetClients();
});

describe('endpointFor', () => {
  it('is https://{domainName}/{stage} in AWS', () => {
    expect(
      endpointFor({ domainName: 'abc.execute-api.eu-west-1.amazonaws.com', stage: 'prod' }, { offline: false }),
    ).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/prod');
  });

  it('is serverless-offline’s management endpoint locally, with no stage in the path', () => {
    expect(endpointFor({ domainName: 'localhost', stage: 'local' }, { offline: true })).toBe(OFFLINE_ENDPOINT);
  });

  it('lets MANAGEMENT_ENDPOINT win (custom domains, other local ports)', () => {
    expect(
      endpointFor({ domainName: 'x', stage: 'y' }, { offline: false, override: 'https://ws.example.com/v1/' }),
    ).toBe('https://ws.example.com/v1');
  });

  it('refuses an event without a domain name in AWS', () => {
    expect(() => endpointFor({}, { offline: false })).toThrow(/domainName/);
  });
});

describe('clientFor', () => {
  it('keeps one client per endpoint and never re-points one', () => {
    const a = clientFor('https://a.example/dev', { region: 'us-east-1', offline: false });
    const b = clientFor('https://b.example/dev', { region: 'us-east-1', offline: false });
    expect(clientFor('https://a.example/dev', { region: 'us-east-1', offline: false })).toBe(a);
    expect(b).not.toBe(a);
  });

  it('gives offline clients fake credentials, so the SDK never looks for real ones', async () => {
    const client = clientFor(OFFLINE_ENDPOINT, { region: 'us-east-1', offline: true });
    const credentials = await client.config.credentials();
    expect(credentials).toMatchObject({ accessKeyId: 'offline', secretAccessKey: 'offline' });
  });
});

describe('classify', () => {
  it('turns a 410 into a StaleConnectionError, whatever the error is named', () => {
    expect(classify('c1', status(410))).toBeInstanceOf(StaleConnectionError);
    expect(classify('c1', status(410, 'GoneException'))).toBeInstanceOf(StaleConnectionError);
  });

  it.each([
    [429, true],
    [500, true],
    [503, true],
    [403, false],
    [400, false],
  ])('turns a %i into a DeliveryError (retryable: %s)', (code, retryable) => {
    const error = classify('c1', status(code));
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ statusCode: code, retryable, connectionId: 'c1' });
  });

  it('treats a network failure (no status) as retryable', () => {
    expect(classify('c1', new Error('ECONNRESET'))).toMatchObject({ statusCode: undefined, retryable: true });
  });
});

describe('post', () => {
  const client = () => clientFor('https://a.example/dev', { region: 'us-east-1', offline: false });
  const data = encode({ type: 'test' });

  it('posts the bytes to the connection', async () => {
    api.on(PostToConnectionCommand).resolves({});
    await post(client(), 'c1', data, { retries: 2, retryBaseMs: 1, sleep: noSleep });
    expect(api).toHaveReceivedCommandWith(PostToConnectionCommand, { ConnectionId: 'c1', Data: data });
  });

  it('retries 429 and 5xx a bounded number of times with a jittered pause', async () => {
    api.on(PostToConnectionCommand).rejects(status(429));
    const pauses: number[] = [];
    const sleep = (ms: number) => {
      pauses.push(ms);
      return Promise.resolve();
    };
    await expect(post(client(), 'c1', data, { retries: 3, retryBaseMs: 100, sleep })).rejects.toBeInstanceOf(
      DeliveryError,
    );
    expect(api).toHaveReceivedCommandTimes(PostToConnectionCommand, 4);
    expect(pauses).toHaveLength(3);
    pauses.forEach((pause, attempt) => expect(pause).toBeLessThanOrEqual(100 * 2 ** attempt));
  });

  it('does not retry a 410 or a 403', async () => {
    api.on(PostToConnectionCommand).rejectsOnce(status(410)).rejectsOnce(status(403));
    await expect(post(client(), 'c1', data, { retries: 3, retryBaseMs: 1, sleep: noSleep })).rejects.toBeInstanceOf(
      StaleConnectionError,
    );
    await expect(post(client(), 'c1', data, { retries: 3, retryBaseMs: 1, sleep: noSleep })).rejects.toMatchObject({
      statusCode: 403,
    });
    expect(api).toHaveReceivedCommandTimes(PostToConnectionCommand, 2);
  });

  it('does not start a retry that could end after the deadline', async () => {
    api.on(PostToConnectionCommand).rejects(status(503));
    // The pause would fit before the deadline, the attempt's timeout would not.
    await expect(
      post(client(), 'c1', data, { retries: 5, retryBaseMs: 1, timeoutMs: 2_000, deadline: Date.now() + 1_000 }),
    ).rejects.toBeInstanceOf(DeliveryError);
    expect(api).toHaveReceivedCommandTimes(PostToConnectionCommand, 1);

    api.reset();
    api.on(PostToConnectionCommand).rejectsOnce(status(503)).resolves({});
    await post(client(), 'c1', data, { retries: 5, retryBaseMs: 1, timeoutMs: 2_000, deadline: Date.now() + 60_000 });
    expect(api).toHaveReceivedCommandTimes(PostToConnectionCommand, 2);
  });

  it('aborts an attempt that gets no answer within its timeout, as a retryable DeliveryError', async () => {
    api.on(PostToConnectionCommand).callsFake(() => new Promise(() => undefined));
    const started = Date.now();
    const error: unknown = await post(client(), 'c1', data, { retries: 0, retryBaseMs: 1, timeoutMs: 100 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ connectionId: 'c1', retryable: true, cause: { name: 'PostTimeoutError' } });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('does not start a retry past the deadline', async () => {
    api.on(PostToConnectionCommand).rejects(status(503));
    await expect(
      post(client(), 'c1', data, { retries: 5, retryBaseMs: 1_000, deadline: Date.now() - 1, sleep: noSleep }),
    ).rejects.toBeInstanceOf(DeliveryError);
    expect(api).toHaveReceivedCommandTimes(PostToConnectionCommand, 1);
  });
});
