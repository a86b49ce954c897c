import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedConnectionStore } from '../../src/embedded-store';
import { StoreError } from '../../src/errors';
import { storeContract } from './store-contract';

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

  it('reports a file it cannot open as a StoreError', async () => {
    const store = new EmbeddedConnectionStore({
      kind: 'embedded',
      file: join(__filename, 'not-a-dir', 'x.sqlite'),
      tablePrefix: '',
    });
    await expect(store.list(1)).rejects.toBeInstanceOf(StoreError);
  });
});
