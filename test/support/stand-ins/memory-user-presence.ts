/** The in-memory store's per-user presence and departures (src/store/user-presence.ts), over its maps. */
import type { Connection, Departure, UserPresenceStore } from '../../../src/data';

export function memoryUserPresence(
  rows: Map<string, Connection>,
  rooms: Map<string, Set<string>>,
): Omit<UserPresenceStore, 'joinCounted' | 'leaveCounted' | 'removeCounted' | 'claimDepartures'> & {
  departures: Map<string, Departure>;
} {
  const departures = new Map<string, Departure>();
  const key = (room: string, user: string) => `${room}\u0000${user}`;
  const membersOf = (room: string) =>
    [...(rooms.get(room) ?? [])].map((id) => rows.get(id)).filter((c): c is Connection => c !== undefined);
  return {
    departures,
    tally: async (room, who) => {
      const all = membersOf(room);
      const mine = all.filter((c) =>
        who.subject === null ? c.connectionId === who.connectionId : c.subject === who.subject,
      );
      return { room: all.length, user: mine.length };
    },
    markDeparture: async (d) => void departures.set(key(d.room, d.user), { ...d }),
    claimDeparture: async (d) => {
      const found = departures.get(key(d.room, d.user));
      if (found?.at !== d.at) return false;
      return departures.delete(key(d.room, d.user));
    },
    claimReturn: async (room, user) => departures.delete(key(room, user)),
    staleDepartures: async (before, limit) =>
      [...departures.values()]
        .filter((d) => d.at < before)
        .sort((a, b) => a.at - b.at)
        .slice(0, limit),
    usersIn: async (room, limit) => {
      const users = new Map<string, { user: string; subject: string | null; connections: number; first: number }>();
      for (const c of membersOf(room).sort((a, b) => a.connectedAt - b.connectedAt)) {
        const user = c.subject ?? c.connectionId;
        const known = users.get(user);
        if (known) known.connections++;
        else users.set(user, { user, subject: c.subject, connections: 1, first: c.connectedAt });
      }
      const list = [...users.values()].map(({ user, subject, connections }) => ({ user, subject, connections }));
      return { count: list.length, users: list.slice(0, limit) };
    },
  };
}
