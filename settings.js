// Resolves `${file(./settings.js)}` in serverless.yml: the settings of .env.yml, or of
// .env.yml.example when there is none (so `npm start` works on a fresh clone).
//
// A key of the file that is no setting (infra/setting-keys.js) stops it, naming the closest one.
// For every setting (settingKeys), a variable of the same name in the environment wins over
// the file. It also computes what serverless.yml cannot express by itself:
// - whether `$connect` has an authorizer, and what that authorizer reads (authorizerEnvironment);
// - the network of DB_NETWORK (infra/network.js) and each function group's role (infra/roles.js);
// - the schema's custom resource, made and migrated at deploy (infra/schema.js);
// - the flood bounds (floodBounds: the throttle's defaults from infra/capacity.js) and the publish route (publishRoute);
// - under `serverless offline` only, the chat page's function (pageFunction).
// No secret value ever reaches the template: the database password is created and rotated by
// RDS in Secrets Manager, and the HS256 key of a deploy is a Secrets Manager secret too (one
// the template generates, or AUTH_JWT_SECRET_ARN). AUTH_JWT_SECRET is for local runs only.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');
const { networkFor } = require('./infra/network');
const { authorizerRole, DEFAULT_APP_USER, storeRoles } = require('./infra/roles');
const { appUserProblem, schemaResources } = require('./infra/schema');
const { STORE_FUNCTIONS } = require('./infra/aws-calls');
const { invokePermissions } = require('./infra/permissions');
const {
  accountConcurrencyProblem,
  databaseBudgetProblem,
  DEFAULT_ACCOUNT_CONCURRENCY,
  DEPARTURES_CONCURRENCY,
  unboundedShardsWarning,
} = require('./infra/concurrency');
const { ALARM_TOPIC_ARN, alarmActions, alarmTopicProblem } = require('./infra/alarms');
const {
  containerBudget,
  DEFAULT_INSTANCE_CLASS,
  RDS_MYSQL_MAX_CONNECTIONS,
  throttleDefaults,
} = require('./infra/capacity');
const { AUTH_KEYS, SettingsFileError, settingKeys, unknownKeyProblems } = require('./infra/setting-keys');

/** serverless.yml's `service:` (the template test checks that they agree). */
const SERVICE = 'aws-node-websockets';

/** HS256 keys shorter than the hash output (32 bytes) are weaker than the algorithm (RFC 7518 3.2). */
const MIN_SECRET_LENGTH = 32;
/** How `$connect` is guarded. Add a mode here, in authorizerEnvironment and in src/config.ts. */
const AUTH_MODES = ['off', 'hs256', 'jwks'];

/** A full Secrets Manager ARN, with the 6-character suffix that IAM needs to match it exactly. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;

/** The name of the HS256 secret the template generates for a stage (`npm run token -- --stage` reads it). */
function generatedJwtSecretName(stage) {
  return `${SERVICE}-${stage}/auth-jwt-secret`;
}

/**
 * `off` or a verification mode: AUTH_MODE, else `jwks` when a key set is named (tokens from
 * an identity provider), else `hs256` when a key or its secret is named. The two ways of
 * verifying never mix.
 */
function authModeOf(settings) {
  const hs256 = settings.AUTH_JWT_SECRET !== undefined || settings.AUTH_JWT_SECRET_ARN !== undefined;
  if (settings.AUTH_JWKS_URL !== undefined && hs256) {
    throw new Error('AUTH_JWKS_URL and AUTH_JWT_SECRET(_ARN) are both set: choose one way of verifying tokens.');
  }
  if (settings.AUTH_MODE !== undefined) {
    const mode = String(settings.AUTH_MODE).toLowerCase();
    if (!AUTH_MODES.includes(mode)) {
      throw new Error(`AUTH_MODE must be one of ${AUTH_MODES.join(', ')}, got "${settings.AUTH_MODE}".`);
    }
    return mode;
  }
  if (settings.AUTH_JWKS_URL !== undefined) return 'jwks';
  if (hs256) return 'hs256';
  return 'off';
}

/**
 * What the authorizer is given to verify tokens (read by src/config.ts): locally the HS256
 * key itself; in AWS only the ARN of the secret that holds it, which its role alone may read.
 */
