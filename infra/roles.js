// One execution role per group of functions with the same needs, each allowed only what its
// functions call (the framework's default role would give every function everything). The
// statements come from the table of AWS calls (infra/aws-calls.js): a role holds the grants of
// the rows of its functions, so the table is the one place a call and its permission are named.
//
// | role                   | functions                   |
// | ---------------------- | --------------------------- |
// | StoreFunctionsRole     | connect                     |
// | SweepFunctionRole      | sweep                       |
// | DeparturesFunctionRole | departures                  |
// | DeliveryFunctionsRole  | disconnect, default         |
// | FanOutFunctionsRole    | message, publish            |
// | DeliverFunctionRole    | deliver                     |
// | SchemaFunctionRole     | schema (the deploy step)    |
// | AuthorizeFunctionRole  | authorize (when auth is on) |
//
// docs/deploy.md shows what each may do, generated from the packaged templates. No managed
// policy: in DB_NETWORK=private the store roles get the network-interface permissions Lambda
// uses to run a function in a VPC inline, narrower than AWSLambdaVPCAccessExecutionRole (which
// allows them, and writing to any log group, on `*`). The authorizer stays outside the VPC.
'use strict';

const { statementsFor, logGroupOf } = require('./aws-calls');

/** DB_APP_USER's default: the database user the store functions connect as (src/store/mysql-user.ts). */
const DEFAULT_APP_USER = 'websockets_app';

const STORE_GROUPS = {
  StoreFunctionsRole: ['connect'],
  SweepFunctionRole: ['sweep'],
  DeparturesFunctionRole: ['departures'],
  DeliveryFunctionsRole: ['disconnect', 'default'],
  FanOutFunctionsRole: ['message', 'publish'],
  DeliverFunctionRole: ['deliver'],
  SchemaFunctionRole: ['schema'],
};

/** What each store role is for, in its description (IAM shows it beside the role). */
const PURPOSES = {
  StoreFunctionsRole: 'connect (store only)',
  SweepFunctionRole: 'sweep (store, and the liveness of connections)',
  DeparturesFunctionRole: 'departures (store, events, and the departures queue it consumes)',
  DeliveryFunctionsRole: 'disconnect and default (store and delivery)',
  FanOutFunctionsRole: 'message and publish (store, delivery, and shards to deliver)',
  DeliverFunctionRole: 'deliver (store, delivery, failed shards kept)',
  SchemaFunctionRole: 'schema (the deploy step: migrates the tables, makes the application user)',
};

function role(description, statements) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: { 'Fn::Sub': `\${AWS::StackName}: ${description}` },
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      Policies: [{ PolicyName: 'least-privilege', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    },
  };
}

/**
 * The roles of the store functions and of the deploy step. `stage` is the API stage in the
 * management API's ARN (`…/{api}/{stage}/POST/@connections/*`); `vpc` adds the VPC permissions;
 * `dbUser` is the application user the store functions connect as (rds-db:connect).
 */
function storeRoles({ stage, vpc, service = 'aws-node-websockets', dbUser = DEFAULT_APP_USER }) {
  return Object.fromEntries(
    Object.entries(STORE_GROUPS).map(([id, functions]) => [
      id,
      role(PURPOSES[id], statementsFor(functions, { stage, service, vpc, dbUser })),
    ]),
  );
}

/** The authorizer's role: its logs, and the secret its mode verifies tokens with (if any). */
function authorizerRole({ secretArn }) {
  return {
    AuthorizeFunctionRole: role(
      'the $connect authorizer',
      statementsFor(['authorize'], { vpc: false, jwtSecret: secretArn }),
    ),
  };
}

module.exports = { STORE_GROUPS, DEFAULT_APP_USER, logGroupOf, storeRoles, authorizerRole };
