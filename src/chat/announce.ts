/**
 * Presence events through the one delivery path: a room's other members hear that a
 * connection joined or left it (src/chat/presence.ts decides who hears what).
 */
import { deliverToAudience, encodeForTarget } from './fanout/envelope';
import { log } from '../log';
import { presenceAudience, presenceMessage } from './presence';
import type { LeaveReason, PresenceEvent } from './presence';
import type { Courier } from './session';
import type { PresenceTally } from '../store/user-presence';

/**
 * Tells a room's other members that a connection joined or left it, through the one
 * delivery path; nothing for rooms above the threshold (src/chat/presence.ts says why).
 * Returns the event's number in the room, when there was an event.
 */
export async function announce(
  courier: Courier & { presenceMaxMembers: number },
  room: string,
  event: PresenceEvent,
  who: { connectionId: string; subject: string | null },
  reason?: LeaveReason,
  counted?: PresenceTally,
): Promise<number | undefined> {
  const audience = await presenceAudience(courier.store, room, who.connectionId, courier.presenceMaxMembers);
  if (audience === undefined) {
    log.debug('no presence event: presence off or room above the threshold', { room, event });
    return undefined;
  }
  if (audience.length === 0) return undefined;
  // The user's connections in the room after this one's change: a second tab is no new member.
  // Counted by the join, leave or removal itself when it could (one round trip fewer).
  const { user: connections } = counted ?? (await courier.store.tally(room, who));
  const frame = await encodeForTarget(courier, presenceMessage(room, event, who, reason, connections));
  await deliverToAudience(courier, audience, frame, { connectionId: who.connectionId, room });
  return frame.seq;
}

/**
 * A connection that was in rooms is gone (`$disconnect`, or a post that found it gone): each
 * room's other members hear it left. Rooms are taken one at a time and none is started after the
 * deadline. `who`: the connection gone, when the courier is not its own session.
 */
export async function announceDeparture(
  courier: Courier & { presenceMaxMembers: number; connectionId: string; subject: string | null },
  rooms: readonly { room: string; tally?: PresenceTally }[],
): Promise<void> {
  for (const [index, { room, tally }] of rooms.entries()) {
    if (Date.now() >= courier.deadline) {
      log.warn('presence budget spent; rooms not told', {
        connectionId: courier.connectionId,
        rooms: rooms.length - index,
      });
      return;
    }
    await announce(courier, room, 'leave', courier, 'disconnect', tally);
  }
}
