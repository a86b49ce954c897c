// Resolves `${file(./settings.js)}` in serverless.yml: the settings of .env.yml, or of
// .env.yml.example when there is none (so `npm start` works on a fresh clone).
//
// It also computes what serverless.yml cannot express by itself:
// - whether `$connect` has an authorizer, and what that authorizer reads (authorizerEnvironment);
// - the network of DB_NETWORK (infra/network.js) and each function group's role (infra/roles.js).
// No secret value ever reaches the template: the database password is created and rotated by
// RDS in Secrets Manager, and the HS256 key of a deploy is a Secrets Manager secret too (one
// the template generates, or AUTH_JWT_SECRET_ARN). AUTH_JWT_SECRET is for local runs only.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');
const { networkFor } = require('./infra/network');
const { authorizerRole, storeRoles } = require('./infra/roles');

/** serverless.yml's `service:` (the template test checks that they agree). */
const SERVICE = 'aws-node-websockets';

/** HS256 keys shorter than the hash output (32 bytes) are weaker than the algorithm (RFC 7518 3.2). */
const MIN_SECRET_LENGTH = 32;
const AUTH_KEYS = ['AUTH_MODE', 'AUTH_JWT_SECRET', 'AUTH_JWT_SECRET_ARN', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE'];
/** How `$connect` is guarded. Add a mode here, in authorizerEnvironment and in src/config.ts. */
const AUTH_MODES = ['off', 'hs256'];

/** A full Secrets Manager ARN, with the 6-character suffix that IAM needs to match it exactly. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;

/** The name of the HS256 secret the template generates for a stage (`npm run token -- --stage` reads it). */
function generatedJwtSecretName(stage) {
  return `${SERVICE}-${stage}/auth-jwt-secret`;
}

/** `off` or a verification mode: AUTH_MODE, else `hs256` when a key or its secret is named. */
function authModeOf(settings) {
  if (settings.AUTH_MODE !== undefined) {
    const mode = String(settings.AUTH_MODE).toLowerCase();
    if (!AUTH_MODES.includes(mode)) {
      throw new Error(`AUTH_MODE must be one of ${AUTH_MODES.join(', ')}, got "${settings.AUTH_MODE}".`);
    }
    return mode;
  }
  if (settings.AUTH_JWT_SECRET !== undefined || settings.AUTH_JWT_SECRET_ARN !== undefined) return 'hs256';
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
  if (settings.AUTH_JWT_ISSUER) environment.AUTH_JWT_ISSUER = settings.AUTH_JWT_ISSUER;
  if (settings.AUTH_JWT_AUDIENCE) environment.AUTH_JWT_AUDIENCE = settings.AUTH_JWT_AUDIENCE;
  return environment;
}

/** The template's part of an auth mode: the generated HS256 secret (unless one is named) and the authorizer's role. */
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
  return { ...resources, ...authorizerRole({ secretArn }) };
}

/** The function that verifies the token of a `$connect`, with only the settings it needs. */
function authorizeFunction(settings, mode, where) {
  return {
    handler: 'src/handler.authorize',
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
  if (mode === 'hs256' && local && secret === undefined) {
    throw new Error(
      'AUTH_MODE is hs256: set AUTH_JWT_SECRET (at least 32 characters, e.g. `openssl rand -base64 48`) for local runs; ' +
        'the deployed authorizer reads its key from Secrets Manager instead.',
    );
  }
}

module.exports = async ({ options = {} } = {}) => {
  const own = path.join(__dirname, '.env.yml');
  const example = path.join(__dirname, '.env.yml.example');
  const file = fs.existsSync(own) ? own : example;
  const text = fs.readFileSync(file, 'utf8');
  // js-yaml 5 refuses a file with no document (empty, or comments only): that is no settings.
  const blank = text.split('\n').every((line) => /^\s*(#.*)?$/.test(line));
  const settings = (blank ? {} : yaml.load(text)) || {};
  const argv = process.argv.slice(2);
  // `npm start` runs `serverless offline`: the functions run here, with local settings.
  const local = argv.includes('offline');
  const stage = options.stage || settings.STAGE || 'dev';

  // `AUTH_JWT_SECRET=… npm start` must work without editing a file.
  for (const key of AUTH_KEYS) {
    const fromEnv = process.env[key];
    if (fromEnv !== undefined && fromEnv.trim() !== '') settings[key] = fromEnv.trim();
    else if (typeof settings[key] === 'string') settings[key] = settings[key].trim();
    if (settings[key] === '' || settings[key] === null) delete settings[key];
  }
  const mode = authModeOf(settings);
  checkAuthSettings(settings, mode, { local });
  settings.AUTH_MODE = mode;
  settings.AUTH_JWT_SECRET_ID = settings.AUTH_JWT_SECRET_ARN ?? generatedJwtSecretName(stage);
  if (!local && argv.includes('deploy') && mode === 'hs256' && settings.AUTH_JWT_SECRET !== undefined) {
    process.stderr.write(
      `[settings] AUTH_JWT_SECRET is for local runs only and is not deployed; the authorizer reads ` +
        `${settings.AUTH_JWT_SECRET_ID} from Secrets Manager (mint tokens with \`npm run token -- --stage ${stage}\`).\n`,
    );
  }

  const network = networkFor(settings.DB_NETWORK ?? 'public', settings);
  settings.NETWORK = {
    mode: network.mode,
    dbPubliclyAccessible: network.dbPubliclyAccessible,
    dbIngress: network.dbIngress,
    storeVpc: network.storeVpc,
  };
  const resources = { ...network.resources, ...storeRoles({ stage, vpc: network.storeVpc !== null }) };

  if (mode !== 'off') {
    settings.AUTHORIZE_FUNCTION = authorizeFunction(settings, mode, { local });
    settings.CONNECT_ROUTE = {
      route: '$connect',
      authorizer: { name: 'authorize', identitySource: ['route.request.querystring.token'] },
    };
    Object.assign(resources, authorizerResources(settings, mode, { stage }));
  } else {
    // null removes the function (serverless drops functions whose definition is null).
    settings.AUTHORIZE_FUNCTION = null;
    settings.CONNECT_ROUTE = { route: '$connect' };
  }
  settings.RESOURCES = { Resources: resources };
  return settings;
};

module.exports.SERVICE = SERVICE;
module.exports.generatedJwtSecretName = generatedJwtSecretName;
