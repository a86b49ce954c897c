/**
 * One SigV4-signed HTTPS request (a POST unless told otherwise) to an AWS endpoint, with
 * node:https and a timeout that ends the whole exchange. PostToConnection (src/aws/management-api.ts) is made with it: the
 * AWS SDK's generic machinery costs more CPU per post and more cold start than the rest of
 * a route. (Secrets Manager's GetSecretValue still goes through the SDK client, src/aws/secrets.ts.)
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { CredentialsError } from '../errors';
import { signedHeaderList } from './sigv4';
import type { AwsCredentials } from './sigv4';

/** A request that took longer than its timeout, whatever stage it was in (socket, TLS, response). */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

/** Lambda puts the function's role credentials in the environment; so does any other runtime we support. */
export function credentialsFromEnv(env: Record<string, string | undefined> = process.env): AwsCredentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined };
}

/** Nothing checks signatures locally; explicit fake ones mean nothing ever looks for real ones. */
export const OFFLINE_CREDENTIALS: AwsCredentials = { accessKeyId: 'offline', secretAccessKey: 'offline' };

/**
 * What a request is signed with: the fake credentials under serverless-offline (`offline`);
 * else the role's, which Lambda puts in the environment. Without them in AWS it fails at once
 * with a named error (`purpose` says what could not be done): no provider chain, no instance
 * metadata probe, nothing that could hang.
 */
export function signingCredentials(options: {
  offline: boolean;
  purpose: string;
  env?: Record<string, string | undefined>;
}): AwsCredentials {
  if (options.offline) return OFFLINE_CREDENTIALS;
  const credentials = credentialsFromEnv(options.env);
  if (!credentials) {
    throw new CredentialsError(`AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: cannot ${options.purpose}`);
  }
  return credentials;
}

export interface Endpoint {
  url: URL;
  agent: HttpAgent;
  send: typeof httpRequest;
  /** The request options every post to this endpoint shares, read off `url` once (not per post). */
  base: { protocol: string; hostname: string; port: string; host: string };
}

/** Keep-alive sockets to one endpoint, at most `maxSockets` at once. */
export function endpoint(url: string, maxSockets: number): Endpoint {
  const parsed = new URL(url);
  const https = parsed.protocol === 'https:';
  const options = { keepAlive: true, maxSockets };
  return {
    url: parsed,
    agent: https ? new HttpsAgent(options) : new HttpAgent(options),
    send: https ? httpsRequest : httpRequest,
    base: { protocol: parsed.protocol, hostname: parsed.hostname, port: parsed.port, host: parsed.host },
  };
}

export interface SignedPost {
  /** POST unless given (GetConnection is a GET with an empty body). */
  method?: string;
  /** Path on the wire (percent-encoded), e.g. `/dev/@connections/abc%3D` or `/`. */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  region: string;
  service: string;
  credentials: AwsCredentials;
  timeoutMs: number;
  /**
   * Keep the answer's body (as UTF-8 text, at most MAX_READ_BODY_BYTES): `npm run smoke` reads
   * POST /publish's summary. Otherwise it is drained unread, as the delivery path needs.
   */
  readBody?: boolean;
}

/** More than any answer we read (a delivery summary, an error); the rest is drained, not kept. */
export const MAX_READ_BODY_BYTES = 64 * 1024;

/** The answer's status, and its body when `readBody` asked for it. */
export interface PostResult {
  status: number;
  body?: string;
}

/**
 * Signs and sends; resolves with any HTTP status (the caller classifies it). Rejects on a
 * network error, or with RequestTimeoutError once `timeoutMs` has passed since the call.
 */
export function signedPost(target: Endpoint, post: SignedPost): Promise<PostResult> {
  const { base } = target;
  const method = post.method ?? 'POST';
  // A flat [name, value, …] list: Node then writes the headers as they are (still
  // validated) instead of going through setHeader once per header, per post.
  const headers = signedHeaderList({
    method,
    host: base.host, // includes the port only when it is not the scheme's default
    path: post.path,
    headers: { ...post.headers, 'content-length': String(post.body.byteLength) },
    body: post.body,
    region: post.region,
    service: post.service,
    credentials: post.credentials,
    date: new Date(),
  });
  return new Promise<PostResult>((resolve, reject) => {
    const request = target.send({
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port,
      method,
      path: post.path,
      headers,
      agent: target.agent,
    });
    // One timer for the whole exchange: waiting for a socket, connecting, TLS, the
    // response and its body. Node's own `timeout` option only watches socket idleness.
    const timer = setTimeout(() => {
      request.destroy(new RequestTimeoutError(`no answer from ${base.host} within ${post.timeoutMs} ms`));
    }, post.timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    request.once('error', fail);
    request.once('response', (response: IncomingMessage) => {
      const parts: Buffer[] = [];
      let kept = 0;
      if (post.readBody) {
        response.on('data', (chunk: Buffer) => {
          if (kept >= MAX_READ_BODY_BYTES) return;
          parts.push(chunk.subarray(0, MAX_READ_BODY_BYTES - kept));
          kept += chunk.length;
        });
      } else {
        response.resume(); // back to the pool without reading
      }
      response.once('end', () => {
        clearTimeout(timer);
        const status = response.statusCode ?? 0;
        resolve(post.readBody ? { status, body: Buffer.concat(parts).toString('utf8') } : { status });
      });
      response.once('error', fail);
    });
    request.end(post.body);
  });
}
