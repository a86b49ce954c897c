/**
 * What `sls deploy` would create, read from the CloudFormation template and the zip
 * that `sls package` writes here with no AWS credentials and no network.
 *
 * Three of the suite's packagings (test/support/package/variants.ts: open, secured, private),
 * made once per source tree and shared with the other deploy tests. cfn-lint checks all three
 * (test/deploy/cfn-lint-accepted.yml lists what it may report).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as capacity from '../../infra/capacity';
import { environmentOf, resourcesOfType, roleOf, roleStatements } from '../support/package/package';
import type { Packaged, PolicyStatement, Template } from '../support/package/package';
import {
  EXISTING_SECRET_ARN,
  LEGACY_PASSWORD,
  LOCAL_SECRET,
  packageVariant,
  VARIANTS,
} from '../support/package/variants';
import { copyService } from '../support/harnesses/service';
import {
  ACCEPTED_FINDINGS,
  cfnLintInstalled,
  isAccepted,
  runCfnLint,
  unacceptedFindings,
} from '../support/package/cfn-lint';
import type { CfnLintFinding } from '../support/package/cfn-lint';
import { handlersOf, probePackage } from '../support/package/unzipped';
import type { ProbeReport } from '../support/package/unzipped';
import { messageEvent } from '../support/harnesses/events';
import { serve } from '../../scripts/bench/stand-in';
import type { StandInStats } from '../../scripts/bench/stand-in';
import { mintToken } from '../../src/auth/token';
import { STACK_OUTPUTS } from '../../scripts/smoke/stack';

jest.setTimeout(420_000);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const packageRules = require('../../infra/package.js') as { packageFindings(root: string): [string, string][] };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { BUNDLE_FILE } = require('../../infra/bundle-plugin.js') as { BUNDLE_FILE: string };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { LAZY_PACKAGES } = require('../../infra/bundle.js') as { LAZY_PACKAGES: string[] };

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { SERVICE, generatedJwtSecretName } = require('../../settings.js') as {
  SERVICE: string;
  generatedJwtSecretName: (stage: string) => string;
};

let secured: Template;
let open: Template;
let openPackage: Packaged;
let privateNet: Template;
/** The packaging with the flood bounds set: the private one. */
let bounded: Template;
let outputs: string[];

/** Each packaging's zip, unzipped outside the repository (so that nothing resolves from its node_modules). */
const unzipRoot = mkdtempSync(join(tmpdir(), 'ws-unzipped-'));
const unzipped = {
  open: join(unzipRoot, 'open'),
  secured: join(unzipRoot, 'secured'),
  private: join(unzipRoot, 'private'),
};
afterAll(() => rmSync(unzipRoot, { recursive: true, force: true }));

beforeAll(async () => {
  // Three packagings at once (those not made yet): each is mostly TypeScript and zipping.
  const [a, b, c] = await Promise.all([
    packageVariant('secured', unzipped.secured),
    packageVariant('open', unzipped.open),
    packageVariant('private', unzipped.private),
  ]);
  secured = a.template;
  openPackage = b;
  open = b.template;
  privateNet = c.template;
  bounded = privateNet;
  outputs = [a.output, b.output, c.output];
});

const STORE_FUNCTIONS = [
  'ConnectLambdaFunction',
  'DisconnectLambdaFunction',
  'DefaultLambdaFunction',
  'MessageLambdaFunction',
  'SweepLambdaFunction',
  'PublishLambdaFunction',
  'DeliverLambdaFunction',
  'DeparturesLambdaFunction',
];

/** The routes of the WebSocket API (the HTTP API has routes of its own: POST /publish). */
function websocketRoutes(template: Template) {
  return resourcesOfType(template, 'AWS::ApiGatewayV2::Route').filter(
    ([, route]) => JSON.stringify(route.Properties?.ApiId) === JSON.stringify({ Ref: 'WebsocketsApi' }),
  );
}

type Resource = Template['Resources'][string] & { DeletionPolicy?: string; UpdateReplacePolicy?: string };

/** The Value of one of a template's Outputs, undefined when it has no such output. */
function outputValue(template: Template, key: string): unknown {
  return (template.Outputs?.[key] as { Value?: unknown } | undefined)?.Value;
}

