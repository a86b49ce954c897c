/**
 * `history(room, options)`: a room's kept frames as an async iterator over pages, each page
 * in `seq` order. Without `before` it reads forward from `after` (0: the oldest kept) until the
 * service says there is no more; with `before` it reads backward, the newest page first, down
 * to `after` or to the oldest kept.
 *
 * The service's `history` action reads forward only (`after`, `limit`). Reading backward needs
 * nothing more from it: a room's numbers are consecutive (every room frame takes the next one;
 * a refused message takes none), so the page of at most `limit` frames before `before` is the
 * frames after `before - 1 - limit`; where the service kept fewer (a trimmed room), the page
 * has fewer, and `gap` says the older ones are gone. An answer holds at most 128 KB: a page cut
 * short by that is completed with the next answers, so a page is always the whole range it names.
 */
import type { HistoryFrame } from '../src/chat/frames';
import { ClientFrameError } from './errors';
import type { AbortSignalLike } from './options';
import type { RoomFrame } from './rooms';

/** The most frames one `history` request may ask for (src/chat/protocol.ts MAX_HISTORY_LIMIT). */
export const MAX_HISTORY_PAGE = 1_000;
export const DEFAULT_HISTORY_PAGE = 100;
/** The highest `after` the service takes: asking after it answers the room's last number alone. */
const LAST = Number.MAX_SAFE_INTEGER;

export interface HistoryOptions {
  /** Only frames numbered above this (default 0: from the oldest kept). */
  after?: number;
  /**
   * Only frames numbered below this, read backward: the newest page first. `Infinity` reads
   * back from the room's last frame. Without it, pages go forward from `after`.
   */
  before?: number;
  /** Frames per page, 1 to 1,000 (default 100). */
  limit?: number;
  /** How long each request may take to be answered, the wait for an open connection included. Default 10 s. */
  timeoutMs?: number;
  /** Aborting fails the page being read with the signal's reason and ends the iteration. */
  signal?: AbortSignalLike;
}

export interface HistoryPage {
  room: string;
  /** The page's frames (messages and presence events), in `seq` order: as first delivered. */
  messages: RoomFrame[];
  /** The room's last number when the page was read. */
  latest: number;
  /** Whether another page follows (the iterator reads it when asked for the next). */
  more: boolean;
  /**
   * Frames that belong before this page's first one are no longer kept (older than the
   * service's history keeps): forward, the first page starts later than asked; backward, this
   * is the last page.
   */
  gap: boolean;
}

/** One `history` request: the frames after `after`, at most `limit` (the client sends it, with a ref). */
export type AskHistory = (request: { room: string; after: number; limit: number }) => Promise<HistoryFrame>;

/** Checks the options (RangeError), so that a mistake is thrown by history() itself, not by the first page. */
export function historyRange(options: HistoryOptions): { after: number; before: number | undefined; limit: number } {
  const { after = 0, before, limit = DEFAULT_HISTORY_PAGE } = options;
  if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`after must be an integer >= 0, got ${after}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_HISTORY_PAGE}, got ${limit}`);
  }
  if (before !== undefined && before !== Infinity && (!Number.isSafeInteger(before) || before < 1)) {
    throw new RangeError(`before must be an integer >= 1 or Infinity, got ${before}`);
  }
  return { after, before, limit };
}

const numbered = (answer: HistoryFrame) => answer.messages as RoomFrame[];

/** The pages of a room's history (see the module's comment); `ask` makes each request. */
export async function* historyPages(
  ask: AskHistory,
  room: string,
  options: HistoryOptions,
): AsyncGenerator<HistoryPage> {
  const { after, before, limit } = historyRange(options);
  if (before === undefined) {
    yield* forward(ask, room, after, limit);
    return;
  }
  const top = before === Infinity || before > LAST ? (await ask({ room, after: LAST, limit: 1 })).latest + 1 : before;
  yield* backward(ask, room, after, top, limit);
}

async function* forward(ask: AskHistory, room: string, after: number, limit: number): AsyncGenerator<HistoryPage> {
  for (let cursor = after; ;) {
    const answer = await ask({ room, after: cursor, limit });
    const messages = numbered(answer);
    const last = messages.at(-1);
    if (answer.more && last === undefined) throw stalled(answer);
    yield { room, messages, latest: answer.latest, more: answer.more, gap: answer.gap };
    if (!answer.more || last === undefined) return;
    cursor = last.seq;
  }
}

/** Pages of frames `floor + 1` to `top - 1`, the newest first. */
async function* backward(
  ask: AskHistory,
  room: string,
  floor: number,
  top: number,
  limit: number,
): AsyncGenerator<HistoryPage> {
  for (let end = top; end - 1 > floor;) {
    const from = Math.max(floor, end - 1 - limit);
    const page = await range(ask, room, from, end);
    if (page.messages.length === 0 && page.latest < from) {
      // `before` is beyond the room's last frame: start again from that one, with nothing to show yet.
      end = page.latest + 1;
      continue;
    }
    const more = !page.gap && from > floor;
    yield { room, messages: page.messages, latest: page.latest, more, gap: page.gap };
    if (!more) return;
    end = from + 1;
  }
}

/** Frames `from + 1` to `end - 1`: one request, or more when an answer stops short at 128 KB. */
async function range(ask: AskHistory, room: string, from: number, end: number) {
  const messages: RoomFrame[] = [];
  let latest = 0;
  let gap = false;
  for (let cursor = from; cursor < end - 1;) {
    const answer = await ask({ room, after: cursor, limit: end - 1 - cursor });
    latest = answer.latest;
    // The first answer tells whether the frames just above `from` are still kept.
    if (cursor === from) gap = answer.gap;
    const inRange = numbered(answer).filter((frame) => frame.seq < end);
    messages.push(...inRange);
    const last = inRange.at(-1);
    if (!answer.more || inRange.length < answer.messages.length) break;
    if (last === undefined) throw stalled(answer);
    cursor = last.seq;
  }
  return { messages, latest, gap };
}

/** An answer that says there is more but gives nothing to go on from: asking again would loop. */
function stalled(answer: HistoryFrame): ClientFrameError {
  return new ClientFrameError(
    'the service answered history with "more" and no frame to go on from',
    JSON.stringify(answer),
  );
}
