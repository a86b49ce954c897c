/**
 * Loads an unzipped deployment package in a fresh `node` process (test/support/package/package-probe.js)
 * whose module resolution cannot reach the repository: the package is unzipped outside it
 * (test/support/package/package.ts `unzipTo`), the process starts there, and its environment holds
 * no NODE_PATH or NODE_OPTIONS, only fake credentials, so the AWS SDK never looks further.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Template } from './package';
import { resourcesOfType } from './package';

const PROBE = join(__dirname, 'package-probe.js');

export interface ProbeRequest {
  /** `src/handler.connect`-style handler paths to load. */
  handlers?: string[];
  /** Packages that must not resolve from inside the package. */
  unreachable?: string[];
  /** A handler to call with this event (and a context with this much time left). */
  invoke?: { handler: string; event: unknown; remainingMs: number };
}

export interface ProbeReport {
  /** typeof each handler's export, or why it did not load. */
  handlers: Record<string, string>;
  /** Each of our compiled modules: 'loaded' or why not. */
  ownModules: Record<string, string>;
  /** Each package our modules require: the file it resolved to inside the package, or why not. */
  packages: Record<string, string>;
  /** Names of `unreachable` that resolved after all, with where. */
  reachable: string[];
  result?: unknown;
  crashed?: string;
}

/** Never a real account: the SDK takes these from the environment and signs with them. */
export const FAKE_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDPACKAGEPROBE',
  AWS_SECRET_ACCESS_KEY: 'package-probe-secret',
  AWS_SESSION_TOKEN: 'package-probe-session',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
};

export async function probePackage(
  dir: string,
  request: ProbeRequest,
  env: Record<string, string> = {},
): Promise<{ report: ProbeReport; output: string }> {
  const child = spawn(process.execPath, [PROBE, dir, JSON.stringify(request)], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ...FAKE_AWS_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the package probe took longer than 60 s:\n${output}`));
    }, 60_000);
    child.once('error', fail);
    child.once('close', () => {
      clearTimeout(timer);
      done();
    });
  });
  const line = output.split('\n').find((text) => text.startsWith('PROBE '));
  if (line === undefined) throw new Error(`the package probe reported nothing:\n${output}`);
  return { report: JSON.parse(line.slice('PROBE '.length)) as ProbeReport, output };
}

/** Every function's handler path in a packaged template (`src/handler.connect`, ...), by logical id. */
export function handlersOf(template: Template): Record<string, string> {
  return Object.fromEntries(
    resourcesOfType(template, 'AWS::Lambda::Function').map(([id, fn]) => [id, String(fn.Properties?.Handler)]),
  );
}
