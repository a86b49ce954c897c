/** A real WebSocket client that collects what the service sends, for end-to-end tests. */
import WebSocket from 'ws';
import { MAX_FRAME_BYTES } from '../../../client';
import { utf8Pieces } from '../../../client/outgoing';

export type Received = { type: string } & Record<string, unknown>;

export class TestClient {
  readonly messages: Received[] = [];
  private waiters: { match: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];
  closed = false;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as Received;
      const waiter = this.waiters.find((w) => w.match(message));
      if (waiter) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(message);
      } else {
        this.messages.push(message);
      }
    });
    socket.on('close', () => (this.closed = true));
  }

  static connect(url: string, timeoutMs = 10_000): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const timer = setTimeout(() => reject(new Error(`no connection to ${url}`)), timeoutMs);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve(new TestClient(socket));
      });
      socket.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(Object.assign(new Error(`handshake refused with ${res.statusCode}`), { statusCode: res.statusCode }));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /**
   * Sends one message as a Node client must through API Gateway (and `npm start`): in one
   * frame when it fits, else in frames of at most 32 KB (client/outgoing.ts). Nothing is
   * refused here, so that a test can send what the gateway refuses.
   */
  send(message: unknown): void {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length <= MAX_FRAME_BYTES) {
      this.socket.send(text);
      return;
    }
    const pieces = utf8Pieces(bytes);
    pieces.forEach((piece, index) => this.socket.send(piece, { binary: false, fin: index === pieces.length - 1 }));
  }

  /** The next message (already received or still to come) that matches; fails after a timeout. */
  next(match: (m: Received) => boolean = () => true, timeoutMs = 10_000): Promise<Received> {
    const index = this.messages.findIndex(match);
    if (index >= 0) return Promise.resolve(this.messages.splice(index, 1)[0] as Received);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: Received) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `no matching message in ${timeoutMs} ms; unclaimed: ${JSON.stringify(this.messages).slice(0, 1_000)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  ofType(type: string, timeoutMs?: number): Promise<Received> {
    return this.next((m) => m.type === type, timeoutMs);
  }

  /** Sends and waits for the reply of the given type. */
  async request(message: unknown, type: string): Promise<Received> {
    const reply = this.ofType(type);
    this.send(message);
    return reply;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
