/**
 * The smoke test's `POST /publish`: the backend's way in, SigV4-signed by our own signer
 * (src/aws/sigv4.ts through src/aws/request.ts, the code that signs every post to a connection).
 * In AWS it is signed with the developer's credentials (the SDK's default chain) and IAM
 * decides; under `npm start` the same code signs with placeholder credentials, which nothing
 * checks there (serverless-offline implements no IAM).
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { endpoint, OFFLINE_CREDENTIALS, signedPost } from '../../src/aws/request';
import type { AwsCredentials } from '../../src/aws/sigv4';
import { withTimeout } from '../../src/timeout';
import { SmokeCheckError, seconds } from './socket';

/** localhost, 127.0.0.0/8 and [::1]: `npm start`'s addresses, where nothing checks a signature. */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The region of an API Gateway URL (`abc.execute-api.eu-west-1.amazonaws.com`), if it is one. */
export function regionOfApiUrl(url: string): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(url).hostname)?.[1];
}

export interface Signer {
  credentials: AwsCredentials;
  /** How the line names it. */
  label: string;
}

/**
 * What the request is signed with. The default chain may ask a credential process or SSO: its
 * wait is bounded here, and an abandoned lookup ends with the process.
 */
export async function signerFor(publishUrl: string, timeoutMs: number): Promise<Signer> {
  if (isLoopback(publishUrl)) {
    return { credentials: OFFLINE_CREDENTIALS, label: 'signed with placeholder credentials, not verified locally' };
  }
  try {
    const credentials = await withTimeout(
      defaultProvider()(),
      timeoutMs,
      () => new SmokeCheckError(`no AWS credentials within ${seconds(timeoutMs)}`),
    );
    return { credentials, label: 'signed with your AWS credentials' };
  } catch (error) {
    if (error instanceof SmokeCheckError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new SmokeCheckError(
      `no AWS credentials to sign with (${reason}): aws configure, AWS_PROFILE or aws sso login`,
    );
  }
}

/** Signs and posts `body`; resolves with the status and the answer's text. */
export async function signedPublish(
  publishUrl: string,
  body: unknown,
  options: { signer: Signer; region: string; timeoutMs: number },
): Promise<{ status: number; text: string }> {
  const target = endpoint(publishUrl, 1);
  try {
    const url = new URL(publishUrl);
    const { status, body: text } = await signedPost(target, {
      path: url.pathname, // our signer signs no query, and POST /publish takes none
      headers: { 'content-type': 'application/json' },
      body: new TextEncoder().encode(JSON.stringify(body)),
      region: options.region,
      service: 'execute-api',
      credentials: options.signer.credentials,
      timeoutMs: options.timeoutMs,
      readBody: true,
    });
    return { status, text: text ?? '' };
  } catch (error) {
    const { name, message, code } = error as Error & { code?: string };
    const host = new URL(publishUrl).host;
    if (code === 'ECONNREFUSED') throw new SmokeCheckError(`nothing accepts connections at ${host} (ECONNREFUSED)`);
    throw new SmokeCheckError(
      `POST ${publishUrl} failed: ${name === 'RequestTimeoutError' ? message : `${name}: ${message}`}`,
    );
  } finally {
    // Its keep-alive socket would hold the process open after the run.
    target.agent.destroy();
  }
}
