/**
 * The store's connection with RDS IAM database authentication (DB_AUTH=iam), against a stand-in
 * server that asks for the password in clear text after TLS, as RDS does for an IAM user: the
 * store sends the token our signer makes for the role's credentials, over verified TLS only, and
 * signs a new one only when the kept one nears its end.
 */
import { MysqlSession } from '../../src/store/mysql-connections';
import { rdsAuthToken } from '../../src/aws/rds-token';
import type { MysqlSettings } from '../../src/config';
import { StoreError } from '../../src/errors';
import { startIamMysql } from '../support/stand-ins/iam-mysql';
import type { IamMysql } from '../support/stand-ins/iam-mysql';
import { makeCertificates, scratchDir } from '../support/stand-ins/tls-mariadb';
import type { TestCertificates } from '../support/stand-ins/tls-mariadb';

jest.setTimeout(30_000);

const credentials = {
  AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'IQoJb3JpZ2luX2VjEXAMPLE',
};

describe('MySQL with RDS IAM database authentication', () => {
  let scratch: { dir: string; remove(): void };
  let certs: TestCertificates;
  let server: IamMysql;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    scratch = scratchDir();
    certs = makeCertificates(scratch.dir, ['localhost']);
    for (const [key, value] of Object.entries(credentials)) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
  });

  afterEach(async () => {
    await server?.close();
  });

  afterAll(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    scratch?.remove();
  });

  const settings = (port: number): MysqlSettings => ({
    kind: 'mysql',
    host: 'localhost',
    port,
    database: 'websockets',
    user: 'websockets_app',
    iamAuth: { region: 'eu-west-1' },
    tls: true,
    tablePrefix: '',
    maxConnections: 60,
    reclaimIdle: true,
    migrate: 'deploy',
  });

  /** What RDS would check: a token for this user at this host and port, signed with the role's key. */
  function validToken(password: string, port: number): boolean {
    const date = /X-Amz-Date=(\d{8}T\d{6}Z)/.exec(password)?.[1];
    if (date === undefined) return false;
    const iso = `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`;
    const expected = rdsAuthToken(
      { host: 'localhost', port, user: 'websockets_app', region: 'eu-west-1' },
      {
        accessKeyId: credentials.AWS_ACCESS_KEY_ID,
        secretAccessKey: credentials.AWS_SECRET_ACCESS_KEY,
        sessionToken: credentials.AWS_SESSION_TOKEN,
      },
      new Date(iso),
    );
    return password === expected;
  }

  it('logs in as the application user with a signed token sent in clear text over TLS, then runs statements', async () => {
    let port = 0;
    server = await startIamMysql({
      cert: certs.server('localhost'),
      accept: (login) => login.tls && login.user === 'websockets_app' && validToken(login.password, port),
    });
    port = server.port;
    const session = new MysqlSession(settings(port), { tlsCa: certs.ca });
    try {
      await session.executor('probe', Date.now() + 3_000)('DO 1');
      expect(server.logins).toHaveLength(1);
      expect(server.logins[0]).toMatchObject({ user: 'websockets_app', tls: true });
      expect(server.logins[0]?.password).toMatch(/^localhost:\d+\/\?Action=connect&DBUser=websockets_app&X-Amz-/);
      expect(server.queries).toContain('DO 1');
    } finally {
      await session.close();
    }
  });

  it('fails with a StoreError naming the refusal when the server refuses the token (1045)', async () => {
    server = await startIamMysql({ cert: certs.server('localhost'), accept: () => false });
    const session = new MysqlSession(settings(server.port), { tlsCa: certs.ca });
    try {
      const error = await session
        .executor(
          'probe',
          Date.now() + 3_000,
        )('DO 1')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(String((error as StoreError).message)).toMatch(/Access denied/);
      expect(server.logins).toHaveLength(1);
    } finally {
      await session.close();
    }
  });

  it('refuses to send a token without TLS', () => {
    expect(() => new MysqlSession({ ...settings(1), tls: false })).toThrow(/needs TLS/);
  });
});
