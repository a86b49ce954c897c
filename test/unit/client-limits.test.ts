/**
 * The client under API Gateway's frame and message limits (client/outgoing.ts), with a fake
 * WebSocket of each kind: a browser's sends each message as one frame, so a message over
 * 32 KB is refused before it is sent and the connection stays open; `ws`'s can split a
 * message, so up to 128 KB goes out in frames of at most 32 KB, cut between characters.
 * And API Gateway's own frames ("Too Many Requests") are told apart from the service's.
 */
import {
  ClientGatewayError,
  ClientMessageTooLargeError,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES,
  RealtimeClient,
} from '../../client';
import type { ClientEvents } from '../../client';
import { utf8Pieces } from '../../client/outgoing';
import { MAX_MESSAGE_BYTES as SERVICE_MAX_MESSAGE_BYTES } from '../../src/chat/protocol';
import { fakeWebSocket } from '../support/stand-ins/fake-websocket';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const gateway = require('../../scripts/local-limits.js') as {
  AWS_LIMITS: { maxFrameBytes: number; maxMessageBytes: number };
};

const URL = 'ws://service.test';
const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
/** A sendmessage whose JSON is exactly `size` bytes. */
const ofSize = (size: number) => 'x'.repeat(size - bytes(JSON.stringify({ action: 'sendmessage', data: '' })));

const clients: RealtimeClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

/** A client that close() ends after the test (its renewal timer would keep jest waiting). */
function newClient(fake: ReturnType<typeof fakeWebSocket>): RealtimeClient {
  const client = new RealtimeClient({ url: URL, WebSocket: fake.WebSocket, heartbeatMs: 0 });
  clients.push(client);
  return client;
}

function openClient(kind: 'browser' | 'ws') {
  const fake = fakeWebSocket({ fragments: kind === 'ws' });
  const client = newClient(fake);
  const errors: Error[] = [];
  const messages: ClientEvents['message'][] = [];
  client.on('error', (error) => errors.push(error));
  client.on('message', (message) => messages.push(message));
  client.connect();
  fake.last().open();
  return { client, socket: fake.last(), errors, messages, fake };
}

describe("the client's limits", () => {
  it("are API Gateway's, as the service and the local gateway count them", () => {
    expect(MAX_FRAME_BYTES).toBe(32_768);
    expect(MAX_MESSAGE_BYTES).toBe(131_072);
    expect(MAX_MESSAGE_BYTES).toBe(SERVICE_MAX_MESSAGE_BYTES);
    expect(gateway.AWS_LIMITS).toMatchObject({ maxFrameBytes: MAX_FRAME_BYTES, maxMessageBytes: MAX_MESSAGE_BYTES });
  });
});

describe('in a browser (one frame per message)', () => {
  it('sends a message of exactly 32 KB as one frame', () => {
    const { client, socket } = openClient('browser');
    client.sendmessage(ofSize(MAX_FRAME_BYTES));
    expect(socket.frames).toHaveLength(1);
    expect(socket.frames[0]).toMatchObject({ fin: true });
    expect(socket.frames[0]?.bytes.length).toBe(MAX_FRAME_BYTES);
  });

  it('refuses a larger one before sending anything, with a typed error, and stays open', () => {
    const { client, socket, errors } = openClient('browser');
    const data = ofSize(MAX_FRAME_BYTES + 1);
    let refusal: unknown;
    try {
      client.sendmessage(data);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ClientMessageTooLargeError);
    expect(refusal).toMatchObject({
      name: 'ClientMessageTooLargeError',
      size: MAX_FRAME_BYTES + 1,
      limit: MAX_FRAME_BYTES,
      exceeds: 'frame',
    });
    expect((refusal as Error).message).toMatch(/32768 bytes.*nothing was sent/);
    expect(socket.frames).toEqual([]);
    expect(socket.closedWith).toBeUndefined();
    expect(errors).toEqual([]);
    expect(client.state).toBe('open');
    client.sendmessage('small');
    expect(socket.commands()).toEqual([{ action: 'sendmessage', data: 'small' }]);
  });

  it('counts bytes of UTF-8, not characters: 12,000 three-byte characters are too many', () => {
    const { client } = openClient('browser');
    expect(() => client.publish('lobby', '東'.repeat(12_000))).toThrow(ClientMessageTooLargeError);
    expect(() => client.publish('lobby', '東'.repeat(10_000))).not.toThrow();
  });

  it('refuses it while not open too, instead of queueing what would close the next connection', () => {
    const fake = fakeWebSocket();
    const client = newClient(fake);
    expect(() => client.sendmessage(ofSize(MAX_FRAME_BYTES + 1))).toThrow(ClientMessageTooLargeError);
    client.sendmessage('queued');
    client.connect();
    fake.last().open();
    expect(fake.last().commands()).toEqual([{ action: 'sendmessage', data: 'queued' }]);
  });
});

