/**
 * A packaged template as the role simulation sees it, resolved for a sample stack
 * (./resolve.ts): each function with its role's policies and the values its calls target, read
 * from its own definition as the code reads them (its environment, VpcConfig, on-failure
 * destination, name), and what else the stack holds that a call could be pointed at instead.
 */
import type { Template } from '../package/package';
import { resourcesOfType } from '../package/package';
import type { Variant } from '../package/variants';
import { madeUp, resolver, sampleStack } from './resolve';
import type { SampleStack } from './resolve';
import { partsOf, table } from './table';
import type { AwsCall } from './table';

export interface PolicyDocument {
  Version: string;
  Statement: unknown[];
}

export interface FunctionView {
  /** The name in serverless.yml and in the table: `connect`. */
  name: string;
  logicalId: string;
  functionName: string;
  /** The logical id of its role; undefined when it is not one of the template's. */
  role: string | undefined;
  /** Its role's inline policies, resolved. */
  policies: PolicyDocument[];
  managedPolicies: unknown[];
  /** The pinned parts of its calls' targets, from its definition (several subnets: several values). */
  parts: Record<string, string[]>;
}

export interface Stack {
  variant: Variant;
  sample: SampleStack;
  /** Whether the table's conditional rows are in this template (as roles.js decides them). */
  options: { vpc: boolean; jwtSecret?: true };
  functions: FunctionView[];
  /** Every subnet, security group, secret and function name of the stack, resolved. */
  subnets: string[];
  securityGroups: string[];
  secrets: string[];
  functionNames: string[];
}

/** The values a free part takes in the simulation: any value must be allowed. */
export const FREE_VALUES: Record<string, string> = {
  connectionId: 'Zx1aBcDeFgHiJ=',
  logStream: '2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef',
  networkInterfaceId: 'eni-0123456789abcdef0',
};

/** Parts a function may take from another of its role: only the departures queue, which disconnect and message are given. */
const ROLE_SHARED_PARTS = ['departuresQueueArn'];

/** `https://sqs.{region}.{suffix}/{account}/{name}` (DEPARTURES_QUEUE_URL) as the queue's ARN. */
function queueArnOf(url: string, sample: SampleStack): string {
  const [account, name] = new URL(url).pathname.split('/').filter(Boolean);
  return `arn:${sample.partition}:sqs:${sample.region}:${account}:${name}`;
}

const nameOf = (logicalId: string) => {
  const base = logicalId.replace(/LambdaFunction$/, '');
  return `${base.charAt(0).toLowerCase()}${base.slice(1)}`;
};

const strings = (value: unknown): string[] => [value].flat().filter((item): item is string => typeof item === 'string');

/** `https://{apiId}.execute-api.{region}.{suffix}/{stage}`: the API and stage posts go to. */
function apiOf(endpoint: string, sample: SampleStack): { apiId: string; stage: string } | undefined {
  const url = new URL(endpoint);
  const host = new RegExp(
    `^([a-z0-9]+)\\.execute-api\\.${sample.region}\\.${sample.urlSuffix.replace(/\./g, '\\.')}$`,
  ).exec(url.hostname);
  const stage = url.pathname.split('/').filter(Boolean).pop();
  return host?.[1] === undefined || stage === undefined ? undefined : { apiId: host[1], stage };
}

