// The monitoring alarms of each model as data (lambdas/core/monitoring/alarms/alarm-catalog.ts), from the shipped
// manifest's entries and from entries with their own thresholds: kinds per runtime, thresholds and periods
// from the manifest, names the drift rule and the alerts rely on, and runbooks that say what to do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compositeAlarmName, isLatencyJudged, modelAlarmSpecs, type AlarmTargets } from '../../../../lambdas/core/monitoring/alarms/alarm-catalog';
import { DRIFT_METRICS_NAMESPACE } from '../../../../lambdas/core/monitoring/contracts';
import { parseAlarmName } from '../../../../lambdas/core/monitoring/alarms/readable-alert';
import { loadManifest, resolveManifestPath } from '../../../../lambdas/core/manifest/load';
import { modelEntrySchema } from '../../../../lambdas/core/manifest/schema';
import { driftAlarmName } from '../../../../lib/private/names';

const shipped = loadManifest(resolveManifestPath(undefined));
const targets: AlarmTargets = { project: 'mlship', stage: 'prod', apiName: 'mlship-prod', apiStage: 'prod', metricsNamespace: 'mlship', metricsService: 'mlship-breast-cancer', functionName: 'bc-fn', endpointName: 'digits-ep', variantName: 'AllTraffic' };
const entry = (name: string) => shipped.models.find((m) => m.entry.name === name)!.entry;

describe('isLatencyJudged', () => {
  it('judges the latency of scoring requests only: predict and infer, not explain or the metadata routes', () => {
    assert.deepEqual(
      ['predict', 'infer', 'explain', 'metadata', 'ready', 'status', 'unrouted', undefined].map((o) => [o, isLatencyJudged(o)]),
      [['predict', true], ['infer', true], ['explain', false], ['metadata', false], ['ready', false], ['status', false], ['unrouted', false], [undefined, false]],
    );
  });
});

