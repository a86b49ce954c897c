/**
 * One set of CloudWatch metrics per sharded delivery, in the embedded metric format (EMF): a
 * JSON log line that CloudWatch turns into metrics, so no PutMetricData call and no extra
 * permission. Written by @aws-lambda-powertools/metrics, loaded only by the shard that sends
 * the final summary (src/handler.ts requires this module on first use).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, METRICS_SERVICE } from './emf';
import type { DeliveryFrame } from '../frames';

let metrics: Metrics | undefined;

export function publishDeliveryMetrics(summary: DeliveryFrame, seconds: number): void {
  metrics ??= new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
    serviceName: METRICS_SERVICE,
  });
  metrics.addDimension('path', summary.shards === undefined ? 'direct' : 'sharded');
  metrics.addMetric('recipients', MetricUnit.Count, summary.recipients);
  metrics.addMetric('sent', MetricUnit.Count, summary.sent);
  metrics.addMetric('stale', MetricUnit.Count, summary.stale);
  metrics.addMetric('failed', MetricUnit.Count, summary.failed);
  metrics.addMetric('unsent', MetricUnit.Count, summary.unsent);
  metrics.addMetric('shards', MetricUnit.Count, summary.shards ?? 1);
  metrics.addMetric('seconds', MetricUnit.Seconds, seconds);
  if (summary.deliveryId !== undefined) metrics.addMetadata('deliveryId', summary.deliveryId);
  metrics.publishStoredMetrics();
}