export function analyse(template: Template, variant: Variant, partition = 'aws'): Stack {
  const sample = sampleStack(variant.stage, variant.region, partition);
  const resolve = resolver(template, sample);
  const onFailure = new Map<string, string>();
  for (const [, config] of resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig')) {
    const target = config.Properties?.FunctionName as { Ref?: string };
    const destination = (config.Properties?.DestinationConfig as { OnFailure?: { Destination?: unknown } })?.OnFailure
      ?.Destination;
    if (target?.Ref !== undefined && destination !== undefined) onFailure.set(target.Ref, String(resolve(destination)));
  }
  // The queue each function's SQS event source mapping polls (with the function's role).
  const sourceQueue = new Map<string, string>();
  for (const [, mapping] of resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')) {
    const target = mapping.Properties?.FunctionName as { 'Fn::GetAtt'?: [string, string] };
    const source = String(resolve(mapping.Properties?.EventSourceArn));
    const id = target?.['Fn::GetAtt']?.[0];
    if (id !== undefined && source.startsWith(`arn:${sample.partition}:sqs:`)) sourceQueue.set(id, source);
  }

  const dbResourceId = String(resolve({ 'Fn::GetAtt': ['ConnectionsDatabase', 'DbiResourceId'] }));
  const functions = resourcesOfType(template, 'AWS::Lambda::Function').map(([logicalId, fn]): FunctionView => {
    const properties = fn.Properties ?? {};
    const environment = resolve((properties.Environment as { Variables?: unknown })?.Variables ?? {}) as Record<
      string,
      unknown
    >;
    const vpc = resolve(properties.VpcConfig ?? {}) as { SubnetIds?: unknown; SecurityGroupIds?: unknown };
    const role = (properties.Role as { 'Fn::GetAtt'?: [string, string] })?.['Fn::GetAtt']?.[0];
    const roleProperties = role === undefined ? undefined : template.Resources[role]?.Properties;
    const functionName = String(resolve(properties.FunctionName));
    const parts: Record<string, string[]> = {
      partition: [sample.partition],
      region: [sample.region],
      account: [sample.account],
      functionName: [functionName],
    };
    const endpoint = environment.WEBSOCKET_API_ENDPOINT;
    const api = typeof endpoint === 'string' ? apiOf(endpoint, sample) : undefined;
    if (api !== undefined) Object.assign(parts, { apiId: [api.apiId], stage: [api.stage] });
    const fromEnvironment: Record<string, string> = {
      deliverFunction: 'DELIVER_FUNCTION',
      eventBus: 'EVENT_BUS_NAME',
      dbSecretArn: 'DB_SECRET_ARN',
      jwtSecretArn: 'AUTH_JWT_SECRET_ARN',
      dbUser: 'DB_USER',
    };
    // The instance the function connects to: the one of DB_HOST (the template has one).
    if (typeof environment.DB_HOST === 'string') parts.dbResourceId = [dbResourceId];
    for (const [part, variable] of Object.entries(fromEnvironment)) {
      if (typeof environment[variable] === 'string') parts[part] = [environment[variable]];
    }
    const queue = onFailure.get(logicalId);
    if (queue !== undefined) parts.failuresQueueArn = [queue];
    const source = sourceQueue.get(logicalId);
    if (source !== undefined) parts.sourceQueueArn = [source];
    const departures = environment.DEPARTURES_QUEUE_URL;
    if (typeof departures === 'string') parts.departuresQueueArn = [queueArnOf(departures, sample)];
    if (strings(vpc.SubnetIds).length > 0) parts.subnet = strings(vpc.SubnetIds);
    if (strings(vpc.SecurityGroupIds).length > 0) parts.securityGroup = strings(vpc.SecurityGroupIds);
    return {
      name: nameOf(logicalId),
      logicalId,
      functionName,
      role,
      policies: ((roleProperties?.Policies ?? []) as { PolicyDocument: unknown }[]).map(
        (policy) => resolve(policy.PolicyDocument) as PolicyDocument,
      ),
      managedPolicies: (roleProperties?.ManagedPolicyArns ?? []) as unknown[],
      parts,
    };
  });

  // A row names all of a role's functions (infra/aws-calls.js): one that does not make the call
  // (publish, beside message's queue-departures) is checked on the target of the one that does.
  for (const fn of functions) {
    for (const mate of functions.filter((other) => other.role === fn.role && other !== fn)) {
      for (const part of ROLE_SHARED_PARTS) {
        if (fn.parts[part] === undefined && mate.parts[part] !== undefined) fn.parts[part] = mate.parts[part];
      }
    }
  }

  const resolvedIds = (type: string) => resourcesOfType(template, type).map(([id]) => String(resolve({ Ref: id })));
  return {
    variant,
    sample,
    options: { vpc: variant.network === 'private', ...(variant.auth === 'hs256' ? { jwtSecret: true as const } : {}) },
    functions,
    subnets: resolvedIds('AWS::EC2::Subnet'),
    securityGroups: resolvedIds('AWS::EC2::SecurityGroup'),
    secrets: [
      ...new Set(functions.flatMap((fn) => [...(fn.parts.dbSecretArn ?? []), ...(fn.parts.jwtSecretArn ?? [])])),
    ],
    functionNames: functions.map((fn) => fn.functionName),
  };
}

