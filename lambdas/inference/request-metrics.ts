// The EMF metrics of one request, shared by every function that answers the model API (the inference
// function and the SageMaker proxy), so dashboards and release alarms read the same names.
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { RequestRecord } from '../core/serving/model-api';

export function recordRequestMetrics(metrics: Metrics, record: RequestRecord, latencyMs: number): void {
  metrics.addMetric('Requests', MetricUnit.Count, 1);
  metrics.addMetric('HandlerLatency', MetricUnit.Milliseconds, latencyMs);
  if (record.instances > 0) {
    metrics.addMetric('Instances', MetricUnit.Count, record.instances);
    metrics.addMetric('InferenceLatency', MetricUnit.Milliseconds, record.inferenceMs);
  }
  if (record.statusCode >= 400) metrics.addMetric(record.statusCode >= 500 ? 'ServerErrors' : 'ClientErrors', MetricUnit.Count, 1);
}

/** A failure outside the model API (model not loaded, handler crash) still counts as a request and a 5xx. */
export function recordServerError(metrics: Metrics): void {
  metrics.addMetric('Requests', MetricUnit.Count, 1);
  metrics.addMetric('ServerErrors', MetricUnit.Count, 1);
}