describe('the default template', () => {
  it("has one WEBSOCKET API that routes on the body's action", () => {
    const apis = resourcesOfType(open, 'AWS::ApiGatewayV2::Api').filter(
      ([, api]) => api.Properties?.ProtocolType === 'WEBSOCKET',
    );
    expect(apis).toHaveLength(1);
    expect(apis[0]![0]).toBe('WebsocketsApi');
    expect(apis[0]![1].Properties).toMatchObject({
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it('routes $connect, $disconnect, $default and the protocol actions to their functions', () => {
    const routes = Object.fromEntries(
      websocketRoutes(open).map(([, route]) => [
        route.Properties?.RouteKey as string,
        JSON.stringify(route.Properties?.Target),
      ]),
    );
    expect(Object.keys(routes).sort()).toEqual(
      [
        '$connect',
        '$default',
        '$disconnect',
        'join',
        'leave',
        'publish',
        'sendmessage',
        'send',
        'members',
        'ping',
        'history',
      ].sort(),
    );
    expect(routes.$connect).toContain('ConnectWebsocketsIntegration');
    expect(routes.$disconnect).toContain('DisconnectWebsocketsIntegration');
    expect(routes.$default).toContain('DefaultWebsocketsIntegration');
    for (const action of ['sendmessage', 'join', 'leave', 'publish', 'send', 'members', 'ping', 'history']) {
      expect(routes[action]).toContain('MessageWebsocketsIntegration');
    }
  });

  it('runs every function on nodejs24.x, the stage and region from .env.yml', () => {
    const functions = resourcesOfType(open, 'AWS::Lambda::Function');
    expect(functions.map(([id]) => id).sort()).toEqual([...STORE_FUNCTIONS, 'SchemaLambdaFunction'].sort());
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x' });
      expect(fn.Properties?.FunctionName).toMatch(new RegExp(`^${SERVICE}-qa-`));
    }
    expect(openPackage.output).toMatch(/stage qa \(eu-west-1\)/);
  });

  it('creates an encrypted MySQL 8 instance that manages its own password, kept as a snapshot on delete or replace', () => {
    const db = open.Resources.ConnectionsDatabase as Resource;
    expect(db.Type).toBe('AWS::RDS::DBInstance');
    expect(db.DeletionPolicy).toBe('Snapshot');
    expect(db.UpdateReplacePolicy).toBe('Snapshot');
    expect(db.Properties).toMatchObject({
      Engine: 'mysql',
      EngineVersion: expect.stringMatching(/^8\./),
      StorageEncrypted: true,
      DBInstanceClass: 'db.t4g.small',
      AllocatedStorage: 30,
      DBName: 'chat',
      MasterUsername: 'chatadmin',
      ManageMasterUserPassword: true,
      EnableIAMDatabaseAuthentication: true,
      PubliclyAccessible: true,
      VPCSecurityGroups: [{ 'Fn::GetAtt': ['DatabaseSecurityGroup', 'GroupId'] }],
      DBParameterGroupName: { Ref: 'DatabaseParameters' },
      DBSubnetGroupName: { Ref: 'DatabaseSubnetGroup' },
    });
    expect(db.Properties?.MasterUserPassword).toBeUndefined();
  });

  it('requires TLS on the server and admits MySQL only from the configured CIDR', () => {
    expect(open.Resources.DatabaseParameters?.Properties).toMatchObject({
      Family: expect.stringMatching(/^mysql8\./),
      Parameters: { require_secure_transport: '1' },
    });
    expect(open.Resources.DatabaseSecurityGroup?.Properties).toMatchObject({
      VpcId: { Ref: 'Vpc' },
      SecurityGroupIngress: [
        { IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306, CidrIp: '203.0.113.0/24', Description: expect.any(String) },
      ],
    });
  });

  it('gives every function that uses the store the list scope and the limit of connections per user', () => {
    for (const id of STORE_FUNCTIONS) {
      expect(environmentOf(open, id)).toMatchObject({ LIST_SCOPE: 'own', MAX_CONNECTIONS_PER_USER: '20' });
    }
  });

  it('outputs the database endpoint', () => {
    expect(JSON.stringify(open.Outputs?.DatabaseEndpoint)).toContain('ConnectionsDatabase');
  });

  it('outputs what `npm run smoke -- --stage` reads: the URLs and the auth mode', () => {
    const webSocketUrl = JSON.stringify(outputValue(open, STACK_OUTPUTS.websocketUrl));
    expect(webSocketUrl).toContain('"wss://",{"Ref":"WebsocketsApi"}');
    expect(webSocketUrl).toContain('"/qa"');
    const publishUrl = outputValue(open, STACK_OUTPUTS.publishUrl) as { 'Fn::Sub': string };
    expect(publishUrl).toEqual({ 'Fn::Sub': expect.stringMatching(/^https:\/\/\$\{HttpApi\}\.execute-api\./) });
    // The URL's path is the HTTP API's route.
    const path = new URL(publishUrl['Fn::Sub'].replace(/\$\{[^}]+\}/g, 'x')).pathname;
    const routes = resourcesOfType(open, 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties?.RouteKey);
    expect(routes).toContain(`POST ${path}`);
    expect(outputValue(open, STACK_OUTPUTS.authMode)).toBe('off');
    expect(outputValue(open, STACK_OUTPUTS.jwtSecretArn)).toBeUndefined();
  });

  it('wires the database into every function that uses the store: the application user, IAM auth, no password or secret', () => {
    for (const id of STORE_FUNCTIONS) {
      const environment = environmentOf(open, id);
      expect(environment).toMatchObject({
        DB_HOST: { 'Fn::GetAtt': ['ConnectionsDatabase', 'Endpoint.Address'] },
        DB_PORT: { 'Fn::GetAtt': ['ConnectionsDatabase', 'Endpoint.Port'] },
        DB_NAME: 'chat',
        DB_USER: 'websockets_app',
        DB_AUTH: 'iam',
        DB_MIGRATE: 'deploy',
      });
      expect(environment.DB_PASSWORD).toBeUndefined();
      expect(environment.DB_SECRET_ARN).toBeUndefined();
    }
  });

  it('sweeps orphaned connections on a schedule', () => {
    // On the default bus; the stage's own bus has PublishRule (test/deploy/events.test.ts).
    const rules = resourcesOfType(open, 'AWS::Events::Rule').filter(([, rule]) => !rule.Properties?.EventBusName);
    expect(rules).toHaveLength(1);
    expect(rules[0]![1].Properties).toMatchObject({ ScheduleExpression: 'rate(15 minutes)' });
  });

  it('packages the bundle of the handler module, and each package only some paths load in a file of its own', () => {
    expect(openPackage.zipEntries.filter((entry) => !entry.endsWith('/')).sort()).toEqual(
      [BUNDLE_FILE, SCHEMA_BUNDLE_FILE, ...LAZY_PACKAGES.map((name) => `src/node_modules/${name}/index.js`)].sort(),
    );
    // Every function's handler is in a bundle, under the name it always had.
    expect(
      new Set(Object.values(handlersOf(open)).map((handler) => handler.slice(0, handler.lastIndexOf('.')))),
    ).toEqual(new Set([BUNDLE_FILE, SCHEMA_BUNDLE_FILE].map((file) => file.replace(/\.js$/, ''))));
    const bundle = readFileSync(join(unzipped.open, BUNDLE_FILE), 'utf8');
    // Minified: some hundred lines (the certificates' among them) where the sources make over 60,000.
    expect(bundle.split('\n').length).toBeLessThan(2_000);
    // The RDS certificates of the stack's region and those of no region; no other region's.
    const region = VARIANTS.open.region;
    const names = certificatesIn(bundle).map((pem) => /CN=([^\n]*)/.exec(new X509Certificate(pem).subject)?.[1] ?? '');
    expect(names).toEqual(
      expect.arrayContaining([`Amazon RDS ${region} Root CA RSA2048 G1`, 'Amazon RDS Root 2019 CA']),
    );
    const regions = names.flatMap((name) => / ([a-z]{2}(?:-[a-z]+)+-\d) /.exec(` ${name} `)?.[1] ?? []);
    expect(new Set(regions)).toEqual(new Set([region]));
  });
});

// ---------------------------------------------------------------------------------------
// The zip: only what runs on Lambda's Node, and every route runs from it
// ---------------------------------------------------------------------------------------

/**
 * At most 600 KB: 1,939,787 bytes with every production package, 1,314,346 after infra/package.js's
 * rules, about 410,000 as one bundle and the three packages split from it (infra/bundle-plugin.js),
 * about 560,000 with the schema step's bundle beside it.
 */
const ZIP_BOUND_BYTES = 600_000;

/** The deploy step's handler module (the schema custom resource), bundled on its own. */
const SCHEMA_BUNDLE_FILE = 'src/deploy/handler.js';

/** The PEM certificates a bundle holds (as JSON strings in its source). */
function certificatesIn(source: string): string[] {
  return [...source.matchAll(/-----BEGIN CERTIFICATE-----(?:\\n|\n|[A-Za-z0-9+/=])+?-----END CERTIFICATE-----/g)].map(
    (match) => match[0].replace(/\\n/g, '\n'),
  );
}

const ZIPS: [string, keyof typeof unzipped, () => Template][] = [
  ['open', 'open', () => open],
  ['secured', 'secured', () => secured],
  ['private', 'private', () => privateNet],
];

describe('the zip', () => {
  it(`is at most ${ZIP_BOUND_BYTES} bytes`, () => {
    console.info(`deploy zip: ${openPackage.zipBytes} bytes, ${openPackage.zipEntries.length} entries`);
    expect(openPackage.zipBytes).toBeLessThanOrEqual(ZIP_BOUND_BYTES);
  });

  it.each(ZIPS)(
    'of the %s packaging holds no ESM twin of a CommonJS build, browser build or browser-only package, in any package',
    (_, key) => {
      expect(packageRules.packageFindings(unzipped[key])).toEqual([]);
    },
  );

  it("holds no .mjs, no npm's .package-lock.json, and nothing of the client/ and web/ folders beside the service", () => {
    const unwanted = openPackage.zipEntries.filter((entry) =>
      /\.mjs$|(^|\/)\.package-lock\.json$|^client\/|^web\//.test(entry),
    );
    expect(unwanted).toEqual([]);
  });
});

describe.each(ZIPS)('the %s package, unzipped outside the repository and loaded by a fresh node', (_, key, of) => {
  let report: ProbeReport;
  let handlers: Record<string, string>;
  beforeAll(async () => {
    handlers = handlersOf(of());
    ({ report } = await probePackage(unzipped[key], {
      handlers: Object.values(handlers),
      unreachable: ['typescript', 'jest', 'serverless'],
    }));
  });

  it('cannot reach the repository’s packages', () => {
    expect(report.reachable).toEqual([]);
  });

  it('loads the handler of every function in its template', () => {
    expect(Object.keys(handlers)).toEqual(expect.arrayContaining(STORE_FUNCTIONS));
    expect(report.handlers).toEqual(
      Object.fromEntries(Object.values(handlers).map((handler) => [handler, 'function'])),
    );
  });

  it('loads the bundle and the split packages, which are all it requires, each found in the zip', () => {
    const split = LAZY_PACKAGES.map((name) => [name, `src/node_modules/${name}/index.js`] as const);
    expect(report.ownModules).toEqual(
      Object.fromEntries([
        [BUNDLE_FILE, 'loaded'],
        [SCHEMA_BUNDLE_FILE, 'loaded'],
        ...split.map(([, file]) => [file, 'loaded']),
      ]),
    );
    // Besides them, names the bundled packages require only in a try (the SDK's CRT and SigV4a
    // signers, mysql2's debug highlighter) or quote in a message (mysql2 naming mysql2/promise and
    // bluebird): in the zip no more than they were in its node_modules before.
    const absent = ['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a', 'bluebird', 'cardinal', 'mysql2/promise'];
    expect(report.packages).toEqual({
      ...Object.fromEntries(split),
      ...Object.fromEntries(absent.map((name) => [name, expect.stringMatching(/^MODULE_NOT_FOUND/)])),
    });
  });
});

function withEventType(event: ReturnType<typeof messageEvent>, eventType: string) {
  return { ...event, requestContext: { ...event.requestContext, eventType } };
}

/** A function's environment from the template; what CloudFormation would fill in, faked; posts to `url`. */
function probeEnvironment(id: string, url: string): Record<string, string> {
  return {
    ...Object.fromEntries(
      Object.entries(environmentOf(open, id)).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      ),
    ),
    DB_HOST: '127.0.0.1',
    DB_PORT: '3306',
    DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:probe-AbCdEf',
    // what CloudFormation fills in for the Ref and Fn::Sub: the API the event fixture names
    WEBSOCKET_API_ID: 'abc123',
    WEBSOCKET_API_ENDPOINT: 'https://abc123.execute-api.us-east-1.amazonaws.com/dev',
    MANAGEMENT_ENDPOINT: url,
  };
}

describe('routes run from the unzipped package', () => {
  // What each function answers to an event it refuses before any store use: proof that its
  // handler runs from the bundle alone (the message route's ping, below, posts too).
  const refusals: [string, (event: ReturnType<typeof messageEvent>) => unknown, unknown][] = [
    ['ConnectLambdaFunction', (event) => withEventType(event, 'DISCONNECT'), { statusCode: 400 }],
    ['DisconnectLambdaFunction', (event) => withEventType(event, 'CONNECT'), { statusCode: 400 }],
    ['PublishLambdaFunction', () => ({ room: 'lobby' }), expect.objectContaining({ type: 'error' })],
    ['DeliverLambdaFunction', () => ({ type: 'not a shard' }), { outcome: 'refused' }],
  ];
  it.each(refusals)('runs %s from the bundle alone', async (id, eventOf, expected) => {
    const { report, output } = await probePackage(
      unzipped.open,
      {
        invoke: {
          handler: handlersOf(open)[id]!,
          event: eventOf(messageEvent({ action: 'ping' }, 'probe-connection', 'ping')),
          remainingMs: 10_000,
        },
      },
      probeEnvironment(id, 'http://127.0.0.1:9'),
    );
    expect({ result: report.result, output }).toEqual({ result: expected, output: expect.any(String) });
  });

  it('answers ping with one post to the management API, signed with the environment’s credentials', async () => {
    const standIn = await serve({ latencyMs: 0, goneShare: 0 });
    const url = `http://127.0.0.1:${standIn.port}`;
    try {
      const env = probeEnvironment('MessageLambdaFunction', url);
      const { report, output } = await probePackage(
        unzipped.open,
        {
          invoke: {
            handler: handlersOf(open).MessageLambdaFunction!,
            event: messageEvent({ action: 'ping' }, 'probe-connection', 'ping'),
            remainingMs: 29_000,
          },
        },
        env,
      );
      expect({ result: report.result, output }).toEqual({ result: { statusCode: 200 }, output: expect.any(String) });
      const stats = (await (await fetch(`${url}/__stats`)).json()) as StandInStats;
      expect(stats.posts).toBe(1);
    } finally {
      await standIn.close();
    }
  });

  it('lets the authorizer verify a token with the zipped jose', async () => {
    const secret = 'package-probe-key-that-is-long-enough-0123456789';
    const token = await mintToken(new TextEncoder().encode(secret), { subject: 'alice', ttlSec: 60 });
    const methodArn = 'arn:aws:execute-api:us-east-1:123456789012:abcdef/dev/$connect';
    const { report } = await probePackage(
      unzipped.secured,
      {
        invoke: {
          handler: handlersOf(secured).AuthorizeLambdaFunction!,
          event: {
            type: 'REQUEST',
            methodArn,
            queryStringParameters: { token },
            requestContext: { connectionId: 'c1' },
          },
          remainingMs: 3_000,
        },
      },
      { AUTH_JWT_SECRET: secret },
    );
    expect(report.result).toMatchObject({
      principalId: 'alice',
      policyDocument: { Statement: [expect.objectContaining({ Effect: 'Allow', Resource: methodArn })] },
    });
  });
});

describe('server-side publish in the default template', () => {
  it('has a publish function with the store settings and the WebSocket API endpoint of this stage', () => {
    expect(open.Resources.PublishLambdaFunction?.Properties).toMatchObject({
      Handler: 'src/handler.publish',
      Timeout: 29,
      MemorySize: 512,
    });
    const environment = environmentOf(open, 'PublishLambdaFunction');
    expect(environment).toMatchObject({
      DB_NAME: 'chat',
      PRESENCE_MAX_MEMBERS: '100',
      ROOM_HISTORY_TTL: '24h',
      ROOM_HISTORY_MAX: '1000',
      SWEEP_MIN_AGE_MS: '300000',
      SWEEP_BATCH_SIZE: '200',
    });
    expect(environment.WEBSOCKET_API_ENDPOINT).toEqual({
      'Fn::Sub': 'https://${WebsocketsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/qa',
    });
  });

  it('gives every function that posts or serves socket events this stage’s own API: its id and its endpoint', () => {
    for (const [, template, stage] of [
      ['open', open, 'qa'],
      ['private', privateNet, 'prod'],
    ] as const) {
      for (const id of STORE_FUNCTIONS) {
        expect({ id, ...environmentOf(template, id) }).toMatchObject({
          id,
          WEBSOCKET_API_ID: { Ref: 'WebsocketsApi' },
          WEBSOCKET_API_ENDPOINT: {
            'Fn::Sub': `https://\${WebsocketsApi}.execute-api.\${AWS::Region}.\${AWS::URLSuffix}/${stage}`,
          },
        });
      }
    }
  });

  it('is not routed from the socket', () => {
    const integrations = resourcesOfType(open, 'AWS::ApiGatewayV2::Integration').filter(([, integration]) =>
      JSON.stringify(integration.Properties?.IntegrationUri).includes('PublishLambdaFunction'),
    );
    expect(integrations).toHaveLength(1);
    expect(integrations[0]![1].Properties?.ApiId).toEqual({ Ref: 'HttpApi' });
  });

  it('answers POST /publish on an HTTP API that only IAM-signed requests pass', () => {
    const http = resourcesOfType(open, 'AWS::ApiGatewayV2::Api').filter(
      ([, api]) => api.Properties?.ProtocolType === 'HTTP',
    );
    expect(http.map(([id]) => id)).toEqual(['HttpApi']);
    const routes = resourcesOfType(open, 'AWS::ApiGatewayV2::Route').filter(
      ([, route]) => JSON.stringify(route.Properties?.ApiId) === JSON.stringify({ Ref: 'HttpApi' }),
    );
    expect(routes.map(([, route]) => route.Properties)).toEqual([
      expect.objectContaining({ RouteKey: 'POST /publish', AuthorizationType: 'AWS_IAM' }),
    ]);
    expect(JSON.stringify(routes[0]![1].Properties?.Target)).toContain('HttpApiIntegrationPublish');
    const permissions = resourcesOfType(open, 'AWS::Lambda::Permission').filter(([, permission]) =>
      JSON.stringify(permission.Properties?.FunctionName).includes('PublishLambdaFunction'),
    );
    // Besides, EventBridge for PublishRule only (test/deploy/events.test.ts).
    expect(permissions.map(([, permission]) => permission.Properties?.Principal)).toEqual([
      'apigateway.amazonaws.com',
      'events.amazonaws.com',
    ]);
    expect(JSON.stringify(permissions[0]![1].Properties?.SourceArn)).toContain('HttpApi');
  });

  it('is IAM-guarded in the template with auth too', () => {
    const route = resourcesOfType(secured, 'AWS::ApiGatewayV2::Route').find(
      ([, candidate]) => candidate.Properties?.RouteKey === 'POST /publish',
    );
    expect(route?.[1].Properties).toMatchObject({ AuthorizationType: 'AWS_IAM' });
  });

  it('lets disconnect (presence) and publish post to connections', () => {
    for (const id of ['DisconnectLambdaFunction', 'PublishLambdaFunction']) {
      const policies = JSON.stringify(open.Resources[roleOf(open, id) as string]?.Properties?.Policies);
      expect({ id, posts: policies.includes('execute-api:ManageConnections') }).toEqual({ id, posts: true });
    }
  });
});

function routeFor(template: Template, routeKey: string) {
  const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').filter(
    ([, route]) => route.Properties?.RouteKey === routeKey,
  );
  expect(routes).toHaveLength(1);
  return routes[0]![1];
}

