/**
 * Where src/ calls AWS, found in the source by the TypeScript parser rather than by reading: every
 * call of `signedPost` (our own SigV4 requests: its `service` and `method`), every
 * `new …Command(…)` of an AWS SDK client, and every file that loads an AWS SDK client package.
 * The role simulation's test requires a row of infra/aws-calls.js for each site, so a call
 * added without its row (and so without its permission) fails the deploy suite.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { root } from '../harnesses/service';

export interface CallSite {
  /** `src/aws/management-api.ts#ManagementApi.post`, as a row's `site` names it. */
  site: string;
  kind: 'signed request' | 'sdk command';
  /** The SigV4 service (`execute-api`, `lambda`) or the SDK client's IAM prefix. */
  service: string | undefined;
  /** The HTTP method of a signed request (POST unless the call says otherwise). */
  method?: string;
  /** The SDK command's name without `Command` (`GetSecretValue`). */
  command?: string;
}

/** The IAM prefix of each AWS SDK client package src/ may load; another package needs a line here. */
export const SDK_SERVICES: Record<string, string> = {
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
  '@aws-sdk/client-lambda': 'lambda',
  '@aws-sdk/client-sqs': 'sqs',
  '@aws-sdk/client-eventbridge': 'events',
  '@aws-sdk/client-apigatewaymanagementapi': 'execute-api',
};

/** Packages that reach AWS: an SDK client, aws-lite, or the v2 SDK. */
export const AWS_PACKAGE = /^(@aws-sdk\/client-[a-z0-9-]+|@aws-lite\/[a-z0-9-]+|aws-sdk)(\/|$)/;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `Class.method`, a function's name, or the variable an arrow function is assigned to. */
function containerOf(node: ts.Node): string {
  for (let at: ts.Node | undefined = node.parent; at !== undefined; at = at.parent) {
    if ((ts.isMethodDeclaration(at) || ts.isConstructorDeclaration(at)) && ts.isClassLike(at.parent)) {
      const method = ts.isConstructorDeclaration(at) ? 'constructor' : at.name.getText();
      return `${at.parent.name?.getText() ?? '(class)'}.${method}`;
    }
    if (ts.isFunctionDeclaration(at) && at.name !== undefined) return at.name.getText();
    if ((ts.isArrowFunction(at) || ts.isFunctionExpression(at)) && ts.isVariableDeclaration(at.parent)) {
      return at.parent.name.getText();
    }
  }
  return '(module)';
}

const stringProperty = (argument: ts.Expression | undefined, name: string): string | undefined => {
  let object = argument;
  // `{ … } as T`, `({ … })`, `{ … } satisfies T`: the literal inside.
  while (
    object !== undefined &&
    (ts.isAsExpression(object) || ts.isParenthesizedExpression(object) || ts.isSatisfiesExpression(object))
  ) {
    object = object.expression;
  }
  if (object === undefined || !ts.isObjectLiteralExpression(object)) return undefined;
  for (const property of object.properties) {
    if (ts.isPropertyAssignment(property) && property.name.getText() === name) {
      return ts.isStringLiteralLike(property.initializer)
        ? property.initializer.text
        : `(not a literal: ${property.initializer.getText()})`;
    }
  }
  return undefined;
};

export interface Scan {
  sites: CallSite[];
  /** Each file of src/ that loads an AWS package, with the packages. */
  awsPackages: Record<string, string[]>;
}

export function scanSources(dir = join(root, 'src')): Scan {
  const sites: CallSite[] = [];
  const awsPackages: Record<string, string[]> = {};
  for (const path of tsFiles(dir)) {
    const file = relative(root, path);
    const source = ts.createSourceFile(file, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
    const packages = new Set<string>();
    const visit = (node: ts.Node): void => {
      // import … from 'x', import('x'), require('x'): which AWS packages this file loads.
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !node.importClause?.isTypeOnly) {
        if (AWS_PACKAGE.test(node.moduleSpecifier.text)) packages.add(node.moduleSpecifier.text);
      }
      if (ts.isCallExpression(node)) {
        const callee = node.expression.getText();
        const [first] = node.arguments;
        if (
          (callee === 'require' || node.expression.kind === ts.SyntaxKind.ImportKeyword) &&
          first &&
          ts.isStringLiteral(first)
        ) {
          if (AWS_PACKAGE.test(first.text)) packages.add(first.text);
        }
        if (callee === 'signedPost' || callee.endsWith('.signedPost')) {
          const request = node.arguments[1];
          sites.push({
            site: `${file}#${containerOf(node)}`,
            kind: 'signed request',
            service: stringProperty(request, 'service'),
            method: stringProperty(request, 'method') ?? 'POST',
          });
        }
      }
      if (ts.isNewExpression(node) && /Command$/.test(node.expression.getText())) {
        sites.push({
          site: `${file}#${containerOf(node)}`,
          kind: 'sdk command',
          service: undefined,
          command: node.expression
            .getText()
            .replace(/^.*\./, '')
            .replace(/Command$/, ''),
        });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    if (packages.size > 0) awsPackages[file] = [...packages].sort();
    // An SDK command belongs to the client its file loads (one client per file).
    for (const site of sites.filter(
      (candidate) => candidate.kind === 'sdk command' && candidate.site.startsWith(`${file}#`),
    )) {
      const services = [...packages].map((name) => SDK_SERVICES[/^(@[^/]+\/[^/]+|[^/]+)/.exec(name)?.[1] ?? name]);
      site.service = services.length === 1 ? services[0] : undefined;
    }
  }
  return { sites, awsPackages };
}

/**
 * The IAM action a site's request is authorized as, where the site tells: an SDK command's, and
 * ManageConnections for the management API. (A signed request's row names its action; its
 * service must be the action's prefix.)
 */
export function actionOf(site: CallSite): string | undefined {
  if (site.service === undefined) return undefined;
  if (site.service === 'execute-api') return 'execute-api:ManageConnections';
  return site.kind === 'sdk command' ? `${site.service}:${site.command}` : undefined;
}
