/**
 * One smoke client's WebSocket: the raw `ws` socket and an inbox of the frames the service sent,
 * each checked by the typed client's own reader (client/frames.ts) so that a frame the client
 * would refuse fails the step that meets it. Not the typed client itself: it hides on purpose
 * what a smoke test must see (repeats dropped, room frames reordered, a refused handshake retried).
 */
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { frameProblem } from '../../client/frames';
import { describeError } from '../../client/refusals';
import type { ErrorFrame, ServerMessage } from '../../src/chat/frames';
import type { Command } from '../../src/chat/protocol';
import { withTimeout } from '../../src/timeout';

/** A check that failed: its message is the step's line, saying what was expected and what came. */
export class SmokeCheckError extends Error {
  override readonly name = 'SmokeCheckError';
}

/** A frame, shortened for a line of output. */
export function brief(value: unknown, max = 200): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** Why a socket could not be opened, in the words of someone who has to fix it. */
function openFailure(url: string, error: Error & { code?: string }): string {
  const host = new URL(url).host;
  switch (error.code) {
    case 'ECONNREFUSED':
      return `nothing accepts connections at ${host} (ECONNREFUSED): is the service running, on this port?`;
    case 'ENOTFOUND':
      return `no such host ${host} (ENOTFOUND)`;
    case 'ECONNRESET':
      return `${host} closed the connection during the handshake (ECONNRESET)`;
    default:
      return `the connection to ${host} failed: ${error.message}`;
  }
}

export class SmokeSocket {
  /** Frames no wait has taken yet, each with its number in the order of arrival. */
  private readonly inbox: { n: number; frame: ServerMessage }[] = [];
  private received = 0;
  /** Frames the typed client would refuse, with why. */
  private readonly refused: string[] = [];
  /** The waits under way, each check with what ends it (a step may wait for two frames of one socket at once). */
  private readonly waits = new Map<() => void, () => void>();
  private closedWith: string | undefined;

  private constructor(
    readonly name: string,
    private readonly socket: WebSocket,
  ) {
    socket.on('message', (raw: RawData, isBinary: boolean) => {
      const text = raw.toString();
      if (isBinary) this.refused.push(`a binary frame (it only sends JSON text): ${brief(text)}`);
      else {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          this.refused.push(`a frame that is not JSON: ${brief(text)}`);
          value = undefined;
        }
        if (value !== undefined) {
          const problem = frameProblem(value);
          if (problem === undefined) this.inbox.push({ n: this.received++, frame: value as ServerMessage });
          else this.refused.push(`${problem}: ${brief(text)}`);
        }
      }
      this.wakeAll();
    });
    socket.on('close', (code, reason) => {
      this.closedWith = `code ${code}${reason.length > 0 ? `, "${reason.toString()}"` : ''}`;
      this.wakeAll();
    });
    socket.on('error', () => undefined); // a 'close' follows, and is what the waits report
  }

  /** Opens the socket; rejects with a SmokeCheckError that says why it could not. */
  static open(name: string, url: string, timeoutMs: number): Promise<SmokeSocket> {
    const socket = new WebSocket(url);
    // Reported below (or, once open, by the close that follows); ws throws an error nobody listens to.
    socket.on('error', () => undefined);
    const opened = new Promise<SmokeSocket>((resolve, reject) => {
      socket.once('open', () => resolve(new SmokeSocket(name, socket)));
      socket.once('unexpected-response', (_request, response) => {
        // The body says why (API Gateway: {"message":"Forbidden"}); read a little of it, briefly.
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        const done = () => {
          socket.terminate();
          const said = body.trim() === '' ? '' : ` (${brief(body.trim(), 120)})`;
          reject(new SmokeCheckError(`${name}'s handshake was refused with HTTP ${response.statusCode}${said}`));
        };
        response.once('end', done);
        response.once('error', done);
        setTimeout(done, 500).unref();
      });
      socket.once('error', (error) => reject(new SmokeCheckError(openFailure(url, error))));
    });
    return withTimeout(opened, timeoutMs, () => {
      socket.terminate();
      return new SmokeCheckError(`no answer to ${name}'s handshake within ${seconds(timeoutMs)}`);
    });
  }

  private wakeAll(): void {
    for (const check of [...this.waits.keys()]) check();
  }

  /**
   * Ends the waits a finished step left (a failed step's other waits): they stop, unsettled,
   * so they can take no frame from the next step's waits.
   */
  cancelWaits(): void {
    for (const cancel of [...this.waits.values()]) cancel();
  }

  send(command: Command): void {
    this.socket.send(JSON.stringify(command));
  }

  /**
   * The first frame (already here or still to come) that `match` accepts, removed from the
   * inbox. Fails at once on a frame the client would refuse, on an `error` frame and on a
   * close; else when `timeoutMs` has passed, naming what came instead.
   */
  next<T extends ServerMessage>(
    what: string,
    match: (frame: ServerMessage) => frame is T,
    timeoutMs: number,
  ): Promise<T>;
  next(what: string, match: (frame: ServerMessage) => boolean, timeoutMs: number): Promise<ServerMessage>;
  next(what: string, match: (frame: ServerMessage) => boolean, timeoutMs: number): Promise<ServerMessage> {
    const since = this.received;
    const waiting = new Promise<ServerMessage>((resolve, reject) => {
      const finish = (error: Error | undefined, frame?: ServerMessage) => {
        clearTimeout(timer);
        this.waits.delete(check);
        if (error) reject(error);
        else resolve(frame as ServerMessage);
      };
      const check = () => {
        const refused = this.refused.shift();
        if (refused !== undefined) return finish(new SmokeCheckError(`${this.name} got ${refused}`));
        const at = this.inbox.findIndex((each) => match(each.frame));
        if (at >= 0) return finish(undefined, this.inbox.splice(at, 1)[0]?.frame);
        const error = this.inbox.findIndex((each) => each.frame.type === 'error');
        if (error >= 0) {
          const frame = this.inbox.splice(error, 1)[0]?.frame as ErrorFrame;
          return finish(new SmokeCheckError(`${this.name} got an error instead of ${what}: ${describeError(frame)}`));
        }
        if (this.closedWith !== undefined) {
          return finish(new SmokeCheckError(`${this.name}'s connection closed (${this.closedWith}) before ${what}`));
        }
      };
      const timer = setTimeout(() => {
        // What came while it waited, and no other wait took.
        const came = this.inbox.filter((each) => each.n >= since).map((each) => brief(each.frame, 160));
        const got = came.length === 0 ? 'nothing' : came.join(' ');
        finish(new SmokeCheckError(`${this.name} got no ${what} within ${seconds(timeoutMs)} (got: ${got})`));
      }, timeoutMs);
      this.waits.set(check, () => {
        clearTimeout(timer);
        this.waits.delete(check);
      });
      check();
    });
    // A step may stop waiting before a wait ends (another failed first): its end is then nobody's.
    waiting.catch(() => undefined);
    return waiting;
  }

  /** A normal close (1000), and the server's close frame back; the socket is destroyed after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    if (this.closedWith !== undefined) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.close(1000, 'smoke test done');
    await withTimeout(closed, timeoutMs, () => {
      this.socket.terminate();
      return new SmokeCheckError(`${this.name}'s close was not answered within ${seconds(timeoutMs)}`);
    });
  }

  /** Ends the socket now, whatever its state (the run's last act, after a failure). */
  destroy(): void {
    this.socket.terminate();
  }
}
