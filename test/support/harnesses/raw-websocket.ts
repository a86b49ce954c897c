/**
 * A WebSocket client written by hand over a TCP socket (RFC 6455), for tests that must
 * send what no WebSocket library would: broken frames, unmasked frames, lying lengths.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface FrameOptions {
  fin?: boolean;
  rsv1?: boolean;
  /** Clients must mask every frame (RFC 6455 5.1); false sends the payload in the clear. */
  masked?: boolean;
  /** The length the header declares, when it should differ from the payload sent (the payload is then not sent). */
  declaredLength?: number;
}

/** One client-to-server frame, encoded as RFC 6455 5.2 lays it out. */
export function frame(opcode: number, payload: Buffer, options: FrameOptions = {}): Buffer {
  const { fin = true, rsv1 = false, masked = true, declaredLength } = options;
  const length = declaredLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (length < 126) head.push(maskBit | length);
  else if (length < 65536) {
    head.push(maskBit | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(length);
  } else {
    head.push(maskBit | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(BigInt(length));
  }
  const body = declaredLength === undefined ? payload : Buffer.alloc(0);
  if (!masked) return Buffer.concat([Buffer.from(head), extended, body]);
  const key = randomBytes(4);
  const maskedBody = Buffer.from(body.map((byte, i) => byte ^ (key[i % 4] as number)));
  return Buffer.concat([Buffer.from(head), extended, key, maskedBody]);
}

export interface ServerFrame {
  opcode: number;
  /** Whether it is the last frame of its message (RFC 6455 5.4). */
  fin: boolean;
  payload: Buffer;
}

export class RawWebSocket {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  /** Resolves when the server has closed the TCP connection (or it failed). */
  readonly ended: Promise<void>;
  private isEnded = false;

  private constructor(private readonly socket: Socket) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.ended.then(() => {
      this.isEnded = true;
      this.waiter?.();
    });
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    socket.on('error', () => undefined); // 'close' follows; the tests assert on that
  }

  /** Connects to 127.0.0.1:port and completes the opening handshake (RFC 6455 4.1). */
  static async open(port: number, timeoutMs = 10_000): Promise<RawWebSocket> {
    const socket = connect(port, '127.0.0.1');
    const client = new RawWebSocket(socket);
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET / HTTP/1.1\r\nHost: localhost:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    try {
      const head = await client.until(() => {
        const end = client.buffer.indexOf('\r\n\r\n');
        if (end < 0) return undefined;
        const text = client.buffer.subarray(0, end).toString('latin1');
        client.buffer = client.buffer.subarray(end + 4);
        return text;
      }, timeoutMs);
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      if (!head.startsWith('HTTP/1.1 101') || !head.includes(`Sec-WebSocket-Accept: ${accept}`)) {
        throw new Error(`handshake refused: ${head.split('\r\n')[0]}`);
      }
    } catch (error) {
      socket.destroy();
      throw error;
    }
    return client;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  sendText(text: string): void {
    this.write(frame(0x1, Buffer.from(text, 'utf8')));
  }

  /** One text message in frames of `pieceBytes` each (the last one shorter): a text frame, then continuations. */
  sendFragmented(text: string, pieceBytes: number): void {
    const bytes = Buffer.from(text, 'utf8');
    for (let offset = 0; offset < bytes.length; offset += pieceBytes) {
      const fin = offset + pieceBytes >= bytes.length;
      this.write(frame(offset === 0 ? 0x1 : 0x0, bytes.subarray(offset, offset + pieceBytes), { fin }));
    }
  }

  /** The next whole message: its frames' payloads joined, and each frame's length. */
  async nextMessage(timeoutMs = 10_000): Promise<{ text: string; frameLengths: number[]; opcodes: number[] }> {
    const frames: ServerFrame[] = [];
    do frames.push(await this.nextFrame(timeoutMs));
    while (!(frames.at(-1) as ServerFrame).fin);
    return {
      text: Buffer.concat(frames.map((f) => f.payload)).toString('utf8'),
      frameLengths: frames.map((f) => f.payload.length),
      opcodes: frames.map((f) => f.opcode),
    };
  }

  /** The next whole frame from the server (servers never mask, RFC 6455 5.1). */
  nextFrame(timeoutMs = 10_000): Promise<ServerFrame> {
    return this.until(() => {
      const b = this.buffer;
      if (b.length < 2) return undefined;
      let length = (b[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return undefined;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return undefined;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return undefined;
      this.buffer = b.subarray(offset + length);
      const first = b[0] as number;
      return { opcode: first & 0x0f, fin: (first & 0x80) !== 0, payload: b.subarray(offset, offset + length) };
    }, timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Waits until `take` finds what it needs in the buffer; fails on timeout or when the server hung up first. */
  private until<T>(take: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`nothing from the server in ${timeoutMs} ms`)), timeoutMs);
      const finish = (error?: Error, value?: T) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (error) reject(error);
        else resolve(value as T);
      };
      const check = () => {
        const value = take();
        if (value !== undefined) finish(undefined, value);
        else if (this.isEnded) finish(new Error('the server closed the connection'));
      };
      this.waiter = check;
      check();
    });
  }
}
