/**
 * What the service does with a message: the connection list, broadcast, rooms and
 * room messages. Handlers build a Session and call `handleMessage`; this module knows
 * nothing about Lambda events.
 */
import { encode } from './communication';
import type { Connection, ConnectionStore } from './data';
import { BadMessageError, StaleConnectionError } from './errors';
import { fanOut } from './fanout';
import type { FanOutResult } from './fanout';
import { log } from './log';
import { MAX_MESSAGE_BYTES, parseCommand } from './protocol';
import type { Command } from './protocol';

/** Sends bytes to one connection; throws StaleConnectionError on 410, DeliveryError otherwise. */
export interface Outbox {
  send(connectionId: string, data: Uint8Array, deadline?: number): Promise<void>;
}

export interface Session {
  store: ConnectionStore;
  outbox: Outbox;
  connectionId: string;
  /** The authorizer's subject, or null on an open endpoint. */
  subject: string | null;
  concurrency: number;
  /** Ms epoch: no delivery starts after it. */
  deadline: number;
  listPageSize: number;
}

/** Rooms one connection may be in at once: bounds what a single client can make us store. */
export const MAX_ROOMS_PER_CONNECTION = 50;

type Reply = { type: string } & Record<string, unknown>;

/**
 * Replies to the sender. A sender that is already gone (410) is removed from the
 * store, and that is not a failure of the request.
 */
export async function reply(session: Session, message: Reply): Promise<void> {
  try {
    await session.outbox.send(session.connectionId, encode(message), session.deadline);
  } catch (error) {
    if (!(error instanceof StaleConnectionError)) throw error;
    log.warn('sender is gone; removing it', { connectionId: session.connectionId });
    await session.store.remove(session.connectionId);
  }
}

function describeConnection(connection: Connection) {
  return { connectionId: connection.connectionId, connectedAt: connection.connectedAt, from: connection.subject };
}

async function listConnections(session: Session): Promise<void> {
  const page = await session.store.list(session.listPageSize);
  const described = page.connections.map(describeConnection);
  const listOf = (shown: number): Reply => ({
    type: 'connections',
    you: session.connectionId,
    count: page.count,
    connections: described.slice(0, shown),
    truncated: page.count > shown,
  });
  const fits = (shown: number) => encode(listOf(shown)).byteLength <= MAX_MESSAGE_BYTES;
  // A page is ~100 bytes an entry, but an entry's `from` can take 1.5 KB (255 characters
  // JSON escapes to 6 bytes each), and LIST_PAGE_SIZE goes up to 1,000: send the oldest
  // entries that fit in one frame (found by bisection), marked truncated like any page.
  let shown = described.length;
  if (!fits(shown)) {
    let [low, high] = [0, shown]; // fits(low), !fits(high)
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (fits(middle)) low = middle;
      else high = middle;
    }
    shown = low;
  }
  await reply(session, listOf(shown));
}

/**
 * One read of the audience, one fan-out, one batched delete of the stale connections,
 * one summary to the sender.
 */
async function deliverToAudience(session: Session, room: string | undefined, data: unknown): Promise<FanOutResult> {
  const bytes = encode({
    type: 'message',
    ...(room === undefined ? {} : { room }),
    from: session.subject,
    connectionId: session.connectionId,
    sentAt: Date.now(),
    data,
  });
  // The bytes we would post decide, not an estimate: a `from` of characters JSON escapes
  // (6 bytes each) grows the envelope well past its usual ~150 bytes. API Gateway would
  // refuse an oversize post to every recipient, so refuse it once, before reading the audience.
  if (bytes.byteLength > MAX_MESSAGE_BYTES) {
    throw new BadMessageError(
      'payload_too_large',
      `the message would be ${bytes.byteLength} bytes with its envelope; API Gateway takes at most ${MAX_MESSAGE_BYTES}`,
      { size: bytes.byteLength, limit: MAX_MESSAGE_BYTES },
    );
  }
  const audience = await session.store.audience(room);
  const result = await fanOut(audience, (id) => session.outbox.send(id, bytes, session.deadline), {
    concurrency: session.concurrency,
    deadline: session.deadline,
  });
  if (result.stale.length > 0) await session.store.removeMany(result.stale);
  log.info('fan-out done', {
    connectionId: session.connectionId,
    room,
    recipients: result.recipients,
    sent: result.sent,
    stale: result.stale.length,
    failed: result.failed,
    unsent: result.unsent,
  });
  const senderGone = result.stale.includes(session.connectionId);
  if (!senderGone) {
    await reply(session, {
      type: 'delivery',
      ...(room === undefined ? {} : { room }),
      recipients: result.recipients,
      sent: result.sent,
      stale: result.stale.length,
      failed: result.failed,
      unsent: result.unsent,
    });
  }
  return result;
}

/** The store checks the limit and adds in one atomic step: joins of one socket run in parallel Lambdas. */
async function join(session: Session, room: string): Promise<void> {
  const result = await session.store.join(session.connectionId, room, MAX_ROOMS_PER_CONNECTION);
  if (result === 'limit_reached') {
    throw new BadMessageError('too_many_rooms', `a connection may be in at most ${MAX_ROOMS_PER_CONNECTION} rooms`);
  }
  if (result === 'unknown_connection') {
    // Its row is gone (swept, or removed after a 410): it would hear nothing from the room.
    throw new BadMessageError('unknown_connection', 'this connection is not known to the service; reconnect');
  }
  await reply(session, { type: 'joined', room });
}

async function leave(session: Session, room: string): Promise<void> {
  const wasMember = await session.store.leave(session.connectionId, room);
  await reply(session, { type: 'left', room, wasMember });
}

async function run(session: Session, command: Command): Promise<void> {
  switch (command.action) {
    case 'list':
      return listConnections(session);
    case 'sendmessage':
      await deliverToAudience(session, undefined, command.data);
      return;
    case 'publish':
      await deliverToAudience(session, command.room, command.data);
      return;
    case 'join':
      return join(session, command.room);
    case 'leave':
      return leave(session, command.room);
  }
}

/**
 * Handles one message. Bad input gets an error reply on the same connection (which
 * stays open) and changes nothing in the store; the result is the status code for
 * API Gateway. Store and delivery failures are thrown to the handler.
 */
export async function handleMessage(session: Session, body: unknown, isBase64Encoded = false): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(body, isBase64Encoded);
    await run(session, command);
    return 200;
  } catch (error) {
    if (!(error instanceof BadMessageError)) throw error;
    log.info('bad message', { connectionId: session.connectionId, code: error.code });
    await reply(session, {
      type: 'error',
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    });
    return 400;
  }
}
