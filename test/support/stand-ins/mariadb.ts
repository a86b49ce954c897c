/**
 * A throw-away MariaDB server: mariadbd on a free loopback port with its own datadir,
 * socket and pid file under a directory the caller owns. Never the shared server on 3306.
 * The TLS test (tls-mariadb.ts) starts one with certificates; `npm test`
 * (scripts/test-env.ts) starts one with real grant tables when no server answers.
 *
 * mariadbd runs under a small shell keeper, in a process group of its own: a Ctrl-C in the
 * terminal reaches the process that started it (which then stops it in order), not the
 * server, and when that process dies in any way, even by SIGKILL, the keeper's stdin
 * closes and it stops the server and removes what it was asked to. mariadbd itself ignores
 * SIGINT and would otherwise outlive its test run.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { freePort } from '../harnesses/offline';

export const MARIADB_PACKAGE = 'mariadb-server';

/**
 * Where mariadbd is: MARIADBD_PATH when set (and only there: an empty or wrong value means
 * none), else the first `mariadbd` or `mysqld` on PATH or in the sbin folders packages use.
 */
export function findMariadbd(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MARIADBD_PATH !== undefined) return existsSync(env.MARIADBD_PATH) ? env.MARIADBD_PATH : undefined;
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/mysql/bin'];
  for (const dir of dirs) {
    for (const name of ['mariadbd', 'mysqld']) {
      const candidate = join(dir, name);
      if (dir !== '' && existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/** The installation a mariadbd belongs to (`/usr` for `/usr/sbin/mariadbd`, `/opt/mariadb` for `/opt/mariadb/bin/mariadbd`). */
export function basedirOf(mariadbd: string): string {
  return dirname(dirname(mariadbd));
}

/**
 * mariadb-install-db of the same installation (beside mariadbd, in its bin or scripts
 * folder, else on PATH), which creates the system tables: users, grants.
 */
export function findInstallDb(mariadbd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = basedirOf(mariadbd);
  const dirs = [dirname(mariadbd), join(base, 'bin'), join(base, 'scripts'), ...(env.PATH ?? '').split(delimiter)];
  for (const dir of dirs) {
    for (const name of ['mariadb-install-db', 'mysql_install_db']) {
      const candidate = join(dir, name);
      if (dir !== '' && existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Options both kinds of server share: small, loopback only, nothing read from the machine's my.cnf. */
export function serverOptions(dir: string): string[] {
  const options = [
    '--no-defaults',
    `--datadir=${join(dir, 'data')}`,
    '--bind-address=127.0.0.1',
    `--socket=${join(dir, 'mariadb.sock')}`,
    `--pid-file=${join(dir, 'mariadb.pid')}`,
    '--skip-name-resolve',
    '--innodb-log-file-size=4M',
  ];
  // mariadbd refuses to run as root unless told to; a non-root user runs it as itself.
  if (process.getuid?.() === 0) options.push('--user=root');
  return options;
}

/** Creates the system tables in `dir`/data, with a root that needs no password (loopback only). */
export async function installDatadir(mariadbd: string, dir: string, timeoutMs = 120_000): Promise<void> {
  const installDb = findInstallDb(mariadbd);
  if (installDb === undefined) throw new Error(`no mariadb-install-db beside ${mariadbd} or on PATH`);
  const args = [
    ...serverOptions(dir).filter((option) => !option.startsWith('--bind-address') && !option.startsWith('--socket')),
    `--basedir=${basedirOf(mariadbd)}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
  ];
  await new Promise<void>((resolve, reject) => {
    execFile(installDb, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      // Its own text is pages of advice; the server's [ERROR] lines say what went wrong.
      const errors = `${stdout}${stderr}`.split('\n').filter((line) => line.includes('[ERROR]'));
      if (error) reject(new Error(`${installDb} failed: ${errors.join(' ') || error.message}`));
      else resolve();
    });
  });
}

export interface MariadbServer {
  port: number;
  /** Stops the server (SIGTERM, SIGKILL after 10 s) and resolves once it is gone (and its folder, if asked). */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Options beyond serverOptions(dir) and the port. */
  extraArgs?: readonly string[];
  /** Fills `dir`/data before each attempt (an attempt that fails may have removed it). */
  initialise?: () => Promise<void>;
  /** Remove `dir` once the server has exited, however it came to exit. */
  removeDir?: boolean;
  timeoutMs?: number;
}

/**
 * The keeper. Arguments: the folder to remove afterwards ('' for none), mariadbd, its
 * options. Its stdin is a socket held only by the process that started it; EOF on it (a
 * stop(), or that process gone) stops the server. A background job's stdin is /dev/null
 * unless redirected, hence fd 3.
 */
const KEEPER = `
trap '' INT HUP
dir=$1; shift
"$@" </dev/null &
server=$!
exec 3<&0
( read -r _ <&3; kill -TERM "$server" 2>/dev/null; i=0
  while kill -0 "$server" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -eq 100 ] && kill -KILL "$server" 2>/dev/null; sleep 0.1
  done ) &
watcher=$!
wait "$server"; status=$?
kill "$watcher" 2>/dev/null
[ -n "$dir" ] && rm -rf "$dir"
exit "$status"
`;

/**
 * Starts mariadbd with serverOptions(dir) on a free loopback port and waits (at most
 * `timeoutMs`) until it accepts connections. `dir`/data must exist once `initialise` has run
 * (empty, or made by installDatadir). A port taken between choosing and binding is retried
 * with another.
 */
export async function startMariadb(mariadbd: string, dir: string, options: StartOptions = {}): Promise<MariadbServer> {
  for (let attempt = 1; ; attempt++) {
    await options.initialise?.();
    try {
      return await startOnce(mariadbd, dir, await freePort(), options);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt === 3) throw error;
    }
  }
}

class PortTakenError extends Error {
  override readonly name = 'PortTakenError';
}

async function startOnce(mariadbd: string, dir: string, port: number, options: StartOptions): Promise<MariadbServer> {
  const { extraArgs = [], removeDir = false, timeoutMs = 30_000 } = options;
  const args = [...serverOptions(dir), `--port=${port}`, ...extraArgs];
  const keeper: ChildProcess = spawn('sh', ['-c', KEEPER, 'mariadb-keeper', removeDir ? dir : '', mariadbd, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  keeper.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  keeper.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => keeper.once('exit', () => resolve()));
  const gone = () => keeper.exitCode !== null || keeper.signalCode !== null;

  const stop = async (): Promise<void> => {
    keeper.stdin?.end();
    if (!gone()) await exited;
  };

  const deadline = Date.now() + timeoutMs;
  while (!output.includes('ready for connections')) {
    if (gone()) {
      await stop();
      if (output.includes('Address already in use')) throw new PortTakenError(output);
      throw new Error(`mariadbd exited before it was ready:\n${output}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`mariadbd was not ready within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, stop };
}
