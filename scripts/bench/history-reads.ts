/**
 * `--only history`, on MySQL: four ways to read one `history` answer, measured side by side on
 * the same rooms (1,000 kept messages of 120 KB, and 1,000 of 200 bytes), each through one
 * connection behind the counting proxy, so the bytes the server sends back are counted:
 *
 * - every message up to the limit, cut to 128 KB in JavaScript (what the store did before);
 * - the lengths of every message first, then the text of those that fit (two queries);
 * - a running sum of the lengths in SQL (a window function), the text of those that fit (one query);
 * - the walk the store ships (historyWalkQuery, src/store/types.ts): one primary-key step per
 *   message that stops at the budget.
 *
 * Every way must give the very answer the first gives (`same answer`).
 */
import { createConnection } from 'mysql2/promise';
import type { Connection } from 'mysql2/promise';
import { historyFrame } from '../../src/chat/history';
import { MAX_MESSAGE_BYTES } from '../../src/chat/protocol';
import { DEFAULT_HISTORY, historyWindow, mysqlFromUrl } from '../../src/config';
import type { HistoryPage, HistoryRow, HistoryWindow, StoredMessage } from '../../src/data';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { historyTables, historyWalkQuery, readHistoryPage } from '../../src/store/types';
import { startTcpProxy } from '../../test/support/stand-ins/tcp-proxy';
import type { TcpProxy } from '../../test/support/stand-ins/tcp-proxy';
import { median, round } from './stats';

export interface HistoryReadRow {
  room: string;
  way: string;
  /** Statements per answer. */
  queries: number;
  medianMs: number;
  /** Bytes the server sent for one answer (median). */
  kbFromServer: number;
  /** The answer is the one the first way gives, byte for byte. */
  sameAnswer: boolean;
}

const PREFIX = 'bench_hr_';
const LIMIT = 1_000;

type Read = (db: Connection, room: string, window: HistoryWindow) => Promise<HistoryPage>;

function toMessages(rows: readonly HistoryRow[]): StoredMessage[] {
  return rows.flatMap((row) =>
    row.seq === null || row.id === null || row.body === null
      ? []
      : [{ seq: Number(row.seq), id: row.id, sentAt: Number(row.sent_at), body: row.body }],
  );
}

function ways(): { name: string; read: Read }[] {
  const { sequences: s, history: h } = historyTables(PREFIX);
  const inRange = `h.room = s.room AND h.seq > ? AND h.seq > s.seq - ? AND h.sent_at >= ?`;
  return [
    {
      name: 'every message up to the limit, cut in JavaScript (before)',
      read: async (db, room, w) => {
        const [rows] = await db.query(
          `SELECT s.seq AS latest, h.seq, h.id, h.sent_at, h.body FROM ${s} s LEFT JOIN ${h} h ON ${inRange}
           WHERE s.room = ? ORDER BY h.seq LIMIT ?`,
          [0, w.maxPerRoom, w.notBefore, room, LIMIT],
        );
        const list = rows as HistoryRow[];
        return { latest: Number(list[0]?.latest ?? 0), messages: toMessages(list) };
      },
    },
    {
      name: 'lengths of every message, then the text of those that fit (2 queries)',
      read: async (db, room, w) => {
        const [sized] = await db.query(
          `SELECT s.seq AS latest, h.seq, OCTET_LENGTH(h.body) AS size FROM ${s} s LEFT JOIN ${h} h ON ${inRange}
           WHERE s.room = ? ORDER BY h.seq LIMIT ?`,
          [0, w.maxPerRoom, w.notBefore, room, LIMIT],
        );
        const list = sized as { latest: number; seq: number | null; size: number | null }[];
        let total = 0;
        let last: number | undefined;
        let next: number | undefined;
        for (const row of list) {
          if (row.seq === null) continue;
          total += Number(row.size);
          if (total > MAX_MESSAGE_BYTES) {
            next = Number(row.seq);
            break;
          }
          last = Number(row.seq);
        }
        const latest = Number(list[0]?.latest ?? 0);
        if (last === undefined) return { latest, messages: [], ...(next === undefined ? {} : { next }) };
        const [rows] = await db.query(
          `SELECT h.seq, h.id, h.sent_at, h.body FROM ${h} h WHERE h.room = ? AND h.seq > ? AND h.seq <= ? AND h.sent_at >= ?
           ORDER BY h.seq`,
          [room, 0, last, w.notBefore],
        );
        return { latest, messages: toMessages(rows as HistoryRow[]), ...(next === undefined ? {} : { next }) };
      },
    },
    {
      name: 'a running sum in SQL over every message (window function, 1 query)',
      read: async (db, room, w) => {
        const [rows] = await db.query(
          `SELECT s.seq AS latest, c.seq, h.id, h.sent_at, h.body
           FROM ${s} s
             LEFT JOIN (SELECT seq, SUM(size) OVER (ORDER BY seq) AS total, size FROM (
               SELECT h.seq, OCTET_LENGTH(h.body) AS size FROM ${s} s JOIN ${h} h ON ${inRange}
               WHERE s.room = ? ORDER BY h.seq LIMIT ?) l) c ON c.total - c.size <= ?
             LEFT JOIN ${h} h ON h.room = s.room AND h.seq = c.seq AND c.total <= ?
           WHERE s.room = ? ORDER BY c.seq`,
          [0, w.maxPerRoom, w.notBefore, room, LIMIT, MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES, room],
        );
        const list = rows as HistoryRow[];
        const unread = list.find((row) => row.seq !== null && row.body === null);
        return {
          latest: Number(list[0]?.latest ?? 0),
          messages: toMessages(list),
          ...(unread ? { next: Number(unread.seq) } : {}),
        };
      },
    },
    {
      name: 'the walk: one step a message, stopping at 128 KB (shipped)',
      read: (db, room, w) => {
        const sql = historyWalkQuery({ sequences: s, history: h });
        const walk = async (values: unknown[]) => (await db.query(sql, values))[0] as HistoryRow[];
        return readHistoryPage(walk, { room, after: 0, limit: LIMIT, window: w, maxBytes: MAX_MESSAGE_BYTES });
      },
    },
  ];
}

