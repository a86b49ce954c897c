/**
 * The real SDK client of src/aws/secrets.ts over real HTTP, against a Secrets Manager stand-in
 * on 127.0.0.1 (test/support/stand-ins/secrets-stand-in.ts) with fake credentials: the request it
 * signs, an error answer, and a deadline that really aborts a request nobody answers.
 */
import { SecretError } from '../../src/errors';
import { rdsPassword, readSecretStage, readSecretString, resetSecretClients } from '../../src/aws/secrets';
import { startSecretsStandIn } from '../support/stand-ins/secrets-stand-in';
import type { SecretsStandIn } from '../support/stand-ins/secrets-stand-in';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c3d-AbCdEf';

let standIn: SecretsStandIn;

beforeAll(async () => {
  standIn = await startSecretsStandIn({ [ARN]: '{"username":"websockets","password":"from-the-stand-in"}' });
});

afterAll(async () => {
  resetSecretClients();
  await standIn.close();
});

beforeEach(() => {
  standIn.hang = false;
  standIn.requests.length = 0;
});

describe('readSecretString over HTTP', () => {
  it('sends one GetSecretValue, signed with SigV4 for secretsmanager in the region of the ARN', async () => {
    await expect(readSecretString(ARN, { endpoint: standIn.url })).resolves.toContain('from-the-stand-in');
    expect(standIn.requests).toHaveLength(1);
    const [request] = standIn.requests;
    expect(request?.target).toBe('secretsmanager.GetSecretValue');
    expect(request?.body).toEqual({ SecretId: ARN });
    // test/setup-env.ts gives the fake key id "test".
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/,
    );
  });

  it('turns an error answer into a SecretError with the service error as its cause', async () => {
    const missing = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-AbCdEf';
    const error = await readSecretString(missing, { endpoint: standIn.url }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretError);
    expect(((error as SecretError).cause as Error).name).toBe('ResourceNotFoundException');
  });

  it('aborts a request that is never answered at its deadline: the socket is closed, not left waiting', async () => {
    standIn.hang = true;
    const started = Date.now();
    const error = await readSecretString(ARN, { endpoint: standIn.url, timeoutMs: 300 }).catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(SecretError);
    expect((error as SecretError).message).toMatch(/timed out after 300 ms/);
    expect(took).toBeLessThan(5_000);
    // The server sees the client go away at once (well before the client's 3 s request
    // timeout): the abort destroyed the request, it did not linger.
    await waitFor(() => standIn.requests.length > 0 && standIn.requests.every((r) => r.abandoned), 1_000);
    expect(standIn.requests.length).toBeGreaterThanOrEqual(1);
  });
});

describe('the AWSPENDING stage over HTTP', () => {
  it('asks with VersionStage AWSPENDING, and takes "no such version" (outside a rotation) as none', async () => {
    await expect(readSecretStage(ARN, 'AWSPENDING', { endpoint: standIn.url })).resolves.toBeUndefined();
    standIn.pending.set(ARN, '{"username":"websockets","password":"the-next-one"}');
    try {
      await expect(readSecretStage(ARN, 'AWSPENDING', { endpoint: standIn.url })).resolves.toContain('the-next-one');
      const password = rdsPassword(ARN, { endpoint: standIn.url });
      await expect(password.pending()).resolves.toBe('the-next-one');
      await expect(password.value()).resolves.toBe('from-the-stand-in'); // AWSCURRENT is another version
    } finally {
      standIn.pending.delete(ARN);
    }
    expect(standIn.requests.map((request) => request.body)).toEqual([
      { SecretId: ARN, VersionStage: 'AWSPENDING' },
      { SecretId: ARN, VersionStage: 'AWSPENDING' },
      { SecretId: ARN, VersionStage: 'AWSPENDING' },
      { SecretId: ARN },
    ]);
  });

  it('is still a SecretError when the secret itself is missing, or the read fails otherwise', async () => {
    const missing = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-AbCdEf';
    const gone = await readSecretString(missing, { endpoint: standIn.url }).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(SecretError);
    standIn.hang = true;
    const error = await readSecretStage(ARN, 'AWSPENDING', { endpoint: standIn.url, timeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SecretError);
    expect((error as SecretError).message).toMatch(/\(AWSPENDING\) timed out after 300 ms/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
