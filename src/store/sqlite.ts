/**
 * The embedded connection store for local runs: one SQLite file (better-sqlite3)
 * shared by serverless-offline's worker threads, each of which opens its own handle,
 * as separate Lambda containers would. WAL lets readers and a writer work at once and
 * the busy timeout makes a writer wait for another instead of failing.
 *
 * Never loaded in AWS: data.ts requires this module only when the embedded store is chosen.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { EmbeddedSettings } from '../config';
import { errorText, StoreError } from '../errors';
import {
  chunks,
  DELETE_CHUNK,
  historyTables,
  shardTableNames,
  tableNames,
  toConnection,
  toDeliveryState,
  toHistoryPage,
} from './types';
import type {
  Connection,
  ConnectionPage,
  ConnectionStore,
  HistoryEntry,
  HistoryPage,
  HistoryWindow,
  HistoryRow,
  JoinResult,
} from './types';
import type { DeliveryCounts, DeliveryRecord, DeliveryRow, DeliveryState, IdRange, ShardProgress } from './types';

type Row = { connection_id: string; connected_at: number; subject: string | null };

export class EmbeddedConnectionStore implements ConnectionStore {
  readonly kind = 'embedded' as const;
  private db: BetterSqlite3.Database | undefined;
  private readonly t: { connections: string; members: string };
  private readonly h: { sequences: string; history: string };

  constructor(private readonly settings: EmbeddedSettings) {
    this.t = tableNames(settings.tablePrefix);
    this.h = historyTables(settings.tablePrefix);
  }

  /** Opens the file and creates the schema once per worker (its "cold start"). */
  private open(): BetterSqlite3.Database {
    if (this.db) return this.db;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const Database = require('better-sqlite3') as typeof BetterSqlite3;
      if (this.settings.file !== ':memory:') mkdirSync(dirname(this.settings.file), { recursive: true });
      const db = new Database(this.settings.file, { timeout: 5_000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const { connections, members } = this.t;
      db.exec(`
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
      `);
      db.exec(historySchema(this.h));
      this.db = db;
      return db;
    } catch (cause) {
      throw new StoreError(`embedded store could not open ${this.settings.file}: ${errorText(cause)}`, 'open', {
        cause,
      });
    }
  }

  private run<T>(operation: string, work: (db: BetterSqlite3.Database) => T): Promise<T> {
    try {
      return Promise.resolve(work(this.open()));
    } catch (cause) {
      if (cause instanceof StoreError) return Promise.reject(cause);
      return Promise.reject(new StoreError(`embedded ${operation} failed: ${errorText(cause)}`, operation, { cause }));
    }
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

  removeMany(connectionIds: readonly string[]): Promise<void> {
    return this.run('remove', (db) => {
      const { connections, members } = this.t;
      db.transaction(() => {
        for (const chunk of chunks(connectionIds, DELETE_CHUNK)) {
          const marks = chunk.map(() => '?').join(',');
          db.prepare(`DELETE FROM "${members}" WHERE connection_id IN (${marks})`).run(...chunk);
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

  /** The audience's table and its condition: the members' primary key (room, connection_id) or the connections'. */
  private scopeOf(room: string | undefined): { from: string; where: string[]; values: unknown[] } {
    return room === undefined
      ? { from: `"${this.t.connections}"`, where: [], values: [] }
      : { from: `"${this.t.members}"`, where: ['room = ?'], values: [room] };
  }

  audiencePage(room: string | undefined, range: IdRange, limit: number): Promise<string[]> {
    return this.run('audience page', (db) => {
      const { from, where, values } = this.scopeOf(room);
      if (range.after !== null) {
        where.push('connection_id > ?');
        values.push(range.after);
      }
      if (range.upTo !== null) {
        where.push('connection_id <= ?');
        values.push(range.upTo);
      }
      const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
      return db
        .prepare(`SELECT connection_id FROM ${from} ${condition} ORDER BY connection_id LIMIT ?`)
        .pluck()
        .all(...values, limit) as string[];
    });
  }

  audienceMark(room: string | undefined, after: string | null, skip: number): Promise<string | undefined> {
    return this.run('audience mark', (db) => {
      const { from, where, values } = this.scopeOf(room);
      if (after !== null) {
        where.push('connection_id > ?');
        values.push(after);
      }
      const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
      return db
        .prepare(`SELECT connection_id FROM ${from} ${condition} ORDER BY connection_id LIMIT 1 OFFSET ?`)
        .pluck()
        .get(...values, skip - 1) as string | undefined;
    });
  }

  audienceCount(room?: string): Promise<number> {
    return this.run('audience count', (db) => {
      const { from, where, values } = this.scopeOf(room);
      const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
      return (db.prepare(`SELECT COUNT(*) AS n FROM ${from} ${condition}`).get(...values) as { n: number }).n;
    });
  }

  private shardTables: { deliveries: string; shards: string } | undefined;

  /** The tallies' tables, made on first use (only sharded deliveries need them). */
  private tallies(db: BetterSqlite3.Database): { deliveries: string; shards: string } {
    if (this.shardTables) return this.shardTables;
    const t = shardTableNames(this.settings.tablePrefix);
    db.exec(`
      CREATE TABLE IF NOT EXISTS "${t.deliveries}" (
        delivery_id TEXT NOT NULL PRIMARY KEY, shards INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,
        recipients INTEGER NOT NULL, sent INTEGER NOT NULL DEFAULT 0, stale INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0, unsent INTEGER NOT NULL DEFAULT 0, summary_to TEXT NOT NULL,
        summarized INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS "${t.shards}" (
        delivery_id TEXT NOT NULL, shard INTEGER NOT NULL, cursor_id TEXT NULL,
        sent INTEGER NOT NULL DEFAULT 0, stale INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
        unsent INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL, PRIMARY KEY (delivery_id, shard)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS "${t.shards}_active" ON "${t.shards}" (done, updated_at);
    `);
    this.shardTables = t;
    return t;
  }

  openDelivery(delivery: DeliveryRecord, now: number): Promise<void> {
    return this.run('open delivery', (db) => {
      const t = this.tallies(db);
      db.transaction(() => {
        db.prepare(
          `INSERT INTO "${t.deliveries}" (delivery_id, shards, recipients, summary_to, created_at)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING`,
        ).run(delivery.deliveryId, delivery.shards, delivery.recipients, delivery.summaryTo, now);
        const row = db.prepare(
          `INSERT INTO "${t.shards}" (delivery_id, shard, updated_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
        );
        for (let shard = 0; shard < delivery.shards; shard++) row.run(delivery.deliveryId, shard, now);
      }).immediate();
    });
  }

  startShard(deliveryId: string, shard: number, now: number): Promise<ShardProgress> {
    return this.run('start shard', (db) => {
      const t = this.tallies(db);
      return db
        .transaction(() => {
          db.prepare(
            `INSERT INTO "${t.shards}" (delivery_id, shard, attempts, updated_at) VALUES (?, ?, 1, ?)
             ON CONFLICT (delivery_id, shard) DO UPDATE SET attempts = attempts + 1, updated_at = excluded.updated_at`,
          ).run(deliveryId, shard, now);
          const row = db
            .prepare(
              `SELECT cursor_id AS cursor, sent, stale, failed, unsent, attempts, done FROM "${t.shards}" WHERE delivery_id = ? AND shard = ?`,
            )
            .get(deliveryId, shard) as Omit<ShardProgress, 'done'> & { done: number };
          return { ...row, done: row.done === 1 };
        })
        .immediate();
    });
  }

  saveShard(deliveryId: string, shard: number, cursor: string | null, counts: DeliveryCounts, now: number) {
    return this.run('save shard', (db) => {
      const t = this.tallies(db);
      db.prepare(
        `UPDATE "${t.shards}" SET cursor_id = ?, sent = ?, stale = ?, failed = ?, unsent = ?, updated_at = ?
         WHERE delivery_id = ? AND shard = ? AND done = 0`,
      ).run(cursor, counts.sent, counts.stale, counts.failed, counts.unsent, now, deliveryId, shard);
    });
  }

  /** One IMMEDIATE transaction: the file's write lock orders finishes of shards in other workers. */
  finishShard(deliveryId: string, shard: number, counts: DeliveryCounts): Promise<DeliveryState | undefined> {
    return this.run('finish shard', (db) => {
      const t = this.tallies(db);
      return db
        .transaction((): DeliveryState | undefined => {
          const marked = db
            .prepare(
              `UPDATE "${t.shards}" SET done = 1, sent = ?, stale = ?, failed = ?, unsent = ?
               WHERE delivery_id = ? AND shard = ? AND done = 0`,
            )
            .run(counts.sent, counts.stale, counts.failed, counts.unsent, deliveryId, shard);
          if (marked.changes !== 1) return undefined;
          db.prepare(
            `UPDATE "${t.deliveries}" SET done = done + 1, sent = sent + ?, stale = stale + ?, failed = failed + ?,
             unsent = unsent + ? WHERE delivery_id = ?`,
          ).run(counts.sent, counts.stale, counts.failed, counts.unsent, deliveryId);
          const claimed = db
            .prepare(
              `UPDATE "${t.deliveries}" SET summarized = 1 WHERE delivery_id = ? AND done >= shards AND summarized = 0`,
            )
            .run(deliveryId);
          if (claimed.changes !== 1) return undefined;
          const row = db.prepare(`SELECT * FROM "${t.deliveries}" WHERE delivery_id = ?`).get(deliveryId);
          return toDeliveryState(row as DeliveryRow);
        })
        .immediate();
    });
  }

  deliveryState(deliveryId: string): Promise<DeliveryState | undefined> {
    return this.run('delivery state', (db) => {
      const t = this.tallies(db);
      const row = db.prepare(`SELECT * FROM "${t.deliveries}" WHERE delivery_id = ?`).get(deliveryId);
      return row === undefined ? undefined : toDeliveryState(row as DeliveryRow);
    });
  }

  activeShards(since: number): Promise<number> {
    return this.run('active shards', (db) => {
      const t = this.tallies(db);
      const { n } = db
        .prepare(`SELECT COUNT(*) AS n FROM "${t.shards}" WHERE done = 0 AND attempts > 0 AND updated_at >= ?`)
        .get(since) as { n: number };
      return n;
    });
  }

  removeDeliveriesBefore(cutoff: number): Promise<number> {
    return this.run('remove deliveries', (db) => {
      const t = this.tallies(db);
      return db
        .transaction(() => {
          db.prepare(
            `DELETE FROM "${t.shards}" WHERE delivery_id IN (SELECT delivery_id FROM "${t.deliveries}" WHERE created_at < ?)`,
          ).run(cutoff);
          return db.prepare(`DELETE FROM "${t.deliveries}" WHERE created_at < ?`).run(cutoff).changes;
        })
        .immediate();
    });
  }

  /**
   * BEGIN IMMEDIATE takes the file's write lock before the count, so a join in another
   * worker (another handle on the file) waits (busy timeout) until this one has committed,
   * and its count then sees this insert: the limit holds however many joins race.
   */
  join(connectionId: string, room: string, maxRooms: number): Promise<JoinResult> {
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
          return 'joined';
        })
        .immediate(),
    );
  }

  leave(connectionId: string, room: string): Promise<boolean> {
    return this.run('leave', (db) => {
      const result = db
        .prepare(`DELETE FROM "${this.t.members}" WHERE room = ? AND connection_id = ?`)
        .run(room, connectionId);
      return result.changes > 0;
    });
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

  async end(): Promise<void> {
    // Nothing per invocation: the handle stays open for the worker's lifetime.
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
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

  members(room: string, limit: number): Promise<ConnectionPage> {
    return this.run('members', (db) => {
      const { connections, members } = this.t;
      // Joined with the connections, so a membership left behind is neither counted nor listed.
      const from = `FROM "${members}" m JOIN "${connections}" c ON c.connection_id = m.connection_id WHERE m.room = ?`;
      const { n } = db.prepare(`SELECT COUNT(*) AS n ${from}`).get(room) as { n: number };
      const rows = db
        .prepare(
          `SELECT c.connection_id, c.connected_at, c.subject ${from} ORDER BY c.connected_at, c.connection_id LIMIT ?`,
        )
        .all(room, limit) as Row[];
      return { count: n, connections: rows.map(toConnection) };
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

  /**
   * BEGIN IMMEDIATE holds the file's write lock from the counter's update to the history's
   * insert: an append in another worker waits (busy timeout) and then counts on from ours.
   */
  appendToRoom(room: string, entry: HistoryEntry): Promise<number> {
    const { sequences, history } = this.h;
    return this.run('append', (db) =>
      db
        .transaction((): number => {
          const seq = db
            .prepare(
              `INSERT INTO "${sequences}" (room, seq) VALUES (?, 1)
               ON CONFLICT (room) DO UPDATE SET seq = seq + 1 RETURNING seq`,
            )
            .pluck()
            .get(room) as number;
          db.prepare(`INSERT INTO "${history}" (room, seq, id, sent_at, body) VALUES (?, ?, ?, ?, ?)`).run(
            room,
            seq,
            entry.id,
            entry.sentAt,
            entry.body,
          );
          return seq;
        })
        .immediate(),
    );
  }

  roomHistory(room: string, after: number, limit: number, window: HistoryWindow): Promise<HistoryPage> {
    const { sequences, history } = this.h;
    return this.run('history', (db) => {
      // The room's row joined with its messages in range: the latest number comes along even when none are.
      const rows = db
        .prepare(
          `SELECT s.seq AS latest, h.seq, h.id, h.sent_at, h.body
           FROM "${sequences}" s LEFT JOIN "${history}" h
             ON h.room = s.room AND h.seq > ? AND h.seq > s.seq - ? AND h.sent_at >= ?
           WHERE s.room = ? ORDER BY h.seq LIMIT ?`,
        )
        .all(after, window.maxPerRoom, window.notBefore, room, limit) as HistoryRow[];
      return toHistoryPage(rows);
    });
  }

  trimHistory(window: HistoryWindow): Promise<number> {
    const { sequences, history } = this.h;
    return this.run('trim history', (db) =>
      db
        .transaction(() => {
          const old = db.prepare(`DELETE FROM "${history}" WHERE sent_at < ?`).run(window.notBefore).changes;
          const over = db
            .prepare(
              `DELETE FROM "${history}"
               WHERE seq <= (SELECT s.seq FROM "${sequences}" s WHERE s.room = "${history}".room) - ?`,
            )
            .run(window.maxPerRoom).changes;
          return old + over;
        })
        .immediate(),
    );
  }

  /** Test helper for the contract suite. */
  async dropTables(): Promise<void> {
    await this.run('drop', (db) =>
      db.exec(
        `DROP TABLE IF EXISTS "${this.t.connections}"; DROP TABLE IF EXISTS "${this.t.members}";
         DROP TABLE IF EXISTS "${this.h.sequences}"; DROP TABLE IF EXISTS "${this.h.history}";`,
      ),
    );
    await this.close();
  }
}

/**
 * A room's counter outlives its messages: a room whose history was trimmed to nothing goes
 * on from its last number, so a client's last seq is never reused for another message.
 */
function historySchema({ sequences, history }: { sequences: string; history: string }): string {
  return `
    CREATE TABLE IF NOT EXISTS "${sequences}" (
      room TEXT NOT NULL PRIMARY KEY,
      seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS "${history}" (
      room TEXT NOT NULL,
      seq INTEGER NOT NULL,
      id TEXT NOT NULL,
      sent_at INTEGER NOT NULL,
      body TEXT NOT NULL,
      PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS "${history}_sent_at" ON "${history}" (sent_at);
  `;
}
