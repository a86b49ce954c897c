/**
 * What `sls deploy` would create, read from the CloudFormation template and the zip
 * that `sls package` writes here with no AWS credentials and no network.
 *
 * Two packagings: the default (open) service, with the settings a user would put in
 * .env.yml, and the same with AUTH_JWT_SECRET, where a REQUEST authorizer reading the
 * `token` query-string parameter guards `$connect`.
 */
import { packageService, resourcesOfType } from '../support/package';
import type { Packaged, Template } from '../support/package';

jest.setTimeout(300_000);

const SECRET = 'deploy-test-secret-that-is-long-enough-0123';
const ENV_YML = [
  'DB_PASSWORD: not-a-real-password',
  `AUTH_JWT_SECRET: ${SECRET}`,
  'AUTH_JWT_ISSUER: https://id.example',
  'AUTH_JWT_AUDIENCE: websockets',
  '',
].join('\n');

const OPEN_ENV_YML = [
  'STAGE: qa',
  'REGION: eu-west-1',
  'DB_NAME: chat',
  'DB_USER: chatadmin',
  'DB_PASSWORD: not-a-real-password',
  'DB_INSTANCE_CLASS: db.t4g.small',
  'DB_ALLOCATED_STORAGE: 30',
  'DB_ALLOWED_CIDR: 203.0.113.0/24',
  '',
].join('\n');

/** Flood bounds set (issue 9, item 12): throttling, a reservation, an explicit connection budget. */
const BOUNDED_ENV_YML = [
  'DB_PASSWORD: not-a-real-password',
  'DB_INSTANCE_CLASS: db.r6g.large',
  'DB_MAX_CONNECTIONS: 1000',
  'RESERVED_CONCURRENCY: 20',
  'WS_THROTTLE_BURST: 200',
  'WS_THROTTLE_RATE: 75.5',
  '',
].join('\n');

let secured: Template;
let open: Template;
let openPackage: Packaged;
let bounded: Template;
let outputs: string[];

beforeAll(async () => {
  // Three packagings at once: each takes about a minute, mostly TypeScript and zipping.
  const [a, b, c] = await Promise.all([
    packageService({ envYml: ENV_YML }),
    packageService({ envYml: OPEN_ENV_YML }),
    packageService({ envYml: BOUNDED_ENV_YML }),
  ]);
  secured = a.template;
  openPackage = b;
  open = b.template;
  bounded = c.template;
  outputs = [a.output, b.output, c.output];
});

const STORE_FUNCTIONS = [
  'ConnectLambdaFunction',
  'DisconnectLambdaFunction',
  'DefaultLambdaFunction',
  'MessageLambdaFunction',
  'SweepLambdaFunction',
  'PublishLambdaFunction',
];

