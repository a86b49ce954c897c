/**
 * Room actions: join, leave, the member list and a room's history. Joins and leaves whose
 * answer was lost are settled by reading the membership back (src/store/settle.ts).
 */
import type { Connection, CountedJoin, CountedLeave } from '../data';
import { BadMessageError } from '../errors';
import { DEFAULT_HISTORY_LIMIT, latestSeq, readHistory } from './history';
import { settle, STORE_OPERATION_MS } from '../store/settle';
import { announce } from './announce';
import { replyWithPage } from './lists';
import { reply } from './session';
import type { Session } from './session';
import { requireMembership, requireRight } from './access';
import { hasRight } from '../auth/rooms';

// The events module (and its emitter) is loaded by the first join or leave, not by every message.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lifecycle = () => require('../events/lifecycle') as typeof import('../events/lifecycle');

/** Rooms one connection may be in at once: bounds what a single client can make us store. */
export const MAX_ROOMS_PER_CONNECTION = 50;

/**
 * Membership from the page itself when it can tell (the caller is on it, or it is the whole
 * room): only a member of a room larger than a page costs one more read.
 */
async function isMemberOf(session: Session, room: string, page: { count: number; connections: Connection[] }) {
  if (page.connections.some((member) => member.connectionId === session.connectionId)) return true;
  if (page.connections.length >= page.count) return false;
  return (await session.store.roomsOf(session.connectionId)).includes(room);
}

export async function listMembers(session: Session, room: string): Promise<void> {
  requireRight(session.rooms, room, 'presence');
  const page = await session.store.members(room, session.listPageSize);
  requireMembership(await isMemberOf(session, room, page), room, 'members');
  const members = page.connections.map((member) => ({ connectionId: member.connectionId, from: member.subject }));
  // Users beside connections (additive: older clients read `members` as before).
  const people = await session.store.usersIn(room, session.listPageSize);
  const users = people.users.map(({ user, subject, connections }) => ({ user, from: subject, connections }));
  await replyWithPage(session, members, page.count, (shown, truncated) => ({
    type: 'members',
    room,
    count: page.count,
    members: shown,
    truncated,
    userCount: people.count,
    users: users.slice(0, shown.length),
  }));
}

/**
 * The store checks the limit and adds in one atomic step: joins of one socket run in parallel
 * Lambdas. The same step answers what the presence frame and the lifecycle events need (the
 * tally after the join, the returns it took back): no more reads for them.
 */
export async function join(session: Session, room: string): Promise<void> {
  requireRight(session.rooms, room, 'join');
  const { store, connectionId } = session;
  // Kept with the membership: who may hear the room's join and leave events (presence right).
  const seesPresence = hasRight(session.rooms, room, 'presence');
  // A lost answer: a membership that is there is the join that happened (its tally and returns
  // are then read apart); else the (atomic) join again.
  const counted = await settle(
    { operation: 'join', connectionId, deadline: session.deadline, attemptMs: 2 * STORE_OPERATION_MS },
    () => store.joinCounted(session, room, MAX_ROOMS_PER_CONNECTION, seesPresence),
    async (): Promise<CountedJoin> =>
      (await store.roomsOf(connectionId)).includes(room)
        ? { result: 'joined' }
        : store.joinCounted(session, room, MAX_ROOMS_PER_CONNECTION, seesPresence),
  );
  const { result } = counted;
  if (result === 'limit_reached') {
    throw new BadMessageError('too_many_rooms', `a connection may be in at most ${MAX_ROOMS_PER_CONNECTION} rooms`);
  }
  if (result === 'unknown_connection') {
    // Its row is gone (swept, or removed after a 410): it would hear nothing from the room.
    throw new BadMessageError('unknown_connection', 'this connection is not known to the service; reconnect');
  }
  // The room hears of a new member (not of a repeated join) before the member hears `joined`:
  // the reply then means the whole join is done, so a join that follows it is announced after.
  const announced =
    result === 'joined' ? await announce(session, room, 'join', session, undefined, counted.tally) : undefined;
  // After the membership (and its presence event): every later frame of the room reaches this
  // member, and `seq` tells its client where the room's count stands. The event's own number,
  // taken after the membership was made, says it as well as a read would, without the read.
  const seq = announced ?? (await latestSeq(session.store, room));
  await reply(session, { type: 'joined', room, seq });
  // After the reply: the backend's events never delay the joiner (docs/events.md).
  if (result === 'joined') {
    const { arrivalEvents, emit, safely } = lifecycle();
    await safely('arrival', { connectionId, room }, async () =>
      emit(await arrivalEvents(session, room, session, seq, counted), session.deadline),
    );
  }
}

/**
 * The leave, its tally and its departures are one step of the store: the presence frame and
 * the debounced departures need no more reads (only the claim after the debounce, docs/events.md).
 */
export async function leave(session: Session, room: string): Promise<void> {
  const { store, connectionId } = session;
  const at = Date.now();
  // A lost answer: no membership left is the leave that happened (its tally and departures are
  // then worked out apart); else the leave again.
  const left = await settle(
    { operation: 'leave', connectionId, deadline: session.deadline, attemptMs: 2 * STORE_OPERATION_MS },
    () => store.leaveCounted(session, room, at),
    async (): Promise<CountedLeave> =>
      (await store.roomsOf(connectionId)).includes(room)
        ? store.leaveCounted(session, room, at)
        : { wasMember: true, departures: [] },
  );
  const { wasMember } = left;
  if (wasMember) await announce(session, room, 'leave', session, 'leave', left.tally);
  await reply(session, { type: 'left', room, wasMember });
  // After the reply, which the debounce would otherwise hold up by seconds.
  if (wasMember) {
    const { markDepartures, safely, settleDepartures } = lifecycle();
    await safely('departure', { connectionId, room }, async () =>
      settleDepartures(
        session,
        left.tally === undefined ? await markDepartures(session, room, session) : left.departures,
      ),
    );
  }
}

/** A room's history needs its membership: what a member could have heard, and no more. */
export async function roomHistory(
  session: Session,
  request: { room: string; after?: number; limit?: number; ref?: string },
) {
  const answer = await readHistory(
    session.store,
    { room: request.room, after: request.after ?? 0, limit: request.limit ?? DEFAULT_HISTORY_LIMIT },
    session.history,
    session.connectionId, // the read is its membership check too: one round trip
  );
  // The request's `ref` goes in front, as a frame's `seq` does: the answer's text is not parsed again.
  const text =
    request.ref === undefined ? answer.text : `{"ref":${JSON.stringify(request.ref)},${answer.text.slice(1)}`;
  await reply(session, new TextEncoder().encode(text));
}
