// The names of the settings, and the check that a settings file holds only those. A misspelled
// key (`AUTH_MOD: hs256`) used to be ignored without a word, so the service ran with the very
// default it was meant to change (auth off). Every entry point refuses one now: settings.js (sls
// package/deploy/offline, npm start and the other local scripts) and scripts/deploy.ts.
//
// Only the file is checked. The environment holds many variables that are no settings (PATH,
// AWS_PROFILE, WS_PORT...), so a misspelled variable cannot be told from any other and is
// ignored: settings.js takes from the environment the names below, and nothing else.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** The settings of `$connect`'s authorizer: settings even should the example lose their lines. */
const AUTH_KEYS = [
  'AUTH_MODE',
  'AUTH_JWT_SECRET',
  'AUTH_JWT_SECRET_ARN',
  'AUTH_JWT_ISSUER',
  'AUTH_JWT_AUDIENCE',
  'AUTH_JWKS_URL',
  'AUTH_MAX_TOKEN_AGE',
  'AUTH_ROOMS_CLAIM',
  'AUTH_DEFAULT_ROOMS',
];

/**
 * Keys an older .env.yml may still hold, accepted and ignored (docs/operations.md): the
 * database password is RDS's now, created and rotated in Secrets Manager.
 */
const RETIRED_KEYS = ['DB_PASSWORD'];

/**
 * What `npm start` reads from the environment only (docs/operations.md, "Configuration"): in
 * .env.yml such a key would be ignored as a misspelling is, so it is refused with where it goes.
 */
const ENVIRONMENT_ONLY_KEYS = [
  'WS_PORT',
  'HTTP_PORT',
  'LAMBDA_PORT',
  'LOCAL_MAX_CONCURRENCY',
  'LOCAL_ASYNC_RETRY_DELAYS_MS',
];

const EXAMPLE = path.join(__dirname, '..', '.env.yml.example');

/** Every `KEY:` of a settings file's text, the commented-out ones (`# AUTH_JWKS_URL: ...`) included. */
function keysIn(text) {
  return [...text.matchAll(/^#?[ \t]*([A-Z][A-Z0-9_]*):/gm)].map((match) => match[1]);
}

/**
 * The names of the settings: every `KEY:` of .env.yml.example, so that documenting a setting
 * there is what makes it one (and a setting added there is known at once).
 */
function settingKeys() {
  return knownKeys(fs.readFileSync(EXAMPLE, 'utf8'));
}

/** The settings an example file's text names, with the authorizer's. */
function knownKeys(exampleText) {
  return [...new Set([...AUTH_KEYS, ...keysIn(exampleText)])];
}

/** Edit distance with adjacent transpositions (optimal string alignment): AUTH_MDOE is 1 from AUTH_MODE. */
function distance(a, b) {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i][j] = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        rows[i][j] = Math.min(rows[i][j], rows[i - 2][j - 2] + 1);
      }
    }
  }
  return rows[a.length][b.length];
}

/**
 * The known key closest to `name`, ignoring case (`stage` is STAGE), or undefined when none is
 * close: at most a third of the name's characters wrong, and never more than 3, so that a key
 * of its own (`MY_FLAG`) gets no far-fetched suggestion.
 */
function closestKey(name, known) {
  const upper = name.toUpperCase();
  const allowed = Math.min(3, Math.max(1, Math.floor(upper.length / 3)));
  let best;
  let bestDistance = allowed + 1;
  for (const key of known) {
    const d = distance(upper, key);
    if (d < bestDistance) {
      best = key;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * One line for each key of a settings file's values that is no setting, naming it and the
 * closest setting; [] when every key is one. `file` names the file in the line.
 */
function unknownKeyProblems(values, file, known = settingKeys()) {
  const names = new Set([...known, ...RETIRED_KEYS]);
  return Object.keys(values)
    .filter((key) => !names.has(key))
    .map((key) => {
      if (ENVIRONMENT_ONLY_KEYS.includes(key)) {
        return `${file}: ${key} is read from the environment only, not from ${file} (\`${key}=… npm start\`)`;
      }
      const closest = closestKey(key, known);
      return closest === undefined
        ? `${file}: ${key} is not a setting (every setting is in .env.yml.example)`
        : `${file}: ${key} is not a setting; did you mean ${closest}?`;
    });
}

/**
 * A problem of the settings file, in one line and without a stack: the framework prints a
 * failing `${file(./settings.js)}` by its stack, and the place in settings.js is no help to
 * someone who misspelled a key.
 */
class SettingsFileError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SettingsFileError';
    this.stack = message;
  }
}

module.exports = {
  AUTH_KEYS,
  ENVIRONMENT_ONLY_KEYS,
  RETIRED_KEYS,
  SettingsFileError,
  closestKey,
  keysIn,
  knownKeys,
  settingKeys,
  unknownKeyProblems,
};
