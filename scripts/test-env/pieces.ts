/**
 * What the suites need beyond `npm ci`, one piece each: how to tell that it is there, what
 * installs it, and the switch the suites already read to skip what needs it. The MySQL
 * server is in mysql.ts; this file has the binaries.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { findMariadbd, MARIADB_PACKAGE } from '../../test/support/stand-ins/mariadb';
import type { Packages } from './install';
import { which } from './install';

export type Env = Record<string, string>;

export type Status =
  | {
      ready: true;
      /** What was found or started, for its line. */
      note: string;
      /** What the suites must be given to use it. */
      env?: Env;
      /** Stops what was started for the run. */
      stop?: () => Promise<void>;
    }
  | {
      ready: false;
      /** Why not, for the skip line. */
      reason: string;
      /** What would make it ready, when installing may. */
      packages?: Packages;
      /** Another way than installing (a setting), for the skip line: "set CHROMIUM_PATH". */
      otherwise?: string;
    };

export interface Piece {
  /** What the skip line says is skipped: "the browser suite". */
  skips: string;
  /** The switch the suites read, set to 1 to skip. */
  skipSwitch: string;
  /** The switch of the piece this one belongs to (the TLS test is a MySQL suite): skipped with it, no line of its own. */
  after?: string;
  bringUp(env: NodeJS.ProcessEnv): Promise<Status>;
}

/** Runs `command args` and returns its first line of output, or why it could not. */
export function firstLine(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, timeout: 30_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${(stderr || error.message).trim().split('\n')[0]}`));
      else resolve(`${stdout}${stderr}`.trim().split('\n')[0] ?? '');
    });
  });
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Debian's place, the browser harness's default (test/support/harnesses/browser.ts). */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export const chromium: Piece = {
  skips: 'the browser suite',
  skipSwitch: 'SKIP_BROWSER_TESTS',
  async bringUp(env): Promise<Status> {
    // A CHROMIUM_PATH that was set is the one to use (the harness uses nothing else): installing
    // Debian's would not change what the tests run.
    const chosen = env.CHROMIUM_PATH || undefined;
    const path = chosen ?? DEFAULT_CHROMIUM;
    const fix = chosen
      ? { otherwise: 'point CHROMIUM_PATH at a Chromium, or unset it' }
      : { packages: { apt: ['chromium'] }, otherwise: 'set CHROMIUM_PATH' };
    const name = chosen ? `CHROMIUM_PATH=${chosen}` : path;
    if (!executable(path)) return { ready: false, reason: `${name} is not an executable`, ...fix };
    try {
      return { ready: true, note: `${path} (${await firstLine(path, ['--version'], env)})` };
    } catch (error) {
      return { ready: false, reason: `${name} does not run: ${(error as Error).message}`, ...fix };
    }
  },
};

export const cfnLint: Piece = {
  skips: 'the cfn-lint check of the deploy suite',
  skipSwitch: 'SKIP_CFN_LINT',
  async bringUp(env): Promise<Status> {
    const packages = { pip: ['cfn-lint'] };
    if (which('cfn-lint', env) === undefined) return { ready: false, reason: 'cfn-lint is not on PATH', packages };
    try {
      const version = await firstLine('cfn-lint', ['--version'], env);
      // The accepted findings (test/deploy/cfn-lint-accepted.yml) are 1.x's rule ids.
      if (!/^cfn-lint [1-9]\d*\./.test(version)) {
        return { ready: false, reason: `${version} is not 1.x`, packages: { pip: ['--upgrade', 'cfn-lint'] } };
      }
      return { ready: true, note: version };
    } catch (error) {
      return { ready: false, reason: (error as Error).message, packages };
    }
  },
};

/** test/integration/mysql-tls.test.ts starts a server of its own, with certificates it makes. */
export const mysqlTls: Piece = {
  skips: 'the MySQL TLS test',
  skipSwitch: 'SKIP_MYSQL_TLS_TEST',
  after: 'SKIP_MYSQL_TESTS',
  async bringUp(env): Promise<Status> {
    const mariadbd = findMariadbd(env);
    const openssl = which('openssl', env);
    if (mariadbd && openssl) return { ready: true, note: `${mariadbd}, ${openssl}` };
    const missing = [mariadbd ? [] : ['mariadbd'], openssl ? [] : ['openssl']].flat();
    return {
      ready: false,
      reason: `it starts a MariaDB of its own and needs ${missing.join(' and ')} on this machine`,
      packages: { apt: [...(mariadbd ? [] : [MARIADB_PACKAGE]), ...(openssl ? [] : ['openssl'])] },
      otherwise: mariadbd ? undefined : 'set MARIADBD_PATH',
    };
  },
};
