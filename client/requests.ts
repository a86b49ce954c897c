/**
 * Requests whose answer the app waits for (a publish's delivery summary, a page of history):
 * each is sent with a `ref` of its own, which the service echoes in that answer and in an
 * error frame about it (docs/protocol.md#answers-and-refs), so any number may be out at once.
 *
 * A request is held, not sent, until it may go:
 * - the connection is open;
 * - about a room the client is in: that room's join was answered on this connection (a
 *   request that overtook its join would be refused for want of membership: the join and the
 *   request run in separate Lambdas), or JOIN_WAIT_MS passed without an answer;
 * - an ordered publish: the publish before it in that room has its number (or failed).
 * Each ends, answered, refused (ClientRefusedError), or after its timeout (ClientTimeoutError).
 * A request whose connection closed before its answer is sent again on the next one when it
 * only reads (history), and fails with ClientAnswerLostError when it writes (a publish the
 * service may or may not have taken).
 */
import type { ClientCommand } from './commands';
import { ClientAnswerLostError, ClientClosedError, ClientRefusedError, ClientTimeoutError } from './errors';
import { JOIN_WAIT_MS } from './options';
import type { AbortSignalLike } from './options';
import type { WebSocketLike } from './socket';
import type { DeliveryFrame, HistoryFrame, ServerMessage } from '../src/chat/frames';

/** The commands that take a `ref`. */
export type AskedCommand = Extract<ClientCommand, { action: 'publish' | 'history' }>;
type AnswerOf<C extends AskedCommand> = C['action'] extends 'history' ? HistoryFrame : DeliveryFrame;

export interface RequestLink {
  /** The open socket to send on, or undefined while not open. */
  socket(): WebSocketLike | undefined;
  /** Whether the client asked to be in `room` (then a request about it waits for the join's answer). */
  inRoom(room: string): boolean;
  /** Whether close() was called: nothing more is sent. */
  closed(): boolean;
  /** Throws ClientMessageTooLargeError for a request API Gateway would close the connection for (./outgoing.ts). */
  check(text: string): void;
  /** Sends one request's text: in one frame, or in frames of at most 32 KB where the socket can (./outgoing.ts). */
  send(socket: WebSocketLike, text: string): void;
}

export interface AskOptions {
  /** How long the answer may take: from the call (`clock: 'asked'`) or from sending (`'sent'`). */
  timeoutMs: number;
  clock: 'asked' | 'sent';
  /** Waits for the previous ordered request of the same room to be answered before it is sent. */
  ordered?: boolean;
  signal?: AbortSignalLike | undefined;
}

interface Pending {
  ref: string;
  command: AskedCommand & { ref: string };
  /** The command as sent, checked against API Gateway's sizes when it was asked. */
  text: string;
  room: string;
  options: AskOptions;
  /** The ordered request of the room before this one, while it is unanswered. */
  behind: Pending | undefined;
  sentOn: WebSocketLike | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  answered(frame: DeliveryFrame | HistoryFrame): void;
  failed(error: unknown): void;
}

/** How a request ended: its answer, or why there is none. */
type Outcome = { frame: DeliveryFrame | HistoryFrame } | { error: unknown };

