/**
 * The room-history part of the embedded store: each room's counter and its last messages
 * (appendToRoom, roomHistory, trimHistory) and the two tables they own. A layer between the
 * file's handle (./sqlite-session.ts) and the store (./sqlite.ts).
 */
import type { EmbeddedSettings } from '../config';
import { EmbeddedSession } from './sqlite-session';
import { historyTables, historyWalkQuery, readHistoryPage, tableNames } from './types';
import type { HistoryEntry, HistoryPage, HistoryRow, HistoryWindow } from './types';

export abstract class EmbeddedHistory extends EmbeddedSession {
  private readonly h: { sequences: string; history: string };
  /** The members' table, for appendToRoom's membership check (the store owns it, ./sqlite.ts). */
  private readonly memberTable: string;

  constructor(settings: EmbeddedSettings) {
    super(settings);
    this.h = historyTables(settings.tablePrefix);
    this.memberTable = tableNames(settings.tablePrefix).members;
  }

  protected override schema(): string {
    return super.schema() + historySchema(this.h);
  }

  /**
   * BEGIN IMMEDIATE holds the file's write lock from the counter's update to the history's
   * insert: an append in another worker waits (busy timeout) and then counts on from ours.
   */
  appendToRoom(room: string, entry: HistoryEntry, member?: string): Promise<number> {
    const { sequences, history } = this.h;
    return this.run('append', (db) =>
      db
        .transaction((): number => {
          // In the write transaction: the membership is the one the number is taken under.
          const known =
            member === undefined ||
            db.prepare(`SELECT 1 FROM "${this.memberTable}" WHERE room = ? AND connection_id = ?`).get(room, member);
          if (!known) return 0;
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

  roomHistory(
    room: string,
    after: number,
    limit: number,
    window: HistoryWindow,
    maxBytes?: number,
    member?: string,
  ): Promise<HistoryPage> {
    const sql = historyWalkQuery({ sequences: `"${this.h.sequences}"`, history: `"${this.h.history}"` });
    const walk = (values: unknown[]) => this.run('history', (db) => db.prepare(sql).all(...values) as HistoryRow[]);
    if (member === undefined) return readHistoryPage(walk, { room, after, limit, window, maxBytes });
    return this.run('history', (db) =>
      db.prepare(`SELECT 1 FROM "${this.memberTable}" WHERE room = ? AND connection_id = ?`).get(room, member),
    ).then(async (known) =>
      known
        ? { ...(await readHistoryPage(walk, { room, after, limit, window, maxBytes })), member: true }
        : { latest: 0, messages: [], member: false },
    );
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

  /** Test helper for the contract suite: drop the history's tables (the store drops the rest, then closes). */
  async dropTables(): Promise<void> {
    await this.run('drop', (db) =>
      db.exec(`DROP TABLE IF EXISTS "${this.h.sequences}"; DROP TABLE IF EXISTS "${this.h.history}";`),
    );
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
