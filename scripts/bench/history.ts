/**
 * `--only history`: what numbering a room message and keeping it in history costs. The real
 * message handler (src/chat/actions.ts) runs a `publish` to a room of one member and, beside
 * it, a `sendmessage` to the same one connection, which writes nothing: the difference is the
 * sequence + history write. Then the write alone, one history read of 1,000 small messages,
 * and one `history` answer from 1,000 messages of 120 KB. MySQL goes through the counting
 * proxy, so the commands and the bytes on the wire are counted per operation. Beside them, on
 * MySQL, the ways a read could bound itself (./history-reads.ts), and a flood of history
 * requests against the running service (./history-flood.ts; not in --smoke).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleMessage } from '../../src/chat/actions';
import type { Session } from '../../src/chat/actions';
import { historyFrame, readHistory } from '../../src/chat/history';
import { DEFAULT_HISTORY, historyWindow } from '../../src/config';
import type { ConnectionStore } from '../../src/data';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import type { TcpProxy } from '../../test/support/stand-ins/tcp-proxy';
import { withCountedMysql } from './queries';
import { benchHistoryFlood } from './history-flood';
import type { HistoryFloodRow } from './history-flood';
import { benchHistoryReads } from './history-reads';
import type { HistoryReadRow } from './history-reads';
import { seedLargeHistory } from '../../test/support/harnesses/history-flood';
import { median, percentile, round } from './stats';
import { chatSession } from '../../test/support/harnesses/session';

export interface HistoryRow {
  store: 'embedded' | 'mysql';
  case: string;
  operations: number;
  medianMs: number;
  p99Ms: number;
  /** MySQL commands on the wire per operation (null for SQLite). */
  commandsPerOperation: number | null;
  /** KB the MySQL server sent per operation (null for SQLite). */
  kbFromServer: number | null;
}

export interface HistorySection {
  rows: HistoryRow[];
  /** MySQL only: the ways one answer could be read, side by side. */
  reads: HistoryReadRow[];
  /** A flood of history requests against the running service, per store (not in --smoke). */
  flood: HistoryFloodRow[];
}

const PREFIX = 'bench_h_';
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

function session(store: ConnectionStore, connectionId: string): Session {
  return chatSession({
    store,
    outbox: { send: async () => undefined },
    connectionId,
    deadline: Date.now() + 600_000,
    presenceMaxMembers: 0,
  });
}

/** Runs `work` n times one after another; the median and p99 of each, and commands per run. */
async function timed(
  n: number,
  work: (i: number) => Promise<unknown>,
  proxy: TcpProxy | undefined,
): Promise<{ medianMs: number; p99Ms: number; commandsPerOperation: number | null; kbFromServer: number | null }> {
  await work(-1); // warm: statements prepared, tables there, the connection open
  await settle();
  proxy?.resetCommands();
  proxy?.resetBytes();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await work(i);
    ms.push(performance.now() - started);
  }
  await settle();
  return {
    medianMs: round(median(ms), 3),
    p99Ms: round(percentile(ms, 99), 3),
    commandsPerOperation: proxy ? round(proxy.commands.length / n, 2) : null,
    kbFromServer: proxy ? round(proxy.bytesFromServer() / n / 1024, 1) : null,
  };
}

async function measure(
  kind: HistoryRow['store'],
  store: ConnectionStore,
  n: number,
  large: number,
  proxy?: TcpProxy,
): Promise<HistoryRow[]> {
  const me = `h-${kind}`;
  await store.add({ connectionId: me, connectedAt: 1, subject: null });
  await store.join(me, 'bench-room', 50);
  const you = session(store, me);
  const data = JSON.stringify({ text: 'x'.repeat(100) });
  const rows: HistoryRow[] = [];
  const row = (name: string, result: Awaited<ReturnType<typeof timed>>, operations = n) =>
    rows.push({ store: kind, case: name, operations, ...result });

  row(
    'sendmessage to 1 connection (id, no store write)',
    await timed(n, () => handleMessage(you, `{"action":"sendmessage","data":${data}}`), proxy),
  );
  row(
    'publish to a room of 1 (id + seq + history row)',
    await timed(n, () => handleMessage(you, `{"action":"publish","room":"bench-room","data":${data}}`), proxy),
  );
  const body = JSON.stringify({ type: 'message', id: 'x'.repeat(16), room: 'bench-write', data });
  row(
    'appendToRoom alone (the seq + history write)',
    await timed(n, (i) => store.appendToRoom('bench-write', { id: `w${i}`, sentAt: Date.now(), body }), proxy),
  );
  for (let i = 0; i < 1_000; i++) await store.appendToRoom('bench-read', { id: `r${i}`, sentAt: Date.now(), body });
  const window = historyWindow(DEFAULT_HISTORY);
  row(
    `history read, limit 1,000, of 1,000 kept messages of ${Buffer.byteLength(body)} B (roomHistory: those within 128 KB)`,
    await timed(10, () => store.roomHistory('bench-read', 0, 1_000, window), proxy),
    10,
  );
  const page = await store.roomHistory('bench-read', 0, 1_000, window);
  row(
    'history answer of that page framed (128 KB cap, no parse)',
    await timed(10, async () => historyFrame('bench-read', 0, page), undefined),
    10,
  );
  await seedLargeHistory(store, 'bench-large', large, 120_000);
  const request = { room: 'bench-large', after: 0, limit: 1_000 };
  row(
    `history answer from ${large.toLocaleString('en-US')} messages of 120 KB (readHistory)`,
    await timed(10, () => readHistory(store, request, DEFAULT_HISTORY), proxy),
    10,
  );
  return rows;
}

export async function benchHistory(options: { smoke: boolean; mysqlUrl: string | undefined }): Promise<HistorySection> {
  const n = options.smoke ? 50 : 500;
  const large = options.smoke ? 100 : 1_000;
  const rows: HistoryRow[] = [];
  let reads: HistoryReadRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bench-history-'));
  try {
    const embedded = new EmbeddedConnectionStore({
      kind: 'embedded',
      file: join(dir, 'h.sqlite'),
      tablePrefix: PREFIX,
    });
    rows.push(...(await measure('embedded', embedded, n, large)));
    await embedded.close();
    if (options.mysqlUrl) {
      rows.push(
        ...(await withCountedMysql(options.mysqlUrl, PREFIX, (mysql, proxy) =>
          measure('mysql', mysql, n, large, proxy),
        )),
      );
      reads = await benchHistoryReads({ smoke: options.smoke, mysqlUrl: options.mysqlUrl });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const flood = options.smoke ? [] : await benchHistoryFlood(options);
  return { rows, reads, flood };
}
