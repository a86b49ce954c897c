/**
 * The application user: the database user every function connects as, made by the deploy step
 * (src/deploy/schema-resource.ts) as the master user. It may read and write the service's
 * tables and nothing else:
 * - SELECT, INSERT, UPDATE, DELETE on each table of the schema (`SELECT … FOR UPDATE` needs
 *   SELECT and UPDATE, `INSERT … ON DUPLICATE KEY UPDATE` INSERT and UPDATE), SELECT only on the
 *   versions table;
 * - EXECUTE on the schema's stored procedures (./mysql-routines.ts), which run with their
 *   definer's (the master user's) rights on those same tables;
 * - PROCESS: the store's connection management counts every user's connections in
 *   information_schema.PROCESSLIST against max_connections (./mysql-connections.ts `end`);
 *   without it a user sees its own threads only. KILL of its own user's idle connections needs
 *   no privilege.
 * No CREATE, ALTER, DROP, INDEX or GRANT: the schema changes only at deploy.
 *
 * In AWS the user has no password: it is identified by RDS IAM database authentication
 * (`IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'`, the RDS user guide's "Creating a
 * database account using IAM authentication") and TLS is required of it. A server without that
 * plugin (MariaDB, a local MySQL) gets a user with a password instead.
 */
import type { Execute, SchemaTables } from './mysql-schema';
import { schemaTables } from './mysql-schema';
import { routineNames } from './mysql-routines';

/** MySQL user names are at most 32 characters; ours are plain so that they need no quoting rules. */
const USER_NAME = /^[A-Za-z0-9_]{1,32}$/;

export type AppUserAuth = { kind: 'iam' } | { kind: 'password'; password: string };

export interface AppUserOptions {
  user: string;
  /** The database the tables are in (the connection's). */
  database: string;
  prefix: string;
  auth: AppUserAuth;
}

/** The privileges on each table: read and write, and the versions table read only. */
export function tablePrivileges(t: SchemaTables): { table: string; privileges: string }[] {
  return Object.entries(t).map(([role, table]) => ({
    table,
    privileges: role === 'versions' ? 'SELECT' : 'SELECT, INSERT, UPDATE, DELETE',
  }));
}

/** `'name'@'%'`: from anywhere the network lets reach the instance (its security group decides). */
export function accountOf(user: string): string {
  if (!USER_NAME.test(user))
    throw new Error(`the application user's name must be 1-32 letters, digits or _: "${user}"`);
  return `'${user}'@'%'`;
}

/** The statements, in order, with their values; each is idempotent, so a deploy runs them all every time. */
export function appUserStatements(options: AppUserOptions): { sql: string; values: unknown[] }[] {
  const account = accountOf(options.user);
  const identified =
    options.auth.kind === 'iam'
      ? { sql: `IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL`, values: [] }
      : { sql: 'IDENTIFIED BY ?', values: [options.auth.password] };
  const db = `\`${options.database.replace(/`/g, '``')}\``;
  return [
    { sql: `CREATE USER IF NOT EXISTS ${account} ${identified.sql}`, values: identified.values },
    // An existing user is brought to the same identification (a stack that switches to IAM).
    { sql: `ALTER USER ${account} ${identified.sql}`, values: identified.values },
    ...tablePrivileges(schemaTables(options.prefix)).map(({ table, privileges }) => ({
      sql: `GRANT ${privileges} ON ${db}.\`${table}\` TO ${account}`,
      values: [],
    })),
    // The procedures exist by now: the deploy step migrates before it makes the user.
    ...Object.values(routineNames(options.prefix)).map((routine) => ({
      sql: `GRANT EXECUTE ON PROCEDURE ${db}.\`${routine}\` TO ${account}`,
      values: [],
    })),
    { sql: `GRANT PROCESS ON *.* TO ${account}`, values: [] },
  ];
}

/**
 * Creates the application user, or brings an existing one to what this code grants. Rights it
 * held beyond those are not revoked here: a REVOKE ALL before the grants would leave the running
 * functions without rights for a moment of every deploy.
 */
export async function ensureAppUser(db: Execute, options: AppUserOptions): Promise<void> {
  for (const { sql, values } of appUserStatements(options)) await db(sql, values);
}
