/**
 * Runs `serverless package` on a private copy of the service (as test/support/harnesses/offline.ts
 * does for `npm start`), so that neither its `.serverless` nor its `.build` folder
 * touches the developer's own, and returns the CloudFormation template it wrote.
 * Nothing here reaches AWS: packaging needs no credentials and telemetry is off.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { copyService, serverlessCli, withoutSettings } from '../harnesses/service';
import { extractZip, zipEntries } from './zip';

/** The parts of a CloudFormation template the tests read. */
export interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: unknown }>;
  Outputs?: Record<string, unknown>;
}

export interface PackageOptions {
  /** Written to the copy's .env.yml; without it, settings.js reads .env.yml.example. */
  envYml?: string;
  /** Extra environment for `serverless`, over a copy of this process's without AUTH_JWT_*. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Files to add to the copy (path -> content), e.g. folders of the repository that must stay out. */
  files?: Record<string, string>;
  /** Unzip the package into this folder before the copy is removed (the benchmark and test/deploy load it). */
  unzipTo?: string;
  /** Copy the deployment zip to this file before the copy is removed (the packaging cache keeps it). */
  copyZipTo?: string;
}

export interface Packaged {
  template: Template;
  output: string;
  /** Size in bytes of the deployment zip. */
  zipBytes: number;
  /** Paths inside the deployment zip. */
  zipEntries: string[];
  /** How long `serverless package` took. */
  packageMs: number;
}

export async function packageService(options: PackageOptions = {}): Promise<Packaged> {
  const serviceDir = copyService('package');
  try {
    if (options.envYml !== undefined) writeFileSync(join(serviceDir, '.env.yml'), options.envYml);
    for (const [file, content] of Object.entries(options.files ?? {})) {
      mkdirSync(dirname(join(serviceDir, file)), { recursive: true });
      writeFileSync(join(serviceDir, file), content);
    }

    // A developer's shell must not change the template under test.
    const env = withoutSettings(process.env);
    Object.assign(env, {
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
      AWS_EC2_METADATA_DISABLED: 'true',
      ...options.env,
    });

    const started = performance.now();
    const child = spawn(process.execPath, [serverlessCli, 'package'], {
      cwd: serviceDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((done, fail) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(new Error(`serverless package took longer than ${options.timeoutMs ?? 180_000} ms:\n${output}`));
      }, options.timeoutMs ?? 180_000);
      child.once('error', fail);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        done(exitCode);
      });
    });
    if (code !== 0) throw new Error(`serverless package exited with ${code}:\n${output}`);
    const packageMs = performance.now() - started;
    const file = join(serviceDir, '.serverless', 'cloudformation-template-update-stack.json');
    const zip = join(serviceDir, '.serverless', 'aws-node-websockets.zip');
    if (options.unzipTo) extractZip(zip, options.unzipTo);
    if (options.copyZipTo) copyFileSync(zip, options.copyZipTo);
    return {
      template: JSON.parse(readFileSync(file, 'utf8')) as Template,
      output,
      zipBytes: statSync(zip).size,
      zipEntries: zipEntries(zip),
      packageMs,
    };
  } finally {
    rmSync(serviceDir, { recursive: true, force: true });
  }
}

/** The resources of one CloudFormation type, by logical id. */
export function resourcesOfType(template: Template, type: string): [string, Template['Resources'][string]][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** A statement of a role's inline policy, as the template's roles hold them. */
export interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** The role a function runs as, when it is one of the template's (its Role is that role's `Fn::GetAtt` Arn). */
export function roleOf(template: Template, functionId: string): string | undefined {
  const role = template.Resources[functionId]?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined;
  return role?.['Fn::GetAtt']?.[0];
}

/** Every statement of a role's inline policies. */
export function roleStatements(template: Template, role: string): PolicyStatement[] {
  const policies = (template.Resources[role]?.Properties?.Policies ?? []) as {
    PolicyDocument: { Statement: PolicyStatement[] };
  }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** Every statement of the inline policies of the role a function runs as. */
export function functionStatements(template: Template, functionId: string): PolicyStatement[] {
  const role = roleOf(template, functionId);
  if (role === undefined) throw new Error(`${functionId} has no role of ours`);
  return roleStatements(template, role);
}

/** The resources the role of a function allows `action` on. */
export function allowedResources(template: Template, functionId: string, action: string): unknown[] {
  return functionStatements(template, functionId)
    .filter((statement) => [statement.Action].flat().includes(action))
    .flatMap((statement) => [statement.Resource].flat());
}

/** A function's environment variables ({} when it has none). */
export function environmentOf(template: Template, functionId: string): Record<string, unknown> {
  const environment = template.Resources[functionId]?.Properties?.Environment as
    { Variables?: Record<string, unknown> } | undefined;
  return environment?.Variables ?? {};
}
