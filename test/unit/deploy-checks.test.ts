/**
 * `npm run deploy` / `npm run remove` check the settings and that some
 * AWS credential source is configured before anything is built, with no network call,
 * one line per problem. The checks are pure functions; the command is run on a private
 * copy of the service, always with --check, so that no test can ever deploy.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FUNCTION_NAME_LIMIT,
  checkAuth,
  checkCidr,
  checkCredentials,
  checkEngineVersion,
  checkInstanceClass,
  checkNetworkMode,
  checkPassword,
  checkRegion,
  checkSettings,
  checkStage,
  checkStorage,
  checkTarget,
  checkTunables,
  describeRooms,
  describeShards,
  exposedDefaults,
  mergeSettings,
  parseIni,
  settingNames,
  stageCapacityOf,
  targetOf,
} from '../../scripts/deploy/checks';
import type { CredentialInputs } from '../../scripts/deploy/checks';
import * as capacityModel from '../../infra/capacity';
import type { CapacityInputs } from '../../infra/capacity';
import { copyService, root, SETTING_KEYS as settingKeys } from '../support/harnesses/service';

/** The line the model says for these inputs: what the deploy check must print. */
const capacityLine = (inputs: CapacityInputs) => capacityModel.describeCapacity(capacityModel.stageCapacity(inputs));

const shape = { service: 'aws-node-websockets', functionNames: ['connect', 'disconnect', 'message'] };

describe('checkStage', () => {
  it('accepts letters, digits and hyphens', () => {
    expect(checkStage('dev', shape.service, shape.functionNames)).toEqual([]);
    expect(checkStage('pr-123', shape.service, shape.functionNames)).toEqual([]);
  });

  it('refuses characters a stack name cannot hold', () => {
    for (const stage of ['my stage', 'dev_1', 'prod!', 'été']) {
      expect(checkStage(stage, shape.service, shape.functionNames)).toEqual([
        expect.stringMatching(/letters, digits and hyphens/),
      ]);
    }
  });

  it("refuses a stage that would push the longest function name past Lambda's 64 characters", () => {
    const room = FUNCTION_NAME_LIMIT - 'aws-node-websockets--disconnect'.length;
    expect(checkStage('a'.repeat(room), shape.service, shape.functionNames)).toEqual([]);
    expect(checkStage('a'.repeat(room + 1), shape.service, shape.functionNames)).toEqual([
      expect.stringMatching(new RegExp(`too long.*at most ${room} for the stage`)),
    ]);
  });
});

describe('checkRegion', () => {
  it('accepts known regions, including GovCloud and China', () => {
    for (const region of ['us-east-1', 'eu-west-3', 'ap-southeast-7', 'us-gov-west-1', 'cn-north-1']) {
      expect(checkRegion(region)).toEqual([]);
    }
  });

  it('refuses what is not a region name, and a well-formed name of no known region', () => {
    expect(checkRegion('US-EAST-1')).toEqual([expect.stringMatching(/not an AWS region name/)]);
    expect(checkRegion('us-east')).toEqual([expect.stringMatching(/not an AWS region name/)]);
    expect(checkRegion('us-est-1')).toEqual([expect.stringMatching(/not a region this check knows/)]);
  });
});

