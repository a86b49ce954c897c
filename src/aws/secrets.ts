/**
 * Secrets Manager, read lazily: the database password (a secret RDS creates and rotates
 * for `ManageMasterUserPassword`) for the store functions, and the HS256 key for the
 * authorizer. No secret value is in the template or in an environment variable; the
 * functions get the secret's ARN and a role that may read that one secret.
 *
 * The AWS SDK client (pinned and shipped, like the management API's) is required on the
 * first read, not at load: a handler pays for it only when it first connects to MySQL or
 * verifies a token, once per container (`npm run bench` measures it, section "Secrets").
 *
 * Every read has a deadline that really aborts the request (the socket is destroyed) and
 * fails with a SecretError. Values are cached per container and read again only on demand:
 * after MySQL refused the cached password, because RDS rotated it.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { errorText, SecretError } from '../errors';
import { withTimeout } from '../timeout';

/* eslint-disable @typescript-eslint/no-require-imports */
const sdk = () => require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
const http = () => require('@smithy/node-http-handler') as typeof import('@smithy/node-http-handler');
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * Budget of one read, both attempts included. Secrets Manager answers in tens of ms in its
 * region; 3 s leaves `$connect` (10 s) time to connect to MySQL after a slow read.
 */
export const SECRET_TIMEOUT_MS = 3_000;

export interface SecretReadOptions {
  /** The secret's region; by default the one in its ARN, else the function's own. */
  region?: string;
  /** Another endpoint: a local stand-in in tests and the bench. */
  endpoint?: string;
  timeoutMs?: number;
}

/** The region of a full ARN (`arn:aws:secretsmanager:eu-west-1:…`); undefined for a name. */
export function regionOf(secretId: string): string | undefined {
  return /^arn:[^:]+:secretsmanager:([a-z0-9-]+):/.exec(secretId)?.[1];
}

const clients = new Map<string, SecretsManagerClient>();

/** One client per region and endpoint, kept for warm invocations. */
function clientFor(region: string | undefined, endpoint: string | undefined): SecretsManagerClient {
  const key = `${region ?? ''}|${endpoint ?? ''}`;
  let client = clients.get(key);
  if (!client) {
    const { SecretsManagerClient } = sdk();
    const { NodeHttpHandler } = http();
    client = new SecretsManagerClient({
      ...(region === undefined ? {} : { region }),
      ...(endpoint === undefined ? {} : { endpoint }),
      // One retry of a throttled or failed call; the deadline below bounds both.
      maxAttempts: 2,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: 1_000,
        requestTimeout: SECRET_TIMEOUT_MS,
        // Without it the handler only logs a warning when requestTimeout passes.
        throwOnRequestTimeout: true,
      }),
    });
    clients.set(key, client);
  }
  return client;
}

/** For tests: forget the cached clients (and their sockets). */
export function resetSecretClients(): void {
  for (const client of clients.values()) client.destroy();
  clients.clear();
}

/** The secret's current SecretString. Throws SecretError, never with the value in its message. */
export async function readSecretString(secretId: string, options: SecretReadOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? SECRET_TIMEOUT_MS;
  const abort = new AbortController();
  try {
    const { GetSecretValueCommand } = sdk();
    const client = clientFor(options.region ?? regionOf(secretId), options.endpoint);
    // The abort destroys the request's socket; the timeout returns control whatever hangs.
    const result = await withTimeout(
      client.send(new GetSecretValueCommand({ SecretId: secretId }), { abortSignal: abort.signal }),
      timeoutMs,
      () => {
        abort.abort();
        return new SecretError(`reading secret ${secretId} timed out after ${timeoutMs} ms`, secretId);
      },
    );
    if (typeof result.SecretString !== 'string' || result.SecretString === '') {
      throw new SecretError(`secret ${secretId} has no SecretString (a binary secret?)`, secretId);
    }
    return result.SecretString;
  } catch (error) {
    if (error instanceof SecretError) throw error;
    throw new SecretError(`reading secret ${secretId} failed: ${errorText(error)}`, secretId, { cause: error });
  }
}

/** A secret value as the code that uses it sees it. */
export interface SecretValue {
  /** The value, read on first use and kept for warm invocations. */
  value(): Promise<string>;
  /** Reads it again (the kept value stopped working); concurrent callers share one read. */
  refresh(): Promise<string>;
}

/** Keeps one value per container; a failed read is not kept, so the next use tries again. */
export class CachedSecret implements SecretValue {
  private current: Promise<string> | undefined;
  private refreshing: Promise<string> | undefined;

  constructor(private readonly read: () => Promise<string>) {}

  value(): Promise<string> {
    this.current ??= this.load();
    return this.current;
  }

  refresh(): Promise<string> {
    if (this.refreshing === undefined) {
      const next = this.load();
      this.refreshing = next;
      this.current = next;
      const done = () => {
        if (this.refreshing === next) this.refreshing = undefined;
      };
      next.then(done, done);
    }
    return this.refreshing;
  }

  private load(): Promise<string> {
    const loading = this.read();
    loading.catch(() => {
      if (this.current === loading) this.current = undefined;
    });
    return loading;
  }
}

/**
 * The master password from the secret RDS keeps for `ManageMasterUserPassword`, a JSON
 * object `{"username": …, "password": …}`. The parse error is not kept as a cause: its
 * message could quote the secret.
 */
export function passwordFromRdsSecret(secretString: string, secretId: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new SecretError(`secret ${secretId} is not the JSON object RDS writes`, secretId);
  }
  const password = (parsed as { password?: unknown } | null)?.password;
  if (typeof password !== 'string' || password === '') {
    throw new SecretError(`secret ${secretId} has no "password"`, secretId);
  }
  return password;
}

/** The database password of an RDS-managed secret, read at the first connect and again after a rotation. */
export function rdsPassword(secretArn: string, options: SecretReadOptions = {}): SecretValue {
  return new CachedSecret(async () => passwordFromRdsSecret(await readSecretString(secretArn, options), secretArn));
}
