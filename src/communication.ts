/**
 * Replies and deliveries. API Gateway holds the sockets, so a message to a client
 * is an HTTPS POST to the management API's `@connections/{id}` (PostToConnection).
 *
 * Gotcha 1 of the original (Lambda's bundled SDK is whatever version AWS chose):
 * we ship our own pinned @aws-sdk/client-apigatewaymanagementapi in the zip.
 * Gotcha 2 (the socket exists only after `$connect` returned 200): nothing here is
 * called from the connect handler.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { DEFAULT_POST_TIMEOUT_MS } from './config';
import { DeliveryError, PostTimeoutError, StaleConnectionError } from './errors';

/** The part of an event's requestContext that locates the API. */
export interface ApiLocation {
  domainName?: string;
  stage?: string;
}

export interface EndpointOptions {
  offline: boolean;
  /** MANAGEMENT_ENDPOINT: wins over everything (custom domains, local runs on another port). */
  override?: string;
}

/** serverless-offline 13 serves the management API beside the socket, with no stage in the path. */
export const OFFLINE_ENDPOINT = 'http://localhost:3001';

export function endpointFor(location: ApiLocation, options: EndpointOptions): string {
  if (options.override) return options.override.replace(/\/+$/, '');
  if (options.offline) return OFFLINE_ENDPOINT;
  if (!location.domainName || !location.stage) {
    throw new Error('the event has no requestContext.domainName/stage to reach the management API');
  }
  return `https://${location.domainName}/${location.stage}`;
}

export interface ClientOptions {
  region: string;
  offline: boolean;
  /** Sockets kept open per endpoint; match the fan-out concurrency so posts never queue for one. */
  maxSockets?: number;
  /** POST_TIMEOUT_MS: the longest one request may take (post() also aborts each attempt itself). */
  timeoutMs?: number;
}

const clients = new Map<string, ApiGatewayManagementApiClient>();

/**
 * One client per endpoint, kept at module scope for warm invocations. A client is
 * never re-pointed: an invocation for another API or stage gets its own client.
 */
export function clientFor(endpoint: string, options: ClientOptions): ApiGatewayManagementApiClient {
  let client = clients.get(endpoint);
  if (!client) {
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 50 };
    const timeoutMs = options.timeoutMs ?? DEFAULT_POST_TIMEOUT_MS;
    client = new ApiGatewayManagementApiClient({
      endpoint,
      region: options.region,
      // Retries are ours (communication.post): bounded, jittered, and inside the fan-out's budget.
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
        connectionTimeout: Math.min(2_000, timeoutMs),
        // @smithy/node-http-handler 4.x (4.14.2 here) only logs a warning when requestTimeout
        // passes unless throwOnRequestTimeout is set: a silent endpoint then hung a post forever.
        requestTimeout: timeoutMs,
        throwOnRequestTimeout: true,
      }),
      // Locally nothing checks signatures; explicit fake credentials keep the SDK from
      // looking for real ones (and from probing the EC2 instance metadata address).
      ...(options.offline ? { credentials: { accessKeyId: 'offline', secretAccessKey: 'offline' } } : {}),
    });
    clients.set(endpoint, client);
  }
  return client;
}

/** For tests: forget cached clients. */
export function resetClients(): void {
  for (const client of clients.values()) client.destroy();
  clients.clear();
}

export interface RetryOptions {
  /** Extra attempts after a retryable failure (429, 5xx, network). */
  retries: number;
  retryBaseMs: number;
  /** Ms epoch: no retry starts that could end after it (a first attempt always starts). */
  deadline?: number;
  /** Each attempt is aborted after this many ms (POST_TIMEOUT_MS). */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function statusOf(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Turns an SDK failure into our typed errors. serverless-offline's 410 arrives as name "Unknown". */
export function classify(connectionId: string, error: unknown): StaleConnectionError | DeliveryError {
  const status = statusOf(error);
  if (status === 410 || (error as { name?: string } | undefined)?.name === 'GoneException') {
    return new StaleConnectionError(connectionId, { cause: error });
  }
  const retryable = status === undefined || status === 429 || status >= 500;
  return new DeliveryError(connectionId, status, retryable, { cause: error });
}

/**
 * One attempt, over by `timeoutMs` whatever happens inside: waiting for a free socket,
 * connecting, an endpoint that never answers, or one that stalls in the middle of its
 * answer. The abort signal makes the SDK destroy the request (and its socket, which is
 * never reused); the race makes the attempt end on time even where the SDK would not
 * look at the signal.
 */
async function attempt(
  client: ApiGatewayManagementApiClient,
  input: { ConnectionId: string; Data: Uint8Array },
  timeoutMs: number,
): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new PostTimeoutError(timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    await Promise.race([client.send(new PostToConnectionCommand(input), { abortSignal: controller.signal }), timedOut]);
  } catch (error) {
    // Whichever fired first (our timer, the handler's requestTimeout, the abort), it was the timeout.
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Posts one payload to one connection. Throws StaleConnectionError on 410 (the caller
 * removes the row) and DeliveryError otherwise, after bounded retries with full jitter.
 *
 * Time: every attempt ends within `timeoutMs`, and a retry starts only if it can end
 * (pause + timeout) by the deadline. A post started before its deadline therefore ends
 * by deadline + timeoutMs at the latest, which is what bounds a fan-out (src/fanout.ts).
 */
export async function post(
  client: ApiGatewayManagementApiClient,
  connectionId: string,
  data: Uint8Array,
  retry: RetryOptions = { retries: 2, retryBaseMs: 50 },
): Promise<void> {
  const sleep = retry.sleep ?? sleepFor;
  const timeoutMs = retry.timeoutMs ?? DEFAULT_POST_TIMEOUT_MS;
  for (let tries = 0; ; tries++) {
    try {
      await attempt(client, { ConnectionId: connectionId, Data: data }, timeoutMs);
      return;
    } catch (raw) {
      const error = classify(connectionId, raw);
      if (error instanceof StaleConnectionError || !error.retryable || tries >= retry.retries) throw error;
      const pause = Math.random() * retry.retryBaseMs * 2 ** tries;
      if (retry.deadline !== undefined && Date.now() + pause + timeoutMs > retry.deadline) throw error;
      await sleep(pause);
    }
  }
}

const encoder = new TextEncoder();

/** Every message we send is JSON with a `type`; encode it once, reuse the bytes for every recipient. */
export function encode(message: { type: string } & Record<string, unknown>): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}
