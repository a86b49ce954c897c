/**
 * The sharded-delivery part of the MySQL adapter: keyset pages of an audience (audiencePage,
 * audienceMark, audienceCount) and the tallies of sharded deliveries (openDelivery to
 * endDelivery) over two tables of the schema (./mysql-schema.ts). A layer between the history
 * (./mysql-history.ts) and the store (./mysql.ts).
 */
import type { MysqlSettings } from '../config';
import type { MysqlStoreOptions } from './mysql-connections';
import { MysqlHistory } from './mysql-history';
import {
  audiencePageQuery,
  chunks,
  DELETE_CHUNK,
  endedTotals,
  shardTableNames,
  tableNames,
  toDeliveryState,
} from './types';
import type {
  DeliveryCounts,
  DeliveryRecord,
  DeliveryRow,
  DeliveryState,
  EndedDelivery,
  IdRange,
  ShardProgress,
} from './types';

export abstract class MysqlDeliveries extends MysqlHistory {
  /** The connections' and members' tables: the store owns them, audience pages read them. */
  protected readonly t: { connections: string; members: string };
  private readonly tallyTables: { deliveries: string; shards: string };

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    super(settings, options);
    this.t = tableNames(settings.tablePrefix);
    this.tallyTables = shardTableNames(settings.tablePrefix);
  }

  /** The audience's table and its condition: the members' primary key (room, connection_id) or the connections'. */
  private scopeOf(room: string | undefined): { from: string; where: string[]; values: unknown[] } {
    return room === undefined
      ? { from: `\`${this.t.connections}\``, where: [], values: [] }
      : { from: `\`${this.t.members}\``, where: ['room = ?'], values: [room] };
  }

  /** Keyset pages on the primary key: each page is one index range read, however deep into the audience. */
  async audiencePage(room: string | undefined, range: IdRange, limit: number): Promise<string[]> {
    const { sql, values } = audiencePageQuery(this.scopeOf(room), range, limit);
    const rows = await this.query<{ connection_id: string }[]>('audience page', sql, values, this.budget());
    return rows.map((row) => row.connection_id);
  }

  async audienceMark(room: string | undefined, after: string | null, skip: number): Promise<string | undefined> {
    const { from, where, values } = this.scopeOf(room);
    if (after !== null) {
      where.push('connection_id > ?');
      values.push(after);
    }
    const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const rows = await this.query<{ connection_id: string }[]>(
      'audience mark',
      `SELECT connection_id FROM ${from} ${condition} ORDER BY connection_id LIMIT 1 OFFSET ?`,
      [...values, skip - 1],
      this.budget(),
    );
    return rows[0]?.connection_id;
  }

  async audienceCount(room?: string): Promise<number> {
    const { from, where, values } = this.scopeOf(room);
    const condition = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const [row] = await this.query<{ n: number | string }[]>(
      'audience count',
      `SELECT COUNT(*) AS n FROM ${from} ${condition}`,
      values,
      this.budget(),
    );
    return Number(row?.n ?? 0);
  }

  /** The tallies' tables, made with the others (./mysql-schema.ts). */
  private async tallies(): Promise<{ deliveries: string; shards: string }> {
    return this.tallyTables;
  }

  async openDelivery(delivery: DeliveryRecord, now: number): Promise<void> {
    const t = await this.tallies();
    await this.query(
      'open delivery',
      `INSERT IGNORE INTO \`${t.deliveries}\` (delivery_id, shards, recipients, summary_to, created_at) VALUES (?, ?, ?, ?, ?)`,
      [delivery.deliveryId, delivery.shards, delivery.recipients, delivery.summaryTo, now],
      this.budget(),
    );
    const rows = Array.from({ length: delivery.shards }, (_, shard) => [delivery.deliveryId, shard, now]);
    for (const chunk of chunks(rows, DELETE_CHUNK)) {
      await this.query(
        'open delivery',
        `INSERT IGNORE INTO \`${t.shards}\` (delivery_id, shard, updated_at) VALUES ?`,
        [chunk],
        this.budget(),
      );
    }
  }

  async startShard(deliveryId: string, shard: number, now: number, again = false): Promise<ShardProgress> {
    const t = await this.tallies();
    // MySQL assigns left to right: `attempts` is computed from the row's old `updated_at`.
    await this.query(
      'start shard',
      `INSERT INTO \`${t.shards}\` (delivery_id, shard, attempts, updated_at) VALUES (?, ?, 1, ?)
       ON DUPLICATE KEY UPDATE
         attempts = attempts + IF(? AND attempts > 0 AND updated_at = VALUES(updated_at), 0, 1),
         updated_at = VALUES(updated_at)`,
      [deliveryId, shard, now, again],
      this.budget(),
    );
    const [row] = await this.query<Record<string, number | string | null>[]>(
      'start shard',
      `SELECT cursor_id, sent, stale, failed, unsent, attempts, done FROM \`${t.shards}\` WHERE delivery_id = ? AND shard = ?`,
      [deliveryId, shard],
      this.budget(),
    );
    return {
      cursor: (row?.cursor_id as string | null | undefined) ?? null,
      sent: Number(row?.sent ?? 0),
      stale: Number(row?.stale ?? 0),
      failed: Number(row?.failed ?? 0),
      unsent: Number(row?.unsent ?? 0),
      attempts: Number(row?.attempts ?? 1),
      done: Number(row?.done ?? 0) === 1,
    };
  }

  async saveShard(deliveryId: string, shard: number, cursor: string | null, counts: DeliveryCounts, now: number) {
    const t = await this.tallies();
    await this.query(
      'save shard',
      `UPDATE \`${t.shards}\` SET cursor_id = ?, sent = ?, stale = ?, failed = ?, unsent = ?, updated_at = ?
       WHERE delivery_id = ? AND shard = ? AND done = 0`,
      [cursor, counts.sent, counts.stale, counts.failed, counts.unsent, now, deliveryId, shard],
      this.budget(),
    );
  }

  /**
   * One transaction: the shard's `done = 0 -> 1` admits one finish per shard, and the
   * delivery's `summarized = 0 -> 1` (under its row lock) one claim of the summary, however
   * many shards finish at once in other containers.
   */
  async finishShard(deliveryId: string, shard: number, counts: DeliveryCounts): Promise<DeliveryState | undefined> {
    const t = await this.tallies();
    return this.transaction('finish shard', async (statement) => {
      const marked = await statement<{ affectedRows: number }>(
        `UPDATE \`${t.shards}\` SET done = 1, sent = ?, stale = ?, failed = ?, unsent = ?
         WHERE delivery_id = ? AND shard = ? AND done = 0`,
        [counts.sent, counts.stale, counts.failed, counts.unsent, deliveryId, shard],
      );
      if (marked.affectedRows !== 1) return undefined;
      await statement(
        `UPDATE \`${t.deliveries}\` SET done = done + 1, sent = sent + ?, stale = stale + ?, failed = failed + ?,
         unsent = unsent + ? WHERE delivery_id = ?`,
        [counts.sent, counts.stale, counts.failed, counts.unsent, deliveryId],
      );
      const claimed = await statement<{ affectedRows: number }>(
        `UPDATE \`${t.deliveries}\` SET summarized = 1 WHERE delivery_id = ? AND done >= shards AND summarized = 0`,
        [deliveryId],
      );
      if (claimed.affectedRows !== 1) return undefined;
      const [row] = await statement<DeliveryRow[]>(`SELECT * FROM \`${t.deliveries}\` WHERE delivery_id = ?`, [
        deliveryId,
      ]);
      return row === undefined ? undefined : toDeliveryState(row);
    });
  }

  async deliveryState(deliveryId: string): Promise<DeliveryState | undefined> {
    const t = await this.tallies();
    const [row] = await this.query<DeliveryRow[]>(
      'delivery state',
      `SELECT * FROM \`${t.deliveries}\` WHERE delivery_id = ?`,
      [deliveryId],
      this.budget(),
    );
    return row === undefined ? undefined : toDeliveryState(row);
  }

  async activeShards(since: number): Promise<number> {
    const t = await this.tallies();
    const [row] = await this.query<{ n: number | string }[]>(
      'active shards',
      `SELECT COUNT(*) AS n FROM \`${t.shards}\` WHERE done = 0 AND attempts > 0 AND updated_at >= ?`,
      [since],
      this.budget(),
    );
    return Number(row?.n ?? 0);
  }

  async removeDeliveriesBefore(cutoff: number): Promise<number> {
    const t = await this.tallies();
    const deadline = this.budget(this.timeouts.sweepMs);
    await this.query(
      'remove deliveries',
      `DELETE s FROM \`${t.shards}\` s JOIN \`${t.deliveries}\` d ON d.delivery_id = s.delivery_id WHERE d.created_at < ?`,
      [cutoff],
      deadline,
    );
    const result = await this.query<{ affectedRows: number }>(
      'remove deliveries',
      `DELETE FROM \`${t.deliveries}\` WHERE created_at < ?`,
      [cutoff],
      deadline,
    );
    return result.affectedRows;
  }

  async abandonedDeliveries(openedBefore: number, limit: number): Promise<string[]> {
    const t = await this.tallies();
    const rows = await this.query<{ delivery_id: string }[]>(
      'abandoned deliveries',
      `SELECT delivery_id FROM \`${t.deliveries}\` WHERE summarized = 0 AND created_at < ? ORDER BY created_at LIMIT ?`,
      [openedBefore, limit],
      this.budget(),
    );
    return rows.map((row) => row.delivery_id);
  }

  /**
   * Locks in finishShard's order, the shards' rows first and then the delivery's, so that a
   * shard finishing at the same moment waits or is waited for, and neither deadlocks.
   */
  async endDelivery(deliveryId: string): Promise<EndedDelivery | undefined> {
    const t = await this.tallies();
    return this.transaction('end delivery', async (statement) => {
      const open = await statement<Record<keyof DeliveryCounts, number | string>[]>(
        `SELECT sent, stale, failed, unsent FROM \`${t.shards}\` WHERE delivery_id = ? AND done = 0 FOR UPDATE`,
        [deliveryId],
      );
      await statement(`UPDATE \`${t.shards}\` SET done = 1 WHERE delivery_id = ? AND done = 0`, [deliveryId]);
      const [row] = await statement<DeliveryRow[]>(
        `SELECT * FROM \`${t.deliveries}\` WHERE delivery_id = ? FOR UPDATE`,
        [deliveryId],
      );
      if (row === undefined || Number(row.summarized) === 1) return undefined;
      const delivery = toDeliveryState(row);
      const totals = endedTotals(
        delivery,
        open.map((shard) => ({
          sent: Number(shard.sent),
          stale: Number(shard.stale),
          failed: Number(shard.failed),
          unsent: Number(shard.unsent),
        })),
      );
      await statement(
        `UPDATE \`${t.deliveries}\` SET done = shards, sent = ?, stale = ?, failed = ?, unsent = ?, summarized = 1
         WHERE delivery_id = ? AND summarized = 0`,
        [totals.sent, totals.stale, totals.failed, totals.unsent, deliveryId],
      );
      return {
        state: { ...delivery, ...totals, done: delivery.shards, summarized: true },
        unfinished: open.length,
      };
    });
  }
}
