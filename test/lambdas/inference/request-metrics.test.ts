// The EMF metrics of one request (lambdas/inference/request-metrics.ts), as the inference function and the
// SageMaker proxy publish them, read back from Powertools' own EMF serialisation: every request counts, but
// only a scoring request's time is in HandlerLatency/InferenceLatency (the metrics the p99 alarms judge); an
// :explain request's time, slow by design, is ExplainLatency.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { recordRequestMetrics, recordServerError } from '../../../lambdas/inference/request-metrics';
import type { RequestRecord } from '../../../lambdas/core/serving/model-api';

/** The metric values one request publishes, by name (Powertools' EMF object, without its _aws metadata). */
function published(record: RequestRecord, latencyMs: number): Record<string, unknown> {
  const metrics = new Metrics({ namespace: 'mlship', serviceName: 'mlship-m' });
  recordRequestMetrics(metrics, record, latencyMs);
  const emf = metrics.serializeMetrics() as unknown as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Metrics: { Name: string; Unit: string }[] }[] } };
  const names = emf._aws.CloudWatchMetrics[0]!.Metrics.map((m) => `${m.Name}:${m.Unit}`).sort();
  return { names, ...Object.fromEntries(names.map((n) => n.split(':')[0]!).map((n) => [n, emf[n]])) };
}

const record = (operation: RequestRecord['operation'], statusCode = 200, instances = 2): RequestRecord => ({ operation, statusCode, errorCode: undefined, instances, inferenceMs: 3.5 });

describe('recordRequestMetrics', () => {
  for (const operation of ['predict', 'infer'] as const) {
    it(`${operation === 'infer' ? 'an' : 'a'} ${operation} request: Requests, HandlerLatency, Instances and InferenceLatency`, () => {
      assert.deepEqual(published(record(operation), 12.5), {
        names: ['HandlerLatency:Milliseconds', 'InferenceLatency:Milliseconds', 'Instances:Count', 'Requests:Count'],
        HandlerLatency: 12.5,
        InferenceLatency: 3.5,
        Instances: 2,
        Requests: 1,
      });
    });
  }

  it('an :explain request: Requests and ExplainRequests, its time as ExplainLatency, never HandlerLatency or InferenceLatency', () => {
    const figures = published(record('explain'), 4800);
    assert.deepEqual(figures, {
      names: ['ExplainLatency:Milliseconds', 'ExplainRequests:Count', 'Instances:Count', 'Requests:Count'],
      ExplainLatency: 4800,
      ExplainRequests: 1,
      Instances: 2,
      Requests: 1,
    });
  });

  it('an :explain request answered 5xx is still a server error of this version (and a 4xx a client error)', () => {
    const failed = published(record('explain', 500, 0), 5000);
    assert.deepEqual([failed.Requests, failed.ServerErrors, failed.ExplainLatency, failed.HandlerLatency], [1, 1, 5000, undefined]);
    const refused = published(record('explain', 400, 0), 2);
    assert.deepEqual([refused.Requests, refused.ClientErrors, refused.ServerErrors, refused.HandlerLatency], [1, 1, undefined, undefined]);
  });

  it('the metadata routes and an unrouted request count as requests, with no latency judged', () => {
    for (const operation of ['metadata', 'ready', 'status'] as const) assert.deepEqual(published(record(operation, 200, 0), 1).names, ['Requests:Count'], operation);
    assert.deepEqual(published(record('unrouted', 404, 0), 1).names, ['ClientErrors:Count', 'Requests:Count']);
  });

  it('recordServerError: a request and a 5xx', () => {
    const metrics = new Metrics({ namespace: 'mlship', serviceName: 'mlship-m' });
    recordServerError(metrics);
    const emf = metrics.serializeMetrics() as unknown as Record<string, unknown>;
    assert.deepEqual([emf.Requests, emf.ServerErrors, emf.HandlerLatency], [1, 1, undefined]);
  });
});
