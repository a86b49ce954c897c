/**
 * Runs the smoke steps one after another and writes one line per step as it ends, then the
 * verdict: `ok`, `FAIL` with what was expected and what came, or `skip` when a step it needs did
 * not pass. Every step has a deadline (its own timeout, within the run's budget) that ends it
 * whatever the service does, and every socket is closed at the end whatever happened.
 */
import { withTimeout } from '../../src/timeout';
import { SmokeCheckError, seconds } from './socket';
import type { SmokeState, Step } from './state';

/** The whole run stays well under a minute, even against a service that answers nothing. */
export const RUN_BUDGET_MS = 50_000;
export const DEFAULT_STEP_TIMEOUT_MS = 10_000;
/** The runner's own bound comes this long after a step's deadline, so the step's own, more precise, failure wins. */
const GRACE_MS = 1_000;

export type Outcome = 'ok' | 'FAIL' | 'skip';

export interface StepResult {
  step: Step;
  outcome: Outcome;
  detail: string;
  ms: number;
}

export interface RunOptions {
  stepTimeoutMs: number;
  budgetMs?: number;
  write(line: string): void;
}

function line(result: StepResult): string {
  const status = result.outcome.padEnd(4);
  if (result.outcome === 'skip') return `${status} ${result.step.title}: ${result.detail}`;
  return `${status} ${result.step.title} ${result.ms} ms: ${result.detail}`;
}

/** A failure in one line: a check's own words, or the name and message of anything else. */
function failure(error: unknown): string {
  if (error instanceof SmokeCheckError) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`.replace(/\s+/g, ' ');
  return String(error);
}

async function runOne(
  step: Step,
  state: SmokeState,
  deadline: number,
): Promise<Pick<StepResult, 'outcome' | 'detail'>> {
  const started = Date.now();
  try {
    const detail = await withTimeout(
      step.run(state, deadline),
      deadline - started + GRACE_MS,
      () => new SmokeCheckError(`no result within ${seconds(deadline - started)}`),
    );
    return { outcome: 'ok', detail };
  } catch (error) {
    return { outcome: 'FAIL', detail: failure(error) };
  } finally {
    for (const socket of state.sockets) socket.cancelWaits();
  }
}

/** Runs `steps` in order; resolves with every step's result once the sockets are closed. */
export async function runSteps(steps: readonly Step[], state: SmokeState, options: RunOptions): Promise<StepResult[]> {
  const start = Date.now();
  const budgetEnd = start + (options.budgetMs ?? RUN_BUDGET_MS);
  const planned = new Set(steps.map((step) => step.id));
  const results = new Map<string, StepResult>();
  try {
    for (const step of steps) {
      const started = Date.now();
      const blocked = step.needs.find((id) => planned.has(id) && results.get(id)?.outcome !== 'ok');
      let result: StepResult;
      if (blocked !== undefined) {
        const title = steps.find((each) => each.id === blocked)?.title ?? blocked;
        result = { step, outcome: 'skip', detail: `needs "${title}", which did not pass`, ms: 0 };
      } else if (started >= budgetEnd) {
        result = { step, outcome: 'skip', detail: `the run's ${seconds(budgetEnd - start)} are spent`, ms: 0 };
      } else {
        const deadline = Math.min(started + options.stepTimeoutMs, budgetEnd);
        result = { step, ...(await runOne(step, state, deadline)), ms: Date.now() - started };
      }
      results.set(step.id, result);
      options.write(line(result));
    }
  } finally {
    for (const socket of state.sockets) socket.destroy();
  }
  return [...results.values()];
}

/** The last line: passed only if every step did. */
export function verdict(results: readonly StepResult[], ms: number, target: string): string {
  const count = (outcome: Outcome) => results.filter((result) => result.outcome === outcome).length;
  const passed = count('ok');
  if (passed === results.length) {
    return `smoke: passed, ${passed} of ${results.length} steps in ${seconds(ms)} (${target})`;
  }
  return (
    `smoke: FAILED, ${count('FAIL')} failed, ${count('skip')} skipped, ${passed} of ${results.length} passed ` +
    `in ${seconds(ms)} (${target})`
  );
}
