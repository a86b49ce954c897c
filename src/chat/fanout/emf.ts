/**
 * A delivery's metrics in CloudWatch's embedded metric format, written without a library: the
 * same JSON line @aws-lambda-powertools/metrics writes (./metrics.ts; a unit test compares the
 * two), for the message path, where loading Powertools (30-50 ms measured here) would break the
 * 60 ms cold-load target (BENCHMARKS.md). Written to stdout as Powertools does, not through
 * console.log, whose Lambda prefix would hide the JSON from CloudWatch.
 */
import type { DeliveryFrame } from '../frames';

/** POWERTOOLS_METRICS_NAMESPACE (serverless.yml) wins over this default. */
export const METRICS_NAMESPACE = 'aws-node-websockets';
export const METRICS_SERVICE = 'fan-out';

const COUNTS = ['recipients', 'sent', 'stale', 'failed', 'unsent', 'shards'] as const;

/**
 * One EMF record in Powertools' shape: the metrics (their values among `fields`) under one set of
 * dimensions (also among `fields`), in the namespace POWERTOOLS_METRICS_NAMESPACE names.
 */
export function emfRecord<F extends Record<string, unknown>>(
  dimensions: string[],
  metrics: { Name: string; Unit: string }[],
  fields: F,
  timestamp = Date.now(),
) {
  return {
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
          Dimensions: [dimensions],
          Metrics: metrics,
        },
      ],
    },
    ...fields,
  };
}

/** Writes a record, unless POWERTOOLS_METRICS_DISABLED is true (the switch Powertools reads). */
export function writeEmf(record: object): void {
  if (process.env.POWERTOOLS_METRICS_DISABLED === 'true') return;
  process.stdout.write(JSON.stringify(record) + '\n');
}

/** The EMF record of one delivery, as Powertools builds it. */
export function deliveryRecord(summary: DeliveryFrame, seconds: number, timestamp = Date.now()) {
  const path = summary.shards === undefined ? 'direct' : 'sharded';
  return emfRecord(
    ['service', 'path'],
    [...COUNTS.map((Name) => ({ Name, Unit: 'Count' })), { Name: 'seconds', Unit: 'Seconds' }],
    {
      ...(summary.deliveryId === undefined ? {} : { deliveryId: summary.deliveryId }),
      service: METRICS_SERVICE,
      path,
      recipients: summary.recipients,
      sent: summary.sent,
      stale: summary.stale,
      failed: summary.failed,
      unsent: summary.unsent,
      shards: summary.shards ?? 1,
      seconds,
    },
    timestamp,
  );
}

export function writeDeliveryMetrics(summary: DeliveryFrame, seconds: number): void {
  writeEmf(deliveryRecord(summary, seconds));
}
