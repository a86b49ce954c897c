/**
 * The schema's deploy step in the packaged templates (infra/schema.js, serverless.yml's `schema`
 * function): the custom resource, what triggers its Update, who may read the master secret, and
 * the order CloudFormation changes things in.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { environmentOf, resourcesOfType } from '../support/package/package';
import type { Template } from '../support/package/package';
import { packageVariants } from '../support/package/variants';
import { root } from '../support/harnesses/service';
import { SCHEMA_VERSION } from '../../src/store/mysql-schema';
import { ANSWER_RESERVE_MS } from '../../src/deploy/schema-resource';

jest.setTimeout(600_000);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const schema = require('../../infra/schema.js') as {
  DEFINITION_FILES: string[];
  schemaVersion(root?: string): number;
  schemaDefinition(root?: string): string;
  appUserProblem(user: unknown, master: unknown): string | undefined;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { STORE_FUNCTIONS } = require('../../infra/aws-calls.js') as { STORE_FUNCTIONS: string[] };

const logicalId = (name: string) => `${name.charAt(0).toUpperCase()}${name.slice(1)}LambdaFunction`;

let open: Template;
let privateNet: Template;

beforeAll(async () => {
  const packaged = await packageVariants(['open', 'private'] as const);
  open = packaged.open.template;
  privateNet = packaged.private.template;
});

describe('the schema custom resource', () => {
  it('carries the code’s schema version and definition, and the application user, to the schema function', () => {
    const resource = open.Resources.DatabaseSchema;
    expect(resource?.Type).toBe('Custom::DatabaseSchema');
    expect(resource?.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': ['SchemaLambdaFunction', 'Arn'] },
      SchemaVersion: String(SCHEMA_VERSION),
      Definition: schema.schemaDefinition(),
      AppUser: 'websockets_app',
      TablePrefix: '',
    });
    expect(schema.schemaVersion()).toBe(SCHEMA_VERSION);
  });

  it('is served by a function that answers before its timeout and that nothing else may invoke', () => {
    const fn = open.Resources.SchemaLambdaFunction;
    expect(fn?.Properties).toMatchObject({ Timeout: 900, Handler: 'src/deploy/handler.schema' });
    expect(ANSWER_RESERVE_MS).toBeLessThan((fn?.Properties?.Timeout as number) * 1000 - 60_000);
    const permissions = resourcesOfType(open, 'AWS::Lambda::Permission').filter(([, p]) =>
      JSON.stringify(p.Properties?.FunctionName).includes('SchemaLambdaFunction'),
    );
    expect(permissions).toEqual([]);
  });

  it('gives the master user and its secret to the schema function alone', () => {
    expect(environmentOf(open, 'SchemaLambdaFunction')).toMatchObject({
      DB_HOST: { 'Fn::GetAtt': ['ConnectionsDatabase', 'Endpoint.Address'] },
      DB_MASTER_USER: 'chatadmin',
      DB_SECRET_ARN: { 'Fn::GetAtt': ['ConnectionsDatabase', 'MasterUserSecret.SecretArn'] },
    });
    const readers = resourcesOfType(open, 'AWS::Lambda::Function')
      .filter(([id]) => JSON.stringify(open.Resources[id]).includes('MasterUserSecret'))
      .map(([id]) => id);
    expect(readers).toEqual(['SchemaLambdaFunction']);
  });

  it('comes before every store function: on an update the tables migrate first, then the code that needs them changes', () => {
    for (const template of [open, privateNet]) {
      for (const id of STORE_FUNCTIONS.map(logicalId)) {
        expect({ id, dependsOn: [template.Resources[id]?.DependsOn].flat() }).toEqual({
          id,
          dependsOn: expect.arrayContaining(['DatabaseSchema']),
        });
      }
    }
  });

  it('waits for the NAT route in the private network (the function answers CloudFormation through it)', () => {
    expect([privateNet.Resources.DatabaseSchema?.DependsOn].flat()).toContain('PrivateDefaultRoute');
    expect(open.Resources.DatabaseSchema?.DependsOn).toBeUndefined();
  });

  it('gets a new Definition, so an Update, with any change to a file that defines the tables or the user', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-schema-def-'));
    try {
      for (const file of schema.DEFINITION_FILES) {
        execFileSync('mkdir', ['-p', join(dir, file, '..')]);
        writeFileSync(join(dir, file), readFileSync(join(root, file)));
      }
      expect(schema.schemaDefinition(dir)).toBe(schema.schemaDefinition());
      for (const file of schema.DEFINITION_FILES) {
        writeFileSync(join(dir, file), `${readFileSync(join(root, file), 'utf8')}\n// changed\n`);
        expect({ file, changed: schema.schemaDefinition(dir) !== schema.schemaDefinition() }).toEqual({
          file,
          changed: true,
        });
        writeFileSync(join(dir, file), readFileSync(join(root, file)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an application user that is the master user or needs quoting', () => {
    expect(schema.appUserProblem('websockets_app', 'websockets')).toBeUndefined();
    expect(schema.appUserProblem('websockets', 'websockets')).toMatch(/must differ from DB_USER/);
    expect(schema.appUserProblem("a'b", 'websockets')).toMatch(/letters, digits or _/);
  });
});