async function seed(store: MysqlConnectionStore, room: string, count: number, dataBytes: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const body = JSON.stringify({ type: 'message', id: `m${i}`, room, data: 'x'.repeat(dataBytes) });
    await store.appendToRoom(room, { id: `m${i}`, sentAt: Date.now(), body });
  }
}

async function measure(
  db: Connection,
  proxy: TcpProxy,
  room: string,
  label: string,
  repetitions: number,
): Promise<HistoryReadRow[]> {
  const window = historyWindow(DEFAULT_HISTORY);
  const rows: HistoryReadRow[] = [];
  let reference: string | undefined;
  for (const way of ways()) {
    await way.read(db, room, window); // warm: the pages in the buffer pool
    const ms: number[] = [];
    const bytes: number[] = [];
    let queries = 0;
    let answer = '';
    for (let i = 0; i < repetitions; i++) {
      proxy.resetBytes();
      proxy.resetCommands();
      const started = performance.now();
      answer = historyFrame(room, 0, await way.read(db, room, window)).text;
      ms.push(performance.now() - started);
      bytes.push(proxy.bytesFromServer());
      queries = proxy.commands.length;
    }
    reference ??= answer;
    rows.push({
      room: label,
      way: way.name,
      queries,
      medianMs: round(median(ms), 1),
      kbFromServer: round(median(bytes) / 1024, 0),
      sameAnswer: answer === reference,
    });
  }
  return rows;
}

export async function benchHistoryReads(options: { smoke: boolean; mysqlUrl: string }): Promise<HistoryReadRow[]> {
  const settings = mysqlFromUrl(options.mysqlUrl, PREFIX);
  const kept = options.smoke ? 100 : 1_000;
  const repetitions = options.smoke ? 2 : 7;
  const store = new MysqlConnectionStore(settings);
  const proxy = await startTcpProxy({ host: settings.host, port: settings.port });
  const db = await createConnection({
    host: '127.0.0.1',
    port: proxy.port,
    user: settings.user,
    password: settings.password,
    database: settings.database,
    supportBigNumbers: true,
    charset: 'utf8mb4',
  });
  try {
    await store.dropTables();
    await seed(store, 'large', kept, 120_000);
    await seed(store, 'small', kept, 150);
    return [
      ...(await measure(db, proxy, 'large', `${kept} × 120 KB`, repetitions)),
      ...(await measure(db, proxy, 'small', `${kept} × 200 B`, repetitions)),
    ];
  } finally {
    await db.end();
    await store.dropTables();
    await store.close();
    await proxy.close();
  }
}
