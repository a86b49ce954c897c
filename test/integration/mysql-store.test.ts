import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { createConnection } from 'mysql2/promise';
import { MysqlConnectionStore } from '../../src/data';
import { StoreError } from '../../src/errors';
import { freePort } from '../support/offline';
import { HOW_TO_START, mysqlSettings, SKIP_MYSQL, uniquePrefix } from '../support/mysql';
import { storeContract } from './store-contract';

const suite = SKIP_MYSQL ? describe.skip : describe;

suite('MySQL', () => {
  beforeAll(async () => {
    const probe = new MysqlConnectionStore(mysqlSettings(uniquePrefix('probe')), { connectTimeoutMs: 2_000 });
    try {
      await probe.list(1);
      await probe.dropTables();
    } catch (error) {
      throw new Error(`${HOW_TO_START}\n(${(error as Error).message})`, { cause: error });
    } finally {
      await probe.close();
    }
  });

  let n = 0;
  const prefixes = new WeakMap<object, string>();
  const open = (prefix: string) => {
    const store = new MysqlConnectionStore(mysqlSettings(prefix));
    prefixes.set(store, prefix);
    return store;
  };
  storeContract(
    'MySQL',
    async () => open(uniquePrefix(`c${n++}`)),
    (store) => open(prefixes.get(store) as string), // its own connection to the same tables
  );

  describe('MySQL store failures', () => {
    it('a join stuck behind another transaction fails with a typed error, holds nothing, and the next join works', async () => {
      const settings = mysqlSettings(uniquePrefix('tx'));
      const store = new MysqlConnectionStore(settings, { queryTimeoutMs: 1_000 });
      const { host, port, user, password, database } = settings;
      const blocker = await createConnection({ host, port, user, password, database });
      try {
        await store.add({ connectionId: 'A', connectedAt: 1, subject: null });
        // Another session holds the connection's row lock past the store's query timeout.
        await blocker.query('START TRANSACTION');
        await blocker.query(
          `SELECT * FROM \`${settings.tablePrefix}connections\` WHERE connection_id = 'A' FOR UPDATE`,
        );
        const error = await store.join('A', 'red', 50).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).operation).toBe('join');
        await blocker.query('COMMIT');
        // The failed transaction's connection was closed, so nothing of it lingers: the same
        // store connects again, and the join (and others' joins) go through.
        expect(await store.join('A', 'red', 50)).toBe('joined');
        expect(await store.roomsOf('A')).toEqual(['red']);
      } finally {
        await blocker.end();
        await store.dropTables();
        await store.close();
      }
    });

    it('gives a typed error, quickly, when the server refuses connections', async () => {
      const port = await freePort(); // bound and released: nothing listens on it
      const store = new MysqlConnectionStore({ ...mysqlSettings('x_'), port }, { connectTimeoutMs: 1_000 });
      const started = Date.now();
      const error = await store.list(1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).message).toMatch(/ECONNREFUSED/);
      expect(Date.now() - started).toBeLessThan(5_000);
      await store.close();
    });

    it('gives a typed error within the connect timeout when the server never answers', async () => {
      // A server that accepts TCP but never speaks MySQL: the handshake must time out, not hang.
      const sockets: Socket[] = [];
      const server = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const store = new MysqlConnectionStore({ ...mysqlSettings('x_'), port }, { connectTimeoutMs: 1_000 });
      const started = Date.now();
      const error = await store.list(1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(Date.now() - started).toBeLessThan(5_000);
      await store.close();
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => server.close(resolve));
    });
  });
});
