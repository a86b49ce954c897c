/**
 * A room's frames to the app exactly once and in `seq` order. The service numbers every
 * frame to a room (1 more than the previous one) and keeps them in history; posts to one
 * connection run in parallel and may repeat, so frames arrive shuffled and sometimes twice.
 *
 * Per room the sequencer keeps the last number handed to the app:
 * - the next one is handed over at once, with any that were waiting behind it;
 * - a repeat (a number already handed over) is dropped;
 * - one that arrives early waits `reorderWaitMs` for those before it, then the missing ones
 *   are asked for with `history`;
 * - `joined` says the room's last number: the start on a first join, and after a reconnect
 *   what was missed meanwhile (asked for at once);
 * - what history no longer has is reported as a gap, and the count goes on after it.
 */
import type { HistoryFrame, MessageFrame, PresenceFrame } from '../src/chat/frames';

/** A frame of a room, numbered. */
export type RoomFrame = (MessageFrame | PresenceFrame) & { room: string; seq: number };

/** Messages of a room that history no longer had: numbers `after + 1` to `before - 1` are lost. */
export interface GapEvent {
  room: string;
  after: number;
  before: number;
}

export interface SequencerHooks {
  deliver(frame: RoomFrame): void;
  /** Ask for the room's frames after `after` (false when it cannot be sent now: the next open asks again). */
  fetch(room: string, after: number): boolean;
  gap(event: GapEvent): void;
}

export interface SequencerOptions {
  reorderWaitMs: number;
  /** A history request unanswered this long is asked again. */
  fetchTimeoutMs: number;
}

interface RoomState {
  /** The last number handed to the app; undefined until the room's `joined` says where to start. */
  last: number | undefined;
  pending: Map<number, RoomFrame>;
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
   * A `joined` for the room, with the room's last number when it was joined. `overlapping`:
   * the connection before is still delivering (a renewal), so a lower number than ours is no
   * news (frames after it reached us there). Otherwise a lower number means the service's
   * count started again (its store was replaced): the count starts again with it.
   */
  joined(room: string, latest: number, overlapping = false): void {
    const state = this.state(room);
    if (state.last === undefined) {
      // A first join starts after what was sent before it.
      clearTimeout(state.waitTimer);
      state.waitTimer = undefined;
      state.last = latest;
      this.drain(room, state);
      return;
    }
    if (latest < state.last && !overlapping) {
      // What waits is of the old count; history has any of the new one that came before `joined`.
      state.last = latest;
      state.pending.clear();
      this.fetch(room, state);
      return;
    }
    if (latest > state.last) this.fetch(room, state);
  }

  frame(frame: RoomFrame): void {
    const state = this.state(frame.room);
    if (state.last !== undefined && frame.seq <= state.last) return; // a repeat
    state.pending.set(frame.seq, frame);
    this.drain(frame.room, state);
  }

  history(frame: HistoryFrame): void {
    const state = this.rooms.get(frame.room);
    if (state === undefined || state.last === undefined) return; // a room left meanwhile
    clearTimeout(state.fetchTimer);
    state.fetchTimer = undefined;
    const first = frame.messages[0]?.seq ?? frame.latest + 1;
    if (frame.gap && first > state.last + 1) {
      this.hooks.gap({ room: frame.room, after: state.last, before: first });
      state.last = first - 1;
    }
    for (const message of frame.messages) {
      if (isRoomFrame(message) && message.seq > state.last) state.pending.set(message.seq, message);
    }
    this.drain(frame.room, state);
    if (frame.more) this.fetch(frame.room, state);
  }

  /** Leaves the room's count behind: a room left, or a join refused. */
  forget(room: string): void {
    const state = this.rooms.get(room);
    if (state === undefined) return;
    clearTimeout(state.waitTimer);
    clearTimeout(state.fetchTimer);
    this.rooms.delete(room);
  }

  /** A new connection: requests made on the old one will not be answered; its `joined` will say what to ask. */
  reconnected(): void {
    for (const state of this.rooms.values()) {
      clearTimeout(state.waitTimer);
      clearTimeout(state.fetchTimer);
      state.waitTimer = undefined;
      state.fetchTimer = undefined;
    }
  }

  dispose(): void {
    for (const room of [...this.rooms.keys()]) this.forget(room);
  }

  private state(room: string): RoomState {
    let state = this.rooms.get(room);
    if (state === undefined) {
      state = { last: undefined, pending: new Map(), waitTimer: undefined, fetchTimer: undefined };
      this.rooms.set(room, state);
    }
    return state;
  }

  /** Hands over what follows the last number; waits (then asks) when something is missing. */
  private drain(room: string, state: RoomState): void {
    if (state.last === undefined) {
      // Until `joined` says where the room starts; a service that does not say (one from before
      // room numbers were in `joined`) gets reorderWaitMs, then the lowest frame held is the start.
      state.waitTimer ??= setTimeout(() => {
        state.waitTimer = undefined;
        if (this.rooms.get(room) !== state || state.last !== undefined || state.pending.size === 0) return;
        state.last = Math.min(...state.pending.keys()) - 1;
        this.drain(room, state);
      }, this.options.reorderWaitMs);
      return;
    }
    for (const seq of state.pending.keys()) if (seq <= state.last) state.pending.delete(seq);
    for (let next = state.pending.get(state.last + 1); next !== undefined; next = state.pending.get(state.last + 1)) {
      state.pending.delete(next.seq);
      state.last = next.seq;
      this.hooks.deliver(next);
    }
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

  private fetch(room: string, state: RoomState): void {
    if (state.fetchTimer !== undefined || state.last === undefined) return;
    clearTimeout(state.waitTimer);
    state.waitTimer = undefined;
    if (!this.hooks.fetch(room, state.last)) return;
    state.fetchTimer = setTimeout(() => {
      state.fetchTimer = undefined;
      if (this.rooms.get(room) === state) this.fetch(room, state);
    }, this.options.fetchTimeoutMs);
  }
}
