/**
 * EventBridge's PutEvents as one signed request (./request.ts), the way PostToConnection and
 * Lambda's Invoke are made: the SDK's EventBridge client would add its cold load to `$connect`,
 * `$disconnect` and the message route, the functions that emit. The answer says per entry
 * whether it was taken: a 200 can still hold failed entries (`FailedEntryCount`), which the
 * caller retries (src/events/emitter.ts).
 */
import { endpoint, signedPost } from './request';
import type { Endpoint } from './request';
import type { AwsCredentials } from './sigv4';

/** One entry as PutEvents takes it (`Detail` is a JSON text of at most 256 KB with the rest). */
export interface PutEventsEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  EventBusName: string;
  Time?: string;
}

/** Per entry, in order: its event id, or why it was not taken. */
export interface PutEventsResultEntry {
  EventId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

export interface PutEventsAnswer {
  FailedEntryCount: number;
  Entries: PutEventsResultEntry[];
}

/** The request itself failed (network, timeout, a status other than 200); no entry is known taken. */
export class PutEventsError extends Error {
  override readonly name = 'PutEventsError';
  constructor(
    readonly statusCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`PutEvents failed${statusCode === undefined ? '' : ` with status ${statusCode}`}`, options);
  }
}

/** PutEvents takes at most 10 entries per request. */
export const MAX_ENTRIES_PER_PUT = 10;

export interface EventBridgeOptions {
  region: string;
  credentials: AwsCredentials;
  maxSockets?: number;
}

export class EventBridgeClient {
  private readonly target: Endpoint;

  constructor(
    url: string,
    private readonly options: EventBridgeOptions,
  ) {
    this.target = endpoint(url, options.maxSockets ?? 4);
  }

  /** Sends up to 10 entries; resolves with the per-entry answer, rejects with PutEventsError. */
  async putEvents(entries: readonly PutEventsEntry[], timeoutMs: number): Promise<PutEventsAnswer> {
    const body = new TextEncoder().encode(JSON.stringify({ Entries: entries }));
    let answer: { status: number; body?: string };
    try {
      answer = await signedPost(this.target, {
        path: '/',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
        body,
        region: this.options.region,
        service: 'events',
        credentials: this.options.credentials,
        timeoutMs,
        readBody: true,
      });
    } catch (cause) {
      throw new PutEventsError(undefined, { cause });
    }
    if (answer.status !== 200) throw new PutEventsError(answer.status);
    try {
      const parsed = JSON.parse(answer.body ?? '') as Partial<PutEventsAnswer>;
      return { FailedEntryCount: Number(parsed.FailedEntryCount ?? 0), Entries: parsed.Entries ?? [] };
    } catch (cause) {
      throw new PutEventsError(200, { cause });
    }
  }

  destroy(): void {
    this.target.agent.destroy();
  }
}
