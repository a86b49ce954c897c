/**
 * Publishing from anywhere in AWS: an event of detail-type `websockets.publish` on the stage's
 * bus (a Step Functions state, a scheduled rule, another account's bus) reaches the `publish`
 * function through the template's PublishRule. Its `detail` is what `POST /publish` takes; the
 * outcome is logged and counted (one EMF line: `pushed` or `refused`).
 */
import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';
import { emfRecord, writeEmf } from '../chat/fanout/emf';
import { log } from '../log';
import { EVENTS_METRICS_SERVICE } from './emitter';

/** The `detail-type` PublishRule matches (serverless.yml, docs/events.md). */
export const PUBLISH_DETAIL_TYPE = 'websockets.publish';

export type BridgeEvent = EventBridgeEvent<string, unknown>;

/** EventBridge's envelope, as opposed to a direct invocation's payload or an HTTP API event. */
export function isBridgeEvent(event: unknown): event is BridgeEvent {
  if (typeof event !== 'object' || event === null) return false;
  const fields = event as Record<string, unknown>;
  return typeof fields['detail-type'] === 'string' && typeof fields.source === 'string' && 'detail' in fields;
}

/** The envelope EventBridge hands the target (`npm run publish -- --event` builds one, as tests do). */
export function bridgeEvent(detail: unknown, source = 'local.backend'): BridgeEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': PUBLISH_DETAIL_TYPE,
    source,
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

/** What became of an event: `pushed` (a delivery summary) or `refused` (an error frame). */
export function outcomeOf(result: unknown): 'pushed' | 'refused' {
  return (result as { type?: unknown } | null)?.type === 'error' ? 'refused' : 'pushed';
}

/** Logs the event's outcome with its id and source, and counts it. */
export function recordInbound(event: BridgeEvent, outcome: 'pushed' | 'refused' | 'failed', fields = {}): void {
  const line = { route: 'publish', eventId: event.id, source: event.source, detailType: event['detail-type'], outcome };
  if (outcome === 'pushed') log.info('event published', { ...line, ...fields });
  else if (outcome === 'refused') log.warn('event not published', { ...line, ...fields });
  else log.error('event not published', { ...line, ...fields });
  writeEmf(
    emfRecord(['service', 'outcome'], [{ Name: 'inbound', Unit: 'Count' }], {
      service: EVENTS_METRICS_SERVICE,
      outcome,
      inbound: 1,
    }),
  );
}