describe('the template with HS256 auth', () => {
  it('has a REQUEST authorizer on the token query-string parameter, backed by the authorize function', () => {
    const authorizers = resourcesOfType(secured, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    const [, authorizer] = authorizers[0]!;
    expect(authorizer.Properties).toMatchObject({
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.token'],
    });
    expect(JSON.stringify(authorizer.Properties?.AuthorizerUri)).toContain('AuthorizeLambdaFunction');
    expect(secured.Resources.AuthorizeLambdaFunction?.Properties).toMatchObject({ Handler: 'src/handler.authorize' });
  });

  it('attaches the authorizer to $connect and to no other route', () => {
    const [authorizerId] = resourcesOfType(secured, 'AWS::ApiGatewayV2::Authorizer')[0]!;
    expect(routeFor(secured, '$connect').Properties).toMatchObject({
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: authorizerId },
    });
    for (const [, route] of websocketRoutes(secured)) {
      if (route.Properties?.RouteKey === '$connect') continue;
      expect(route.Properties?.AuthorizationType ?? 'NONE').toBe('NONE');
      expect(route.Properties?.AuthorizerId).toBeUndefined();
    }
  });

  it('lets API Gateway invoke the authorize function', () => {
    const permissions = resourcesOfType(secured, 'AWS::Lambda::Permission').filter(([, permission]) =>
      JSON.stringify(permission.Properties?.FunctionName).includes('AuthorizeLambdaFunction'),
    );
    expect(permissions).toHaveLength(1);
    expect(permissions[0]![1].Properties).toMatchObject({ Principal: 'apigateway.amazonaws.com' });
  });

  it('generates the HS256 key in Secrets Manager (64 characters, named for the stage) instead of deploying the local one', () => {
    expect(secured.Resources.AuthJwtSecret).toEqual({
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: generatedJwtSecretName('dev'),
        Description: expect.any(String),
        GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
      },
    });
    expect(generatedJwtSecretName('dev')).toBe(`${SERVICE}-dev/auth-jwt-secret`);
    expect(JSON.stringify(secured).includes(LOCAL_SECRET)).toBe(false);
  });

  it('gives the ARN of that secret, the issuer and the audience to the authorize function only', () => {
    expect(environmentOf(secured, 'AuthorizeLambdaFunction')).toEqual({
      LOG_LEVEL: 'info',
      AUTH_JWT_SECRET_ARN: { Ref: 'AuthJwtSecret' },
      AUTH_JWT_ISSUER: 'https://id.example',
      AUTH_JWT_AUDIENCE: 'websockets',
    });
    for (const [logicalId] of resourcesOfType(secured, 'AWS::Lambda::Function')) {
      if (logicalId === 'AuthorizeLambdaFunction') continue;
      expect(Object.keys(environmentOf(secured, logicalId)).filter((name) => name.startsWith('AUTH_'))).toEqual([]);
    }
  });

  it('uses an existing secret when AUTH_JWT_SECRET_ARN names one, and generates none', () => {
    expect(privateNet.Resources.AuthJwtSecret).toBeUndefined();
    expect(resourcesOfType(privateNet, 'AWS::SecretsManager::Secret')).toEqual([]);
    expect(environmentOf(privateNet, 'AuthorizeLambdaFunction')).toEqual({
      LOG_LEVEL: 'info',
      AUTH_JWT_SECRET_ARN: EXISTING_SECRET_ARN,
    });
  });

  it('outputs its auth mode and the ARN of the key the authorizer reads, for `npm run smoke -- --stage` to mint with', () => {
    expect(outputValue(secured, STACK_OUTPUTS.authMode)).toBe('hs256');
    expect(outputValue(secured, STACK_OUTPUTS.jwtSecretArn)).toEqual({ Ref: 'AuthJwtSecret' });
    expect(outputValue(privateNet, STACK_OUTPUTS.authMode)).toBe('hs256');
    expect(outputValue(privateNet, STACK_OUTPUTS.jwtSecretArn)).toBe(EXISTING_SECRET_ARN);
    // The one the authorizer is given, whichever it is.
    for (const template of [secured, privateNet]) {
      expect(outputValue(template, STACK_OUTPUTS.jwtSecretArn)).toEqual(
        environmentOf(template, 'AuthorizeLambdaFunction').AUTH_JWT_SECRET_ARN,
      );
      expect(JSON.stringify(outputValue(template, STACK_OUTPUTS.websocketUrl))).toContain('WebsocketsApi');
      expect(outputValue(template, STACK_OUTPUTS.publishUrl)).toEqual(outputValue(open, STACK_OUTPUTS.publishUrl));
    }
  });
});

