/**
 * Per-user presence and debounced departures in the MySQL store (./user-presence.ts says what
 * for): a layer between the sharded deliveries (./mysql-deliveries.ts) and the store (./mysql.ts).
 * Its table is created by migration 3 (./mysql-schema.ts).
 */
import type { MysqlSettings } from '../config';
import { StoreError } from '../errors';
import type { MysqlStoreOptions } from './mysql-connections';
import { MysqlDeliveries } from './mysql-deliveries';
import { lockWaitSeconds, routineNames } from './mysql-routines';
import type { RoutineNames } from './mysql-routines';
import type { JoinResult } from './types';
import { departuresAfter, departuresTable, ROOM_KEY, toDeparture } from './user-presence';
import type {
  CountedJoin,
  CountedLeave,
  CountedRemoval,
  Departure,
  DepartureRow,
  PresenceTally,
  UserPage,
  UserPresenceStore,
  Who,
} from './user-presence';

type Count = number | string | null;
const tallyOf = (room: Count, user: Count): PresenceTally => ({ room: Number(room ?? 0), user: Number(user ?? 0) });
/** A procedure's VARBINARY variable comes back as bytes (a column comes back as text). */
const text = (value: string | Buffer | null): string | null =>
  Buffer.isBuffer(value) ? value.toString('utf8') : value;

