/**
 * A throw-away MariaDB server with TLS, for the host-name verification test: its own
 * datadir, loopback port, socket and pid file under a temporary directory, certificates
 * from a test CA made here with openssl. Never the shared server on 3306.
 *
 * The server runs with --skip-grant-tables: the test is about what the client accepts from the
 * server's certificate, not about accounts. The datadir starts empty (about a second) unless the
 * caller asks for the system tables, which stored procedures need (mariadb-install-db, about five).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installDatadir, startMariadb } from './mariadb';
import type { MariadbServer } from './mariadb';

/** Skips this test alone: it needs mariadbd and openssl on this machine, which a MySQL elsewhere does not. */
export const SKIP_MYSQL_TLS = process.env.SKIP_MYSQL_TLS_TEST === '1';

export const HOW_TO_INSTALL_MARIADB =
  'mariadbd was not found: the TLS test starts a MariaDB server of its own. Install it with ' +
  '`apt-get install mariadb-server` (or point MARIADBD_PATH at it), or set SKIP_MYSQL_TLS_TEST=1 to skip this test.';

/** The database the store uses on this server: a directory in the datadir is a database to MariaDB. */
export const TLS_DATABASE = 'tlstest';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: 'pipe', timeout: 10_000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new Error(
      'openssl was not found: the TLS test makes its certificates with it. Install it with ' +
        '`apt-get install openssl`, or set SKIP_MYSQL_TLS_TEST=1 to skip this test.',
      { cause: error },
    );
  }
}

/** P-256 keys: generated in milliseconds, unlike RSA. */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface TestCertificates {
  dir: string;
  /** PEM of the test CA that signed both server certificates. */
  ca: string;
  /** Server certificate and key files, by the DNS name the certificate carries. */
  server(name: string): { cert: string; key: string };
}

/** A test CA and one server certificate (CN and SAN) for each name. */
export function makeCertificates(dir: string, names: readonly string[]): TestCertificates {
  openssl(
    [
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=aws-node-websockets test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  for (const name of names) {
    const ext = `${name}.ext`;
    writeFileSync(
      join(dir, ext),
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=DNS:${name}`,
      ].join('\n'),
    );
    openssl(['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-extfile',
        ext,
      ],
      dir,
    );
  }
  return {
    dir,
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    server: (name) => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) }),
  };
}

export type TlsMariadb = MariadbServer;

/**
 * Starts mariadbd (mariadb.ts) with the given server certificate, an empty datadir and no
 * grant tables. The datadir may be reused by a later start with another certificate.
 */
export async function startTlsMariadb(
  mariadbd: string,
  dir: string,
  certificate: { cert: string; key: string },
  timeoutMs = 30_000,
  options: { systemTables?: boolean } = {},
): Promise<TlsMariadb> {
  return startMariadb(mariadbd, dir, {
    timeoutMs,
    // `systemTables`: made by mariadb-install-db (stored procedures need mysql.proc); accounts are
    // still not checked (--skip-grant-tables), so any user and password, an IAM token too, gets in.
    initialise: async () => {
      if (options.systemTables) await installDatadir(mariadbd, dir);
      mkdirSync(join(dir, 'data', TLS_DATABASE), { recursive: true });
    },
    extraArgs: [
      '--skip-grant-tables',
      '--innodb-buffer-pool-size=8M',
      `--ssl-ca=${join(dir, 'ca.pem')}`,
      `--ssl-cert=${certificate.cert}`,
      `--ssl-key=${certificate.key}`,
    ],
  });
}

/** A temporary directory for one test server, removed by the returned function. */
export function scratchDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ws-tls-mariadb-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
