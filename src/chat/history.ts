/**
 * Message identity, room order and room history.
 *
 * - Every frame the service delivers (message, presence) gets an `id` when it is accepted,
 *   so that a post API Gateway or our own retry repeats carries the same id and a client
 *   drops the repeat exactly.
 * - Every frame to a room also gets `seq`, the room's next number, which the store assigns
 *   together with keeping the frame in the room's history (one transaction): receivers
 *   can put a room's messages in order, see one missing, and ask for it with `history`.
 * - History is kept for ROOM_HISTORY_TTL and at most ROOM_HISTORY_MAX messages per room;
 *   reads never go beyond those bounds, and the sweep deletes what lies outside them.
 *
 * Kept frames are the JSON text delivered, without `seq`, which is put back in front
 * (`{"seq":n,…`), so history hands out the very frames first delivered.
 */
import { randomBytes } from 'node:crypto';
import { historyWindow } from '../config';
import type { HistorySettings } from '../config';
import type { ConnectionStore, HistoryPage, StoredMessage } from '../data';
import { BadMessageError } from '../errors';
import { requireMembership } from './access';
import { MAX_MESSAGE_BYTES } from './protocol';

export { MAX_HISTORY_LIMIT } from './protocol';

export type { HistorySettings } from '../config';
export { DEFAULT_HISTORY, historyWindow } from '../config';

export const DEFAULT_HISTORY_LIMIT = 100;

/**
 * What a room frame leaves free of API Gateway's 128 KB: `"seq":n,` (at most 24 bytes) and
 * the `history` frame around it (type, room of at most 64 characters, latest, more, gap),
 * so that every room message that was delivered also fits one history answer.
 */
export const ROOM_FRAME_RESERVE = 256;

/** What every id newMessageId makes looks like (`npm run smoke` checks the service's against it). */
export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;

/** 16 URL-safe characters (96 random bits): unique without coordination between containers. */
export function newMessageId(): string {
  return randomBytes(12).toString('base64url');
}

/** A room frame as it is delivered: its bytes, and the id and number it was given. */
export interface SequencedFrame {
  type: string;
  bytes: Uint8Array;
  id: string;
  seq: number;
}

const encoder = new TextEncoder();

function withSeq(body: string, seq: number): string {
  return `{"seq":${seq},${body.slice(1)}`;
}

/**
 * Numbers a room frame and keeps it in the room's history: one store write. Refused before
 * that when it would not fit a frame with its number (API Gateway would refuse the post to
 * every member), so a refused message takes no number. With `member`, the store numbers it
 * only when that connection is in the room (the same round trip): refused as `not_member`.
 */
export async function sequenceRoomFrame(
  store: ConnectionStore,
  frame: { type: string; room: string; id: string },
  sentAt: number,
  member?: string,
): Promise<SequencedFrame> {
  const body = JSON.stringify(frame);
  const size = Buffer.byteLength(body);
  const limit = MAX_MESSAGE_BYTES - ROOM_FRAME_RESERVE;
  if (size > limit) {
    throw new BadMessageError(
      'payload_too_large',
      `the message would be ${size} bytes with its envelope; a room message may be at most ${limit}`,
      { size, limit },
    );
  }
  const seq = await store.appendToRoom(frame.room, { id: frame.id, sentAt, body }, member);
  requireMembership(seq !== 0, frame.room, 'publish');
  return { type: frame.type, bytes: encoder.encode(withSeq(body, seq)), id: frame.id, seq };
}

export interface HistoryAnswer {
  /** The `history` frame's JSON text. */
  text: string;
  /** Messages in it. */
  count: number;
}

/**
 * The `history` frame for messages after `after`, as JSON text: the kept frames are put
 * in as they are, not parsed again. `gap` when some after `after` are no longer kept (the
 * first one in range is not `after + 1`, or none is while the room has later ones); `more`
 * when later ones did not fit (the count asked for, or 128 KB); `latest` is the room's
 * last number, so a client whose cursor is ahead of it (a store that was reset) can tell.
 * The page may stop short of the count asked for where the store's byte budget ends (`next`):
 * those messages could not have fit either, so the answer is the same as from every one.
 */
export function historyFrame(room: string, after: number, page: HistoryPage): HistoryAnswer {
  const head = `{"type":"history","room":${JSON.stringify(room)},"latest":${page.latest},"messages":[`;
  const tail = (more: boolean, gap: boolean) => `],"more":${more},"gap":${gap}}`;
  const { messages } = page;
  // The first message in range: the first read, or the one past the store's budget.
  const first = (messages[0] as StoredMessage | undefined)?.seq ?? page.next;
  const gap = first !== undefined ? first > after + 1 : page.latest > after;
  let bytes = Buffer.byteLength(head) + Buffer.byteLength(tail(false, gap));
  const parts: string[] = [];
  let last = after;
  for (const message of messages) {
    const text = withSeq(message.body, message.seq);
    const size = Buffer.byteLength(text) + (parts.length > 0 ? 1 : 0);
    if (bytes + size > MAX_MESSAGE_BYTES) break;
    bytes += size;
    parts.push(text);
    last = message.seq;
  }
  // Later messages than the last one given are younger, so kept: any after it means more
  // (one that did not fit, one past the limit, one past the store's budget).
  const more = first !== undefined && last < page.latest;
  return { text: head + parts.join(',') + tail(more, gap), count: parts.length };
}

/** A room's last number (0 for one that never had a message): one primary-key read. */
export async function latestSeq(store: ConnectionStore, room: string): Promise<number> {
  const page = await store.roomHistory(room, Number.MAX_SAFE_INTEGER, 1, { maxPerRoom: 1, notBefore: 0 }, 0);
  return page.latest;
}

/**
 * Reads and frames one `history` answer: one query, whatever the count asked for, that reads
 * no more text than one answer can hold (MAX_MESSAGE_BYTES), however large the messages.
 * With `member`, only for a connection in the room (checked by the same query): what a member
 * could have heard, and no more; `not_member` otherwise.
 */
export async function readHistory(
  store: ConnectionStore,
  request: { room: string; after: number; limit: number },
  settings: HistorySettings,
  member?: string,
): Promise<HistoryAnswer> {
  const window = historyWindow(settings);
  const { room, after, limit } = request;
  const page = await store.roomHistory(room, after, limit, window, MAX_MESSAGE_BYTES, member);
  if (page.member === false) {
    throw new BadMessageError('not_member', `join "${request.room}" before asking for its history`);
  }
  return historyFrame(request.room, request.after, page);
}
