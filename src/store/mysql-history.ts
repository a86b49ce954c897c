/**
 * The room-history part of the MySQL adapter: each room's counter and its last messages
 * (appendToRoom, roomHistory, trimHistory) and the two tables they own. A layer between the
 * session (./mysql-connections.ts) and the store (./mysql.ts), so the store stays readable.
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
  private readonly h: { sequences: string; history: string };
  private historyReady: Promise<void> | undefined;

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    super(settings, options);
    this.h = historyTables(settings.tablePrefix);
  }

  /**
   * A room's counter outlives its messages: a room whose history was trimmed to nothing goes
   * on from its last number, so a client's last seq is never reused for another message.
   * MEDIUMTEXT: a frame is at most 128 KB, more than TEXT's 64 KB. Created on the first room
   * frame or history read of a container, not at its cold start: `$connect` never needs them.
   */
  private ensureHistory(deadline = this.budget()): Promise<void> {
    this.historyReady ??= this.serially(async () => {
      await this.prepare(deadline);
      await this.createHistory(deadline);
    }).catch((error: unknown) => {
      this.historyReady = undefined; // let the next call try again
      throw error;
    });
    return this.historyReady;
  }

  private async createHistory(deadline: number): Promise<void> {
    const { sequences, history } = this.h;
    await this.run(
      'create schema',
      `CREATE TABLE IF NOT EXISTS \`${sequences}\` (
         room VARCHAR(64) NOT NULL,
         seq BIGINT NOT NULL,
         PRIMARY KEY (room)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      [],
      deadline,
    );
    await this.run(
      'create schema',
      `CREATE TABLE IF NOT EXISTS \`${history}\` (
         room VARCHAR(64) NOT NULL,
         seq BIGINT NOT NULL,
         id VARCHAR(64) NOT NULL,
         sent_at BIGINT NOT NULL,
         body MEDIUMTEXT NOT NULL,
         PRIMARY KEY (room, seq),
         KEY idx_history_sent_at (sent_at)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      [],
      deadline,
    );
  }

  /**
   * One transaction: the counter's upsert takes the room row's lock, which the next
   * publisher of the room waits for until this one commits, so numbers follow each other
   * without a repeat, and a failed insert rolls the number back with it. LAST_INSERT_ID(expr)
   * hands the new number back in the upsert's own answer (insertId), so it costs no SELECT.
   */
  async appendToRoom(room: string, entry: HistoryEntry): Promise<number> {
    const { sequences, history } = this.h;
    await this.ensureHistory();
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
    await this.ensureHistory();
    const sql = historyWalkQuery({ sequences: `\`${this.h.sequences}\``, history: `\`${this.h.history}\`` });
    // One deadline for the read, however many walks a gap in the numbers takes.
    const deadline = this.budget();
    const walk = (values: unknown[]) => this.query<HistoryRow[]>('history', sql, values, deadline);
    return readHistoryPage(walk, { room, after, limit, window, maxBytes });
  }

  async trimHistory(window: HistoryWindow): Promise<number> {
    const { sequences, history } = this.h;
    const deadline = this.budget(HISTORY_TRIM_MS);
    await this.ensureHistory(deadline);
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

  /** Test helper for the contract suite: drop the history's tables (the store drops the rest). */
  async dropTables(): Promise<void> {
    await this.run(
      'drop',
      `DROP TABLE IF EXISTS \`${this.h.sequences}\`, \`${this.h.history}\``,
      [],
      this.budget(this.timeouts.sweepMs),
    );
    this.historyReady = undefined;
  }
}
