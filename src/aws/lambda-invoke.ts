/**
 * Lambda's Invoke API with `X-Amz-Invocation-Type: Event` (asynchronous), as one signed request
 * (./request.ts), the way PostToConnection is made: the SDK's Lambda client would add its cold
 * load to every function that starts a fan-out. Lambda answers 202 once the event is queued;
 * it then runs the function, retries it twice on an error and hands it to the on-failure
 * destination after that (serverless.yml). serverless-offline serves the same API locally.
 */
import { endpoint, signedPost } from './request';
import type { Endpoint } from './request';
import type { AwsCredentials } from './sigv4';

/** Lambda refused or did not queue the event; the caller counts the shard as not handed over. */
export class InvokeError extends Error {
  override readonly name = 'InvokeError';
  constructor(
    readonly functionName: string,
    readonly statusCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      `asynchronous invocation of ${functionName} failed` +
        (statusCode === undefined ? '' : ` with status ${statusCode}`),
      options,
    );
  }
}

export interface InvokerOptions {
  region: string;
  credentials: AwsCredentials;
  /** Each Invoke request is aborted after this long. */
  timeoutMs: number;
  maxSockets?: number;
}

export class AsyncInvoker {
  private readonly target: Endpoint;

  constructor(
    url: string,
    private readonly options: InvokerOptions,
  ) {
    this.target = endpoint(url, options.maxSockets ?? 10);
  }

  /** Queues `payload` for `functionName`; resolves once Lambda has accepted it (202). */
  async invoke(functionName: string, payload: unknown, timeoutMs = this.options.timeoutMs): Promise<void> {
    const body = new TextEncoder().encode(JSON.stringify(payload));
    let status: number;
    try {
      ({ status } = await signedPost(this.target, {
        path: `/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`,
        headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'Event' },
        body,
        region: this.options.region,
        service: 'lambda',
        credentials: this.options.credentials,
        timeoutMs,
      }));
    } catch (cause) {
      throw new InvokeError(functionName, undefined, { cause });
    }
    if (status !== 202) throw new InvokeError(functionName, status);
  }

  destroy(): void {
    this.target.agent.destroy();
  }
}
