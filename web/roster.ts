/**
 * Who is in each room the chat page has joined, by connection id (the name: the token's
 * subject, or null).
 *
 * A `members` answer is a snapshot the server read at some moment, and a `presence` event is
 * posted by whichever Lambda handled the join or leave. So when two people join at once, the
 * news of the second can reach the first before the answer to "who is here?" that was read
 * before the second joined. Replacing the list with that answer would erase the newer join
 * (seen: a page that never listed the person who joined right after it). The roster keeps the
 * changes it receives while an answer is awaited and applies them again on top of it.
 */

import type { MemberEntry, PresenceFrame } from '../client';

/** What a `presence` event changes: someone joined, or left (or dropped out of), a room. */
export type RosterChange = Pick<PresenceFrame, 'event' | 'connectionId' | 'from'>;

function apply(people: Map<string, string | null>, change: RosterChange): void {
  if (change.event === 'join') people.set(change.connectionId, change.from);
  else people.delete(change.connectionId);
}

export class Roster {
  private readonly rooms = new Map<string, Map<string, string | null>>();
  /** Per room with `members` answers awaited: how many, and the changes received since the first was asked. */
  private readonly awaited = new Map<string, { answers: number; changes: RosterChange[] }>();

  /** The page is in `room` (joined, or rejoined after a reconnect) and asks who is there. */
  asked(room: string): void {
    if (!this.rooms.has(room)) this.rooms.set(room, new Map());
    const awaited = this.awaited.get(room);
    if (awaited) awaited.answers++;
    else this.awaited.set(room, { answers: 1, changes: [] });
  }

  /** A `members` answer: the list it read, with every change received since the question on top. */
  answered(room: string, members: readonly MemberEntry[]): void {
    const people = this.rooms.get(room);
    if (!people) return; // left since
    people.clear();
    for (const member of members) people.set(member.connectionId, member.from);
    const awaited = this.awaited.get(room);
    if (!awaited) return;
    for (const change of awaited.changes) apply(people, change);
    if (--awaited.answers === 0) this.awaited.delete(room);
  }

  /** A `presence` event for a room the page is in (others are ignored). */
  changed(room: string, change: RosterChange): void {
    const people = this.rooms.get(room);
    if (!people) return;
    apply(people, change);
    this.awaited.get(room)?.changes.push(change);
  }

  /** The page left `room`; false if it was not in it. */
  left(room: string): boolean {
    this.awaited.delete(room);
    return this.rooms.delete(room);
  }

  /** A new connection is in no room. */
  clear(): void {
    this.rooms.clear();
    this.awaited.clear();
  }

  get size(): number {
    return this.rooms.size;
  }

  /** The rooms in name order, each with its people in the order they became known. */
  list(): [room: string, people: ReadonlyMap<string, string | null>][] {
    return [...this.rooms].sort(([a], [b]) => a.localeCompare(b));
  }
}
