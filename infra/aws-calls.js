// Every AWS call made with a function's role, once: by our code (src/aws/: the management API's
// PostToConnection and GetConnection, Lambda's Invoke, Secrets Manager's GetSecretValue, SQS's
// SendMessage), by RDS with a token our code signs (rds-db:connect) and by Lambda itself with the
// function's role (its logs, a failed shard sent to the on-failure queue, the departures queue
// its event source reads, the network interfaces of a function in a VPC). infra/roles.js builds each role from the rows
// of its functions, so a role allows exactly what its functions call. Read at build time only
// (settings.js, the tests, the docs' generator): infra/ is not in the zip.
//
// A row: which functions make the call, the IAM action, the ARN the call really targets
// (`{part}`s: PARTS says where each comes from), where it is made and why, the statement (Sid)
// its grant goes into, and the grant: what the role allows, in the template's terms.
// test/deploy/roles.test.ts resolves every packaged template for a sample account and checks
// with an IAM policy evaluator that each function may make each call of its rows on that ARN and
// nothing beside it (another API, stage, function, secret, queue, account, region); and that
// every call site in src/ (signedPost, an SDK command) has its row.
//
// To add a call: a row here (the functions, the action, the target, `site` for our code), and
// its `sid`: a new one adds a statement to the roles of those functions, an existing one adds
// the action or resource to that statement (a row with the same action and grant adds nothing,
// e.g. another read of the same secret).
'use strict';

const { FUNCTION_SUBNETS, FUNCTIONS_SECURITY_GROUP } = require('./network');

/** The functions that use the connection store (serverless.yml). */
const STORE_FUNCTIONS = ['connect', 'disconnect', 'default', 'message', 'publish', 'deliver', 'sweep', 'departures'];
/** The deploy step: the schema's custom resource (src/deploy/), which reaches the database too. */
const DEPLOY_FUNCTIONS = ['schema'];
/** Every function that connects to the database (in private mode, from the VPC). */
const DATABASE_FUNCTIONS = [...STORE_FUNCTIONS, ...DEPLOY_FUNCTIONS];
const ALL_FUNCTIONS = [...DATABASE_FUNCTIONS, 'authorize'];

/**
 * Where each part of a target ARN comes from, for a function of the packaged template: its own
 * environment and definition, as the code reads them. `free` parts vary with each call (a
 * connection id): the grant must allow any value; every other part is pinned, and the
 * simulation changes each in turn and expects a denial.
 */
const PARTS = {
  partition: { from: 'the stack (AWS::Partition)' },
  region: { from: 'the stack (AWS::Region)' },
  account: { from: 'the stack (AWS::AccountId)' },
  apiId: { from: 'the host of WEBSOCKET_API_ENDPOINT ({apiId}.execute-api.{region}.{suffix}), where posts go' },
  stage: { from: 'the last segment of the path of WEBSOCKET_API_ENDPOINT' },
  connectionId: { from: "the connection's id", free: true },
  deliverFunction: { from: 'DELIVER_FUNCTION' },
  eventBus: { from: "EVENT_BUS_NAME (the stage's bus, serverless.yml EventBus)" },
  dbSecretArn: { from: 'DB_SECRET_ARN (the secret RDS keeps the master password in)' },
  dbResourceId: { from: "the instance's DbiResourceId (ConnectionsDatabase), which names it in rds-db ARNs" },
  dbUser: { from: 'DB_USER (the application user the deploy makes)' },
  jwtSecretArn: { from: 'AUTH_JWT_SECRET_ARN' },
  failuresQueueArn: { from: "the function's on-failure destination (EventInvokeConfig)" },
  departuresQueueArn: { from: "DEPARTURES_QUEUE_URL (the stage's departures queue, serverless.yml DeparturesQueue)" },
  sourceQueueArn: { from: "the queue of the function's SQS event source mapping (EventSourceArn)" },
  functionName: { from: "the function's name (its log group is /aws/lambda/{functionName})" },
  logStream: { from: 'the log stream Lambda creates per container', free: true },
  subnet: { from: "each subnet of the function's VpcConfig" },
  securityGroup: { from: "each security group of the function's VpcConfig" },
  networkInterfaceId: { from: 'the interface Lambda creates', free: true },
};

