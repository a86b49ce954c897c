/**
 * What CloudFormation would make of a packaged template's intrinsic functions in one sample
 * stack: `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::GetAZs` and
 * `Fn::ImportValue`, for a sample partition, region, account and API id, with every other
 * physical id made up from the logical id (the same one each time, so a role's grant and the
 * function's environment name the same secret, queue or subnet). An intrinsic or attribute it
 * does not know throws: the role simulation must never evaluate a guess.
 */
import { createHash } from 'node:crypto';
import type { Template } from '../package/package';

export interface SampleStack {
  partition: string;
  region: string;
  account: string;
  /** The WebSocket API's id (`Ref: WebsocketsApi`). */
  apiId: string;
  stackName: string;
  urlSuffix: string;
  /** Fn::ImportValue's exports, by name. */
  exports?: Record<string, string>;
}

export const SAMPLE_ACCOUNT = '123456789012';
export const SAMPLE_API_ID = 'a1b2c3d4e5';

/** The stack `sls deploy` would make of a template for `stage` in `region`. */
export function sampleStack(stage: string, region: string, partition = 'aws'): SampleStack {
  return {
    partition,
    region,
    account: SAMPLE_ACCOUNT,
    apiId: SAMPLE_API_ID,
    stackName: `aws-node-websockets-${stage}`,
    urlSuffix: partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com',
  };
}

