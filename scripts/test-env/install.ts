/**
 * What `npm test` may install, and how. It installs only when asked: TEST_ENV_INSTALL=1
 * (`.ci/run` sets it). Debian packages then come from apt-get, as root only (never sudo: a
 * password prompt in the middle of a test run helps nobody), and cfn-lint from pip. Without
 * the opt-in nothing is installed, on a developer's laptop least of all: the line for each
 * missing piece names the command instead.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Packages {
  apt?: readonly string[];
  pip?: readonly string[];
}

export interface InstallPolicy {
  /** TEST_ENV_INSTALL=1. */
  allowed: boolean;
  root: boolean;
  /** apt-get on PATH. */
  aptGet?: string;
  /** pip3 or pip on PATH. */
  pip?: string;
}

/** The first executable file called `name` in PATH's folders. */
export function which(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function installPolicy(env: NodeJS.ProcessEnv): InstallPolicy {
  return {
    allowed: env.TEST_ENV_INSTALL === '1',
    root: process.getuid?.() === 0,
    aptGet: which('apt-get', env),
    pip: which('pip3', env) ?? which('pip', env),
  };
}

/** The command a person runs to install these packages here, or undefined when there is none. */
export function installCommand(packages: Packages, policy: InstallPolicy): string | undefined {
  if (packages.apt?.length && policy.aptGet) {
    const command = `apt-get install -y ${packages.apt.join(' ')}`;
    if (!policy.root) return `sudo ${command}`;
    return policy.allowed ? command : `${command} (TEST_ENV_INSTALL=1 npm test does it)`;
  }
  if (packages.pip?.length) return `pip install ${packages.pip.join(' ')}`;
  return undefined;
}

/** Runs a command with its output on our stderr (stdout stays for --check), killed after `timeoutMs`. */
export function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 2, 2], timeout: timeoutMs, killSignal: 'SIGKILL' });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')}: ${signal ? `killed (${signal})` : `exit code ${code}`}`));
    });
  });
}

/** apt-get: minutes for Chromium on a slow mirror; an index update first, as on a fresh machine it is empty. */
const APT_UPDATE_MS = 5 * 60_000;
const APT_INSTALL_MS = 20 * 60_000;
const PIP_INSTALL_MS = 10 * 60_000;

/**
 * Installs what it may of `packages` (one apt-get for all Debian packages) and logs what it
 * tried and what failed; the caller looks again for what it needed.
 */
export async function install(
  packages: Packages,
  policy: InstallPolicy,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  if (!policy.allowed) return;
  const apt = [...new Set(packages.apt ?? [])];
  if (apt.length > 0 && policy.aptGet && policy.root) {
    log(`installing with apt-get: ${apt.join(' ')}`);
    const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      await run(policy.aptGet, ['update', '-qq'], aptEnv, APT_UPDATE_MS);
      await run(policy.aptGet, ['install', '-y', '-qq', ...apt], aptEnv, APT_INSTALL_MS);
    } catch (error) {
      log(`apt-get failed: ${(error as Error).message}`);
    }
  }
  const pip = [...new Set(packages.pip ?? [])];
  if (pip.length > 0 && policy.pip) {
    log(`installing with pip: ${pip.join(' ')}`);
    try {
      await run(policy.pip, ['install', ...pip], env, PIP_INSTALL_MS);
    } catch (error) {
      log(`pip failed: ${(error as Error).message}`);
    }
  }
}
