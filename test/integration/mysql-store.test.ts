import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { createConnection } from 'mysql2/promise';
import type { Connection as MysqlConnection } from 'mysql2/promise';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { SUBJECT_INDEX, tableNames } from '../../src/store/types';
import { StoreError } from '../../src/errors';
import { readHistory } from '../../src/chat/history';
import { MAX_MESSAGE_BYTES } from '../../src/chat/protocol';
import { DEFAULT_HISTORY } from '../../src/config';
import { freePort } from '../support/harnesses/offline';
import {
  driverOptions,
  mysqlSettings,
  MysqlUnreachableError,
  SKIP_MYSQL,
  uniquePrefix,
} from '../support/harnesses/mysql';
import { startTcpProxy } from '../support/stand-ins/tcp-proxy';
import type { TcpProxy } from '../support/stand-ins/tcp-proxy';
import { storeContract } from './store-contract';
import { shardStoreContract } from './shard-store-contract';
import { identifierContract } from './identifier-contract';
import { historyReadContract } from './history-read-contract';
import { userPresenceContract } from './user-presence-contract';

const suite = SKIP_MYSQL ? describe.skip : describe;

suite('MySQL', () => {
  beforeAll(async () => {
    const probe = new MysqlConnectionStore(mysqlSettings(uniquePrefix('probe')), { connectTimeoutMs: 2_000 });
    try {
      await probe.list(1);
      await probe.dropTables();
    } catch (error) {
      throw new MysqlUnreachableError(error);
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
  shardStoreContract(
    'MySQL',
    async () => open(uniquePrefix(`s${n++}`)),
    (store) => open(prefixes.get(store) as string),
  );
  identifierContract('MySQL', async () => open(uniquePrefix(`i${n++}`)));
  historyReadContract('MySQL', async () => open(uniquePrefix(`h${n++}`)));
  userPresenceContract('MySQL', async () => open(uniquePrefix(`u${n++}`)));

  describe('MySQL subject index (direct messages)', () => {
    let db: MysqlConnection;
    let prefix: string;
    const stores: MysqlConnectionStore[] = [];

    beforeEach(async () => {
      db = await createConnection({ ...driverOptions(mysqlSettings('')), connectTimeout: 2_000 });
      prefix = uniquePrefix('idx');
    });

    afterEach(async () => {
      await stores[0]?.dropTables();
      await Promise.all(stores.splice(0).map((store) => store.close()));
      // undefined when the suite's server check failed (that failure is the message).
      await db?.end();
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

    it('adds the presence table beside a schema made before it, whose memberships hear no presence until they join again', async () => {
      const { connections, members } = tableNames(prefix);
      // The schema and a membership as the previous release left them: no presence table.
      await db.query(`CREATE TABLE \`${connections}\` (
        connection_id VARCHAR(128) NOT NULL, connected_at BIGINT NOT NULL, subject VARCHAR(255) NULL,
        PRIMARY KEY (connection_id), KEY idx_connected_at (connected_at), KEY ${SUBJECT_INDEX} (subject)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await db.query(`CREATE TABLE \`${members}\` (
        room VARCHAR(64) NOT NULL, connection_id VARCHAR(128) NOT NULL,
        PRIMARY KEY (room, connection_id), KEY idx_member_connection (connection_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await db.query(`INSERT INTO \`${connections}\` VALUES ('old-1', 1, 'alice'), ('new-1', 2, 'bob')`);
      await db.query(`INSERT INTO \`${members}\` VALUES ('red', 'old-1')`);

      const store = open();
      expect(await store.join('new-1', 'red', 50, true)).toBe('joined');
      expect(await store.presencePage('red', 10)).toEqual({
        count: 2,
        members: [
          { connectionId: 'old-1', seesPresence: false },
          { connectionId: 'new-1', seesPresence: true },
        ],
      });
      await store.leave('old-1', 'red');
      expect(await store.join('old-1', 'red', 50, true)).toBe('joined');
      expect((await store.presencePage('red', 10)).members.every((member) => member.seesPresence)).toBe(true);
    });

    it("finds a user's connections through the index", async () => {
      const store = open();
      for (let i = 0; i < 50; i++) await store.add({ connectionId: `c${i}`, connectedAt: i, subject: `user${i % 10}` });
      const [plan] = await db.query(
        `EXPLAIN SELECT connection_id FROM \`${tableNames(prefix).connections}\` WHERE subject = ?`,
        ['user3'],
      );
      expect((plan as { key: string | null }[])[0]?.key).toBe(SUBJECT_INDEX);
    });
  });

  describe('MySQL store failures', () => {
    it('a join stuck behind another transaction fails with a typed error, holds nothing, and the next join works', async () => {
      const settings = mysqlSettings(uniquePrefix('tx'));
      const store = new MysqlConnectionStore(settings, { operationTimeoutMs: 1_000 });
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
        // The join is one procedure, which the server runs on after its caller left: its own
        // lock wait ends within the caller's budget, so it gives up on the server too.
        const running = async () => {
          // The procedure's statement waiting for the row (a statement in a procedure shows as itself).
          const [rows] = await blocker.query(
            `SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX
             WHERE trx_state = 'LOCK WAIT' AND trx_query LIKE ? AND trx_mysql_thread_id <> CONNECTION_ID()`,
            [`%${settings.tablePrefix}connections%FOR UPDATE%`],
          );
          return Number((rows as { n: number }[])[0]?.n);
        };
        for (let i = 0; i < 100 && (await running()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
        expect(await running()).toBe(0);
        await blocker.query('COMMIT');
        // The failed join's connection was closed and its procedure undone, so nothing of it
        // lingers: the same store connects again, and the join (and others' joins) go through.
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
  /**
   * A database that accepts TCP and never answers, through a loopback proxy
   * to the real server. Production timeouts (MYSQL_TIMEOUTS); the bounds asserted are half of
   * `$connect`'s 10 s function timeout, generous against the 2-3 s expected.
   */
  describe('a silent database', () => {
    const HALF_OF_CONNECT_TIMEOUT = 5_000;
    let proxy: TcpProxy;
    let store: MysqlConnectionStore;
    const prefix = uniquePrefix('silent');

    beforeEach(async () => {
      proxy = await startTcpProxy({ host: mysqlSettings('').host, port: mysqlSettings('').port });
      store = new MysqlConnectionStore({ ...mysqlSettings(prefix), port: proxy.port });
    });

    afterEach(async () => {
      if (proxy === undefined) return; // the suite's server check failed: that is the message
      proxy.setMode('pass');
      await store.dropTables().catch(() => undefined);
      await store.close();
      await proxy.close();
    });

    async function timed<T>(work: Promise<T>): Promise<{ ms: number; error: unknown }> {
      const started = Date.now();
      const error = await work.then(
        () => undefined,
        (e: unknown) => e,
      );
      return { ms: Date.now() - started, error };
    }

    /**
     * TCP sockets this process holds open. The proxy keeps its own (a silent server never
     * closes its side), so a store that only half-closes a stalled connection keeps one more.
     */
    const openSockets = () => process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;

    async function eventually(check: () => boolean, timeoutMs = 2_000): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      return check();
    }

    it('fails a first statement with a StoreError after one connect attempt, within the connect timeout', async () => {
      proxy.setMode('silent');
      const { ms, error } = await timed(store.list(1));
      expect(error).toBeInstanceOf(StoreError);
      expect(((error as StoreError).cause as { code?: string }).code).toBe('ETIMEDOUT');
      expect(ms).toBeLessThan(HALF_OF_CONNECT_TIMEOUT); // was 20 s: four attempts of 5 s
      expect(proxy.accepted()).toBe(1);
    }, 60_000);

    it('fails the next statement the same way: one attempt again, as fast', async () => {
      proxy.setMode('silent');
      await timed(store.list(1));
      const { ms, error } = await timed(store.list(1));
      expect(error).toBeInstanceOf(StoreError);
      expect(ms).toBeLessThan(HALF_OF_CONNECT_TIMEOUT);
      expect(proxy.accepted()).toBe(2);
    }, 60_000);

    it('fails a statement on a kept connection that stalls within the operation budget, and destroys its socket', async () => {
      await store.list(1);
      const before = openSockets();
      proxy.setMode('silent');
      const { ms, error } = await timed(store.list(1));
      expect(error).toBeInstanceOf(StoreError);
      expect(((error as StoreError).cause as { code?: string }).code).toBe('STORE_TIMEOUT');
      expect(ms).toBeLessThan(HALF_OF_CONNECT_TIMEOUT); // was 10 s (the query timeout)
      // Not a half-close that a silent server never completes: the socket is gone.
      expect(await eventually(() => openSockets() === before - 1)).toBe(true);
    }, 60_000);

    it('bounds end() after a stall, with a StoreError, and destroys the connection', async () => {
      await store.list(1);
      const before = openSockets();
      proxy.setMode('silent');
      const ended = timed(store.end());
      const { ms, error } = await Promise.race([
        ended,
        new Promise<{ ms: number; error: unknown }>((resolve) =>
          setTimeout(() => resolve({ ms: Infinity, error: 'still pending' }), 15_000),
        ),
      ]);
      expect(error).toBeInstanceOf(StoreError); // was: never settled (queries with no timeout)
      expect(ms).toBeLessThan(HALF_OF_CONNECT_TIMEOUT);
      expect(await eventually(() => openSockets() === before - 1)).toBe(true);
    }, 60_000);

    it('works again once the database answers', async () => {
      await store.list(1);
      proxy.setMode('silent');
      await timed(store.list(1));
      proxy.setMode('pass');
      expect(await store.list(1)).toEqual({ count: 0, connections: [] });
    }, 60_000);

    it('fails fast with a StoreError when the database drops every connection', async () => {
      await store.list(1);
      proxy.setMode('drop');
      const { ms, error } = await timed(store.list(1));
      expect(error).toBeInstanceOf(StoreError);
      expect(ms).toBeLessThan(HALF_OF_CONNECT_TIMEOUT);
    }, 60_000);

    it('retries "Too many connections" with backoff, and connects once a slot is free', async () => {
      proxy.setMode('full');
      const listing = store.list(1);
      setTimeout(() => proxy.setMode('pass'), 300);
      expect(await listing).toEqual({ count: 0, connections: [] });
      expect(proxy.accepted()).toBeGreaterThan(1);
    }, 60_000);

    it('gives up on "Too many connections" within the operation budget', async () => {
      proxy.setMode('full');
      const { ms, error } = await timed(store.list(1));
      expect(((error as StoreError).cause as { code?: string }).code).toBe('ER_CON_COUNT_ERROR');
      expect(ms).toBeLessThan(HALF_OF_CONNECT_TIMEOUT);
    }, 60_000);

    it('reports the refusals, not a timeout, when the budget ends during a slow "Too many connections"', async () => {
      // A busy server that takes 450 ms to refuse, and no jitter: the attempt that starts with
      // less than 450 ms of the 3 s budget left is cut short by the deadline before its answer.
      // What made the operation fail is the refusals; was: the cut-short attempt's ETIMEDOUT.
      const random = jest.spyOn(Math, 'random').mockReturnValue(0);
      try {
        proxy.setRefusalDelay(450);
        proxy.setMode('full');
        const { ms, error } = await timed(store.list(1));
        expect(error).toBeInstanceOf(StoreError);
        expect(((error as StoreError).cause as { code?: string }).code).toBe('ER_CON_COUNT_ERROR');
        expect(ms).toBeLessThan(HALF_OF_CONNECT_TIMEOUT);
        expect(proxy.accepted()).toBeGreaterThan(3);
      } finally {
        random.mockRestore();
        proxy.setRefusalDelay(0);
      }
    }, 60_000);
  });

  /** What one `history` answer costs the connection, counted on the wire by the proxy. */
  describe('a history read on the wire', () => {
    let proxy: TcpProxy;
    let store: MysqlConnectionStore;

    beforeEach(async () => {
      proxy = await startTcpProxy({ host: mysqlSettings('').host, port: mysqlSettings('').port });
      store = new MysqlConnectionStore({ ...mysqlSettings(uniquePrefix('wire')), port: proxy.port });
    });

    afterEach(async () => {
      if (proxy === undefined) return; // the suite's server check failed: that is the message
      await store.dropTables();
      await store.close();
      await proxy.close();
    });

    it("of 40 messages of 100 KB brings one answer's worth (128 KB) from the server in one query, not the 4 MB kept", async () => {
      for (let i = 0; i < 40; i++) {
        const body = JSON.stringify({ type: 'message', id: `m${i}`, room: 'big', data: 'x'.repeat(100_000) });
        await store.appendToRoom('big', { id: `m${i}`, sentAt: Date.now(), body });
      }
      proxy.resetBytes();
      proxy.resetCommands();
      const answer = await readHistory(store, { room: 'big', after: 0, limit: 1_000 }, DEFAULT_HISTORY);
      expect(answer.count).toBe(1);
      expect(JSON.parse(answer.text)).toMatchObject({ latest: 40, more: true, gap: false });
      expect(proxy.commands.map((c) => c.command)).toEqual(['query']);
      // the one message's 100 KB and the protocol around it (was 4 MB: every message, cut in JavaScript)
      expect(proxy.bytesFromServer()).toBeGreaterThan(100_000);
      expect(proxy.bytesFromServer()).toBeLessThan(MAX_MESSAGE_BYTES);
    });
  });

  /** Item 11: what end() sends, counted on the wire (the proxy reads the MySQL protocol). */
  describe('connection management in end()', () => {
    let proxy: TcpProxy;
    const prefix = uniquePrefix('manage');

    beforeEach(async () => {
      proxy = await startTcpProxy({ host: mysqlSettings('').host, port: mysqlSettings('').port });
    });

    afterEach(async () => {
      await proxy?.close();
    });

    it('counts the connections at its first end(), and sends nothing while the next check is not due', async () => {
      const store = new MysqlConnectionStore({ ...mysqlSettings(prefix), port: proxy.port });
      try {
        await store.list(1);
        proxy.resetCommands();
        await store.end();
        expect(proxy.commands).toEqual([
          { command: 'query', sql: expect.stringMatching(/information_schema\.PROCESSLIST/) },
        ]);
        proxy.resetCommands();
        await store.list(1);
        await store.end();
        // was: a processlist count in every end() (usedConnsFreq 0), after a max_connections query
        expect(proxy.commands.map((c) => c.sql)).toEqual([
          expect.stringMatching(/^SELECT COUNT\(\*\) AS n/),
          expect.stringMatching(/^SELECT connection_id/),
        ]);
      } finally {
        await store.dropTables();
        await store.close();
      }
    });

    it('gives its own connection back when the server holds more than 80% of DB_MAX_CONNECTIONS', async () => {
      // Budget 1: any server with this test's connection and one more is over it.
      const store = new MysqlConnectionStore({ ...mysqlSettings(prefix), port: proxy.port, maxConnections: 1 });
      try {
        await store.list(1);
        proxy.resetCommands();
        await store.end();
        await new Promise((resolve) => setTimeout(resolve, 200)); // the COM_QUIT crosses the proxy
        expect(proxy.commands.map((c) => c.command)).toEqual(['query', 'quit']);
        expect(proxy.openConnections()).toBe(0);
        await store.list(1); // connects again
        expect(proxy.accepted()).toBe(2);
      } finally {
        await store.dropTables();
        await store.close();
      }
    });
  });
});
