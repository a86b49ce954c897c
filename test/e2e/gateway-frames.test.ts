/**
 * API Gateway's frame and message limits, kept by `npm start` with its defaults (nothing is
 * set): a frame over 32 KB, or a message whose frames come to over 128 KB, closes the
 * connection with 1009 "Message too big" before any of it reaches a function; a message of
 * up to 128 KB in frames of at most 32 KB is taken, and what the service posts back goes out
 * in frames of at most 32 KB too; a post over 128 KB to @connections is refused with 413.
 * The connections are written by hand (RawWebSocket), so that every frame is as the test says.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { RawWebSocket } from '../support/harnesses/raw-websocket';
import type { ServerFrame } from '../support/harnesses/raw-websocket';
import { TestClient } from '../support/harnesses/client';
import { startOffline } from '../support/harnesses/offline';
import type { OfflineService } from '../support/harnesses/offline';
import { root } from '../support/harnesses/service';
import { eventually } from '../support/harnesses/store-cases';

jest.setTimeout(120_000);

const KB = 1024;
const FRAME = 32 * KB;
const MESSAGE = 128 * KB;

let service: OfflineService;
let witness: TestClient;
const raws: RawWebSocket[] = [];

/** A sendmessage whose JSON text is exactly `size` bytes. */
function sendmessageOf(size: number): string {
  const empty = JSON.stringify({ action: 'sendmessage', data: '' });
  return JSON.stringify({ action: 'sendmessage', data: 'm'.repeat(size - Buffer.byteLength(empty)) });
}

async function rawClient(): Promise<{ raw: RawWebSocket; id: string }> {
  const raw = await RawWebSocket.open(service.port);
  raws.push(raw);
  raw.sendText('{"action":"list"}');
  const reply = JSON.parse((await raw.nextFrame()).payload.toString('utf8')) as { you: string };
  return { raw, id: reply.you };
}

async function listedIds(): Promise<string[]> {
  const reply = await witness.request({ action: 'list' }, 'connections');
  return (reply.connections as { connectionId: string }[]).map((c) => c.connectionId);
}

/** The close frame the server sent: its code and reason. */
function closeOf(frame: ServerFrame): { opcode: number; code: number; reason: string } {
  return { opcode: frame.opcode, code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() };
}

/** No message reaches the witness within `ms`. */
async function witnessHearsNothing(ms = 2_000): Promise<void> {
  await new Promise((done) => setTimeout(done, ms));
  expect(witness.messages.filter((m) => m.type === 'message')).toEqual([]);
}

beforeAll(async () => {
  service = await startOffline();
  witness = await TestClient.connect(service.url);
});

afterAll(async () => {
  for (const raw of raws) raw.destroy();
  await witness?.close();
  await service?.stop();
});

