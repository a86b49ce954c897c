import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { StoreError } from '../../src/errors';
import { storeContract } from './store-contract';
import { shardStoreContract } from './shard-store-contract';
import { identifierContract } from './identifier-contract';
import { historyReadContract } from './history-read-contract';
import { userPresenceContract } from './user-presence-contract';

const dir = mkdtempSync(join(tmpdir(), 'embedded-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const files = new WeakMap<object, string>();
const open = (file: string) => {
  const store = new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: '' });
  files.set(store, file);
  return store;
};
storeContract(
  'embedded (SQLite)',
  async () => open(join(dir, `store-${n++}.sqlite`)),
  (store) => open(files.get(store) as string), // its own handle on the same file, as another worker's
);
shardStoreContract(
  'embedded (SQLite)',
  async () => open(join(dir, `store-${n++}.sqlite`)),
  (store) => open(files.get(store) as string),
);
identifierContract('embedded (SQLite)', async () => open(join(dir, `store-${n++}.sqlite`)));
historyReadContract('embedded (SQLite)', async () => open(join(dir, `store-${n++}.sqlite`)));
userPresenceContract('embedded (SQLite)', async () => open(join(dir, `store-${n++}.sqlite`)));

/**
 * Appends from worker threads, each with its own handle on the file, as serverless-offline's
 * workers do: truly at once, unlike handles in one thread (better-sqlite3 is synchronous).
 */
function appendInWorker(file: string, room: string, count: number): Promise<number[]> {
  const code = `
    require('tsx/cjs');
    const { workerData, parentPort } = require('node:worker_threads');
    const { EmbeddedConnectionStore } = require(workerData.module);
    const store = new EmbeddedConnectionStore({ kind: 'embedded', file: workerData.file, tablePrefix: '' });
    (async () => {
      const seqs = [];
      for (let i = 0; i < workerData.count; i++) {
        seqs.push(await store.appendToRoom(workerData.room, { id: 'w' + i, sentAt: Date.now(), body: '{}' }));
      }
      await store.close();
      parentPort.postMessage(seqs);
    })().catch((error) => parentPort.postMessage({ error: String(error) }));
  `;
  const module = join(__dirname, '../../src/store/sqlite.ts');
  const worker = new Worker(code, { eval: true, workerData: { file, room, count, module } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('a worker did not finish in 30 s')), 30_000);
    worker.once('message', (result: number[] | { error: string }) => {
      clearTimeout(timer);
      void worker.terminate();
      if (Array.isArray(result)) resolve(result);
      else reject(new Error(result.error));
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe('embedded store', () => {
  it('numbers a room 1..n without a repeat or a hole when worker threads append at once', async () => {
    const file = join(dir, 'race.sqlite');
    const first = new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: '' });
    expect(await first.roomHistory('race', 0, 1, { maxPerRoom: 1, notBefore: 0 })).toEqual({ latest: 0, messages: [] });
    await first.close(); // the schema exists before the workers start
    const results = await Promise.all(Array.from({ length: 4 }, () => appendInWorker(file, 'race', 50)));
    const all = results.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const check = new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: '' });
    const page = await check.roomHistory('race', 0, 1_000, { maxPerRoom: 1_000, notBefore: 0 });
    expect(page.latest).toBe(200);
    expect(page.messages.map((m) => m.seq)).toEqual(all);
    await check.close();
  }, 60_000);

  it('is shared by separate handles on one file, as worker threads share it', async () => {
    const file = join(dir, 'shared.sqlite');
    const a = new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: '' });
    const b = new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: '' });
    await a.add({ connectionId: 'from-a', connectedAt: 1, subject: null });
    expect(await b.get('from-a')).toBeDefined();
    await a.close();
    await b.close();
  });

  it("adds the subject index to a file made before it existed, and finds a user's connections through it", async () => {
    const file = join(dir, 'older.sqlite');
    const old = new Database(file);
    // The schema as the previous release created it.
    old.exec(`
      CREATE TABLE connections (connection_id TEXT NOT NULL PRIMARY KEY, connected_at INTEGER NOT NULL, subject TEXT NULL);
      CREATE INDEX connections_connected_at ON connections (connected_at);
      CREATE TABLE room_members (room TEXT NOT NULL, connection_id TEXT NOT NULL, PRIMARY KEY (room, connection_id)) WITHOUT ROWID;
      INSERT INTO connections VALUES ('old-1', 1, 'alice'), ('old-2', 2, 'bob');
    `);
    old.close();
    const store = new EmbeddedConnectionStore({ kind: 'embedded', file, tablePrefix: '' });
    expect(await store.connectionsOf('alice')).toEqual(['old-1']);
    const reader = new Database(file, { readonly: true });
    const plan = reader
      .prepare('EXPLAIN QUERY PLAN SELECT connection_id FROM connections WHERE subject = ?')
      .all('alice') as { detail: string }[];
    expect(plan.map((step) => step.detail).join(' ')).toMatch(/USING (COVERING )?INDEX connections_subject/);
    reader.close();
    await store.close();
  });

  it('reports a file it cannot open as a StoreError', async () => {
    const store = new EmbeddedConnectionStore({
      kind: 'embedded',
      file: join(__filename, 'not-a-dir', 'x.sqlite'),
      tablePrefix: '',
    });
    await expect(store.list(1)).rejects.toBeInstanceOf(StoreError);
  });
});
