/**
 * What reading a secret adds to a cold start (the password and the HS256 key are
 * read from Secrets Manager at the first connect): each way of doing it in a fresh Node
 * process, against a Secrets Manager stand-in on 127.0.0.1 with fake credentials (nothing
 * here reaches AWS). Timed inside the child with process.hrtime:
 *
 * - the SDK client, as shipped: src/aws/secrets.ts (compiled), which requires
 *   @aws-sdk/client-secrets-manager on its first read; alone (connect, disconnect, sweep)
 *   and after the management API's client (default, message), with which it shares the core;
 * - a lean signed request: @smithy/signature-v4 (the SDK's own signer) and node:http, the
 *   request built by hand (what the lean-delivery issue proposes for posting);
 * - RDS IAM authentication, approximated by what @aws-sdk/rds-signer does: a SigV4 presign
 *   for `rds-db:connect` with the same signer, no request at all.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startSecretsStandIn } from '../../test/support/stand-ins/secrets-stand-in';
import { childEnv, compile } from './cold-start';
import { median, round } from './stats';

const root = resolve(__dirname, '..', '..');

export interface SecretsRow {
  case: string;
  processes: number;
  /** require() of what the case needs before its first read, ms (median). */
  loadMs: number;
  /** The first read (or presign), including any lazy require, ms (median). */
  firstReadMs: number;
  /** load + first read: what a cold start pays, ms (median of the sums). */
  coldMs: number;
  /** A second read in the same process (a refresh after a rotation), ms (median). */
  warmReadMs: number;
}

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-bench-AbCdEf';

