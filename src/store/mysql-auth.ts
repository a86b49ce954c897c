/**
 * RDS IAM database authentication for the store's connection (DB_AUTH=iam): the token each new
 * connection logs in with, and the mysql2 plugin that sends it (used by ./mysql-connections.ts).
 */
import type { AuthPlugin } from 'mysql2';
import { RdsTokenSource } from '../aws/rds-token';
import { signingCredentials } from '../aws/request';
import type { MysqlSettings } from '../config';
import { StoreError } from '../errors';

/**
 * RDS asks an IAM-authenticated user for its token in clear text (mysql_clear_password), which
 * mysql2 refuses unless a plugin is given: this one answers with the connection's password,
 * the token set just before the connect. Only given with TLS (iamToken requires it).
 */
export const clearTextToken: AuthPlugin =
  ({ connection }) =>
  () =>
    Buffer.from(`${connection.config.password ?? ''}\0`);

/** The token source of a session whose settings ask for IAM auth (signed with the role's credentials), else undefined. */
export function iamToken(settings: MysqlSettings): RdsTokenSource | undefined {
  if (settings.iamAuth === undefined) return undefined;
  if (!settings.tls) {
    throw new StoreError(
      'MySQL connect failed: RDS IAM auth sends its token in clear text, so it needs TLS',
      'connect',
    );
  }
  return new RdsTokenSource(
    { host: settings.host, port: settings.port, user: settings.user, region: settings.iamAuth.region },
    () => signingCredentials({ offline: false, purpose: 'sign an RDS IAM auth token' }),
  );
}
