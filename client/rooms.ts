/**
 * A room's frames to the app exactly once and in `seq` order. The service numbers every
 * frame to a room (1 more than the previous one) and keeps them in history; posts to one
 * connection run in parallel and may repeat, so frames arrive shuffled and sometimes twice.
 *
 * Per room the sequencer keeps the last number handed to the app:
 * - the next one is handed over at once, with any that were waiting behind it;
 * - a repeat (a number already handed over) is dropped;
 * - one that arrives early waits `reorderWaitMs` for those before it, then the missing ones
 *   are asked for with `history`: at most HISTORY_MAX_ASKS requests for one hole, after which
 *   it is reported as a gap and the count goes on after it (a frame numbered beyond what
 *   history will ever have cannot make the client ask for ever);
 * - `joined` says the room's last number: the start on a first join (or `backlog` frames
 *   before it, asked for at once), and after a reconnect what was missed meanwhile (asked for at once);
 * - a count that started again (the service's store was replaced) is a new count, not a run
 *   of repeats: see `joined` and `restart`;
 * - what history no longer has is reported as a gap, and the count goes on after it.
 */
import type { HistoryFrame, MessageFrame, PresenceFrame } from '../src/chat/frames';

/** A frame of a room, numbered. */
export type RoomFrame = (MessageFrame | PresenceFrame) & { room: string; seq: number };

/** Messages of a room that could not be recovered: numbers `after + 1` to `before - 1` are lost. */
export interface GapEvent {
  room: string;
  after: number;
  before: number;
}

/**
 * The room's numbers went back: the service's count started again (its store was replaced or
 * reset), or went on below a frame numbered beyond it. `previous` is the last number the app
 * got, `latest` where the service's count stood when the client learned of it. The room's
 * frames follow in that count (a new one from the first history still has), none taken for a
 * repeat of the old.
 */
export interface ResetEvent {
  room: string;
  previous: number;
  latest: number;
}

export interface SequencerHooks {
  deliver(frame: RoomFrame): void;
  /** Ask for the room's frames after `after` (false when it cannot be sent now: the next open asks again). */
  fetch(room: string, after: number): boolean;
  gap(event: GapEvent): void;
  reset(event: ResetEvent): void;
}

export interface SequencerOptions {
  reorderWaitMs: number;
  /** A history request unanswered this long is asked again. */
  fetchTimeoutMs: number;
  /** History requests for one hole (timeouts included) before it is given up as a gap. */
  maxAsks: number;
}

interface RoomState {
  /** The last number handed to the app; undefined until the room's `joined` says where to start. */
  last: number | undefined;
  /** The id of the frame numbered `last`, when the app got it (to tell a new count from ours). */
  lastId: string | undefined;
  /** The highest number the service said the room has (`joined`, history's `latest`). */
  known: number;
  pending: Map<number, RoomFrame>;
  /**
   * After a reconnect, until the room's `joined` on the new connection: its frames, which may
   * be of a count that started again, so no number of theirs is taken for a repeat yet.
   * `unnumbered`: that `joined` came without a number, and the first frame decides.
   */
  rejoin: { frames: Map<number, RoomFrame>; unnumbered: boolean } | undefined;
  /** History requests made since the count last moved on: bounded by maxAsks. */
  asks: number;
  /** Frames before the join's number to hand over first (join's `backlog`), until `joined` comes. */
  backlog: number;
  /**
   * Where a backlog's read starts, until its first answer: frames history no longer has there
   * are not a gap (a backlog is the last n frames kept, at most).
   */
  backlogFrom: number | undefined;
  /** A catch-up request asked from `last - 1`: the answer's frame `last` must be ours. */
  verify: { seq: number; id: string } | undefined;
  /**
   * Set when a hole given up moved the count past every number the service named (a frame
   * numbered beyond history): the last number before it. Lower numbers then still arriving
   * are asked about, and a `latest` below ours brings the count back here.
   */
  beyond: number | undefined;
  waitTimer: ReturnType<typeof setTimeout> | undefined;
  fetchTimer: ReturnType<typeof setTimeout> | undefined;
}