/** The routes of the WebSocket API (the HTTP API has routes of its own: POST /publish). */
function websocketRoutes(template: Template) {
  return resourcesOfType(template, 'AWS::ApiGatewayV2::Route').filter(
    ([, route]) => JSON.stringify(route.Properties?.ApiId) === JSON.stringify({ Ref: 'WebsocketsApi' }),
  );
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
      ].sort(),
    );
    expect(routes.$connect).toContain('ConnectWebsocketsIntegration');
    expect(routes.$disconnect).toContain('DisconnectWebsocketsIntegration');
    expect(routes.$default).toContain('DefaultWebsocketsIntegration');
    for (const action of ['sendmessage', 'join', 'leave', 'publish', 'send', 'members', 'ping']) {
      expect(routes[action]).toContain('MessageWebsocketsIntegration');
    }
  });

  it('runs every function on nodejs24.x, the stage and region from .env.yml', () => {
    const functions = resourcesOfType(open, 'AWS::Lambda::Function');
    expect(functions.map(([id]) => id).sort()).toEqual([...STORE_FUNCTIONS].sort());
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x' });
      expect(fn.Properties?.FunctionName).toMatch(/^aws-node-websockets-qa-/);
    }
    expect(openPackage.output).toMatch(/stage qa \(eu-west-1\)/);
  });

  it('creates an encrypted MySQL 8 instance, kept as a snapshot on delete or replace', () => {
    const db = open.Resources.ConnectionsDatabase as Template['Resources'][string] & {
      DeletionPolicy?: string;
      UpdateReplacePolicy?: string;
    };
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
      MasterUserPassword: 'not-a-real-password',
      PubliclyAccessible: true,
      VPCSecurityGroups: [{ 'Fn::GetAtt': ['DatabaseSecurityGroup', 'GroupId'] }],
      DBParameterGroupName: { Ref: 'DatabaseParameters' },
    });
  });

  it('requires TLS on the server and admits MySQL only from the configured CIDR', () => {
    expect(open.Resources.DatabaseParameters?.Properties).toMatchObject({
      Family: expect.stringMatching(/^mysql8\./),
      Parameters: { require_secure_transport: '1' },
    });
    expect(open.Resources.DatabaseSecurityGroup?.Properties?.SecurityGroupIngress).toEqual([
      { IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306, CidrIp: '203.0.113.0/24' },
    ]);
  });

  it('outputs the database endpoint', () => {
    expect(JSON.stringify(open.Outputs?.DatabaseEndpoint)).toContain('ConnectionsDatabase');
  });

  it('wires the database into every function that uses the store', () => {
    for (const id of STORE_FUNCTIONS) {
      expect(environmentOf(open, id)).toMatchObject({
        DB_HOST: { 'Fn::GetAtt': ['ConnectionsDatabase', 'Endpoint.Address'] },
        DB_PORT: { 'Fn::GetAtt': ['ConnectionsDatabase', 'Endpoint.Port'] },
        DB_NAME: 'chat',
        DB_USER: 'chatadmin',
        DB_PASSWORD: 'not-a-real-password',
      });
    }
  });

  it("lets the functions post only to this API's own connections, in this stage", () => {
    const role = open.Resources.WebSocketFunctionsRole;
    expect(role?.Type).toBe('AWS::IAM::Role');
    const statements = JSON.stringify(role?.Properties?.Policies);
    expect(statements).toContain('execute-api:ManageConnections');
    expect(statements).toContain('${WebsocketsApi}/qa/POST/@connections/*');
    // The framework's default role (which grants every API in the account) is not there.
    expect(open.Resources.IamRoleLambdaExecution).toBeUndefined();
    expect(JSON.stringify(open)).not.toContain('execute-api:*:*:*');
    for (const id of STORE_FUNCTIONS) {
      expect(open.Resources[id]?.Properties?.Role).toEqual({ 'Fn::GetAtt': ['WebSocketFunctionsRole', 'Arn'] });
    }
  });

  it('sweeps orphaned connections on a schedule', () => {
    const rules = resourcesOfType(open, 'AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    expect(rules[0]![1].Properties).toMatchObject({ ScheduleExpression: 'rate(15 minutes)' });
  });

  it('packages a zip under 3 MB with our own SDK client and only what runs', () => {
    expect(openPackage.zipBytes).toBeLessThan(3 * 1024 * 1024);
    const entries = openPackage.zipEntries;
    expect(entries).toContain('src/handler.js');
    expect(entries).toContain('node_modules/@aws-sdk/client-apigatewaymanagementapi/package.json');
    expect(entries).toContain('node_modules/serverless-mysql/index.js');
    const unwanted = entries.filter((entry) =>
      /(\.d\.ts|\.map|\.md)$|^test\/|^scripts\/|^\.env\.yml|node_modules\/(@types|better-sqlite3|serverless|serverless-offline|typescript|jest)\/|^src\/embedded-store\.js$/.test(
        entry,
      ),
    );
    expect(unwanted).toEqual([]);
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
    expect(environment).toMatchObject({ DB_NAME: 'chat', PRESENCE_MAX_MEMBERS: '100' });
    expect(environment.WEBSOCKET_API_ENDPOINT).toEqual({
      'Fn::Sub': 'https://${WebsocketsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/qa',
    });
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
    expect(permissions.map(([, permission]) => permission.Properties?.Principal)).toEqual(['apigateway.amazonaws.com']);
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
      const role = open.Resources[id]?.Properties?.Role as { 'Fn::GetAtt': [string, string] };
      const policies = JSON.stringify(open.Resources[role['Fn::GetAtt'][0]]?.Properties?.Policies);
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

function environmentOf(template: Template, logicalId: string): Record<string, unknown> {
  const fn = template.Resources[logicalId];
  const environment = fn?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
  return environment?.Variables ?? {};
}

describe('the template with AUTH_JWT_SECRET set', () => {
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

  it('gives the secret, issuer and audience to the authorize function only', () => {
    expect(environmentOf(secured, 'AuthorizeLambdaFunction')).toMatchObject({
      AUTH_JWT_SECRET: SECRET,
      AUTH_JWT_ISSUER: 'https://id.example',
      AUTH_JWT_AUDIENCE: 'websockets',
    });
    for (const [logicalId] of resourcesOfType(secured, 'AWS::Lambda::Function')) {
      if (logicalId === 'AuthorizeLambdaFunction') continue;
      expect(Object.keys(environmentOf(secured, logicalId)).filter((name) => name.startsWith('AUTH_'))).toEqual([]);
    }
  });
});

describe('the template without AUTH_JWT_SECRET', () => {
  it('has no authorizer, no authorize function, and an open $connect', () => {
    expect(resourcesOfType(open, 'AWS::ApiGatewayV2::Authorizer')).toEqual([]);
    expect(open.Resources.AuthorizeLambdaFunction).toBeUndefined();
    expect(routeFor(open, '$connect').Properties?.AuthorizationType ?? 'NONE').toBe('NONE');
    expect(routeFor(open, '$connect').Properties?.AuthorizerId).toBeUndefined();
    expect(JSON.stringify(open)).not.toContain('AUTH_JWT');
  });
});

describe('flood bounds (issue 9, item 12)', () => {
  function stageOf(template: Template) {
    const stages = resourcesOfType(template, 'AWS::ApiGatewayV2::Stage');
    expect(stages.map(([id]) => id)).toEqual(['WebsocketsDeploymentStage']);
    return stages[0]![1];
  }

  it('throttles every route of the WebSocket stage, by default to a burst of 50 and 25 per second', () => {
    for (const template of [open, secured]) {
      expect(stageOf(template).Properties?.DefaultRouteSettings).toEqual({
        ThrottlingBurstLimit: 50,
        ThrottlingRateLimit: 25,
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

  it('reserves no concurrency by default: a new account (10 executions in all) can deploy', () => {
    for (const template of [open, secured]) {
      for (const [id, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) {
        expect({ id, reserved: fn.Properties?.ReservedConcurrentExecutions }).toEqual({ id, reserved: undefined });
      }
    }
  });

  it('reserves RESERVED_CONCURRENCY for each WebSocket function that uses the store, and 1 for the sweep', () => {
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
