/**
 * What the service does with a message: the connection list, broadcast, rooms and
 * room messages. Handlers build a Session and call `handleMessage`; this module knows
 * nothing about Lambda events.
 */
import { encode } from './communication';
import type { Connection, ConnectionStore } from './data';
import { BadMessageError, DeliveryError, StaleConnectionError, StoreError } from './errors';
import { fanOut } from './fanout';
import type { FanOutResult } from './fanout';
import { log } from './log';
import { parseCommand } from './protocol';
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

/**
 * A failed message still gets an answer (issue 9, item 2): `unavailable` when something we
 * depend on failed (the store, the management API: trying again later may work), `internal`
 * for anything else. Fixed texts: the error itself is logged, never sent.
 */
export type FailureCode = 'unavailable' | 'internal';

export function failureCode(error: unknown): FailureCode {
  return error instanceof StoreError || error instanceof DeliveryError ? 'unavailable' : 'internal';
}

const FAILURE_MESSAGES: Record<FailureCode, string> = {
  unavailable: 'the service could not handle this message because something it depends on is unavailable; try again',
  internal: 'the service could not handle this message because of an internal error',
};

/**
 * Best effort: posts `{"type":"error","code","message"}` to the sender and waits at most
 * `timeoutMs`; throws if the post fails or does not finish in time (the caller logs that and
 * keeps the original error and status). No retry starts after the bound either (`deadline`).
 */
export async function replyFailure(
  outbox: Outbox,
  connectionId: string,
  error: unknown,
  timeoutMs: number,
): Promise<FailureCode> {
  const code = failureCode(error);
  const bytes = encode({ type: 'error', code, message: FAILURE_MESSAGES[code] });
  const sending = outbox.send(connectionId, bytes, Date.now() + timeoutMs);
  sending.catch(() => undefined); // if it is abandoned, its own request timeout ends it later
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DeliveryError(connectionId, undefined, false, {
            cause: new Error(`the error reply was not posted within ${timeoutMs} ms`),
          }),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([sending, timedOut]);
  } finally {
    clearTimeout(timer);
  }
  return code;
}

function describeConnection(connection: Connection) {
  return { connectionId: connection.connectionId, connectedAt: connection.connectedAt, from: connection.subject };
}

async function listConnections(session: Session): Promise<void> {
  const page = await session.store.list(session.listPageSize);
  await reply(session, {
    type: 'connections',
    you: session.connectionId,
    count: page.count,
    connections: page.connections.map(describeConnection),
    truncated: page.count > page.connections.length,
  });
}

/**
 * One read of the audience, one fan-out, one batched delete of the stale connections,
 * one summary to the sender.
 */
async function deliverToAudience(session: Session, room: string | undefined, data: unknown): Promise<FanOutResult> {
  const audience = await session.store.audience(room);
  const bytes = encode({
    type: 'message',
    ...(room === undefined ? {} : { room }),
    from: session.subject,
    connectionId: session.connectionId,
    sentAt: Date.now(),
    data,
  });
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

async function join(session: Session, room: string): Promise<void> {
  const rooms = await session.store.roomsOf(session.connectionId);
  if (!rooms.includes(room) && rooms.length >= MAX_ROOMS_PER_CONNECTION) {
    throw new BadMessageError('too_many_rooms', `a connection may be in at most ${MAX_ROOMS_PER_CONNECTION} rooms`);
  }
  await session.store.join(session.connectionId, room);
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
export async function handleMessage(session: Session, body: string | undefined): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(body);
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