/** A made-up id that depends only on `seed`: `hex(length)`. */
export function madeUp(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

/** Secrets Manager adds a dash and 6 random characters to a secret's name in its ARN. */
const secretSuffix = (seed: string) => madeUp(seed, 6).replace(/^./, 'S');

export type Resolve = (value: unknown) => unknown;

export function resolver(template: Template, stack: SampleStack): Resolve {
  const { partition, region, account } = stack;
  const arn = (service: string, rest: string, inRegion = region) =>
    `arn:${partition}:${service}:${inRegion}:${account}:${rest}`;

  const resourceOf = (id: string) => {
    const resource = template.Resources[id];
    if (resource === undefined) throw new Error(`no resource ${id} in the template`);
    return resource;
  };
  const property = (id: string, name: string): string => {
    const value = resolve(resourceOf(id).Properties?.[name]);
    if (typeof value !== 'string') throw new Error(`${id}.${name} is not a string`);
    return value;
  };

  function ref(id: string): string {
    const pseudo: Record<string, string> = {
      'AWS::Partition': partition,
      'AWS::Region': region,
      'AWS::AccountId': account,
      'AWS::URLSuffix': stack.urlSuffix,
      'AWS::StackName': stack.stackName,
      'AWS::StackId': arn('cloudformation', `stack/${stack.stackName}/${madeUp(stack.stackName, 8)}`),
    };
    if (pseudo[id] !== undefined) return pseudo[id];
    const { Type } = resourceOf(id);
    switch (Type) {
      case 'AWS::ApiGatewayV2::Api':
        return id === 'WebsocketsApi' ? stack.apiId : madeUp(id, 10);
      case 'AWS::EC2::Subnet':
        return `subnet-${madeUp(id, 17)}`;
      case 'AWS::EC2::SecurityGroup':
        return `sg-${madeUp(id, 17)}`;
      case 'AWS::EC2::VPC':
        return `vpc-${madeUp(id, 17)}`;
      case 'AWS::SecretsManager::Secret': {
        const name = property(id, 'Name');
        return arn('secretsmanager', `secret:${name}-${secretSuffix(name)}`);
      }
      case 'AWS::SQS::Queue':
        return `https://sqs.${region}.${stack.urlSuffix}/${account}/${property(id, 'QueueName')}`;
      case 'AWS::Lambda::Function':
        return property(id, 'FunctionName');
      case 'AWS::Logs::LogGroup':
        return property(id, 'LogGroupName');
      case 'AWS::Events::EventBus':
        return property(id, 'Name');
      case 'AWS::IAM::Role':
        return `${stack.stackName}-${id}-${madeUp(id, 12).toUpperCase()}`;
      default:
        return `${id.toLowerCase()}-${madeUp(id, 8)}`;
    }
  }

  function getAtt(id: string, attribute: string): string {
    const { Type } = resourceOf(id);
    const known: Record<string, () => string> = {
      'AWS::Logs::LogGroup Arn': () => arn('logs', `log-group:${ref(id)}:*`),
      'AWS::SQS::Queue Arn': () => arn('sqs', property(id, 'QueueName')),
      'AWS::SQS::Queue QueueName': () => property(id, 'QueueName'),
      'AWS::SQS::Queue QueueUrl': () => ref(id),
      // RDS names the secret of ManageMasterUserPassword itself: rds!db-{uuid}.
      'AWS::RDS::DBInstance MasterUserSecret.SecretArn': () => {
        const name = `rds!db-${madeUp(`${stack.stackName}/${id}`, 8)}-${madeUp(id, 4)}-${madeUp(region, 4)}`;
        return arn('secretsmanager', `secret:${name}-${secretSuffix(name)}`);
      },
      'AWS::RDS::DBInstance Endpoint.Address': () =>
        `${id.toLowerCase()}.${madeUp(id, 12)}.${region}.rds.amazonaws.com`,
      'AWS::RDS::DBInstance Endpoint.Port': () => '3306',
      // RDS's id of the instance in rds-db ARNs: db- and 26 upper-case letters and digits.
      'AWS::RDS::DBInstance DbiResourceId': () => `db-${madeUp(`${stack.stackName}/${id}`, 26).toUpperCase()}`,
      'AWS::EC2::SecurityGroup GroupId': () => ref(id),
      'AWS::EC2::EIP AllocationId': () => `eipalloc-${madeUp(id, 17)}`,
      'AWS::IAM::Role Arn': () => `arn:${partition}:iam::${account}:role/${ref(id)}`,
      'AWS::Lambda::Function Arn': () => arn('lambda', `function:${ref(id)}`),
      'AWS::Events::EventBus Arn': () => arn('events', `event-bus/${ref(id)}`),
    };
    const value = known[`${Type} ${attribute}`];
    if (value === undefined) throw new Error(`Fn::GetAtt ${id}.${attribute} (${Type}) has no sample value`);
    return value();
  }

  function sub(text: string, variables: Record<string, unknown> = {}): string {
    return text.replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) => {
      if (literal === '!') return `\${${name}}`;
      if (Object.hasOwn(variables, name)) return String(resolve(variables[name]));
      if (name.startsWith('AWS::') || !name.includes('.')) return ref(name);
      const at = name.indexOf('.');
      return getAtt(name.slice(0, at), name.slice(at + 1));
    });
  }

  function resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
      switch (key) {
        case 'Ref':
          return ref(String(argument));
        case 'Fn::GetAtt': {
          const [id, ...attribute] = Array.isArray(argument) ? argument : String(argument).split('.');
          return getAtt(String(id), attribute.join('.'));
        }
        case 'Fn::Sub':
          return Array.isArray(argument)
            ? sub(String(argument[0]), argument[1] as Record<string, unknown>)
            : sub(String(argument));
        case 'Fn::Join': {
          const [delimiter, list] = argument as [string, unknown[]];
          return (resolve(list) as unknown[]).join(delimiter);
        }
        case 'Fn::Select': {
          const [index, list] = argument as [number | string, unknown];
          return (resolve(list) as unknown[])[Number(resolve(index))];
        }
        case 'Fn::GetAZs':
          return ['a', 'b', 'c'].map((zone) => `${region}${zone}`);
        case 'Fn::ImportValue': {
          const name = String(resolve(argument));
          const exported = stack.exports?.[name];
          if (exported === undefined) throw new Error(`Fn::ImportValue ${name}: no such export in the sample stack`);
          return exported;
        }
        default:
          throw new Error(`${key} has no sample evaluation`);
      }
    }
    return Object.fromEntries(entries.map(([name, inner]) => [name, resolve(inner)]));
  }

  return resolve;
}