describe('the template without auth', () => {
  it('has no authorizer, no authorize function, no JWT secret, and an open $connect', () => {
    expect(resourcesOfType(open, 'AWS::ApiGatewayV2::Authorizer')).toEqual([]);
    expect(open.Resources.AuthorizeLambdaFunction).toBeUndefined();
    expect(open.Resources.AuthorizeFunctionRole).toBeUndefined();
    expect(resourcesOfType(open, 'AWS::SecretsManager::Secret')).toEqual([]);
    expect(routeFor(open, '$connect').Properties?.AuthorizationType ?? 'NONE').toBe('NONE');
    expect(routeFor(open, '$connect').Properties?.AuthorizerId).toBeUndefined();
    expect(JSON.stringify(open).includes('AUTH_JWT')).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------
// Network (DB_NETWORK)
// ---------------------------------------------------------------------------------------

const az = (index: number) => ({ 'Fn::Select': [index, { 'Fn::GetAZs': '' }] });

function vpcConfigOf(template: Template, logicalId: string): unknown {
  return template.Resources[logicalId]?.Properties?.VpcConfig;
}

describe('the network, in both modes', () => {
  it.each([
    ['public', () => open],
    ['private', () => privateNet],
  ])(
    '%s: its own VPC with a public subnet in each of two availability zones, routed to an internet gateway',
    (_, of) => {
      const template = of();
      expect(template.Resources.Vpc?.Properties).toMatchObject({ EnableDnsSupport: true, EnableDnsHostnames: true });
      expect(template.Resources.PublicSubnetA?.Properties).toMatchObject({
        VpcId: { Ref: 'Vpc' },
        AvailabilityZone: az(0),
      });
      expect(template.Resources.PublicSubnetB?.Properties).toMatchObject({
        VpcId: { Ref: 'Vpc' },
        AvailabilityZone: az(1),
      });
      expect(template.Resources.PublicDefaultRoute?.Properties).toMatchObject({
        RouteTableId: { Ref: 'PublicRouteTable' },
        DestinationCidrBlock: '0.0.0.0/0',
        GatewayId: { Ref: 'InternetGateway' },
      });
      expect(template.Resources.DatabaseSecurityGroup?.Properties?.VpcId).toEqual({ Ref: 'Vpc' });
      // Nothing depends on the account's default VPC: every security group and subnet names ours.
      for (const [, group] of resourcesOfType(template, 'AWS::EC2::SecurityGroup')) {
        expect(group.Properties?.VpcId).toEqual({ Ref: 'Vpc' });
      }
    },
  );
});

describe('DB_NETWORK=public (the default)', () => {
  it('puts the instance in the public subnets with a public address, and creates no NAT gateway', () => {
    expect(open.Resources.DatabaseSubnetGroup?.Properties?.SubnetIds).toEqual([
      { Ref: 'PublicSubnetA' },
      { Ref: 'PublicSubnetB' },
    ]);
    expect(open.Resources.ConnectionsDatabase?.Properties?.PubliclyAccessible).toBe(true);
    expect(resourcesOfType(open, 'AWS::EC2::NatGateway')).toEqual([]);
    expect(resourcesOfType(open, 'AWS::EC2::EIP')).toEqual([]);
    expect(open.Resources.PrivateSubnetA).toBeUndefined();
  });

  it('runs every function outside any VPC', () => {
    for (const [id] of resourcesOfType(open, 'AWS::Lambda::Function')) expect(vpcConfigOf(open, id)).toBeUndefined();
  });
});

describe('DB_NETWORK=private', () => {
  it('puts the instance in private subnets without a public address', () => {
    expect(privateNet.Resources.ConnectionsDatabase?.Properties?.PubliclyAccessible).toBe(false);
    expect(privateNet.Resources.PrivateDatabaseSubnetGroup?.Properties?.SubnetIds).toEqual([
      { Ref: 'PrivateSubnetA' },
      { Ref: 'PrivateSubnetB' },
    ]);
    expect(privateNet.Resources.PrivateSubnetA?.Properties).toMatchObject({ AvailabilityZone: az(0) });
    expect(privateNet.Resources.PrivateSubnetB?.Properties).toMatchObject({ AvailabilityZone: az(1) });
  });

  it('runs the store functions in the private subnets with their own security group, and the authorizer outside', () => {
    for (const id of STORE_FUNCTIONS) {
      expect(vpcConfigOf(privateNet, id)).toEqual({
        SecurityGroupIds: [{ 'Fn::GetAtt': ['FunctionsSecurityGroup', 'GroupId'] }],
        SubnetIds: [{ Ref: 'PrivateSubnetA' }, { Ref: 'PrivateSubnetB' }],
      });
    }
    expect(vpcConfigOf(privateNet, 'AuthorizeLambdaFunction')).toBeUndefined();
  });

  it('admits MySQL only from the functions’ security group, whatever DB_ALLOWED_CIDR says', () => {
    expect(privateNet.Resources.DatabaseSecurityGroup?.Properties?.SecurityGroupIngress).toEqual([
      {
        IpProtocol: 'tcp',
        FromPort: 3306,
        ToPort: 3306,
        SourceSecurityGroupId: { 'Fn::GetAtt': ['FunctionsSecurityGroup', 'GroupId'] },
        Description: expect.any(String),
      },
    ]);
    expect(JSON.stringify(privateNet).includes('198.51.100.0/24')).toBe(false);
  });

  it('lets the functions out only to HTTPS (through the NAT gateway) and to MySQL on the database', () => {
    expect(privateNet.Resources.FunctionsSecurityGroup?.Properties?.SecurityGroupEgress).toEqual([
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0', Description: expect.any(String) },
    ]);
    expect(privateNet.Resources.FunctionsToDatabaseEgress?.Properties).toMatchObject({
      GroupId: { 'Fn::GetAtt': ['FunctionsSecurityGroup', 'GroupId'] },
      IpProtocol: 'tcp',
      FromPort: 3306,
      ToPort: 3306,
      DestinationSecurityGroupId: { 'Fn::GetAtt': ['DatabaseSecurityGroup', 'GroupId'] },
    });
  });

  it('routes the private subnets to one NAT gateway in a public subnet (the way to the management API and Secrets Manager)', () => {
    const nats = resourcesOfType(privateNet, 'AWS::EC2::NatGateway');
    expect(nats).toHaveLength(1);
    expect(nats[0]![1].Properties).toMatchObject({
      SubnetId: { Ref: 'PublicSubnetA' },
      AllocationId: { 'Fn::GetAtt': ['NatGatewayAddress', 'AllocationId'] },
    });
    expect(privateNet.Resources.PrivateDefaultRoute?.Properties).toMatchObject({
      RouteTableId: { Ref: 'PrivateRouteTable' },
      DestinationCidrBlock: '0.0.0.0/0',
      NatGatewayId: { Ref: 'NatGateway' },
    });
    for (const subnet of ['PrivateSubnetA', 'PrivateSubnetB']) {
      expect(
        resourcesOfType(privateNet, 'AWS::EC2::SubnetRouteTableAssociation').some(
          ([, a]) =>
            JSON.stringify(a.Properties) ===
            JSON.stringify({ SubnetId: { Ref: subnet }, RouteTableId: { Ref: 'PrivateRouteTable' } }),
        ),
      ).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Least privilege (every function of every packaging)
// ---------------------------------------------------------------------------------------

interface Permissions {
  role: string;
  managed: unknown[];
  statements: PolicyStatement[];
}

function permissionsOf(template: Template, functionId: string): Permissions {
  const role = roleOf(template, functionId);
  if (role === undefined) throw new Error(`${functionId} has no role of ours`);
  return {
    role,
    managed: (template.Resources[role]?.Properties?.ManagedPolicyArns ?? []) as unknown[],
    statements: roleStatements(template, role),
  };
}

const actionsOf = (statement: PolicyStatement) => [statement.Action].flat();
const resourcesOf = (statement: PolicyStatement) => [statement.Resource].flat();

/** The resources a function may use an action on (statements are all Allow). */
function allowed(permissions: Permissions, action: string): unknown[] {
  return permissions.statements.filter((s) => actionsOf(s).includes(action)).flatMap(resourcesOf);
}

const DATABASE_SECRET = { 'Fn::GetAtt': ['ConnectionsDatabase', 'MasterUserSecret.SecretArn'] };
/** What AWSLambdaVPCAccessExecutionRole allows beyond logs: the actions Lambda uses to attach a function to a VPC. */
const VPC_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];
/** The only actions a role may have on `*`: EC2 Describe actions take no resource. */
const DESCRIBE_ONLY_ON_ALL = ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'];
const ec2Arn = (rest: string) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:${rest}`,
});
const connections = (stage: string, method = 'POST') => ({
  'Fn::Sub': `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${WebsocketsApi}/${stage}/${method}/@connections/*`,
});

/** Each packaging with its stage, whether its store functions are in the VPC, and the authorizer's secret. */
const PACKAGINGS: [string, () => Template, string, boolean, unknown][] = [
  ['open', () => open, 'qa', false, undefined],
  ['secured', () => secured, 'dev', false, { Ref: 'AuthJwtSecret' }],
  ['private', () => privateNet, 'prod', true, EXISTING_SECRET_ARN],
];

describe.each(PACKAGINGS)('least privilege in the %s template', (_, of, stage, vpc, jwtSecret) => {
  it('gives no function the framework’s shared default role, no role a managed policy, and no role a wildcard action or resource', () => {
    const template = of();
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
    for (const [id, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
      // A managed policy's statements are not in the template: none may hide a wildcard there.
      expect({ id, managed: role.Properties?.ManagedPolicyArns }).toEqual({ id, managed: undefined });
      const statements = roleStatements(template, id);
      for (const statement of statements) {
        expect(statement.Effect).toBe('Allow');
        for (const action of actionsOf(statement)) expect(action).not.toMatch(/\*/);
        // `*` only where EC2 supports no resource-level permission: the two Describe actions.
        if (resourcesOf(statement).includes('*')) {
          expect({ id, actions: actionsOf(statement) }).toEqual({ id, actions: DESCRIBE_ONLY_ON_ALL });
        }
      }
    }
  });

  it('lets each function write only its own logs', () => {
    for (const [id] of resourcesOfType(of(), 'AWS::Lambda::Function')) {
      const permissions = permissionsOf(of(), id);
      const logGroup = { 'Fn::GetAtt': [id.replace(/LambdaFunction$/, 'LogGroup'), 'Arn'] };
      expect(allowed(permissions, 'logs:PutLogEvents')).toContainEqual(logGroup);
      // Its role's other log groups are those of functions sharing the role, never another's.
      for (const group of allowed(permissions, 'logs:PutLogEvents')) {
        const owner = (group as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0].replace(/LogGroup$/, 'LambdaFunction');
        expect(permissionsOf(of(), owner).role).toBe(permissions.role);
      }
    }
  });

  it('lets only the schema step read the database secret, every stage of it, AWSPENDING too (no condition on it)', () => {
    // During a rotation the schema step reads GetSecretValue with VersionStage AWSPENDING
    // (src/store/mysql-password.ts): a secretsmanager:VersionStage condition would refuse it.
    const reads = permissionsOf(of(), 'SchemaLambdaFunction').statements.filter((s) =>
      actionsOf(s).includes('secretsmanager:GetSecretValue'),
    );
    expect(reads.map((s) => [resourcesOf(s), (s as { Condition?: unknown }).Condition])).toEqual([
      [[DATABASE_SECRET], undefined],
    ]);
    for (const id of STORE_FUNCTIONS) {
      expect({ id, reads: allowed(permissionsOf(of(), id), 'secretsmanager:GetSecretValue') }).toEqual({
        id,
        reads: [],
      });
    }
  });

  it('lets the store functions connect as the application user of this instance, and nothing else of RDS', () => {
    const appUser = {
      'Fn::Sub':
        'arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ConnectionsDatabase.DbiResourceId}/websockets_app',
    };
    for (const [id] of resourcesOfType(of(), 'AWS::Lambda::Function')) {
      const permissions = permissionsOf(of(), id);
      const store = STORE_FUNCTIONS.includes(id);
      expect({ id, connect: allowed(permissions, 'rds-db:connect') }).toEqual({ id, connect: store ? [appUser] : [] });
      const rds = permissions.statements.flatMap(actionsOf).filter((action) => action.startsWith('rds'));
      expect({ id, rds }).toEqual({ id, rds: store ? ['rds-db:connect'] : [] });
    }
  });

  it('lets connect read no secret and post to no connection', () => {
    const permissions = permissionsOf(of(), 'ConnectLambdaFunction');
    expect(allowed(permissions, 'execute-api:ManageConnections')).toEqual([]);
    expect(allowed(permissions, 'secretsmanager:GetSecretValue')).toEqual([]);
  });

  it('lets the sweep ask about (GetConnection) and post to only this API’s connections in this stage', () => {
    const permissions = permissionsOf(of(), 'SweepLambdaFunction');
    expect(allowed(permissions, 'execute-api:ManageConnections')).toEqual([
      connections(stage, 'POST'),
      connections(stage, 'GET'),
    ]);
  });

  it('lets disconnect, default and message post only to this API’s connections in this stage', () => {
    for (const id of ['DisconnectLambdaFunction', 'DefaultLambdaFunction', 'MessageLambdaFunction']) {
      const permissions = permissionsOf(of(), id);
      expect(allowed(permissions, 'execute-api:ManageConnections')).toEqual([connections(stage)]);
    }
  });

  it('lets the authorizer (when there is one) read only the JWT secret: not the database’s, and post nothing', () => {
    const template = of();
    if (jwtSecret === undefined) {
      expect(template.Resources.AuthorizeLambdaFunction).toBeUndefined();
      return;
    }
    const permissions = permissionsOf(template, 'AuthorizeLambdaFunction');
    expect(allowed(permissions, 'secretsmanager:GetSecretValue')).toEqual([jwtSecret]);
    expect(allowed(permissions, 'execute-api:ManageConnections')).toEqual([]);
    // ... and no store function may read the JWT secret.
    for (const id of STORE_FUNCTIONS) {
      expect(allowed(permissionsOf(template, id), 'secretsmanager:GetSecretValue')).not.toContainEqual(jwtSecret);
    }
  });

  const vpcTitle = vpc
    ? 'gives the store functions the network-interface permissions Lambda needs in their subnets, and the authorizer none'
    : 'gives no function the VPC permissions: they run outside any VPC';
  it(vpcTitle, () => {
    const template = of();
    for (const [id] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      const permissions = permissionsOf(template, id);
      const inVpc = vpc && id !== 'AuthorizeLambdaFunction';
      const ec2 = permissions.statements.flatMap(actionsOf).filter((action) => action.startsWith('ec2:'));
      expect({ id, ec2: ec2.sort() }).toEqual({ id, ec2: inVpc ? [...VPC_ACTIONS].sort() : [] });
      if (!inVpc) continue;
      expect(allowed(permissions, 'ec2:CreateNetworkInterface')).toEqual([
        ec2Arn('network-interface/*'),
        ec2Arn('subnet/${PrivateSubnetA}'),
        ec2Arn('subnet/${PrivateSubnetB}'),
        ec2Arn('security-group/${FunctionsSecurityGroup.GroupId}'),
      ]);
      for (const action of [
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ]) {
        expect({ action, on: allowed(permissions, action) }).toEqual({ action, on: [ec2Arn('network-interface/*')] });
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// No secret anywhere; cfn-lint clean
// ---------------------------------------------------------------------------------------

describe.each(PACKAGINGS)('the %s template holds no secret', (_, of) => {
  it('has no password or key value in its text, and no password or key in any function environment', () => {
    const template = of();
    const text = JSON.stringify(template);
    // (match lists, not the template, in a failure's message: it is 100 KB)
    expect([LOCAL_SECRET, LEGACY_PASSWORD].filter((value) => text.includes(value))).toEqual([]);
    expect(text.match(/"MasterUserPassword"|DB_PASSWORD|"AUTH_JWT_SECRET"|NoEcho/g)).toBeNull();
    for (const [id] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      for (const [name, value] of Object.entries(environmentOf(template, id))) {
        // Only references to secrets, never secrets: *_SECRET_ARN, and no PASSWORD or KEY at all.
        expect(name).not.toMatch(/PASSWORD|KEY|TOKEN|SECRET(?!_ARN$)/);
        if (name.endsWith('_SECRET_ARN')) expect(typeof value === 'string' ? value : 'ref').toMatch(/^(arn:|ref$)/);
      }
    }
  });
});

const skipCfnLint = process.env.SKIP_CFN_LINT === '1';
const lintSuite = skipCfnLint ? describe.skip : describe;

lintSuite('cfn-lint', () => {
  const findings = new Map<string, CfnLintFinding[]>();

  beforeAll(async () => {
    if (!cfnLintInstalled()) {
      throw new Error(
        'cfn-lint is not installed: `pip install cfn-lint` (1.x), then run the deploy tests again. ' +
          'SKIP_CFN_LINT=1 skips this check explicitly.',
      );
    }
    await Promise.all(
      PACKAGINGS.map(async ([name, of]) => {
        findings.set(name, await runCfnLint(of(), name));
      }),
    );
  });

  it.each(PACKAGINGS.map(([name]) => name))(
    'finds no error or warning in the %s template beyond the accepted ones',
    (name) => {
      expect(unacceptedFindings(findings.get(name) ?? [])).toEqual([]);
    },
  );

  it('accepts each finding for a one-line reason, and lists none that no longer occurs', () => {
    const all = [...findings.values()].flat();
    for (const entry of ACCEPTED_FINDINGS) {
      expect(entry.reason).toMatch(/^[^\n]{20,200}$/);
      expect(all.some((finding) => isAccepted(finding, entry))).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------
// settings.js: what it refuses before anything is built
// ---------------------------------------------------------------------------------------

describe('settings.js', () => {
  let dir: string;
  beforeAll(() => {
    dir = copyService('settings');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function settingsFor(envYml: string): Promise<Record<string, unknown>> {
    writeFileSync(join(dir, '.env.yml'), envYml);
    const file = join(dir, 'settings.js');
    delete require.cache[require.resolve(file)];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require(file) as (input?: unknown) => Promise<Record<string, unknown>>;
    return load({ options: {} });
  }

  it.each([
    ['DB_NETWORK: internal\n', /DB_NETWORK must be one of public, private/],
    ['AUTH_MODE: rs256\n', /AUTH_MODE must be one of off, hs256/],
    ['AUTH_JWT_SECRET_ARN: my-secret\n', /AUTH_JWT_SECRET_ARN must be the full ARN/],
    ['AUTH_JWT_SECRET: short\n', /at least 32 characters/],
  ])('refuses %j with a readable message', async (envYml, message) => {
    await expect(settingsFor(envYml)).rejects.toThrow(message);
  });

  it('keeps auth off unless a mode, a key or a secret is given, and never passes a key to the deployed authorizer', async () => {
    expect((await settingsFor('')).AUTH_MODE).toBe('off');
    const settings = await settingsFor(`AUTH_JWT_SECRET: ${LOCAL_SECRET}\n`);
    expect(settings.AUTH_MODE).toBe('hs256');
    expect(JSON.stringify(settings.AUTHORIZE_FUNCTION)).not.toContain(LOCAL_SECRET);
    expect((await settingsFor(`AUTH_MODE: off\nAUTH_JWT_SECRET: ${LOCAL_SECRET}\n`)).AUTHORIZE_FUNCTION).toBeNull();
  });
});

describe('flood bounds', () => {
  /** The WebSocket API's stage (the HTTP API of POST /publish has a stage of its own). */
  function stageOf(template: Template) {
    const stages = resourcesOfType(template, 'AWS::ApiGatewayV2::Stage').filter(
      ([, stage]) => JSON.stringify(stage.Properties?.ApiId) === JSON.stringify({ Ref: 'WebsocketsApi' }),
    );
    expect(stages.map(([id]) => id)).toEqual(['WebsocketsDeploymentStage']);
    return stages[0]![1];
  }

  it('throttles every route of the WebSocket stage, by default as the capacity model derives it for the instance', () => {
    // open: db.t4g.small (150 connections); secured: the default db.t4g.micro (66)
    for (const [template, maxConnections] of [
      [open, 150],
      [secured, 66],
    ] as const) {
      const { burst, rate } = capacity.throttleDefaults(capacity.containerBudget({ maxConnections }));
      expect(stageOf(template).Properties?.DefaultRouteSettings).toEqual({
        ThrottlingBurstLimit: burst,
        ThrottlingRateLimit: rate,
      });
    }
    expect(stageOf(open).Properties).toMatchObject({ ApiId: { Ref: 'WebsocketsApi' }, StageName: 'qa' });
  });

  it('takes the throttling from WS_THROTTLE_BURST and WS_THROTTLE_RATE', () => {
    expect(stageOf(bounded).Properties?.DefaultRouteSettings).toEqual({
      ThrottlingBurstLimit: 200,
      ThrottlingRateLimit: 75.5,
    });
  });

  it("passes the framework's configuration validation with the bounds on and off", () => {
    for (const output of outputs) expect(output).not.toMatch(/Invalid configuration/i);
  });

  it('packages without a warning, with auth on and off', () => {
    for (const output of outputs) expect(output).not.toMatch(/warning/i);
  });

  it('reserves no concurrency by default: a new account (10 executions in all) can deploy', () => {
    for (const template of [open, secured]) {
      for (const [id, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
        expect({ id, reserved: fn.Properties?.ReservedConcurrentExecutions }).toEqual({ id, reserved: undefined });
      }
    }
  });

  it('reserves RESERVED_CONCURRENCY for each WebSocket function that uses the store, 1 for the sweep and 5 for departures', () => {
    const reserved = Object.fromEntries(
      resourcesOfType(bounded, 'AWS::Lambda::Function').map(([id, fn]) => [
        id,
        fn.Properties?.ReservedConcurrentExecutions,
      ]),
    );
    expect(reserved).toEqual({
      ConnectLambdaFunction: 20,
      DisconnectLambdaFunction: 20,
      DefaultLambdaFunction: 20,
      MessageLambdaFunction: 20,
      PublishLambdaFunction: 20,
      SweepLambdaFunction: 1,
      // What its event source may run at once (infra/concurrency.js DEPARTURES_CONCURRENCY).
      DeparturesLambdaFunction: 5,
    });
  });

  it("gives every store function the instance's connection budget as DB_MAX_CONNECTIONS", () => {
    const budgets = (template: Template) => STORE_FUNCTIONS.map((id) => environmentOf(template, id).DB_MAX_CONNECTIONS);
    expect(budgets(secured)).toEqual(STORE_FUNCTIONS.map(() => '66')); // db.t4g.micro, the default
    expect(budgets(open)).toEqual(STORE_FUNCTIONS.map(() => '150')); // db.t4g.small
    expect(budgets(bounded)).toEqual(STORE_FUNCTIONS.map(() => '1000')); // set explicitly
    expect(environmentOf(secured, 'AuthorizeLambdaFunction').DB_MAX_CONNECTIONS).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------
// Who may invoke the functions: this API's routes in this stage, never any API Gateway
// ---------------------------------------------------------------------------------------

/** What API Gateway's source ARN of an invocation of this template's WebSocket API starts with. */
const OWN_API_ARN = 'arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketsApi}/';

/** The function a resource's definition names (an integration's URI, a permission's FunctionName). */
const functionsNamedBy = (template: Template, value: unknown) =>
  resourcesOfType(template, 'AWS::Lambda::Function')
    .map(([id]) => id)
    .filter((id) => JSON.stringify(value).includes(`"${id}"`));

describe.each(PACKAGINGS)('the invoke permissions of the %s template', (_, of, stage) => {
  it('name the source of every permission (without one, any API in any account may invoke the function)', () => {
    const unscoped = resourcesOfType(of(), 'AWS::Lambda::Permission')
      .filter(([, permission]) => permission.Properties?.SourceArn === undefined)
      .map(([id]) => id);
    expect(unscoped).toEqual([]);
  });

  it('let each WebSocket function be invoked by its own routes of this API and stage only, and the authorizer by this API only', () => {
    const template = of();
    const integrations = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration');
    const routesOf = (functionId: string) =>
      websocketRoutes(template)
        .filter(([, route]) =>
          integrations.some(
            ([integrationId, integration]) =>
              JSON.stringify(route.Properties?.Target).includes(`"${integrationId}"`) &&
              functionsNamedBy(template, integration.Properties?.IntegrationUri).includes(functionId),
          ),
        )
        .map(([, route]) => route.Properties?.RouteKey as string);
    const permissions = resourcesOfType(template, 'AWS::Lambda::Permission').filter(
      ([, permission]) =>
        permission.Properties?.Principal === 'apigateway.amazonaws.com' &&
        !JSON.stringify(permission.Properties?.SourceArn).includes('HttpApi'),
    );
    expect(permissions.length).toBeGreaterThanOrEqual(4);
    for (const [id, permission] of permissions) {
      const [functionId] = functionsNamedBy(template, permission.Properties?.FunctionName);
      const sourceArn = (permission.Properties?.SourceArn as { 'Fn::Sub'?: string })['Fn::Sub'] ?? '';
      expect({ id, prefix: sourceArn.slice(0, OWN_API_ARN.length) }).toEqual({ id, prefix: OWN_API_ARN });
      const rest = sourceArn.slice(OWN_API_ARN.length);
      if (functionId === 'AuthorizeLambdaFunction') {
        expect(rest).toBe('authorizers/*');
        continue;
      }
      const routes = routesOf(functionId!);
      expect({ id, routes: routes.length > 0 }).toEqual({ id, routes: true });
      // One route: exactly it. Several (the protocol's actions share one permission): this stage's routes.
      if (routes.length === 1) expect({ id, rest }).toEqual({ id, rest: `${stage}/${routes[0]}` });
      else expect({ id, rest }).toEqual({ id, rest: `${stage}/*` });
    }
  });
});

// ---------------------------------------------------------------------------------------
// A stack's whole life: remove, and a switch of DB_NETWORK
// ---------------------------------------------------------------------------------------

describe.each(PACKAGINGS)('the database of the %s template, over the stack’s life', (_, of) => {
  it('depends on the internet gateway’s attachment, so a remove deletes it before the gateway is detached', () => {
    expect([of().Resources.ConnectionsDatabase?.DependsOn].flat()).toContain('InternetGatewayAttachment');
  });

  it('sits in the one subnet group of its mode', () => {
    const groups = resourcesOfType(of(), 'AWS::RDS::DBSubnetGroup').map(([id]) => id);
    expect(groups).toHaveLength(1);
    expect(of().Resources.ConnectionsDatabase?.Properties?.DBSubnetGroupName).toEqual({ Ref: groups[0] });
  });
});

describe('a switch of DB_NETWORK', () => {
  it('changes the subnet group’s logical id, so CloudFormation creates a new group and replaces the instance instead of moving its subnets in place', () => {
    const groupOf = (template: Template) => resourcesOfType(template, 'AWS::RDS::DBSubnetGroup').map(([id]) => id);
    expect(groupOf(open)).toEqual(['DatabaseSubnetGroup']);
    expect(groupOf(privateNet)).toEqual(['PrivateDatabaseSubnetGroup']);
    expect(groupOf(secured)).toEqual(groupOf(open));
  });
});

// ---------------------------------------------------------------------------------------
// The deployer's permissions cover every resource type (docs/deploy-permissions.md)
// ---------------------------------------------------------------------------------------

// eslint-disable-next-line @typescript-eslint/no-require-imports
const deployer = require('../../infra/deployer-policy.js') as {
  RESOURCE_ACTIONS: Record<string, string[]>;
  resourceTypesOf(template: Template): string[];
};

describe.each(PACKAGINGS)('the deployer policy and the %s template', (_, of) => {
  it('has actions for every resource type the template holds', () => {
    const missing = deployer.resourceTypesOf(of()).filter((type) => !Object.hasOwn(deployer.RESOURCE_ACTIONS, type));
    expect(missing).toEqual([]);
  });
});

describe('the deployer policy', () => {
  it('lists no resource type that no packaging holds', () => {
    const held = new Set(PACKAGINGS.flatMap(([, of]) => deployer.resourceTypesOf(of())));
    expect(Object.keys(deployer.RESOURCE_ACTIONS).filter((type) => !held.has(type))).toEqual([]);
  });
});
