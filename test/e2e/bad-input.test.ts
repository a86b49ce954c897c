/**
 * Input the validator used not to survive, sent by real WebSocket
 * clients to the real service under serverless-offline. Each bad message gets an error
 * reply on the same connection, which keeps working, and nothing reaches anyone else.
 *
 * Authorization is on: the envelope grows with `from` (the token's subject) and with the
 * target it names. The authorizer refuses subjects with control characters, so the longest
 * `from` is 255 three-byte characters; a `user` target may still be full of characters
 * JSON escapes (6 bytes each), and that is what outgrows API Gateway's frame.
 */
import { mintToken } from '../../src/auth/token';
import { MAX_DATA_BYTES, MAX_DEPTH, MAX_MESSAGE_BYTES, MAX_ROOM_LENGTH } from '../../src/chat/protocol';
import { TestClient } from '../support/harnesses/client';
import type { Received } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(120_000);

const SECRET = 'e2e-secret-that-is-long-enough-for-hs256-0123';
const key = new TextEncoder().encode(SECRET);
/** The longest subject in bytes the authorizer accepts: 255 characters of 3 bytes each in UTF-8. */
const WIDE_SUBJECT = '東'.repeat(255);
/**
 * 255 characters (the most a user name may have) that JSON escapes to 2 bytes each: a backslash
 * can be in a name, where the control characters that escape to 6 bytes are refused.
 */
const ESCAPED_USER = '\\'.repeat(255);
const ROOM = 'r'.repeat(MAX_ROOM_LENGTH);

let service: OfflineService | undefined;
const clients: TestClient[] = [];

async function connect(subject: string): Promise<TestClient> {
  if (!service) throw new Error('the service did not start');
  const token = await mintToken(key, { subject, ttlSec: 300 });
  const client = await TestClient.connect(`${service.url}?token=${encodeURIComponent(token)}`);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  service = await startOffline({ env: { AUTH_JWT_SECRET: SECRET } });
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await service?.stop();
});

describe('bad input against the service under serverless-offline', () => {
  let alice: TestClient;
  let bob: TestClient;
  let escaped: TestClient;

  beforeAll(async () => {
    alice = await connect('alice');
    bob = await connect('bob');
    escaped = await connect(WIDE_SUBJECT);
    await bob.request({ action: 'join', room: ROOM }, 'joined');
    await escaped.request({ action: 'join', room: ROOM }, 'joined');
  });

  /** Sends `send()`'s frame, waits for the error reply, and checks the connection still answers. */
  async function expectErrorReply(client: TestClient, send: () => void): Promise<Received> {
    const error = client.ofType('error', 20_000);
    send();
    const reply = await error;
    expect(client.closed).toBe(false);
    // with auth on, each user's list holds its own connections only
    expect((await client.request({ action: 'list' }, 'connections')).count).toBe(1);
    return reply;
  }

  it('answers a message nested 60,000 levels deep with invalid_message', async () => {
    const body = `{"action":"sendmessage","data":${'['.repeat(60_000)}${']'.repeat(60_000)}}`;
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const reply = await expectErrorReply(alice, () => alice.send(body));
    expect(reply).toMatchObject({ code: 'invalid_message', details: { limit: MAX_DEPTH } });
  });

  it('answers data: 1e400 with invalid_message instead of delivering null', async () => {
    const reply = await expectErrorReply(alice, () => alice.send('{"action":"sendmessage","data":{"n":1e400}}'));
    expect(reply).toMatchObject({ code: 'invalid_message', details: { issues: [{ path: 'data.n' }] } });
  });

  it.each([
    ['JSON that routes to sendmessage', Buffer.from('{"action":"sendmessage","data":"sent as binary"}')],
    ['bytes that are not UTF-8', Buffer.from([0xff, 0x00, 0xfe, 0x7b])],
  ])('answers a binary frame holding %s with invalid_message', async (_what, bytes) => {
    const reply = await expectErrorReply(alice, () => alice.socket.send(bytes, { binary: true }));
    expect(reply.code).toBe('invalid_message');
    expect(reply.message).toMatch(/text frames/);
  });

  it('answers data that fits alone but not inside its envelope with payload_too_large', async () => {
    // A message API Gateway takes (at most 128 KB, in frames of 32 KB), its data within
    // MAX_DATA_BYTES: the envelope's `from` and escaped `user` take it over 128 KB.
    const empty = Buffer.byteLength(JSON.stringify({ action: 'send', user: ESCAPED_USER, data: '' }));
    // As large as both the message (128 KB) and its data (MAX_DATA_BYTES, quotes included) allow.
    const data = 'x'.repeat(Math.min(MAX_MESSAGE_BYTES - empty, MAX_DATA_BYTES - 2));
    expect(Buffer.byteLength(JSON.stringify(data))).toBeLessThanOrEqual(MAX_DATA_BYTES);
    const reply = await expectErrorReply(escaped, () => escaped.send({ action: 'send', user: ESCAPED_USER, data }));
    expect(reply).toMatchObject({ code: 'payload_too_large', details: { limit: MAX_MESSAGE_BYTES } });
    expect((reply.details as { size: number }).size).toBeGreaterThan(MAX_MESSAGE_BYTES);
  });

  it('refuses a handshake whose token subject has a lone surrogate', async () => {
    await expect(connect('mallory\ud800')).rejects.toMatchObject({ statusCode: 403 });
  });

  it('delivered none of it, and every connection still does real work', async () => {
    expect([alice, bob, escaped].flatMap((client) => client.messages.filter((m) => m.type === 'message'))).toEqual([]);
    const heard = bob.ofType('message');
    expect(await escaped.request({ action: 'publish', room: ROOM, data: 'fits' }, 'delivery')).toMatchObject({
      recipients: 2,
      sent: 2,
    });
    expect(await heard).toMatchObject({ from: WIDE_SUBJECT, room: ROOM, data: 'fits' });
    expect(await alice.request({ action: 'sendmessage', data: 'still here' }, 'delivery')).toMatchObject({ sent: 3 });
  });
});
