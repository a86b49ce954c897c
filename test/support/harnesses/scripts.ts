/**
 * Runs one of the project's npm scripts (scripts/*.ts under tsx) as its own process, in a
 * given folder (usually a private copy of the service), with a deadline that kills it:
 * "it never exits" must fail a test, not hang it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { root } from './service';

export interface ScriptRun {
  /** The exit code, or null when the deadline killed it. */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export function runScript(
  script: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; args?: string[]; timeoutMs?: number },
): Promise<ScriptRun> {
  const child = spawn(
    process.execPath,
    [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'scripts', script), ...(options.args ?? [])],
    // Its own process group: tsx runs the script in a child process, and `npm start` starts
    // serverless under that, so the deadline must kill the whole group to free the pipes.
    { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, options.timeoutMs ?? 30_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
