/**
 * The handler side of sharded fan-outs: the message route hands a large audience to the
 * deliver function through Lambda's Invoke API (a loopback stand-in here, which checks the
 * request), and the deliver entry point runs a shard, refuses what is not one, and lets
 * Lambda retry a failure.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deliver, message, useStore } from '../../src/handler';
import type { ShardEvent } from '../../src/chat/fanout/shards';
import { apiGatewayId, lambdaContext, messageEvent } from '../support/harnesses/events';
import { useManagementStandIn } from '../support/stand-ins/management-stand-in';
import { memoryStore } from '../support/stand-ins/memory-store';
import type { MemoryStore } from '../support/stand-ins/memory-store';
import { FUNCTION_ENV } from '../support/harnesses/handler';

interface Invocation {
  path: string;
  headers: IncomingHttpHeaders;
  event: ShardEvent;
}

const invocations: Invocation[] = [];
let lambdaStatus = 202;
let lambda: Server;

beforeAll(async () => {
  lambda = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      invocations.push({
        path: req.url ?? '',
        headers: req.headers,
        event: JSON.parse(Buffer.concat(parts).toString()) as ShardEvent,
      });
      res.writeHead(lambdaStatus);
      res.end();
    });
  });
  await new Promise<void>((resolve) => lambda.listen(0, '127.0.0.1', resolve));
  // Read once by config() at the first invocation, as at a cold start.
  Object.assign(process.env, FUNCTION_ENV, {
    FANOUT_SHARD_SIZE: '2',
    DELIVER_FUNCTION: 'aws-node-websockets-dev-deliver',
    LAMBDA_ENDPOINT: `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`,
    MANAGEMENT_ENDPOINT: 'https://api.invalid/dev',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  });
});

afterAll(() => new Promise<void>((resolve) => lambda.close(() => resolve())));

const management = useManagementStandIn();
const SENDER = 'L0SM9cOFvHcCIhw=';
let store: MemoryStore;
let errors: jest.SpyInstance;

beforeEach(async () => {
  store = memoryStore();
  useStore(store);
  invocations.length = 0;
  lambdaStatus = 202;
  errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  for (const [i, id] of [SENDER, 'b', 'c', 'd', 'e'].entries()) {
    await store.add({ connectionId: id, connectedAt: i, subject: null });
  }
});

afterEach(() => errors.mockRestore());

const summaries = () => management.posted().filter((p) => p.to === SENDER && p.message.type === 'delivery');

describe('the message route with an audience above FANOUT_SHARD_SIZE', () => {
  it('hands 3 shards to deliver asynchronously, signed, and answers the sender queued', async () => {
    const result = await message(messageEvent({ action: 'sendmessage', data: 'hi' }), lambdaContext());
    expect(result).toEqual({ statusCode: 200 });
    expect(invocations).toHaveLength(3);
    for (const invocation of invocations) {
      expect(invocation.path).toBe('/2015-03-31/functions/aws-node-websockets-dev-deliver/invocations');
      expect(invocation.headers['x-amz-invocation-type']).toBe('Event');
      expect(invocation.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/lambda\//,
      );
    }
    expect(invocations.map((i) => i.event.range)).toEqual([
      { after: null, upTo: 'b' },
      { after: 'b', upTo: 'd' },
      { after: 'd', upTo: null },
    ]);
    // Nobody heard the message from this invocation: the shards post it.
    expect(management.posted().filter((p) => p.message.type === 'message')).toEqual([]);
    expect(summaries().map((p) => p.message)).toEqual([
      expect.objectContaining({ state: 'queued', recipients: 5, shards: 3, unsent: 5 }),
    ]);
  });

  it('counts shards Lambda refused as failed, and sends the final summary when that finished the delivery', async () => {
    lambdaStatus = 429;
    await message(messageEvent({ action: 'sendmessage', data: 'hi' }), lambdaContext());
    expect(summaries().map((p) => p.message)).toEqual([
      expect.objectContaining({ state: 'queued', recipients: 5 }),
      expect.objectContaining({ state: 'done', recipients: 5, failed: 5, sent: 0 }),
    ]);
  });

  it('keeps a message to one connection on the direct path', async () => {
    const one = apiGatewayId('one');
    await store.add({ connectionId: one, connectedAt: 9, subject: null });
    await message(messageEvent({ action: 'send', connectionId: one, data: 'hi' }), lambdaContext());
    expect(invocations).toEqual([]);
    expect(summaries().map((p) => p.message)).toEqual([expect.objectContaining({ to: one, sent: 1 })]);
  });
});

describe('deliver', () => {
  it('posts its shard and, as the last one, the final summary to the sender', async () => {
    await message(messageEvent({ action: 'sendmessage', data: 'hi' }), lambdaContext(900_000));
    const outcomes = [];
    for (const { event } of invocations) outcomes.push(await deliver(event, lambdaContext(900_000)));
    expect(outcomes).toEqual([{ outcome: 'done' }, { outcome: 'done' }, { outcome: 'done' }]);
    const heard = management.posted().filter((p) => p.message.type === 'message');
    expect(heard.map((p) => p.to).sort()).toEqual([SENDER, 'b', 'c', 'd', 'e'].sort());
    expect(summaries().map((p) => p.message.state)).toEqual(['queued', 'done']);
    expect(await deliver(invocations[0]?.event, lambdaContext())).toEqual({ outcome: 'duplicate' });
  });

  it('refuses an event that is not a shard without failing (a retry could not help)', async () => {
    await expect(deliver({ room: 'x' }, lambdaContext())).resolves.toEqual({ outcome: 'refused' });
  });

  it('fails the invocation when its store fails, so that Lambda retries the shard', async () => {
    await message(messageEvent({ action: 'sendmessage', data: 'hi' }), lambdaContext());
    store.startShard.mockRejectedValueOnce(new Error('database gone'));
    await expect(deliver(invocations[0]?.event, lambdaContext())).rejects.toThrow('database gone');
  });
});
