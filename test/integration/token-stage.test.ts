/**
 * `npm run token -- --stage <stage>`: the real script, run as a developer would, reading the
 * deployed HS256 key from a Secrets Manager stand-in on 127.0.0.1 (the SDK's standard
 * AWS_ENDPOINT_URL_SECRETS_MANAGER points it there) with the developer's credentials (fake).
 */
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { copyService, root, withoutAuth } from '../support/harnesses/service';
import { startSecretsStandIn } from '../support/stand-ins/secrets-stand-in';
import type { SecretsStandIn } from '../support/stand-ins/secrets-stand-in';

jest.setTimeout(60_000);

const KEY = 'K'.repeat(40) + 'deployed-key-0123456789';
const GENERATED = 'aws-node-websockets-qa/auth-jwt-secret';
const EXISTING = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:ws/jwt-key-AbC123';

let standIn: SecretsStandIn;
let dir: string;

beforeAll(async () => {
  standIn = await startSecretsStandIn({ [GENERATED]: KEY, [EXISTING]: KEY });
  dir = copyService('token');
});

afterAll(async () => {
  await standIn.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  standIn.requests.length = 0;
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function token(envYml: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  writeFileSync(join(dir, '.env.yml'), envYml);
  const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [tsx, join(root, 'scripts', 'token.ts'), ...args],
      {
        cwd: dir,
        env: {
          ...withoutAuth(process.env),
          AWS_ENDPOINT_URL_SECRETS_MANAGER: standIn.url,
          AWS_ACCESS_KEY_ID: 'developer',
          AWS_SECRET_ACCESS_KEY: 'developer-secret',
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_REGION: '',
          ...env,
        },
        timeout: 30_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('npm run token -- --stage', () => {
  it("reads the key the template generated for the stage, with the developer's credentials, and mints a token it verifies", async () => {
    const run = await token('STAGE: dev\nAUTH_MODE: hs256\nAUTH_JWT_ISSUER: https://id.example\n', [
      '--stage',
      'qa',
      '--user',
      'alice',
    ]);
    expect(run).toMatchObject({ code: 0 });
    const { payload } = await jwtVerify(run.stdout.trim(), new TextEncoder().encode(KEY), {
      issuer: 'https://id.example',
    });
    expect(payload.sub).toBe('alice');
    expect(standIn.requests).toHaveLength(1);
    expect(standIn.requests[0]?.body).toEqual({ SecretId: GENERATED });
    expect(standIn.requests[0]?.headers.authorization).toMatch(
      /Credential=developer\/\d{8}\/us-east-1\/secretsmanager\/aws4_request/,
    );
  });

  it('reads the secret AUTH_JWT_SECRET_ARN names, in its region', async () => {
    const run = await token(`AUTH_JWT_SECRET_ARN: ${EXISTING}\n`, ['--stage', 'prod', '--user', 'bob']);
    expect(run).toMatchObject({ code: 0 });
    expect(standIn.requests[0]?.body).toEqual({ SecretId: EXISTING });
    expect(standIn.requests[0]?.headers.authorization).toMatch(/\/eu-central-1\/secretsmanager\//);
  });

  it('says in one line why it cannot, without a stack trace, when the secret cannot be read', async () => {
    const run = await token('AUTH_MODE: hs256\n', ['--stage', 'gone', '--user', 'alice']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim()).toMatch(
      /^token: reading secret aws-node-websockets-gone\/auth-jwt-secret failed: ResourceNotFoundException/,
    );
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a stage whose settings have auth off, and asks nothing of AWS', async () => {
    const run = await token('', ['--stage', 'qa', '--user', 'alice']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/AUTH_MODE off/);
    expect(standIn.requests).toEqual([]);
  });

  it('without --stage signs with the local AUTH_JWT_SECRET and asks nothing of AWS', async () => {
    const run = await token('', ['--user', 'alice'], { AUTH_JWT_SECRET: KEY });
    expect(run).toMatchObject({ code: 0 });
    await expect(jwtVerify(run.stdout.trim(), new TextEncoder().encode(KEY))).resolves.toBeDefined();
    expect(standIn.requests).toEqual([]);
  });
});
