/**
 * The embedded connection store for local runs: one SQLite file (better-sqlite3)
 * shared by serverless-offline's worker threads, each of which opens its own handle,
 * as separate Lambda containers would (./sqlite-session.ts). This file holds the
 * connections' and memberships' schema and queries; room history is ./sqlite-history.ts's
 * and sharded deliveries ./sqlite-deliveries.ts's, layers this class extends.
 *
 * Never loaded in AWS: data.ts requires this module only when the embedded store is chosen.
 */
import type { EmbeddedSettings } from '../config';
import { chunks, DELETE_CHUNK, presenceTable, toConnection } from './types';
import type { Connection, ConnectionPage, ConnectionStore, JoinResult, PresencePage } from './types';
import { EmbeddedUserPresence } from './sqlite-user-presence';
import { composedSteps } from './user-presence';
import type { UserPresenceStore } from './user-presence';

type Row = { connection_id: string; connected_at: number; subject: string | null };

export class EmbeddedConnectionStore extends EmbeddedUserPresence implements ConnectionStore {
  readonly kind = 'embedded' as const;
  /** The memberships that may see the room's presence (presenceTable says why a table). */
  private readonly watchers: string;

  constructor(settings: EmbeddedSettings) {
    super(settings);
    this.watchers = presenceTable(settings.tablePrefix);
  }

  protected override schema(): string {
    const { connections, members } = this.t;
    return `
      CREATE TABLE IF NOT EXISTS "${connections}" (
        connection_id TEXT NOT NULL PRIMARY KEY,
        connected_at INTEGER NOT NULL,
        subject TEXT NULL
      );
      CREATE INDEX IF NOT EXISTS "${connections}_connected_at" ON "${connections}" (connected_at);
      -- direct messages find a user's connections by subject; IF NOT EXISTS also adds it to older files
      CREATE INDEX IF NOT EXISTS "${connections}_subject" ON "${connections}" (subject);
      CREATE TABLE IF NOT EXISTS "${members}" (
        room TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        PRIMARY KEY (room, connection_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS "${members}_connection" ON "${members}" (connection_id);
      CREATE TABLE IF NOT EXISTS "${this.watchers}" (
        room TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        PRIMARY KEY (room, connection_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS "${this.watchers}_connection" ON "${this.watchers}" (connection_id);
    ${super.schema()}`;
  }

  add({ connectionId, connectedAt, subject }: Connection): Promise<void> {
    return this.run('add', (db) => {
      db.prepare(
        `INSERT INTO "${this.t.connections}" (connection_id, connected_at, subject) VALUES (?, ?, ?)
         ON CONFLICT (connection_id) DO UPDATE SET connected_at = excluded.connected_at, subject = excluded.subject`,
      ).run(connectionId, connectedAt, subject);
    });
  }

  remove(connectionId: string): Promise<void> {
    return this.removeMany([connectionId]);
  }

  /** The counted steps as the single ones they are made of: a local file costs no round trip. */
  private readonly counted = composedSteps(this);
  joinCounted: UserPresenceStore['joinCounted'] = (...args) => this.counted.joinCounted(...args);
  leaveCounted: UserPresenceStore['leaveCounted'] = (...args) => this.counted.leaveCounted(...args);
  removeCounted: UserPresenceStore['removeCounted'] = (...args) => this.counted.removeCounted(...args);
  claimDepartures: UserPresenceStore['claimDepartures'] = (...args) => this.counted.claimDepartures(...args);

  removeMany(connectionIds: readonly string[]): Promise<void> {
    return this.run('remove', (db) => {
      const { connections, members } = this.t;
      db.transaction(() => {
        for (const chunk of chunks(connectionIds, DELETE_CHUNK)) {
          const marks = chunk.map(() => '?').join(',');
          db.prepare(`DELETE FROM "${members}" WHERE connection_id IN (${marks})`).run(...chunk);
          db.prepare(`DELETE FROM "${this.watchers}" WHERE connection_id IN (${marks})`).run(...chunk);
          db.prepare(`DELETE FROM "${connections}" WHERE connection_id IN (${marks})`).run(...chunk);
        }
      }).immediate();
    });
  }