export function isRoomFrame(frame: { type: string; room?: unknown; seq?: unknown }): frame is RoomFrame {
  return (
    (frame.type === 'message' || frame.type === 'presence') &&
    typeof frame.room === 'string' &&
    typeof frame.seq === 'number'
  );
}

const lowest = (frames: Map<number, RoomFrame>): number | undefined =>
  frames.size === 0 ? undefined : Math.min(...frames.keys());

export class RoomSequencer {
  private readonly rooms = new Map<string, RoomState>();

  constructor(
    private readonly hooks: SequencerHooks,
    private readonly options: SequencerOptions,
  ) {}

  /** The last number handed over for a room, if any. */
  lastSeq(room: string): number | undefined {
    return this.rooms.get(room)?.last;
  }

  /**
   * A `joined` for the room, with the room's last number when it was joined (undefined from a
   * service that does not number it). `overlapping`: the connection before is still delivering
   * (a renewal), so a lower number than ours is no news (frames after it reached us there).
   * Otherwise a lower number means the service's count started again: see `restart`.
   */
  joined(room: string, latest: number | undefined, overlapping = false): void {
    const state = this.state(room);
    const held = state.rejoin;
    if (latest === undefined) {
      if (held === undefined) return;
      held.unnumbered = true;
      return this.judgeByFirstFrame(room, state);
    }
    state.rejoin = undefined;
    if (state.last === undefined) {
      // A first join starts after what was sent before it, or `backlog` frames earlier.
      clearTimeout(state.waitTimer);
      state.waitTimer = undefined;
      state.last = Math.max(0, latest - state.backlog);
      state.known = latest;
      state.backlog = 0;
      if (state.last < latest) {
        state.backlogFrom = state.last;
        this.fetch(room, state);
      }
      this.drain(room, state);
      return;
    }
    if (latest < state.last && !overlapping) return this.restart(room, state, latest, held?.frames, 0);
    for (const frame of held?.frames.values() ?? []) this.hold(state, frame);
    state.known = Math.max(state.known, latest);
    if (latest > state.last) {
      // Asked from `last - 1`, the answer holds our own last frame: another id there means
      // the count started again and has already passed ours.
      if (held !== undefined && !overlapping && state.lastId !== undefined && state.last > 0) {
        state.verify = { seq: state.last, id: state.lastId };
      }
      this.fetch(room, state);
    }
    this.drain(room, state);
  }

  frame(frame: RoomFrame): void {
    const state = this.state(frame.room);
    if (state.rejoin !== undefined) {
      state.rejoin.frames.set(frame.seq, frame);
      return this.judgeByFirstFrame(frame.room, state);
    }
    if (state.last !== undefined && frame.seq <= state.last) {
      // A repeat; or, past a frame beyond history, the room's own count going on: asked about.
      if (state.beyond !== undefined) this.fetch(frame.room, state);
      return;
    }
    state.pending.set(frame.seq, frame);
    this.drain(frame.room, state);
  }

  history(frame: HistoryFrame): void {
    const state = this.rooms.get(frame.room);
    if (state === undefined || state.last === undefined) return; // a room left meanwhile
    clearTimeout(state.fetchTimer);
    state.fetchTimer = undefined;
    const verify = state.verify;
    state.verify = undefined;
    const ours = verify && frame.messages.find((message) => message.seq === verify.seq);
    // In one count the room's number only grows, and it was at least ours when we asked.
    if (frame.latest < state.last || (ours !== undefined && ours.id !== verify?.id)) {
      // Back to where the count was before a frame beyond history, when the room is past it.
      const resume = state.beyond !== undefined && frame.latest >= state.beyond ? state.beyond : 0;
      return this.restart(frame.room, state, frame.latest, framesOf(frame), resume);
    }
    state.beyond = undefined;
    state.known = Math.max(state.known, frame.latest);
    const first = frame.messages[0]?.seq ?? frame.latest + 1;
    const quiet = state.backlogFrom === state.last;
    state.backlogFrom = undefined;
    if (frame.gap && first > state.last + 1) this.skipTo(frame.room, state, first, quiet);
    for (const message of framesOf(frame).values()) this.hold(state, message);
    this.drain(frame.room, state);
    if (frame.more) this.fetch(frame.room, state);
  }

