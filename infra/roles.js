// One execution role per group of functions with the same needs, each allowed only what
// its functions use (the framework's default role would give every function everything):
//
// | role                  | functions                  | may                                                          |
// | --------------------- | -------------------------- | ------------------------------------------------------------ |
// | StoreFunctionsRole    | connect                    | write its logs, read the database secret                     |
// | SweepFunctionRole     | sweep                      | the same, ask about (GET) and post to this API's connections |
// | DeliveryFunctionsRole | disconnect, default        | the same, and post to this API's connections in this stage   |
// | FanOutFunctionsRole   | message, publish           | the same, and invoke the `deliver` function (shards)          |
// | DeliverFunctionRole   | deliver                    | the delivery role's, and send to the shard-failures queue    |
// | AuthorizeFunctionRole | authorize (when auth is on) | write its logs, read the JWT secret (HS256)                 |
//
// `connect` cannot post (nothing may be sent before `$connect` returns); `sweep` asks API
// Gateway whether each old connection is still there (GetConnection is a GET) and tells the
// rooms of the gone ones (presence); `disconnect` may post, for presence events. In DB_NETWORK=private the store
// roles also get the network-interface permissions Lambda uses, with the function's role, to
// run a function in a VPC (vpcNetworkInterfaces), inline: the managed
// AWSLambdaVPCAccessExecutionRole would allow them, and writing to any log group, on `*`.
// The authorizer stays outside the VPC.
'use strict';

const { FUNCTION_SUBNETS, FUNCTIONS_SECURITY_GROUP } = require('./network');

const STORE_GROUPS = {
  StoreFunctionsRole: ['connect'],
  SweepFunctionRole: ['sweep'],
  DeliveryFunctionsRole: ['disconnect', 'default'],
  FanOutFunctionsRole: ['message', 'publish'],
  DeliverFunctionRole: ['deliver'],
};

/**
 * The `deliver` function by name (serverless.yml names it `{service}-{stage}-deliver`): its
 * GetAtt would make the role depend on the function, which depends on its role. The `:*`
 * form also covers a qualified invoke (a version or alias).
 */
const deliverFunctionArns = (service, stage) =>
  ['', ':*'].map((qualifier) => ({
    'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${service}-${stage}-deliver${qualifier}`,
  }));

/** The log group the framework creates for a function (its logical id, e.g. ConnectLogGroup). */
const logGroupOf = (functionName) => `${functionName.charAt(0).toUpperCase()}${functionName.slice(1)}LogGroup`;

/** The database's master credentials: the secret RDS created for ManageMasterUserPassword. */
const DATABASE_SECRET = { 'Fn::GetAtt': ['ConnectionsDatabase', 'MasterUserSecret.SecretArn'] };

function role(description, functions, statements) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: description,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      Policies: [
        {
          PolicyName: 'least-privilege',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'OwnLogsOnly',
                Effect: 'Allow',
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                Resource: functions.map((name) => ({ 'Fn::GetAtt': [logGroupOf(name), 'Arn'] })),
              },
              ...statements,
            ],
          },
        },
      ],
    },
  };
}

/** arn:…:ec2:{region}:{account}:{rest} */
const ec2Arn = (rest) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:${rest}` });

/**
 * What Lambda needs to attach a function to its subnets (the Lambda guide's VPC page lists the
 * actions; AWSLambdaVPCAccessExecutionRole grants them on `*`), each as narrow as EC2 allows:
 * - CreateNetworkInterface authorizes the interface, its subnet and its security group: the
 *   subnets and the group are ours, so no interface can be made anywhere else.
 * - DeleteNetworkInterface, AssignPrivateIpAddresses, UnassignPrivateIpAddresses: this account's
 *   and region's resources (every id: an interface's is not known before Lambda creates it).
 *   The Lambda guide warns that without a resource id for DeleteNetworkInterface the function
 *   may lose its VPC access, and names this account-and-region form as the one to use.
 * - DescribeNetworkInterfaces and DescribeSubnets: `*`, because EC2's Describe actions support
 *   no resource-level permission (the Lambda guide: DescribeNetworkInterfaces "only works if it's
 *   allowed on all resources"). They read, and change nothing.
 */
function vpcNetworkInterfaces() {
  return [
    {
      Sid: 'NetworkInterfacesInOwnSubnetsOnly',
      Effect: 'Allow',
      Action: 'ec2:CreateNetworkInterface',
      Resource: [
        ec2Arn('network-interface/*'),
        ...FUNCTION_SUBNETS.map((subnet) => ec2Arn(`subnet/\${${subnet}}`)),
        ec2Arn(`security-group/\${${FUNCTIONS_SECURITY_GROUP}.GroupId}`),
      ],
    },
    {
      Sid: 'ManageOwnAccountsNetworkInterfaces',
      Effect: 'Allow',
      Action: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      Resource: ec2Arn('*/*'),
    },
    {
      Sid: 'DescribeNeedsAllResources',
      Effect: 'Allow',
      Action: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
      Resource: '*',
    },
  ];
}

/**
 * GetSecretValue on one secret, at every stage: no condition on `secretsmanager:VersionStage`,
 * because the store functions read the database secret's AWSPENDING version during a rotation
 * (src/store/mysql-password.ts) as well as AWSCURRENT.
 */
const readSecret = (sid, resource) => ({
  Sid: sid,
  Effect: 'Allow',
  Action: 'secretsmanager:GetSecretValue',
  Resource: resource,
});

/**
 * The roles of the store functions. `stage` is the API stage in the management API's ARN
 * (`…/{api}/{stage}/POST/@connections/*`); `vpc` adds the VPC permissions.
 */