  get(connectionId: string): Promise<Connection | undefined> {
    return this.run('get', (db) => {
      const row = db
        .prepare(`SELECT connection_id, connected_at, subject FROM "${this.t.connections}" WHERE connection_id = ?`)
        .get(connectionId) as Row | undefined;
      return row ? toConnection(row) : undefined;
    });
  }

  connectedBefore(cutoff: number, limit: number, after?: Connection): Promise<Connection[]> {
    return this.run('connected-before', (db) => {
      const rows = db
        .prepare(
          `SELECT connection_id, connected_at, subject FROM "${this.t.connections}"
           WHERE connected_at < ? AND (connected_at > ? OR (connected_at = ? AND connection_id > ?))
           ORDER BY connected_at, connection_id LIMIT ?`,
        )
        .all(cutoff, after?.connectedAt ?? -1, after?.connectedAt ?? -1, after?.connectionId ?? '', limit) as Row[];
      return rows.map(toConnection);
    });
  }

  list(limit: number): Promise<ConnectionPage> {
    return this.run('list', (db) => {
      const { n } = db.prepare(`SELECT COUNT(*) AS n FROM "${this.t.connections}"`).get() as { n: number };
      const rows = db
        .prepare(
          `SELECT connection_id, connected_at, subject FROM "${this.t.connections}"
           ORDER BY connected_at, connection_id LIMIT ?`,
        )
        .all(limit) as Row[];
      return { count: n, connections: rows.map(toConnection) };
    });
  }

  audience(room?: string): Promise<string[]> {
    return this.run('audience', (db) => {
      const statement =
        room === undefined
          ? db.prepare(`SELECT connection_id FROM "${this.t.connections}"`)
          : db.prepare(`SELECT connection_id FROM "${this.t.members}" WHERE room = ?`);
      return statement.pluck().all(...(room === undefined ? [] : [room])) as string[];
    });
  }

  /**
   * BEGIN IMMEDIATE takes the file's write lock before the count, so a join in another
   * worker (another handle on the file) waits (busy timeout) until this one has committed,
   * and its count then sees this insert: the limit holds however many joins race.
   */
  join(connectionId: string, room: string, maxRooms: number, seesPresence = false): Promise<JoinResult> {
    const { connections, members } = this.t;
    return this.run('join', (db) =>
      db
        .transaction((): JoinResult => {
          const known = db.prepare(`SELECT 1 FROM "${connections}" WHERE connection_id = ?`).get(connectionId);
          if (known === undefined) return 'unknown_connection';
          const { n, here } = db
            .prepare(
              `SELECT COUNT(*) AS n, COALESCE(SUM(room = ?), 0) AS here FROM "${members}" WHERE connection_id = ?`,
            )
            .get(room, connectionId) as { n: number; here: number };
          if (here > 0) return 'already_member';
          if (n >= maxRooms) return 'limit_reached';
          db.prepare(`INSERT INTO "${members}" (room, connection_id) VALUES (?, ?)`).run(room, connectionId);
          // In the membership's transaction, so a join that is there has its presence row too.
          if (seesPresence) {
            db.prepare(`INSERT INTO "${this.watchers}" (room, connection_id) VALUES (?, ?) ON CONFLICT DO NOTHING`).run(
              room,
              connectionId,
            );
          }
          return 'joined';
        })
        .immediate(),
    );
  }

  leave(connectionId: string, room: string): Promise<boolean> {
    return this.run('leave', (db) =>
      db
        .transaction(() => {
          db.prepare(`DELETE FROM "${this.watchers}" WHERE room = ? AND connection_id = ?`).run(room, connectionId);
          const result = db
            .prepare(`DELETE FROM "${this.t.members}" WHERE room = ? AND connection_id = ?`)
            .run(room, connectionId);
          return result.changes > 0;
        })
        .immediate(),
    );
  }

