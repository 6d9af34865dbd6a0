// The local metrics store: which local figure answers which CloudWatch metric, periods aligned like
// CloudWatch's, per-version summaries, and percentiles that stay honest past the reservoir's size.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_LOG_METRICS_NAMESPACE, type MetricRef } from '../../../lambdas/core/monitoring/alarms/alarm-catalog';
import { DRIFT_METRICS, DRIFT_METRICS_NAMESPACE } from '../../../lambdas/core/monitoring/contracts';
import { LocalMetrics, MAX_SAMPLES_PER_PERIOD } from '../../../local/monitoring/metrics-store';

const PERIOD = 60_000;
const T0 = 1_800_000_000_000;
const INFER = '/v2/models/m/infer';
const PREDICT = '/v1/models/m:predict';

const ref = (namespace: string, metricName: string, statistic: string, dimensions: Record<string, string> = {}): MetricRef => ({ namespace, metricName, statistic, dimensions });

describe('local metrics store', () => {
  it('answers each metric the alarm catalog names from the matching local figure', () => {
    const store = new LocalMetrics({ periodMs: () => PERIOD, emfNamespace: 'mlship' });
    // v1: 10 answers on infer at 10..19 ms (handler 1 ms less), 2 of them 500; v2: 5 on predict at 100 ms, one 400; 3 throttled before routing.
    for (let i = 0; i < 10; i++) store.record({ model: 'm', version: '1', resource: INFER, statusCode: i < 2 ? 500 : 200, latencyMs: 10 + i, handlerMs: 9 + i, time: T0 + i });
    for (let i = 0; i < 5; i++) store.record({ model: 'm', version: '2', resource: PREDICT, statusCode: i === 0 ? 400 : 200, latencyMs: 100, handlerMs: 99, time: T0 + 100 + i });
    for (let i = 0; i < 3; i++) store.record({ model: 'm', resource: INFER, statusCode: 429, latencyMs: 0.5, time: T0 + 200 + i });
    const at = (r: MetricRef) => store.metric('m', r, T0, T0 + PERIOD);
    assert.equal(at(ref('AWS/ApiGateway', 'Latency', 'p99', { Resource: PREDICT })), 100, 'API latency of one route');
    assert.equal(at(ref('AWS/ApiGateway', 'Latency', 'Maximum', { Resource: INFER })), 19, 'the other route (429s at 0.5 ms included, not the maximum)');
    assert.equal(at(ref('AWS/Lambda', 'Duration', 'p99')), 99, 'the handler time of every version');
    assert.equal(at(ref('AWS/SageMaker', 'ModelLatency', 'Minimum')), 9000, 'ModelLatency in microseconds');
    assert.equal(at(ref('mlship', 'Requests', 'Sum', { version: '1' })), 10, 'EMF requests of v1');
    assert.equal(at(ref('mlship', 'ServerErrors', 'Sum', { version: '1' })), 2, 'EMF 5xx of v1');
    assert.equal(at(ref('mlship', 'ServerErrors', 'Sum', { version: '2' })), 0, 'v2 answered: 0, not missing');
    assert.equal(at(ref('mlship', 'Requests', 'Sum', { version: '3' })), undefined, 'a version without requests has no datapoint');
    assert.equal(at(ref(API_LOG_METRICS_NAMESPACE, 'p-s-m-Throttled', 'Sum')), 3, 'the gateway 429s are the API throttles');
    assert.equal(at(ref('AWS/Lambda', 'Throttles', 'Sum')), undefined, 'no Lambda throttles locally');
    assert.equal(at(ref('/aws/sagemaker/Endpoints', 'GPUUtilization', 'Average')), undefined, 'no GPU locally');
    assert.equal(store.metric('m', ref('AWS/Lambda', 'Duration', 'p99'), T0 + PERIOD, T0 + 2 * PERIOD), undefined, 'the next period is empty');
    assert.equal(store.metric('m', ref('AWS/Lambda', 'Duration', 'p99'), T0 + 1, T0 + PERIOD), undefined, 'only whole periods inside the range count');

    store.recordDrift('m', [{ metric: DRIFT_METRICS.featurePsi, value: 0.4, unit: 'None', feature: 'x' }, { metric: DRIFT_METRICS.featurePsi, value: 0.1, unit: 'None', feature: 'y' }], new Date(T0 + 5));
    assert.equal(at(ref(DRIFT_METRICS_NAMESPACE, DRIFT_METRICS.featurePsi, 'Maximum', { stage: 'local', model: 'm', feature: 'y' })), 0.1, 'drift figures per feature');

    const [v1, v2, unrouted] = store.versionFigures('m', T0, T0 + PERIOD);
    assert.deepEqual([v1!.version, v1!.requests, v1!.serverErrors, v1!.p50Ms], ['1', 10, 2, 14], 'v1 summary (nearest-rank p50 of 10..19)');
    assert.deepEqual([v2!.version, v2!.requests, v2!.clientErrors, v2!.p99Ms], ['2', 5, 1, 100], 'v2 summary');
    assert.deepEqual([unrouted!.version, unrouted!.throttles], ['-', 3], 'answers before routing last');
    assert.deepEqual(store.totalFigures('m').map((f) => [f.version, f.requests]), [['1', 10], ['2', 5], ['-', 3]], 'since start');
  });

  it("keeps :explain requests out of the handler's EMF latency, as the function publishes it, but counts them as requests and errors", () => {
    const store = new LocalMetrics({ periodMs: () => PERIOD, emfNamespace: 'mlship' });
    const EXPLAIN = '/v1/models/m:explain';
    // v1: 20 predict answers at 10..29 ms in the handler; 20 explanations at 4000 ms, 2 of them 500.
    for (let i = 0; i < 20; i++) store.record({ model: 'm', version: '1', resource: PREDICT, operation: 'predict', statusCode: 200, latencyMs: 11 + i, handlerMs: 10 + i, time: T0 + i });
    for (let i = 0; i < 20; i++) store.record({ model: 'm', version: '1', resource: EXPLAIN, operation: 'explain', statusCode: i < 2 ? 500 : 200, latencyMs: 4001, handlerMs: 4000, time: T0 + 100 + i });
    const at = (r: MetricRef) => store.metric('m', r, T0, T0 + PERIOD);
    const v1 = { version: '1' };
    assert.equal(at(ref('mlship', 'HandlerLatency', 'p99', v1)), 29, 'the p99 of the predict requests alone');
    assert.equal(at(ref('mlship', 'InferenceLatency', 'Maximum', v1)), 29, 'InferenceLatency: scoring requests too');
    assert.equal(at(ref('mlship', 'Requests', 'Sum', v1)), 40, 'every request counts');
    assert.equal(at(ref('mlship', 'ServerErrors', 'Sum', v1)), 2, "an explanation's 5xx is a server error");
    assert.equal(at(ref('AWS/Lambda', 'Duration', 'p99')), 4000, "Lambda's Duration has them all, as in the cloud");
    assert.equal(at(ref('AWS/ApiGateway', 'Latency', 'p99', { Resource: PREDICT })), 30, 'API latency is per route');
    // A period of explanations only: requests, but no scoring latency datapoint.
    store.record({ model: 'm', version: '1', resource: EXPLAIN, operation: 'explain', statusCode: 200, latencyMs: 4001, handlerMs: 4000, time: T0 + PERIOD });
    assert.equal(store.metric('m', ref('mlship', 'HandlerLatency', 'p99', v1), T0 + PERIOD, T0 + 2 * PERIOD), undefined);
    assert.equal(store.metric('m', ref('mlship', 'Requests', 'Sum', v1), T0 + PERIOD, T0 + 2 * PERIOD), 1);
  });

  it('keeps percentiles honest past the reservoir size', () => {
    const store = new LocalMetrics({ periodMs: () => PERIOD, emfNamespace: 'mlship' });
    const n = MAX_SAMPLES_PER_PERIOD * 10;
    // Latencies 0..n-1 in a scrambled order: the true p99 is 0.99 n.
    for (let i = 0; i < n; i++) store.record({ model: 'm', version: '1', resource: INFER, statusCode: 200, latencyMs: (i * 7919) % n, time: T0 + (i % PERIOD) });
    const p99 = store.metric('m', ref('AWS/ApiGateway', 'Latency', 'p99', { Resource: INFER }), T0, T0 + PERIOD)!;
    assert.ok(Math.abs(p99 - 0.99 * n) < 0.01 * n, `p99 ${p99} within 1% of ${0.99 * n}`);
    assert.equal(store.metric('m', ref('mlship', 'Requests', 'Sum', { version: '1' }), T0, T0 + PERIOD), n, 'every request counted');
  });
});