/** The child: one case, timed from its first require to its second read. Prints JSON. */
const CHILD = `
const ms = (a, b) => Number(b - a) / 1e6;
const { BENCH_CASE, BENCH_ENDPOINT, BENCH_SECRETS_MODULE, BENCH_SECRET_ID } = process.env;
const url = new URL(BENCH_ENDPOINT);
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };

// What @smithy/hash-node does, on node:crypto: the signer's sha256 constructor.
const crypto = require('node:crypto');
class Sha256 {
  constructor(secret) { this.hash = secret ? crypto.createHmac('sha256', Buffer.from(secret)) : crypto.createHash('sha256'); }
  update(data) { this.hash.update(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)); }
  digest() { return Promise.resolve(new Uint8Array(this.hash.digest())); }
}

const cases = {
  sdk: {
    load: () => require(BENCH_SECRETS_MODULE),
    read: (mod) => mod.readSecretString(BENCH_SECRET_ID, { endpoint: BENCH_ENDPOINT, region: 'us-east-1' }),
  },
  lean: {
    load: () => ({ SignatureV4: require('@smithy/signature-v4').SignatureV4, http: require('node:http') }),
    read: async ({ SignatureV4, http }) => {
      const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 'secretsmanager', sha256: Sha256 });
      const body = JSON.stringify({ SecretId: BENCH_SECRET_ID });
      const signed = await signer.sign({
        method: 'POST', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: '/', query: {},
        headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'secretsmanager.GetSecretValue', 'content-length': String(Buffer.byteLength(body)) },
        body,
      });
      return new Promise((resolve, reject) => {
        const req = http.request({ hostname: url.hostname, port: url.port, path: '/', method: 'POST',
          headers: signed.headers, signal: AbortSignal.timeout(3000) }, (res) => {
          const parts = [];
          res.on('data', (c) => parts.push(c));
          res.on('end', () => {
            const answer = JSON.parse(Buffer.concat(parts).toString('utf8'));
            res.statusCode === 200 ? resolve(answer.SecretString) : reject(new Error(answer.__type));
          });
        });
        req.on('error', reject);
        req.end(body);
      });
    },
  },
  iam: {
    load: () => ({ SignatureV4: require('@smithy/signature-v4').SignatureV4 }),
    read: async ({ SignatureV4 }) => {
      const signer = new SignatureV4({ credentials, region: 'us-east-1', service: 'rds-db', sha256: Sha256 });
      const host = 'db.bench.us-east-1.rds.amazonaws.com';
      const presigned = await signer.presign(
        { method: 'GET', protocol: 'https:', hostname: host, port: 3306, path: '/',
          query: { Action: 'connect', DBUser: 'websockets' }, headers: { host: host + ':3306' } },
        { expiresIn: 900 },
      );
      return presigned.query['X-Amz-Signature'];
    },
  },
};

// default and message have loaded the management API's client (and the SDK core it shares) already.
cases['sdk-warm-core'] = cases.sdk;
if (BENCH_CASE === 'sdk-warm-core') require('@aws-sdk/client-apigatewaymanagementapi');

const item = cases[BENCH_CASE];
(async () => {
  const t0 = process.hrtime.bigint();
  const loaded = item.load();
  const t1 = process.hrtime.bigint();
  const first = await item.read(loaded);
  const t2 = process.hrtime.bigint();
  await item.read(loaded);
  const t3 = process.hrtime.bigint();
  if (typeof first !== 'string' || first === '') throw new Error('no value read');
  console.log(JSON.stringify({ loadMs: ms(t0, t1), firstReadMs: ms(t1, t2), warmReadMs: ms(t2, t3) }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

interface ChildResult {
  loadMs: number;
  firstReadMs: number;
  warmReadMs: number;
}

const CASES: { name: string; id: 'sdk' | 'sdk-warm-core' | 'lean' | 'iam' }[] = [
  { name: 'SDK client (@aws-sdk/client-secrets-manager, src/aws/secrets.ts): GetSecretValue', id: 'sdk' },
  {
    name: 'SDK client, in a process that loaded the management API client before (default, message)',
    id: 'sdk-warm-core',
  },
  { name: 'lean: @smithy/signature-v4 + node:http, GetSecretValue built by hand', id: 'lean' },
  { name: 'RDS IAM auth token (SigV4 presign, as @aws-sdk/rds-signer; no request)', id: 'iam' },
];

export async function benchSecrets(options: { processes: number }): Promise<SecretsRow[]> {
  const standIn = await startSecretsStandIn({ [SECRET_ARN]: '{"username":"websockets","password":"bench"}' });
  const { dir } = compile();
  const samples = CASES.map(() => [] as ChildResult[]);
  try {
    const env: NodeJS.ProcessEnv = {
      ...childEnv(),
      BENCH_ENDPOINT: standIn.url,
      BENCH_SECRET_ID: SECRET_ARN,
      BENCH_SECRETS_MODULE: join(dir, 'src', 'aws', 'secrets.js'),
    };
    // Interleaved, so that a noisy moment hits every case alike.
    for (let i = 0; i < options.processes; i++) {
      for (const [index, item] of CASES.entries()) {
        // Asynchronously: the stand-in answers from this process's event loop.
        const { stdout } = await promisify(execFile)(process.execPath, ['-e', CHILD], {
          cwd: root,
          env: { ...env, BENCH_CASE: item.id },
          encoding: 'utf8',
          timeout: 60_000,
        }).catch((error: { stderr?: string }) => {
          throw new Error(`secrets bench child (${item.id}) failed: ${error.stderr ?? String(error)}`);
        });
        samples[index]?.push(JSON.parse(stdout.trim().split('\n').pop() ?? '') as ChildResult);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await standIn.close();
  }
  return CASES.map((item, index) => {
    const runs = samples[index] ?? [];
    return {
      case: item.name,
      processes: runs.length,
      loadMs: round(median(runs.map((r) => r.loadMs))),
      firstReadMs: round(median(runs.map((r) => r.firstReadMs))),
      coldMs: round(median(runs.map((r) => r.loadMs + r.firstReadMs))),
      warmReadMs: round(median(runs.map((r) => r.warmReadMs))),
    };
  });
}
