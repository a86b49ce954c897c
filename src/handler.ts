/**
 * Lambda entry points. Each reads its event, calls the store or the messaging module,
 * and maps the outcome to the status code API Gateway expects. The status code goes
 * to API Gateway, not to the client: clients hear from us only through the management
 * API (src/communication.ts).
 */
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyWebsocketEventV2,
  APIGatewayRequestAuthorizerEvent,
  Context,
  ScheduledEvent,
} from 'aws-lambda';
import { checkOrigin, ForeignEventError, ownOrigin } from './aws/origin';
import { config } from './config';
import { authSettings } from './auth/settings';
import { AFTER_FANOUT_MS, AFTER_REPLY_MS, FAILURE_REPLY_TIMEOUT_MS } from './budgets';
import { createStore } from './data';
import type { ConnectionStore } from './data';
import { failureOf } from './errors';
import { fanOutDeadline } from './chat/fanout/delivery';
import { log } from './log';
import type { Session } from './chat/actions';
import { addConnection, overUserLimit } from './chat/admission';
import { sharding } from './chat/fanout/sharding';
import { goneLedger } from './chat/fanout/gone';
import { ALL_ROOMS, decodeRights } from './auth/rooms';
import type { RoomRights } from './auth/rooms';

/*
 * The messaging path (the validator via protocol.ts, the delivery client via communication.ts) is
 * required on first use, not at load, and jose only by the authorizer: `$connect` and
 * `$disconnect` never post or parse a message, and they run in containers of their own,
 * so their cold starts do not pay for loading either (measured in BENCHMARKS.md). Node
 * caches the modules, so warm invocations pay nothing.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const communication = () => require('./communication') as typeof import('./communication');
const messaging = () => require('./chat/actions') as typeof import('./chat/actions');
const auth = () => require('./auth/token') as typeof import('./auth/token');
const push = () => require('./chat/push') as typeof import('./chat/push');
const sweepWork = () => require('./chat/housekeeping/sweep') as typeof import('./chat/housekeeping/sweep');
const shards = () => require('./chat/fanout/shards') as typeof import('./chat/fanout/shards');
const shardDelivery = () => require('./chat/fanout/deliver') as typeof import('./chat/fanout/deliver');
const lifecycle = () => require('./events/lifecycle') as typeof import('./events/lifecycle');
const inbound = () => require('./events/inbound') as typeof import('./events/inbound');
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * What API Gateway (and serverless-offline) pass to WebSocket routes, with the authorizer's
 * output. The body is typed as what it is, not what it should be: serverless-offline passes
 * a binary frame through as bytes (src/chat/protocol.ts checks it).
 */
export type WebSocketEvent = Omit<APIGatewayProxyWebsocketEventV2, 'body'> & {
  body?: unknown;
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & {
    /** The authorizer's answer: its principalId, and its context (the rights, src/auth/rooms.ts). */
    authorizer?: { principalId?: unknown; rooms?: unknown } | null;
  };
};

export interface HandlerResult {
  statusCode: number;
}

let store: ConnectionStore | undefined;
/**
 * Whether this invocation used the store. `ping` does not, and must not make
 * serverless-mysql's end() run its own queries either (route() ends only a used store).
 */
let storeUsed = false;

/** The store of this container, created on first use and reused while warm. */
function currentStore(): ConnectionStore {
  store ??= createStore(config().store);
  storeUsed = true;
  return store;
}

/**
 * Ends the store if this invocation used it (serverless-mysql's connection check, src/store/
 * mysql-connections.ts); a failure to end is a warning and changes nothing of the answer.
 */
async function endUsedStore(fields: { route: string; connectionId?: string }): Promise<void> {
  if (!storeUsed) return;
  try {
    await store?.end();
  } catch (error) {
    log.warn('store end failed', { ...fields, error });
  }
}

/** For tests: use this store instead of the configured one. */
export function useStore(replacement: ConnectionStore | undefined): void {
  store = replacement;
}

function subjectOf(event: WebSocketEvent): string | null {
  const principal = event.requestContext.authorizer?.principalId;
  return typeof principal === 'string' && principal !== '' ? principal : null;
}

/** The token's rights as the authorizer passed them on; with auth off (no subject), every right. */
function roomsOf(event: WebSocketEvent, subject: string | null): RoomRights {
  return subject === null ? ALL_ROOMS : decodeRights(event.requestContext.authorizer?.rooms);
}

