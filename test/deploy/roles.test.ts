/**
 * Each function's role, proven by simulation: every packaged variant's template is resolved for a
 * sample account (test/support/iam/resolve.ts) and each role's policies are evaluated by an IAM
 * policy evaluator (@cloud-copilot/iam-simulate) against the table of AWS calls
 * (infra/aws-calls.js): each call a function makes is allowed on the ARN it really targets, and
 * what it must not do is denied. The table itself is checked against the code: every call site
 * in src/ has its row. `npm run roles:mutations` prints what each one-statement change breaks.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { actionOf, AWS_PACKAGE, scanSources } from '../support/iam/call-sites';
import { simulateMutations } from '../support/iam/mutations';
import { analyse } from '../support/iam/stack';
import type { Stack } from '../support/iam/stack';
import { decide, simulateTemplate } from '../support/iam/simulate';
import { table } from '../support/iam/table';
import type { AwsCall } from '../support/iam/table';
import type { Packaged } from '../support/package/package';
import { root } from '../support/harnesses/service';
import { packageVariants, VARIANT_NAMES, VARIANTS } from '../support/package/variants';
import type { VariantName } from '../support/package/variants';

jest.setTimeout(600_000);

let packaged: Record<VariantName, Packaged>;

beforeAll(async () => {
  packaged = await packageVariants();
});

// eslint-disable-next-line @typescript-eslint/no-require-imports
const roles = require('../../infra/roles.js') as { STORE_GROUPS: Record<string, string[]> };
/** The functions of each store role. */
const STORE_GROUPS = Object.values(roles.STORE_GROUPS);

const stackOf = (name: VariantName) => analyse(packaged[name].template, VARIANTS[name]);

describe.each(VARIANT_NAMES.map((name) => [VARIANTS[name].title, name] as const))('the roles of %s', (_, name) => {
  it('allow each function every call of its rows on the ARN it targets, and deny it everything else checked', async () => {
    const { checks, findings } = await simulateTemplate(packaged[name].template, VARIANTS[name]);
    expect(findings).toEqual([]);
    expect(checks).toBeGreaterThan(250);
  });

  it('fail the simulation when any one statement of any role is removed, or widened to every resource', async () => {
    const caught = await simulateMutations(packaged[name].template, VARIANTS[name], { firstOnly: true });
    expect(caught.length).toBeGreaterThan(20);
    expect(caught.filter((mutation) => mutation.findings === 0).map((mutation) => mutation.mutation)).toEqual([]);
    expect(caught.map((mutation) => mutation.mutation)).toContain(
      'widen StoreFunctionsRole (connect) to post to connections',
    );
  });
});

/** May `fn` of `stack` call `action` on `arn`? The evaluator's decision. */
async function may(stack: Stack, fnName: string, action: string, arn: string): Promise<boolean> {
  const fn = stack.functions.find((candidate) => candidate.name === fnName);
  if (fn === undefined) throw new Error(`no function ${fnName}`);
  const principal = `arn:aws:sts::${stack.sample.account}:assumed-role/${fn.role}/${fn.functionName}`;
  return (await decide(fn.policies, principal, action, arn, stack.sample.account)) === 'Allowed';
}

const POST = 'execute-api:ManageConnections';
const onConnection = (stack: Stack, method: string, { api = stack.sample.apiId, stage = stack.variant.stage } = {}) =>
  `arn:aws:execute-api:${stack.sample.region}:${stack.sample.account}:${api}/${stage}/${method}/@connections/c1=`;

