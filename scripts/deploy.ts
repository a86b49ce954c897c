/**
 * `npm run deploy [-- <sls deploy options>]` and `npm run remove [-- <sls remove options>]`:
 * `sls deploy` / `sls remove`, after checks that need neither a build nor the network
 * (scripts/deploy/checks.ts). Every problem found (a key of .env.yml that is no setting
 * included) is printed on one line and the command stops with exit code 2 before anything is
 * built or sent to AWS. A deploy that passes is told, one `warning:` line each, what its
 * settings leave open to others (scripts/deploy/exposure.ts), and goes on.
 *
 *   npm run deploy -- --check                    checks only, deploys nothing
 *   npm run deploy -- --stage prod               options other than ours go to serverless
 *   npm run deploy -- --skip-credential-check    on an EC2 instance role (not detectable offline)
 *   npm run deploy -- --print-policy             the IAM policy a deployer needs (docs/deploy-permissions.md)
 *   npm run deploy -- --help                     this usage (also -h), nothing checked or run
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import {
  checkCredentials,
  checkSettings,
  checkTarget,
  describeRooms,
  describeShards,
  exposedDefaults,
  mergeSettings,
  settingNames,
  stageCapacityOf,
  targetOf,
  unknownSettings,
} from './deploy/checks';
import type { ServiceShape, Settings } from './deploy/checks';

const OWN_FLAGS = ['--check', '--skip-credential-check', '--print-policy'];
const HELP_FLAGS = ['--help', '-h'];

/** What `--help` prints: our options, and where the others go. */
function usage(command: 'deploy' | 'remove'): string {
  const lines =
    command === 'deploy'
      ? [
          'usage: npm run deploy [-- options]',
          '',
          'Checks the settings (.env.yml) and the AWS credentials without building anything, then runs `sls deploy`.',
          'Every problem is one line, and nothing is built or sent to AWS while there is one (exit 2).',
          '',
          '  --check                  the checks only: nothing is built or deployed',
          '  --skip-credential-check  on an EC2 instance role or another source the check cannot see',
          '  --print-policy           the IAM policy a deployer needs (docs/deploy-permissions.md)',
          '  -h, --help               this text',
          '',
          'Other options go to `sls deploy`: --stage prod, --region eu-west-1, --aws-profile name, --verbose.',
          'Docs: docs/deploy.md',
        ]
      : [
          'usage: npm run remove [-- options]',
          '',
          'Checks which stack (settings, credentials), then runs `sls remove`; the database is kept as a final snapshot.',
          '',
          '  --check                  the checks only: nothing is removed',
          '  --skip-credential-check  on an EC2 instance role or another source the check cannot see',
          '  -h, --help               this text',
          '',
          'Other options go to `sls remove`: --stage prod, --region eu-west-1, --aws-profile name.',
          'Docs: docs/deploy.md#removing-it',
        ];
  return lines.join('\n');
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { deployerPolicy } = require('../infra/deployer-policy.js') as {
  deployerPolicy(options: { partition: string }): unknown;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { NO_ENV_FILE } = require('../settings.js') as { NO_ENV_FILE: string };

/** The partition of a region's ARNs. */
function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The service name and function names serverless.yml declares (function names bound the stage's length). */
function serviceShape(root: string): ServiceShape {
  const doc = loadYaml(readFileSync(join(root, 'serverless.yml'), 'utf8')) as {
    service?: unknown;
    functions?: Record<string, unknown>;
  };
  return { service: String(doc.service), functionNames: Object.keys(doc.functions ?? {}) };
}

/** The settings serverless.yml will see, and the problems found reading them. */
function loadSettings(root: string, command: 'deploy' | 'remove'): { settings: Settings; problems: string[] } {
  const own = join(root, '.env.yml');
  const example = readFileSync(join(root, '.env.yml.example'), 'utf8');
  const problems: string[] = [];
  let fromFile: Settings = {};
  let file = '.env.yml';
  if (!existsSync(own)) {
    if (command === 'deploy') problems.push(NO_ENV_FILE);
    file = '.env.yml.example';
  }
  try {
    const parsed = loadYaml(file === '.env.yml' ? readFileSync(own, 'utf8') : example);
    if (parsed !== undefined && parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      problems.push(`${file} must hold "NAME: value" lines`);
    } else {
      fromFile = (parsed ?? {}) as Settings;
      // For remove too: a misspelled STAGE or REGION would name another stack.
      problems.push(...unknownSettings(fromFile, file, example));
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    problems.push(`${file} is not valid YAML: ${reason}`);
  }
  return { settings: mergeSettings(fromFile, process.env, settingNames(example)), problems };
}

function profileOption(args: readonly string[]): string | undefined {
  const at = args.indexOf('--aws-profile');
  if (at >= 0) return args[at + 1];
  return args.find((arg) => arg.startsWith('--aws-profile='))?.slice('--aws-profile='.length);
}

/** Runs serverless with our environment rules; resolves with its exit code. */
function serverless(root: string, args: string[]): Promise<number> {
  const cli = join(root, 'node_modules', 'serverless', 'bin', 'serverless.js');
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
  });
  // Ctrl-C reaches serverless through the terminal's process group; SIGTERM is passed on.
  const forward = () => child.kill('SIGTERM');
  process.once('SIGTERM', forward);
  return new Promise((done) => {
    child.once('exit', (code, signal) => {
      process.removeListener('SIGTERM', forward);
      done(code ?? (signal ? 1 : 0));
    });
    child.once('error', (error) => {
      console.error(`${args[0]}: could not start serverless: ${error.message}`);
      done(1);
    });
  });
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== 'deploy' && command !== 'remove') {
    console.error('usage: npm run deploy [-- options] | npm run remove [-- options]');
    return 2;
  }
  if (rest.some((arg) => HELP_FLAGS.includes(arg))) {
    // Before anything is read: help must work in a broken setup, and is no request to deploy.
    console.log(usage(command));
    return 0;
  }
  const root = process.cwd(); // npm runs scripts in the project's directory
  const checkOnly = rest.includes('--check');
  const skipCredentials = rest.includes('--skip-credential-check');
  const slsArgs = rest.filter((arg) => !OWN_FLAGS.includes(arg));

  const { settings, problems } = loadSettings(root, command);
  const target = targetOf(slsArgs, settings);
  if (rest.includes('--print-policy')) {
    // Needs neither settings that deploy nor credentials: it only says what a deploy is allowed.
    console.log(JSON.stringify(deployerPolicy({ partition: partitionOf(target.region) }), null, 2));
    return 0;
  }
  const shape = serviceShape(root);
  problems.push(...checkTarget(target, shape));
  // Removing needs only to know which stack; a setting gone bad since must not keep it alive.
  if (command === 'deploy') problems.push(...checkSettings(settings));
  const credentials = skipCredentials
    ? { source: 'not checked (--skip-credential-check)', problems: [] }
    : checkCredentials({
        env: process.env,
        home: homedir(),
        readFile: readOptional,
        profileOption: profileOption(slsArgs),
      });
  problems.push(...credentials.problems);

  if (problems.length > 0) {
    console.error(
      `${command}: nothing was built or sent to AWS; fix ${problems.length === 1 ? 'this' : 'these'} first:`,
    );
    for (const problem of problems) console.error(`  - ${problem}`);
    return 2;
  }
  const stack = `${shape.service}-${target.stage}`;
  // What the stage will leave open to others (and the unbounded shards): said, never refused,
  // since each may be meant. Removing leaves nothing open.
  const shards = command === 'deploy' ? describeShards(settings) : undefined;
  const capacity = command === 'deploy' ? stageCapacityOf(settings) : undefined;
  const warnings =
    command === 'deploy'
      ? [...exposedDefaults(settings), ...[shards, capacity?.warning].filter((w) => w !== undefined)]
      : [];
  const verdict =
    warnings.length === 0
      ? 'settings look right'
      : `settings pass the checks, with ${warnings.length} warning${warnings.length === 1 ? '' : 's'} below`;
  console.log(`${command}: ${verdict}; stack ${stack} in ${target.region}, AWS credentials from ${credentials.source}`);
  // What the stage carries, in one line (infra/capacity.js; docs/operations.md#what-one-stage-carries).
  if (capacity?.line !== undefined) console.log(`${command}: ${capacity.line}`);
  const rooms = command === 'deploy' ? describeRooms(settings) : undefined;
  if (rooms !== undefined) console.log(`${command}: ${rooms}`);
  for (const warning of warnings) console.log(`${command}: warning: ${warning}`);
  if (checkOnly) return 0;

  if (command === 'remove') {
    console.log(
      `${command}: deletes the stack's functions, API, roles, log groups, deployment bucket and database instance; ` +
        'the database is first kept as a final snapshot',
    );
  }
  const code = await serverless(root, [command, ...slsArgs]);
  if (code === 0 && command === 'remove') {
    console.log(
      `remove: the database of ${stack} is kept as a final manual snapshot (DeletionPolicy: Snapshot), billed for its ` +
        `storage until you delete it: RDS console > Snapshots > Manual, or ` +
        `\`aws rds describe-db-snapshots --snapshot-type manual --region ${target.region}\``,
    );
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A bug of ours, not a setting: still one line, no stack trace.
    console.error(`deploy: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
