/**
 * The API Gateway management API's PostToConnection, as one signed request
 * (src/aws/request.ts) - the request the AWS SDK client makes, without its middleware
 * stack, serializers and per-request endpoint resolution, which cost most of its CPU per
 * post (BENCHMARKS.md, "Delivery"). What it keeps: SigV4 exactly as the SDK signs,
 * keep-alive sockets bounded per endpoint, and a timeout that really ends the request.
 *
 * It reports the HTTP status; src/communication.ts decides what a status means
 * (410 stale, 429/5xx retried, the rest failed).
 */
import { endpoint, signedPost } from './request';
import type { Endpoint } from './request';
import { escapeUri } from './sigv4';
import type { AwsCredentials } from './sigv4';

export { RequestTimeoutError } from './request';

export interface ManagementApiOptions {
  region: string;
  credentials: AwsCredentials;
  /** Sockets kept open to the endpoint; the fan-out's concurrency, so no post queues for one. */
  maxSockets: number;
}

const HEADERS = { 'content-type': 'application/octet-stream' };
const EMPTY = new Uint8Array(0);

export class ManagementApi {
  private readonly target: Endpoint;
  private readonly basePath: string;

  constructor(
    url: string,
    private readonly options: ManagementApiOptions,
  ) {
    this.target = endpoint(url, options.maxSockets);
    this.basePath = this.target.url.pathname.replace(/\/+$/, '');
  }

  /** The path the SDK posts to: `/{stage}/@connections/{id}`. */
  pathFor(connectionId: string): string {
    return `${this.basePath}/@connections/${escapeUri(connectionId)}`;
  }

  /**
   * Posts `data` to one connection and resolves with the HTTP status (any status: the
   * caller classifies it). Rejects on a network error, or with RequestTimeoutError once
   * `timeoutMs` has passed since the call, having destroyed the request.
   */
  async post(connectionId: string, data: Uint8Array, timeoutMs: number): Promise<number> {
    const { status } = await signedPost(this.target, {
      path: this.pathFor(connectionId),
      headers: HEADERS,
      body: data,
      region: this.options.region,
      service: 'execute-api',
      credentials: this.options.credentials,
      timeoutMs,
    });
    return status;
  }

  /**
   * GetConnection (`GET /{stage}/@connections/{id}`): 200 while the connection is open, 410
   * once it is gone. Resolves with the status, as `post` does.
   */
  async getConnection(connectionId: string, timeoutMs: number): Promise<number> {
    const { status } = await signedPost(this.target, {
      method: 'GET',
      path: this.pathFor(connectionId),
      headers: {},
      body: EMPTY,
      region: this.options.region,
      service: 'execute-api',
      credentials: this.options.credentials,
      timeoutMs,
    });
    return status;
  }

  /** Closes the kept-alive sockets (tests, benchmarks). */
  destroy(): void {
    this.target.agent.destroy();
  }
}
