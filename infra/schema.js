// The deploy step that makes the schema and the application user: a CloudFormation custom
// resource served by the `schema` function (src/deploy/). Its properties carry the schema's
// version and a hash of the code that defines the tables and the user's rights, so a deploy that
// changes either is an Update of the resource, which migrates; a stack from before this resource
// gets it as a Create, which migrates its tables the same way. The store functions depend on it,
// so on an update they change only after the migration succeeded (and a failed one rolls back).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/** The files whose content decides the tables and the user's rights. */
const DEFINITION_FILES = [
  'src/store/mysql-schema.ts',
  'src/store/mysql-routines.ts',
  'src/store/mysql-user.ts',
  'src/store/types.ts',
];

/** MySQL user names: at most 32 characters; ours need no quoting (src/store/mysql-user.ts). */
const APP_USER = /^[A-Za-z0-9_]{1,32}$/;

/** SCHEMA_VERSION of src/store/mysql-schema.ts (read as text: settings.js runs before any build). */
function schemaVersion(root = path.join(__dirname, '..')) {
  const text = fs.readFileSync(path.join(root, 'src/store/mysql-schema.ts'), 'utf8');
  const match = /export const SCHEMA_VERSION = (\d+);/.exec(text);
  if (!match) throw new Error('src/store/mysql-schema.ts: SCHEMA_VERSION not found');
  return Number(match[1]);
}

/** 16 hex digits of the SHA-256 of the definition files: any change to them is a new value. */
function schemaDefinition(root = path.join(__dirname, '..')) {
  const hash = crypto.createHash('sha256');
  for (const file of DEFINITION_FILES) hash.update(`${file}\0`).update(fs.readFileSync(path.join(root, file)));
  return hash.digest('hex').slice(0, 16);
}

function appUserProblem(user, masterUser) {
  if (!APP_USER.test(String(user))) return `DB_APP_USER must be 1-32 letters, digits or _, got "${user}"`;
  if (String(user) === String(masterUser)) return 'DB_APP_USER must differ from DB_USER (the master user)';
  return undefined;
}

/**
 * The resource, and the DependsOn extensions of the store functions. `vpc`: in private mode the
 * schema function reaches S3 (the response URL) and Secrets Manager through the NAT gateway, so
 * the resource waits for the private route.
 */
function schemaResources({ appUser, tablePrefix = '', vpc, storeFunctions }) {
  const resource = {
    Type: 'Custom::DatabaseSchema',
    ...(vpc ? { DependsOn: ['PrivateDefaultRoute'] } : {}),
    Properties: {
      ServiceToken: { 'Fn::GetAtt': ['SchemaLambdaFunction', 'Arn'] },
      SchemaVersion: String(schemaVersion()),
      Definition: schemaDefinition(),
      AppUser: appUser,
      TablePrefix: tablePrefix,
    },
  };
  const logicalId = (name) => `${name.charAt(0).toUpperCase()}${name.slice(1)}LambdaFunction`;
  const extensions = Object.fromEntries(
    storeFunctions.map((name) => [logicalId(name), { DependsOn: ['DatabaseSchema'] }]),
  );
  return { resources: { DatabaseSchema: resource }, extensions };
}

module.exports = { DEFINITION_FILES, schemaVersion, schemaDefinition, appUserProblem, schemaResources };
