/**
 * An in-memory ConnectionStore for unit tests of the handlers: the real adapters are
 * proven by the contract suite (test/integration); here the store's behaviour only has
 * to be plausible, and every method is a jest spy so tests can make it fail.
 */
import type {
  Connection,
  ConnectionPage,
  ConnectionStore,
  Departure,
  HistoryPage,
  StoredMessage,
} from '../../../src/data';
import { HISTORY_READ_BYTES } from '../../../src/store/types';
import { composedSteps } from '../../../src/store/user-presence';
import { memoryShardStore } from './memory-shard-store';
import { memoryUserPresence } from './memory-user-presence';

export type MemoryStore = jest.Mocked<ConnectionStore> & {
  rows: Map<string, Connection>;
  rooms: Map<string, Set<string>>;
  /** Each room's kept messages, oldest first; its latest number is `sequences`'. */
  history: Map<string, StoredMessage[]>;
  sequences: Map<string, number>;
  /** Departures waiting for their debounce, by room and user. */
  departures: Map<string, Departure>;
};

export function memoryStore(): MemoryStore {
  const rows = new Map<string, Connection>();
  const rooms = new Map<string, Set<string>>();
  const history = new Map<string, StoredMessage[]>();
  const sequences = new Map<string, number>();
  /** Memberships that may see presence, as `${room} ${id}` (a space is in no room name). */
  const watchers = new Set<string>();
  const removeMany = async (ids: readonly string[]) => {
    for (const id of ids) {
      rows.delete(id);
      for (const [room, members] of rooms) {
        members.delete(id);
        watchers.delete(`${room} ${id}`);
        if (members.size === 0) rooms.delete(room);
      }
    }
  };
  const presence = memoryUserPresence(rows, rooms);
  type Counted = 'joinCounted' | 'leaveCounted' | 'removeCounted' | 'claimDepartures';
  const single: Omit<ConnectionStore, Counted> = {
    ...presence,
    ...memoryShardStore((room) => (room === undefined ? rows.keys() : (rooms.get(room) ?? []))),
    kind: 'embedded',
    add: async (c) => void rows.set(c.connectionId, { ...c }),
    remove: async (id) => removeMany([id]),
    removeMany,
    get: async (id) => rows.get(id),
    list: async (limit): Promise<ConnectionPage> => ({
      count: rows.size,
      connections: [...rows.values()].sort((a, b) => a.connectedAt - b.connectedAt).slice(0, limit),
    }),
    audience: async (room) => (room === undefined ? [...rows.keys()] : [...(rooms.get(room) ?? [])]),
    // One synchronous step, so atomic like the real stores' transactions.
    join: async (id, room, maxRooms, seesPresence = false) => {
      if (!rows.has(id)) return 'unknown_connection';
      if (rooms.get(room)?.has(id)) return 'already_member';
      if ([...rooms.values()].filter((m) => m.has(id)).length >= maxRooms) return 'limit_reached';
      rooms.set(room, (rooms.get(room) ?? new Set()).add(id));
      if (seesPresence) watchers.add(`${room} ${id}`);
      return 'joined';
    },
    leave: async (id, room) => {
      const members = rooms.get(room);
      const was = members?.delete(id) ?? false;
      watchers.delete(`${room} ${id}`);
      if (members?.size === 0) rooms.delete(room);
      return was;
    },
    roomsOf: async (id) =>
      [...rooms]
        .filter(([, m]) => m.has(id))
        .map(([r]) => r)
        .sort(),
    connectedBefore: async (cutoff, limit, after) =>
      [...rows.values()]
        .filter((c) => c.connectedAt < cutoff)
        .sort((a, b) => a.connectedAt - b.connectedAt || (a.connectionId < b.connectionId ? -1 : 1))
        .filter(
          (c) =>
            after === undefined ||
            c.connectedAt > after.connectedAt ||
            (c.connectedAt === after.connectedAt && c.connectionId > after.connectionId),
        )
        .slice(0, limit),
    removeOlderThan: async (cutoff) => {
      const old = [...rows.values()].filter((c) => c.connectedAt < cutoff).map((c) => c.connectionId);
      await removeMany(old);
      return old.length;
    },
    end: async () => undefined,
    close: async () => undefined,
    connectionsOf: async (subject) =>
      [...rows.values()].filter((c) => c.subject === subject).map((c) => c.connectionId),
    members: async (room, limit): Promise<ConnectionPage> => {
      const all = [...(rooms.get(room) ?? [])]
        .map((id) => rows.get(id))
        .filter((c): c is Connection => c !== undefined)
        .sort((a, b) => a.connectedAt - b.connectedAt);
      return { count: all.length, connections: all.slice(0, limit) };
    },
    presencePage: async (room, limit) => {
      const all = [...(rooms.get(room) ?? [])]
        .map((id) => rows.get(id))
        .filter((c): c is Connection => c !== undefined)
        .sort((a, b) => a.connectedAt - b.connectedAt);
      const members = all.slice(0, limit).map(({ connectionId }) => ({
        connectionId,
        seesPresence: watchers.has(`${room} ${connectionId}`),
      }));
      return { count: all.length, members };
    },
    listOf: async (subject, limit): Promise<ConnectionPage> => {
      const own = [...rows.values()].filter((c) => c.subject === subject).sort((a, b) => a.connectedAt - b.connectedAt);
      return { count: own.length, connections: own.slice(0, limit) };
    },
    reachable: async (from, subject, to) => {
      const target = rows.get(to);
      if (target === undefined) return false;
      if (target.subject === subject) return true;
      return [...rooms.values()].some((members) => members.has(from) && members.has(to));
    },
    appendToRoom: async (room, entry, member) => {
      if (member !== undefined && !rooms.get(room)?.has(member)) return 0;
      const seq = (sequences.get(room) ?? 0) + 1;
      sequences.set(room, seq);
      history.set(room, [...(history.get(room) ?? []), { seq, ...entry }]);
      return seq;
    },
    roomHistory: async (room, after, limit, window, maxBytes = HISTORY_READ_BYTES, member?: string) => {
      // Asked with a member: nothing but `member: false` for a connection outside the room.
      if (member !== undefined && !rooms.get(room)?.has(member)) return { latest: 0, messages: [], member: false };
      const asked: Pick<HistoryPage, 'member'> = member === undefined ? {} : { member: true };
      const latest = sequences.get(room) ?? 0;
      const kept = (history.get(room) ?? []).filter(
        (m) => m.seq > after && m.seq > latest - window.maxPerRoom && m.sentAt >= window.notBefore,
      );
      // As the adapters read: up to the limit, and no text past the byte budget.
      const messages: StoredMessage[] = [];
      let bytes = 0;
      for (const message of kept.slice(0, limit)) {
        bytes += Buffer.byteLength(message.body);
        if (bytes > maxBytes) return { latest, messages, next: message.seq, ...asked };
        messages.push(message);
      }
      return { latest, messages, ...asked };
    },
    trimHistory: async (window) => {
      let removed = 0;
      for (const [room, messages] of history) {
        const latest = sequences.get(room) ?? 0;
        const kept = messages.filter((m) => m.seq > latest - window.maxPerRoom && m.sentAt >= window.notBefore);
        removed += messages.length - kept.length;
        history.set(room, kept);
      }
      return removed;
    },
  };
  // Made of the single steps, looked up when called: a test that makes `join` fail fails them too.
  const store: ConnectionStore = Object.assign(single, composedSteps(single));
  const methods = store as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(methods)) {
    if (typeof value === 'function') methods[key] = jest.fn(value as (...args: unknown[]) => unknown);
  }
  return Object.assign(store as jest.Mocked<ConnectionStore>, {
    rows,
    rooms,
    history,
    sequences,
    departures: presence.departures,
  });
}