describe("npm start's frame and message limits, by default", () => {
  it('says at start which limits it keeps, the throttling as the settings give it', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const settings = (await (require(resolve(service.serviceDir, 'settings.js')) as Settings)({ local: true })) as {
      WS_THROTTLE_BURST: number;
      WS_THROTTLE_RATE: number;
    };
    expect(service.output()).toContain(
      `API Gateway's limits: throttling ${settings.WS_THROTTLE_BURST} at once, ${settings.WS_THROTTLE_RATE}/s per route, ` +
        'new connections 500/s, frames <= 32768 B, messages <= 131072 B, idle close 10m, connections end after 2h',
    );
  });

  it('closes a connection that sends a 33 KB frame with 1009 "Message too big", and nothing of it is delivered', async () => {
    const { raw, id } = await rawClient();
    raw.sendText(sendmessageOf(33 * KB));
    expect(closeOf(await raw.nextFrame())).toEqual({ opcode: 0x8, code: 1009, reason: 'Message too big' });
    await raw.ended; // the server hangs up by itself
    expect(await eventually(listedIds, (ids) => !ids.includes(id))).not.toContain(id); // its $disconnect ran
    await witnessHearsNothing();
    expect(service.output()).toMatch(/"limit":"frame","connectionId":"[^"]+","code":1009/);
  });

  it('closes wscat, which sends each line as one frame, on a line over 32 KB', async () => {
    const wscat = spawn(process.execPath, [join(root, 'node_modules', 'wscat', 'bin', 'wscat'), '-c', service.url], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // Without a terminal wscat prints only what it receives, and drops the lines it reads before
    // it is connected: a ping every half second until a pong says it is.
    let output = '';
    wscat.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(wscat, 'exit');
    const connected = Date.now() + 20_000;
    while (!output.includes('"type":"pong"') && Date.now() < connected) {
      wscat.stdin.write('{"action":"ping"}\n');
      await new Promise((done) => setTimeout(done, 500));
    }
    expect(output).toContain('"type":"pong"');
    const line = sendmessageOf(33 * KB);
    wscat.stdin.write(`${line}\n`);
    await exited; // the gateway closed its connection
    // One frame of the whole line: wscat cannot split a message.
    expect(service.output()).toContain(
      `"reason":"a frame of ${Buffer.byteLength(line)} bytes (LOCAL_MAX_FRAME_BYTES: 32768)"`,
    );
    await witnessHearsNothing();
  });

  it('takes a frame of exactly 32 KB', async () => {
    const { raw } = await rawClient();
    raw.sendText(sendmessageOf(FRAME));
    const heard = await witness.ofType('message', 20_000);
    expect(Buffer.byteLength(JSON.stringify(heard.data))).toBeGreaterThan(FRAME - 100);
    const echo = await raw.nextMessage(20_000);
    expect(JSON.parse(echo.text)).toMatchObject({ type: 'message' });
  });

  it('takes 100 KB in frames of at most 32 KB, and delivers it in frames of at most 32 KB', async () => {
    const { raw } = await rawClient();
    const text = sendmessageOf(100 * KB);
    raw.sendFragmented(text, FRAME);
    const echo = await raw.nextMessage(20_000);
    const message = JSON.parse(echo.text) as { type: string; data: string };
    expect(message.type).toBe('message');
    expect(message.data).toBe((JSON.parse(text) as { data: string }).data);
    expect(echo.frameLengths.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...echo.frameLengths)).toBeLessThanOrEqual(FRAME);
    expect(echo.opcodes).toEqual([0x1, ...echo.opcodes.slice(1).map(() => 0x0)]);
    expect((await witness.ofType('message', 20_000)).data).toBe(message.data);
  });

  it('closes with 1009 a message whose frames come to 130 KB, before any of it reaches a function', async () => {
    const { raw, id } = await rawClient();
    raw.sendFragmented(sendmessageOf(130 * KB), 26 * KB);
    expect(closeOf(await raw.nextFrame())).toEqual({ opcode: 0x8, code: 1009, reason: 'Message too big' });
    await raw.ended;
    expect(await eventually(listedIds, (ids) => !ids.includes(id))).not.toContain(id);
    await witnessHearsNothing();
    expect(service.output()).toMatch(/"limit":"message","connectionId":"[^"]+","code":1009/);
  });

  it('refuses a post of more than 128 KB to @connections with 413, and sends one of 128 KB in frames', async () => {
    const { raw, id } = await rawClient();
    const post = (bytes: number) =>
      fetch(`http://localhost:${service.port}/@connections/${encodeURIComponent(id)}`, {
        method: 'POST',
        body: 'p'.repeat(bytes),
      });
    const refused = await post(MESSAGE + 1);
    expect(refused.status).toBe(413);
    expect(refused.headers.get('x-amzn-errortype')).toBe('PayloadTooLargeException');
    expect((await post(MESSAGE)).ok).toBe(true);
    const received = await raw.nextMessage();
    expect(received.text).toBe('p'.repeat(MESSAGE));
    expect(received.frameLengths).toEqual([FRAME, FRAME, FRAME, FRAME]);
  });
});

type Settings = (options: { local: boolean }) => Promise<Record<string, unknown>>;
