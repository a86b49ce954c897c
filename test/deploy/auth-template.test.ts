/**
 * What `sls deploy` would create for issue 5: with AUTH_JWT_SECRET in .env.yml, a
 * REQUEST authorizer reading the `token` query-string parameter guards `$connect`;
 * without it, neither the authorizer nor its function exists.
 */
import { packageService, resourcesOfType } from '../support/package';
import type { Template } from '../support/package';

jest.setTimeout(300_000);

const SECRET = 'deploy-test-secret-that-is-long-enough-0123';
const ENV_YML = [
  'DB_PASSWORD: not-a-real-password',
  `AUTH_JWT_SECRET: ${SECRET}`,
  'AUTH_JWT_ISSUER: https://id.example',
  'AUTH_JWT_AUDIENCE: websockets',
  '',
].join('\n');

let secured: Template;
let open: Template;

beforeAll(async () => {
  // Two packagings at once: each takes about a minute, mostly TypeScript and zipping.
  [secured, open] = (
    await Promise.all([packageService({ envYml: ENV_YML }), packageService({ envYml: 'DB_PASSWORD: x\n' })])
  ).map((packaged) => packaged.template) as [Template, Template];
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
    for (const [, route] of resourcesOfType(secured, 'AWS::ApiGatewayV2::Route')) {
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