describe('what the simulation proves, named (the HS256 packaging, stage dev)', () => {
  let stack: Stack;
  beforeAll(() => {
    stack = stackOf('secured');
  });

  it('connect cannot post to or ask about a connection: the socket exists only after $connect returned', async () => {
    expect(await may(stack, 'connect', POST, onConnection(stack, 'POST'))).toBe(false);
    expect(await may(stack, 'connect', POST, onConnection(stack, 'GET'))).toBe(false);
  });

  it('the functions that post do so to this API and stage only', async () => {
    for (const fn of ['disconnect', 'default', 'message', 'publish', 'deliver', 'sweep']) {
      expect({ fn, own: await may(stack, fn, POST, onConnection(stack, 'POST')) }).toEqual({ fn, own: true });
      for (const elsewhere of [{ api: 'z9y8x7w6v5' }, { stage: 'prod' }]) {
        expect({ fn, elsewhere, allowed: await may(stack, fn, POST, onConnection(stack, 'POST', elsewhere)) }).toEqual({
          fn,
          elsewhere,
          allowed: false,
        });
      }
    }
  });

  it('only the sweep asks about connections (GetConnection), and it may also post (presence of the gone ones)', async () => {
    expect(await may(stack, 'sweep', POST, onConnection(stack, 'GET'))).toBe(true);
    for (const fn of ['disconnect', 'default', 'message', 'publish', 'deliver']) {
      expect({ fn, asks: await may(stack, fn, POST, onConnection(stack, 'GET')) }).toEqual({ fn, asks: false });
    }
  });

  it('message and publish invoke deliver of this stage and no other function; no other function invokes at all', async () => {
    const fn = (name: string) =>
      `arn:aws:lambda:us-east-1:${stack.sample.account}:function:aws-node-websockets-${name}`;
    for (const caller of stack.functions.map((f) => f.name)) {
      const fansOut = caller === 'message' || caller === 'publish';
      expect({ caller, deliver: await may(stack, caller, 'lambda:InvokeFunction', fn('dev-deliver')) }).toEqual({
        caller,
        deliver: fansOut,
      });
      for (const other of ['dev-message', 'dev-connect', 'dev-authorize', 'prod-deliver']) {
        expect({ caller, other, allowed: await may(stack, caller, 'lambda:InvokeFunction', fn(other)) }).toEqual({
          caller,
          other,
          allowed: false,
        });
      }
    }
  });

  it('only the schema step reads the database secret, the authorizer the HS256 key only, and no one another stage’s', async () => {
    const database = stack.functions.find((f) => f.name === 'schema')!.parts.dbSecretArn![0]!;
    expect(stack.functions.filter((f) => f.parts.dbSecretArn !== undefined).map((f) => f.name)).toEqual(['schema']);
    const key = stack.functions.find((f) => f.name === 'authorize')!.parts.jwtSecretArn![0]!;
    expect(key).toMatch(/:secret:aws-node-websockets-dev\/auth-jwt-secret-/);
    const otherStagesKey = key.replace('aws-node-websockets-dev/', 'aws-node-websockets-prod/');
    for (const fn of stack.functions.map((f) => f.name)) {
      const read = async (arn: string) => may(stack, fn, 'secretsmanager:GetSecretValue', arn);
      expect({
        fn,
        database: await read(database),
        key: await read(key),
        otherStagesKey: await read(otherStagesKey),
      }).toEqual({
        fn,
        database: fn === 'schema',
        key: fn === 'authorize',
        otherStagesKey: false,
      });
    }
  });

  it('only deliver may send to the shard-failures queue (Lambda does, with its role), and to no other queue', async () => {
    const queue = (stage: string) =>
      `arn:aws:sqs:us-east-1:${stack.sample.account}:aws-node-websockets-${stage}-shard-failures`;
    for (const fn of stack.functions.map((f) => f.name)) {
      expect({ fn, own: await may(stack, fn, 'sqs:SendMessage', queue('dev')) }).toEqual({ fn, own: fn === 'deliver' });
      expect({ fn, other: await may(stack, fn, 'sqs:SendMessage', queue('prod')) }).toEqual({ fn, other: false });
    }
  });

  it('disconnect and message send to the departures queue (default and publish share their roles), no one else, and to no other queue', async () => {
    const queue = (stage: string) =>
      `arn:aws:sqs:us-east-1:${stack.sample.account}:aws-node-websockets-${stage}-departures`;
    // The queue the template names to the routes that mark departures.
    expect(stack.functions.find((f) => f.name === 'disconnect')!.parts.departuresQueueArn).toEqual([queue('dev')]);
    const senders = ['disconnect', 'default', 'message', 'publish'];
    for (const fn of stack.functions.map((f) => f.name)) {
      const send = (arn: string) => may(stack, fn, 'sqs:SendMessage', arn);
      expect({ fn, own: await send(queue('dev')) }).toEqual({ fn, own: senders.includes(fn) });
      expect({ fn, other: await send(queue('prod')) }).toEqual({ fn, other: false });
    }
  });

  it('only departures reads and deletes from the departures queue (Lambda polls it with its role), and no other queue', async () => {
    const queue = (name: string) => `arn:aws:sqs:us-east-1:${stack.sample.account}:aws-node-websockets-${name}`;
    expect(stack.functions.find((f) => f.name === 'departures')!.parts.sourceQueueArn).toEqual([
      queue('dev-departures'),
    ]);
    for (const fn of stack.functions.map((f) => f.name)) {
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) {
        expect({ fn, action, own: await may(stack, fn, action, queue('dev-departures')) }).toEqual({
          fn,
          action,
          own: fn === 'departures',
        });
        for (const other of ['prod-departures', 'dev-shard-failures']) {
          expect({ fn, action, other, allowed: await may(stack, fn, action, queue(other)) }).toEqual({
            fn,
            action,
            other,
            allowed: false,
          });
        }
      }
    }
  });

  it('the store functions connect to this instance as the application user only (rds-db:connect); no one as the master user', async () => {
    const instance = stack.functions.find((f) => f.name === 'connect')!.parts.dbResourceId![0]!;
    expect(instance).toMatch(/^db-[A-Z0-9]{26}$/);
    const user = (name: string, on = instance) =>
      `arn:aws:rds-db:us-east-1:${stack.sample.account}:dbuser:${on}/${name}`;
    for (const fn of stack.functions.map((f) => f.name)) {
      const store = !['schema', 'authorize'].includes(fn);
      expect({ fn, app: await may(stack, fn, 'rds-db:connect', user('websockets_app')) }).toEqual({ fn, app: store });
      for (const other of [user('websockets'), user('websockets_app', 'db-ANOTHERINSTANCE0000000000')]) {
        expect({ fn, other, allowed: await may(stack, fn, 'rds-db:connect', other) }).toEqual({
          fn,
          other,
          allowed: false,
        });
      }
    }
  });
});

