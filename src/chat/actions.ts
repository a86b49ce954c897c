/**
 * What the service does with a message: the connection list, broadcast, rooms and
 * room messages, direct messages, presence and ping. Handlers build a Session and call
 * `handleMessage`; this module knows nothing about Lambda events.
 *
 * Every delivery, whoever asks for it (a client, a backend through src/chat/push.ts, a
 * presence event), goes through `deliverToAudience` (src/chat/fanout/envelope.ts): one bounded,
 * budgeted fan-out, one batched delete of the stale connections, one summary. The actions
 * themselves live beside it: rooms.ts, messages.ts, lists.ts.
 */
import { BadMessageError, DeliveryError, failureOf, refusalFrame } from '../errors';
import { log } from '../log';
import { parseCommand, requestRef } from './protocol';
import type { Command } from './protocol';
import type { ErrorFrame } from './frames';
import { encode } from './outbox';
import type { Outbox } from './outbox';
import { withTimeout } from '../timeout';
import { requireRight } from './access';
import { listConnections } from './lists';
import { relay, send } from './messages';
import { join, leave, listMembers, roomHistory } from './rooms';
import { reply } from './session';
import type { Session } from './session';

// The handler's entry into the chat: it builds a Session and tells departures.
export type { Outbox, Session };
export { announceDeparture } from './announce';
export { closeGone } from './closings';

/**
 * A failed message still gets an answer: its code comes from the failure table (src/errors.ts),
 * `unavailable` when something we depend on failed (trying again later may work), `internal`
 * otherwise. Fixed texts: the error itself is logged, never sent.
 */
export type FailureCode = 'unavailable' | 'internal';

export function failureCode(error: unknown): FailureCode {
  return failureOf(error).code === 'unavailable' ? 'unavailable' : 'internal';
}

const FAILURE_MESSAGES: Record<FailureCode, string> = {
  unavailable: 'the service could not handle this message because something it depends on is unavailable; try again',
  internal: 'the service could not handle this message because of an internal error',
};

/** `{ ref }` when a request gave one: every answer about it names it (src/chat/protocol.ts). */
function refField(ref: string | undefined): { ref?: string } {
  return ref === undefined ? {} : { ref };
}

/**
 * Best effort: posts `{"type":"error","code","message"}` to the sender and waits at most
 * `timeoutMs`; throws if the post fails or does not finish in time (the caller logs that and
 * keeps the original error and status). No retry starts after the bound either (`deadline`).
 * `body`: the message that failed, whose `ref` the frame names when it had one.
 */
export async function replyFailure(
  outbox: Outbox,
  connectionId: string,
  error: unknown,
  timeoutMs: number,
  body?: unknown,
): Promise<FailureCode> {
  const code = failureCode(error);
  const frame: ErrorFrame = { type: 'error', code, message: FAILURE_MESSAGES[code], ...refField(requestRef(body)) };
  // If it is abandoned, the post's own request timeout ends it later.
  await withTimeout(
    outbox.send(connectionId, encode(frame), Date.now() + timeoutMs),
    timeoutMs,
    () =>
      new DeliveryError(connectionId, undefined, false, {
        cause: new Error(`the error reply was not posted within ${timeoutMs} ms`),
      }),
  );
  return code;
}

async function run(session: Session, command: Command): Promise<void> {
  switch (command.action) {
    case 'list':
      return listConnections(session);
    case 'sendmessage':
      await relay(session, {}, command.data, command);
      return;
    case 'publish':
      // An ephemeral message needs the same right (and membership) as any other.
      requireRight(session.rooms, command.room, 'publish');
      await relay(session, { room: command.room }, command.data, command);
      return;
    case 'join':
      return join(session, command.room);
    case 'leave':
      return leave(session, command.room);
    case 'send':
      return send(session, command, command.data, command);
    case 'members':
      return listMembers(session, command.room);
    case 'history':
      return roomHistory(session, command);
    case 'ping':
      // Nothing else: no store, so a heartbeat costs one post (docs/protocol.md#heartbeat).
      return reply(session, { type: 'pong', at: Date.now() });
  }
}

/**
 * Handles one message. Bad input gets an error reply on the same connection (which
 * stays open) and changes nothing in the store; the result is the status code for
 * API Gateway. Store and delivery failures are thrown to the handler.
 */
export async function handleMessage(session: Session, body: unknown, isBase64Encoded = false): Promise<number> {
  let command: Command | undefined;
  try {
    command = parseCommand(body, isBase64Encoded);
    await run(session, command);
    return 200;
  } catch (error) {
    if (!(error instanceof BadMessageError)) throw error;
    log.info('bad message', { connectionId: session.connectionId, code: error.code });
    await reply(session, {
      ...refusalFrame(error),
      // The request refused, when it named a room: a join the client should forget.
      ...(command !== undefined && 'room' in command ? { action: command.action, room: command.room } : {}),
      ...refField(command !== undefined ? ('ref' in command ? command.ref : undefined) : requestRef(body)),
    });
    return failureOf(error).status;
  }
}