function storeRoles({ stage, vpc, service = 'aws-node-websockets' }) {
  const network = vpc ? vpcNetworkInterfaces() : [];
  const databaseSecret = readSecret('DatabaseSecretOnly', DATABASE_SECRET);
  const postToConnections = {
    Sid: 'PostToOwnConnectionsOnly',
    Effect: 'Allow',
    Action: 'execute-api:ManageConnections',
    Resource: {
      'Fn::Sub': `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${WebsocketsApi}/${stage}/POST/@connections/*`,
    },
  };
  const askAndPostToConnections = {
    Sid: 'AskAndPostToOwnConnectionsOnly',
    Effect: 'Allow',
    Action: 'execute-api:ManageConnections',
    Resource: ['GET', 'POST'].map((method) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${WebsocketsApi}/${stage}/${method}/@connections/*`,
    })),
  };
  return {
    StoreFunctionsRole: role(
      { 'Fn::Sub': '${AWS::StackName}: connect (store only)' },
      STORE_GROUPS.StoreFunctionsRole,
      [databaseSecret, ...network],
    ),
    SweepFunctionRole: role(
      { 'Fn::Sub': '${AWS::StackName}: sweep (store, and the liveness of connections)' },
      STORE_GROUPS.SweepFunctionRole,
      [databaseSecret, askAndPostToConnections, ...network],
    ),
    DeliveryFunctionsRole: role(
      { 'Fn::Sub': '${AWS::StackName}: disconnect and default (store and delivery)' },
      STORE_GROUPS.DeliveryFunctionsRole,
      [databaseSecret, postToConnections, ...network],
    ),
    FanOutFunctionsRole: role(
      { 'Fn::Sub': '${AWS::StackName}: message and publish (store, delivery, and shards to deliver)' },
      STORE_GROUPS.FanOutFunctionsRole,
      [
        databaseSecret,
        postToConnections,
        {
          Sid: 'InvokeDeliverOnly',
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: deliverFunctionArns(service, stage),
        },
        ...network,
      ],
    ),
    // Lambda sends a shard that failed its last attempt to the on-failure destination with the
    // function's own role (the Lambda guide, "Adding a destination": execution role permissions).
    DeliverFunctionRole: role(
      { 'Fn::Sub': '${AWS::StackName}: deliver (store, delivery, failed shards kept)' },
      STORE_GROUPS.DeliverFunctionRole,
      [
        databaseSecret,
        postToConnections,
        {
          Sid: 'KeepFailedShardsOnly',
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Resource: { 'Fn::GetAtt': ['ShardFailuresQueue', 'Arn'] },
        },
        ...network,
      ],
    ),
  };
}

/** The authorizer's role: its logs, and the secret its mode verifies tokens with (if any). */
function authorizerRole({ secretArn }) {
  return {
    AuthorizeFunctionRole: role(
      { 'Fn::Sub': '${AWS::StackName}: the $connect authorizer' },
      ['authorize'],
      secretArn === undefined ? [] : [readSecret('JwtSecretOnly', secretArn)],
    ),
  };
}

module.exports = { STORE_GROUPS, logGroupOf, storeRoles, authorizerRole, vpcNetworkInterfaces, deliverFunctionArns };
