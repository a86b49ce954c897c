// Resolves `${file(./settings.js)}` in serverless.yml: the settings of .env.yml, or of
// .env.yml.example when there is none (so `npm start` works on a fresh clone). A deploy
// refuses to run without a real .env.yml and password.
//
// It also computes what serverless.yml cannot express by itself: whether `$connect`
// has an authorizer. That is decided by AUTH_JWT_SECRET alone (from the environment,
// which wins, or from the file), so an unset secret leaves the template as it was.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');

/** HS256 keys shorter than the hash output (32 bytes) are weaker than the algorithm (RFC 7518 3.2). */
const MIN_SECRET_LENGTH = 32;
const AUTH_KEYS = ['AUTH_JWT_SECRET', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE'];

/** The function that verifies the token of a `$connect`, with only the settings it needs. */
function authorizeFunction(settings) {
  const environment = { AUTH_JWT_SECRET: settings.AUTH_JWT_SECRET };
  if (settings.AUTH_JWT_ISSUER) environment.AUTH_JWT_ISSUER = settings.AUTH_JWT_ISSUER;
  if (settings.AUTH_JWT_AUDIENCE) environment.AUTH_JWT_AUDIENCE = settings.AUTH_JWT_AUDIENCE;
  return { handler: 'src/handler.authorize', memorySize: 256, timeout: 5, environment };
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

module.exports = async () => {
  const own = path.join(__dirname, '.env.yml');
  const example = path.join(__dirname, '.env.yml.example');
  const file = fs.existsSync(own) ? own : example;
  const settings = yaml.load(fs.readFileSync(file, 'utf8')) || {};
  const deploying = process.argv.slice(2).some((arg) => arg === 'deploy');
  if (deploying) {
    if (file === example) throw new Error('No .env.yml: run `cp .env.yml.example .env.yml` and set DB_PASSWORD first.');
    if (!settings.DB_PASSWORD || settings.DB_PASSWORD === 'CHANGE-ME') {
      throw new Error('.env.yml: set DB_PASSWORD to a real password before deploying.');
    }
  }

  // `AUTH_JWT_SECRET=… npm start` must work without editing a file.
  for (const key of AUTH_KEYS) {
    const fromEnv = process.env[key];
    if (fromEnv !== undefined && fromEnv.trim() !== '') settings[key] = fromEnv.trim();
    else if (typeof settings[key] === 'string') settings[key] = settings[key].trim();
    if (settings[key] === '' || settings[key] === null) delete settings[key];
  }
  const secret = settings.AUTH_JWT_SECRET;
  if (secret !== undefined) {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
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
  settings.PUBLISH_ROUTE = publishRoute(process.argv.slice(2).includes('offline'));
  return settings;
};
