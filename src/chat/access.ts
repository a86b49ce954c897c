/**
 * Who may do what in a room, checked on every message (not only at `$connect`): the
 * rights come from the token (src/auth/rooms.ts, through the authorizer's context, so
 * checking them reads nothing), membership from the store reads the action makes anyway.
 *
 * - `join` needs the `join` right;
 * - `publish` needs the `publish` right and membership of the room;
 * - `members` needs the `presence` right and membership of the room; the room's presence
 *   events reach only members that joined with that right (recorded by the store at `join`).
 * Membership applies with auth off too: one speaks and looks around only from inside.
 * A refusal is a `forbidden` error frame whose details name the room and what is missing.
 */
import { hasRight } from '../auth/rooms';
import type { Right, RoomRights } from '../auth/rooms';
import { BadMessageError } from '../errors';

/** What a refusal lacks: a right of the token, membership of the room, or a room shared with a connection. */
export type Missing = Right | 'membership' | 'shared_room';

export function forbidden(message: string, details: { room?: string; connectionId?: string; missing: Missing }) {
  return new BadMessageError('forbidden', message, details);
}

/** Throws `forbidden` unless the rights grant `right` on `room`. */
export function requireRight(rights: RoomRights, room: string, right: Right): void {
  if (!hasRight(rights, room, right)) {
    throw forbidden(`your token does not give the right "${right}" on room "${room}"`, { room, missing: right });
  }
}

/** Throws `forbidden` unless the sender is a member of the room. */
export function requireMembership(isMember: boolean, room: string, action: 'publish' | 'members'): void {
  if (!isMember) {
    const doing = action === 'publish' ? 'publish to' : 'see the members of';
    throw forbidden(`join room "${room}" before you ${doing} it`, { room, missing: 'membership' });
  }
}
