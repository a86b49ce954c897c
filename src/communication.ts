/**
 * Replies and deliveries. API Gateway holds the sockets, so a message to a client
 * is an HTTPS POST to the management API's `@connections/{id}` (PostToConnection).
 *
 * Gotcha 1 of the original (Lambda's bundled SDK is whatever version AWS chose): the
 * request is our own (src/aws/management-api.ts: SigV4 on node:crypto, node:https), so
 * nothing of the delivery path depends on the SDK Lambda bundles, or on any SDK.
 * Gotcha 2 (the socket exists only after `$connect` returned 200): nothing here is
 * called from the connect handler.
 */
import { OFFLINE_CREDENTIALS, RequestTimeoutError, signingCredentials } from './aws/request';
import { ownOrigin } from './aws/origin';
import { fullJitter } from './backoff';
import { config, DEFAULT_POST_TIMEOUT_MS } from './config';
import type { Config } from './config';
import { ConfigError, DeliveryError, PostTimeoutError, StaleConnectionError } from './errors';
import { ManagementApi } from './aws/management-api';
import type { ManagementApiOptions } from './aws/management-api';
import type { Liveness } from './chat/housekeeping/liveness';
import type { Outbox } from './chat/outbox';
import { log } from './log';
import { sleep as sleepFor } from './timeout';

/** serverless-offline 13 serves the management API beside the socket, with no stage in the path. */
export const OFFLINE_ENDPOINT = 'http://localhost:3001';

export interface ClientOptions {
  region: string;
  offline: boolean;
  /** Sockets kept open per endpoint; match the fan-out concurrency so posts never queue for one. */
  maxSockets?: number;
  /** Where the credentials come from (tests); Lambda puts the role's in process.env. */
  env?: Record<string, string | undefined>;
}

export { OFFLINE_CREDENTIALS };

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** How a client is made; tests swap it (test/support/stand-ins/management-stand-in.ts) to reach a loopback stand-in. */
export type ManagementApiFactory = (endpoint: string, options: ManagementApiOptions) => ManagementApi;

const makeClient: ManagementApiFactory = (endpoint, options) => new ManagementApi(endpoint, options);
let factory = makeClient;

/** For tests: build clients with `replacement` (undefined: the real one again). Forgets cached clients. */
export function useManagementApiFactory(replacement: ManagementApiFactory | undefined): void {
  resetClients();
  factory = replacement ?? makeClient;
}

const clients = new Map<string, ManagementApi>();

/**
 * One client per endpoint, kept at module scope for warm invocations. A client is
 * never re-pointed: an invocation for another API or stage gets its own client.
 */
export function clientFor(endpoint: string, options: ClientOptions): ManagementApi {
  let client = clients.get(endpoint);
  if (!client) {
    client = factory(endpoint, {
      region: options.region,
      credentials: signingCredentials({
        // A management API on loopback is a stand-in or offline's own: nothing checks signatures.
        offline: options.offline || LOOPBACK.has(new URL(endpoint).hostname),
        env: options.env,
        purpose: 'sign posts to the management API',
      }),
      maxSockets: options.maxSockets ?? 50,
    });
    clients.set(endpoint, client);
  }
  return client;
}

/** For tests: forget cached clients (and close their sockets). */
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

/**
 * What a status means: 410 the connection is gone; 429 and 5xx are worth another try, as
 * is no status at all (network failure, timeout); anything else will not get better.
 */
export function classify(
  connectionId: string,
  status: number | undefined,
  cause?: unknown,
): StaleConnectionError | DeliveryError {
  if (status === 410) return new StaleConnectionError(connectionId, { cause });
  const retryable = status === undefined || status === 429 || status >= 500;
  return new DeliveryError(connectionId, status, retryable, { cause });
}

/**
 * One attempt, over by `timeoutMs` whatever happens inside: waiting for a free socket,
 * connecting, an endpoint that never answers, or one that stalls in the middle of its
 * answer (ManagementApi.post destroys the request at its timeout). Resolves on 2xx.
 */
async function attempt(client: ManagementApi, connectionId: string, data: Uint8Array, timeoutMs: number) {
  let status: number;
  try {
    status = await client.post(connectionId, data, timeoutMs);
  } catch (error) {
    const cause = error instanceof RequestTimeoutError ? new PostTimeoutError(timeoutMs, { cause: error }) : error;
    throw classify(connectionId, undefined, cause);
  }
  if (status < 200 || status > 299) throw classify(connectionId, status);
}