describe('modelAlarmSpecs', () => {
  it('watches a Lambda model\'s API and function latency, error rate, throttles and drift', () => {
    const specs = modelAlarmSpecs(targets, entry('breast-cancer'));
    assert.deepEqual(specs.map((s) => s.kind), ['api-p99-latency', 'error-rate', 'function-p99-latency', 'throttles', 'drift']);
    const byKind = new Map(specs.map((s) => [s.kind, s]));
    const alarms = entry('breast-cancer').monitoring.alarms;
    assert.equal(byKind.get('api-p99-latency')!.threshold, alarms.p99LatencyMs);
    // The handler's HandlerLatency (scoring requests only), not Lambda's Duration, which counts slow :explain requests too.
    const fnLatency = byKind.get('function-p99-latency')!;
    assert.deepEqual(fnLatency.metrics.latency, { namespace: 'mlship', metricName: 'HandlerLatency', statistic: 'p99', dimensions: { service: 'mlship-breast-cancer', model: 'breast-cancer', version: '1' } });
    assert.equal(fnLatency.metrics.requests!.metricName, 'Requests');
    assert.equal(fnLatency.expression, `IF(requests >= ${alarms.minRequests}, FILL(latency, 0), 0)`);
    assert.match(fnLatency.runbook, /:explain requests are not counted/);
    assert.equal(byKind.get('error-rate')!.expression, `IF(requests >= ${alarms.minRequests}, 100 * errors / requests, 0)`);
    assert.deepEqual(byKind.get('error-rate')!.metrics.errors!.dimensions, { service: 'mlship-breast-cancer', model: 'breast-cancer', version: '1' });
    for (const spec of specs.filter((s) => s.kind !== 'drift')) {
      assert.deepEqual([spec.periodMinutes, spec.evaluationPeriods, spec.datapointsToAlarm], [alarms.periodMinutes, alarms.evaluationPeriods, alarms.evaluationPeriods], spec.kind);
    }
  });

  it('watches a SageMaker model\'s endpoint latency in microseconds, its 5xx and GPU utilization', () => {
    const specs = modelAlarmSpecs(targets, entry('digits'));
    assert.deepEqual(specs.map((s) => s.kind), ['api-p99-latency', 'error-rate', 'endpoint-p99-latency', 'endpoint-5xx', 'gpu-utilization', 'throttles', 'drift']);
    const latency = specs.find((s) => s.kind === 'endpoint-p99-latency')!;
    assert.equal(latency.threshold, entry('digits').monitoring.alarms.p99LatencyMs * 1000);
    assert.deepEqual(latency.metrics.latency!.dimensions, { EndpointName: 'digits-ep', VariantName: 'AllTraffic' });
    assert.equal(specs.find((s) => s.kind === 'gpu-utilization')!.threshold, 90);
    assert.deepEqual(Object.keys(specs.find((s) => s.kind === 'throttles')!.metrics), ['api'], 'API 429s: the endpoint has no throttles metric of its own');
  });

  it('counts throttles as API 429s (from the access log) plus Lambda throttles of the live alias', () => {
    const throttles = modelAlarmSpecs(targets, entry('breast-cancer')).find((s) => s.kind === 'throttles')!;
    assert.equal(throttles.expression, 'FILL(api, 0) + FILL(lambda, 0)');
    assert.deepEqual(throttles.metrics.lambda!.dimensions, { FunctionName: 'bc-fn', Resource: 'bc-fn:live' });
    const api = throttles.metrics.api!;
    assert.equal(api.metricName, 'mlship-prod-breast-cancer-Throttled', 'per project, stage and model');
    assert.equal(api.accessLogFilter, '{ ($.status = "429") && (($.resourcePath = "/v2/models/breast-cancer/infer") || ($.resourcePath = "/v1/models/breast-cancer:predict")) }');
  });

  it('takes every threshold and period from the manifest', () => {
    const custom = modelEntrySchema.parse({ name: 'churn', version: 4, monitoring: { alarms: { p99LatencyMs: 250, errorRatePercent: 2.5, throttles: 3, minRequests: 50, periodMinutes: 1, evaluationPeriods: 5 } } });
    const specs = new Map(modelAlarmSpecs({ ...targets, functionName: 'churn-fn' }, custom).map((s) => [s.kind, s]));
    assert.equal(specs.get('api-p99-latency')!.threshold, 250);
    assert.equal(specs.get('error-rate')!.threshold, 2.5);
    assert.match(specs.get('error-rate')!.expression!, /requests >= 50/);
    assert.equal(specs.get('throttles')!.threshold, 3);
    assert.equal(specs.get('throttles')!.periodMinutes, 1);
    assert.equal(specs.get('throttles')!.evaluationPeriods, 5);
    assert.match(specs.get('api-p99-latency')!.runbook, /over 250 ms for 5 minutes/);
    assert.equal(specs.get('api-p99-latency')!.version, '4');
  });

  it('names alarms so the drift rule and the alerts find them, and keeps drift out of the serving composite', () => {
    for (const name of ['breast-cancer', 'digits']) {
      const specs = modelAlarmSpecs(targets, entry(name));
      const drift = specs.find((s) => s.kind === 'drift')!;
      assert.equal(drift.name, driftAlarmName('mlship', 'prod', name), 'the name the retrain rule matches');
      assert.equal(drift.inComposite, false);
      assert.equal(drift.metrics.drift!.namespace, DRIFT_METRICS_NAMESPACE);
      assert.ok(specs.filter((s) => s.kind !== 'drift').every((s) => s.inComposite));
      const context = { project: 'mlship', stage: 'prod', models: { 'breast-cancer': '1', digits: '1' } };
      for (const spec of specs) assert.deepEqual(parseAlarmName(spec.name, context), { model: name, kind: spec.kind });
      assert.deepEqual(parseAlarmName(compositeAlarmName('mlship', 'prod', name), context), { model: name, kind: 'health' });
    }
  });

  it('gives every alarm a runbook that says what it means and what to do first', () => {
    for (const name of ['breast-cancer', 'digits']) {
      for (const spec of modelAlarmSpecs(targets, entry(name))) {
        assert.match(spec.runbook, /First /, `${spec.name}: ${spec.runbook}`);
        assert.ok(spec.runbook.length < 400, `${spec.name}: a runbook line, not an essay`);
      }
    }
  });
});
