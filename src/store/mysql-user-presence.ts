/**
 * Per-user presence and debounced departures in the MySQL store (./user-presence.ts says what
 * for): a layer between the sharded deliveries (./mysql-deliveries.ts) and the store (./mysql.ts).
 * Its table is created by migration 3 (./mysql-schema.ts).
 */
import type { MysqlSettings } from '../config';
import type { MysqlStoreOptions } from './mysql-connections';
import { MysqlDeliveries } from './mysql-deliveries';
import { departuresTable, toDeparture } from './user-presence';
import type { Departure, DepartureRow, PresenceTally, UserPage, UserPresenceStore } from './user-presence';

export abstract class MysqlUserPresence extends MysqlDeliveries implements UserPresenceStore {
  private readonly departures: string;

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    super(settings, options);
    this.departures = departuresTable(settings.tablePrefix);
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
