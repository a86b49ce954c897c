/**
 * The sharded-delivery part of the embedded store: keyset pages of an audience (audiencePage,
 * audienceMark, audienceCount) and the tallies of sharded deliveries (openDelivery to
 * removeDeliveriesBefore, and endDelivery) with the two tables they own. A layer between the history
 * (./sqlite-history.ts) and the store (./sqlite.ts).
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { EmbeddedSettings } from '../config';
import { EmbeddedHistory } from './sqlite-history';
import { audiencePageQuery, endedTotals, shardTableNames, tableNames, toDeliveryState } from './types';
import type {
  DeliveryCounts,
  DeliveryRecord,
  DeliveryRow,
  DeliveryState,
  EndedDelivery,
  IdRange,
  ShardProgress,
} from './types';

export abstract class EmbeddedDeliveries extends EmbeddedHistory {
  /** The connections' and members' tables: the store owns them, audience pages read them. */
  protected readonly t: { connections: string; members: string };

  constructor(settings: EmbeddedSettings) {
    super(settings);
    this.t = tableNames(settings.tablePrefix);
  }

  /** The audience's table and its condition: the members' primary key (room, connection_id) or the connections'. */
  private scopeOf(room: string | undefined): { from: string; where: string[]; values: unknown[] } {
    return room === undefined
      ? { from: `"${this.t.connections}"`, where: [], values: [] }
      : { from: `"${this.t.members}"`, where: ['room = ?'], values: [room] };
  }

  audiencePage(room: string | undefined, range: IdRange, limit: number): Promise<string[]> {
    return this.run('audience page', (db) => {
      const { sql, values } = audiencePageQuery(this.scopeOf(room), range, limit);
      return db
        .prepare(sql)
        .pluck()
        .all(...values) as string[];
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

  startShard(deliveryId: string, shard: number, now: number, again = false): Promise<ShardProgress> {
    return this.run('start shard', (db) => {
      const t = this.tallies(db);
      return db
        .transaction(() => {
          // SQLite computes every assignment from the row as it was: `updated_at` here is the old one.
          db.prepare(
            `INSERT INTO "${t.shards}" (delivery_id, shard, attempts, updated_at) VALUES (?, ?, 1, ?)
             ON CONFLICT (delivery_id, shard) DO UPDATE SET
               attempts = attempts + CASE WHEN ? AND attempts > 0 AND updated_at = excluded.updated_at THEN 0 ELSE 1 END,
               updated_at = excluded.updated_at`,
          ).run(deliveryId, shard, now, again ? 1 : 0);
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

  abandonedDeliveries(openedBefore: number, limit: number): Promise<string[]> {
    return this.run('abandoned deliveries', (db) => {
      const t = this.tallies(db);
      return db
        .prepare(
          `SELECT delivery_id FROM "${t.deliveries}" WHERE summarized = 0 AND created_at < ? ORDER BY created_at LIMIT ?`,
        )
        .pluck()
        .all(openedBefore, limit) as string[];
    });
  }

  /** One IMMEDIATE transaction, as finishShard: a shard finishing in another worker goes before or after it. */
  endDelivery(deliveryId: string): Promise<EndedDelivery | undefined> {
    return this.run('end delivery', (db) => {
      const t = this.tallies(db);
      return db
        .transaction((): EndedDelivery | undefined => {
          const row = db.prepare(`SELECT * FROM "${t.deliveries}" WHERE delivery_id = ?`).get(deliveryId) as
            DeliveryRow | undefined;
          if (row === undefined || Number(row.summarized) === 1) return undefined;
          const open = db
            .prepare(`SELECT sent, stale, failed, unsent FROM "${t.shards}" WHERE delivery_id = ? AND done = 0`)
            .all(deliveryId) as DeliveryCounts[];
          db.prepare(`UPDATE "${t.shards}" SET done = 1 WHERE delivery_id = ? AND done = 0`).run(deliveryId);
          const delivery = toDeliveryState(row);
          const totals = endedTotals(delivery, open);
          db.prepare(
            `UPDATE "${t.deliveries}" SET done = shards, sent = ?, stale = ?, failed = ?, unsent = ?, summarized = 1
             WHERE delivery_id = ?`,
          ).run(totals.sent, totals.stale, totals.failed, totals.unsent, deliveryId);
          return {
            state: { ...delivery, ...totals, done: delivery.shards, summarized: true },
            unfinished: open.length,
          };
        })
        .immediate();
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
}
