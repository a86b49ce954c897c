/**
 * Server-side publish: a backend pushes to a room, a user, one connection or everyone
 * without being a WebSocket client. The `publish` function is invoked directly (Lambda
 * Invoke, `sls invoke -f publish`, any AWS service that can invoke Lambda) or through
 * the HTTP API's `POST /publish`, which IAM guards in AWS (serverless.yml). In both cases
 * IAM decides who may; the socket cannot reach this function.
 *
 * The message goes through the same delivery path as a client's (src/chat/fanout/envelope.ts), with
 * `"from": null` and `"origin": "server"`, and the caller gets the delivery summary (or
 * the same `{"type":"error","code",…}` a client would get for a request it cannot act on).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { BadMessageError, failureOf, refusalFrame } from '../errors';
import { log } from '../log';
import {
  audienceOrShards,
  deliverToAudience,
  deliverySummary,
  encodeForTarget,
  messageEnvelope,
} from './fanout/envelope';
import { waitForSummary } from './fanout/shards';
import { toBus } from './messages';
import type { DeliverySummary } from './fanout/envelope';
import type { Courier, Target } from './session';
import { parsePublishBody, parsePublishRequest } from './protocol';
import type { PublishRequest } from './protocol';
import type { ErrorFrame } from './frames';

/**
 * The caller's answer waits for the room's `message.published` (EVENTS_PUBLISHED_ROOMS) at most
 * the emit budget, 1 s: a Lambda's work ends with its answer, so the event goes before it.
 */
export async function publishFromServer(courier: Courier, request: PublishRequest): Promise<DeliverySummary> {
  const target: Target = { room: request.room, user: request.user, to: request.connectionId };
  const frame = messageEnvelope(target, 'server', request.data);
  const message = await encodeForTarget(courier, frame);
  const plan = await audienceOrShards(courier, target, message);
  if (plan.kind === 'queued') {
    // Sharded: the queued summary, or with `wait` the final one if it comes within the budget.
    const final = await plan.handOver();
    await toBus(courier, frame, message);
    if (final) return final;
    if (!request.wait) return plan.queued;
    return (await waitForSummary(courier.store, plan.queued.deliveryId as string, courier.deadline)) ?? plan.queued;
  }
  const result = await deliverToAudience(courier, plan.audience, message, {
    route: 'publish',
    room: request.room,
    user: request.user,
    to: request.connectionId,
  });
  await toBus(courier, frame, message);
  return deliverySummary(result, target, message);
}

/** An HTTP API (payload 2.0) event, as opposed to a direct invocation's payload. */
export function isHttpEvent(event: unknown): event is APIGatewayProxyEventV2 {
  const context = (event as { requestContext?: { http?: unknown } } | null)?.requestContext;
  return typeof context === 'object' && context !== null && typeof context.http === 'object';
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** A refused request, in the protocol's own shape: what the socket and `POST /publish` answer too. */
export type PublishRefusal = ErrorFrame;

function refusal(error: BadMessageError, route: string): PublishRefusal {
  log.info('bad publish request', { route, code: error.code });
  return refusalFrame(error);
}

/**
 * `POST /publish`: 200 with the summary; otherwise the failure table's status and code
 * (src/errors.ts), as the socket answers: 400 or 413 with the protocol's error codes, 500 when
 * our store, settings or secrets fail, 502 for anything else. The original error is logged, never sent.
 */
async function publishOverHttp(event: APIGatewayProxyEventV2, courier: () => Courier) {
  try {
    const body =
      event.isBase64Encoded && event.body !== undefined
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
    const request = parsePublishBody(body);
    return json(200, await publishFromServer(courier(), request));
  } catch (error) {
    const failure = failureOf(error);
    if (error instanceof BadMessageError) return json(failure.status, refusal(error, 'POST /publish'));
    log.error('publish failed', { route: 'POST /publish', statusCode: failure.status, side: failure.side, error });
    return json(failure.status, {
      type: 'error',
      code: failure.code === 'unavailable' ? 'unavailable' : 'internal',
      message: 'the message could not be published; nothing was sent',
    } satisfies ErrorFrame);
  }
}

export type PublishResult = DeliverySummary | PublishRefusal | APIGatewayProxyStructuredResultV2;

/**
 * A direct invocation returns the summary, or `{"type":"error","code",…}` for a request it
 * refuses (nothing sent; an asynchronous invocation is not retried, as it would fail the
 * same way). A failure of the store or the settings fails the invocation: Lambda reports
 * it to the caller, and retries an asynchronous invocation.
 */
export async function handlePublish(event: unknown, courier: () => Courier): Promise<PublishResult> {
  if (isHttpEvent(event)) return publishOverHttp(event, courier);
  let request: PublishRequest;
  try {
    request = parsePublishRequest(event);
  } catch (error) {
    if (error instanceof BadMessageError) return refusal(error, 'publish');
    throw error;
  }
  try {
    return await publishFromServer(courier(), request);
  } catch (error) {
    log.error('publish failed', { route: 'publish', error });
    throw error;
  }
}