/** The rows of the table that are in this template, and whether `fn` makes each. */
export const rowsOf = (stack: Stack) => table.CALLS.filter((call) => table.applies(call, stack.options));
export const makes = (fn: FunctionView, call: AwsCall) => call.functions.includes(fn.name);

/** Every ARN a target stands for, with `values` for its parts (a part with several values: one ARN each). */
export function expand(target: string, values: Record<string, string[] | undefined>): string[] {
  let arns = [target];
  for (const part of new Set(partsOf(target))) {
    const choices = FREE_VALUES[part] !== undefined ? [FREE_VALUES[part]] : values[part];
    if (choices === undefined || choices.length === 0) throw new Error(`{${part}} has no value`);
    arns = arns.flatMap((arn) => choices.map((choice) => arn.split(`{${part}}`).join(choice)));
  }
  return arns;
}

const otherStage = (stage: string) => (stage === 'prod' ? 'dev' : 'prod');

/**
 * What a pinned part could be pointed at instead, in this stack or next to it: another
 * partition, region, account, API or stage; another function, secret, queue, subnet or
 * security group (the stack's own others first, then another stage's).
 */
export function alternatives(part: string, fn: FunctionView, stack: Stack): string[] {
  const { sample, variant } = stack;
  const other = otherStage(variant.stage);
  const inRegion = (service: string, rest: string) =>
    `arn:${sample.partition}:${service}:${sample.region}:${sample.account}:${rest}`;
  const own = new Set(fn.parts[part] ?? []);
  const not = (values: string[]) => [...new Set(values)].filter((value) => !own.has(value));
  switch (part) {
    case 'partition':
      return [sample.partition === 'aws' ? 'aws-cn' : 'aws'];
    case 'region':
      return [sample.region === 'us-west-2' ? 'eu-north-1' : 'us-west-2'];
    case 'account':
      return ['210987654321'];
    case 'apiId':
      return ['z9y8x7w6v5'];
    case 'stage':
      return not([other, `${variant.stage}-canary`]);
    case 'deliverFunction':
      return not([...stack.functionNames, `aws-node-websockets-${other}-deliver`]);
    case 'dbSecretArn':
    case 'jwtSecretArn': {
      const name =
        part === 'dbSecretArn'
          ? `rds!db-${madeUp(other, 8)}-0000-0000`
          : `aws-node-websockets-${other}/auth-jwt-secret`;
      const [mine] = own;
      // The same name with another suffix: a secret deleted and made again under that name.
      const recreated = mine === undefined ? [] : [mine.replace(/-[A-Za-z0-9]{6}$/, '-Zz9Zz9')];
      return not([...stack.secrets, inRegion('secretsmanager', `secret:${name}-${madeUp(name, 6)}`), ...recreated]);
    }
    case 'dbResourceId':
      // Another instance in the account (another stage's).
      return not([`db-${madeUp(other, 26).toUpperCase()}`]);
    case 'dbUser':
      // The master user, and another stage's application user.
      return not(['websockets', 'root', 'rdsadmin', 'websockets_app_prod']);
    case 'failuresQueueArn':
      return not([inRegion('sqs', `aws-node-websockets-${other}-shard-failures`)]);
    case 'departuresQueueArn':
    case 'sourceQueueArn':
      // Another stage's departures queue, and this stage's shard-failures queue.
      return not([
        inRegion('sqs', `aws-node-websockets-${other}-departures`),
        inRegion('sqs', `aws-node-websockets-${variant.stage}-shard-failures`),
      ]);
    case 'eventBus':
      return not([`aws-node-websockets-${other}`, 'default']);
    case 'functionName': {
      const sameRole = new Set(
        stack.functions.filter((candidate) => candidate.role === fn.role).map((f) => f.functionName),
      );
      return not([
        ...stack.functionNames.filter((name) => !sameRole.has(name)),
        fn.functionName.replace(`-${variant.stage}-`, `-${other}-`),
      ]);
    }
    case 'subnet':
      return not([...stack.subnets, 'subnet-0a1b2c3d4e5f60718']);
    case 'securityGroup':
      return not([...stack.securityGroups, 'sg-0a1b2c3d4e5f60718']);
    default:
      throw new Error(`{${part}} has no alternatives: add them in test/support/iam/stack.ts`);
  }
}
