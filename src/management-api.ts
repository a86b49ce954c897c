/**
 * The API Gateway management API's PostToConnection, as one signed HTTPS request made
 * with node:https - the request the AWS SDK client makes, without its middleware
 * stack, serializers and per-request endpoint resolution (which cost more than half of
 * its CPU per post: BENCHMARKS.md, "Delivery"). What it keeps: SigV4 exactly as the SDK
 * signs (src/sigv4.ts), keep-alive sockets bounded per endpoint, and a timeout that
 * really ends the request, whatever the peer does.
 *
 * It reports the HTTP status; src/communication.ts decides what a status means
 * (410 stale, 429/5xx retried, the rest failed).
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { sign } from './sigv4';
import type { AwsCredentials } from './sigv4';

export interface ManagementApiOptions {
  region: string;
  credentials: AwsCredentials;
  /** Sockets kept open to the endpoint; the fan-out's concurrency, so no post queues for one. */
  maxSockets: number;
}

/** A post that took longer than its timeout, whatever stage it was in (socket, TLS, response). */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

/** As the SDK encodes a path parameter: unreserved characters stay, the rest is %XX. */
function encodePathParameter(value: string): string {
  if (/^[\w.~-]+$/.test(value)) return value;
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${(c.codePointAt(0) as number).toString(16).toUpperCase()}`,
  );
}

const SERVICE = 'execute-api';

export class ManagementApi {
  private readonly url: URL;
  private readonly host: string;
  private readonly basePath: string;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;

  constructor(
    endpoint: string,
    private readonly options: ManagementApiOptions,
  ) {
    this.url = new URL(endpoint);
    this.host = this.url.host; // includes the port only when it is not the default
    this.basePath = this.url.pathname.replace(/\/+$/, '');
    const https = this.url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = https ? httpsRequest : httpRequest;
  }

  /** The path the SDK posts to: `/{stage}/@connections/{id}`. */
  pathFor(connectionId: string): string {
    return `${this.basePath}/@connections/${encodePathParameter(connectionId)}`;
  }

  /**
   * Posts `data` to one connection and resolves with the HTTP status (any status: the
   * caller classifies it). Rejects on a network error, or with RequestTimeoutError once
   * `timeoutMs` has passed since the call, having destroyed the request.
   */
  post(connectionId: string, data: Uint8Array, timeoutMs: number): Promise<number> {
    const path = this.pathFor(connectionId);
    const headers = sign({
      method: 'POST',
      host: this.host,
      path,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.byteLength) },
      body: data,
      region: this.options.region,
      service: SERVICE,
      credentials: this.options.credentials,
      date: new Date(),
    });
    return new Promise<number>((resolve, reject) => {
      const request = this.send({
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: this.url.port,
        method: 'POST',
        path,
        headers,
        agent: this.agent,
      });
      // One timer for the whole exchange: waiting for a socket, connecting, TLS, the
      // response and its body. Node's own `timeout` option only watches socket idleness.
      const timer = setTimeout(() => {
        request.destroy(new RequestTimeoutError(`no answer from the management API within ${timeoutMs} ms`));
      }, timeoutMs);
      request.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      request.once('response', (response: IncomingMessage) => {
        // The body (empty on success, a short JSON error otherwise) is drained so the
        // socket goes back to the pool; its content is not needed to classify.
        response.resume();
        response.once('end', () => {
          clearTimeout(timer);
          resolve(response.statusCode ?? 0);
        });
        response.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      request.end(data);
    });
  }

  /** Closes the kept-alive sockets (tests, benchmarks). */
  destroy(): void {
    this.agent.destroy();
  }
}
