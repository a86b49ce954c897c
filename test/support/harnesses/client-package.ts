/**
 * The client package as a user gets it: `npm run client:pack`, then an empty project of its
 * own that installs the tarball (and `ws`, packed from this repository's node_modules so that
 * nothing is fetched: `npm install --offline`). For the tarball's tests (test/e2e and
 * test/browser client-package.test.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = resolve(__dirname, '..', '..', '..');
export const PACKAGE_NAME = '@aws-node-websockets/client';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (at most `timeoutMs`, then killed); its exit code and output, never a throw. */
export async function outcome(
  command: string,
  args: string[],
  cwd: string,
  timeoutMs = 120_000,
  env = {},
): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd,
      timeout: timeoutMs,
      env: { ...process.env, ...env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : 1,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? failed.message,
    };
  }
}

async function mustSucceed(command: string, args: string[], cwd: string): Promise<string> {
  const result = await outcome(command, args, cwd);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

/** `npm run client:pack`; returns the tarball's path, its last line of output. */
export async function packClientTarball(): Promise<{ tarball: string; output: string }> {
  const output = await mustSucceed('npm', ['run', '-s', 'client:pack'], ROOT);
  const tarball = output.trim().split('\n').at(-1) ?? '';
  if (!isAbsolute(tarball) || !tarball.endsWith('.tgz') || !statSync(tarball).isFile()) {
    throw new Error(`npm run client:pack did not end with a tarball's path:\n${output}`);
  }
  return { tarball, output };
}

export interface ConsumerProject {
  dir: string;
  tarball: string;
  /** Writes a file of the project (relative path). */
  write(file: string, text: string): string;
  remove(): void;
}

/** An empty ES module project with the packed client (and `ws` unless `withWs` is false) installed. */
export async function consumerProject(tarball: string, { withWs = true } = {}): Promise<ConsumerProject> {
  const dir = mkdtempSync(join(tmpdir(), 'client-consumer-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const install = [tarball];
  if (withWs) {
    const packed = await mustSucceed(
      'npm',
      ['pack', '--silent', join(ROOT, 'node_modules', 'ws'), '--pack-destination', dir],
      dir,
    );
    install.push(join(dir, packed.trim().split('\n').at(-1) as string));
  }
  await mustSucceed('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', ...install], dir);
  return {
    dir,
    tarball,
    write(file, text) {
      const path = join(dir, file);
      writeFileSync(path, text);
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
