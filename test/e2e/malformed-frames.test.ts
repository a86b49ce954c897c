/**
 * No bytes a client sends may take the local server down. Each
 * malformed frame goes out on a raw TCP connection of its own, after a handshake made
 * by hand; the server must close that connection (running `$disconnect`, so its row
 * goes) while a well-behaved `ws` client keeps its socket and its replies.
 */
import { frame, RawWebSocket } from '../support/harnesses/raw-websocket';
import { TestClient } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import { eventually } from '../support/harnesses/store-cases';
import type { OfflineService } from '../support/harnesses/offline';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const text = (s: string) => Buffer.from(s, 'utf8');
const closeCode = (code: number) => {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return payload;
};

/** [what, the frame, the close code RFC 6455 7.4.1 prescribes for it] */
const malformed: [string, Buffer, number][] = [
  ['a text frame of invalid UTF-8', frame(0x1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 1007],
  ['a frame with RSV1 set (no extension negotiated)', frame(0x1, text('{}'), { rsv1: true }), 1002],
  ['an unmasked client frame', frame(0x1, text('{}'), { masked: false }), 1002],
  ['a frame with a reserved opcode (0x3)', frame(0x3, text('{}')), 1002],
  ['a close frame with close code 999', frame(0x8, closeCode(999)), 1002],
  // Only the header goes out: it declares 101 MiB, over ws's (and offline's) 100 MiB limit.
  ['a frame header declaring 101 MiB', frame(0x2, Buffer.alloc(0), { declaredLength: 101 * MiB }), 1009],
];

let service: OfflineService;
let witness: TestClient;
const raws: RawWebSocket[] = [];

/** Runs `check`; when it fails, adds the tail of what the service printed (a crash shows there). */
async function withServiceOutput(check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    const tail = service.output().slice(-3_000);
    throw new Error(`${(error as Error).message}\n--- the service printed (tail) ---\n${tail}`, { cause: error });
  }
}

const listedIds = async () =>
  ((await witness.request({ action: 'list' }, 'connections')).connections as { connectionId: string }[]).map(
    (c) => c.connectionId,
  );

beforeAll(async () => {
  // What is under test is ws's own protocol errors and the preload's listener for them. With
  // API Gateway's frame limits on, the 101 MiB header would be refused as a frame over 32 KB
  // first (test/e2e/gateway-frames.test.ts), and ws's own 1009 would go untested.
  service = await startOffline({ env: { LOCAL_MAX_FRAME_BYTES: 'off', LOCAL_MAX_MESSAGE_BYTES: 'off' } });
  witness = await TestClient.connect(service.url);
});

afterAll(async () => {
  for (const raw of raws) raw.destroy();
  await witness?.close();
  await service?.stop();
});

describe('the local server under malformed WebSocket frames', () => {
  it.each(malformed)(
    'closes the connection that sent %s with its close code, and serves everyone else',
    async (_what, bytes, code) => {
      const raw = await RawWebSocket.open(service.port);
      raws.push(raw);
      // A well-formed request first: the hand-made handshake works and tells us the connection's id.
      raw.sendText('{"action":"list"}');
      const reply = JSON.parse((await raw.nextFrame()).payload.toString('utf8')) as { type: string; you: string };
      expect(reply.type).toBe('connections');
      expect(await listedIds()).toContain(reply.you);

      raw.write(bytes);

      // The server answers with a close frame carrying the protocol's code, then hangs up by
      // itself: the raw client never completes the closing handshake.
      const close = await raw.nextFrame();
      expect(close.opcode).toBe(0x8);
      expect(close.payload.readUInt16BE(0)).toBe(code);
      await raw.ended;

      // `$disconnect` ran: the row is gone; the witness is still connected and answered.
      await withServiceOutput(async () => {
        const ids = await eventually(listedIds, (list) => !list.includes(reply.you));
        expect(ids).not.toContain(reply.you);
        expect(ids).toContain((await witness.request({}, 'connections')).you);
        const delivery = await witness.request({ action: 'sendmessage', data: 'still here' }, 'delivery');
        expect(delivery).toMatchObject({ sent: 1, failed: 0 });
        expect(witness.closed).toBe(false);
      });
    },
  );

  it('survives all of them at once, and a new client can still connect and talk', async () => {
    const batch = await Promise.all(malformed.map(() => RawWebSocket.open(service.port)));
    raws.push(...batch);
    batch.forEach((raw, i) => raw.write((malformed[i] as [string, Buffer, number])[1]));
    await Promise.all(batch.map((raw) => raw.ended));

    await withServiceOutput(async () => {
      const late = await TestClient.connect(service.url);
      try {
        const reply = await eventually(
          () => late.request({ action: 'list' }, 'connections'),
          (r) => r.count === 2,
        );
        expect(reply.count).toBe(2); // the witness and the late client, none of the raw ones
        expect(await late.request({ action: 'sendmessage', data: 'hi' }, 'delivery')).toMatchObject({ sent: 2 });
      } finally {
        await late.close();
      }
      expect(witness.closed).toBe(false);
    });
  });
});