/**
 * Posts one payload to one connection. Throws StaleConnectionError on 410 (the caller
 * removes the row) and DeliveryError otherwise, after bounded retries with full jitter.
 *
 * Time: every attempt ends within `timeoutMs`, and a retry starts only if it can end
 * (pause + timeout) by the deadline. A post started before its deadline therefore ends
 * by deadline + timeoutMs at the latest, which is what bounds a fan-out (src/chat/fanout/delivery.ts).
 */
export async function post(
  client: ManagementApi,
  connectionId: string,
  data: Uint8Array,
  retry: RetryOptions = { retries: 2, retryBaseMs: 50 },
): Promise<void> {
  const sleep = retry.sleep ?? sleepFor;
  const timeoutMs = retry.timeoutMs ?? DEFAULT_POST_TIMEOUT_MS;
  for (let tries = 0; ; tries++) {
    try {
      await attempt(client, connectionId, data, timeoutMs);
      return;
    } catch (error) {
      // A StaleConnectionError (410) is never retried.
      if (!(error instanceof DeliveryError) || !error.retryable || tries >= retry.retries) throw error;
      const pause = fullJitter(tries, retry.retryBaseMs);
      if (retry.deadline !== undefined && Date.now() + pause + timeoutMs > retry.deadline) throw error;
      await sleep(pause);
    }
  }
}

/** The settings an outbox is built from. */
export type OutboxSettings = Pick<Config, 'offline' | 'region' | 'fanOut'>;

/**
 * The one place an outbox is assembled from the settings: a client kept per endpoint (with as
 * many sockets as the fan-out runs posts at once), and each post's retries, pause and timeout.
 */
export function outboxAt(endpoint: string, settings: OutboxSettings = config()): Outbox {
  const { offline, region, fanOut } = settings;
  const client = clientFor(endpoint, { region, offline, maxSockets: fanOut.concurrency });
  const retry = { retries: fanOut.retries, retryBaseMs: fanOut.retryBaseMs, timeoutMs: fanOut.postTimeoutMs };
  return { send: (connectionId, data, deadline) => post(client, connectionId, data, { ...retry, deadline }) };
}

/** The WebSocket routes post to this stage's own API (src/aws/origin.ts), never to a host an event names. */
export function socketOutbox(): Outbox {
  return outboxAt(ownOrigin().endpoint ?? OFFLINE_ENDPOINT);
}

/**
 * Where the functions that get no socket event (publish, sweep) post: MANAGEMENT_ENDPOINT (a
 * custom domain), else the stage's WEBSOCKET_API_ENDPOINT; offline's own locally.
 */
export function backendEndpoint(settings: Config = config()): string | undefined {
  const { offline, managementEndpoint, apiEndpoint } = settings;
  return managementEndpoint ?? apiEndpoint ?? (offline ? OFFLINE_ENDPOINT : undefined);
}

/**
 * GetConnection for the liveness sweep: only a 410 says a connection is gone; any other answer
 * or a failure keeps the row (logged), and the next sweep asks again.
 */
export function livenessProbeAt(
  endpoint: string,
  settings: OutboxSettings = config(),
): (connectionId: string, deadline: number) => Promise<Liveness> {
  const { offline, region, fanOut } = settings;
  const client = clientFor(endpoint, { region, offline, maxSockets: fanOut.concurrency });
  return async (connectionId) => {
    try {
      const status = await client.getConnection(connectionId, fanOut.postTimeoutMs);
      if (status === 410) return 'gone';
      if (status >= 200 && status < 300) return 'alive';
      log.warn('GetConnection answered neither 200 nor 410; the row is kept', { route: 'sweep', connectionId, status });
      return 'unknown';
    } catch (error) {
      log.warn('GetConnection failed; the row is kept', { route: 'sweep', connectionId, error });
      return 'unknown';
    }
  };
}

/**
 * The publish and deliver functions get no socket event, so their endpoint comes from the environment only:
 * MANAGEMENT_ENDPOINT (a custom domain), else the stage's WEBSOCKET_API_ENDPOINT; offline's own locally.
 */
export function backendOutbox(settings: Config = config()): Outbox {
  const endpoint = backendEndpoint(settings);
  if (endpoint === undefined) {
    throw new ConfigError(
      'WEBSOCKET_API_ENDPOINT is not set: the functions without socket events (publish, deliver) cannot reach the WebSocket API',
    );
  }
  return outboxAt(endpoint, settings);
}