/** An event of another API is refused before anything is stored or posted (src/aws/origin.ts). */
function foreign(name: string, event: WebSocketEvent): boolean {
  try {
    checkOrigin(ownOrigin(), event.requestContext);
    return false;
  } catch (error) {
    if (!(error instanceof ForeignEventError)) throw error;
    const { connectionId, apiId, domainName, stage } = event.requestContext;
    log.warn('refused an event of another API', {
      route: name,
      connectionId,
      apiId,
      domainName,
      stage,
      reason: error.message,
    });
    return true;
  }
}

type Work = (event: WebSocketEvent, context: Context) => Promise<number>;

interface RouteOptions {
  /**
   * Message routes: a client whose message failed is told so on its connection before the
   * 5xx is returned (API Gateway never shows the client our status code). Not `$connect`
   * (the socket does not exist yet) nor `$disconnect` (no one is left to tell).
   */
  answerFailures?: boolean;
}

/** Ms epoch by which a route's own work must end: what is left of the invocation, less its end(). */
function routeDeadline(context: Context): number {
  return Date.now() + (context.getRemainingTimeInMillis?.() ?? 10_000) - AFTER_REPLY_MS;
}

/**
 * Best effort, after the failure is logged: the reply's own failure is a warning and changes
 * neither the logged error nor the status code. Bounded by FAILURE_REPLY_TIMEOUT_MS, and by
 * what is left of the invocation (less the store's end()).
 */
async function answerFailure(name: string, event: WebSocketEvent, context: Context, error: unknown): Promise<void> {
  const connectionId = event.requestContext.connectionId;
  try {
    const { replyFailure } = messaging();
    const remaining = context.getRemainingTimeInMillis?.() ?? FAILURE_REPLY_TIMEOUT_MS + AFTER_REPLY_MS;
    const timeoutMs = Math.min(FAILURE_REPLY_TIMEOUT_MS, remaining - AFTER_REPLY_MS);
    if (timeoutMs <= 0) throw new Error('no time left in the invocation for the error reply');
    const body = event.isBase64Encoded ? undefined : event.body;
    const code = await replyFailure(communication().socketOutbox(), connectionId, error, timeoutMs, body);
    log.info('failure answered', { route: name, connectionId, code });
  } catch (replyError) {
    log.warn('error reply failed', { route: name, connectionId, error: replyError });
  }
}

/** The one response helper: always `{ statusCode }`, errors logged with route and connection id. */
function route(name: string, work: Work, options: RouteOptions = {}) {
  return async (event: WebSocketEvent, context: Context): Promise<HandlerResult> => {
    const connectionId = event.requestContext?.connectionId;
    storeUsed = false;
    try {
      if (foreign(name, event)) return { statusCode: 403 };
      const statusCode = await work(event, context);
      if (!Number.isInteger(statusCode)) {
        log.error('handler returned no status code', { route: name, connectionId });
        return { statusCode: 502 };
      }
      return { statusCode };
    } catch (error) {
      const { status: statusCode, side } = failureOf(error);
      log.error('handler failed', { route: name, connectionId, statusCode, side, error });
      if (options.answerFailures && connectionId) await answerFailure(name, event, context, error);
      return { statusCode };
    } finally {
      await endUsedStore({ route: name, connectionId });
    }
  };
}

/**
 * `$connect` and `$disconnect` act only on their own event. serverless-offline also
 * routes a message whose `action` is "$connect" or "$disconnect" to them (as a MESSAGE
 * event on an open socket), which stored or deleted the sender's row while its socket
 * stayed open; AWS documents these routes for connection events only. A message is
 * answered as the message it is: no protocol action is named "$connect" or "$disconnect",
 * so the sender gets the `unknown_action` error any unknown action gets (400) and nothing
 * is stored or removed. Any other stray event gets a 400 and no post: its socket may not exist.
 */
const notOurs: Work = (event, context) => {
  const { eventType, routeKey, connectionId } = event.requestContext;
  log.warn('refused an event meant for another route', { route: routeKey, connectionId, eventType });
  return eventType === 'MESSAGE' ? handleMessage(event, context) : Promise.resolve(400);
};

/**
 * The `$connect` authorizer, deployed only when auth is on (settings.js: AUTH_MODE hs256 or
 * jwks). A bad token is a Deny (403, nothing stored); a missing or unreadable key
 * (ConfigError, SecretError) or an unreachable key set (KeySetError) is our fault, so it
 * throws and API Gateway answers 500 - the handshake fails closed either way.
 */
export async function authorize(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  try {
    return await auth().authorizeConnect(event, await authSettings());
  } catch (error) {
    // What API Gateway makes of a throwing authorizer: a 500, the handshake refused.
    const { side } = failureOf(error);
    log.error('authorizer failed', {
      route: '$connect',
      connectionId: event.requestContext?.connectionId,
      side,
      error,
    });
    throw error;
  }
}

