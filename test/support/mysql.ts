/** Settings of the MySQL server the integration and end-to-end tests use. */
import type { MysqlSettings } from '../../src/config';
import { mysqlFromUrl } from '../../src/config';

/** TEST_MYSQL_URL, default root@127.0.0.1:3306/test (the machine's MariaDB). */
export const MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** Skipping MySQL suites is allowed only when asked for explicitly. */
export const SKIP_MYSQL = process.env.SKIP_MYSQL_TESTS === '1';

export const HOW_TO_START =
  'MySQL is not reachable at ' +
  MYSQL_URL +
  '. Start MariaDB with `start-stop-daemon --start --oknodo --background --chuid mysql --exec /usr/sbin/mariadbd`, ' +
  'point TEST_MYSQL_URL at another server, or set SKIP_MYSQL_TESTS=1 to skip these tests.';

export function mysqlSettings(tablePrefix: string): MysqlSettings {
  return mysqlFromUrl(MYSQL_URL, tablePrefix);
}

/** A table prefix of its own per test run, so parallel runs do not collide. */
export function uniquePrefix(label: string): string {
  return `t_${label}_${process.pid}_${Date.now().toString(36)}_`;
}
