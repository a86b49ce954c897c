/**
 * What the service does with a message: the connection list, broadcast, rooms and
 * room messages, direct messages, presence and ping. Handlers build a Session and call
 * `handleMessage`; this module knows nothing about Lambda events.
 *
 * Every delivery, whoever asks for it (a client, a backend through src/chat/push.ts, a
 * presence event), goes through `deliverToAudience`: one bounded, budgeted fan-out, one
 * batched delete of the stale connections, one summary.
 */
import type { Connection, ConnectionStore } from '../data';
import { BadMessageError, DeliveryError, failureOf, refusalFrame, StaleConnectionError } from '../errors';
import { fanOut } from './delivery';
import { writeDeliveryMetrics } from './emf';
import type { FanOutResult } from './delivery';
import { DEFAULT_HISTORY_LIMIT, latestSeq, newMessageId, readHistory, sequenceRoomFrame } from './history';
import type { HistorySettings } from './history';
import { log } from '../log';
import type { LogFields } from '../log';
import { presenceAudience, presenceMessage } from './presence';
import { settle, STORE_OPERATION_MS } from '../store/settle';
import type { LeaveReason, PresenceEvent } from './presence';
import { MAX_MESSAGE_BYTES, parseCommand } from './protocol';
import { planDelivery } from './shards';
import type { Sharding } from './shards';
import type { Command } from './protocol';
import type { DeliveryFrame, ErrorFrame, MessageFrame, PresenceFrame, ServerMessage } from './frames';
import { encode } from './outbox';
import type { Outbox } from './outbox';
import { withTimeout } from '../timeout';
import type { RoomRights } from '../auth/rooms';
import { hasRight } from '../auth/rooms';
import { forbidden, requireMembership, requireRight } from './access';

export type { Outbox };

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
  /** Presence events only for rooms of at most this many members; 0: none (src/chat/presence.ts). */
  presenceMaxMembers: number;
  /** The token's rights per room (src/auth/rooms.ts); every right on every room with auth off. */
  rooms: RoomRights;
  /** With auth on, `list` shows only the caller's own user's connections unless this is `all`. */
  listScope: 'own' | 'all';
  /** How long and how many room messages history keeps (src/chat/history.ts). */
  history: HistorySettings;
  /** Audiences above its size go to the `deliver` function in shards (src/chat/shards.ts); none: never. */
  sharding?: Sharding | undefined;
}

/** What a delivery needs, with or without a sender connection (src/chat/push.ts has none). */
export type Courier = Pick<Session, 'store' | 'outbox' | 'concurrency' | 'deadline' | 'sharding'>;

/** Whom a message is for: at most one of these; none is everyone. `to` is one connection. */
export interface Target {
  room?: string;
  user?: string;
  to?: string;
}

/** Rooms one connection may be in at once: bounds what a single client can make us store. */
export const MAX_ROOMS_PER_CONNECTION = 50;

/**
 * Replies to the sender. A sender that is already gone (410) is removed from the
 * store, and that is not a failure of the request.
 */
export async function reply(session: Session, message: ServerMessage | Uint8Array): Promise<void> {
  const bytes = message instanceof Uint8Array ? message : encode(message);
  try {
    await session.outbox.send(session.connectionId, bytes, session.deadline);
  } catch (error) {
    if (!(error instanceof StaleConnectionError)) throw error;
    log.warn('sender is gone; removing it', { connectionId: session.connectionId });
    await session.store.remove(session.connectionId);
  }
}

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
  const frame: ErrorFrame = { type: 'error', code, message: FAILURE_MESSAGES[code] };
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

function describeConnection(connection: Connection) {
  return { connectionId: connection.connectionId, connectedAt: connection.connectedAt, from: connection.subject };
}

/**
 * Replies with a page of a list (`connections`, `members`) in one frame. A page is ~100
 * bytes an entry, but an entry's `from` can take 1.5 KB (255 characters JSON escapes to 6
 * bytes each), and LIST_PAGE_SIZE goes up to 1,000: send the first entries that fit in one
 * frame (found by bisection), marked truncated like any page.
 */