function authorizerEnvironment(settings, mode, { local }) {
  const environment = {};
  if (mode === 'hs256') {
    if (local) environment.AUTH_JWT_SECRET = settings.AUTH_JWT_SECRET;
    else environment.AUTH_JWT_SECRET_ARN = settings.AUTH_JWT_SECRET_ARN ?? { Ref: 'AuthJwtSecret' };
  }
  // JWKS: the key set's URL, the issuer and the audience, and no secret at all.
  if (mode === 'jwks') environment.AUTH_JWKS_URL = settings.AUTH_JWKS_URL;
  for (const key of ['AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE', 'AUTH_MAX_TOKEN_AGE', 'AUTH_ROOMS_CLAIM']) {
    if (settings[key] !== undefined) environment[key] = String(settings[key]);
  }
  // The rights of tokens without the claim: JSON, which .env.yml may write as a YAML mapping.
  const rooms = settings.AUTH_DEFAULT_ROOMS;
  if (rooms !== undefined)
    environment.AUTH_DEFAULT_ROOMS = typeof rooms === 'object' ? JSON.stringify(rooms) : String(rooms);
  return environment;
}

/**
 * The template's part of an auth mode: the generated HS256 secret (unless one is named) and the
 * authorizer's role, and the ARN of the key it reads (undefined without HS256).
 */
function authorizerResources(settings, mode, { stage }) {
  const resources = {};
  let secretArn;
  if (mode === 'hs256') {
    if (settings.AUTH_JWT_SECRET_ARN !== undefined) {
      secretArn = settings.AUTH_JWT_SECRET_ARN;
    } else {
      resources.AuthJwtSecret = {
        Type: 'AWS::SecretsManager::Secret',
        Properties: {
          Name: generatedJwtSecretName(stage),
          Description: 'HS256 key of the $connect authorizer (only its role may read it)',
          // 64 letters and digits: about 380 bits, and no character a shell or URL would mangle.
          GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
        },
      };
      secretArn = { Ref: 'AuthJwtSecret' };
    }
  }
  return { resources: { ...resources, ...authorizerRole({ secretArn }) }, secretArn };
}

/** The function that verifies the token of a `$connect`, with only the settings it needs. */
function authorizeFunction(settings, mode, where) {
  return {
    handler: 'src/handler.authorize',
    // Why an empty package: serverless.yml, above `functions:`.
    package: {},
    role: 'AuthorizeFunctionRole',
    memorySize: 256,
    timeout: 5,
    environment: authorizerEnvironment(settings, mode, where),
  };
}

function checkAuthSettings(settings, mode, { local }) {
  const secret = settings.AUTH_JWT_SECRET;
  if (secret !== undefined && (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH)) {
    throw new Error(`AUTH_JWT_SECRET must be a string of at least ${MIN_SECRET_LENGTH} characters.`);
  }
  const arn = settings.AUTH_JWT_SECRET_ARN;
  if (arn !== undefined && !SECRET_ARN.test(String(arn))) {
    throw new Error(
      'AUTH_JWT_SECRET_ARN must be the full ARN of a Secrets Manager secret ' +
        '(arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>).',
    );
  }
  if (mode === 'jwks') {
    if (settings.AUTH_JWKS_URL === undefined) throw new Error('AUTH_MODE is jwks: set AUTH_JWKS_URL.');
    if (settings.AUTH_JWT_ISSUER === undefined || settings.AUTH_JWT_AUDIENCE === undefined) {
      throw new Error('AUTH_JWKS_URL needs AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE too.');
    }
  }
  if (mode === 'hs256' && local && secret === undefined) {
    throw new Error(
      'AUTH_MODE is hs256: set AUTH_JWT_SECRET (at least 32 characters, e.g. `openssl rand -base64 48`) for local runs; ' +
        'the deployed authorizer reads its key from Secrets Manager instead.',
    );
  }
}

// infra/concurrency.js RESERVABLE_SHARE: reserved functions may hold 80% of max_connections at
// once (one connection per container, serverless-mysql). The rest is for you (a mysql client, a
// migration), RDS's own monitoring, and containers Lambda is replacing, which hold theirs until
// they are reaped. The stage throttle's defaults fit the same share (infra/capacity.js).

