/**
 * The room-history part of the MySQL adapter: each room's counter and its last messages
 * (appendToRoom, roomHistory, trimHistory), over two tables of the schema (./mysql-schema.ts).
 * A layer between the session (./mysql-connections.ts) and the store (./mysql.ts), so the
 * store stays readable.
 */
import type { MysqlSettings } from '../config';
import { MysqlSession } from './mysql-connections';
import { lockWaitSeconds, routineNames } from './mysql-routines';
import type { MysqlStoreOptions } from './mysql-connections';
import { historyTables, historyWalkQuery, readHistoryPage, tableNames } from './types';
import type { HistoryEntry, HistoryPage, HistoryRow, HistoryWindow } from './types';

/**
 * The sweep's second operation, after the connections' 45 s (sweepMs): 45 + 10 + end()'s 1 s
 * stay inside the sweep function's 60 s timeout (docs/operations.md#time-budgets).
 */
export const HISTORY_TRIM_MS = 10_000;

export abstract class MysqlHistory extends MysqlSession {
  /** Its tables, made with the others (./mysql-schema.ts). */
  private readonly h: { sequences: string; history: string };
  /** The procedure that numbers and keeps a message (./mysql-routines.ts). */
  private readonly append: string;
  /** The members' table, for a history read's membership check (the store owns it, ./mysql.ts). */
  private readonly memberTable: string;

  constructor(settings: MysqlSettings, options: MysqlStoreOptions = {}) {
    super(settings, options);
    this.h = historyTables(settings.tablePrefix);
    this.append = routineNames(settings.tablePrefix).append;
    this.memberTable = tableNames(settings.tablePrefix).members;
  }

  /**
   * One round trip: a procedure (./mysql-routines.ts) checks the membership when asked, then
   * in one transaction the counter's upsert takes the room row's lock, which the next
   * publisher of the room waits for until this one commits, so numbers follow each other
   * without a repeat, and a failed insert rolls the number back with it. Sent as once() sends
   * it: the library never runs it a second time after a dropped connection.
   */
  async appendToRoom(room: string, entry: HistoryEntry, member?: string): Promise<number> {
    const deadline = this.budget();
    const [rows] = await this.once<[{ seq: number | string }[], unknown]>(
      'append',
      `CALL \`${this.append}\`(?, ?, ?, ?, ?, ?)`,
      [room, entry.id, entry.sentAt, entry.body, member ?? null, lockWaitSeconds(deadline)],
      deadline,
    );
    return Number(rows[0]?.seq ?? 0);
  }

  async roomHistory(
    room: string,
    after: number,
    limit: number,
    window: HistoryWindow,
    maxBytes?: number,
    member?: string,
  ): Promise<HistoryPage> {
    const tables = { sequences: `\`${this.h.sequences}\``, history: `\`${this.h.history}\`` };
    const sql = historyWalkQuery(tables);
    // One deadline for the read, however many walks a gap in the numbers takes.
    const deadline = this.budget();
    let walk = (values: unknown[]) => this.query<HistoryRow[]>('history', sql, values, deadline);
    let isMember = true;
    if (member !== undefined) {
      // The first walk is the membership check too (one round trip); a non-member is told nothing.
      const first = historyWalkQuery({ ...tables, members: `\`${this.memberTable}\`` });
      const plain = walk;
      walk = async (values) => {
        walk = plain;
        const rows = await this.query<HistoryRow[]>('history', first, [...values, room, member], deadline);
        isMember = Number(rows[0]?.member) === 1;
        return isMember ? rows : [];
      };
    }
    const page = await readHistoryPage((values) => walk(values), { room, after, limit, window, maxBytes });
    if (member === undefined) return page;
    return isMember ? { ...page, member: true } : { latest: 0, messages: [], member: false };
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
