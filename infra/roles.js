// One execution role per group of functions with the same needs, each allowed only what
// its functions use (the framework's default role would give every function everything):
//
// | role                  | functions                  | may                                                          |
// | --------------------- | -------------------------- | ------------------------------------------------------------ |
// | StoreFunctionsRole    | connect, sweep             | write its logs, read the database secret                     |
// | DeliveryFunctionsRole | disconnect, default, message | the same, and post to this API's connections in this stage |
// | AuthorizeFunctionRole | authorize (when auth is on) | write its logs, read the JWT secret (HS256)                 |
//
// `connect` cannot post (nothing may be sent before `$connect` returns) and `sweep` has no
// one to post to; `disconnect` may, for presence events. In DB_NETWORK=private the store
// roles also get AWSLambdaVPCAccessExecutionRole, the network-interface permissions that
// Lambda needs to run a function in a VPC; the authorizer stays outside the VPC.
'use strict';

const STORE_GROUPS = {
  StoreFunctionsRole: ['connect', 'sweep'],
  DeliveryFunctionsRole: ['disconnect', 'default', 'message', 'publish'],
};

/** The log group the framework creates for a function (its logical id, e.g. ConnectLogGroup). */
const logGroupOf = (functionName) => `${functionName.charAt(0).toUpperCase()}${functionName.slice(1)}LogGroup`;

/** The database's master credentials: the secret RDS created for ManageMasterUserPassword. */
const DATABASE_SECRET = { 'Fn::GetAtt': ['ConnectionsDatabase', 'MasterUserSecret.SecretArn'] };

function role(description, functions, statements, managedPolicyArns) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: description,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      ...(managedPolicyArns.length > 0 ? { ManagedPolicyArns: managedPolicyArns } : {}),
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
function storeRoles({ stage, vpc }) {
  const managed = vpc
    ? [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole' }]
    : [];
  const databaseSecret = readSecret('DatabaseSecretOnly', DATABASE_SECRET);
  const postToConnections = {
    Sid: 'PostToOwnConnectionsOnly',
    Effect: 'Allow',
    Action: 'execute-api:ManageConnections',
    Resource: {
      'Fn::Sub': `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${WebsocketsApi}/${stage}/POST/@connections/*`,
    },
  };
  return {
    StoreFunctionsRole: role(
      { 'Fn::Sub': '${AWS::StackName}: connect and sweep (store only)' },
      STORE_GROUPS.StoreFunctionsRole,
      [databaseSecret],
      managed,
    ),
    DeliveryFunctionsRole: role(
      { 'Fn::Sub': '${AWS::StackName}: disconnect, default and message (store and delivery)' },
      STORE_GROUPS.DeliveryFunctionsRole,
      [databaseSecret, postToConnections],
      managed,
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
      [],
    ),
  };
}

module.exports = { STORE_GROUPS, logGroupOf, storeRoles, authorizerRole };
