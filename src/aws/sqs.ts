/**
 * SQS's SendMessage as one signed request (./request.ts), in the JSON protocol the SDK's SQS
 * client speaks (POST /, `AmazonSQS.SendMessage`; test/unit/sqs.test.ts compares the two): the
 * SDK client would add its cold load to `$disconnect` and the message route, which send the
 * departures that wait out their debounce in the queue (src/events/departures-queue.ts).
 */
import { endpoint, signedPost } from './request';
import type { Endpoint } from './request';
import type { AwsCredentials } from './sigv4';

/** SQS's longest delay of one message, in seconds. */
export const MAX_DELAY_SECONDS = 900;

/** The request failed (network, timeout, a status other than 200): the message is not known sent. */
export class SendMessageError extends Error {
  override readonly name = 'SendMessageError';
  constructor(
    readonly statusCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`SQS SendMessage failed${statusCode === undefined ? '' : ` with status ${statusCode}`}`, options);
  }
}

export interface SqsOptions {
  region: string;
  credentials: AwsCredentials;
  maxSockets?: number;
}

export class SqsClient {
  private readonly target: Endpoint;

  /** `url`: the service's endpoint (`https://sqs.<region>.amazonaws.com`), not the queue's. */
  constructor(
    url: string,
    private readonly options: SqsOptions,
  ) {
    this.target = endpoint(url, options.maxSockets ?? 2);
  }

  /** Sends one message, visible after `delaySeconds` (0-900); resolves with its MessageId. */
  async sendMessage(queueUrl: string, body: string, delaySeconds: number, timeoutMs: number): Promise<string> {
    const delay = Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds)));
    const payload = JSON.stringify({ QueueUrl: queueUrl, MessageBody: body, DelaySeconds: delay });
    let answer: { status: number; body?: string };
    try {
      answer = await signedPost(this.target, {
        path: '/',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
        body: new TextEncoder().encode(payload),
        region: this.options.region,
        service: 'sqs',
        credentials: this.options.credentials,
        timeoutMs,
        readBody: true,
      });
    } catch (cause) {
      throw new SendMessageError(undefined, { cause });
    }
    if (answer.status !== 200) throw new SendMessageError(answer.status);
    try {
      const id = (JSON.parse(answer.body ?? '') as { MessageId?: unknown }).MessageId;
      if (typeof id !== 'string') throw new Error('no MessageId in the answer');
      return id;
    } catch (cause) {
      throw new SendMessageError(200, { cause });
    }
  }

  destroy(): void {
    this.target.agent.destroy();
  }
}
