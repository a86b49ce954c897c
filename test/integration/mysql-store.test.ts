import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { createConnection } from 'mysql2/promise';
import type { Connection as MysqlConnection } from 'mysql2/promise';
import { MysqlConnectionStore, SUBJECT_INDEX, tableNames } from '../../src/data';
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

  describe('MySQL subject index (direct messages)', () => {
    let db: MysqlConnection;
    let prefix: string;
    const stores: MysqlConnectionStore[] = [];

    beforeEach(async () => {
      const settings = mysqlSettings('');
      db = await createConnection({ ...settings, connectTimeout: 2_000 });
      prefix = uniquePrefix('idx');
    });

    afterEach(async () => {
      await stores[0]?.dropTables();
      await Promise.all(stores.splice(0).map((store) => store.close()));
      await db.end();
    });

    function open(): MysqlConnectionStore {
      const store = new MysqlConnectionStore(mysqlSettings(prefix));
      stores.push(store);
      return store;
    }

    async function subjectIndexes(): Promise<number> {
      const [rows] = await db.query(
        `SELECT COUNT(DISTINCT index_name) AS n FROM information_schema.statistics
         WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?`,
        [tableNames(prefix).connections, SUBJECT_INDEX],
      );
      return Number((rows as { n: number }[])[0]?.n);
    }

    it('adds the index to a table created before it existed, keeps its rows, and does so once under racing cold starts', async () => {
      const { connections, members } = tableNames(prefix);
      // The schema as the previous release created it.
      await db.query(`CREATE TABLE \`${connections}\` (
        connection_id VARCHAR(128) NOT NULL, connected_at BIGINT NOT NULL, subject VARCHAR(255) NULL,
        PRIMARY KEY (connection_id), KEY idx_connected_at (connected_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await db.query(`CREATE TABLE \`${members}\` (
        room VARCHAR(64) NOT NULL, connection_id VARCHAR(128) NOT NULL,
        PRIMARY KEY (room, connection_id), KEY idx_member_connection (connection_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await db.query(`INSERT INTO \`${connections}\` VALUES ('old-1', 1, 'alice'), ('old-2', 2, 'bob')`);
      expect(await subjectIndexes()).toBe(0);

      // Four containers starting at once: each looks for the index, some may race to add it.
      const found = await Promise.all([open(), open(), open(), open()].map((store) => store.connectionsOf('alice')));
      expect(found).toEqual([['old-1'], ['old-1'], ['old-1'], ['old-1']]);
      expect(await subjectIndexes()).toBe(1);

      // A later cold start finds it there and changes nothing.
      expect(await open().connectionsOf('bob')).toEqual(['old-2']);
      expect(await subjectIndexes()).toBe(1);
    });

    it("finds a user's connections through the index", async () => {
      const store = open();
      for (let i = 0; i < 50; i++) await store.add({ connectionId: `c${i}`, connectedAt: i, subject: `user${i % 10}` });
      const [plan] = await db.query(
        `EXPLAIN SELECT connection_id FROM \`${tableNames(prefix).connections}\`
         WHERE subject = ? AND CAST(subject AS BINARY) = CAST(? AS BINARY)`,
        ['user3', 'user3'],
      );
      expect((plan as { key: string | null }[])[0]?.key).toBe(SUBJECT_INDEX);
    });
  });

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
