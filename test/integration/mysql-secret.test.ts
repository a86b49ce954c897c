/**
 * The MySQL store with its password in a Secrets Manager secret, as in AWS, against the real
 * MariaDB: a user of its own whose password this test rotates (ALTER USER), and the secret
 * served by aws-sdk-client-mock. After a rotation the store reads the secret again and
 * reconnects; when that does not help within the budget, it fails with a typed error. (The
 * rotation window itself, AWSPENDING included, over HTTP: mysql-rotation.test.ts.)
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { DatabasePasswordError, SecretError, StoreError } from '../../src/errors';
import { MYSQL_TIMEOUTS } from '../../src/data';
import { resetSecretClients } from '../../src/aws/secrets';
import { mysqlSettings, SKIP_MYSQL, testUser, uniquePrefix } from '../support/harnesses/mysql';

const suite = SKIP_MYSQL ? describe.skip : describe;
const sm = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-rotation-AbCdEf';
const rdsJson = (password: string) => JSON.stringify({ username: 'ignored', password });

suite('MySQL with the password in Secrets Manager', () => {
  const prefix = uniquePrefix('sec');
  const user = testUser('h5a');
  let store: MysqlConnectionStore;

  async function rotate(password: string): Promise<void> {
    await user.setPassword(password);
  }

  /**
   * Closes the store's connection, as serverless-mysql does between invocations when the
   * server is busy: the next call opens a new one with the password the container kept.
   * (Not KILL: mysql2 then leaves the dead query's timeout armed, and serverless-mysql acts
   * on it later - a defect of its own, outside this test.)
   */
  async function dropConnections(): Promise<void> {
    await store.close();
  }

  /** Whether the server answered: without it there is nothing to clean up, and the first hook's message says why. */
  let reachable = false;

  beforeAll(async () => {
    await user.create('first-password-0123');
    reachable = true;
  });

  afterAll(async () => {
    if (!reachable) return;
    await store?.close();
    const cleanup = new MysqlConnectionStore(mysqlSettings(prefix));
    await cleanup.dropTables().finally(() => cleanup.close());
    await user.drop();
    resetSecretClients();
  });

  beforeEach(() => {
    sm.reset();
  });

  function storeFromSecret(): MysqlConnectionStore {
    const settings = { ...mysqlSettings(prefix), user: user.name, password: undefined, passwordSecretArn: ARN };
    return new MysqlConnectionStore(settings, { connectTimeoutMs: 3_000 });
  }

  it('reads the password from the secret at the first connect, once per container', async () => {
    sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: rdsJson('first-password-0123') });
    store = storeFromSecret();
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0); // nothing read before it is needed
    await store.add({ connectionId: 'a', connectedAt: 1, subject: null });
    await store.add({ connectionId: 'b', connectedAt: 2, subject: null });
    expect((await store.list(10)).count).toBe(2);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('after a rotation, reads the secret again and reconnects once', async () => {
    await rotate('second-password-4567');
    sm.on(GetSecretValueCommand).resolves({ SecretString: rdsJson('second-password-4567') });
    await dropConnections();
    // The cached first password is refused (ER_ACCESS_DENIED_ERROR); the store reads the
    // secret again, reconnects with the new one, and the call succeeds.
    await store.add({ connectionId: 'c', connectedAt: 3, subject: null });
    expect((await store.list(10)).count).toBe(3);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('fails with a DatabasePasswordError (a StoreError) when the secret keeps giving a refused password, within the budget', async () => {
    await rotate('third-password-89ab');
    // The secret lags behind the server: it still holds the second password, at every stage.
    sm.on(GetSecretValueCommand).resolves({ SecretString: rdsJson('second-password-4567') });
    await dropConnections();
    const started = Date.now();
    const error = await store.get('a').catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(MYSQL_TIMEOUTS.operationMs + 500);
    expect(error).toBeInstanceOf(DatabasePasswordError);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toMatch(/until the operation's budget ran out: ER_ACCESS_DENIED_ERROR/);
    // read again after backing off (the rounds: test/integration/mysql-rotation.test.ts)
    expect(sm.commandCalls(GetSecretValueCommand).length).toBeGreaterThan(2);
  });

  it('fails with a StoreError caused by a SecretError when the secret cannot be read after a rotation', async () => {
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('not authorized'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }),
    );
    const error = await store.get('a').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).cause).toBeInstanceOf(SecretError);
  });

  it('works again once the secret holds the password the server has', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: rdsJson('third-password-89ab') });
    await expect(store.get('a')).resolves.toMatchObject({ connectionId: 'a' });
  });
});