/**
 * `$connect`: remember the connection. Nothing may be posted from here: the socket
 * exists only after this returns 200 (the original's gotcha 2). A store failure
 * returns 500, so API Gateway refuses the handshake and no half-connection remains.
 */
export const connect = route('$connect', async (event, context) => {
  if (event.requestContext.eventType !== 'CONNECT') return notOurs(event, context);
  const { connectionId, connectedAt } = event.requestContext;
  const store = currentStore();
  const subject = subjectOf(event);
  await addConnection(store, { connectionId, connectedAt: connectedAt ?? Date.now(), subject }, routeDeadline(context));
  if (subject !== null && (await overUserLimit(store, connectionId, subject, config().maxConnectionsPerUser)))
    return 429;
  log.info('connected', { route: '$connect', connectionId });
  // Before the handshake completes, bounded by the emitter's budget (docs/events.md).
  await lifecycle().safely('connection.opened', { connectionId }, () =>
    lifecycle().emit([lifecycle().opened({ connectionId, subject }, connectedAt)], routeDeadline(context)),
  );
  return 200;
});

/**
 * `$disconnect`: forget the connection and its rooms. Best-effort in AWS; see `sweep`.
 * The rooms it was in hear that it left (presence); unlike `$connect`, this route may post.
 */
export const disconnect = route('$disconnect', async (event, context) => {
  if (event.requestContext.eventType !== 'DISCONNECT') return notOurs(event, context);
  const { connectionId, disconnectStatusCode, disconnectReason } =
    event.requestContext as WebSocketEvent['requestContext'] & {
      disconnectStatusCode?: unknown;
      disconnectReason?: unknown;
    };
  // One step: the removal answers the rooms it was in (with each one's tally after it) and its
  // subject, and marks the departures its events wait to emit.
  const removal = await currentStore().removeCounted(connectionId, Date.now(), subjectOf(event));
  const subject = removal.subject;
  log.info('disconnected', { route: '$disconnect', connectionId, known: removal.known });
  // The messaging path (validator, delivery client) is loaded only when there is someone to tell.
  if (removal.rooms.length > 0 && config().presenceMaxMembers > 0) {
    const current = session(event, context);
    await messaging().announceDeparture(current, removal.rooms);
    await closeGone(current);
  }
  const events = lifecycle();
  const courier = { store: currentStore(), deadline: routeDeadline(context) };
  // A row already gone was closed, with its events, by whoever removed it (the sweep, or a post
  // that found the connection gone): a second `connection.closed` would tell it twice. Departures
  // of memberships it left behind are still this removal's.
  if (!removal.known) {
    await events.safely('departures', { connectionId }, () => events.settleDepartures(courier, removal.departures));
    return 200;
  }
  const reason = events.closeReason(disconnectStatusCode, disconnectReason);
  await events.safely('connection.closed', { connectionId }, () =>
    events.closedWithDepartures(courier, { connectionId, subject }, removal.departures, reason),
  );
  return 200;
});

/** No delivery starts after this (src/chat/fanout/delivery.ts: the budget, and room for what follows it). */
function deadlineFor(context: Context): number {
  return fanOutDeadline(Date.now(), config().fanOut, context.getRemainingTimeInMillis?.(), AFTER_FANOUT_MS);
}

function session(event: WebSocketEvent, context: Context): Session {
  const { fanOut, listPageSize, presenceMaxMembers, listScope, history } = config();
  const subject = subjectOf(event);
  const deadline = deadlineFor(context);
  return {
    // Taken on first use, so that a message that needs no store (ping) does not mark it used.
    get store() {
      return currentStore();
    },
    outbox: communication().socketOutbox(),
    connectionId: event.requestContext.connectionId,
    subject,
    rooms: roomsOf(event, subject),
    listScope,
    concurrency: fanOut.concurrency,
    deadline,
    listPageSize,
    presenceMaxMembers,
    history,
    sharding: sharding(deadline),
    gone: goneLedger(),
  };
}

/** After the answer: what the route's posts found gone gets its events and presence leave (src/chat/closings.ts). */
async function closeGone(courier: Parameters<typeof import('./chat/closings').closeGone>[0]): Promise<void> {
  if ((courier.gone?.pending.length ?? 0) > 0) await messaging().closeGone(courier);
}

const handleMessage: Work = async (event, context) => {
  const current = session(event, context);
  try {
    return await messaging().handleMessage(current, event.body, event.isBase64Encoded);
  } finally {
    await closeGone(current);
  }
};

/** `$default`: the original's answer (the connection list), and errors for what it cannot route. */
export const defaultHandler = route('$default', handleMessage, { answerFailures: true });

