// Who may invoke the functions. The framework writes each WebSocket function's
// AWS::Lambda::Permission for the principal apigateway.amazonaws.com with no SourceArn,
// which lets any API Gateway API, in any account, invoke the function (the
// AWS::Lambda::Permission reference: "If you grant permission to a service principal without
// specifying the source, other accounts could potentially configure resources in their
// account to invoke your Lambda function"). These extensions (serverless.yml's
// resources.extensions, merged into the framework's resources) name the source: this API,
// this stage, the function's own route. The HTTP API's and the schedule's permissions already
// name theirs.
'use strict';

/**
 * The route of each WebSocket function (serverless.yml). `message` serves several actions
 * through one permission, so it gets every route of the stage; the routes of $connect,
 * $disconnect and $default go to their own functions.
 */
const WEBSOCKET_ROUTES = {
  connect: '$connect',
  disconnect: '$disconnect',
  default: '$default',
  message: '*',
};

/** The framework's logical id of a function's WebSocket permission (ConnectLambdaPermissionWebsockets). */
const permissionIdOf = (functionName) =>
  `${functionName.charAt(0).toUpperCase()}${functionName.slice(1)}LambdaPermissionWebsockets`;

/** arn:…:execute-api:{region}:{account}:{api}/{rest}: API Gateway's source ARN of an invocation. */
const executeApiArn = (rest) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${WebsocketsApi}/${rest}`,
});

/**
 * The SourceArn of every WebSocket permission: `{api}/{stage}/{route}` for a route
 * (API Gateway's ARN of a WebSocket route), and `{api}/authorizers/*` for the `$connect`
 * authorizer, which API Gateway invokes as the API's authorizer, outside any stage.
 */
function invokePermissions({ stage, authorizer }) {
  const extensions = {};
  for (const [functionName, routeKey] of Object.entries(WEBSOCKET_ROUTES)) {
    extensions[permissionIdOf(functionName)] = { Properties: { SourceArn: executeApiArn(`${stage}/${routeKey}`) } };
  }
  if (authorizer) {
    extensions[permissionIdOf('authorize')] = { Properties: { SourceArn: executeApiArn('authorizers/*') } };
  }
  return extensions;
}

module.exports = { WEBSOCKET_ROUTES, permissionIdOf, invokePermissions };
