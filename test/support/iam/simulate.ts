/**
 * The role simulation: every call of the table (infra/aws-calls.js) that a function makes must be
 * allowed by its role on the exact ARN it targets, and denied to every other function; every
 * pinned part of that ARN pointed elsewhere (./stack.ts alternatives) must be denied; and a few
 * actions no function needs on those resources are denied to all. Each decision is made by
 * @cloud-copilot/iam-simulate, an IAM policy evaluator, over the role's resolved policies.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { Template } from '../package/package';
import type { Variant } from '../package/variants';
import { alternatives, analyse, expand, makes, rowsOf } from './stack';
import type { FunctionView, PolicyDocument, Stack } from './stack';
import { partsOf, table } from './table';
import type { AwsCall } from './table';

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied' | `invalid: ${string}`;

export interface Check {
  fn: string;
  action: string;
  resource: string;
  expect: 'Allowed' | 'Denied';
  /** Why this is expected: the row, and what was changed. */
  because: string;
}

/**
 * Actions no function needs on the resources its calls target, denied to all: changing or
 * listing secrets, reading or emptying the failures queue, changing or calling the functions,
 * calling the WebSocket API as a client.
 */
export const NEVER: { action: string; on: string; why: string }[] = [
  { action: 'secretsmanager:PutSecretValue', on: 'dbSecretArn', why: 'reads a secret, never writes one' },
  { action: 'secretsmanager:DescribeSecret', on: 'dbSecretArn', why: 'reads the value only' },
  { action: 'secretsmanager:PutSecretValue', on: 'jwtSecretArn', why: 'reads a secret, never writes one' },
  { action: 'sqs:ReceiveMessage', on: 'failuresQueueArn', why: 'Lambda sends to the queue; nothing of ours reads it' },
  { action: 'sqs:PurgeQueue', on: 'failuresQueueArn', why: 'the failed shards are kept for an operator' },
  { action: 'sqs:PurgeQueue', on: 'departuresQueueArn', why: 'departures are sent and consumed one by one' },
  { action: 'sqs:SetQueueAttributes', on: 'sourceQueueArn', why: 'Lambda reads the queue, never changes it' },
  { action: 'lambda:UpdateFunctionCode', on: 'deliverFunction', why: 'invokes deliver, never changes it' },
  { action: 'lambda:InvokeFunctionUrl', on: 'deliverFunction', why: 'deliver has no URL' },
  { action: 'events:DeleteEventBus', on: 'eventBus', why: 'puts events on the bus, never changes it' },
  { action: 'logs:DeleteLogStream', on: 'functionName', why: 'writes its logs, never deletes them' },
];

const memo = new Map<string, Decision>();