/** `sendmessage`, `join`, `leave`, `publish`, `send`, `members`, `ping`, `history`: the protocol's actions (src/chat/protocol.ts; `list` is `$default`'s). */
export const message = route('message', handleMessage, { answerFailures: true });

/**
 * Scheduled: the rows that outlived their sockets, and history past its bounds, go
 * (src/chat/housekeeping/sweep.ts says how). A failure is logged and thrown, so Lambda records it.
 */
export async function sweep(
  _event?: ScheduledEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<import('./chat/housekeeping/sweep').SweepResult> {
  storeUsed = false;
  try {
    return await sweepWork().sweepStore(currentStore(), context);
  } catch (error) {
    log.error('sweep failed', { route: 'sweep', error });
    throw error; // let Lambda record the failure
  } finally {
    await endUsedStore({ route: 'sweep' });
  }
}

/**
 * `departures`: the departures queue's event source (src/events/departures-queue.ts). Each
 * message holds the departures of one leave or close, visible once their debounce is over; those
 * no return took back are claimed and emitted. It never throws: a message it could not handle
 * is logged and dropped, its departures stay in the store, and the sweep emits them.
 */
export async function departures(
  event: { Records?: readonly { messageId: string; body: string }[] },
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<import('./events/lifecycle').DeparturesResult> {
  storeUsed = false;
  try {
    const deadline = Date.now() + Math.max(0, (context?.getRemainingTimeInMillis?.() ?? 30_000) - AFTER_REPLY_MS);
    const result = await lifecycle().emitQueued(currentStore(), event.Records ?? [], deadline);
    log.info('departures emitted', { route: 'departures', ...result });
    return result;
  } finally {
    await endUsedStore({ route: 'departures' });
  }
}

/**
 * `publish` (src/chat/push.ts): backends push to a room, a user, a connection or everyone.
 * Invoked directly with `{room?|user?|connectionId?, data}` it returns the delivery
 * summary; through the HTTP API's `POST /publish` it answers with it. No socket event
 * reaches it, so the WebSocket API's endpoint comes from the environment.
 */
export async function publish(event: unknown, context: Context): Promise<import('./chat/push').PublishResult> {
  let made: (import('./chat/session').Courier & { presenceMaxMembers: number }) | undefined;
  // Made on first use (a refused request needs none), once: the gone connections it meets are closed below.
  const courier = () => {
    if (made !== undefined) return made;
    const deadline = deadlineFor(context);
    made = {
      store: currentStore(),
      outbox: communication().backendOutbox(),
      concurrency: config().fanOut.concurrency,
      deadline,
      sharding: sharding(deadline),
      gone: goneLedger(),
      presenceMaxMembers: config().presenceMaxMembers,
    };
    return made;
  };
  storeUsed = false;
  try {
    return await publishOnce(event, courier);
  } finally {
    // Before the answer: a Lambda's work ends with it.
    if (made !== undefined) await closeGone(made);
    // A refused request never touched the store: nothing to end.
    await endUsedStore({ route: 'publish' });
  }
}

async function publishOnce(
  event: unknown,
  courier: () => import('./chat/session').Courier,
): Promise<import('./chat/push').PublishResult> {
  const bridge = inbound();
  if (!bridge.isBridgeEvent(event)) return push().handlePublish(event, courier);
  // From the bus (PublishRule): its detail is the request; a refusal is returned, not thrown, so
  // EventBridge does not retry what cannot succeed; a failure is thrown, and retried.
  try {
    const result = await push().handlePublish(event.detail, courier);
    bridge.recordInbound(event, bridge.outcomeOf(result));
    return result;
  } catch (error) {
    bridge.recordInbound(event, 'failed', { error });
    throw error;
  }
}

/**
 * `deliver`: one shard of a large fan-out (src/chat/fanout/shard-runner.ts), invoked asynchronously
 * by the functions that start one. A failure is thrown so that Lambda retries the shard (it
 * resumes at its saved cursor) and, after the last attempt, keeps the event in the on-failure
 * destination. Under `npm start` the local runtime retries it the same way (scripts/offline-async.js).
 */
export async function deliver(event: unknown, context: Context): Promise<{ outcome: string }> {
  const { isShardEvent } = shards();
  if (!isShardEvent(event)) {
    // Retrying cannot make it one; returning keeps it out of the retries.
    log.error('deliver was invoked without a shard', { route: 'deliver' });
    return { outcome: 'refused' };
  }
  storeUsed = false;
  const { deliveryId, shard } = event;
  try {
    return await shardDelivery().deliverShard(event, context, currentStore);
  } catch (error) {
    log.error('shard failed', { route: 'deliver', deliveryId, shard, error });
    throw error;
  } finally {
    await endUsedStore({ route: 'deliver' });
  }
}
