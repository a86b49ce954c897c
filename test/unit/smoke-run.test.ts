/**
 * The runner of `npm run smoke` (scripts/smoke/run.ts) with steps that pass, fail, throw
 * something unexpected or never end: one line per step, the steps that need a failed one
 * skipped, a step that never ends stopped by its deadline, and the run stopped by its budget.
 */
import { runSteps, verdict } from '../../scripts/smoke/run';
import { SmokeCheckError } from '../../scripts/smoke/socket';
import { SmokeState } from '../../scripts/smoke/state';
import type { Step } from '../../scripts/smoke/state';

const step = (id: string, needs: string[], run: Step['run']): Step => ({ id, title: `step ${id}`, needs, run });
const never = () => new Promise<string>(() => undefined);

async function run(steps: Step[], options: { stepTimeoutMs?: number; budgetMs?: number } = {}) {
  const lines: string[] = [];
  const started = Date.now();
  const results = await runSteps(
    steps,
    new SmokeState({ url: 'ws://localhost:1', publishUrl: 'http://localhost:1/' }),
    {
      stepTimeoutMs: options.stepTimeoutMs ?? 1_000,
      budgetMs: options.budgetMs,
      write: (line) => lines.push(line),
    },
  );
  return { lines, results, ms: Date.now() - started };
}

describe('the smoke runner', () => {
  it('writes one line per step, and passes only when every step did', async () => {
    const { lines, results } = await run([step('a', [], async () => 'fine'), step('b', ['a'], async () => 'also')]);
    expect(lines).toEqual([
      expect.stringMatching(/^ok {3}step a \d+ ms: fine$/),
      expect.stringMatching(/^ok {3}step b \d+ ms: also$/),
    ]);
    expect(verdict(results, 1_234, 'ws://x')).toBe('smoke: passed, 2 of 2 steps in 1.2 s (ws://x)');
  });

  it('says what failed, skips what needs it (directly or through a skipped step), and runs what does not', async () => {
    const { lines, results } = await run([
      step('a', [], async () => {
        throw new SmokeCheckError('expected seq 2, got 7');
      }),
      step('b', ['a'], async () => 'never run'),
      step('c', ['b'], async () => 'never run'),
      step('d', [], async () => 'independent'),
      step('e', ['unplanned'], async () => 'a need outside the plan is no need'),
    ]);
    expect(lines).toEqual([
      expect.stringMatching(/^FAIL step a \d+ ms: expected seq 2, got 7$/),
      'skip step b: needs "step a", which did not pass',
      'skip step c: needs "step b", which did not pass',
      expect.stringMatching(/^ok {3}step d /),
      expect.stringMatching(/^ok {3}step e /),
    ]);
    expect(verdict(results, 500, 'ws://x')).toBe('smoke: FAILED, 1 failed, 2 skipped, 2 of 5 passed in 0.5 s (ws://x)');
  });

  it('reports an unexpected error by its name, in one line, instead of crashing', async () => {
    const { lines } = await run([
      step('a', [], async () => {
        throw new TypeError('cannot read\n  properties');
      }),
    ]);
    expect(lines[0]).toMatch(/^FAIL step a \d+ ms: TypeError: cannot read properties$/);
  });

  it('stops a step that never ends once its deadline has passed', async () => {
    const { lines, ms } = await run([step('a', [], never), step('b', [], async () => 'next')], { stepTimeoutMs: 200 });
    expect(lines[0]).toMatch(/^FAIL step a \d+ ms: no result within 0.2 s$/);
    expect(lines[1]).toMatch(/^ok {3}step b /);
    expect(ms).toBeLessThan(5_000);
  });

  it("gives each step what is left of the run's budget, and skips the steps after it is spent", async () => {
    const deadlines: number[] = [];
    const spend = step('a', [], async (_state, deadline) => {
      deadlines.push(deadline);
      return never();
    });
    const started = Date.now();
    const { lines } = await run([spend, step('b', [], async () => 'too late')], {
      stepTimeoutMs: 10_000,
      budgetMs: 300,
    });
    expect(deadlines[0]).toBeLessThanOrEqual(started + 300 + 50);
    expect(lines[0]).toMatch(/^FAIL step a /);
    expect(lines[1]).toBe("skip step b: the run's 0.3 s are spent");
  });
});
