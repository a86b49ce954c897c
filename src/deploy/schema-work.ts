/**
 * The schema resource's work against a real server: one session as the master user (its
 * password from the secret RDS keeps it in, with the rotation handling of
 * src/store/mysql-password.ts), `migrate`, then the application user.
 */
import type { Env, MysqlSettings } from '../config';
import { DEFAULT_DB_MAX_CONNECTIONS, integer, usable } from '../config';
import { ConfigError } from '../errors';
import { MysqlSession } from '../store/mysql-connections';
import type { MysqlStoreOptions } from '../store/mysql-connections';
import { migrate } from '../store/mysql-schema';
import { ensureAppUser } from '../store/mysql-user';
import type { SchemaWork } from './schema-resource';

function required(env: Env, name: string): string {
  const value = usable(env[name]);
  if (value === undefined) throw new ConfigError(`${name} is not set (serverless.yml functions.schema)`);
  return value;
}

/** The master user's connection, from the schema function's environment (serverless.yml). */
export function masterSettings(env: Env = process.env): MysqlSettings {
  return {
    kind: 'mysql',
    host: required(env, 'DB_HOST'),
    port: integer(env, 'DB_PORT', 3306, 1, 65_535),
    database: required(env, 'DB_NAME'),
    user: required(env, 'DB_MASTER_USER'),
    passwordSecretArn: required(env, 'DB_SECRET_ARN'),
    tls: true,
    tablePrefix: '',
    maxConnections: DEFAULT_DB_MAX_CONNECTIONS,
    // The master user's connections may be anyone's (an operator's client): never killed from here.
    reclaimIdle: false,
  };
}

/** The work on the server `settings` name, as their user (the master user in AWS). */
export function schemaWork(settings: MysqlSettings, options: MysqlStoreOptions = {}): SchemaWork {
  let session: MysqlSession | undefined;
  return {
    async apply(properties, auth, deadline) {
      session = new MysqlSession({ ...settings, tablePrefix: properties.tablePrefix }, options);
      try {
        const db = session.executor('migrate', deadline);
        // Whole seconds for another migration's lock and the tables' metadata locks, inside the budget.
        const lockWaitSeconds = Math.max(1, Math.floor((deadline - Date.now()) / 1000) - 1);
        const report = await migrate(db, properties.tablePrefix, { lockWaitSeconds });
        await ensureAppUser(db, {
          user: properties.appUser,
          database: settings.database,
          prefix: properties.tablePrefix,
          auth,
        });
        return report;
      } finally {
        await session.close();
      }
    },
    abandon() {
      void session?.close();
    },
  };
}