function positive(name, value, { integer }) {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number <= 0 || (integer && !Number.isInteger(number))) {
    throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}.`);
  }
  return number;
}

/**
 * What bounds a flood: the database's connection budget (DB_MAX_CONNECTIONS, given to every
 * function that uses the store), when set the functions' reserved concurrency, which must fit
 * in that budget, and the stage's throttling, derived from them unless set
 * (infra/capacity.js: the highest rate whose containers fit the budget).
 */
function floodBounds(settings) {
  const present = (key) => settings[key] !== undefined && settings[key] !== null && settings[key] !== '';
  const instanceClass = present('DB_INSTANCE_CLASS') ? String(settings.DB_INSTANCE_CLASS) : DEFAULT_INSTANCE_CLASS;
  if (present('DB_MAX_CONNECTIONS')) {
    settings.DB_MAX_CONNECTIONS = positive('DB_MAX_CONNECTIONS', settings.DB_MAX_CONNECTIONS, { integer: true });
  } else if (Object.hasOwn(RDS_MYSQL_MAX_CONNECTIONS, instanceClass)) {
    settings.DB_MAX_CONNECTIONS = RDS_MYSQL_MAX_CONNECTIONS[instanceClass];
  } else {
    throw new Error(
      `DB_INSTANCE_CLASS ${instanceClass} has no known connection budget: set DB_MAX_CONNECTIONS to its ` +
        `max_connections (RDS MySQL's default is {DBInstanceClassMemory/12582880}).`,
    );
  }

  // Off unless set: Lambda refuses a reservation that leaves the account fewer than 100
  // unreserved executions (infra/concurrency.js), and new accounts often have 10 in all.
  // `deliver`'s reservation counts in both budgets: each running shard holds a connection.
  const each = present('RESERVED_CONCURRENCY')
    ? positive('RESERVED_CONCURRENCY', settings.RESERVED_CONCURRENCY, { integer: true })
    : undefined;
  const deliver = present('DELIVER_RESERVED_CONCURRENCY')
    ? positive('DELIVER_RESERVED_CONCURRENCY', settings.DELIVER_RESERVED_CONCURRENCY, { integer: true })
    : undefined;
  const account = present('ACCOUNT_CONCURRENCY')
    ? positive('ACCOUNT_CONCURRENCY', settings.ACCOUNT_CONCURRENCY, { integer: true })
    : DEFAULT_ACCOUNT_CONCURRENCY;
  if (each !== undefined || deliver !== undefined) {
    const problem =
      accountConcurrencyProblem(each, account, deliver) ??
      databaseBudgetProblem(each, deliver, settings.DB_MAX_CONNECTIONS, instanceClass);
    if (problem !== undefined) throw new Error(problem);
  }
  // null leaves a function without a reservation (serverless omits it).
  settings.RESERVED_CONCURRENCY = each ?? null;
  settings.SWEEP_RESERVED_CONCURRENCY = each === undefined ? null : 1;
  // The departures queue's event source runs at most DEPARTURES_CONCURRENCY at once; reserving
  // as many keeps the reservation from throttling it, and the budgets above count them.
  settings.DEPARTURES_CONCURRENCY = DEPARTURES_CONCURRENCY;
  settings.DEPARTURES_RESERVED_CONCURRENCY = each === undefined ? null : DEPARTURES_CONCURRENCY;
  settings.DELIVER_RESERVED_CONCURRENCY = deliver ?? null;

  const defaults = throttleDefaults(
    containerBudget({ maxConnections: settings.DB_MAX_CONNECTIONS, reserved: each, accountConcurrency: account }),
  );
  settings.WS_THROTTLE_BURST = present('WS_THROTTLE_BURST')
    ? positive('WS_THROTTLE_BURST', settings.WS_THROTTLE_BURST, { integer: true })
    : defaults.burst;
  settings.WS_THROTTLE_RATE = present('WS_THROTTLE_RATE')
    ? positive('WS_THROTTLE_RATE', settings.WS_THROTTLE_RATE, { integer: false })
    : defaults.rate;
}

/**
 * EVENTS_PUBLISHED_ROOMS is checked here, before a deploy, by the rule the functions apply
 * (src/events/settings.ts, a unit test keeps the two in step): a pattern that does not parse
 * would otherwise publish nothing, and say so only in the message functions' logs.
 */
const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{0,64}\*?$/;
const MAX_ROOM_PATTERNS = 200;

function publishedRoomsProblem(text) {
  const patterns = text.split(',').map((pattern) => pattern.trim());
  if (patterns.length > MAX_ROOM_PATTERNS)
    return `EVENTS_PUBLISHED_ROOMS: more than ${MAX_ROOM_PATTERNS} room patterns`;
  const bad = patterns.find((pattern) => pattern === '' || !ROOM_PATTERN.test(pattern));
  if (bad === undefined) return undefined;
  return (
    `EVENTS_PUBLISHED_ROOMS: ${JSON.stringify(bad)} is not a room name (letters, digits, _ . : -, at most 64) ` +
    'or such a prefix ending in *; separate patterns with commas'
  );
}

