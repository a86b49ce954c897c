import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EmbeddedConnectionStore } from '../../src/store/sqlite';
import { StoreError } from '../../src/errors';
import { storeContract } from './store-contract';
import { shardStoreContract } from './shard-store-contract';

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
shardStoreContract('embedded (SQLite)', async () => open(join(dir, `store-${n++}.sqlite`)));

describe('embedded store', () => {
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
