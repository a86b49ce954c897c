/**
 * The parts of docs/deploy.md and README.md that describe the template, rendered from the packaged
 * templates of the deploy suite's variants (test/support/package/variants.ts) and from the table
 * of AWS calls (infra/aws-calls.js): the routes, the functions and what invokes them, each
 * function's role and where it runs, each role's statements, who may read each secret, the calls
 * table, and the shape of what a deploy prints. scripts/docs.ts writes them; test/deploy/docs.test.ts
 * checks that the committed docs say the same.
 */
import type { Packaged, Template } from '../../test/support/package/package';
import { resourcesOfType } from '../../test/support/package/package';
import { VARIANTS } from '../../test/support/package/variants';
import type { VariantName } from '../../test/support/package/variants';
import { table } from '../../test/support/iam/table';

type Templates = Record<VariantName, Packaged>;
type Resource = Template['Resources'][string];

const code = (text: string) => `\`${text}\``;
const list = (items: string[]) =>
  items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
const json = (value: unknown) => JSON.stringify(value);
/** Words in lines of at most `width` characters (a paragraph of its own in the Markdown source). */
function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join('\n');
}
/** `ConnectLambdaFunction` -> `connect`. */
const nameOf = (logicalId: string) =>
  `${logicalId.charAt(0).toLowerCase()}${logicalId.slice(1)}`.replace(/LambdaFunction$/, '');
/** The template's resources a value names (Ref, GetAtt, ${X} in a Sub). */
const named = (template: Template, value: unknown, type: string) =>
  resourcesOfType(template, type)
    .map(([id]) => id)
    .filter((id) => new RegExp(`"${id}"|\\$\\{${id}[.}]`).test(json(value)));

