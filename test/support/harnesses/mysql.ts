/** Settings of the MySQL server the integration and end-to-end tests use. */
import type { MysqlSettings } from '../../../src/config';
import { mysqlFromUrl } from '../../../src/config';
import { createConnection } from 'mysql2/promise';

/** TEST_MYSQL_URL, default root@127.0.0.1:3306/test (the machine's MariaDB). */
export const MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** Skipping MySQL suites is allowed only when asked for explicitly. */
export const SKIP_MYSQL = process.env.SKIP_MYSQL_TESTS === '1';

export const HOW_TO_START =
  'MySQL is not reachable at ' +
  MYSQL_URL +
  '. Run the tests through `npm test` (it starts a MariaDB of its own when mariadbd is installed), ' +
  'start the server, point TEST_MYSQL_URL at another one, or set SKIP_MYSQL_TESTS=1 to skip these tests.';

/**
 * Thrown by a MySQL suite's first hook when the server does not answer. Jest repeats a
 * failed beforeAll's error for every test of the suite, so the message says all there is
 * (what failed, how to start a server) and there is no stack or cause to read past.
 */
export class MysqlUnreachableError extends Error {
  override readonly name = 'MysqlUnreachableError';
  constructor(reason: unknown) {
    super(`${HOW_TO_START} (${reason instanceof Error ? reason.message : String(reason)})`);
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** What mysql2 itself takes from the store's settings (the rest, e.g. tablePrefix, is the store's own). */
export function driverOptions(settings: MysqlSettings): {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
} {
  const { host, port, user, password, database } = settings;
  return { host, port, user, password, database };
}

export function mysqlSettings(tablePrefix: string): MysqlSettings {
  return mysqlFromUrl(MYSQL_URL, tablePrefix);
}

/** A table prefix of its own per test run, so parallel runs do not collide. */
export function uniquePrefix(label: string): string {
  return `t_${label}_${process.pid}_${Date.now().toString(36)}_`;
}

/**
 * A MySQL user of this run only, with every right on the test database, whose password a test
 * changes (a rotation); dropped at the end, so the shared server's users stay as they were.
 * Each statement runs as the URL's user (root) on a connection of its own.
 */
export interface TestUser {
  name: string;
  /** Creates the user; MysqlUnreachableError when the server does not answer. */
  create(password: string): Promise<void>;
  /** ALTER USER: what a rotation does on the server. */
  setPassword(password: string): Promise<void>;
  drop(): Promise<void>;
}

export function testUser(label: string): TestUser {
  const root = mysqlSettings('');
  const name = `${label}_${process.pid}_${Date.now().toString(36)}`.slice(0, 32);
  const asRoot = async (sql: string) => {
    const admin = await createConnection({ ...driverOptions(root), connectTimeout: 2_000 });
    try {
      await admin.query(sql);
    } finally {
      await admin.end();
    }
  };
  return {
    name,
    async create(password) {
      try {
        await asRoot(`CREATE USER '${name}'@'%' IDENTIFIED BY '${password}'`);
      } catch (error) {
        throw new MysqlUnreachableError(error);
      }
      await asRoot(`GRANT ALL ON \`${root.database}\`.* TO '${name}'@'%'`);
    },
    setPassword: (password) => asRoot(`ALTER USER '${name}'@'%' IDENTIFIED BY '${password}'`),
    drop: () => asRoot(`DROP USER IF EXISTS '${name}'@'%'`),
  };
}