describe('in the private network (stage prod)', () => {
  it('the store functions and the schema step may make network interfaces in their own subnets only; the authorizer none', async () => {
    const stack = stackOf('private');
    const ec2 = (rest: string) => `arn:aws:ec2:eu-central-1:${stack.sample.account}:${rest}`;
    const own = stack.functions.find((f) => f.name === 'message')!.parts.subnet!;
    const others = stack.subnets.filter((subnet) => !own.includes(subnet));
    expect(own).toHaveLength(2);
    expect(others.length).toBeGreaterThanOrEqual(2);
    for (const fn of stack.functions.map((f) => f.name)) {
      const create = async (rest: string) => may(stack, fn, 'ec2:CreateNetworkInterface', ec2(rest));
      const inVpc = fn !== 'authorize';
      for (const subnet of own)
        expect({ fn, subnet, allowed: await create(`subnet/${subnet}`) }).toEqual({ fn, subnet, allowed: inVpc });
      for (const subnet of others)
        expect({ fn, subnet, allowed: await create(`subnet/${subnet}`) }).toEqual({ fn, subnet, allowed: false });
    }
  });
});

describe('the table of AWS calls', () => {
  const scan = scanSources();
  const rowsAt = (site: string) => table.CALLS.filter((call) => call.site === site);

  it('has a row for every AWS call site in src/ (a signed request, an SDK command), and none for a site that is gone', () => {
    expect(scan.sites.length).toBeGreaterThanOrEqual(4);
    expect(scan.sites.filter((site) => rowsAt(site.site).length === 0).map((site) => site.site)).toEqual([]);
    const sites = new Set(scan.sites.map((site) => site.site));
    expect(
      table.CALLS.filter((call) => call.site !== undefined && !sites.has(call.site)).map((call) => call.id),
    ).toEqual([]);
  });

  it('agrees with each site on the service, the action and the HTTP method', () => {
    for (const site of scan.sites) {
      expect({ site: site.site, service: site.service }).toEqual({ site: site.site, service: expect.any(String) });
      for (const call of rowsAt(site.site)) {
        const action = actionOf(site);
        expect({ call: call.id, prefixes: call.actions.map((a) => a.split(':')[0]) }).toEqual({
          call: call.id,
          prefixes: call.actions.map(() => site.service),
        });
        if (action !== undefined)
          expect({ call: call.id, actions: call.actions }).toEqual({ call: call.id, actions: [action] });
        if (site.service === 'execute-api') {
          expect({ call: call.id, targets: call.targets }).toEqual({
            call: call.id,
            targets: [expect.stringContaining(`/${site.method}/@connections/`)],
          });
        }
      }
    }
  });

  it('finds a call added anywhere in the sources: a signed request, an SDK command, a client package', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-sites-'));
    try {
      mkdirSync(join(dir, 'chat'));
      writeFileSync(
        join(dir, 'chat', 'events.ts'),
        [
          "import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';",
          "import { signedPost } from '../aws/request';",
          'export class Bus {',
          '  async put(client: EventBridgeClient) {',
          '    await client.send(new PutEventsCommand({ Entries: [] }));',
          '  }',
          '}',
          "export const poke = (target: never) => signedPost(target, { service: 'events', method: 'POST' } as never);",
        ].join('\n'),
      );
      const found = scanSources(dir);
      const file = relative(root, join(dir, 'chat', 'events.ts'));
      expect(found.sites).toEqual([
        { site: `${file}#Bus.put`, kind: 'sdk command', service: 'events', command: 'PutEvents' },
        { site: `${file}#poke`, kind: 'signed request', service: 'events', method: 'POST' },
      ]);
      expect(found.awsPackages).toEqual({ [file]: ['@aws-sdk/client-eventbridge'] });
      expect(found.sites.map(actionOf)).toEqual(['events:PutEvents', undefined]);
      expect(found.sites.filter((site) => rowsAt(site.site).length === 0)).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets only files that hold a call site load an AWS client package', () => {
    const withSites = new Set(scan.sites.map((site) => site.site.split('#')[0]));
    expect(Object.keys(scan.awsPackages).filter((file) => !withSites.has(file))).toEqual([]);
  });

  it('says for every row who makes the call, why, and where: our code’s site or what tells Lambda to', () => {
    for (const call of table.CALLS) {
      expect({
        id: call.id,
        why: call.why.length > 20,
        where: (call.site === undefined) !== (call.source === undefined),
      }).toEqual({
        id: call.id,
        why: true,
        where: true,
      });
      for (const target of call.targets) {
        for (const part of target.match(/\{(\w+)\}/g) ?? [])
          expect(Object.keys(table.PARTS)).toContain(part.slice(1, -1));
      }
    }
  });

  describe('grows by a row', () => {
    const options = { stage: 'qa', service: 'aws-node-websockets', vpc: false };
    const statements = (functions: string[]) => table.statementsFor(functions, options);
    const withRow = (row: AwsCall, run: () => void) => {
      table.CALLS.push(row);
      try {
        run();
      } finally {
        table.CALLS.pop();
      }
    };
    const databaseRead = table.CALLS.find((call) => call.id === 'read-database-secret')!;

    it('another read of the same secret (its AWSPENDING stage during a rotation) changes no role', () => {
      const before = STORE_GROUPS.map(statements);
      withRow(
        { ...databaseRead, id: 'read-pending-database-secret', site: 'src/aws/secrets.ts#readPendingSecret' },
        () => {
          expect(STORE_GROUPS.map(statements)).toEqual(before);
        },
      );
    });

    it('a new call (EventBridge PutEvents by message and publish) adds one statement to their role only', () => {
      const before = STORE_GROUPS.map(statements);
      const putEvents: AwsCall = {
        id: 'put-events',
        functions: ['message', 'publish'],
        actions: ['events:PutEvents'],
        targets: ['arn:{partition}:events:{region}:{account}:event-bus/default'],
        site: 'src/aws/events.ts#putEvents',
        why: 'an example',
        sid: 'PutEventsOnDefaultBusOnly',
        grant: () => [{ 'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default' }],
      };
      withRow(putEvents, () => {
        STORE_GROUPS.forEach((functions, index) => {
          const added = statements(functions).filter(
            (statement) => !before[index]!.some((s) => s.Sid === statement.Sid),
          );
          const fansOut = functions.includes('message');
          expect({ functions, added: added.map((statement) => statement.Sid) }).toEqual({
            functions,
            added: fansOut ? ['PutEventsOnDefaultBusOnly'] : [],
          });
        });
      });
    });

    it('refuses a call made by only some functions of a role: the role would give the others more than they use', () => {
      withRow({ ...databaseRead, id: 'message-only', functions: ['message'], sid: 'MessageOnly' }, () => {
        expect(() => statements(['message', 'publish'])).toThrow(/only message make that call/);
      });
    });
  });

  it('names every function of every packaging, and no function that none has', () => {
    const functions = new Set(VARIANT_NAMES.flatMap((name) => stackOf(name).functions.map((fn) => fn.name)));
    expect([...functions].sort()).toEqual([...table.ALL_FUNCTIONS].sort());
    expect(table.CALLS.flatMap((call) => call.functions).filter((fn) => !functions.has(fn))).toEqual([]);
  });
});

describe('the IAM evaluator (@cloud-copilot/iam-simulate, AGPL)', () => {
  it('is a development dependency only, and in no packaging’s zip', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.devDependencies)).toContain('@cloud-copilot/iam-simulate');
    expect(Object.keys(manifest.dependencies).filter((name) => name.startsWith('@cloud-copilot/'))).toEqual([]);
    for (const name of VARIANT_NAMES) {
      expect({ name, found: packaged[name].zipEntries.filter((entry) => entry.includes('@cloud-copilot')) }).toEqual({
        name,
        found: [],
      });
    }
  });

  it('is not what the table calls an AWS package (it calls nothing)', () => {
    expect(AWS_PACKAGE.test('@cloud-copilot/iam-simulate')).toBe(false);
  });
});
