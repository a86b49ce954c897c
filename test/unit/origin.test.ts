/**
 * src/aws/origin.ts and its use by the handlers: the WebSocket functions serve only their own
 * API's events and post only to their own API, whatever host or API an event names.
 */
import { ConfigError } from '../../src/errors';
import { checkOrigin, ForeignEventError, OFFLINE_ORIGIN, readOrigin } from '../../src/aws/origin';
import { connect, defaultHandler, disconnect, message, useStore } from '../../src/handler';
import { connectEvent, disconnectEvent, lambdaContext, messageEvent } from '../support/harnesses/events';
import type { WebSocketEvent } from '../../src/handler';
import { useManagementStandIn } from '../support/stand-ins/management-stand-in';
import { memoryStore } from '../support/stand-ins/memory-store';
import type { MemoryStore } from '../support/stand-ins/memory-store';
import { FUNCTION_ENV } from '../support/harnesses/handler';

// Read once by config() at the first invocation, as at a cold start.
Object.assign(process.env, FUNCTION_ENV);

const AWS_ENV = {
  WEBSOCKET_API_ID: 'abc123',
  WEBSOCKET_API_ENDPOINT: 'https://abc123.execute-api.us-east-1.amazonaws.com/dev',
};
const OURS = { apiId: 'abc123', domainName: 'abc123.execute-api.us-east-1.amazonaws.com', stage: 'dev' };

describe('readOrigin', () => {
  it('takes the API, its host, its stage and the endpoint from the environment the template gives', () => {
    expect(readOrigin(AWS_ENV)).toEqual({
      apiId: 'abc123',
      stage: 'dev',
      domainNames: ['abc123.execute-api.us-east-1.amazonaws.com'],
      endpoint: 'https://abc123.execute-api.us-east-1.amazonaws.com/dev',
    });
  });

  it('accepts a custom domain named by MANAGEMENT_ENDPOINT too, and posts through it', () => {
    const origin = readOrigin({ ...AWS_ENV, MANAGEMENT_ENDPOINT: 'https://ws.example.com/dev/' });
    expect(origin.domainNames).toEqual(['abc123.execute-api.us-east-1.amazonaws.com', 'ws.example.com']);
    expect(origin.endpoint).toBe('https://ws.example.com/dev');
  });

  it('refuses to guess in AWS: without the API (or with offline’s "[object Object]") it is a ConfigError', () => {
    expect(() => readOrigin({})).toThrow(ConfigError);
    expect(() => readOrigin({ ...AWS_ENV, WEBSOCKET_API_ID: '[object Object]' })).toThrow(/WEBSOCKET_API_ID/);
    expect(() => readOrigin({ ...AWS_ENV, WEBSOCKET_API_ENDPOINT: 'not a url' })).toThrow(ConfigError);
  });

  it('is offline’s own API under serverless-offline, whose Ref values arrive as "[object Object]"', () => {
    const env = { IS_OFFLINE: 'true', WEBSOCKET_API_ID: '[object Object]', WEBSOCKET_API_ENDPOINT: '[object Object]' };
    expect(readOrigin(env)).toEqual(OFFLINE_ORIGIN);
    expect(readOrigin({ ...env, MANAGEMENT_ENDPOINT: 'http://localhost:4001' }).endpoint).toBe('http://localhost:4001');
  });
});

describe('checkOrigin', () => {
  const origin = readOrigin(AWS_ENV);

  it('lets our own API’s events through', () => {
    expect(() => checkOrigin(origin, OURS)).not.toThrow();
    expect(() =>
      checkOrigin(OFFLINE_ORIGIN, { apiId: 'private', domainName: 'localhost', stage: 'local' }),
    ).not.toThrow();
  });

  it.each([
    ['another API', { ...OURS, apiId: 'evil99' }, /apiId evil99/],
    ['another host', { ...OURS, domainName: 'collector.example' }, /domainName collector.example/],
    ['no host', { apiId: 'abc123', stage: 'dev' }, /domainName undefined/],
    ['another stage', { ...OURS, stage: 'prod' }, /stage prod/],
  ])('refuses %s, saying which', (_, event, reason) => {
    expect(() => checkOrigin(origin, event)).toThrow(ForeignEventError);
    expect(() => checkOrigin(origin, event)).toThrow(reason);
  });
});

describe('the WebSocket handlers, given an event of another API', () => {
  const management = useManagementStandIn();
  let store: MemoryStore;
  let logged: jest.SpyInstance;

  const level = process.env.LOG_LEVEL;
  beforeEach(() => {
    store = memoryStore();
    useStore(store);
    // Refusals are warnings; the tests' default level shows errors only.
    process.env.LOG_LEVEL = 'warn';
    logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    logged.mockRestore();
    if (level === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = level;
  });

  const refusals = () =>
    logged.mock.calls
      .map((args) => JSON.parse(String(args[0])) as Record<string, unknown>)
      .filter(
        (line) => line.msg === 'refused an event of another API' || line.message === 'refused an event of another API',
      );

  /** The attack: another API, pointed at our function, names its own host (and its 410s would delete our rows). */
  const foreign = (event: WebSocketEvent) => {
    event.requestContext.apiId = 'evil99';
    event.requestContext.domainName = 'evil99.execute-api.us-east-1.amazonaws.com';
    event.requestContext.authorizer = { principalId: 'alice' };
    return event;
  };

  it('stores nothing on $connect, under any subject, and answers 403', async () => {
    expect(await connect(foreign(connectEvent('X1')), lambdaContext())).toEqual({ statusCode: 403 });
    expect(store.rows.size).toBe(0);
    expect(refusals()).toEqual([
      expect.objectContaining({
        route: '$connect',
        connectionId: 'X1',
        apiId: 'evil99',
        reason: 'apiId evil99 is not ours',
      }),
    ]);
  });

  it('posts nothing, to its host or ours, and deletes nothing, for a message or a $disconnect', async () => {
    await store.add({ connectionId: 'A1', connectedAt: 1, subject: 'alice' });
    const send = foreign(messageEvent({ action: 'sendmessage', data: 'hi' }, 'A1', 'sendmessage'));
    expect(await message(send, lambdaContext())).toEqual({ statusCode: 403 });
    expect(await defaultHandler(foreign(messageEvent({ action: 'nope' }, 'A1')), lambdaContext())).toEqual({
      statusCode: 403,
    });
    expect(await disconnect(foreign(disconnectEvent('A1')), lambdaContext())).toEqual({ statusCode: 403 });
    expect(management.requests()).toEqual([]);
    expect(store.rows.has('A1')).toBe(true);
    expect(refusals()).toHaveLength(3);
  });

  it('serves our own API’s events, and posts to the endpoint of this stage’s API', async () => {
    await store.add({ connectionId: 'A1', connectedAt: 1, subject: null });
    const ping = messageEvent({ action: 'ping' }, 'A1', 'ping');
    expect(await message(ping, lambdaContext())).toEqual({ statusCode: 200 });
    expect(management.endpoints()).toEqual([AWS_ENV.WEBSOCKET_API_ENDPOINT]);
  });
});
