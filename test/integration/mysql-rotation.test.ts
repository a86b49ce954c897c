/**
 * A rotation of the database password, as RDS does it, against the real MariaDB and the real
 * SDK client over HTTP to a Secrets Manager stand-in on 127.0.0.1: a user of this run whose
 * password the test changes (ALTER USER), and a secret whose AWSCURRENT lags behind the server
 * for a few reads, or whose new value is only AWSPENDING yet. The store backs off and reads
 * again within the operation's budget, tries AWSPENDING, keeps what connected, and when nothing
 * does, fails with a DatabasePasswordError before the budget ends.
 */
import { rdsPassword, resetSecretClients } from '../../src/aws/secrets';
import { DatabasePasswordError, SecretError, StoreError } from '../../src/errors';
import { connect, useStore } from '../../src/handler';
import { MYSQL_TIMEOUTS } from '../../src/data';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { connectEvent, lambdaContext } from '../support/harnesses/events';
import { mysqlSettings, SKIP_MYSQL, testUser, uniquePrefix } from '../support/harnesses/mysql';
import { startSecretsStandIn } from '../support/stand-ins/secrets-stand-in';
import type { SecretsRequest, SecretsStandIn } from '../support/stand-ins/secrets-stand-in';

const suite = SKIP_MYSQL ? describe.skip : describe;
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-rotating-AbCdEf';
const rdsJson = (password: string) => JSON.stringify({ username: 'ignored', password });
/** The operation's budget, which the retries must stay inside (docs/operations.md#time-budgets). */
const BUDGET_MS = MYSQL_TIMEOUTS.operationMs;

suite('a rotation of the database password', () => {
  const root = mysqlSettings('');
  const prefix = uniquePrefix('rot');
  const user = testUser('rot');
  let standIn: SecretsStandIn;
  let store: MysqlConnectionStore;
  let reachable = false;

  /** The server's password changes; the store's connection ends (its next call connects again). */
  async function rotateServer(password: string): Promise<void> {
    await user.setPassword(password);
    await store.close();
  }

  const stageOf = (request: SecretsRequest) => (request.body.VersionStage as string | undefined) ?? 'AWSCURRENT';
  const reads = (stage: string) => standIn.requests.filter((request) => stageOf(request) === stage).length;

  async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T | undefined; error: unknown }> {
    const started = Date.now();
    try {
      return { ms: Date.now() - started, result: await work(), error: undefined };
    } catch (error) {
      return { ms: Date.now() - started, result: undefined, error };
    }
  }

  beforeAll(async () => {
    await user.create('first-password-0123');
    reachable = true;
    standIn = await startSecretsStandIn({ [ARN]: rdsJson('first-password-0123') });
    store = new MysqlConnectionStore(
      { ...mysqlSettings(prefix), user: user.name, password: undefined, passwordSecretArn: ARN },
      { passwordSecret: rdsPassword(ARN, { endpoint: standIn.url }) },
    );
    await store.add({ connectionId: 'a', connectedAt: 1, subject: null });
  });

  afterAll(async () => {
    if (!reachable) return;
    await store?.close();
    const cleanup = new MysqlConnectionStore(mysqlSettings(prefix));
    await cleanup.dropTables().finally(() => cleanup.close());
    await user.drop();
    resetSecretClients();
    await standIn?.close();
  });

  beforeEach(() => {
    standIn.requests.length = 0;
    standIn.onRequest = undefined;
  });

  it('rides out an AWSCURRENT that still gives the old password for 4 reads: $connect succeeds within its budget', async () => {
    await rotateServer('second-password-4567');
    // Secrets Manager gives the old value for a while after the server changed (AWS's managed rotation guide).
    standIn.onRequest = (request) => {
      if (stageOf(request) === 'AWSCURRENT' && reads('AWSCURRENT') === 5) {
        standIn.secrets.set(ARN, rdsJson('second-password-4567'));
      }
    };
    const env = { DB_HOST: root.host, DB_NAME: root.database, DB_USER: user.name, DB_SECRET_ARN: ARN };
    const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
    Object.assign(process.env, env);
    useStore(store);
    try {
      const { ms, result } = await timed(() => connect(connectEvent('b'), lambdaContext()));
      expect(result).toEqual({ statusCode: 200 });
      expect(ms).toBeLessThan(BUDGET_MS);
    } finally {
      useStore(undefined);
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    expect(await store.get('b')).toMatchObject({ connectionId: 'b' });
    // Each round: AWSCURRENT again (the old value is not tried twice), then AWSPENDING (none
    // outside the rotation's own steps: ResourceNotFoundException, a normal answer), then a pause.
    expect(reads('AWSCURRENT')).toBe(5);
    expect(reads('AWSPENDING')).toBe(4);
  });

  it('connects with AWSPENDING while AWSCURRENT still holds the old password, and keeps using it', async () => {
    await rotateServer('third-password-89ab');
    standIn.pending.set(ARN, rdsJson('third-password-89ab'));
    const { ms, result } = await timed(() => store.get('a'));
    expect(result).toMatchObject({ connectionId: 'a' });
    expect(ms).toBeLessThan(BUDGET_MS);
    expect(standIn.requests.map((request) => request.body)).toEqual([
      { SecretId: ARN },
      { SecretId: ARN, VersionStage: 'AWSPENDING' },
    ]);
    // The next connection of this container uses the password that worked, without reading.
    await store.close();
    await expect(store.list(10)).resolves.toMatchObject({ count: 2 });
    expect(standIn.requests).toHaveLength(2);
    // The rotation ends: AWSPENDING becomes AWSCURRENT.
    standIn.secrets.set(ARN, rdsJson('third-password-89ab'));
    standIn.pending.delete(ARN);
  });

  it('fails with a DatabasePasswordError within the budget when no password the secret gives is accepted', async () => {
    await rotateServer('fourth-password-cdef');
    standIn.pending.set(ARN, rdsJson('not-the-servers-either'));
    const { ms, error } = await timed(() => store.get('a'));
    expect(error).toBeInstanceOf(DatabasePasswordError);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toMatch(
      /refused the 2 password\(s\) .* until the operation's budget ran out: ER_ACCESS_DENIED_ERROR/,
    );
    expect(((error as Error).cause as { code?: string }).code).toBe('ER_ACCESS_DENIED_ERROR');
    expect(JSON.stringify({ message: (error as Error).message })).not.toMatch(/password-|not-the-servers/);
    expect(ms).toBeLessThan(BUDGET_MS + 500);
    // it backed off and read again, round after round, not once
    expect(reads('AWSCURRENT')).toBeGreaterThanOrEqual(3);
    expect(reads('AWSPENDING')).toBe(reads('AWSCURRENT'));
  });

  it('ends by the budget with a StoreError caused by a SecretError when Secrets Manager never answers', async () => {
    standIn.hang = true;
    try {
      const { ms, error } = await timed(() => store.get('a'));
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).cause).toBeInstanceOf(SecretError);
      expect((error as StoreError).message).toMatch(/after reading the password again: SecretError: .*timed out/);
      expect(ms).toBeLessThan(BUDGET_MS + 500);
    } finally {
      standIn.hang = false;
    }
  });

  it('works again once the secret gives the password the server has', async () => {
    standIn.secrets.set(ARN, rdsJson('fourth-password-cdef'));
    standIn.pending.delete(ARN);
    await expect(store.get('a')).resolves.toMatchObject({ connectionId: 'a' });
    expect(standIn.requests.map((request) => request.body)).toEqual([{ SecretId: ARN }]);
  });
});