/** One IAM decision: may a role with `policies` call `action` on `resource`? */
export async function decide(
  policies: PolicyDocument[],
  principal: string,
  action: string,
  resource: string,
  account: string,
): Promise<Decision> {
  const key = JSON.stringify([policies, action, resource]);
  const known = memo.get(key);
  if (known !== undefined) return known;
  const result = await runSimulation(
    {
      identityPolicies: policies.map((policy, index) => ({ name: `policy-${index}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      // The resource's owner is our account whatever its ARN says, so that only the role's
      // policy decides: a cross-account request would also need the resource's own policy,
      // which would hide a role that allows too much.
      request: { principal, action, resource: { resource, accountId: account }, contextVariables: {} },
    },
    {},
  );
  const decision: Decision =
    result.resultType === 'error'
      ? `invalid: ${JSON.stringify(result.errors)}`
      : (result.overallResult as 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied');
  memo.set(key, decision);
  return decision;
}

/** The function's targets of a row, or why it has none (a part its definition lacks). */
function targetsOf(call: AwsCall, fn: FunctionView): string[] | string {
  try {
    return call.targets.flatMap((target) => expand(target, fn.parts));
  } catch (error) {
    return `${fn.name} makes "${call.id}", but ${(error as Error).message} in its definition`;
  }
}

/** What the stack's functions must and must not be allowed, and what in their definitions contradicts the table. */
export function checksOf(stack: Stack): { checks: Check[]; problems: string[] } {
  const checks: Check[] = [];
  const problems: string[] = [];
  const rows = rowsOf(stack);
  for (const fn of stack.functions) {
    if (fn.role === undefined) problems.push(`${fn.name} runs with a role that is not the template's own`);
    if (fn.managedPolicies.length > 0)
      problems.push(`${fn.name}'s role ${fn.role} attaches managed policies, which the simulation cannot see`);
    // A value the function is given (a secret, DELIVER_FUNCTION, a subnet...) is there for a call of its own.
    const used = new Set(rows.filter((call) => makes(fn, call)).flatMap((call) => call.targets.flatMap(partsOf)));
    for (const part of [
      'deliverFunction',
      'eventBus',
      'dbSecretArn',
      'jwtSecretArn',
      'failuresQueueArn',
      'departuresQueueArn',
      'sourceQueueArn',
      'subnet',
      'securityGroup',
    ]) {
      if (fn.parts[part] !== undefined && !used.has(part))
        problems.push(
          `${fn.name}'s definition names {${part}}, but no row of the table says which of its calls uses it`,
        );
    }
  }
  for (const call of rows) {
    const makers = stack.functions.filter((fn) => makes(fn, call));
    for (const fn of makers) {
      const targets = targetsOf(call, fn);
      if (typeof targets === 'string') {
        problems.push(targets);
        continue;
      }
      for (const action of call.actions) {
        for (const resource of targets)
          checks.push({ fn: fn.name, action, resource, expect: 'Allowed', because: call.id });
      }
      // Each pinned part pointed elsewhere.
      for (const target of call.targets) {
        for (const part of new Set(partsOf(target))) {
          if (table.PARTS[part]?.free) continue;
          for (const value of alternatives(part, fn, stack)) {
            for (const resource of expand(target, { ...fn.parts, [part]: [value] })) {
              for (const action of call.actions) {
                checks.push({
                  fn: fn.name,
                  action,
                  resource,
                  expect: 'Denied',
                  because: `${call.id}, {${part}} = ${value}`,
                });
              }
            }
          }
        }
      }
    }
    // The same call by a function that does not make it: on the makers' own targets.
    const maker = makers.find((fn) => typeof targetsOf(call, fn) !== 'string');
    if (maker === undefined) continue;
    const targets = targetsOf(call, maker) as string[];
    for (const fn of stack.functions.filter((candidate) => !makes(candidate, call))) {
      for (const action of call.actions) {
        for (const resource of targets) {
          checks.push({ fn: fn.name, action, resource, expect: 'Denied', because: `${call.id} is not ${fn.name}'s` });
        }
      }
    }
  }
  for (const never of NEVER) {
    const holder = stack.functions.find((fn) => fn.parts[never.on] !== undefined);
    if (holder === undefined) continue;
    const row = rows.find((call) => call.targets.some((target) => partsOf(target).includes(never.on)));
    const target = row?.targets.find((candidate) => partsOf(candidate).includes(never.on));
    if (target === undefined) continue;
    for (const resource of expand(target, holder.parts)) {
      for (const fn of stack.functions) {
        checks.push({ fn: fn.name, action: never.action, resource, expect: 'Denied', because: never.why });
      }
    }
  }
  return { checks, problems };
}

/** A role's principal as IAM sees a function's requests: the role's session. */
const principalOf = (stack: Stack, fn: FunctionView) =>
  `arn:${stack.sample.partition}:sts::${stack.sample.account}:assumed-role/${fn.role ?? 'unknown'}/${fn.functionName}`;

export interface Simulated {
  checks: number;
  /** One line per check whose decision is not the expected one, and per problem of the definitions. */
  findings: string[];
}

/** Runs every check of `stack`; `firstOnly` stops at the first finding (a mutation needs one). */
export async function simulate(stack: Stack, { firstOnly = false } = {}): Promise<Simulated> {
  const { checks, problems } = checksOf(stack);
  const findings = [...problems];
  const byName = new Map(stack.functions.map((fn) => [fn.name, fn]));
  // Allowed checks first: a removed statement shows there at once.
  const ordered = [...checks.filter((c) => c.expect === 'Allowed'), ...checks.filter((c) => c.expect === 'Denied')];
  for (const check of ordered) {
    if (firstOnly && findings.length > 0) break;
    const fn = byName.get(check.fn)!;
    const decision = await decide(
      fn.policies,
      principalOf(stack, fn),
      check.action,
      check.resource,
      stack.sample.account,
    );
    const ok =
      check.expect === 'Allowed'
        ? decision === 'Allowed'
        : decision === 'ImplicitlyDenied' || decision === 'ExplicitlyDenied';
    if (!ok) {
      findings.push(
        `${check.fn}: ${check.action} on ${check.resource} is ${decision}, expected ${check.expect} (${check.because})`,
      );
    }
  }
  return { checks: checks.length, findings };
}

/** The simulation of one packaged template. */
export const simulateTemplate = (template: Template, variant: Variant, options?: { firstOnly?: boolean }) =>
  simulate(analyse(template, variant), options);
