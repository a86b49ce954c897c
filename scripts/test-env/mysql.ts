/**
 * The MySQL server the MySQL suites use: the one at TEST_MYSQL_URL (default: the machine's
 * MariaDB at 127.0.0.1:3306) when it answers, used as it is; else a MariaDB started here
 * from the mariadbd binary, on a free loopback port with a temporary datadir, gone with
 * its datadir when the run ends (test/support/stand-ins/mariadb.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { Connection } from 'mysql2/promise';
import { mysqlFromUrl } from '../../src/config';
import { withTimeout } from '../../src/timeout';
import { driverOptions } from '../../test/support/harnesses/mysql';
import { redact } from '../local';
import { findMariadbd, installDatadir, MARIADB_PACKAGE, startMariadb } from '../../test/support/stand-ins/mariadb';
import type { Piece, Status } from './pieces';

/** The suites' default (test/support/harnesses/mysql.ts). */
export const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306/test';

/** A server that accepts the connection and then says nothing is not one that answers. */
const PROBE_MS = 10_000;

async function connect(options: Parameters<typeof createConnection>[0] & object): Promise<Connection> {
  let pending: Connection | undefined;
  const opening = createConnection({ ...options, connectTimeout: PROBE_MS }).then(
    (connection) => (pending = connection),
  );
  return withTimeout(opening, PROBE_MS, () => {
    pending?.destroy();
    return new Error(`no answer within ${PROBE_MS / 1000} s`);
  });
}

async function query(connection: Connection, sql: string): Promise<void> {
  await withTimeout(connection.query(sql), PROBE_MS, () => {
    connection.destroy();
    return new Error(`no answer to ${sql} within ${PROBE_MS / 1000} s`);
  });
}

/**
 * Whether the server at `url` answers a query in its database; a missing database is
 * created (the suites make their own tables in it), as CI has always done with `test`.
 */
export async function probe(url: string): Promise<void> {
  const options = driverOptions(mysqlFromUrl(url, ''));
  let connection: Connection;
  try {
    connection = await connect(options);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ER_BAD_DB_ERROR') throw error;
    const server = await connect({ ...options, database: undefined });
    try {
      await query(server, `CREATE DATABASE IF NOT EXISTS \`${options.database.replace(/`/g, '``')}\``);
    } finally {
      server.destroy();
    }
    connection = await connect(options);
  }
  try {
    await query(connection, 'SELECT 1');
  } finally {
    connection.destroy();
  }
}

function reasonOf(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  return code && !message?.includes(code) ? `${code}: ${message}` : (message ?? String(error));
}

/**
 * A MariaDB of our own: system tables by mariadb-install-db (the suites create users and
 * rotate their passwords, so no --skip-grant-tables), root without a password on
 * 127.0.0.1 only, database `test`.
 */
export async function startOwnMariadb(mariadbd: string): Promise<{ url: string; dir: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ws-test-mariadb-'));
  try {
    const server = await startMariadb(mariadbd, dir, {
      initialise: () => installDatadir(mariadbd, dir),
      removeDir: true,
      extraArgs: ['--innodb-buffer-pool-size=64M'],
      timeoutMs: 60_000,
    });
    const url = `mysql://root@127.0.0.1:${server.port}/test`;
    try {
      await probe(url);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return { url, dir, stop: server.stop };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export const mysql: Piece = {
  skips: 'the MySQL suites',
  skipSwitch: 'SKIP_MYSQL_TESTS',
  async bringUp(env): Promise<Status> {
    const url = env.TEST_MYSQL_URL || DEFAULT_MYSQL_URL;
    let why: string;
    try {
      await probe(url);
      return { ready: true, note: `${redact(url, 'TEST_MYSQL_URL')} answers` };
    } catch (error) {
      why = `nothing answers ${redact(url, 'TEST_MYSQL_URL')} (${reasonOf(error)})`;
    }
    const mariadbd = findMariadbd(env);
    if (mariadbd === undefined) {
      return {
        ready: false,
        reason: `${why}, and no mariadbd to start one`,
        packages: { apt: [MARIADB_PACKAGE] },
        otherwise: 'set TEST_MYSQL_URL',
      };
    }
    try {
      const own = await startOwnMariadb(mariadbd);
      return {
        ready: true,
        note: `${why}; started ${mariadbd} at ${own.url} in ${own.dir} (removed afterwards)`,
        env: { TEST_MYSQL_URL: own.url },
        stop: own.stop,
      };
    } catch (error) {
      return {
        ready: false,
        reason: `${why}, and ${mariadbd} did not start: ${reasonOf(error).split('\n')[0]}`,
        otherwise: 'set TEST_MYSQL_URL',
      };
    }
  },
};