const sub = (text) => ({ 'Fn::Sub': text });
const arnPrefix = (service) => `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}`;
const ec2Grant = (rest) => sub(`${arnPrefix('ec2')}:${rest}`);
const connectionsGrant = (stage, method) =>
  sub(`${arnPrefix('execute-api')}:\${WebsocketsApi}/${stage}/${method}/@connections/*`);

/** The log group the framework creates for a function (its logical id, e.g. ConnectLogGroup). */
const logGroupOf = (functionName) => `${functionName.charAt(0).toUpperCase()}${functionName.slice(1)}LogGroup`;

/**
 * @typedef {object} GrantContext
 * @property {string} stage the API stage (`…/{api}/{stage}/POST/@connections/*`)
 * @property {string} service the service name (functions are `{service}-{stage}-{name}`)
 * @property {string[]} functions the functions of the role being built
 * @property {unknown} [jwtSecret] the HS256 key's secret (an ARN, or a Ref to the generated one)
 * @property {string} [dbUser] the application user the store functions connect as
 */

/**
 * @typedef {object} Call
 * @property {string} id
 * @property {string[]} functions the functions that make it (all of a role's functions, or none)
 * @property {string[]} actions
 * @property {string[]} targets the ARNs the call authorizes, `{part}`s from PARTS
 * @property {'vpc' | 'jwtSecret'} [when] only in private mode / only with an HS256 secret
 * @property {string} [site] `file#Container.method` of our code that makes it (scanned in src/)
 * @property {string} [source] where Lambda is told to make it with the function's role
 * @property {string} why
 * @property {string} sid the statement its grant goes into
 * @property {(context: GrantContext) => unknown[]} grant
 */

