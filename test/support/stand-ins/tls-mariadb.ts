/**
 * A throw-away MariaDB server with TLS, for the host-name verification test: its own
 * datadir, loopback port, socket and pid file under a temporary directory, certificates
 * from a test CA made here with openssl. Never the shared server on 3306.
 *
 * The datadir starts empty and the server runs with --skip-grant-tables: the test is about
 * what the client accepts from the server's certificate, not about accounts, and an empty
 * datadir starts in about a second where mariadb-install-db costs five.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../harnesses/offline';

export const HOW_TO_INSTALL_MARIADB =
  'mariadbd was not found: the TLS test starts a MariaDB server of its own. Install it with ' +
  '`apt-get install mariadb-server` (CI has it), or set SKIP_MYSQL_TESTS=1 to skip the MySQL suites.';

/** The database the store uses on this server: a directory in the datadir is a database to MariaDB. */
export const TLS_DATABASE = 'tlstest';

export function findMariadbd(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/mysql/bin'];
  for (const dir of dirs) {
    for (const name of ['mariadbd', 'mysqld']) {
      const candidate = join(dir, name);
      if (dir !== '' && existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe', timeout: 10_000 });
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

export interface TlsMariadb {
  port: number;
  /** Stops the server (SIGTERM, SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/**
 * Starts mariadbd on a free loopback port with the given server certificate and waits
 * (at most `timeoutMs`) until it accepts connections. The datadir may be reused by a
 * later start with another certificate.
 */
export async function startTlsMariadb(
  mariadbd: string,
  dir: string,
  certificate: { cert: string; key: string },
  timeoutMs = 30_000,
): Promise<TlsMariadb> {
  const datadir = join(dir, 'data');
  mkdirSync(join(datadir, TLS_DATABASE), { recursive: true });
  const port = await freePort();
  const args = [
    '--no-defaults',
    `--datadir=${datadir}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${join(dir, 'mariadb.sock')}`,
    `--pid-file=${join(dir, 'mariadb.pid')}`,
    '--skip-grant-tables',
    '--skip-name-resolve',
    '--innodb-buffer-pool-size=8M',
    '--innodb-log-file-size=4M',
    `--ssl-ca=${join(dir, 'ca.pem')}`,
    `--ssl-cert=${certificate.cert}`,
    `--ssl-key=${certificate.key}`,
  ];
  // mariadbd refuses to run as root unless told to; a non-root user runs it as itself.
  if (process.getuid?.() === 0) args.push('--user=root');

  const child: ChildProcess = spawn(mariadbd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Should the test process end without stop() (a crash, a killed jest), take the server along.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.removeListener('exit', orphanGuard);
      resolve();
    }),
  );

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + timeoutMs;
  while (!output.includes('ready for connections')) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`mariadbd exited before it was ready:\n${output}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`mariadbd was not ready within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, stop };
}

/** A temporary directory for one test server, removed by the returned function. */
export function scratchDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ws-tls-mariadb-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
