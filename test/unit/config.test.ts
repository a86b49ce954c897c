import { readConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1234-AbCdEf';
const aws = { DB_HOST: 'db.example', DB_NAME: 'ws', DB_USER: 'u', DB_SECRET_ARN: SECRET_ARN };

describe('readConfig', () => {
  it('uses MySQL over TLS in AWS, with the defaults of every tunable', () => {
    expect(readConfig({ ...aws, AWS_REGION: 'eu-west-1' })).toEqual({
      offline: false,
      region: 'eu-west-1',
      store: {
        kind: 'mysql',
        host: 'db.example',
        port: 3306,
        database: 'ws',
        user: 'u',
        passwordSecretArn: SECRET_ARN,
        migrate: 'deploy',
        tls: true,
        tablePrefix: '',
        maxConnections: 60,
        reclaimIdle: true,
      },
      managementEndpoint: undefined,
      fanOut: { concurrency: 50, budgetMs: 25_000, retries: 2, retryBaseMs: 50, postTimeoutMs: 1_500 },
      listPageSize: 100,
      presenceMaxMembers: 100,
      apiEndpoint: undefined,
      listScope: 'own',
      maxConnectionsPerUser: 20,
      liveness: { minAgeMs: 300_000, batchSize: 200 },
      history: { ttlMs: 86_400_000, maxPerRoom: 1_000 },
      shards: {
        size: 10_000,
        maxRate: 5_000,
        deliverFunction: undefined,
        lambdaEndpoint: 'https://lambda.eu-west-1.amazonaws.com',
        abandonedAfterMs: 4_800_000,
      },
    });
  });

  it('reads the shard settings, and points Invoke at serverless-offline locally', () => {
    const read = readConfig({
      ...aws,
      FANOUT_SHARD_SIZE: '5',
      FANOUT_MAX_RATE: '800',
      DELIVER_FUNCTION: 'aws-node-websockets-qa-deliver',
      SWEEP_DELIVERY_AGE_MS: '0',
    });
    expect(read.shards).toEqual({
      size: 5,
      maxRate: 800,
      deliverFunction: 'aws-node-websockets-qa-deliver',
      lambdaEndpoint: 'https://lambda.us-east-1.amazonaws.com',
      abandonedAfterMs: 0,
    });
    expect(readConfig({ IS_OFFLINE: 'true', LAMBDA_PORT: '4002' }).shards.lambdaEndpoint).toBe('http://localhost:4002');
    expect(() => readConfig({ ...aws, FANOUT_SHARD_SIZE: '0' })).toThrow(/FANOUT_SHARD_SIZE/);
    expect(() => readConfig({ ...aws, FANOUT_MAX_RATE: 'fast' })).toThrow(/FANOUT_MAX_RATE/);
    // Past a day the tally is gone (DELIVERY_RECORD_MS) before the sweep could end it.
    expect(() => readConfig({ ...aws, SWEEP_DELIVERY_AGE_MS: '86400001' })).toThrow(/SWEEP_DELIVERY_AGE_MS/);
  });

  it('reads the presence threshold (0 turns presence off) and the endpoint the publish function posts to', () => {
    const read = readConfig({
      ...aws,
      PRESENCE_MAX_MEMBERS: '0',
      WEBSOCKET_API_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/qa',
    });
    expect(read).toMatchObject({
      presenceMaxMembers: 0,
      apiEndpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/qa',
    });
    // offline passes the template's Fn::Sub through as "[object Object]": never an endpoint
    expect(readConfig({ ...aws, WEBSOCKET_API_ENDPOINT: '[object Object]' }).apiEndpoint).toBeUndefined();
  });

  it('names a missing database setting', () => {
    expect(() => readConfig({ ...aws, DB_HOST: undefined })).toThrow(
      new ConfigError('DB_HOST is not set (see .env.yml.example)'),
    );
  });

  it('takes no password from the environment in AWS: an RDS IAM token, or the ARN of the secret RDS keeps it in', () => {
    const env = { DB_HOST: 'db.example', DB_NAME: 'ws', DB_USER: 'u', DB_PASSWORD: 'plain-text' };
    expect(() => readConfig({ ...env, DB_AUTH: 'secret' })).toThrow(
      new ConfigError('DB_SECRET_ARN is not set (see .env.yml.example)'),
    );
    expect(JSON.stringify(readConfig({ ...env, DB_SECRET_ARN: SECRET_ARN }))).not.toContain('plain-text');
    expect(JSON.stringify(readConfig(env))).not.toContain('plain-text');
  });

  it('connects as the application user with an RDS IAM token in AWS unless told to use the secret (DB_AUTH)', () => {
    const iam = { DB_HOST: 'db.example', DB_NAME: 'ws', DB_USER: 'app', AWS_REGION: 'eu-west-1' };
    expect(readConfig({ ...iam, DB_AUTH: 'iam', DB_SECRET_ARN: SECRET_ARN }).store).toMatchObject({
      user: 'app',
      iamAuth: { region: 'eu-west-1' },
      tls: true,
    });
    expect(readConfig(iam).store).not.toHaveProperty('passwordSecretArn');
    expect(readConfig(iam).store).toMatchObject({ iamAuth: { region: 'eu-west-1' } });
    expect(readConfig({ ...iam, DB_AUTH: 'secret', DB_SECRET_ARN: SECRET_ARN }).store).not.toHaveProperty('iamAuth');
    expect(() => readConfig({ ...iam, DB_AUTH: 'password' })).toThrow(/DB_AUTH must be iam or secret/);
  });

  it('never migrates from a function in AWS (DB_MIGRATE=deploy), and on first use for a local server unless told', () => {
    expect(readConfig(aws).store).toMatchObject({ migrate: 'deploy' });
    expect(readConfig({ ...aws, DB_MIGRATE: 'first-use' }).store).toMatchObject({ migrate: 'first-use' });
    const local = { IS_OFFLINE: 'true', LOCAL_DB_URL: 'mysql://root@127.0.0.1:3306/test' };
    expect(readConfig(local).store).toMatchObject({ migrate: 'first-use' });
    expect(readConfig({ ...local, DB_MIGRATE: 'deploy' }).store).toMatchObject({ migrate: 'deploy' });
    expect(() => readConfig({ ...aws, DB_MIGRATE: 'lazy' })).toThrow(/DB_MIGRATE must be deploy or first-use/);
  });

  it('never takes serverless-offline’s "[object Object]" for a host', () => {
    expect(() => readConfig({ ...aws, DB_HOST: '[object Object]' })).toThrow(/DB_HOST is not set/);
    const offline = readConfig({ ...aws, DB_HOST: '[object Object]', DB_PORT: '[object Object]', IS_OFFLINE: 'true' });
    expect(offline.store.kind).toBe('embedded');
  });

  it('uses the embedded store offline unless LOCAL_DB_URL names a MySQL server', () => {
    expect(readConfig({ IS_OFFLINE: 'true', EMBEDDED_STORE_FILE: '/tmp/x.sqlite' }).store).toEqual({
      kind: 'embedded',
      file: '/tmp/x.sqlite',
      tablePrefix: '',
    });
    expect(readConfig({ IS_OFFLINE: 'true', LOCAL_DB_URL: 'mysql://root:s%40cret@127.0.0.1:3307/test' }).store).toEqual(
      {
        kind: 'mysql',
        host: '127.0.0.1',
        port: 3307,
        database: 'test',
        user: 'root',
        password: 's@cret',
        tls: false,
        tablePrefix: '',
        maxConnections: 60,
        reclaimIdle: false,
        migrate: 'first-use',
      },
    );
  });

  it('takes the connection budget from DB_MAX_CONNECTIONS', () => {
    const store = readConfig({ ...aws, DB_MAX_CONNECTIONS: '410' }).store;
    expect(store).toMatchObject({ kind: 'mysql', maxConnections: 410 });
    const local = readConfig({
      IS_OFFLINE: 'true',
      LOCAL_DB_URL: 'mysql://root@127.0.0.1/test',
      DB_MAX_CONNECTIONS: '20',
    });
    expect(local.store).toMatchObject({ kind: 'mysql', maxConnections: 20 });
  });

  it.each([
    ['FANOUT_CONCURRENCY', 'ten', /whole number/],
    ['FANOUT_CONCURRENCY', '0', /between 1 and 1000/],
    ['FANOUT_BUDGET_MS', '29000', /between 100 and 28000/],
    ['LIST_PAGE_SIZE', '1.5', /whole number/],
    ['POST_TIMEOUT_MS', '0', /between 100 and 10000/],
    ['PRESENCE_MAX_MEMBERS', '-1', /between 0 and 10000/],
    ['PRESENCE_MAX_MEMBERS', 'many', /whole number/],
    ['DB_MAX_CONNECTIONS', '0', /between 1 and 100000/],
    ['DB_MAX_CONNECTIONS', 'many', /whole number/],
  ])('refuses %s=%s', (name, value, message) => {
    expect(() => readConfig({ ...aws, [name]: value })).toThrow(message);
  });

  it('refuses a table prefix that is not a plain identifier', () => {
    expect(() => readConfig({ ...aws, DB_TABLE_PREFIX: 'x`; drop' })).toThrow(ConfigError);
  });

  it('refuses a LOCAL_DB_URL that is not mysql://', () => {
    expect(() => readConfig({ IS_OFFLINE: 'true', LOCAL_DB_URL: 'postgres://x/y' })).toThrow(/mysql:\/\//);
  });
});