/** @type {Call[]} */
const CALLS = [
  {
    id: 'write-logs',
    functions: ALL_FUNCTIONS,
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    targets: ['arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{functionName}:log-stream:{logStream}'],
    source: "Lambda, with the function's role (the log group is the framework's, serverless.yml logRetentionInDays)",
    why: "the function's own logs (its structured log lines and the EMF metrics lines), never another's",
    sid: 'OwnLogsOnly',
    grant: ({ functions }) => functions.map((name) => ({ 'Fn::GetAtt': [logGroupOf(name), 'Arn'] })),
  },
  {
    id: 'read-database-secret',
    functions: DEPLOY_FUNCTIONS,
    actions: ['secretsmanager:GetSecretValue'],
    targets: ['{dbSecretArn}'],
    site: 'src/aws/secrets.ts#readSecretStage',
    why:
      'the master password, for the deploy step only (it migrates the tables and makes the application user), and ' +
      'again after RDS rotated it: AWSCURRENT, and AWSPENDING during a rotation window (src/store/mysql-password.ts); ' +
      'one statement covers every stage',
    sid: 'DatabaseSecretOnly',
    grant: () => [{ 'Fn::GetAtt': ['ConnectionsDatabase', 'MasterUserSecret.SecretArn'] }],
  },
  {
    id: 'connect-as-app-user',
    functions: STORE_FUNCTIONS,
    actions: ['rds-db:connect'],
    targets: ['arn:{partition}:rds-db:{region}:{account}:dbuser:{dbResourceId}/{dbUser}'],
    source:
      'RDS, at each new MySQL connection: it checks the IAM auth token our code signs with the role (src/aws/rds-token.ts, no request is sent)',
    why: 'connects as the application user, never as the master user or another database user, to this instance only',
    sid: 'ConnectAsAppUserOnly',
    grant: ({ dbUser }) => [sub(`${arnPrefix('rds-db')}:dbuser:\${ConnectionsDatabase.DbiResourceId}/${dbUser}`)],
  },
  {
    id: 'read-jwt-secret',
    functions: ['authorize'],
    when: 'jwtSecret',
    actions: ['secretsmanager:GetSecretValue'],
    targets: ['{jwtSecretArn}'],
    site: 'src/aws/secrets.ts#readSecretStage',
    why: 'the HS256 key, at the first `$connect` of a container (src/auth/settings.ts); JWKS reads no secret',
    sid: 'JwtSecretOnly',
    grant: ({ jwtSecret }) => [jwtSecret],
  },
  {
    id: 'post-to-connection',
    functions: ['disconnect', 'default', 'message', 'publish', 'deliver', 'sweep'],
    actions: ['execute-api:ManageConnections'],
    targets: ['arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/POST/@connections/{connectionId}'],
    site: 'src/aws/management-api.ts#ManagementApi.post',
    why: "PostToConnection: replies, deliveries and presence events (`disconnect` and the sweep tell a gone connection's rooms); never `connect`: the socket exists only after `$connect` returned",
    sid: 'PostToOwnConnectionsOnly',
    grant: ({ stage }) => [connectionsGrant(stage, 'POST')],
  },
  {
    id: 'get-connection',
    functions: ['sweep'],
    actions: ['execute-api:ManageConnections'],
    targets: ['arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/GET/@connections/{connectionId}'],
    site: 'src/aws/management-api.ts#ManagementApi.getConnection',
    why: 'GetConnection: the liveness sweep asks whether an old row still has its socket (410: gone)',
    sid: 'AskOwnConnectionsOnly',
    grant: ({ stage }) => [connectionsGrant(stage, 'GET')],
  },
  {
    id: 'invoke-deliver',
    functions: ['message', 'publish'],
    actions: ['lambda:InvokeFunction'],
    targets: ['arn:{partition}:lambda:{region}:{account}:function:{deliverFunction}'],
    site: 'src/aws/lambda-invoke.ts#AsyncInvoker.invoke',
    why: 'hands the shards of a large audience to `deliver`, asynchronously (src/chat/fanout/sharding.ts)',
    sid: 'InvokeDeliverOnly',
    // By name, not GetAtt (the role would depend on the function, which depends on its role);
    // `:*` also covers a qualified invoke (a version or alias).
    grant: ({ service, stage }) =>
      ['', ':*'].map((qualifier) => sub(`${arnPrefix('lambda')}:function:${service}-${stage}-deliver${qualifier}`)),
  },
  {
    id: 'put-events',
    functions: ['connect', 'disconnect', 'default', 'message', 'publish', 'sweep', 'departures'],
    actions: ['events:PutEvents'],
    targets: ['arn:{partition}:events:{region}:{account}:event-bus/{eventBus}'],
    site: 'src/aws/event-bridge.ts#EventBridgeClient.putEvents',
    why: "lifecycle events (connection, room, member) and `message.published` (docs/events.md) to the stage's own bus, never another",
    sid: 'PutEventsOnOwnBusOnly',
    grant: () => [{ 'Fn::GetAtt': ['EventBus', 'Arn'] }],
  },
  {
    id: 'queue-departures',
    // default and publish share the roles of disconnect and message (DeliveryFunctionsRole,
    // FanOutFunctionsRole): they send nothing (no DEPARTURES_QUEUE_URL), but a row names all of a role.
    functions: ['disconnect', 'default', 'message', 'publish'],
    actions: ['sqs:SendMessage'],
    targets: ['{departuresQueueArn}'],
    site: 'src/aws/sqs.ts#SqsClient.sendMessage',
    why: "the departures of a `$disconnect` or a leave, to wait out their debounce in the stage's departures queue (src/events/departures-queue.ts), never another queue",
    sid: 'QueueDeparturesOnly',
    grant: () => [{ 'Fn::GetAtt': ['DeparturesQueue', 'Arn'] }],
  },
  {
    id: 'receive-departures',
    functions: ['departures'],
    actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
    targets: ['{sourceQueueArn}'],
    source:
      'Lambda\'s event source mapping, with the function\'s role (the Lambda guide, "Using Lambda with Amazon SQS"): serverless.yml functions.departures.events sqs',
    why: 'polls the departures queue for the function, and deletes a batch it handled; no other queue',
    sid: 'ReceiveDeparturesOnly',
    grant: () => [{ 'Fn::GetAtt': ['DeparturesQueue', 'Arn'] }],
  },
  {
    id: 'keep-failed-shard',
    functions: ['deliver'],
    actions: ['sqs:SendMessage'],
    targets: ['{failuresQueueArn}'],
    source:
      'Lambda, with the function\'s role (the Lambda guide, "Adding a destination"): serverless.yml functions.deliver.destinations.onFailure',
    why: 'a shard that failed its last attempt is kept in the shard-failures queue',
    sid: 'KeepFailedShardsOnly',
    grant: () => [{ 'Fn::GetAtt': ['ShardFailuresQueue', 'Arn'] }],
  },
  // What Lambda needs to attach a function to its subnets (the Lambda guide's VPC page lists the
  // actions; AWSLambdaVPCAccessExecutionRole grants them, and writing to any log group, on `*`),
  // each as narrow as EC2 allows.
  {
    id: 'create-network-interface',
    functions: DATABASE_FUNCTIONS,
    when: 'vpc',
    actions: ['ec2:CreateNetworkInterface'],
    targets: [
      'arn:{partition}:ec2:{region}:{account}:network-interface/{networkInterfaceId}',
      'arn:{partition}:ec2:{region}:{account}:subnet/{subnet}',
      'arn:{partition}:ec2:{region}:{account}:security-group/{securityGroup}',
    ],
    source: "Lambda, with the function's role: the function's VpcConfig (DB_NETWORK: private)",
    why: "an interface in the function's own subnets with its own security group, nowhere else",
    sid: 'NetworkInterfacesInOwnSubnetsOnly',
    grant: () => [
      ec2Grant('network-interface/*'),
      ...FUNCTION_SUBNETS.map((subnet) => ec2Grant(`subnet/\${${subnet}}`)),
      ec2Grant(`security-group/\${${FUNCTIONS_SECURITY_GROUP}.GroupId}`),
    ],
  },
  {
    id: 'manage-network-interfaces',
    functions: DATABASE_FUNCTIONS,
    when: 'vpc',
    actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
    targets: ['arn:{partition}:ec2:{region}:{account}:network-interface/{networkInterfaceId}'],
    source: "Lambda, with the function's role: the function's VpcConfig (DB_NETWORK: private)",
    // The Lambda guide warns that without a resource for DeleteNetworkInterface the function may
    // lose its VPC access, and shows all of an account's resources (`…:*/*`). These three actions
    // take a network interface only, so `network-interface/*` is the same grant, narrower, and
    // needs no wildcard in the resource type (which IAM evaluators, iam-simulate included, do not match).
    why: "this account's and region's interfaces (an interface's id is not known before Lambda creates it)",
    sid: 'ManageOwnAccountsNetworkInterfaces',
    grant: () => [ec2Grant('network-interface/*')],
  },
  {
    id: 'describe-network',
    functions: DATABASE_FUNCTIONS,
    when: 'vpc',
    actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
    targets: ['*'],
    source: "Lambda, with the function's role: the function's VpcConfig (DB_NETWORK: private)",
    // The Lambda guide: DescribeNetworkInterfaces "only works if it's allowed on all resources".
    why: "EC2's Describe actions take no resource: `*`; they read and change nothing",
    sid: 'DescribeNeedsAllResources',
    grant: () => ['*'],
  },
];

