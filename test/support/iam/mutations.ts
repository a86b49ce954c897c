/**
 * Templates one change away from a packaged one, to show that the role simulation notices each:
 * every statement of every role removed in turn, every statement's Resource widened to `*`, and
 * `connect`'s role widened to post to connections (the statement the delivery roles have).
 */
import type { Template } from '../package/package';
import { resourcesOfType, roleOf, roleStatements } from '../package/package';
import type { Variant } from '../package/variants';
import { simulateTemplate } from './simulate';

interface RolePolicy {
  PolicyDocument: { Statement: { Sid?: string; Resource?: unknown }[] };
}

export interface Mutation {
  name: string;
  template: Template;
}

const copy = (template: Template): Template => structuredClone(template);
/** The role that runs `connect`. */
const connectRole = (template: Template) => roleOf(template, 'ConnectLambdaFunction') as string;

export function mutationsOf(template: Template): Mutation[] {
  const mutations: Mutation[] = [];
  for (const [role, resource] of resourcesOfType(template, 'AWS::IAM::Role')) {
    const policies = (resource.Properties?.Policies ?? []) as RolePolicy[];
    policies.forEach((policy, p) => {
      policy.PolicyDocument.Statement.forEach((statement, s) => {
        const label = `${role} ${statement.Sid ?? `statement ${s}`}`;
        const removed = copy(template);
        (removed.Resources[role]!.Properties!.Policies as RolePolicy[])[p]!.PolicyDocument.Statement.splice(s, 1);
        mutations.push({ name: `remove ${label}`, template: removed });
        if (statement.Resource === '*') return;
        const widened = copy(template);
        (widened.Resources[role]!.Properties!.Policies as RolePolicy[])[p]!.PolicyDocument.Statement[s]!.Resource = '*';
        mutations.push({ name: `widen ${label} to Resource *`, template: widened });
      });
    });
  }
  const role = connectRole(template);
  const post = resourcesOfType(template, 'AWS::IAM::Role')
    .flatMap(([id]) => roleStatements(template, id))
    .find((statement) => statement.Sid === 'PostToOwnConnectionsOnly');
  if (post === undefined) throw new Error('no role posts to connections: nothing to widen connect’s role with');
  const widened = copy(template);
  (widened.Resources[role]!.Properties!.Policies as RolePolicy[])[0]!.PolicyDocument.Statement.push(
    structuredClone(post),
  );
  mutations.push({ name: `widen ${role} (connect) to post to connections`, template: widened });
  return mutations;
}

export interface Caught {
  mutation: string;
  /** How many checks failed on the mutated template (with `firstOnly`: 0 or 1). */
  findings: number;
  first: string | undefined;
}

/** The simulation of each mutation of `template`: each must fail (findings > 0). */
export async function simulateMutations(
  template: Template,
  variant: Variant,
  { firstOnly = false } = {},
): Promise<Caught[]> {
  const caught: Caught[] = [];
  for (const mutation of mutationsOf(template)) {
    const { findings } = await simulateTemplate(mutation.template, variant, { firstOnly });
    caught.push({ mutation: mutation.name, findings: findings.length, first: findings[0] });
  }
  return caught;
}
