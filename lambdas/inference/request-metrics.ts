// The EMF metrics of one request, shared by every function that answers the model API (the inference
// function and the SageMaker proxy), so dashboards and release alarms read the same names.
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { RequestRecord } from '../core/serving/model-api';
import { isLatencyJudged } from '../core/monitoring/alarms/alarm-catalog';

/**
 * Every request counts in Requests (and its 4xx/5xx in ClientErrors/ServerErrors). Only a scoring request
 * (predict, infer: isLatencyJudged) puts its time in HandlerLatency and InferenceLatency, the metrics the p99
 * alarms judge; an :explain request is slow by design (up to explain.timeoutMs) and puts its time in
 * ExplainLatency (and counts in ExplainRequests) instead. The other routes (metadata, ready, status) publish no latency.
 */
export function recordRequestMetrics(metrics: Metrics, record: RequestRecord, latencyMs: number): void {
  metrics.addMetric('Requests', MetricUnit.Count, 1);
  const judged = isLatencyJudged(record.operation);
  if (judged) metrics.addMetric('HandlerLatency', MetricUnit.Milliseconds, latencyMs);
  else if (record.operation === 'explain') {
    metrics.addMetric('ExplainRequests', MetricUnit.Count, 1);
    metrics.addMetric('ExplainLatency', MetricUnit.Milliseconds, latencyMs);
  }
  if (record.instances > 0) {
    metrics.addMetric('Instances', MetricUnit.Count, record.instances);
    if (judged) metrics.addMetric('InferenceLatency', MetricUnit.Milliseconds, record.inferenceMs);
  }
  if (record.statusCode >= 400) metrics.addMetric(record.statusCode >= 500 ? 'ServerErrors' : 'ClientErrors', MetricUnit.Count, 1);
}

/** A failure outside the model API (model not loaded, handler crash) still counts as a request and a 5xx. */
export function recordServerError(metrics: Metrics): void {
  metrics.addMetric('Requests', MetricUnit.Count, 1);
  metrics.addMetric('ServerErrors', MetricUnit.Count, 1);
}
