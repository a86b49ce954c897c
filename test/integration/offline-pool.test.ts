/**
 * serverless-offline's own pool against the local runtime's, on a real worker-thread handler
 * whose first call never answers (test/support/harnesses/pool-probe.mjs): offline's timeout terminates
 * the worker, then the function is called twice more. offline 13.10.1 hands the dead instance
 * out again, so every later call times out too; with the preload's pool the instance is
 * discarded and the next call is answered at once. Also checks that the preload's module hooks
 * still apply to the pinned serverless-offline.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from '../support/harnesses/service';

jest.setTimeout(60_000);

interface Call {
  outcome: string;
  ms: number;
}

function probe(withPreload: boolean): { first: Call; second: Call; third: Call; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pool-probe-'));
  try {
    const run = spawnSync(
      process.execPath,
      [
        ...(withPreload ? ['--require', join(root, 'scripts', 'offline-preload.js')] : []),
        join(root, 'test', 'support', 'harnesses', 'pool-probe.mjs'),
        dir,
      ],
      { cwd: root, encoding: 'utf8', timeout: 30_000 },
    );
    const line = run.stdout.trim().split('\n').pop() ?? '';
    return { ...(JSON.parse(line) as { first: Call; second: Call; third: Call }), stderr: run.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it('offline alone: after one timeout, every call to that function times out', () => {
  const { first, second, third } = probe(false);
  expect([first.outcome, second.outcome, third.outcome]).toEqual(['timed out', 'timed out', 'timed out']);
});

it('with the local runtime: the timed-out instance is discarded and the next calls are answered at once', () => {
  const { first, second, third, stderr } = probe(true);
  expect([first.outcome, second.outcome, third.outcome]).toEqual(['timed out', 'answered', 'answered']);
  expect(second.ms).toBeLessThan(900);
  expect(stderr).toContain('probe timed out after 1000 ms: that instance is discarded');
  expect(stderr).not.toContain('not applied');
});