describe('checkCidr', () => {
  it('accepts IPv4 blocks, the open default included', () => {
    for (const cidr of ['0.0.0.0/0', '203.0.113.0/24', '10.0.0.0/8', '198.51.100.7/32']) {
      expect(checkCidr('DB_ALLOWED_CIDR', cidr)).toEqual([]);
    }
  });

  it('refuses malformed blocks and names the setting', () => {
    for (const cidr of ['10.0.0.0', '256.0.0.0/8', '10.0.0.0/33', 'anywhere', '::/0']) {
      expect(checkCidr('DB_ALLOWED_CIDR', cidr)).toEqual([expect.stringMatching(/^DB_ALLOWED_CIDR "/)]);
    }
  });

  it('refuses host bits and suggests the block meant', () => {
    expect(checkCidr('DB_ALLOWED_CIDR', '10.1.2.3/16')).toEqual([expect.stringContaining('did you mean 10.1.0.0/16?')]);
  });
});

describe('the database settings', () => {
  it('checks the instance class', () => {
    for (const ok of ['db.t4g.micro', 'db.m7g.large', 'db.r6g.2xlarge', 'db.x2iedn.xlarge', 'db.t3.medium']) {
      expect(checkInstanceClass(ok)).toEqual([]);
    }
    for (const bad of ['t4g.micro', 'db.t4g', 'db.t4g.huge', 'db.serverless', 'DB.T4G.MICRO']) {
      expect(checkInstanceClass(bad)).toEqual([expect.stringMatching(/DB_INSTANCE_CLASS/)]);
    }
  });

  it('checks the engine version the parameter group family is built from', () => {
    expect(checkEngineVersion('8.4')).toEqual([]);
    expect(checkEngineVersion('8.0')).toEqual([]);
    expect(checkEngineVersion('8.4.3')).toEqual([expect.stringMatching(/8.0 or 8.4/)]);
  });

  it('checks the storage size', () => {
    expect(checkStorage('20')).toEqual([]);
    expect(checkStorage('10')).toEqual([expect.stringMatching(/DB_ALLOCATED_STORAGE/)]);
    expect(checkStorage('20GB')).toEqual([expect.stringMatching(/DB_ALLOCATED_STORAGE/)]);
  });

  it('checks the network mode', () => {
    expect(checkNetworkMode('public')).toEqual([]);
    expect(checkNetworkMode('private')).toEqual([]);
    expect(checkNetworkMode('vpc')).toEqual([expect.stringMatching(/DB_NETWORK "vpc" must be public or private/)]);
  });

  it('checks a password only where the settings still carry one', () => {
    expect(checkPassword({})).toEqual([]);
    expect(checkPassword({ DB_PASSWORD: 'CHANGE-ME' })).toEqual([expect.stringMatching(/real password/)]);
    expect(checkPassword({ DB_PASSWORD: 'has space 123' })).toEqual([expect.stringMatching(/8 to 41/)]);
    expect(checkPassword({ DB_PASSWORD: 'a/b"c@d12' })).toEqual([expect.stringMatching(/8 to 41/)]);
    expect(checkPassword({ DB_PASSWORD: 'correct-Horse-7' })).toEqual([]);
  });
});

describe('checkTunables and checkAuth (the functions own readers)', () => {
  it('reports a tunable the functions would refuse at cold start', () => {
    expect(checkTunables({ FANOUT_CONCURRENCY: 50, LIST_PAGE_SIZE: '100' })).toEqual([]);
    expect(checkTunables({ FANOUT_CONCURRENCY: 'fifty' })).toEqual([expect.stringMatching(/FANOUT_CONCURRENCY/)]);
    expect(checkTunables({ LOG_LEVEL: 'verbose' })).toEqual([expect.stringMatching(/LOG_LEVEL "verbose"/)]);
    expect(checkTunables({ ROOM_HISTORY_TTL: '24h', ROOM_HISTORY_MAX: 1000 })).toEqual([]);
    expect(checkTunables({ ROOM_HISTORY_TTL: 'forever' })).toEqual([expect.stringMatching(/ROOM_HISTORY_TTL/)]);
    expect(checkTunables({ ROOM_HISTORY_MAX: 0 })).toEqual([expect.stringMatching(/ROOM_HISTORY_MAX/)]);
  });

  it('reports inconsistent authorization settings', () => {
    const jwks = {
      AUTH_JWKS_URL: 'https://idp.example/jwks.json',
      AUTH_JWT_ISSUER: 'https://idp.example',
      AUTH_JWT_AUDIENCE: 'app',
    };
    expect(checkAuth({})).toEqual([]);
    expect(checkAuth(jwks)).toEqual([]);
    expect(checkAuth({ ...jwks, AUTH_JWT_SECRET: 'x'.repeat(40) })).toEqual([expect.stringMatching(/both set/)]);
    expect(checkAuth({ AUTH_MODE: 'hs256' })).toEqual([]); // deployed, the template generates the key
    expect(checkAuth({ ...jwks, AUTH_MODE: 'JWKS' })).toEqual([]);
    expect(checkAuth({ AUTH_MODE: 'bogus' })).toEqual([
      expect.stringMatching(/AUTH_MODE must be one of off, hs256, jwks/),
    ]);
    expect(checkAuth({ AUTH_MODE: 'jwks' })).toEqual([expect.stringMatching(/set AUTH_JWKS_URL/)]);
    expect(checkAuth({ AUTH_JWKS_URL: jwks.AUTH_JWKS_URL })).toEqual([expect.stringMatching(/AUTH_JWT_ISSUER/)]);
    expect(checkAuth({ AUTH_JWT_SECRET: 'short' })).toEqual([expect.stringMatching(/at least 32/)]);
    expect(checkAuth({ AUTH_MAX_TOKEN_AGE: '1 week' })).toEqual([expect.stringMatching(/AUTH_MAX_TOKEN_AGE/)]);
    expect(checkAuth({ AUTH_DEFAULT_ROOMS: '{"lobby":["own"]}' })).toEqual([
      expect.stringMatching(/AUTH_DEFAULT_ROOMS.*unknown right/),
    ]);
    expect(checkTunables({ LIST_SCOPE: 'some' })).toEqual([expect.stringMatching(/LIST_SCOPE/)]);
    expect(checkTunables({ MAX_CONNECTIONS_PER_USER: '0' })).toEqual([
      expect.stringMatching(/MAX_CONNECTIONS_PER_USER/),
    ]);
  });

  it('says what a token without the rooms claim gets when AUTH_DEFAULT_ROOMS is set (unset is a warning)', () => {
    expect(describeRooms({})).toBeUndefined();
    expect(describeRooms({ AUTH_MODE: 'hs256' })).toBeUndefined();
    expect(describeRooms({ AUTH_DEFAULT_ROOMS: '{}' })).toBeUndefined(); // auth off
    expect(describeRooms({ AUTH_MODE: 'hs256', AUTH_DEFAULT_ROOMS: '{}' })).toBe(
      'rooms: a token without the "rooms" claim gets AUTH_DEFAULT_ROOMS {}',
    );
    // written as a YAML mapping in .env.yml
    expect(
      describeRooms({ AUTH_MODE: 'jwks', AUTH_ROOMS_CLAIM: 'custom:rooms', AUTH_DEFAULT_ROOMS: { lobby: ['join'] } }),
    ).toBe('rooms: a token without the "custom:rooms" claim gets AUTH_DEFAULT_ROOMS {"lobby":["join"]}');
  });
});

describe('exposedDefaults', () => {
  /** Nothing left open: auth on with no default rights, own lists, the private network. */
  const closed = { AUTH_MODE: 'hs256', AUTH_DEFAULT_ROOMS: '{}', DB_NETWORK: 'private' };

  it('warns of nothing when nothing is left open', () => {
    expect(exposedDefaults(closed)).toEqual([]);
    expect(exposedDefaults({ ...closed, DB_NETWORK: 'public', DB_ALLOWED_CIDR: '203.0.113.0/24' })).toEqual([]);
    expect(exposedDefaults({ ...closed, AUTH_MODE: undefined, AUTH_JWT_SECRET_ARN: 'arn' })).toEqual([]);
  });

  it('warns, one line each, of every default the README says it exposes', () => {
    expect(exposedDefaults({})).toEqual([
      expect.stringMatching(/^auth is off \(AUTH_MODE\): anyone who knows the wss:\/\/ URL can connect/),
      expect.stringMatching(/^DB_NETWORK is public and DB_ALLOWED_CIDR 0\.0\.0\.0\/0: .* port 3306 is open to every/),
    ]);
    expect(exposedDefaults({ ...closed, AUTH_MODE: 'off' })).toEqual([expect.stringMatching(/^auth is off/)]);
    expect(exposedDefaults({ ...closed, DB_NETWORK: 'public', DB_ALLOWED_CIDR: '0.0.0.0/0' })).toEqual([
      expect.stringMatching(/^DB_NETWORK is public and DB_ALLOWED_CIDR 0\.0\.0\.0\/0/),
    ]);
    expect(exposedDefaults({ ...closed, AUTH_DEFAULT_ROOMS: undefined, AUTH_ROOMS_CLAIM: 'app/rooms' })).toEqual([
      'AUTH_DEFAULT_ROOMS is unset: a token without the "app/rooms" claim may join, publish to and see every room; ' +
        "set AUTH_DEFAULT_ROOMS: '{}' to give such tokens no room (docs/auth.md#rooms-and-rights)",
    ]);
    expect(exposedDefaults({ ...closed, LIST_SCOPE: 'all' })).toEqual([
      expect.stringMatching(/^LIST_SCOPE is all: every signed-in user's `list` shows everyone's connections/),
    ]);
    for (const line of exposedDefaults({ LIST_SCOPE: 'all', AUTH_JWKS_URL: 'https://id.example/jwks' }))
      expect(line).not.toContain('\n');
  });

  it('warns of each setting the README\'s "What the defaults expose" names, at the defaults', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('**What the defaults expose**'), readme.indexOf('## Authorization'));
    const named = [...section.matchAll(/`([A-Z][A-Z0-9_]+)/g)]
      .map((match) => match[1] as string)
      .filter((name) => settingKeys.includes(name));
    expect(named).toEqual(expect.arrayContaining(['AUTH_MODE', 'DB_NETWORK', 'DB_ALLOWED_CIDR']));
    const warnings = exposedDefaults({}).join('\n');
    for (const setting of named) expect(warnings).toContain(setting);
  });

  it('says nothing of LIST_SCOPE with auth off: everyone is listed then anyway, and "auth is off" says so', () => {
    expect(exposedDefaults({ ...closed, AUTH_MODE: 'off', LIST_SCOPE: 'all' })).toEqual([
      expect.stringMatching(/^auth is off/),
    ]);
  });
});

describe('checkSettings', () => {
  const good = { DB_INSTANCE_CLASS: 'db.t4g.micro', DB_ALLOWED_CIDR: '0.0.0.0/0', DB_ENGINE_VERSION: '8.4' };

  it('finds nothing wrong with the defaults of .env.yml.example and a password', () => {
    expect(checkSettings({ ...good, DB_PASSWORD: 'correct-Horse-7' })).toEqual([]);
    expect(checkTarget(targetOf([], {}), shape)).toEqual([]);
  });

  it('lists every problem, one line each', () => {
    const problems = [
      ...checkTarget({ stage: 'my stage', region: 'mars-1' }, shape),
      ...checkSettings({ DB_INSTANCE_CLASS: 'huge', DB_ALLOWED_CIDR: '1.2.3.4/8', VPC_CIDR: 'x', DB_NETWORK: 'vpc' }),
    ];
    expect(problems).toHaveLength(6);
    for (const problem of problems) expect(problem).not.toContain('\n');
  });

  it('refuses a reservation that leaves the account fewer than 100 unreserved executions, as settings.js does', () => {
    expect(checkSettings({ ...good, RESERVED_CONCURRENCY: '178' })).toEqual([]);
    expect(checkSettings({ ...good, RESERVED_CONCURRENCY: '179' })).toEqual([
      expect.stringMatching(/^RESERVED_CONCURRENCY 179: .* = 901 reserved executions, but Lambda keeps at least 100 /),
    ]);
    expect(checkSettings({ ...good, RESERVED_CONCURRENCY: '1', ACCOUNT_CONCURRENCY: '10' })).toHaveLength(1);
    expect(checkSettings({ ...good, RESERVED_CONCURRENCY: '300', ACCOUNT_CONCURRENCY: '3000' })).toEqual([]);
    expect(checkSettings({ ...good, RESERVED_CONCURRENCY: 'ten' })).toEqual([
      'RESERVED_CONCURRENCY "ten" must be a positive whole number',
    ]);
  });

  it('counts DELIVER_RESERVED_CONCURRENCY against the 100 unreserved executions, as settings.js does', () => {
    // 5 x 170 + 1 + 49 = 900 leaves 100 of 1000; 50 leaves 99.
    expect(checkSettings({ ...good, RESERVED_CONCURRENCY: '170', DELIVER_RESERVED_CONCURRENCY: '44' })).toEqual([]);
    expect(checkSettings({ ...good, RESERVED_CONCURRENCY: '170', DELIVER_RESERVED_CONCURRENCY: '45' })).toEqual([
      expect.stringMatching(
        /^RESERVED_CONCURRENCY 170, DELIVER_RESERVED_CONCURRENCY 45: 5 functions x 170 \+ 1 \(sweep\) \+ 5 \(departures\) \+ 45 \(deliver\) = 901 reserved executions, but Lambda keeps at least 100 /,
      ),
    ]);
    expect(checkSettings({ ...good, DELIVER_RESERVED_CONCURRENCY: '901' })).toEqual([
      expect.stringMatching(/^DELIVER_RESERVED_CONCURRENCY 901: 901 \(deliver\) = 901 reserved executions/),
    ]);
    expect(checkSettings({ ...good, DELIVER_RESERVED_CONCURRENCY: 'lots' })).toEqual([
      'DELIVER_RESERVED_CONCURRENCY "lots" must be a positive whole number',
    ]);
  });

  it('warns, without refusing, when the WebSocket functions are reserved and the shards are not', () => {
    expect(checkSettings({ ...good, RESERVED_CONCURRENCY: '5' })).toEqual([]);
    expect(describeShards({ ...good, RESERVED_CONCURRENCY: '5' })).toMatch(
      /^RESERVED_CONCURRENCY 5 bounds the WebSocket functions but not the shards .* set DELIVER_RESERVED_CONCURRENCY/,
    );
    expect(describeShards({ ...good, RESERVED_CONCURRENCY: '5', DELIVER_RESERVED_CONCURRENCY: '5' })).toBeUndefined();
    expect(describeShards(good)).toBeUndefined();
  });

  it('takes ALARM_TOPIC_ARN only as the ARN of a standard SNS topic', () => {
    const problem =
      'ALARM_TOPIC_ARN must be the ARN of a standard SNS topic (arn:aws:sns:<region>:<account>:<topic name>).';
    for (const arn of [
      'arn:aws:sns:us-east-1:123456789012:chat-alarms',
      'arn:aws-cn:sns:cn-north-1:123456789012:a_b',
    ]) {
      expect(checkSettings({ ...good, ALARM_TOPIC_ARN: arn })).toEqual([]);
    }
    for (const arn of [
      'chat-alarms',
      'arn:aws:sns:us-east-1:1234:chat-alarms',
      'arn:aws:sqs:us-east-1:123456789012:chat-alarms',
      'arn:aws:sns:us-east-1:123456789012:chat-alarms.fifo',
    ]) {
      expect(checkSettings({ ...good, ALARM_TOPIC_ARN: arn })).toEqual([problem]);
    }
  });

  it('takes stage and region from --stage/--region first, then the settings, then the defaults', () => {
    expect(targetOf([], {})).toEqual({ stage: 'dev', region: 'us-east-1' });
    expect(targetOf([], { STAGE: 'test', REGION: 'eu-west-1' })).toEqual({ stage: 'test', region: 'eu-west-1' });
    expect(targetOf(['--stage', 'prod', '--region=eu-north-1'], { STAGE: 'test' })).toEqual({
      stage: 'prod',
      region: 'eu-north-1',
    });
    expect(targetOf(['-s', 'qa', '-r', 'us-west-2'], {})).toEqual({ stage: 'qa', region: 'us-west-2' });
  });

  it('lets the environment win over the file for every setting, as settings.js does', () => {
    const names = settingNames('STAGE: dev\n# AUTH_JWKS_URL: https://x\nREGION: us-east-1 # where\n');
    expect(names).toEqual(['STAGE', 'AUTH_JWKS_URL', 'REGION']);
    expect(
      mergeSettings({ STAGE: 'dev', REGION: 'us-east-1' }, { STAGE: 'prod', AUTH_JWKS_URL: 'u', HOME: '/' }, names),
    ).toEqual({
      STAGE: 'prod',
      REGION: 'us-east-1',
      AUTH_JWKS_URL: 'u',
    });
  });
});

describe('stageCapacityOf (the line `npm run deploy -- --check` prints)', () => {
  it('says what the default instance carries with the derived throttle, as the model does', () => {
    const { line, warning, problems } = stageCapacityOf({});
    expect(problems).toEqual([]);
    expect(warning).toBeUndefined();
    expect(line).toBe(capacityLine({ instanceClass: 'db.t4g.micro', maxConnections: 66 }));
    expect(line).toMatch(
      /^capacity: db\.t4g\.micro: 52 of 66 connections for functions; throttle per route burst \d+, [\d,]+\/s \(derived\); new connections [\d,]+\/s \(.+\); a room of 10: [\d,]+ messages\/s in, [\d,]+ posts\/s out \(.+\); a room of 100: [\d,]+ messages\/s in, [\d,]+ posts\/s out \(API Gateway's 10,000 requests\/s\)/,
    );
    expect(line).not.toContain('\n');
  });

  it('takes the class, DB_MAX_CONNECTIONS, the throttle and the reservation from the settings', () => {
    expect(stageCapacityOf({ DB_INSTANCE_CLASS: 'db.t4g.small' }).line).toBe(
      capacityLine({ instanceClass: 'db.t4g.small', maxConnections: 150 }),
    );
    const settings = {
      DB_INSTANCE_CLASS: 'db.r6g.xlarge',
      DB_MAX_CONNECTIONS: '2000',
      WS_THROTTLE_BURST: '100',
      WS_THROTTLE_RATE: '250.5',
      RESERVED_CONCURRENCY: '150',
    };
    const { line } = stageCapacityOf(settings);
    expect(line).toBe(
      capacityLine({ instanceClass: 'db.r6g.xlarge', maxConnections: 2000, burst: 100, rate: 250.5, reserved: 150 }),
    );
    expect(line).toContain('150 of 2000 connections for functions; throttle per route burst 100, 251/s (as set)');
  });

  it('refuses, as settings.js does, a class of no known budget without DB_MAX_CONNECTIONS, and a malformed throttle', () => {
    expect(checkSettings({ DB_INSTANCE_CLASS: 'db.r6g.xlarge' })).toEqual([
      expect.stringMatching(
        /^DB_INSTANCE_CLASS db\.r6g\.xlarge has no known connection budget: set DB_MAX_CONNECTIONS/,
      ),
    ]);
    expect(checkSettings({ WS_THROTTLE_BURST: '2.5', WS_THROTTLE_RATE: 'fast' })).toEqual([
      'WS_THROTTLE_BURST must be a positive integer, got "2.5"',
      'WS_THROTTLE_RATE must be a positive number, got "fast"',
    ]);
    expect(stageCapacityOf({ WS_THROTTLE_RATE: '0' }).line).toBeUndefined();
  });

  it('warns when a throttle that was set could keep more containers busy than the budget holds', () => {
    expect(stageCapacityOf({ WS_THROTTLE_BURST: '50', WS_THROTTLE_RATE: '25' }).warning).toBeUndefined();
    expect(stageCapacityOf({ WS_THROTTLE_BURST: '50', WS_THROTTLE_RATE: '2000' }).warning).toMatch(
      /^WS_THROTTLE_BURST 50 and WS_THROTTLE_RATE 2000 may keep \d+ containers busy at once .* more than the 52 connections/,
    );
  });
});

describe('checkCredentials (no network)', () => {
  function inputs(env: Record<string, string>, files: Record<string, string> = {}): CredentialInputs {
    return { env, home: '/home/dev', readFile: (path) => files[path] };
  }

  it('finds keys in the environment, and a half-set pair', () => {
    expect(checkCredentials(inputs({ AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's' }))).toEqual({
      source: 'environment (AWS_ACCESS_KEY_ID)',
      problems: [],
    });
    expect(checkCredentials(inputs({ AWS_ACCESS_KEY_ID: 'AKIA' })).problems).toEqual([
      'AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY',
    ]);
  });

  it('finds the default profile, an SSO profile, a role profile, or a missing or empty profile', () => {
    const credentials = '[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n';
    const config = [
      '[profile sso]',
      'sso_session = corp',
      'sso_account_id = 123456789012',
      '[sso-session corp]',
      'sso_start_url = https://corp.awsapps.com/start',
      '[profile deployer]',
      'role_arn = arn:aws:iam::123456789012:role/deployer',
      'source_profile = default',
      '[profile empty]',
      'region = eu-west-1',
    ].join('\n');
    const files = { '/home/dev/.aws/credentials': credentials, '/home/dev/.aws/config': config };
    expect(checkCredentials(inputs({}, files)).source).toBe('profile "default" (access keys)');
    expect(checkCredentials(inputs({ AWS_PROFILE: 'sso' }, files)).source).toMatch(/SSO/);
    expect(checkCredentials({ ...inputs({}, files), profileOption: 'deployer' }).source).toMatch(/assumed role/);
    expect(checkCredentials(inputs({ AWS_PROFILE: 'empty' }, files)).problems).toEqual([
      expect.stringMatching(/profile "empty" has no credentials/),
    ]);
    expect(checkCredentials(inputs({ AWS_PROFILE: 'typo' }, files)).problems).toEqual([
      expect.stringMatching(/profile "typo" is in neither/),
    ]);
  });

  it('follows AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE', () => {
    const files = { '/ci/creds': '[default]\naws_access_key_id = A\naws_secret_access_key = s\n' };
    expect(checkCredentials(inputs({ AWS_SHARED_CREDENTIALS_FILE: '/ci/creds' }, files)).source).toMatch(/default/);
  });

  it('finds web identity and container credentials from their environment variables', () => {
    expect(
      checkCredentials(inputs({ AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token', AWS_ROLE_ARN: 'arn:aws:iam::1:role/r' }))
        .source,
    ).toMatch(/web identity/);
    expect(checkCredentials(inputs({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' })).source).toMatch(
      /container/,
    );
  });

  it('says how to configure credentials when there are none', () => {
    expect(checkCredentials(inputs({}))).toEqual({
      problems: [expect.stringMatching(/^no AWS credentials found: .*aws configure/)],
    });
  });

  it('parses the shared files leniently (comments, spaces, case of keys)', () => {
    const sections = parseIni('# c\n[ default ]\nAWS_Access_Key_Id=A\n; c\n aws_secret_access_key = s \n');
    expect(sections.get('default')?.get('aws_access_key_id')).toBe('A');
  });
});

describe('npm run deploy / npm run remove (always with --check: a test never deploys)', () => {
  let dir: string;
  let home: string;

  beforeEach(() => {
    dir = copyService('deploy');
    home = mkdtempSync(join(tmpdir(), 'ws-home-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  function run(command: 'deploy' | 'remove', args: string[], env: Record<string, string> = {}) {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('AUTH_')),
    );
    const result = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
        join(root, 'scripts', 'deploy.ts'),
        command,
        '--check',
        ...args,
      ],
      {
        cwd: dir,
        env: { ...clean, HOME: home, AWS_EC2_METADATA_DISABLED: 'true', ...env },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  const keys = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example' };
  const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ws/jwt-AbC123';

  it('stops with exit 2 and one line per problem, no stack trace, before building anything', () => {
    writeFileSync(
      join(dir, '.env.yml'),
      'STAGE: my_stage\nREGION: us-east-1\nDB_PASSWORD: CHANGE-ME\nDB_ALLOWED_CIDR: 10.0.0.1/8\nDB_INSTANCE_CLASS: large\n',
    );
    const { code, stdout, stderr } = run('deploy', []);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    const lines = stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^deploy: nothing was built or sent to AWS/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^ {2}- stage "my_stage"/),
      expect.stringMatching(/^ {2}- DB_ALLOWED_CIDR "10.0.0.1\/8" has host bits set/),
      expect.stringMatching(/^ {2}- DB_INSTANCE_CLASS "large"/),
      expect.stringMatching(/^ {2}- DB_PASSWORD is not set to a real password/),
      expect.stringMatching(/^ {2}- no AWS credentials found/),
    ]);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(join(dir, '.serverless'))).toBe(false); // nothing was packaged
    expect(existsSync(join(dir, '.build'))).toBe(false);
  });

  it('refuses to deploy without a .env.yml, and lets --stage from the command line be checked too', () => {
    const { code, stderr } = run('deploy', ['--stage', 'bad/stage'], keys);
    expect(code).toBe(2);
    expect(stderr).toContain('no .env.yml');
    expect(stderr).toContain('stage "bad/stage"');
  });

  it('passes good settings with credentials (and --check deploys nothing)', () => {
    writeFileSync(join(dir, '.env.yml'), 'STAGE: prod\nREGION: eu-west-1\nDB_PASSWORD: correct-Horse-7\n');
    const { code, stdout, stderr } = run('deploy', [], keys);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('stack aws-node-websockets-prod in eu-west-1, AWS credentials from environment');
  });

  it('refuses a key that is no setting, naming the closest one, to deploy and to remove', () => {
    // Ignored, `AUTH_MOD: hs256` deployed a stage with auth off; a misspelled STAGE removes another stack.
    writeFileSync(join(dir, '.env.yml'), 'STGE: prod\nREGION: eu-west-1\nAUTH_MOD: hs256\n');
    for (const command of ['deploy', 'remove'] as const) {
      const { code, stdout, stderr } = run(command, [], keys);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toEqual([
        `${command}: nothing was built or sent to AWS; fix these first:`,
        '  - .env.yml: STGE is not a setting; did you mean STAGE?',
        '  - .env.yml: AUTH_MOD is not a setting; did you mean AUTH_MODE?',
      ]);
    }
  });

  it('warns of each exposed default, one line each, without failing the check', () => {
    // .env.yml.example's defaults: auth off, the database open to every address.
    copyFileSync(join(dir, '.env.yml.example'), join(dir, '.env.yml'));
    const open = run('deploy', [], keys);
    expect(open.code).toBe(0);
    expect(open.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^deploy: settings pass the checks, with 2 warnings below; stack aws-node-websockets-dev/),
      `deploy: ${capacityLine({ instanceClass: 'db.t4g.micro', maxConnections: 66 })}`,
      expect.stringMatching(/^deploy: warning: auth is off \(AUTH_MODE\): anyone who knows the wss:\/\/ URL/),
      expect.stringMatching(/^deploy: warning: DB_NETWORK is public and DB_ALLOWED_CIDR 0\.0\.0\.0\/0: /),
    ]);

    writeFileSync(join(dir, '.env.yml'), `STAGE: prod\nAUTH_JWT_SECRET_ARN: ${ARN}\nLIST_SCOPE: all\n`);
    const { code, stdout, stderr } = run('deploy', [], keys);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^deploy: settings pass the checks, with 3 warnings below; stack aws-node-websockets-prod/,
    );
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^deploy: capacity: /),
      expect.stringMatching(/^deploy: warning: AUTH_DEFAULT_ROOMS is unset: /),
      expect.stringMatching(/^deploy: warning: LIST_SCOPE is all: /),
      expect.stringMatching(/^deploy: warning: DB_NETWORK is public and DB_ALLOWED_CIDR 0\.0\.0\.0\/0: /),
    ]);
  });

  it('says "settings look right", and warns of nothing, when nothing is left open', () => {
    const envYml = `STAGE: prod\nAUTH_JWT_SECRET_ARN: ${ARN}\nAUTH_DEFAULT_ROOMS: '{}'\nDB_NETWORK: private\n`;
    writeFileSync(join(dir, '.env.yml'), envYml);
    const { code, stdout } = run('deploy', [], keys);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([
      'deploy: settings look right; stack aws-node-websockets-prod in us-east-1, AWS credentials from environment (AWS_ACCESS_KEY_ID)',
      `deploy: ${capacityLine({ instanceClass: 'db.t4g.micro', maxConnections: 66 })}`,
      'deploy: rooms: a token without the "rooms" claim gets AUTH_DEFAULT_ROOMS {}',
    ]);
  });

  it('checks remove too (stage, region, credentials), without needing a .env.yml or a password', () => {
    const refused = run('remove', ['--region', 'xx-nowhere-1']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('region "xx-nowhere-1"');
    expect(refused.stderr).toContain('no AWS credentials found');
    const { code, stdout } = run('remove', [], keys);
    expect(code).toBe(0);
    expect(stdout).toContain('stack aws-node-websockets-dev in us-east-1');
  });
});
