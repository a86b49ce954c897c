/**
 * The MySQL connection verifies whom it talks to - the certificate must
 * chain to the trusted CA *and* name the host that was dialled. Against a TLS MariaDB of
 * the test's own (test/support/stand-ins/tls-mariadb.ts), started once with a certificate for the
 * wrong name and once with one for `localhost`.
 */
import { createConnection } from 'mysql2/promise';
import type { MysqlSettings } from '../../src/config';
import { MysqlConnectionStore } from '../../src/store/mysql';
import { StoreError } from '../../src/errors';
import { SKIP_MYSQL } from '../support/harnesses/mysql';
import { findMariadbd } from '../support/stand-ins/mariadb';
import {
  HOW_TO_INSTALL_MARIADB,
  SKIP_MYSQL_TLS,
  TLS_DATABASE,
  makeCertificates,
  scratchDir,
  startTlsMariadb,
} from '../support/stand-ins/tls-mariadb';
import type { TestCertificates, TlsMariadb } from '../support/stand-ins/tls-mariadb';

jest.setTimeout(60_000);

const suite = SKIP_MYSQL || SKIP_MYSQL_TLS ? describe.skip : describe;

suite('MySQL over verified TLS', () => {
  // Made by the first hook, not while jest collects the tests: a skipped suite leaves no folder behind.
  let scratch: ReturnType<typeof scratchDir>;
  let mariadbd: string;
  let certificates: TestCertificates;
  let server: TlsMariadb | undefined;
  const stores: MysqlConnectionStore[] = [];

  function settings(port: number): MysqlSettings {
    return {
      kind: 'mysql',
      host: 'localhost', // what the certificate must name
      port,
      database: TLS_DATABASE,
      user: 'root',
      password: '',
      tls: true,
      maxConnections: 60,
      reclaimIdle: false,
      tablePrefix: `t_tls_${process.pid}_`,
    };
  }

  /** A store as production builds it, except that it trusts the test CA instead of Amazon's. */
  function storeTrustingTestCa(port: number): MysqlConnectionStore {
    const store = new MysqlConnectionStore(settings(port), { connectTimeoutMs: 5_000, tlsCa: certificates.ca });
    stores.push(store);
    return store;
  }

  async function failureOf(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => new Error('the connection was accepted'),
      (error: unknown) => error,
    );
  }

  beforeAll(() => {
    const found = findMariadbd();
    if (found === undefined) throw new Error(HOW_TO_INSTALL_MARIADB);
    mariadbd = found;
    scratch = scratchDir();
    certificates = makeCertificates(scratch.dir, ['localhost', 'wrong.example']);
  });

  afterEach(async () => {
    await Promise.allSettled(stores.splice(0).map((store) => store.close()));
  });

  afterAll(async () => {
    await server?.stop();
    scratch?.remove();
  });

  describe('a server whose certificate names another host', () => {
    beforeAll(async () => {
      server = await startTlsMariadb(mariadbd, scratch.dir, certificates.server('wrong.example'));
    });
    afterAll(async () => {
      await server?.stop();
      server = undefined;
    });

    it('is refused with a StoreError that names the host, although its CA is trusted', async () => {
      const store = storeTrustingTestCa(server!.port);
      const error = await failureOf(store.list(1));
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
      expect((error as StoreError).message).toContain('localhost');
      expect((error as StoreError).message).toContain('wrong.example');
    });
  });

  describe('a server whose certificate names the host', () => {
    beforeAll(async () => {
      // The store migrates on its first use, and the schema's procedures need the system tables.
      server = await startTlsMariadb(mariadbd, scratch.dir, certificates.server('localhost'), 120_000, {
        systemTables: true,
      });
    }, 150_000);

    it('is accepted, and the session is encrypted', async () => {
      const store = storeTrustingTestCa(server!.port);
      await store.add({ connectionId: 'tls-1', connectedAt: 1, subject: 'alice' });
      await expect(store.get('tls-1')).resolves.toEqual({ connectionId: 'tls-1', connectedAt: 1, subject: 'alice' });

      // The server counts the TLS handshakes it completed; the store's was one of them.
      const admin = await createConnection({
        host: '127.0.0.1',
        port: server!.port,
        user: 'root',
        connectTimeout: 5_000,
      });
      try {
        const [rows] = await admin.query("SHOW GLOBAL STATUS LIKE 'Ssl_finished_accepts'");
        expect(Number((rows as { Value: string }[])[0]?.Value)).toBeGreaterThanOrEqual(1);
      } finally {
        await admin.end();
      }
    });

    it('is refused when its CA is not the trusted one (production trusts only the Amazon RDS bundle)', async () => {
      const store = new MysqlConnectionStore(settings(server!.port), { connectTimeoutMs: 5_000 });
      stores.push(store);
      const error = await failureOf(store.list(1));
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).message).toMatch(/certificate/);
    });
  });
});
