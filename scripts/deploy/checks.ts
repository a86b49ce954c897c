/**
 * What `npm run deploy` and `npm run remove` check before anything is built or sent to
 * AWS (scripts/deploy.ts): the settings, as serverless.yml will read them, and that some
 * AWS credential source is configured. Nothing here makes a network call; every check is
 * a function of its inputs, and returns one readable line per problem.
 */
import { ConfigError } from '../../src/errors';
import { readConfig } from '../../src/config';
import { readAuthSettings, readDefaultRooms, readMaxTokenAge } from '../../src/auth/settings';
import { stageCapacityOf } from './capacity';
import { asEnv, text } from './settings';
import type { Settings } from './settings';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const concurrency = require('../../infra/concurrency.js') as {
  accountConcurrencyProblem(
    each: number | undefined,
    accountConcurrency?: number,
    deliver?: number,
  ): string | undefined;
  unboundedShardsWarning(each: number | undefined, deliver: number | undefined): string | undefined;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const alarms = require('../../infra/alarms.js') as { ALARM_TOPIC_ARN: RegExp; alarmTopicProblem(): string };

export { mergeSettings, settingNames, text, unknownSettings } from './settings';
export { describeRooms, exposedDefaults } from './exposure';
export { stageCapacityOf } from './capacity';
export type { Settings } from './settings';
export { checkCredentials, parseIni } from './credentials';
export type { CredentialCheck, CredentialInputs } from './credentials';

// --- where to deploy -------------------------------------------------------------------

/** Lambda's limit on a function name, which serverless builds as `<service>-<stage>-<function>`. */
export const FUNCTION_NAME_LIMIT = 64;

/**
 * The stage names the CloudFormation stack (`<service>-<stage>`: letters, digits and
 * hyphens), the API stage and every function; the longest function name bounds its length.
 */
export function checkStage(stage: string, service: string, functionNames: readonly string[]): string[] {
  if (!/^[A-Za-z0-9-]+$/.test(stage)) {
    return [`stage "${stage}" may only contain letters, digits and hyphens (it names the stack and every function)`];
  }
  const longest = functionNames.reduce((a, b) => (b.length > a.length ? b : a), '');
  const name = `${service}-${stage}-${longest}`;
  if (name.length > FUNCTION_NAME_LIMIT) {
    const room = FUNCTION_NAME_LIMIT - `${service}--${longest}`.length;
    return [
      `stage "${stage}" is too long: the function name ${name} would exceed Lambda's ${FUNCTION_NAME_LIMIT} characters (at most ${room} for the stage)`,
    ];
  }
  return [];
}

/**
 * Regions of the AWS SDK's partition table (its version pinned by this project), where a
 * stack can be deployed with an account of that partition. A region opened after that
 * table is refused: add it here.
 */
export const KNOWN_REGIONS: ReadonlySet<string> = new Set([
  'af-south-1',
  'ap-east-1',
  'ap-east-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-south-1',
  'ap-south-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-6',
  'ap-southeast-7',
  'ca-central-1',
  'ca-west-1',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'il-central-1',
  'me-central-1',
  'me-south-1',
  'mx-central-1',
  'sa-east-1',
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'cn-north-1',
  'cn-northwest-1',
  'us-gov-east-1',
  'us-gov-west-1',
]);

export function checkRegion(region: string): string[] {
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    return [`region "${region}" is not an AWS region name (like us-east-1 or eu-west-2)`];
  }
  if (!KNOWN_REGIONS.has(region)) {
    return [`region "${region}" is not a region this check knows (scripts/deploy/checks.ts, KNOWN_REGIONS)`];
  }
  return [];
}

// --- the database and its network ----------------------------------------------------------

/** An IPv4 CIDR block as EC2 takes it: four octets, a prefix, no host bits set. */
export function checkCidr(name: string, value: string): string[] {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return [`${name} "${value}" is not an IPv4 CIDR block like 203.0.113.0/24`];
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((octet) => octet > 255) || prefix > 32) {
    return [`${name} "${value}" is not an IPv4 CIDR block (octets 0-255, prefix 0-32)`];
  }
  const address = octets.reduce((sum, octet) => sum * 256 + octet, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) {
    const base = address - (address % size);
    const dotted = [24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256).join('.');
    return [`${name} "${value}" has host bits set: did you mean ${dotted}/${prefix}?`];
  }
  return [];
}

/** `db.<family>.<size>`: db.t4g.micro, db.m7g.large, db.r6g.2xlarge, db.x2iedn.xlarge. */
export function checkInstanceClass(value: string): string[] {
  if (!/^db\.[a-z]+\d+[a-z-]*\.(micro|small|medium|large|xlarge|\d{1,2}xlarge|metal)$/.test(value)) {
    return [`DB_INSTANCE_CLASS "${value}" is not an RDS instance class like db.t4g.micro or db.m7g.large`];
  }
  return [];
}

