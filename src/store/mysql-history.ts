/**
 * The room-history part of the MySQL adapter: each room's counter and its last messages
 * (appendToRoom, roomHistory, trimHistory), over two tables of the schema (./mysql-schema.ts).
 * A layer between the session (./mysql-connections.ts) and the store (./mysql.ts), so the
 * store stays readable.
 */
import type { MysqlSettings } from '../config';
import { MysqlSession } from './mysql-connections';
import type { MysqlStoreOptions } from './mysql-connections';
import { historyTables, historyWalkQuery, readHistoryPage } from './types';
import type { HistoryEntry, HistoryPage, HistoryRow, HistoryWindow } from './types';

/**
 * The sweep's second operation, after the connections' 45 s (sweepMs): 45 + 10 + end()'s 1 s
 * stay inside the sweep function's 60 s timeout (docs/operations.md#time-budgets).
 */
export const HISTORY_TRIM_MS = 10_000;

export abstract class MysqlHistory extends MysqlSession {
  /** Its tables, made with the others (./mysql-schema.ts). */
  private readonly h: { sequences: string; history: string };

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    super(settings, options);
    this.h = historyTables(settings.tablePrefix);
  }

  /**
   * One transaction: the counter's upsert takes the room row's lock, which the next
   * publisher of the room waits for until this one commits, so numbers follow each other
   * without a repeat, and a failed insert rolls the number back with it. LAST_INSERT_ID(expr)
   * hands the new number back in the upsert's own answer (insertId), so it costs no SELECT.
   */
  async appendToRoom(room: string, entry: HistoryEntry): Promise<number> {
    const { sequences, history } = this.h;
    return this.transaction('append', async (statement) => {
      const counted = await statement<{ insertId: number | string }>(
        `INSERT INTO \`${sequences}\` (room, seq) VALUES (?, LAST_INSERT_ID(1))
         ON DUPLICATE KEY UPDATE seq = LAST_INSERT_ID(seq + 1)`,
        [room],
      );
      const seq = Number(counted.insertId);
      await statement(`INSERT INTO \`${history}\` (room, seq, id, sent_at, body) VALUES (?, ?, ?, ?, ?)`, [
        room,
        seq,
        entry.id,
        entry.sentAt,
        entry.body,
      ]);
      return seq;
    });
  }

  async roomHistory(
    room: string,
    after: number,
    limit: number,
    window: HistoryWindow,
    maxBytes?: number,
  ): Promise<HistoryPage> {
    const sql = historyWalkQuery({ sequences: `\`${this.h.sequences}\``, history: `\`${this.h.history}\`` });
    // One deadline for the read, however many walks a gap in the numbers takes.
    const deadline = this.budget();
    const walk = (values: unknown[]) => this.query<HistoryRow[]>('history', sql, values, deadline);
    return readHistoryPage(walk, { room, after, limit, window, maxBytes });
  }

  async trimHistory(window: HistoryWindow): Promise<number> {
    const { sequences, history } = this.h;
    const deadline = this.budget(HISTORY_TRIM_MS);
    const old = await this.query<{ affectedRows: number }>(
      'trim history',
      `DELETE FROM \`${history}\` WHERE sent_at < ?`,
      [window.notBefore],
      deadline,
    );
    const over = await this.query<{ affectedRows: number }>(
      'trim history',
      `DELETE h FROM \`${history}\` h JOIN \`${sequences}\` s ON s.room = h.room WHERE h.seq <= s.seq - ?`,
      [window.maxPerRoom],
      deadline,
    );
    return old.affectedRows + over.affectedRows;
  }
}
