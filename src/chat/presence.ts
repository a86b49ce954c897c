/**
 * Presence: who is in a room, and telling a room's other members when someone joins or
 * leaves it (or disconnects while in it).
 *
 * Presence events are sent only to rooms of at most `PRESENCE_MAX_MEMBERS` members
 * (default 100): every join or leave is a fan-out to the whole room, so in a room of n
 * members n arrivals cost n² posts, and one reconnect storm in a big room would crowd
 * out its real messages. Above the threshold, clients ask with `members` instead.
 *
 * This module decides who hears what; the delivery itself is src/chat/fanout/envelope.ts's one path.
 */
import type { ConnectionStore } from '../data';
import type { LeaveReason, PresenceEvent, PresenceFrame } from './frames';
import { newMessageId } from './history';

export type { LeaveReason, PresenceEvent } from './frames';
/** The frame is defined with every other one the service sends, in src/chat/frames.ts. */
export type PresenceMessage = PresenceFrame;

/**
 * The frame of one connection's join or leave. With `connections` (the user's connections in the
 * room after it) it also says the user's own arrival (`first`, its first connection) or
 * departure (`last`, its last): per-user presence for clients that count users, not sockets.
 */
export function presenceMessage(
  room: string,
  event: PresenceEvent,
  who: { connectionId: string; subject: string | null },
  reason?: LeaveReason,
  connections?: number,
): PresenceMessage {
  return {
    type: 'presence',
    id: newMessageId(),
    room,
    event,
    connectionId: who.connectionId,
    from: who.subject,
    ...(reason === undefined ? {} : { reason }),
    ...(connections === undefined
      ? {}
      : {
          user: who.subject ?? who.connectionId,
          connections,
          ...(event === 'join' && connections === 1 ? { first: true as const } : {}),
          ...(event === 'leave' && connections === 0 ? { last: true as const } : {}),
        }),
  };
}

/**
 * The members to tell about `connectionId`, or undefined when presence is off (max 0) or
 * the room, counting `connectionId` in it, has more than `max` members. Only members that
 * joined with the `presence` right on the room are told: the right is to see its members,
 * and arrivals and departures show them. Reads one bounded page: when the exact count is
 * within `max`, that page holds the whole room.
 */
export async function presenceAudience(
  store: ConnectionStore,
  room: string,
  connectionId: string,
  max: number,
): Promise<string[] | undefined> {
  if (max <= 0) return undefined;
  const page = await store.presencePage(room, max);
  const others = page.members.filter((member) => member.connectionId !== connectionId);
  // After a join the count includes the joiner; after a leave or disconnect it does not.
  const size = others.length < page.members.length ? page.count : page.count + 1;
  if (size > max) return undefined;
  return others.filter((member) => member.seesPresence).map((member) => member.connectionId);
}