/** serverless.yml builds the parameter group family as `mysql<version>`: the major version only. */
export function checkEngineVersion(value: string): string[] {
  if (!/^8\.(0|4)$/.test(value)) {
    return [`DB_ENGINE_VERSION "${value}" must be 8.0 or 8.4 (the parameter group family is mysql<version>)`];
  }
  return [];
}

export function checkStorage(value: string): string[] {
  if (!/^\d+$/.test(value) || Number(value) < 20 || Number(value) > 65_536) {
    return [`DB_ALLOCATED_STORAGE "${value}" must be a whole number of GiB from 20 (gp3's minimum) to 65536`];
  }
  return [];
}

export const NETWORK_MODES = ['public', 'private'] as const;

export function checkNetworkMode(value: string): string[] {
  if (!(NETWORK_MODES as readonly string[]).includes(value)) {
    return [`DB_NETWORK "${value}" must be ${NETWORK_MODES.join(' or ')}`];
  }
  return [];
}

/** RDS for MySQL: the database name and master user begin with a letter; the user has at most 16 characters. */
export function checkDatabaseNames(settings: Settings): string[] {
  const problems: string[] = [];
  const name = text(settings.DB_NAME);
  if (name !== undefined && !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) {
    problems.push(`DB_NAME "${name}" must begin with a letter and hold at most 64 letters, digits or _`);
  }
  const user = text(settings.DB_USER);
  if (user !== undefined && (!/^[A-Za-z][A-Za-z0-9_]{0,15}$/.test(user) || user.toLowerCase() === 'rdsadmin')) {
    problems.push(`DB_USER "${user}" must begin with a letter and hold at most 16 letters, digits or _ (not rdsadmin)`);
  }
  return problems;
}