/**
 * `POST /publish` on the HTTP API, where IAM decides who may publish (a SigV4-signed request).
 * serverless-offline 13 cannot start with an `aws_iam` authorizer on an httpApi route (it takes
 * it for a JWT authorizer: "only supports retrieving JWT from the headers"), and it enforces no
 * IAM anyway; so under `serverless offline` (npm start) the route is served without it.
 */
function publishRoute(offline) {
  return { method: 'POST', path: '/publish', ...(offline ? {} : { authorizer: { type: 'aws_iam' } }) };
}

/** Where `npm start` builds the chat page (scripts/page/build.ts) and its function reads it. */
const PAGE_DIR = path.join(__dirname, '.local', 'page');

/**
 * The chat page of `npm start` (scripts/page/handler.ts) on offline's HTTP server, beside
 * POST /publish. Local only: a deploy gets neither the function nor its routes (the page can
 * still be opened against a deployed API with ?url=wss://…).
 */
function pageFunction() {
  return {
    handler: 'scripts/page/handler.page',
    package: {},
    timeout: 5,
    environment: { PAGE_DIR },
    events: ['/', '/client.js', '/page.js', '/chat.css', '/config.json'].map((route) => ({
      httpApi: { method: 'GET', path: route },
    })),
  };
}

/** The settings file's values; a file that is no YAML mapping fails in one line that names it. */
function readSettingsFile(file) {
  const text = fs.readFileSync(file, 'utf8');
  // js-yaml 5 refuses a file with no document (empty, or comments only): that is no settings.
  if (text.split('\n').every((line) => /^\s*(#.*)?$/.test(line))) return {};
  let parsed;
  try {
    parsed = yaml.load(text);
  } catch (error) {
    // js-yaml's message goes on with a few lines of the file; its first line has the reason and the place.
    throw new Error(`${path.basename(file)} is not valid YAML: ${String(error.message).split('\n')[0]}`, {
      cause: error,
    });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${path.basename(file)} must hold "NAME: value" lines`);
  }
  return parsed;
}

// `local: true` is for the local scripts (scripts/local.ts), which read the settings before
// they start `serverless offline` and must apply its rules already.
// What every way of deploying (sls deploy, npm run deploy, the checks plugin) says without one.
const NO_ENV_FILE = 'no .env.yml: run `cp .env.yml.example .env.yml` and edit it first';

module.exports = async ({ options = {}, local: forLocalRun = false } = {}) => {
  const own = path.join(__dirname, '.env.yml');
  const example = path.join(__dirname, '.env.yml.example');
  const argv = process.argv.slice(2);
  // The framework's command is its first word (`sls deploy`, `sls deploy function`); a word
  // further on is not one (a test runner's `--selectProjects unit deploy`).
  const command = argv.find((word) => !word.startsWith('-'));
  // `npm start` runs `serverless offline`: the functions run here, with local settings.
  const local = forLocalRun === true || argv.includes('offline');
  // The example's defaults are for trying things out (npm start, sls package); a deploy creates
  // billed resources named for a stage, from settings someone chose (as `npm run deploy` checks).
  if (!local && command === 'deploy' && !fs.existsSync(own)) {
    throw new Error(NO_ENV_FILE);
  }
  const file = fs.existsSync(own) ? own : example;
  const settings = readSettingsFile(file);
  // A key that is no setting (a misspelling) stops everything here, before anything is built:
  // ignored, it would leave the setting it was meant to be at its default.
  const unknown = unknownKeyProblems(settings, path.basename(file));
  if (unknown.length > 0) throw new SettingsFileError(unknown.join('; '));

  // One rule for every setting: the environment wins over the file (`LOG_LEVEL=warn npm start`,
  // `AUTH_JWT_SECRET=… npm start`). Values are trimmed; an empty one, in either place, is unset,
  // so serverless.yml's default applies. Other variables never become settings.
  for (const key of settingKeys()) {
    const fromEnv = process.env[key];
    if (fromEnv !== undefined && fromEnv.trim() !== '') settings[key] = fromEnv.trim();
    else if (typeof settings[key] === 'string') settings[key] = settings[key].trim();
    if (settings[key] === '' || settings[key] === null) delete settings[key];
  }
  // After the environment's settings: serverless.yml's stage is `${opt:stage, self:custom.settings.STAGE}`.
  const stage = options.stage || settings.STAGE || 'dev';
  const mode = authModeOf(settings);
  checkAuthSettings(settings, mode, { local });
  settings.AUTH_MODE = mode;
  settings.AUTH_JWT_SECRET_ID = settings.AUTH_JWT_SECRET_ARN ?? generatedJwtSecretName(stage);
  if (!local && command === 'deploy' && mode === 'hs256' && settings.AUTH_JWT_SECRET !== undefined) {
    process.stderr.write(
      `[settings] AUTH_JWT_SECRET is for local runs only and is not deployed; the authorizer reads ` +
        `${settings.AUTH_JWT_SECRET_ID} from Secrets Manager (mint tokens with \`npm run token -- --stage ${stage}\`).\n`,
    );
  }

  const network = networkFor(settings.DB_NETWORK ?? 'public', settings);
  settings.NETWORK = {
    mode: network.mode,
    dbSubnetGroup: network.dbSubnetGroup,
    dbPubliclyAccessible: network.dbPubliclyAccessible,
    dbIngress: network.dbIngress,
    storeVpc: network.storeVpc,
  };
  settings.DB_APP_USER = settings.DB_APP_USER ?? DEFAULT_APP_USER;
  const userProblem = appUserProblem(settings.DB_APP_USER, settings.DB_USER ?? 'websockets');
  if (userProblem !== undefined) throw new Error(userProblem);
  const vpc = network.storeVpc !== null;
  const schema = schemaResources({ appUser: settings.DB_APP_USER, vpc, storeFunctions: STORE_FUNCTIONS });
  const outputs = {};
  const resources = {
    ...network.resources,
    ...storeRoles({ stage, vpc, service: SERVICE, dbUser: settings.DB_APP_USER }),
    ...schema.resources,
  };

  if (mode !== 'off') {
    settings.AUTHORIZE_FUNCTION = authorizeFunction(settings, mode, { local });
    settings.CONNECT_ROUTE = {
      route: '$connect',
      authorizer: { name: 'authorize', identitySource: ['route.request.querystring.token'] },
    };
    const authorizer = authorizerResources(settings, mode, { stage });
    Object.assign(resources, authorizer.resources);
    // The key's ARN for `npm run smoke -- --stage`, which mints its tokens with it (a secret's Ref is its ARN).
    if (authorizer.secretArn !== undefined) {
      outputs.AuthJwtSecretArn = {
        Description: 'The HS256 key of the $connect authorizer',
        Value: authorizer.secretArn,
      };
    }
  } else {
    // null removes the function (serverless drops functions whose definition is null).
    settings.AUTHORIZE_FUNCTION = null;
    settings.CONNECT_ROUTE = { route: '$connect' };
  }
  floodBounds(settings);
  const shards = unboundedShardsWarning(settings.RESERVED_CONCURRENCY, settings.DELIVER_RESERVED_CONCURRENCY);
  if (!local && command === 'deploy' && shards !== undefined) process.stderr.write(`[settings] ${shards}\n`);
  if (settings.ALARM_TOPIC_ARN !== undefined && !ALARM_TOPIC_ARN.test(String(settings.ALARM_TOPIC_ARN))) {
    throw new Error(alarmTopicProblem());
  }
  if (settings.EVENTS_PUBLISHED_ROOMS !== undefined) {
    // A YAML list is the same list as a line with commas.
    const rooms = settings.EVENTS_PUBLISHED_ROOMS;
    settings.EVENTS_PUBLISHED_ROOMS = Array.isArray(rooms) ? rooms.join(',') : String(rooms);
    const problem = publishedRoomsProblem(settings.EVENTS_PUBLISHED_ROOMS);
    if (problem !== undefined) throw new Error(problem);
  }
  // [] when unset: the alarm is still there to see in the console, it only notifies no one.
  settings.ALARM_ACTIONS = alarmActions(settings.ALARM_TOPIC_ARN);
  settings.PUBLISH_ROUTE = publishRoute(local);
  // null removes the function, as for the authorizer.
  settings.PAGE_FUNCTION = local ? pageFunction() : null;
  settings.PAGE_DIR = PAGE_DIR;
  // Merged with serverless.yml's resources.extensions: the SourceArn of every invoke permission.
  settings.RESOURCES = {
    Resources: resources,
    Outputs: outputs,
    extensions: { ...invokePermissions({ stage, authorizer: mode !== 'off' }), ...schema.extensions },
  };
  return settings;
};

module.exports.settingKeys = settingKeys;
module.exports.NO_ENV_FILE = NO_ENV_FILE;
module.exports.AUTH_KEYS = AUTH_KEYS;
module.exports.SERVICE = SERVICE;
module.exports.generatedJwtSecretName = generatedJwtSecretName;
module.exports.publishedRoomsProblem = publishedRoomsProblem;
