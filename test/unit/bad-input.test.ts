/**
 * Input the validator used not to survive, through the message
 * handler with the store in memory and the management API a loopback stand-in: every case gets an
 * error reply on the same connection and a 400, never a 502 and silence, and nothing
 * reaches anyone else.
 */
import { encode } from '../../src/chat/outbox';
import { message } from '../../src/handler';
import { messageEnvelope } from '../../src/chat/fanout/envelope';
import type { WebSocketEvent } from '../../src/handler';
import { MAX_DATA_BYTES, MAX_MESSAGE_BYTES, MAX_ROOM_LENGTH } from '../../src/chat/protocol';
import { ROOM_FRAME_RESERVE } from '../../src/chat/history';
import { lambdaContext, messageEvent, authorizedAs } from '../support/harnesses/events';
import { useHandlerHarness } from '../support/harnesses/handler';
import type { MemoryStore } from '../support/stand-ins/memory-store';

const harness = useHandlerHarness({ LIST_PAGE_SIZE: '1000' });
const management = harness.management;
/** What was posted, with its size in bytes and parsed. */
const posted = () => management.requests();
const SENDER = 'L0SM9cOFvHcCIhw=';
const OTHER = 'OtHeRcOnNeCtIoN=';
/**
 * A subject that JSON escapes to 6 bytes a character: 1,530 bytes. The authorizer refuses
 * control characters now (bad_subject), but the frame limits must not rely on that.
 */
const ESCAPED_SUBJECT = '\u0001'.repeat(255);
const LONGEST_ROOM = 'r'.repeat(MAX_ROOM_LENGTH);

let store: MemoryStore;
beforeEach(async () => {
  store = harness.store;
  await store.add({ connectionId: SENDER, connectedAt: 1_000, subject: ESCAPED_SUBJECT });
  await store.add({ connectionId: OTHER, connectedAt: 1_001, subject: 'bob' });
  await store.join(SENDER, LONGEST_ROOM, 50);
  await store.join(OTHER, LONGEST_ROOM, 50);
});

/** A message event from SENDER, whose token subject was ESCAPED_SUBJECT. */
function fromSender(body: unknown, route = 'sendmessage'): WebSocketEvent {
  const event = messageEvent('{}', SENDER, route);
  event.requestContext.authorizer = authorizedAs(ESCAPED_SUBJECT);
  // Assigned as unknown: the runtime decides what a body is, not our types.
  Object.assign(event, { body });
  return event;
}

async function expectRefused(event: WebSocketEvent, code: string): Promise<Record<string, unknown>> {
  // The failure table's status (src/errors.ts): 413 for a payload too large, 400 for other bad input.
  expect(await message(event, lambdaContext())).toEqual({ statusCode: code === 'payload_too_large' ? 413 : 400 });
  const sent = posted();
  expect(sent).toEqual([
    expect.objectContaining({
      to: SENDER,
      bytes: expect.any(Number),
      message: expect.objectContaining({ type: 'error' }),
    }),
  ]);
  const reply = sent[0]?.message as Record<string, unknown>;
  expect(reply.code).toBe(code);
  return reply;
}

describe('the message handler, given input built to break it', () => {
  it('answers 60,000 levels of nesting with invalid_message, not a stack overflow and a 502', async () => {
    const body = `{"action":"sendmessage","data":${'['.repeat(60_000)}${']'.repeat(60_000)}}`;
    const reply = await expectRefused(fromSender(body), 'invalid_message');
    expect(reply.message).toMatch(/64 levels/);
  });

  it('answers data: 1e400 with invalid_message instead of delivering null to everyone', async () => {
    const reply = await expectRefused(fromSender('{"action":"sendmessage","data":{"n":[1e400]}}'), 'invalid_message');
    expect(reply.details).toEqual({ issues: [{ path: 'data.n.0', message: expect.stringContaining('finite') }] });
  });

  it.each([
    ['a Buffer (serverless-offline in process)', Buffer.from('{"action":"sendmessage","data":"binary"}')],
    ['a Uint8Array (serverless-offline via a worker thread)', new Uint8Array(Buffer.from('{"action":"list"}'))],
  ])('answers a binary frame passed as %s with invalid_message asking for text frames', async (_what, body) => {
    const reply = await expectRefused(fromSender(body), 'invalid_message');
    expect(reply.message).toMatch(/text frames/);
  });

  it('answers a base64-encoded body (a binary payload API Gateway converted) with invalid_message', async () => {
    const event = fromSender(Buffer.from('{"action":"list"}').toString('base64'), '$default');
    event.isBase64Encoded = true;
    const reply = await expectRefused(event, 'invalid_message');
    expect(reply.message).toMatch(/text frames/);
  });
});

