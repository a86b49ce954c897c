/**
 * What a client may send through API Gateway, and how: a frame of at most 32 KB and a
 * message of at most 128 KB (its quotas for WebSocket APIs; a connection that sends more is
 * closed with 1009). A browser's WebSocket sends each message as one frame, so there the
 * largest message is 32 KB; Node's `ws` can split a message into frames (`send(data, { fin })`),
 * so there it is 128 KB, sent in frames of at most 32 KB. Anything larger is refused here,
 * before it is sent, so that the connection is not lost (docs/protocol.md#limits-per-kind-of-client).
 */
import { ClientMessageTooLargeError } from './errors';
import { MAX_FRAME_BYTES, MAX_MESSAGE_BYTES } from './options';
import type { WebSocketConstructor, WebSocketLike } from './socket';

const encoder = new TextEncoder();

/**
 * Whether sockets of this class can send one message in several frames: `ws`'s can (its
 * WebSocket has `terminate`, and its `send` takes `{ fin }`); the browser's and Node 22's
 * global WebSocket cannot.
 */
export function canFragment(WebSocket: WebSocketConstructor): boolean {
  const proto = (WebSocket as { prototype?: { terminate?: unknown } }).prototype;
  return typeof proto?.terminate === 'function';
}

/**
 * The bytes of `text` when it must go out in several frames, undefined when it fits one;
 * throws ClientMessageTooLargeError when API Gateway would close the connection for it.
 */
export function framesNeeded(text: string, fragments: boolean): Uint8Array | undefined {
  // Each UTF-16 unit is at most 3 bytes of UTF-8: most messages need no encoding to be measured.
  if (text.length * 3 <= MAX_FRAME_BYTES) return undefined;
  const bytes = encoder.encode(text);
  if (bytes.length > MAX_MESSAGE_BYTES)
    throw new ClientMessageTooLargeError(bytes.length, MAX_MESSAGE_BYTES, 'message');
  if (bytes.length <= MAX_FRAME_BYTES) return undefined;
  if (!fragments) throw new ClientMessageTooLargeError(bytes.length, MAX_FRAME_BYTES, 'frame');
  return bytes;
}

/**
 * Splits UTF-8 bytes into pieces of at most `max` bytes, never inside a character: a server
 * checks a text message's UTF-8 as a whole, but one that looked at a frame alone would not be wrong.
 */
export function utf8Pieces(bytes: Uint8Array, max: number = MAX_FRAME_BYTES): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  while (start < bytes.length) {
    const limit = Math.min(start + max, bytes.length);
    let end = limit;
    // Back off continuation bytes (10xxxxxx) so the piece ends on a character boundary
    // (bytes that are no UTF-8 at all are cut at the limit).
    while (end < bytes.length && end > start && ((bytes[end] as number) & 0xc0) === 0x80) end -= 1;
    if (end === start) end = limit;
    pieces.push(bytes.subarray(start, end));
    start = end;
  }
  return pieces;
}

/** Sends one message that framesNeeded has checked: as one frame, or in frames of at most 32 KB. */
export function transmit(socket: WebSocketLike, text: string, fragments: boolean): void {
  const bytes = framesNeeded(text, fragments);
  if (bytes === undefined) {
    socket.send(text);
    return;
  }
  const pieces = utf8Pieces(bytes);
  pieces.forEach((piece, index) => socket.send(piece, { binary: false, fin: index === pieces.length - 1 }));
}

/** How the sockets of one WebSocket class send: `check` refuses (throws) what `send` must not send. */
export interface Sender {
  check(text: string): void;
  send(socket: WebSocketLike, text: string): void;
}

export function senderFor(WebSocket: WebSocketConstructor): Sender {
  const fragments = canFragment(WebSocket);
  return {
    check: (text) => void framesNeeded(text, fragments),
    send: (socket, text) => transmit(socket, text, fragments),
  };
}