export class Requests {
  private nextRef = 0;
  /** Unanswered requests, oldest first: the order they are sent in. */
  private readonly pending = new Map<string, Pending>();
  /** Per room, the last ordered request still unanswered. */
  private readonly lastOrdered = new Map<string, Pending>();
  /** Rooms whose join was answered on the current connection (or waited for long enough). */
  private readonly ready = new Set<string>();
  private readonly joinTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly link: RequestLink) {}

  /** Requests not sent yet: they count against the client's queueLimit. */
  get held(): number {
    let count = 0;
    for (const request of this.pending.values()) if (request.sentOn === undefined) count += 1;
    return count;
  }

  /** Whether a request about `room` asked now would be held rather than sent. */
  wouldHold(room: string, ordered: boolean): boolean {
    return (
      this.link.socket() === undefined ||
      this.link.closed() ||
      (this.link.inRoom(room) && !this.ready.has(room)) ||
      (ordered && this.lastOrdered.has(room))
    );
  }

  /** Sends `command` with a ref of its own as soon as it may go; resolves with its answer. */
  ask<C extends AskedCommand>(command: C, options: AskOptions): Promise<AnswerOf<C>> {
    // Too large to send is said at once, by a throw, before anything is held or sent.
    const ref = `r${this.nextRef + 1}`;
    const text = JSON.stringify({ ...command, ref });
    this.link.check(text);
    return new Promise<AnswerOf<C>>((resolve, reject) => {
      // As fetch does: an aborted request fails with the signal's reason (an AbortError by default).
      if (options.signal?.aborted) return reject(options.signal.reason);
      // A history() loop read on after close(): nothing would ever send it.
      if (this.link.closed()) return reject(new ClientClosedError());
      this.nextRef += 1;
      const room = command.room;
      const request: Pending = {
        ref,
        command: { ...command, ref },
        text,
        room,
        options,
        behind: options.ordered ? this.lastOrdered.get(room) : undefined,
        sentOn: undefined,
        timer: undefined,
        answered: (frame) => resolve(frame as AnswerOf<C>),
        failed: reject,
      };
      this.pending.set(ref, request);
      if (options.ordered) this.lastOrdered.set(room, request);
      if (options.clock === 'asked') this.startClock(request);
      const signal = options.signal;
      if (signal) {
        const onAbort = () => this.settle(request, { error: signal.reason });
        signal.addEventListener('abort', onAbort, { once: true });
        const unlisten = () => signal.removeEventListener('abort', onAbort);
        request.answered = (frame) => (unlisten(), resolve(frame as AnswerOf<C>));
        request.failed = (error) => (unlisten(), reject(error));
      }
      this.pump();
    });
  }

  /**
   * A frame naming a ref: the answer of that request (a history answer, the first delivery
   * summary of a publish) or its refusal. True when it answered a request still waiting.
   */
  answer(frame: ServerMessage): boolean {
    const ref = 'ref' in frame ? frame.ref : undefined;
    const request = ref === undefined ? undefined : this.pending.get(ref);
    if (request === undefined) return false;
    if (frame.type === 'error') this.settle(request, { error: new ClientRefusedError(frame) });
    else if (frame.type === 'history' || frame.type === 'delivery') this.settle(request, { frame });
    else return false;
    return true;
  }

  /** A new connection: no room's join is answered on it yet (pump() sends what may go). */
  opened(): void {
    this.ready.clear();
    for (const timer of this.joinTimers.values()) clearTimeout(timer);
    this.joinTimers.clear();
  }

  /** A join was sent on the current connection: requests about the room wait for its answer, up to JOIN_WAIT_MS. */
  joinSent(room: string): void {
    this.ready.delete(room);
    clearTimeout(this.joinTimers.get(room));
    this.joinTimers.set(
      room,
      setTimeout(() => this.joinAnswered(room), JOIN_WAIT_MS),
    );
  }

  /** The room's join was answered (or refused, or the room left): what waited for it may go. */
  joinAnswered(room: string): void {
    clearTimeout(this.joinTimers.get(room));
    this.joinTimers.delete(room);
    this.ready.add(room);
    this.pump();
  }

  /**
   * `socket` closed (a drop, or a renewal's old connection retired): what it carried without
   * an answer is asked again on the next connection (a read) or fails (a publish).
   */
  abandon(socket: WebSocketLike): void {
    for (const request of [...this.pending.values()]) {
      if (request.sentOn !== socket) continue;
      if (request.command.action === 'history') request.sentOn = undefined;
      else this.settle(request, { error: new ClientAnswerLostError(request.room) });
    }
    this.pump();
  }

  /**
   * close(): nothing more is sent or answered. Returns what was never sent (as the JSON text
   * it would have been), whose requests fail with ClientClosedError; those sent fail too.
   */
  closeAll(): string[] {
    const unsent: string[] = [];
    for (const request of [...this.pending.values()]) {
      if (request.sentOn === undefined) unsent.push(JSON.stringify(request.command));
      const lost = request.sentOn !== undefined && request.command.action === 'publish';
      this.settle(request, { error: lost ? new ClientAnswerLostError(request.room) : new ClientClosedError() });
    }
    for (const timer of this.joinTimers.values()) clearTimeout(timer);
    this.joinTimers.clear();
    this.ready.clear();
    return unsent;
  }

  /** Sends, oldest first, every held request that may go now. */
  pump(): void {
    const socket = this.link.socket();
    if (socket === undefined || this.link.closed()) return;
    for (const request of this.pending.values()) {
      if (request.sentOn !== undefined || request.behind !== undefined) continue;
      if (this.link.inRoom(request.room) && !this.ready.has(request.room)) continue;
      this.link.send(socket, request.text);
      request.sentOn = socket;
      if (request.options.clock === 'sent' && request.timer === undefined) this.startClock(request);
    }
  }

  private startClock(request: Pending): void {
    const { timeoutMs } = request.options;
    request.timer = setTimeout(
      () => this.settle(request, { error: new ClientTimeoutError(request.command.action, timeoutMs) }),
      timeoutMs,
    );
  }

  private settle(request: Pending, outcome: Outcome): void {
    if (this.pending.get(request.ref) !== request) return;
    this.pending.delete(request.ref);
    clearTimeout(request.timer);
    if (this.lastOrdered.get(request.room) === request) this.lastOrdered.delete(request.room);
    // The next ordered request of the room may go: this one has its number, or never will.
    for (const other of this.pending.values()) if (other.behind === request) other.behind = undefined;
    if ('error' in outcome) request.failed(outcome.error);
    else request.answered(outcome.frame);
    this.pump();
  }
}