  /**
   * The room's first join is to hand over the last `backlog` frames before it, then the live
   * ones. No effect once the room's count has started (the app already has its frames).
   */
  expectBacklog(room: string, backlog: number): void {
    const state = this.state(room);
    if (state.last === undefined) state.backlog = backlog;
  }

  /** Leaves the room's count behind: a room left, or a join refused. */
  forget(room: string): void {
    const state = this.rooms.get(room);
    if (state === undefined) return;
    clearTimeout(state.waitTimer);
    clearTimeout(state.fetchTimer);
    this.rooms.delete(room);
  }

  /**
   * A new connection: requests made on the old one will not be answered; its `joined` will say
   * what to ask. Until then its frames are held, not judged (see RoomState.rejoin), unless
   * the old connection is still delivering (`overlapping`, a renewal), in the same count.
   */
  reconnected(overlapping = false): void {
    for (const state of this.rooms.values()) {
      clearTimeout(state.waitTimer);
      clearTimeout(state.fetchTimer);
      state.waitTimer = undefined;
      state.fetchTimer = undefined;
      state.asks = 0;
      state.verify = undefined;
      if (!overlapping && state.last !== undefined) state.rejoin ??= { frames: new Map(), unnumbered: false };
    }
  }

  dispose(): void {
    for (const room of [...this.rooms.keys()]) this.forget(room);
  }

  private state(room: string): RoomState {
    let state = this.rooms.get(room);
    if (state === undefined) {
      state = {
        last: undefined,
        lastId: undefined,
        known: 0,
        pending: new Map(),
        rejoin: undefined,
        asks: 0,
        backlog: 0,
        backlogFrom: undefined,
        verify: undefined,
        beyond: undefined,
        waitTimer: undefined,
        fetchTimer: undefined,
      };
      this.rooms.set(room, state);
    }
    return state;
  }

  private hold(state: RoomState, frame: RoomFrame): void {
    if (state.last === undefined || frame.seq > state.last) state.pending.set(frame.seq, frame);
  }

  /**
   * A service whose `joined` has no number: after a reconnect, the first frame says whether
   * the count went on (a number above ours) or started again (ours or below).
   */
  private judgeByFirstFrame(room: string, state: RoomState): void {
    const held = state.rejoin;
    const first = held === undefined ? undefined : lowest(held.frames);
    if (held === undefined || !held.unnumbered || first === undefined || state.last === undefined) return;
    state.rejoin = undefined;
    if (first <= state.last) return this.restart(room, state, first - 1, held.frames, first - 1);
    for (const frame of held.frames.values()) this.hold(state, frame);
    this.drain(room, state);
  }

  /**
   * The service's count for the room started again, at `latest`. What the client held of the
   * old count is handed over first (its holes as gaps: that history is gone), then `reset`;
   * the count goes on after `resume` (0: the new count's first), asking history for what the
   * service already has beyond it, with `frames` of the new count received meanwhile.
   */
  private restart(
    room: string,
    state: RoomState,
    latest: number,
    frames: Map<number, RoomFrame> = new Map(),
    resume: number,
  ): void {
    clearTimeout(state.waitTimer);
    clearTimeout(state.fetchTimer);
    state.waitTimer = undefined;
    state.fetchTimer = undefined;
    for (let next = lowest(state.pending); next !== undefined; next = lowest(state.pending)) {
      this.skipTo(room, state, next);
      this.handOver(state);
    }
    this.hooks.reset({ room, previous: state.last ?? 0, latest });
    state.last = resume;
    state.lastId = undefined;
    state.known = latest;
    state.asks = 0;
    state.verify = undefined;
    state.beyond = undefined;
    state.backlogFrom = undefined;
    for (const frame of frames.values()) this.hold(state, frame);
    if (latest > resume) this.fetch(room, state);
    this.drain(room, state);
  }