/** Whether a row is in a template: `vpc` in private mode only, `jwtSecret` with an HS256 secret only. */
function applies(call, { vpc, jwtSecret }) {
  if (call.when === 'vpc') return vpc === true;
  if (call.when === 'jwtSecret') return jwtSecret !== undefined;
  return true;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const addOnce = (list, value) => {
  if (!list.some((present) => same(present, value))) list.push(value);
};

/**
 * The statements of the role of `functions`: one per `sid` of their rows, in the table's order.
 * Functions share a role only if they make the same calls: a row that names some of them and
 * not the others would give those others more than they use, so it is refused here.
 * @param {string[]} functions
 * @param {{ stage?: string, service?: string, vpc: boolean, jwtSecret?: unknown, dbUser?: string }} options
 */
function statementsFor(functions, options) {
  const statements = new Map();
  for (const call of CALLS) {
    if (!applies(call, options)) continue;
    const makers = functions.filter((name) => call.functions.includes(name));
    if (makers.length === 0) continue;
    if (makers.length !== functions.length) {
      throw new Error(
        `the role of ${functions.join(', ')} cannot hold "${call.id}": only ${makers.join(', ')} make that call`,
      );
    }
    let statement = statements.get(call.sid);
    if (statement === undefined) {
      statement = { Sid: call.sid, actions: [], resources: [] };
      statements.set(call.sid, statement);
    }
    for (const action of call.actions) addOnce(statement.actions, action);
    for (const resource of call.grant({ ...options, functions })) addOnce(statement.resources, resource);
  }
  const one = (list) => (list.length === 1 ? list[0] : list);
  return [...statements.values()].map(({ Sid, actions, resources }) => ({
    Sid,
    Effect: 'Allow',
    Action: one(actions),
    Resource: one(resources),
  }));
}

module.exports = {
  CALLS,
  PARTS,
  STORE_FUNCTIONS,
  DEPLOY_FUNCTIONS,
  DATABASE_FUNCTIONS,
  ALL_FUNCTIONS,
  applies,
  statementsFor,
  logGroupOf,
};
