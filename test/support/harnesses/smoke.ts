/**
 * `npm run smoke` as a developer runs it (scripts/smoke.ts under tsx, its own process), with the
 * settings of the test only and fake AWS credentials: whatever it signs or asks goes to a loopback
 * stand-in, and nothing probes an instance's metadata.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScript } from './scripts';
import { root, withoutSettings } from './service';

export interface SmokeRun {
  code: number | null;
  /** What it printed, a line each. */
  lines: string[];
  stdout: string;
  stderr: string;
  /** How long the whole process took, start-up of tsx included. */
  ms: number;
}

export async function runSmoke(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<SmokeRun> {
  const started = Date.now();
  const run = await runScript('smoke.ts', {
    cwd: options.cwd,
    args,
    timeoutMs: options.timeoutMs ?? 60_000,
    env: {
      ...withoutSettings(process.env),
      AWS_ACCESS_KEY_ID: 'developer',
      AWS_SECRET_ACCESS_KEY: 'developer-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REGION: '',
      AWS_PROFILE: '',
      ...options.env,
    },
  });
  if (run.timedOut) throw new Error(`npm run smoke did not end:\n${run.stdout}\n${run.stderr}`);
  return {
    code: run.code,
    lines: run.stdout.split('\n').filter((line) => line !== ''),
    stdout: run.stdout,
    stderr: run.stderr,
    ms: Date.now() - started,
  };
}

/** The line of the step with this title (its outcome first), or undefined. */
export function stepLine(run: SmokeRun, title: string): string | undefined {
  return run.lines.find((line) => line.slice(5).startsWith(title));
}

/**
 * A run's lines with what changes from run to run (times, ids, the room, ports) replaced, so that
 * a recorded sample and a fresh run compare line for line.
 */
export function normalized(lines: readonly string[]): string[] {
  return lines.map((line) =>
    line
      .replace(/\b\d+ ms\b/g, 'N ms')
      .replace(/ in [\d.]+ s \(/g, ' in N s (')
      .replace(/\bid [\w-]{16}(?![\w-])/g, 'id ID')
      .replace(/\b[0-9a-f]{8}…/g, 'CONNECTION…')
      .replace(/smoke-[0-9a-f]{8}/g, 'smoke-RUN')
      .replace(/localhost:\d+/g, 'localhost:PORT'),
  );
}

/** The samples of docs/deploy.md: each `$ npm run smoke …` block's output lines, in order. */
export function documentedSamples(): string[][] {
  const page = readFileSync(join(root, 'docs', 'deploy.md'), 'utf8');
  return [...page.matchAll(/```text\n\$ npm run smoke[^\n]*\n([\s\S]*?)```/g)].map((match) =>
    (match[1] as string).split('\n').filter((line) => line !== ''),
  );
}
