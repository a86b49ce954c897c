/**
 * Per-user presence and debounced departures in the embedded store (./user-presence.ts says
 * what for): a layer between the sharded deliveries (./sqlite-deliveries.ts) and the store
 * (./sqlite.ts), with the one table it owns.
 */
import type { EmbeddedSettings } from '../config';
import { EmbeddedDeliveries } from './sqlite-deliveries';
import { departuresTable, toDeparture } from './user-presence';
import type { Departure, DepartureRow, PresenceTally, UserPage, UserPresenceStore } from './user-presence';

/** The counted steps are the store's (./sqlite.ts): they are made of its joins, leaves and removals. */
export abstract class EmbeddedUserPresence
  extends EmbeddedDeliveries
  implements Omit<UserPresenceStore, 'joinCounted' | 'leaveCounted' | 'removeCounted' | 'claimDepartures'>
{
  private readonly departures: string;

  constructor(settings: EmbeddedSettings) {
    super(settings);
    this.departures = departuresTable(settings.tablePrefix);
  }

  protected override schema(): string {
    return `
      CREATE TABLE IF NOT EXISTS "${this.departures}" (
        room TEXT NOT NULL,
        who TEXT NOT NULL,
        departed_at INTEGER NOT NULL,
        connection_id TEXT NOT NULL,
        subject TEXT NULL,
        PRIMARY KEY (room, who)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS "${this.departures}_departed_at" ON "${this.departures}" (departed_at);
    ${super.schema()}`;
  }

  tally(room: string, who: { connectionId: string; subject: string | null }): Promise<PresenceTally> {
    const { connections, members } = this.t;
    const [column, value] = who.subject === null ? ['connection_id', who.connectionId] : ['subject', who.subject];
    return this.run('tally', (db) => {
      const row = db
        .prepare(
          `SELECT COUNT(*) AS room, COALESCE(SUM(c.${column} = ?), 0) AS user
           FROM "${members}" m JOIN "${connections}" c ON c.connection_id = m.connection_id WHERE m.room = ?`,
        )
        .get(value, room) as { room: number; user: number };
      return { room: row.room, user: row.user };
    });
  }

  markDeparture(d: Departure): Promise<void> {
    return this.run('mark departure', (db) => {
      db.prepare(
        `INSERT INTO "${this.departures}" (room, who, departed_at, connection_id, subject) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (room, who) DO UPDATE SET departed_at = excluded.departed_at,
           connection_id = excluded.connection_id, subject = excluded.subject`,
      ).run(d.room, d.user, d.at, d.connectionId, d.subject);
    });
  }

  claimDeparture(d: Pick<Departure, 'room' | 'user' | 'at'>): Promise<boolean> {
    return this.run('claim departure', (db) => {
      const sql = `DELETE FROM "${this.departures}" WHERE room = ? AND who = ? AND departed_at = ?`;
      return db.prepare(sql).run(d.room, d.user, d.at).changes > 0;
    });
  }

  claimReturn(room: string, user: string): Promise<boolean> {
    return this.run('claim return', (db) => {
      const sql = `DELETE FROM "${this.departures}" WHERE room = ? AND who = ?`;
      return db.prepare(sql).run(room, user).changes > 0;
    });
  }

  staleDepartures(before: number, limit: number): Promise<Departure[]> {
    return this.run('stale departures', (db) => {
      const rows = db
        .prepare(
          `SELECT room, who, departed_at, connection_id, subject FROM "${this.departures}"
           WHERE departed_at < ? ORDER BY departed_at LIMIT ?`,
        )
        .all(before, limit) as DepartureRow[];
      return rows.map(toDeparture);
    });
  }

  usersIn(room: string, limit: number): Promise<UserPage> {
    const { connections, members } = this.t;
    return this.run('users in', (db) => {
      const from = `FROM "${members}" m JOIN "${connections}" c ON c.connection_id = m.connection_id WHERE m.room = ?`;
      const { n } = db
        .prepare(`SELECT COUNT(DISTINCT COALESCE(c.subject, c.connection_id)) AS n ${from}`)
        .get(room) as { n: number };
      const rows = db
        .prepare(
          `SELECT COALESCE(c.subject, c.connection_id) AS user, MAX(c.subject) AS subject, COUNT(*) AS connections
           ${from} GROUP BY COALESCE(c.subject, c.connection_id)
           ORDER BY MIN(c.connected_at), user LIMIT ?`,
        )
        .all(room, limit) as { user: string; subject: string | null; connections: number }[];
      return { count: n, users: rows.map((row) => ({ ...row })) };
    });
  }

  override async dropTables(): Promise<void> {
    await this.run('drop', (db) => db.exec(`DROP TABLE IF EXISTS "${this.departures}";`));
    await super.dropTables();
  }
}
