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
 * after MySQL refused the cached password, because RDS rotated it. During a rotation the new
 * password is the secret's AWSPENDING version until Secrets Manager makes it AWSCURRENT, so
 * the database password can be read at that stage too (RotatedSecret.pending).
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

/**
 * The staging labels a client reads during a rotation: AWSCURRENT (what GetSecretValue gives by
 * default) and AWSPENDING, the new value from the rotation's start until it becomes current.
 */
export type VersionStage = 'AWSCURRENT' | 'AWSPENDING';

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
  return (await readSecretStage(secretId, undefined, options)) as string;
}

/**
 * The SecretString of the version with staging label `stage` (AWSCURRENT when undefined, as
 * GetSecretValue without VersionStage). Undefined when no version has the label: Secrets
 * Manager answers ResourceNotFoundException, which outside a rotation is the normal answer for
 * AWSPENDING. For AWSCURRENT that answer means the secret itself is missing: a SecretError.
 */
export async function readSecretStage(
  secretId: string,
  stage: 'AWSPENDING' | undefined,
  options: SecretReadOptions = {},
): Promise<string | undefined> {
  const timeoutMs = Math.max(0, options.timeoutMs ?? SECRET_TIMEOUT_MS);
  const label = stage === undefined ? '' : ` (${stage})`;
  const abort = new AbortController();
  try {
    const { GetSecretValueCommand } = sdk();
    const client = clientFor(options.region ?? regionOf(secretId), options.endpoint);
    const input = { SecretId: secretId, ...(stage === undefined ? {} : { VersionStage: stage }) };
    // The abort destroys the request's socket; the timeout returns control whatever hangs.
    const result = await withTimeout(
      client.send(new GetSecretValueCommand(input), { abortSignal: abort.signal }),
      timeoutMs,
      () => {
        abort.abort();
        return new SecretError(`reading secret ${secretId}${label} timed out after ${timeoutMs} ms`, secretId);
      },
    );
    if (typeof result.SecretString !== 'string' || result.SecretString === '') {
      throw new SecretError(`secret ${secretId}${label} has no SecretString (a binary secret?)`, secretId);
    }
    return result.SecretString;
  } catch (error) {
    if (error instanceof SecretError) throw error;
    if (stage !== undefined && (error as { name?: unknown } | null)?.name === 'ResourceNotFoundException') {
      return undefined;
    }
    throw new SecretError(`reading secret ${secretId}${label} failed: ${errorText(error)}`, secretId, {
      cause: error,
    });
  }
}

/**
 * A secret value as the code that uses it sees it. `timeoutMs` bounds the read a call makes
 * (SECRET_TIMEOUT_MS by default): a caller with less of its own budget left passes what it has.
 */
export interface SecretValue {
  /** The value, read on first use and kept for warm invocations. */
  value(timeoutMs?: number): Promise<string>;
  /** Reads it again (the kept value stopped working); concurrent callers share one read. */
  refresh(timeoutMs?: number): Promise<string>;
}

/** A secret Secrets Manager rotates: its current value, kept, and during a rotation its pending one. */
export interface RotatedSecret extends SecretValue {
  /** The AWSPENDING version's value, read every time and never kept; undefined outside a rotation. */
  pending(timeoutMs?: number): Promise<string | undefined>;
}

/** Keeps one value per container; a failed read is not kept, so the next use tries again. */
export class CachedSecret implements SecretValue {
  private current: Promise<string> | undefined;
  private refreshing: Promise<string> | undefined;

  constructor(private readonly read: (timeoutMs?: number) => Promise<string>) {}

  value(timeoutMs?: number): Promise<string> {
    this.current ??= this.load(timeoutMs);
    return this.current;
  }

  refresh(timeoutMs?: number): Promise<string> {
    if (this.refreshing === undefined) {
      const next = this.load(timeoutMs);
      this.refreshing = next;
      this.current = next;
      const done = () => {
        if (this.refreshing === next) this.refreshing = undefined;
      };
      next.then(done, done);
    }
    return this.refreshing;
  }

  private load(timeoutMs?: number): Promise<string> {
    const loading = this.read(timeoutMs);
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

/**
 * The database password of an RDS-managed secret: AWSCURRENT, read at the first connect and
 * again when MySQL refuses it; AWSPENDING on demand, while a rotation has set it on the server
 * before Secrets Manager made it current (docs/operations.md#password-rotation).
 */
export function rdsPassword(secretArn: string, options: SecretReadOptions = {}): RotatedSecret {
  const read = async (stage: 'AWSPENDING' | undefined, timeoutMs = options.timeoutMs) => {
    const text = await readSecretStage(secretArn, stage, {
      ...options,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
    return text === undefined ? undefined : passwordFromRdsSecret(text, secretArn);
  };
  const current = new CachedSecret(async (timeoutMs) => (await read(undefined, timeoutMs)) as string);
  return {
    value: (timeoutMs) => current.value(timeoutMs),
    refresh: (timeoutMs) => current.refresh(timeoutMs),
    pending: (timeoutMs) => read('AWSPENDING', timeoutMs),
  };
}
