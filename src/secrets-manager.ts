/**
 * Secrets Manager's GetSecretValue as one signed request (src/aws-request.ts), for the
 * functions that read a secret at their first use of it: no SDK client to load on a
 * cold start (BENCHMARKS.md measures both). The function's own role credentials sign it;
 * IAM decides which secret each function may read.
 */
import { credentialsFromEnv, endpoint, signedPost } from './aws-request';
import type { Endpoint } from './aws-request';
import type { AwsCredentials } from './sigv4';

/** A secret could not be read: denied, missing, throttled, unreachable or too slow. */
export class SecretError extends Error {
  override readonly name = 'SecretError';
  constructor(
    message: string,
    readonly secretId: string,
    /** The service's error type (`AccessDeniedException`, `ResourceNotFoundException`…), when it answered. */
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SecretsManagerOptions {
  region: string;
  /** Defaults to the environment's (Lambda's role credentials). */
  credentials?: AwsCredentials | undefined;
  /** Defaults to the region's public endpoint; tests point it at a local stand-in. */
  endpoint?: string | undefined;
  /** The whole request, from the call to the last byte of the answer. */
  timeoutMs: number;
}

/** The public endpoint of the region's partition. */
export function secretsManagerEndpoint(region: string): string {
  return `https://secretsmanager.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

const endpoints = new Map<string, Endpoint>();

/** The secret's current SecretString. Throws SecretError, never anything else. */
export async function getSecretString(secretId: string, options: SecretsManagerOptions): Promise<string> {
  const credentials = options.credentials ?? credentialsFromEnv();
  if (!credentials)
    throw new SecretError('no AWS credentials in the environment to read the secret', secretId, undefined);
  const url = options.endpoint ?? secretsManagerEndpoint(options.region);
  let target = endpoints.get(url);
  if (!target) {
    target = endpoint(url, 2);
    endpoints.set(url, target);
  }
  let result;
  try {
    result = await signedPost(target, {
      path: '/',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
      },
      body: new TextEncoder().encode(JSON.stringify({ SecretId: secretId })),
      region: options.region,
      service: 'secretsmanager',
      credentials,
      timeoutMs: options.timeoutMs,
      readBody: true,
    });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SecretError(`reading the secret failed: ${reason}`, secretId, undefined, { cause });
  }
  let answer: { SecretString?: unknown; __type?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    answer = JSON.parse(result.body.toString('utf8')) as typeof answer;
  } catch {
    // not JSON: reported below by status
  }
  if (result.status !== 200) {
    // `__type` is "AccessDeniedException" or "com.amazonaws…#AccessDeniedException".
    const code = typeof answer.__type === 'string' ? answer.__type.split('#').pop() : undefined;
    const detail = answer.message ?? answer.Message;
    throw new SecretError(
      `reading the secret failed with status ${result.status}${code ? ` (${code})` : ''}` +
        (typeof detail === 'string' ? `: ${detail}` : ''),
      secretId,
      code,
    );
  }
  if (typeof answer.SecretString !== 'string') {
    throw new SecretError('the secret has no SecretString (binary secrets are not supported)', secretId, undefined);
  }
  return answer.SecretString;
}

/** For tests: forget the kept-alive sockets. */
export function resetSecretsManager(): void {
  for (const target of endpoints.values()) target.agent.destroy();
  endpoints.clear();
}
