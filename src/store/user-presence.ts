/**
 * What lifecycle events and per-user presence need of the store (src/events/lifecycle.ts): how
 * many of a room's memberships a user holds, the room's members grouped by user, and departures
 * that wait for their debounce. Both adapters implement it in a layer of its own
 * (./mysql-user-presence.ts, ./sqlite-user-presence.ts).
 */

import type { Connection, JoinResult } from './types';

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

/** Whose presence a step is about: the user is the subject, or the connection with auth off. */
export interface Who {
  connectionId: string;
  subject: string | null;
}

export function userKey(who: Who): string {
  return who.subject ?? who.connectionId;
}

/**
 * A join with what its presence frame and lifecycle events need, from the same step: the
 * tally after it and the returns within the debounce it took back (their arrival is not told).
 * Both only after a join that added the membership.
 */
export interface CountedJoin {
  result: JoinResult;
  tally?: PresenceTally;
  returned?: { room: boolean; user: boolean };
}

/**
 * A leave with the tally after it and the departures it recorded (the user's last connection
 * left; the room's last member did). Both only when the membership was there.
 */
export interface CountedLeave {
  wasMember: boolean;
  tally?: PresenceTally;
  departures: Departure[];
}

/** A removal: the connection's subject, each room it was in with the tally after, and the departures recorded. */
export interface CountedRemoval {
  /** False when the store did not know the connection. */
  known: boolean;
  subject: string | null;
  rooms: { room: string; tally: PresenceTally }[];
  departures: Departure[];
}

export interface UserPresenceStore {
  /**
   * join() and, when it added the membership, the tally after it and the returns it takes
   * back (a departure of the room's, when it is now the room's only member; of the user's, when
   * this is its only connection there): one round trip on MySQL.
   */
  joinCounted(who: Who, room: string, maxRooms: number, seesPresence?: boolean): Promise<CountedJoin>;
  /** leave() and, when the membership was there, the tally after it and the departures it marks (at `at`). */
  leaveCounted(who: Who, room: string, at: number): Promise<CountedLeave>;
  /**
   * remove(), with the rooms the connection was in (the tally of each after it) and the
   * departures it marks (at `at`); `subject`, when known, names the user (else the row's).
   */
  removeCounted(connectionId: string, at: number, subject: string | null): Promise<CountedRemoval>;
  /** Counted like members(): memberships whose connection row is there. Auth off: the user is the connection. */
  tally(room: string, who: { connectionId: string; subject: string | null }): Promise<PresenceTally>;
  /** Records a departure (replacing one under the same room and user). */
  markDeparture(departure: Departure): Promise<void>;
  /** Removes that very departure (same `at`); true when it was still there, i.e. no return claimed it. */
  claimDeparture(departure: Pick<Departure, 'room' | 'user' | 'at'>): Promise<boolean>;
  /**
   * claimDeparture() for each, in one round trip for those of one room and time (a leave's:
   * the user's, the room's, or both); the ones still there (now claimed), in the order given.
   */
  claimDepartures(departures: readonly Departure[]): Promise<Departure[]>;
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

/** The departures a membership's going leaves: the user's, when none of its connections is left; the room's, when no one is. */
export function departuresAfter(room: string, who: Who, tally: PresenceTally, at: number): Departure[] {
  // Only who it was: a caller may pass a larger object (a session) as `who`.
  const { connectionId, subject } = who;
  const departures: Departure[] = [];
  if (tally.user === 0) departures.push({ room, user: userKey(who), at, connectionId, subject });
  if (tally.room === 0) departures.push({ room, user: ROOM_KEY, at, connectionId, subject });
  return departures;
}

/** What the composed steps are made of: the store's single steps. */
export interface SingleSteps extends Pick<
  UserPresenceStore,
  'tally' | 'markDeparture' | 'claimReturn' | 'claimDeparture'
> {
  join(connectionId: string, room: string, maxRooms: number, seesPresence?: boolean): Promise<JoinResult>;
  leave(connectionId: string, room: string): Promise<boolean>;
  remove(connectionId: string): Promise<void>;
  roomsOf(connectionId: string): Promise<string[]>;
  get(connectionId: string): Promise<Connection | undefined>;
}

/**
 * The counted steps made of single ones, in the order the routes took them before they were one
 * round trip on MySQL: for a store whose steps cost no network (SQLite, the tests' memory store).
 */
export function composedSteps(
  store: SingleSteps,
): Pick<UserPresenceStore, 'joinCounted' | 'leaveCounted' | 'removeCounted' | 'claimDepartures'> {
  return {
    async claimDepartures(departures) {
      const claimed: Departure[] = [];
      for (const departure of departures) if (await store.claimDeparture(departure)) claimed.push(departure);
      return claimed;
    },
    async joinCounted(who, room, maxRooms, seesPresence) {
      const result = await store.join(who.connectionId, room, maxRooms, seesPresence);
      if (result !== 'joined') return { result };
      const tally = await store.tally(room, who);
      const room1 = tally.room === 1 && (await store.claimReturn(room, ROOM_KEY));
      const user1 = tally.user === 1 && (await store.claimReturn(room, userKey(who)));
      return { result, tally, returned: { room: room1, user: user1 } };
    },
    async leaveCounted(who, room, at) {
      if (!(await store.leave(who.connectionId, room))) return { wasMember: false, departures: [] };
      const tally = await store.tally(room, who);
      const departures = departuresAfter(room, who, tally, at);
      for (const departure of departures) await store.markDeparture(departure);
      return { wasMember: true, tally, departures };
    },
    async removeCounted(connectionId, at, subject) {
      const rooms = await store.roomsOf(connectionId);
      const row = await store.get(connectionId);
      await store.remove(connectionId);
      const who = { connectionId, subject: subject ?? row?.subject ?? null };
      const counted: CountedRemoval = { known: row !== undefined, subject: who.subject, rooms: [], departures: [] };
      for (const room of rooms) {
        const tally = await store.tally(room, who);
        counted.rooms.push({ room, tally });
        counted.departures.push(...departuresAfter(room, who, tally, at));
      }
      for (const departure of counted.departures) await store.markDeparture(departure);
      return counted;
    },
  };
}
