// Resolves `${file(./settings.js)}` in serverless.yml: the settings of .env.yml, or of
// .env.yml.example when there is none (so `npm start` works on a fresh clone). A deploy
// refuses to run without a real .env.yml and password.
//
// For every setting (settingKeys), a variable of the same name in the environment wins over
// the file. It also computes what serverless.yml cannot express by itself: whether `$connect`
// has an authorizer. That is decided by AUTH_JWT_SECRET or AUTH_JWKS_URL, so with neither the
// template is as it was.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');

/** HS256 keys shorter than the hash output (32 bytes) are weaker than the algorithm (RFC 7518 3.2). */
const MIN_SECRET_LENGTH = 32;
const AUTH_KEYS = ['AUTH_JWT_SECRET', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE', 'AUTH_JWKS_URL', 'AUTH_MAX_TOKEN_AGE'];

/**
 * The names of the settings: every `KEY:` of .env.yml.example, the commented-out ones
 * (`# AUTH_JWT_SECRET: ...`) included, so that documenting a setting there is what makes
 * it one.
 */
function settingKeys() {
  const text = fs.readFileSync(path.join(__dirname, '.env.yml.example'), 'utf8');
  const keys = new Set(AUTH_KEYS);
  for (const match of text.matchAll(/^#?[ \t]*([A-Z][A-Z0-9_]*):/gm)) keys.add(match[1]);
  return [...keys];
}

/** The function that verifies the token of a `$connect`, with only the settings it needs. */
function authorizeFunction(settings) {
  const environment = {};
  for (const key of AUTH_KEYS) if (settings[key] !== undefined) environment[key] = String(settings[key]);
  return { handler: 'src/handler.authorize', memorySize: 256, timeout: 5, environment };
}

/**
 * JWKS mode (tokens from an identity provider, src/config.ts): the authorizer gets the key
 * set's URL, the issuer and the audience, and no secret. The two modes never mix.
 */
function jwksMode(settings) {
  if (settings.AUTH_JWKS_URL === undefined) return false;
  if (settings.AUTH_JWT_SECRET !== undefined) {
    throw new Error('AUTH_JWKS_URL and AUTH_JWT_SECRET are both set: choose one way of verifying tokens.');
  }
  if (settings.AUTH_JWT_ISSUER === undefined || settings.AUTH_JWT_AUDIENCE === undefined) {
    throw new Error('AUTH_JWKS_URL needs AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE too.');
  }
  return true;
}

module.exports = async () => {
  const own = path.join(__dirname, '.env.yml');
  const example = path.join(__dirname, '.env.yml.example');
  const file = fs.existsSync(own) ? own : example;
  const settings = yaml.load(fs.readFileSync(file, 'utf8')) || {};
  // One rule for every setting: the environment wins over the file (`LOG_LEVEL=warn npm start`,
  // `AUTH_JWT_SECRET=… npm start`). Values are trimmed; an empty one, in either place, is unset,
  // so serverless.yml's default applies. Other variables never become settings.
  for (const key of settingKeys()) {
    const fromEnv = process.env[key];
    if (fromEnv !== undefined && fromEnv.trim() !== '') settings[key] = fromEnv.trim();
    else if (typeof settings[key] === 'string') settings[key] = settings[key].trim();
    if (settings[key] === '' || settings[key] === null) delete settings[key];
  }

  const deploying = process.argv.slice(2).some((arg) => arg === 'deploy');
  if (deploying) {
    if (file === example) throw new Error('No .env.yml: run `cp .env.yml.example .env.yml` and set DB_PASSWORD first.');
    if (!settings.DB_PASSWORD || settings.DB_PASSWORD === 'CHANGE-ME') {
      throw new Error('.env.yml: set DB_PASSWORD to a real password before deploying.');
    }
  }

  const secret = settings.AUTH_JWT_SECRET;
  if (jwksMode(settings) || secret !== undefined) {
    if (secret !== undefined && (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH)) {
      throw new Error(`AUTH_JWT_SECRET must be a string of at least ${MIN_SECRET_LENGTH} characters.`);
    }
    settings.AUTHORIZE_FUNCTION = authorizeFunction(settings);
    settings.CONNECT_ROUTE = {
      route: '$connect',
      authorizer: { name: 'authorize', identitySource: ['route.request.querystring.token'] },
    };
  } else {
    // null removes the function (serverless drops functions whose definition is null).
    settings.AUTHORIZE_FUNCTION = null;
    settings.CONNECT_ROUTE = { route: '$connect' };
  }
  return settings;
};
module.exports.settingKeys = settingKeys;