describe('in Node with ws (a message may be split into frames)', () => {
  it('sends 100 KB in frames of at most 32 KB, only the last one final, that make up the message', () => {
    const { client, socket } = openClient('ws');
    const data = 'y'.repeat(100 * 1024);
    client.sendmessage(data);
    expect(socket.frames.length).toBe(4);
    expect(socket.frames.every((frame) => frame.bytes.length <= MAX_FRAME_BYTES)).toBe(true);
    expect(socket.frames.map((frame) => frame.fin)).toEqual([false, false, false, true]);
    expect(socket.commands()).toEqual([{ action: 'sendmessage', data }]);
  });

  it('cuts frames between characters, never inside one', () => {
    const { client, socket } = openClient('ws');
    const data = 'a東😀'.repeat(10_000); // 1, 3 and 4 bytes: cuts that would land inside a character
    client.publish('lobby', data);
    const strict = new TextDecoder('utf-8', { fatal: true });
    expect(socket.frames.length).toBeGreaterThan(1);
    for (const frame of socket.frames) expect(() => strict.decode(frame.bytes)).not.toThrow();
    // A publish goes with its ref (the answer names it), through the same sender.
    expect(socket.commands()).toEqual([{ action: 'publish', room: 'lobby', data, ref: 'r1' }]);
  });

  it('refuses a publish over 128 KB at once, before anything is sent or held', () => {
    const { client, socket } = openClient('ws');
    expect(() => client.publish('lobby', ofSize(MAX_MESSAGE_BYTES))).toThrow(
      expect.objectContaining({ name: 'ClientMessageTooLargeError', exceeds: 'message' }),
    );
    expect(socket.frames).toHaveLength(0);
    expect(client.state).toBe('open');
  });

  it('sends exactly 128 KB, and refuses one byte more before sending anything', () => {
    const { client, socket } = openClient('ws');
    client.sendmessage(ofSize(MAX_MESSAGE_BYTES));
    expect(socket.sent.map(bytes)).toEqual([MAX_MESSAGE_BYTES]);
    const frames = socket.frames.length;
    expect(() => client.sendmessage(ofSize(MAX_MESSAGE_BYTES + 1))).toThrow(
      expect.objectContaining({ name: 'ClientMessageTooLargeError', limit: MAX_MESSAGE_BYTES, exceeds: 'message' }),
    );
    expect(socket.frames).toHaveLength(frames);
    expect(client.state).toBe('open');
  });

  it('sends a large queued message in frames once open', () => {
    const fake = fakeWebSocket({ fragments: true });
    const client = newClient(fake);
    const data = 'z'.repeat(70_000);
    client.sendmessage(data);
    client.connect();
    fake.last().open();
    expect(fake.last().frames.map((frame) => frame.fin)).toEqual([false, false, true]);
    expect(fake.last().commands()).toEqual([{ action: 'sendmessage', data }]);
  });

  it('cuts any byte string into pieces of at most the limit that join back to it', () => {
    const input = new TextEncoder().encode('€'.repeat(50));
    const pieces = utf8Pieces(input, 7);
    expect(pieces.every((piece) => piece.length <= 7 && piece.length % 3 === 0)).toBe(true);
    expect(Buffer.concat(pieces).equals(Buffer.from(input))).toBe(true);
    // Bytes that are no UTF-8 (continuation bytes only) are still cut, at the limit.
    const junk = new Uint8Array(20).fill(0x80);
    expect(utf8Pieces(junk, 7).map((piece) => piece.length)).toEqual([7, 7, 6]);
  });
});

describe("API Gateway's own frames", () => {
  it('reports "Too Many Requests" as a ClientGatewayError, not a message, and stays open', () => {
    const { client, socket, errors, messages } = openClient('browser');
    socket.receive({ message: 'Too Many Requests', connectionId: 'abc=', requestId: 'req-1' });
    expect(messages).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ClientGatewayError);
    expect(errors[0]).toMatchObject({ gatewayMessage: 'Too Many Requests', requestId: 'req-1', throttled: true });
    expect(errors[0]?.message).toMatch(/send it again later/);
    expect(client.state).toBe('open');
  });

  it('reports "Internal server error" the same way, as no throttling', () => {
    const { socket, errors } = openClient('ws');
    socket.receive({ message: 'Internal server error', connectionId: 'abc=', requestId: 'req-2' });
    expect(errors[0]).toMatchObject({
      name: 'ClientGatewayError',
      throttled: false,
      gatewayMessage: 'Internal server error',
    });
  });
});
