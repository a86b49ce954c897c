/**
 * Who migrates the schema (DB_MIGRATE, src/config.ts): with `deploy` (AWS, and the functions of
 * `npm start`) a store never runs DDL, so tables the deploy did not make are an error, not made on
 * the hot path; `npm start` migrates before its functions run (scripts/local.ts probeStore), with
 * the same migrate() the deploy's custom resource runs.
 */
import { probeStore } from '../../scripts/local';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { dropSchema, executeOn, SCHEMA_VERSION, schemaVersion } from '../../src/store/mysql-schema';
import type { Execute } from '../../src/store/mysql-schema';
import { StoreError } from '../../src/errors';
import { createConnection } from 'mysql2/promise';
import type { Connection as MysqlConnection } from 'mysql2/promise';
import {
  driverOptions,
  MYSQL_URL,
  mysqlSettings,
  MysqlUnreachableError,
  SKIP_MYSQL,
  uniquePrefix,
} from '../support/harnesses/mysql';

jest.setTimeout(30_000);

const suite = SKIP_MYSQL ? describe.skip : describe;

suite('who migrates the MySQL schema', () => {
  let admin: MysqlConnection;
  let db: Execute;
  const prefixes: string[] = [];

  beforeAll(async () => {
    try {
      admin = await createConnection({ ...driverOptions(mysqlSettings('')), connectTimeout: 2_000 });
    } catch (error) {
      throw new MysqlUnreachableError(error);
    }
    db = executeOn(admin);
  });

  afterAll(async () => {
    for (const prefix of prefixes) await dropSchema(db, prefix);
    await admin?.end();
  });

  const fresh = (label: string) => {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    return prefix;
  };

  it('with DB_MIGRATE=deploy, a store runs no DDL: missing tables fail the operation and stay missing', async () => {
    const prefix = fresh('dep');
    const store = new MysqlConnectionStore({ ...mysqlSettings(prefix), migrate: 'deploy' });
    try {
      const error = await store.add({ connectionId: 'c1', connectedAt: 1, subject: null }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).cause).toMatchObject({ code: 'ER_NO_SUCH_TABLE' });
      expect(await schemaVersion(db, prefix)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('with DB_MIGRATE=deploy, a store works on tables migrated beforehand (migrateSchema, as npm start does)', async () => {
    const prefix = fresh('mig');
    const starter = new MysqlConnectionStore(mysqlSettings(prefix));
    expect(await starter.migrateSchema()).toMatchObject({ from: 0, to: SCHEMA_VERSION });
    await starter.close();
    const store = new MysqlConnectionStore({ ...mysqlSettings(prefix), migrate: 'deploy' });
    try {
      await store.add({ connectionId: 'c1', connectedAt: 1, subject: null });
      expect(await store.get('c1')).toMatchObject({ connectionId: 'c1' });
    } finally {
      await store.close();
    }
  });

  it('npm start migrates the tables before its functions start (probeStore), and says which versions it applied', async () => {
    const prefix = fresh('start');
    const migrated: number[][] = [];
    const problem = await probeStore(
      { kind: 'mysql', url: MYSQL_URL },
      { DB_TABLE_PREFIX: prefix },
      { migrated: (versions) => migrated.push(versions) },
    );
    expect(problem).toBeUndefined();
    expect(await schemaVersion(db, prefix)).toBe(SCHEMA_VERSION);
    expect(migrated).toHaveLength(1);
    // A second start finds the schema current and applies nothing.
    expect(
      await probeStore(
        { kind: 'mysql', url: MYSQL_URL },
        { DB_TABLE_PREFIX: prefix },
        {
          migrated: (versions) => migrated.push(versions),
        },
      ),
    ).toBeUndefined();
    expect(migrated).toHaveLength(1);
  });
});
