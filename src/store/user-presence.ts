/**
 * What lifecycle events and per-user presence need of the store (src/events/lifecycle.ts): how
 * many of a room's memberships a user holds, the room's members grouped by user, and departures
 * that wait for their debounce. Both adapters implement it in a layer of its own
 * (./mysql-user-presence.ts, ./sqlite-user-presence.ts).
 */

/** The key a room's own departure (`room.vacated`) is kept under: no user is the empty string. */
export const ROOM_KEY = '';

/** After a join or a leave: the room's memberships, and those of the user's connections. */
export interface PresenceTally {
  room: number;
  user: number;
}

/** A departure waiting for its debounce: a user's last connection left `room` (or, under ROOM_KEY, its last member did). */
export interface Departure {
  room: string;
  /** The user (subject, or connection id with auth off), or ROOM_KEY. */
  user: string;
  /** Ms epoch: the departure's time, and its identity (a later one under the same key replaces it). */
  at: number;
  /** The connection whose leave it was, and its subject: what the event names. */
  connectionId: string;
  subject: string | null;
}

/** One user in a room: how many of its connections are there. */
export interface RoomUser {
  user: string;
  subject: string | null;
  connections: number;
}

export interface UserPage {
  /** Users in the room (not connections). */
  count: number;
  /** At most the limit, in order of their first connection's arrival. */
  users: RoomUser[];
}

export interface UserPresenceStore {
  /** Counted like members(): memberships whose connection row is there. Auth off: the user is the connection. */
  tally(room: string, who: { connectionId: string; subject: string | null }): Promise<PresenceTally>;
  /** Records a departure (replacing one under the same room and user). */
  markDeparture(departure: Departure): Promise<void>;
  /** Removes that very departure (same `at`); true when it was still there, i.e. no return claimed it. */
  claimDeparture(departure: Pick<Departure, 'room' | 'user' | 'at'>): Promise<boolean>;
  /** A return: removes any departure of the user from the room; true when there was one (no arrival to tell). */
  claimReturn(room: string, user: string): Promise<boolean>;
  /** Departures older than `before` (their waiter is gone), oldest first. */
  staleDepartures(before: number, limit: number): Promise<Departure[]>;
  /** The room's members grouped by user. */
  usersIn(room: string, limit: number): Promise<UserPage>;
}

export function departuresTable(prefix: string): string {
  return `${prefix}departures`;
}

export interface DepartureRow {
  room: string;
  who: string;
  departed_at: number | string;
  connection_id: string;
  subject: string | null;
}

export function toDeparture(row: DepartureRow): Departure {
  return {
    room: row.room,
    user: row.who,
    at: Number(row.departed_at),
    connectionId: row.connection_id,
    subject: row.subject,
  };
}