/** Only where the settings still carry a password: RDS's rules for a master password. */
export function checkPassword(settings: Settings): string[] {
  if (!('DB_PASSWORD' in settings)) return [];
  const password = text(settings.DB_PASSWORD);
  if (password === undefined || password === 'CHANGE-ME') return ['DB_PASSWORD is not set to a real password'];
  if (!/^[\x21-\x7e]{8,41}$/.test(password) || /[/"@]/.test(password)) {
    return ['DB_PASSWORD must be 8 to 41 printable characters without / " @ or spaces'];
  }
  return [];
}

/**
 * RESERVED_CONCURRENCY and DELIVER_RESERVED_CONCURRENCY against what Lambda leaves the
 * account (infra/concurrency.js, as settings.js checks it): 5 x RESERVED_CONCURRENCY + 1
 * (sweep) + 5 (departures) + DELIVER_RESERVED_CONCURRENCY, and at least 100 unreserved of
 * ACCOUNT_CONCURRENCY.
 * The database's share is checked by settings.js, which knows each class's max_connections.
 */
export function checkReservedConcurrency(settings: Settings): string[] {
  const reserved = text(settings.RESERVED_CONCURRENCY);
  const deliverReserved = text(settings.DELIVER_RESERVED_CONCURRENCY);
  const account = text(settings.ACCOUNT_CONCURRENCY);
  const problems: string[] = [];
  const whole = (name: string, value: string) => {
    if (/^[1-9]\d*$/.test(value)) return Number(value);
    problems.push(`${name} "${value}" must be a positive whole number`);
    return undefined;
  };
  const each = reserved === undefined ? undefined : whole('RESERVED_CONCURRENCY', reserved);
  const deliver = deliverReserved === undefined ? undefined : whole('DELIVER_RESERVED_CONCURRENCY', deliverReserved);
  const quota = account === undefined ? undefined : whole('ACCOUNT_CONCURRENCY', account);
  if (problems.length > 0 || (each === undefined && deliver === undefined)) return problems;
  const problem = concurrency.accountConcurrencyProblem(each, quota, deliver);
  return problem === undefined ? [] : [problem];
}

/**
 * One line when the WebSocket functions are bounded and the shards of large broadcasts are
 * not (RESERVED_CONCURRENCY without DELIVER_RESERVED_CONCURRENCY); a warning, not a problem:
 * leaving `deliver` unbounded is allowed. Undefined otherwise.
 */
export function describeShards(settings: Settings): string | undefined {
  const each = text(settings.RESERVED_CONCURRENCY);
  const deliver = text(settings.DELIVER_RESERVED_CONCURRENCY);
  return concurrency.unboundedShardsWarning(
    each === undefined ? undefined : Number(each),
    deliver === undefined ? undefined : Number(deliver),
  );
}

/** ALARM_TOPIC_ARN, when set, names a standard SNS topic (infra/alarms.js). */
export function checkAlarmTopic(settings: Settings): string[] {
  const arn = text(settings.ALARM_TOPIC_ARN);
  return arn === undefined || alarms.ALARM_TOPIC_ARN.test(arn) ? [] : [alarms.alarmTopicProblem()];
}

// --- what the functions will read -------------------------------------------------------

/**
 * The tunables the functions read at cold start (src/config.ts), checked by the very code
 * that reads them, as the local runtime would (no database settings needed for that).
 */
export function checkTunables(settings: Settings): string[] {
  const env = asEnv(settings);
  delete env.LOCAL_DB_URL;
  const problems: string[] = [];
  try {
    readConfig({ ...env, IS_OFFLINE: 'true' });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }
  const level = text(settings.LOG_LEVEL);
  if (level !== undefined && !['debug', 'info', 'warn', 'error'].includes(level.toLowerCase())) {
    problems.push(`LOG_LEVEL "${level}" must be debug, info, warn or error`);
  }
  return problems;
}

/** The authorizer's settings, checked by the authorizer's own reader: one mode, complete. */
/** settings.js's AUTH_MODES: how `$connect` is guarded. */
const AUTH_MODES = ['off', 'hs256', 'jwks'];

export function checkAuth(settings: Settings): string[] {
  const env = asEnv(settings);
  const mode = env.AUTH_MODE?.toLowerCase();
  if (mode !== undefined && !AUTH_MODES.includes(mode)) {
    return [`AUTH_MODE must be one of ${AUTH_MODES.join(', ')}, got "${env.AUTH_MODE}"`];
  }
  if (mode === 'jwks' && env.AUTH_JWKS_URL === undefined) {
    return ['AUTH_MODE is jwks: set AUTH_JWKS_URL, with AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE'];
  }
  try {
    if (env.AUTH_JWT_SECRET !== undefined || env.AUTH_JWKS_URL !== undefined) readAuthSettings(env);
    else if (env.AUTH_MAX_TOKEN_AGE !== undefined) readMaxTokenAge(env);
    readDefaultRooms(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [error.message];
  }
  return [];
}

// --- credentials, without asking AWS ---------------------------------------------------
// --- all of it --------------------------------------------------------------------------

export interface Target {
  stage: string;
  region: string;
}

/** Where serverless.yml deploys: `--stage`/`--region` win over STAGE/REGION, then dev/us-east-1. */
export function targetOf(args: readonly string[], settings: Settings): Target {
  const option = (long: string, short: string): string | undefined => {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as string;
      if (arg === long || arg === short) return text(args[i + 1]);
      if (arg.startsWith(`${long}=`)) return text(arg.slice(long.length + 1));
    }
    return undefined;
  };
  return {
    stage: option('--stage', '-s') ?? text(settings.STAGE) ?? 'dev',
    region: option('--region', '-r') ?? text(settings.REGION) ?? 'us-east-1',
  };
}

export interface ServiceShape {
  service: string;
  functionNames: string[];
}

/** Where to deploy or what to remove: the stage and the region. */
export function checkTarget(target: Target, shape: ServiceShape): string[] {
  return [...checkStage(target.stage, shape.service, shape.functionNames), ...checkRegion(target.region)];
}

/** Every problem with what would be deployed, one line each (credentials apart: checkCredentials). */
export function checkSettings(settings: Settings): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const given = text(value);
    if (key.endsWith('_CIDR') && given !== undefined) problems.push(...checkCidr(key, given));
  }
  const optional: [string, (value: string) => string[]][] = [
    ['DB_INSTANCE_CLASS', checkInstanceClass],
    ['DB_ENGINE_VERSION', checkEngineVersion],
    ['DB_ALLOCATED_STORAGE', checkStorage],
    ['DB_NETWORK', checkNetworkMode],
  ];
  for (const [key, check] of optional) {
    const given = text(settings[key]);
    if (given !== undefined) problems.push(...check(given));
  }
  problems.push(...checkDatabaseNames(settings), ...checkPassword(settings), ...checkReservedConcurrency(settings));
  problems.push(...checkAlarmTopic(settings));
  problems.push(...checkTunables(settings), ...checkAuth(settings));
  // The connection budget and the throttle, as settings.js resolves them (infra/capacity.js);
  // a class that is no instance class at all is already said above.
  const instanceClass = text(settings.DB_INSTANCE_CLASS);
  if (instanceClass === undefined || checkInstanceClass(instanceClass).length === 0) {
    problems.push(...stageCapacityOf(settings).problems);
  }
  return problems;
}