  roomsOf(connectionId: string): Promise<string[]> {
    return this.run(
      'rooms',
      (db) =>
        db
          .prepare(`SELECT room FROM "${this.t.members}" WHERE connection_id = ? ORDER BY room`)
          .pluck()
          .all(connectionId) as string[],
    );
  }

  async removeOlderThan(cutoff: number): Promise<number> {
    const ids = await this.run(
      'sweep',
      (db) =>
        db
          .prepare(`SELECT connection_id FROM "${this.t.connections}" WHERE connected_at < ?`)
          .pluck()
          .all(cutoff) as string[],
    );
    await this.removeMany(ids);
    return ids.length;
  }

  connectionsOf(subject: string): Promise<string[]> {
    return this.run(
      'connections of',
      (db) =>
        db
          .prepare(`SELECT connection_id FROM "${this.t.connections}" WHERE subject = ?`)
          .pluck()
          .all(subject) as string[],
    );
  }

  /** A room's members, joined with the connections, so a membership left behind is neither counted nor listed. */
  private memberFrom(): string {
    const { connections, members } = this.t;
    return `FROM "${members}" m JOIN "${connections}" c ON c.connection_id = m.connection_id WHERE m.room = ?`;
  }

  members(room: string, limit: number): Promise<ConnectionPage> {
    return this.run('members', (db) => {
      const from = this.memberFrom();
      const { n } = db.prepare(`SELECT COUNT(*) AS n ${from}`).get(room) as { n: number };
      const rows = db
        .prepare(
          `SELECT c.connection_id, c.connected_at, c.subject ${from} ORDER BY c.connected_at, c.connection_id LIMIT ?`,
        )
        .all(room, limit) as Row[];
      return { count: n, connections: rows.map(toConnection) };
    });
  }

  presencePage(room: string, limit: number): Promise<PresencePage> {
    return this.run('presence', (db) => {
      // Counted and ordered as in members(); the presence row only marks who may hear the events.
      const from = this.memberFrom();
      const { n } = db.prepare(`SELECT COUNT(*) AS n ${from}`).get(room) as { n: number };
      const rows = db
        .prepare(
          `SELECT c.connection_id, EXISTS (SELECT 1 FROM "${this.watchers}" p
             WHERE p.room = m.room AND p.connection_id = m.connection_id) AS sees
           ${from} ORDER BY c.connected_at, c.connection_id LIMIT ?`,
        )
        .all(room, limit) as { connection_id: string; sees: number }[];
      return {
        count: n,
        members: rows.map((row) => ({ connectionId: row.connection_id, seesPresence: row.sees === 1 })),
      };
    });
  }

  listOf(subject: string, limit: number): Promise<ConnectionPage> {
    return this.run('list of', (db) => {
      const { connections } = this.t;
      const { n } = db.prepare(`SELECT COUNT(*) AS n FROM "${connections}" WHERE subject = ?`).get(subject) as {
        n: number;
      };
      const rows = db
        .prepare(
          `SELECT connection_id, connected_at, subject FROM "${connections}" WHERE subject = ?
           ORDER BY connected_at, connection_id LIMIT ?`,
        )
        .all(subject, limit) as Row[];
      return { count: n, connections: rows.map(toConnection) };
    });
  }

  reachable(from: string, subject: string, to: string): Promise<boolean> {
    return this.run('reachable', (db) => {
      const { connections, members } = this.t;
      const row = db
        .prepare(
          `SELECT 1 FROM "${connections}" c WHERE c.connection_id = ? AND (c.subject = ? OR EXISTS (
             SELECT 1 FROM "${members}" a JOIN "${members}" b ON b.room = a.room
             WHERE a.connection_id = ? AND b.connection_id = c.connection_id))`,
        )
        .get(to, subject, from);
      return row !== undefined;
    });
  }

  /** Test helper for the contract suite. */
  override async dropTables(): Promise<void> {
    await this.run('drop', (db) =>
      db.exec(
        `DROP TABLE IF EXISTS "${this.t.connections}"; DROP TABLE IF EXISTS "${this.t.members}";
         DROP TABLE IF EXISTS "${this.watchers}";`,
      ),
    );
    await super.dropTables();
    await this.close();
  }
}