function functionsOf(template: Template): [string, Resource][] {
  return resourcesOfType(template, 'AWS::Lambda::Function');
}
const roleOf = (fn: Resource) => (fn.Properties?.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
}
const statementsOf = (template: Template, role: string): Statement[] =>
  ((template.Resources[role]?.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
    (policy) => policy.PolicyDocument.Statement,
  );

/** The WebSocket API's routes, `$` routes first, each with the function its integration invokes. */
function websocketRoutes(template: Template): { key: string; fn: string | undefined; authorized: boolean }[] {
  const integrations = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration');
  const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route')
    .filter(([, route]) => json(route.Properties?.ApiId) === json({ Ref: 'WebsocketsApi' }))
    .map(([, route]) => {
      const [integration] = integrations.filter(([id]) => json(route.Properties?.Target).includes(`"${id}"`));
      const [fn] =
        integration === undefined
          ? []
          : named(template, integration[1].Properties?.IntegrationUri, 'AWS::Lambda::Function');
      return { key: String(route.Properties?.RouteKey), fn, authorized: route.Properties?.AuthorizerId !== undefined };
    });
  return [
    ...routes.filter((route) => route.key.startsWith('$')),
    ...routes.filter((route) => !route.key.startsWith('$')),
  ];
}

/** What invokes each function of a template, in words. */
function triggersOf(template: Template): Map<string, string[]> {
  const triggers = new Map<string, string[]>();
  const add = (fn: string | undefined, what: string) => {
    if (fn !== undefined) triggers.set(fn, [...(triggers.get(fn) ?? []), what]);
  };
  const routes = websocketRoutes(template);
  for (const fn of new Set(routes.map((route) => route.fn))) {
    const keys = routes.filter((route) => route.fn === fn).map((route) => code(route.key));
    add(fn, `WebSocket route${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`);
  }
  for (const [, authorizer] of resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer')) {
    const guarded = routes.filter((route) => route.authorized).map((route) => code(route.key));
    for (const fn of named(template, authorizer.Properties?.AuthorizerUri, 'AWS::Lambda::Function'))
      add(fn, `the authorizer of ${guarded.join(', ')}`);
  }
  const integrations = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration');
  for (const [, route] of resourcesOfType(template, 'AWS::ApiGatewayV2::Route')) {
    if (json(route.Properties?.ApiId) === json({ Ref: 'WebsocketsApi' })) continue;
    const integration = integrations.find(([id]) => json(route.Properties?.Target).includes(`"${id}"`));
    for (const fn of named(template, integration?.[1].Properties?.IntegrationUri, 'AWS::Lambda::Function')) {
      const auth = route.Properties?.AuthorizationType === 'AWS_IAM' ? ' (IAM-signed requests only)' : '';
      add(fn, `HTTP API route ${code(String(route.Properties?.RouteKey))}${auth}`);
    }
  }
  for (const [id, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
    const pattern = rule.Properties?.EventPattern as { 'detail-type'?: string[] } | undefined;
    const trigger =
      rule.Properties?.ScheduleExpression !== undefined
        ? `schedule ${code(String(rule.Properties.ScheduleExpression))}`
        : `EventBridge rule ${code(id)} (detail-type ${(pattern?.['detail-type'] ?? []).map(code).join(', ')})`;
    for (const fn of named(template, rule.Properties?.Targets, 'AWS::Lambda::Function')) add(fn, trigger);
  }
  // A custom resource's ServiceToken: CloudFormation invokes the function at a deploy.
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (!resource.Type.startsWith('Custom::')) continue;
    for (const fn of named(template, resource.Properties?.ServiceToken, 'AWS::Lambda::Function'))
      add(fn, `CloudFormation, for the custom resource ${code(id)} (at each deploy that creates or changes it)`);
  }
  // Functions whose role may invoke another: an asynchronous invoke by name.
  for (const [id, fn] of functionsOf(template)) {
    const name = String(fn.Properties?.FunctionName);
    const invokers = functionsOf(template)
      .filter(([, other]) =>
        statementsOf(template, roleOf(other)).some(
          (statement) =>
            [statement.Action].flat().includes('lambda:InvokeFunction') &&
            json(statement.Resource).includes(`:function:${name}"`),
        ),
      )
      .map(([other]) => code(nameOf(other)));
    if (invokers.length > 0) add(id, `${list(invokers)} (asynchronous invoke)`);
  }
  // An SQS event source mapping: Lambda polls the queue and invokes the function with batches.
  for (const [, mapping] of resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')) {
    const [fn] = named(template, mapping.Properties?.FunctionName, 'AWS::Lambda::Function');
    const queue = named(template, mapping.Properties?.EventSourceArn, 'AWS::SQS::Queue');
    const scaling = mapping.Properties?.ScalingConfig as { MaximumConcurrency?: number } | undefined;
    const most = scaling?.MaximumConcurrency === undefined ? '' : `, at most ${scaling.MaximumConcurrency} at once`;
    if (queue.length > 0)
      add(fn, `SQS queue ${code(queue.join(', '))} (batches of ${mapping.Properties?.BatchSize ?? 10}${most})`);
  }
  for (const [, config] of resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig')) {
    const [fn] = named(template, config.Properties?.FunctionName, 'AWS::Lambda::Function');
    const queue = named(template, config.Properties?.DestinationConfig, 'AWS::SQS::Queue');
    const retries = config.Properties?.MaximumRetryAttempts;
    add(fn, `${retries} retries, then ${code(queue.join(', '))}`);
  }
  return triggers;
}

/** Every function of any variant, in the templates' order, with the first template that has it. */
function allFunctions(templates: Templates, order: VariantName[]): [string, Template][] {
  const seen = new Map<string, Template>();
  for (const name of order)
    for (const [id] of functionsOf(templates[name].template)) if (!seen.has(id)) seen.set(id, templates[name].template);
  return [...seen.entries()];
}

const ORDER: VariantName[] = ['secured', 'private', 'open', 'jwks', 'alarm'];

/** docs/deploy.md, "What it creates": the WebSocket routes. */
export function routesBlock(templates: Templates): string {
  const routes = websocketRoutes(templates.open.template).map((route) => route.key);
  const own = routes.filter((key) => key.startsWith('$')).map(code);
  const actions = routes.filter((key) => !key.startsWith('$')).map(code);
  return `routes ${own.join(', ')} and one per action: ${actions.join(', ')}`;
}

/** Where a function of `template` runs: its subnets and security groups, or outside any VPC. */
function placementOf(template: Template, id: string): string {
  const vpc = template.Resources[id]?.Properties?.VpcConfig as
    { SubnetIds: unknown; SecurityGroupIds: unknown } | undefined;
  if (vpc === undefined) return template.Resources[id] === undefined ? '–' : 'outside any VPC';
  const subnets = list(named(template, vpc.SubnetIds, 'AWS::EC2::Subnet').map(code));
  const groups = list(named(template, vpc.SecurityGroupIds, 'AWS::EC2::SecurityGroup').map(code));
  return `${subnets}, security group ${groups}`;
}

/** docs/deploy.md, "What it creates": each function, what invokes it, its role and where it runs in each network mode. */
export function functionsBlock(templates: Templates): string {
  const inOpen = new Set(functionsOf(templates.open.template).map(([id]) => id));
  const rows = allFunctions(templates, ORDER).map(([id, template]) => {
    const fn = template.Resources[id]!;
    const only = inOpen.has(id) ? '' : ' (only with `AUTH_MODE` hs256 or jwks)';
    // The public mode's placement from a template that has the function (authorize: the HS256 one).
    const publicTemplate = inOpen.has(id) ? templates.open.template : templates.secured.template;
    return `| ${code(nameOf(id))}${only} | ${(triggersOf(template).get(id) ?? ['nothing']).join('; ')} | ${code(roleOf(fn))} | ${fn.Properties?.MemorySize} MB, ${fn.Properties?.Timeout} s | ${placementOf(publicTemplate, id)} | ${placementOf(templates.private.template, id)} |`;
  });
  return [
    '| function | invoked by | role | memory, timeout | with `DB_NETWORK: public` | with `DB_NETWORK: private` |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** A policy resource in the template's terms, with the stage as `{stage}`. */
function resourceText(resource: unknown, stage: string): string {
  if (typeof resource === 'string') return code(resource);
  const value = resource as { Ref?: string; 'Fn::GetAtt'?: string[]; 'Fn::Sub'?: string };
  if (value.Ref !== undefined) return `${code(value.Ref)} (its ARN)`;
  if (value['Fn::GetAtt'] !== undefined) return code(value['Fn::GetAtt'].join('.'));
  if (value['Fn::Sub'] !== undefined) {
    const text = value['Fn::Sub']
      .replace('${AWS::Partition}', '{partition}')
      .replace('${AWS::Region}', '{region}')
      .replace('${AWS::AccountId}', '{account}')
      .replace(new RegExp(`([/-])${stage}([/-])`), '$1{stage}$2')
      .replace(/\$\{([^}]+)\}/g, '{$1}');
    return code(text);
  }
  return code(json(resource));
}

interface RoleStatement {
  sid: string;
  /** The statement as the docs show it (actions and resources, the stage as `{stage}`). */
  text: string;
  /** In which variants' templates it is, when not in all that have the role. */
  note: string;
}

/** Each role of any variant, with its functions and its statements. */
function rolesOf(templates: Templates): Map<string, { functions: string[]; statements: RoleStatement[] }> {
  const roles = new Map<string, { functions: string[]; statements: RoleStatement[] }>();
  const ids = [
    ...new Set(ORDER.flatMap((name) => resourcesOfType(templates[name].template, 'AWS::IAM::Role').map(([id]) => id))),
  ];
  for (const role of ids) {
    const having = ORDER.filter((name) => templates[name].template.Resources[role] !== undefined);
    const functions = [
      ...new Set(
        having.flatMap((name) =>
          functionsOf(templates[name].template)
            .filter(([, fn]) => roleOf(fn) === role)
            .map(([id]) => nameOf(id)),
        ),
      ),
    ];
    const sids = [
      ...new Set(having.flatMap((name) => statementsOf(templates[name].template, role).map((s) => s.Sid ?? ''))),
    ];
    const statements = sids.map((sid): RoleStatement => {
      const holders = having.filter((name) => statementsOf(templates[name].template, role).some((s) => s.Sid === sid));
      const template = templates[holders[0]!].template;
      const statement = statementsOf(template, role).find((s) => s.Sid === sid)!;
      const stage = stageOf(template);
      const calls = table.CALLS.filter((call) => call.sid === sid).map((call) => code(call.id));
      let note = '';
      if (holders.length < having.length) {
        if (holders.every((name) => VARIANTS[name].network === 'private')) note = ' (`DB_NETWORK: private` only)';
        else if (holders.every((name) => VARIANTS[name].auth === 'hs256')) note = ' (`AUTH_MODE: hs256` only)';
        else note = ` (${holders.join(', ')} only)`;
      }
      const actions = [statement.Action].flat().map(code).join(', ');
      const resources = [statement.Resource]
        .flat()
        .map((r) => resourceText(r, stage))
        .join(', ');
      return { sid, note, text: `${code(sid)}${note}: ${actions} on ${resources} (${calls.join(', ')})` };
    });
    roles.set(role, { functions, statements });
  }
  return roles;
}

/**
 * docs/deploy.md, "Permissions per function": each role's functions and statements, in every
 * variant; a statement several roles have in the same words is shown once, with those roles.
 */
export function rolesBlock(templates: Templates): string {
  const roles = rolesOf(templates);
  const holdersOf = new Map<string, string[]>();
  for (const [role, { statements }] of roles) {
    for (const statement of statements) holdersOf.set(statement.text, [...(holdersOf.get(statement.text) ?? []), role]);
  }
  const out: string[] = [];
  for (const [role, { functions, statements }] of roles) {
    const own = statements.filter((statement) => holdersOf.get(statement.text)!.length === 1);
    out.push(
      `- ${code(role)}, the role of ${list(functions.map(code))}:`,
      ...own.map((statement) => `  - ${statement.text}`),
    );
  }
  const groups = new Map<string, string[]>();
  for (const [text, holders] of holdersOf) {
    if (holders.length > 1) groups.set(holders.join(' '), [...(groups.get(holders.join(' ')) ?? []), text]);
  }
  for (const [holders, texts] of groups) {
    out.push(`- each of ${list(holders.split(' ').map(code))}:`, ...texts.map((text) => `  - ${text}`));
  }
  const managed = ORDER.flatMap((name) =>
    resourcesOfType(templates[name].template, 'AWS::IAM::Role').filter(
      ([, role]) => role.Properties?.ManagedPolicyArns !== undefined,
    ),
  );
  const shared = ORDER.some((name) => templates[name].template.Resources.IamRoleLambdaExecution !== undefined);
  out.push(
    '',
    `${managed.length === 0 ? 'No role attaches a managed policy' : `${managed.length} roles attach managed policies`} in any variant, and ` +
      `the framework's shared default role (\`IamRoleLambdaExecution\`) is ${shared ? '' : 'not '}created. ` +
      'In parentheses: the calls of [the table](#the-aws-calls) a statement is for.',
  );
  return out.join('\n');
}

const stageOf = (template: Template) =>
  String(
    resourcesOfType(template, 'AWS::ApiGatewayV2::Stage').find(([id]) => id === 'WebsocketsDeploymentStage')?.[1]
      .Properties?.StageName,
  );

/** docs/deploy.md, "Secrets": which functions' roles may read each secret. */
export function secretReadersBlock(templates: Templates): string {
  const readersOf = (template: Template, variable: string) =>
    functionsOf(template)
      .filter(([, fn]) => {
        const arn = (fn.Properties?.Environment as { Variables?: Record<string, unknown> })?.Variables?.[variable];
        return arn !== undefined;
      })
      .map(([id, fn]) => {
        const arn = (fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables[variable];
        const may = statementsOf(template, roleOf(fn)).some(
          (s) =>
            [s.Action].flat().includes('secretsmanager:GetSecretValue') &&
            [s.Resource].flat().some((r) => json(r) === json(arn)),
        );
        return may ? code(nameOf(id)) : `${code(nameOf(id))} (NOT ALLOWED)`;
      });
  const readers = (variable: string) => {
    const all = ORDER.flatMap((name) => readersOf(templates[name].template, variable));
    return [...new Set(all)];
  };
  return [
    `- the database master password (${code('DB_SECRET_ARN')}): the roles of ${list(readers('DB_SECRET_ARN'))}, on that secret's ARN only;`,
    `- the HS256 key (${code('AUTH_JWT_SECRET_ARN')}, \`AUTH_MODE: hs256\`): the role of ${list(readers('AUTH_JWT_SECRET_ARN'))} only.`,
  ].join('\n');
}

/** docs/deploy.md, "Roles proven by simulation": the table of AWS calls. */
export function callsBlock(): string {
  const rows = table.CALLS.map((call) => {
    const when =
      call.when === 'vpc' ? ' (`DB_NETWORK: private`)' : call.when === 'jwtSecret' ? ' (`AUTH_MODE: hs256`)' : '';
    const where = call.site !== undefined ? code(call.site) : call.source!;
    return `| ${code(call.id)}${when} | ${call.functions.map(code).join(', ')} | ${call.actions.map(code).join(', ')} | ${call.targets.map(code).join(', ')} | ${where} | ${call.why} |`;
  });
  const parts = Object.entries(table.PARTS).map(
    ([part, { from, free }]) => `${code(`{${part}}`)}: ${from}${free ? ' (any value)' : ''}`,
  );
  return [
    '| call | functions | actions | the ARN it targets | made by | why |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `The parts of an ARN: ${parts.join('; ')}.`,
  ].join('\n');
}

/** docs/deploy.md, "What the first deploy prints": the framework's summary for stage dev, us-east-1. */
export function printoutBlock(templates: Templates): string {
  const template = templates.secured.template;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const filesize = require('serverless/lib/utils/filesize') as (bytes: number) => string;
  const size = filesize(templates.secured.zipBytes);
  const http = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').find(
    ([, route]) => json(route.Properties?.ApiId) === json({ Ref: 'HttpApi' }),
  );
  const [method, path] = String(http?.[1].Properties?.RouteKey).split(' ');
  const functions = functionsOf(template)
    .filter(([id]) => id !== 'AuthorizeLambdaFunction')
    .map(([id, fn]) => `  ${nameOf(id)}: ${String(fn.Properties?.FunctionName)} (${size})`);
  return [
    '```text',
    'Deploying aws-node-websockets to stage dev (us-east-1)',
    '',
    '✔ Service deployed to stack aws-node-websockets-dev (…s)',
    '',
    'endpoints:',
    '  wss://abc123xyz.execute-api.us-east-1.amazonaws.com/dev',
    `  ${method} - https://xyz789.execute-api.us-east-1.amazonaws.com${path}`,
    'functions:',
    ...functions,
    '```',
  ].join('\n');
}

/** README.md: the one-sentence summary of what a deploy creates. */
export function readmeCreatesBlock(templates: Templates): string {
  const { template } = templates.open;
  const names = functionsOf(template).map(([id]) => nameOf(id));
  const triggers = triggersOf(template);
  const sweep = functionsOf(template).find(([id]) => triggers.get(id)?.some((t) => t.startsWith('schedule')));
  const schedule =
    sweep === undefined
      ? ''
      : String(
          resourcesOfType(template, 'AWS::Events::Rule').find(([, rule]) => rule.Properties?.ScheduleExpression)?.[1]
            .Properties?.ScheduleExpression,
        );
  const fns = names.map((name) =>
    sweep !== undefined && name === nameOf(sweep[0]) ? `${code(name)} (on ${code(schedule)})` : code(name),
  );
  const authOnly = functionsOf(templates.secured.template)
    .map(([id]) => nameOf(id))
    .filter((name) => !names.includes(name));
  const db = template.Resources.ConnectionsDatabase?.Properties ?? {};
  const roles = new Set(
    ORDER.flatMap((name) => resourcesOfType(templates[name].template, 'AWS::IAM::Role').map(([id]) => id)),
  );
  const http = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').find(
    ([, route]) => json(route.Properties?.ApiId) === json({ Ref: 'HttpApi' }),
  )?.[1];
  return wrap(
    `A deploy creates: the WebSocket API (${routesBlock(templates)}), the Lambda functions ${list(fns)} ` +
      `(plus ${list(authOnly.map(code))} when auth is on), an HTTP API with ${code(String(http?.Properties?.RouteKey))} behind IAM, ` +
      `${db.StorageEncrypted === true ? 'an encrypted' : 'an'} RDS MySQL ${String(db.EngineVersion)} instance with its password in Secrets Manager, ` +
      `a VPC of its own, ${roles.size} IAM roles (one per group of functions), ` +
      `${template.Resources.DeparturesQueue !== undefined ? 'the shard-failures (with an alarm) and departures queues' : 'the shard-failures queue with its alarm'}, ` +
      `${resourcesOfType(template, 'AWS::Events::EventBus').length > 0 ? "the stage's EventBridge bus with its publish rule, " : ''}` +
      `and the functions' log groups.`,
  );
}

/** Every generated block, by file and name. */
export function renderDocs(templates: Templates): Record<string, Record<string, string>> {
  return {
    'docs/deploy.md': {
      routes: routesBlock(templates),
      functions: functionsBlock(templates),
      'secret-readers': secretReadersBlock(templates),
      roles: rolesBlock(templates),
      calls: callsBlock(),
      printout: printoutBlock(templates),
    },
    'README.md': { 'deploy-creates': readmeCreatesBlock(templates) },
  };
}