describe('the size of the frame posted, envelope included', () => {
  const publish = (data: string) => JSON.stringify({ action: 'publish', room: LONGEST_ROOM, data });
  /** The envelope the service wraps around `data`, as messaging builds it, measured with the real encoder. */
  const envelopeBytes = () =>
    encode(messageEnvelope({ room: LONGEST_ROOM }, { subject: ESCAPED_SUBJECT, connectionId: SENDER }, '')).byteLength;

  /** A room message leaves room for its `seq` and a history answer around it (src/chat/history.ts). */
  const ROOM_LIMIT = MAX_MESSAGE_BYTES - ROOM_FRAME_RESERVE;

  it('refuses with payload_too_large, before any post, data that passes the data limit but not with its envelope', async () => {
    const largestData = 'x'.repeat(MAX_DATA_BYTES - 2); // as JSON: exactly MAX_DATA_BYTES
    expect(envelopeBytes() + largestData.length).toBeGreaterThan(MAX_MESSAGE_BYTES); // 131,7xx bytes
    const reply = await expectRefused(fromSender(publish(largestData), 'publish'), 'payload_too_large');
    expect(reply.details).toEqual({ size: envelopeBytes() + largestData.length, limit: ROOM_LIMIT });
  });

  it('posts a room frame of exactly the limit (with its seq, within 128 KB) and refuses one byte more', async () => {
    const fits = 'x'.repeat(ROOM_LIMIT - envelopeBytes());
    expect(await message(fromSender(publish(fits), 'publish'), lambdaContext())).toEqual({ statusCode: 200 });
    const delivered = posted().filter((p) => p.message.type === 'message');
    const withSeq = ROOM_LIMIT + '"seq":1,'.length;
    expect(withSeq).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(delivered.map((p) => [p.to, p.bytes])).toEqual([
      [SENDER, withSeq],
      [OTHER, withSeq],
    ]);

    management.resetHistory();
    await expectRefused(fromSender(publish(fits + 'x'), 'publish'), 'payload_too_large');
  });
});

describe('the connection list', () => {
  it('sends the oldest connections that fit in one frame, marked truncated, when subjects are long', async () => {
    // 200 connections with escaped subjects: ~320 KB as one list, and LIST_PAGE_SIZE is 1000 here.
    for (let i = 2; i < 200; i++) {
      await store.add({
        connectionId: `conn-${String(i).padStart(3, '0')}`,
        connectedAt: 1_000 + i,
        subject: ESCAPED_SUBJECT,
      });
    }
    expect(await message(fromSender('{"action":"list"}', 'list'), lambdaContext())).toEqual({ statusCode: 200 });
    const [reply, ...others] = posted();
    expect(others).toEqual([]);
    expect(reply?.bytes).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const list = reply?.message as { count: number; truncated: boolean; connections: { connectionId: string }[] };
    // With auth on, the list holds the sender's own user's connections: all but bob's.
    expect(list.count).toBe(199);
    expect(list.truncated).toBe(true);
    // as many as fit (each entry is ~1.6 KB), oldest first
    expect(list.connections.length).toBeGreaterThan(70);
    expect(list.connections.slice(0, 3).map((c) => c.connectionId)).toEqual([SENDER, 'conn-002', 'conn-003']);
  });
});