export abstract class MysqlUserPresence extends MysqlDeliveries implements UserPresenceStore {
  private readonly departures: string;
  private readonly procedures: RoutineNames;

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    super(settings, options);
    this.departures = departuresTable(settings.tablePrefix);
    this.procedures = routineNames(settings.tablePrefix);
  }

  /**
   * One round trip: the join procedure (./mysql-routines.ts; the store's join() says why it is
   * atomic) answers the tally after the join and the returns it took back as well. Sent once,
   * never repeated by the library: a lost answer is settled by the caller.
   */
  async joinCounted(who: Who, room: string, maxRooms: number, seesPresence = false): Promise<CountedJoin> {
    const deadline = this.budget();
    type Row = { result: JoinResult; room_count: Count; user_count: Count; room_back: Count; user_back: Count };
    const [rows] = await this.once<[Row[], unknown]>(
      'join',
      `CALL \`${this.procedures.join}\`(?, ?, ?, ?, ?, ?, 1)`,
      [who.connectionId, room, maxRooms, seesPresence ? 1 : 0, lockWaitSeconds(deadline), who.subject],
      deadline,
    );
    const row = rows[0];
    if (row === undefined) throw new StoreError('MySQL join failed: the procedure gave no result', 'join');
    if (row.result !== 'joined') return { result: row.result };
    return {
      result: row.result,
      tally: tallyOf(row.room_count, row.user_count),
      returned: { room: Number(row.room_back) > 0, user: Number(row.user_back) > 0 },
    };
  }

  /** One round trip: the leave procedure drops the membership, tallies and marks the departures. */
  async leaveCounted(who: Who, room: string, at: number): Promise<CountedLeave> {
    const [rows] = await this.once<[{ was_member: Count; room_count: Count; user_count: Count }[], unknown]>(
      'leave',
      `CALL \`${this.procedures.leave}\`(?, ?, ?, ?)`,
      [who.connectionId, room, who.subject, at],
    );
    const row = rows[0];
    if (row === undefined) throw new StoreError('MySQL leave failed: the procedure gave no result', 'leave');
    if (Number(row.was_member) === 0) return { wasMember: false, departures: [] };
    const tally = tallyOf(row.room_count, row.user_count);
    return { wasMember: true, tally, departures: departuresAfter(room, who, tally, at) };
  }

  /** One round trip: the removal procedure answers the connection's subject and its rooms' tallies, and marks the departures. */
  async removeCounted(connectionId: string, at: number, subject: string | null): Promise<CountedRemoval> {
    type Known = { known: Count; subject: string | Buffer | null };
    type Room = { room: string; room_count: Count; user_count: Count };
    const [known, rooms] = await this.once<[Known[], Room[], unknown]>(
      'remove',
      `CALL \`${this.procedures.remove}\`(?, ?, ?)`,
      [connectionId, at, subject],
    );
    const who = { connectionId, subject: text(known[0]?.subject ?? null) };
    const counted: CountedRemoval = {
      known: Number(known[0]?.known ?? 0) > 0,
      subject: who.subject,
      rooms: [],
      departures: [],
    };
    for (const row of rooms) {
      const tally = tallyOf(row.room_count, row.user_count);
      counted.rooms.push({ room: row.room, tally });
      counted.departures.push(...departuresAfter(row.room, who, tally, at));
    }
    return counted;
  }

  async tally(room: string, who: { connectionId: string; subject: string | null }): Promise<PresenceTally> {
    const { connections, members } = this.t;
    const [column, value] = who.subject === null ? ['connection_id', who.connectionId] : ['subject', who.subject];
    const [row] = await this.query<{ room: number | string; user: number | string }[]>(
      'tally',
      `SELECT COUNT(*) AS room, COALESCE(SUM(c.${column} = ?), 0) AS user
       FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id WHERE m.room = ?`,
      [value, room],
      this.budget(),
    );
    return { room: Number(row?.room ?? 0), user: Number(row?.user ?? 0) };
  }

  async markDeparture(d: Departure): Promise<void> {
    await this.query(
      'mark departure',
      `INSERT INTO \`${this.departures}\` (room, who, departed_at, connection_id, subject) VALUES (?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE departed_at = VALUES(departed_at), connection_id = VALUES(connection_id),
         subject = VALUES(subject)`,
      [d.room, d.user, d.at, d.connectionId, d.subject],
      this.budget(),
    );
  }

  async claimDeparture(d: Pick<Departure, 'room' | 'user' | 'at'>): Promise<boolean> {
    const result = await this.query<{ affectedRows: number }>(
      'claim departure',
      `DELETE FROM \`${this.departures}\` WHERE room = ? AND who = ? AND departed_at = ?`,
      [d.room, d.user, d.at],
      this.budget(),
    );
    return result.affectedRows > 0;
  }

  /** One round trip per room and time: the claim procedure takes the user's and the room's together. */
  async claimDepartures(departures: readonly Departure[]): Promise<Departure[]> {
    const groups = new Map<string, { user?: Departure; room?: Departure; more: Departure[] }>();
    for (const d of departures) {
      const key = `${d.room}\u0000${d.at}`;
      const group = groups.get(key) ?? { more: [] };
      if (d.user === ROOM_KEY && group.room === undefined) group.room = d;
      else if (d.user !== ROOM_KEY && group.user === undefined) group.user = d;
      else group.more.push(d);
      groups.set(key, group);
    }
    const claimed = new Set<Departure>();
    for (const { user, room, more } of groups.values()) {
      const first = (user ?? room) as Departure;
      const [rows] = await this.once<[{ user_claimed: Count; room_claimed: Count }[], unknown]>(
        'claim departure',
        `CALL \`${this.procedures.claim}\`(?, ?, ?, ?)`,
        [first.room, first.at, user?.user ?? null, room === undefined ? 0 : 1],
      );
      if (user !== undefined && Number(rows[0]?.user_claimed ?? 0) > 0) claimed.add(user);
      if (room !== undefined && Number(rows[0]?.room_claimed ?? 0) > 0) claimed.add(room);
      for (const d of more) if (await this.claimDeparture(d)) claimed.add(d);
    }
    return departures.filter((d) => claimed.has(d));
  }

  async claimReturn(room: string, user: string): Promise<boolean> {
    const result = await this.query<{ affectedRows: number }>(
      'claim return',
      `DELETE FROM \`${this.departures}\` WHERE room = ? AND who = ?`,
      [room, user],
      this.budget(),
    );
    return result.affectedRows > 0;
  }

  async staleDepartures(before: number, limit: number): Promise<Departure[]> {
    const rows = await this.query<DepartureRow[]>(
      'stale departures',
      `SELECT room, who, departed_at, connection_id, subject FROM \`${this.departures}\`
       WHERE departed_at < ? ORDER BY departed_at LIMIT ?`,
      [before, limit],
      this.budget(),
    );
    return rows.map(toDeparture);
  }

  async usersIn(room: string, limit: number): Promise<UserPage> {
    const { connections, members } = this.t;
    const deadline = this.budget();
    const from = `FROM \`${members}\` m JOIN \`${connections}\` c ON c.connection_id = m.connection_id WHERE m.room = ?`;
    const [counted] = await this.query<{ n: number | string }[]>(
      'users in',
      `SELECT COUNT(DISTINCT COALESCE(c.subject, c.connection_id)) AS n ${from}`,
      [room],
      deadline,
    );
    // The group's key is not selected: a computed VARBINARY would come back as bytes, not text.
    const rows = await this.query<{ id: string; subject: string | null; connections: number | string }[]>(
      'users in',
      `SELECT MIN(c.connection_id) AS id, MAX(c.subject) AS subject, COUNT(*) AS connections
       ${from} GROUP BY COALESCE(c.subject, c.connection_id)
       ORDER BY MIN(c.connected_at), MIN(c.connection_id) LIMIT ?`,
      [room, limit],
      deadline,
    );
    return {
      count: Number(counted?.n ?? 0),
      users: rows.map((row) => ({
        user: row.subject ?? row.id,
        subject: row.subject,
        connections: Number(row.connections),
      })),
    };
  }
}
