/**
 * The failure table (src/errors.ts) as each route applies it: the same typed error, thrown by
 * the store, gives the same status and the same client code on the socket, at the handshake,
 * through POST /publish and through a direct invocation of the publish function, and the
 * authorizer logs whose failure it was. The expected rows are written out here, not read from
 * the table, so a change to the table has to change this specification too.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  ConfigError,
  CredentialsError,
  DatabasePasswordError,
  DeliveryError,
  KeySetError,
  PostTimeoutError,
  SecretError,
  StaleConnectionError,
  StoreError,
} from '../../src/errors';
import { authorize, connect, message, publish } from '../../src/handler';
import { connectEvent, lambdaContext, messageEvent, publishHttpEvent } from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';

const harness = useHandlerHarness();
const SENDER = 'L0SM9cOFvHcCIhw=';

const ROWS: [string, () => Error, number, 'unavailable' | 'internal', 'ours' | 'dependency'][] = [
  ['ConfigError', () => new ConfigError('DB_HOST is not set'), 500, 'internal', 'ours'],
  ['CredentialsError', () => new CredentialsError('no credentials'), 500, 'internal', 'ours'],
  ['StoreError', () => new StoreError('MySQL join failed: ECONNREFUSED', 'join'), 500, 'unavailable', 'dependency'],
  [
    'DatabasePasswordError',
    () => new DatabasePasswordError('MySQL join failed: the server refused the 2 password(s) the secret gave', 'join'),
    500,
    'unavailable',
    'dependency',
  ],
  ['SecretError', () => new SecretError('reading secret s failed', 's'), 500, 'unavailable', 'dependency'],
  ['KeySetError', () => new KeySetError('the key set could not be fetched'), 500, 'unavailable', 'dependency'],
  ['DeliveryError', () => new DeliveryError(SENDER, 503, true), 502, 'unavailable', 'dependency'],
  ['StaleConnectionError', () => new StaleConnectionError('gone'), 502, 'unavailable', 'dependency'],
  ['PostTimeoutError', () => new PostTimeoutError(2_000), 502, 'unavailable', 'dependency'],
  ['Error', () => new Error('a bug of ours (no row names it)'), 502, 'internal', 'ours'],
];

describe.each(ROWS)('a %s', (name, makeError, status, code, side) => {
  it(`answers ${status} on the socket and tells the sender "${code}", logging side ${side}`, async () => {
    await harness.store.add({ connectionId: SENDER, connectedAt: 1, subject: null });
    // A read: nothing to reconcile, the error reaches the route as it was thrown.
    harness.store.list.mockRejectedValueOnce(makeError());
    const result = await message(messageEvent({ action: 'list' }, SENDER, 'list'), lambdaContext());
    expect(result).toEqual({ statusCode: status });
    expect(harness.management.posted()).toEqual([
      { to: SENDER, message: { type: 'error', code, message: expect.any(String) } },
    ]);
    expect(harness.loggedErrors()).toContainEqual(
      expect.objectContaining({ route: 'message', statusCode: status, side, error: expect.objectContaining({ name }) }),
    );
  });

  it(`refuses the handshake with ${status}`, async () => {
    harness.store.add.mockRejectedValueOnce(makeError());
    expect(await connect(connectEvent(), lambdaContext())).toEqual({ statusCode: status });
    expect(harness.management.requests()).toEqual([]);
  });

  it(`answers POST /publish with ${status} and "${code}", sending nothing`, async () => {
    harness.store.audience.mockRejectedValueOnce(makeError());
    const result = (await publish(publishHttpEvent({ data: 1 }), lambdaContext())) as APIGatewayProxyStructuredResultV2;
    expect(result.statusCode).toBe(status);
    expect(JSON.parse(String(result.body))).toEqual({ type: 'error', code, message: expect.any(String) });
    expect(harness.management.requests()).toEqual([]);
  });

  it('fails a direct invocation of the publish function with the error itself (Lambda reports it)', async () => {
    const error = makeError();
    harness.store.audience.mockRejectedValueOnce(error);
    await expect(publish({ data: 1 }, lambdaContext())).rejects.toBe(error);
  });
});

describe('bad input, on every route that reads it', () => {
  it('is 400 with the protocol code on the socket and over POST /publish, 413 when too large', async () => {
    await harness.store.add({ connectionId: SENDER, connectedAt: 1, subject: null });
    expect(await message(messageEvent({ action: 'join' }, SENDER, 'join'), lambdaContext())).toEqual({
      statusCode: 400,
    });
    const tooLarge = { action: 'sendmessage', data: 'x'.repeat(128 * 1024) };
    expect(await message(messageEvent(tooLarge, SENDER, 'sendmessage'), lambdaContext())).toEqual({ statusCode: 413 });
    const http = (await publish(
      publishHttpEvent({ data: 'x'.repeat(131_000) }),
      lambdaContext(),
    )) as APIGatewayProxyStructuredResultV2;
    expect(http.statusCode).toBe(413);
    expect(harness.management.posted().map((p) => p.message.code)).toEqual(['invalid_message', 'payload_too_large']);
  });
});

describe('the authorizer', () => {
  it('throws (API Gateway answers 500) on a failure of ours, logged as ours', async () => {
    const saved = { ...process.env };
    process.env.AUTH_MODE = 'hs256';
    delete process.env.AUTH_JWT_SECRET;
    try {
      const event = { type: 'REQUEST', methodArn: 'arn', requestContext: { connectionId: SENDER } } as never;
      await expect(authorize(event)).rejects.toBeInstanceOf(ConfigError);
      expect(harness.loggedErrors()).toContainEqual(
        expect.objectContaining({
          route: '$connect',
          side: 'ours',
          error: expect.objectContaining({ name: 'ConfigError' }),
        }),
      );
    } finally {
      process.env = saved;
    }
  });
});