  /**
   * Numbers `last + 1` to `before - 1` will not come: a gap (unless `quiet`: the start of a
   * backlog that history no longer keeps), and the count goes on at `before`.
   */
  private skipTo(room: string, state: RoomState, before: number, quiet = false): void {
    const after = state.last as number;
    if (before <= after + 1) return;
    if (!quiet) this.hooks.gap({ room, after, before });
    state.last = before - 1;
    state.lastId = undefined;
    state.asks = 0;
  }

  /** Hands over what follows the last number without a hole; returns whether any did. */
  private handOver(state: RoomState): boolean {
    let moved = false;
    for (const seq of state.pending.keys()) if (seq <= (state.last as number)) state.pending.delete(seq);
    for (let next = state.pending.get((state.last as number) + 1); next !== undefined;) {
      state.pending.delete(next.seq);
      state.last = next.seq;
      state.lastId = next.id;
      moved = true;
      this.hooks.deliver(next);
      next = state.pending.get(state.last + 1);
    }
    if (moved) state.asks = 0;
    return moved;
  }

  /** Hands over what follows the last number; waits (then asks) when something is missing. */
  private drain(room: string, state: RoomState): void {
    if (state.last === undefined) {
      // Until `joined` says where the room starts; a service that does not say (one from before
      // room numbers were in `joined`) gets reorderWaitMs, then the lowest frame held is the start.
      state.waitTimer ??= setTimeout(() => {
        state.waitTimer = undefined;
        if (this.rooms.get(room) !== state || state.last !== undefined || state.pending.size === 0) return;
        state.last = (lowest(state.pending) as number) - 1;
        this.drain(room, state);
      }, this.options.reorderWaitMs);
      return;
    }
    this.handOver(state);
    if (state.pending.size === 0) {
      clearTimeout(state.waitTimer);
      state.waitTimer = undefined;
      return;
    }
    if (state.waitTimer === undefined && state.fetchTimer === undefined) {
      state.waitTimer = setTimeout(() => {
        state.waitTimer = undefined;
        if (this.rooms.get(room) === state && state.pending.size > 0) this.fetch(room, state);
      }, this.options.reorderWaitMs);
    }
  }

  /**
   * Asks history for what follows the last number, once at a time. After maxAsks requests
   * without the count moving on, the hole is given up: a gap up to the lowest frame held (or
   * past the last number the service named), and the count goes on from there.
   */
  private fetch(room: string, state: RoomState): void {
    if (state.fetchTimer !== undefined || state.last === undefined) return;
    clearTimeout(state.waitTimer);
    state.waitTimer = undefined;
    if (state.asks >= this.options.maxAsks) {
      const before = lowest(state.pending) ?? state.known + 1;
      if (before > state.known + 1) state.beyond ??= state.last;
      this.skipTo(room, state, before);
      state.asks = 0;
      state.verify = undefined;
      this.drain(room, state);
      return;
    }
    const after = state.verify === undefined ? state.last : state.verify.seq - 1;
    if (!this.hooks.fetch(room, after)) return;
    state.asks += 1;
    state.fetchTimer = setTimeout(() => {
      state.fetchTimer = undefined;
      if (this.rooms.get(room) === state) this.fetch(room, state);
    }, this.options.fetchTimeoutMs);
  }
}

/** A history answer's frames, by number. */
function framesOf(frame: HistoryFrame): Map<number, RoomFrame> {
  const frames = new Map<number, RoomFrame>();
  for (const message of frame.messages) if (isRoomFrame(message)) frames.set(message.seq, message);
  return frames;
}