async function replyWithPage<T>(
  session: Session,
  entries: readonly T[],
  count: number,
  pageOf: (shown: readonly T[], truncated: boolean) => ServerMessage,
): Promise<void> {
  const listOf = (shown: number) => pageOf(entries.slice(0, shown), count > shown);
  const fits = (shown: number) => encode(listOf(shown)).byteLength <= MAX_MESSAGE_BYTES;
  let shown = entries.length;
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

/** With auth on, no directory of users: a user sees its own connections (LIST_SCOPE: all restores everyone's). */
async function listConnections(session: Session): Promise<void> {
  const page =
    session.subject !== null && session.listScope === 'own'
      ? await session.store.listOf(session.subject, session.listPageSize)
      : await session.store.list(session.listPageSize);
  await replyWithPage(session, page.connections.map(describeConnection), page.count, (connections, truncated) => ({
    type: 'connections',
    you: session.connectionId,
    count: page.count,
    connections,
    truncated,
  }));
}

/** Only the target's own field, so the envelope and the summary name it and nothing else. */
function targetFields(target: Target): Target {
  if (target.room !== undefined) return { room: target.room };
  if (target.user !== undefined) return { user: target.user };
  if (target.to !== undefined) return { to: target.to };
  return {};
}

/** A message encoded once for every recipient of a fan-out, with its id (and number, in a room). */
export interface Encoded {
  type: string;
  bytes: Uint8Array;
  id?: string;
  seq?: number;
}

/**
 * Encodes a message for delivery. The bytes we would post decide, not an estimate: a
 * `from` of characters JSON escapes (6 bytes each) grows the envelope well past its usual
 * ~150 bytes. API Gateway would refuse an oversize post to every recipient, so it is
 * refused once, here, before the audience is read.
 */
export function encodeForDelivery(message: MessageFrame | PresenceFrame): Encoded {
  const bytes = encode(message);
  if (bytes.byteLength > MAX_MESSAGE_BYTES) {
    throw new BadMessageError(
      'payload_too_large',
      `the message would be ${bytes.byteLength} bytes with its envelope; API Gateway takes at most ${MAX_MESSAGE_BYTES}`,
      { size: bytes.byteLength, limit: MAX_MESSAGE_BYTES },
    );
  }
  return { type: message.type, bytes, id: message.id };
}

/**
 * A room's frame is numbered and kept in its history (one store write, src/chat/history.ts);
 * any other is only encoded: direct messages and broadcasts have an id but no order or history.
 */
export function encodeForTarget(courier: Courier, message: MessageFrame | PresenceFrame): Promise<Encoded> {
  if (message.room === undefined) return Promise.resolve(encodeForDelivery(message));
  const sentAt = message.type === 'message' ? message.sentAt : Date.now();
  return sequenceRoomFrame(courier.store, { ...message, room: message.room }, sentAt);
}

/**
 * The connection ids a target stands for, with one indexed query: everyone, a room's
 * members, a user's connections (the subject index), or one connection if the store
 * knows it (we never post to ids that are not ours).
 */
export async function audienceOf(store: ConnectionStore, target: Target): Promise<string[]> {
  if (target.room !== undefined) return store.audience(target.room);
  if (target.user !== undefined) return store.connectionsOf(target.user);
  if (target.to !== undefined) return (await store.get(target.to)) ? [target.to] : [];
  return store.audience();
}

/**
 * The one delivery path: one encoding, one bounded and budgeted fan-out, one batched
 * delete of the connections that are gone (410). The caller decides who hears the result.
 */
export async function deliverToAudience(
  courier: Courier,
  audience: readonly string[],
  message: Encoded,
  logFields: LogFields = {},
): Promise<FanOutResult> {
  const { bytes } = message;
  const started = Date.now();
  const result = await fanOut(audience, (id) => courier.outbox.send(id, bytes, courier.deadline), {
    concurrency: courier.concurrency,
    deadline: courier.deadline,
  });
  if (result.stale.length > 0) await courier.store.removeMany(result.stale);
  writeDeliveryMetrics(deliverySummary(result, {}, message), (Date.now() - started) / 1000);
  log.info('fan-out done', {
    ...logFields,
    type: message.type,
    recipients: result.recipients,
    sent: result.sent,
    stale: result.stale.length,
    failed: result.failed,
    unsent: result.unsent,
  });
  return result;
}

export type DeliverySummary = DeliveryFrame;

export function deliverySummary(result: FanOutResult, target: Target, message: Encoded): DeliverySummary {
  return {
    type: 'delivery',
    ...targetFields(target),
    id: message.id ?? '',
    ...(message.seq === undefined ? {} : { seq: message.seq }),
    recipients: result.recipients,
    sent: result.sent,
    stale: result.stale.length,
    failed: result.failed,
    unsent: result.unsent,
  };
}

/** The message a target gets: from a client connection, or from a backend (`from: null`, no connection). */
export function messageEnvelope(
  target: Target,
  sender: { subject: string | null; connectionId: string } | 'server',
  data: unknown,
): MessageFrame {
  const origin =
    sender === 'server'
      ? ({ from: null, origin: 'server' } as const)
      : ({ from: sender.subject, connectionId: sender.connectionId, origin: 'client' } as const);
  return { type: 'message', id: newMessageId(), ...targetFields(target), ...origin, sentAt: Date.now(), data };
}

/**
/**
 * Everyone and rooms can be large: with sharding on, their audience is read as one page, and
 * one larger than a shard goes to `deliver` (src/chat/shards.ts). A user's connections and one
 * connection are few, and read as before.
 */
export async function audienceOrShards(courier: Courier, target: Target, message: Encoded, connectionId?: string) {
  if (courier.sharding === undefined || target.user !== undefined || target.to !== undefined) {
    return { kind: 'direct' as const, audience: await audienceOf(courier.store, target) };
  }
  const named = {
    ...(message.id === undefined ? {} : { id: message.id }),
    ...(message.seq === undefined ? {} : { seq: message.seq }),
  };
  return planDelivery(courier.store, courier.sharding, target.room, message.bytes, {
    ...(connectionId ? { connectionId } : {}),
    ...named,
  });
}

/**
 * A client's message: delivered, then the summary to the sender unless the sender turned out gone.
 * A room's message is refused unless the sender is a member, before it gets a number in the
 * room's history: a refused message leaves no trace.
 */
async function relay(
  session: Session,
  target: Target,
  data: unknown,
  checked = false,
): Promise<FanOutResult | undefined> {
  if (target.room !== undefined) {
    const member = (await session.store.roomsOf(session.connectionId)).includes(target.room);
    requireMembership(member, target.room, 'publish');
  }
  const message = await encodeForTarget(session, messageEnvelope(target, session, data));
  // `checked`: a connection the rights check has just found, so it is not looked up again.
  const plan =
    checked && target.to !== undefined
      ? { kind: 'direct' as const, audience: [target.to] }
      : await audienceOrShards(session, target, message, session.connectionId);
  if (plan.kind === 'queued') {
    // The shards send the final summary to the sender (src/chat/shards.ts).
    await reply(session, plan.queued);
    const final = await plan.handOver();
    if (final) await reply(session, final);
    return undefined;
  }
  const { audience } = plan;
  const result = await deliverToAudience(session, audience, message, {
    connectionId: session.connectionId,
    ...targetFields(target),
  });
  const senderGone = result.stale.includes(session.connectionId);
  if (!senderGone) await reply(session, deliverySummary(result, target, message));
  return result;
}

/** A direct message: to every connection of a user (needs authorization), or to one connection. */
async function send(session: Session, target: { user?: string; connectionId?: string }, data: unknown) {
  if (target.user !== undefined && session.subject === null) {
    // With AUTH_JWT_SECRET unset no connection has a user, so nobody could ever receive it.
    throw new BadMessageError(
      'auth_required',
      'sending to a user needs authorization (AUTH_JWT_SECRET); send to a "connectionId" instead',
    );
  }
  if (target.connectionId !== undefined && session.subject !== null) {
    // With auth on, a connection id reaches only the sender's own user or a room-mate: ids
    // learnt elsewhere reach no one. An unknown id is refused alike, so refusals say nothing
    // about which ids exist.
    const to = target.connectionId;
    if (!(await session.store.reachable(session.connectionId, session.subject, to))) {
      throw forbidden(`connection "${to}" is neither yours nor in a room with you`, {
        connectionId: to,
        missing: 'shared_room',
      });
    }
    await relay(session, { to }, data, true);
    return;
  }
  await relay(session, target.user !== undefined ? { user: target.user } : { to: target.connectionId }, data);
}

/**
 * Tells a room's other members that a connection joined or left it, through the one
 * delivery path; nothing for rooms above the threshold (src/chat/presence.ts says why).
 */
export async function announce(
  courier: Courier & { presenceMaxMembers: number },
  room: string,
  event: PresenceEvent,
  who: { connectionId: string; subject: string | null },
  reason?: LeaveReason,
): Promise<void> {
  const audience = await presenceAudience(courier.store, room, who.connectionId, courier.presenceMaxMembers);
  if (audience === undefined) {
    log.debug('no presence event: presence off or room above the threshold', { room, event });
    return;
  }
  if (audience.length === 0) return;
  await deliverToAudience(
    courier,
    audience,
    await encodeForTarget(courier, presenceMessage(room, event, who, reason)),
    {
      connectionId: who.connectionId,
      room,
    },
  );
}

/**
 * `$disconnect` of a connection that was in rooms: each room's other members hear it
 * left. Rooms are taken one at a time and none is started after the deadline.
 */
export async function announceDeparture(session: Session, rooms: readonly string[]): Promise<void> {
  for (const [index, room] of rooms.entries()) {
    if (Date.now() >= session.deadline) {
      log.warn('presence budget spent; rooms not told', {
        connectionId: session.connectionId,
        rooms: rooms.length - index,
      });
      return;
    }
    await announce(session, room, 'leave', session, 'disconnect');
  }
}

/**
 * Membership from the page itself when it can tell (the caller is on it, or it is the whole
 * room): only a member of a room larger than a page costs one more read.
 */
async function isMemberOf(session: Session, room: string, page: { count: number; connections: Connection[] }) {
  if (page.connections.some((member) => member.connectionId === session.connectionId)) return true;
  if (page.connections.length >= page.count) return false;
  return (await session.store.roomsOf(session.connectionId)).includes(room);
}

async function listMembers(session: Session, room: string): Promise<void> {
  requireRight(session.rooms, room, 'presence');
  const page = await session.store.members(room, session.listPageSize);
  requireMembership(await isMemberOf(session, room, page), room, 'members');
  const members = page.connections.map((member) => ({ connectionId: member.connectionId, from: member.subject }));
  await replyWithPage(session, members, page.count, (shown, truncated) => ({
    type: 'members',
    room,
    count: page.count,
    members: shown,
    truncated,
  }));
}

/** The store checks the limit and adds in one atomic step: joins of one socket run in parallel Lambdas. */
async function join(session: Session, room: string): Promise<void> {
  requireRight(session.rooms, room, 'join');
  const { store, connectionId } = session;
  // A lost answer: a membership that is there is the join that happened; else the (atomic) join again.
  const result = await settle(
    { operation: 'join', connectionId, deadline: session.deadline, attemptMs: 2 * STORE_OPERATION_MS },
    () => store.join(connectionId, room, MAX_ROOMS_PER_CONNECTION, hasRight(session.rooms, room, 'presence')),
    async () =>
      (await store.roomsOf(connectionId)).includes(room)
        ? 'joined'
        : store.join(connectionId, room, MAX_ROOMS_PER_CONNECTION, hasRight(session.rooms, room, 'presence')),
  );
  if (result === 'limit_reached') {
    throw new BadMessageError('too_many_rooms', `a connection may be in at most ${MAX_ROOMS_PER_CONNECTION} rooms`);
  }
  if (result === 'unknown_connection') {
    // Its row is gone (swept, or removed after a 410): it would hear nothing from the room.
    throw new BadMessageError('unknown_connection', 'this connection is not known to the service; reconnect');
  }
  // The room hears of a new member (not of a repeated join) before the member hears `joined`:
  // the reply then means the whole join is done, so a join that follows it is announced after.
  if (result === 'joined') await announce(session, room, 'join', session);
  // Read after the membership (and its presence event): every later frame of the room reaches
  // this member, and `seq` tells its client where the room's count stands.
  await reply(session, { type: 'joined', room, seq: await latestSeq(session.store, room) });
}

async function leave(session: Session, room: string): Promise<void> {
  const { store, connectionId } = session;
  // A lost answer: no membership left is the leave that happened; else the leave again.
  const wasMember = await settle(
    { operation: 'leave', connectionId, deadline: session.deadline, attemptMs: 2 * STORE_OPERATION_MS },
    () => store.leave(connectionId, room),
    async () => ((await store.roomsOf(connectionId)).includes(room) ? store.leave(connectionId, room) : true),
  );
  if (wasMember) await announce(session, room, 'leave', session, 'leave');
  await reply(session, { type: 'left', room, wasMember });
}

/** A room's history needs its membership: what a member could have heard, and no more. */
async function roomHistory(session: Session, request: { room: string; after?: number; limit?: number }) {
  const rooms = await session.store.roomsOf(session.connectionId);
  if (!rooms.includes(request.room)) {
    throw new BadMessageError('not_member', `join "${request.room}" before asking for its history`);
  }
  const answer = await readHistory(
    session.store,
    { room: request.room, after: request.after ?? 0, limit: request.limit ?? DEFAULT_HISTORY_LIMIT },
    session.history,
  );
  await reply(session, new TextEncoder().encode(answer.text));
}

async function run(session: Session, command: Command): Promise<void> {
  switch (command.action) {
    case 'list':
      return listConnections(session);
    case 'sendmessage':
      await relay(session, {}, command.data);
      return;
    case 'publish':
      requireRight(session.rooms, command.room, 'publish');
      await relay(session, { room: command.room }, command.data);
      return;
    case 'join':
      return join(session, command.room);
    case 'leave':
      return leave(session, command.room);
    case 'send':
      return send(session, command, command.data);
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
    });
    return failureOf(error).status;
  }
}
