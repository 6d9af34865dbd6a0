// The local alarms: the alarm catalog's specs of real manifest entries judged on the local metrics store,
// period by period on a clock the test moves; alerts made by the real readableAlert.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelAlarmSpecs, type AlarmSpec } from '../../../lambdas/core/monitoring/alarms/alarm-catalog';
import { DRIFT_METRICS } from '../../../lambdas/core/monitoring/contracts';
import type { AlarmEvent } from '../../../lambdas/core/monitoring/contracts';
import { readableAlert } from '../../../lambdas/core/monitoring/alarms/readable-alert';
import { modelEntrySchema } from '../../../lambdas/core/manifest/schema';
import { AlarmEvaluator } from '../../../local/monitoring/alarm-evaluator';
import { MetricMathError, parseMetricMath } from '../../../local/monitoring/metric-math';
import { LocalMetrics } from '../../../local/monitoring/metrics-store';

const PERIOD = 60_000;
/** A fixed start, aligned to a period, so periods are easy to name. */
const T0 = 1_800_000_000_000 - (1_800_000_000_000 % PERIOD);

function setUp(entryInput: Record<string, unknown>) {
  const entry = modelEntrySchema.parse(entryInput);
  const specs: AlarmSpec[] = modelAlarmSpecs({ project: 'mlship', stage: 'local', apiName: 'mlship-local', apiStage: 'local', metricsNamespace: 'mlship', metricsService: `mlship-local-${entry.name}`, functionName: `fn-${entry.name}`, endpointName: `${entry.name}-v${entry.version}` }, entry);
  const metrics = new LocalMetrics({ periodMs: () => entry.monitoring.alarms.periodMinutes * PERIOD, emfNamespace: 'mlship' });
  const events: AlarmEvent[] = [];
  const evaluator = new AlarmEvaluator({ project: 'mlship', stage: 'local', specs, metrics, onAlert: (e) => events.push(e), now: () => T0 });
  const infer = `/v2/models/${entry.name}/infer`;
  /** Requests answered in minute `p` (0 = the one starting at T0), one per latency, spread over the minute. */
  const traffic = (p: number, latencies: readonly number[], status = (_: number) => 200, operation: 'infer' | 'explain' = 'infer') =>
    latencies.forEach((ms, i) =>
      metrics.record({
        model: entry.name,
        version: String(entry.version),
        resource: operation === 'infer' ? infer : `/v1/models/${entry.name}:explain`,
        operation,
        statusCode: status(i),
        latencyMs: ms,
        handlerMs: ms * 0.9,
        time: T0 + p * PERIOD + (i * PERIOD) / (latencies.length + 1),
      }),
    );
  /** Judges everything up to the end of minute `p` (plus the settling wait of the model's period). */
  const judgeThrough = (p: number) => evaluator.tick(T0 + (p + 1) * PERIOD + entry.monitoring.alarms.periodMinutes * PERIOD * 0.06);
  return { entry, specs, metrics, evaluator, events, traffic, judgeThrough };
}

/** Nearest-rank p99, worked out here apart from the store. */
function p99(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.99 * sorted.length) - 1]!;
}

const slow = Array.from({ length: 50 }, (_, i) => 380 + i);
const fast = Array.from({ length: 50 }, (_, i) => 5 + (i % 7));

describe('metric math', () => {
  it('evaluates the catalog expressions with missing data as CloudWatch does', () => {
    const errorRate = parseMetricMath('IF(requests >= 20, 100 * errors / requests, 0)');
    assert.equal(errorRate({ requests: 40, errors: 2 }), 5, 'rate in percent once enough requests');
    assert.equal(errorRate({ requests: 10, errors: 10 }), 0, 'too few requests: not judged');
    assert.equal(errorRate({ requests: undefined, errors: undefined }), undefined, 'no requests: no datapoint');
    const latency = parseMetricMath('MAX([infer, predict])');
    assert.equal(latency({ infer: 812, predict: undefined }), 812, 'MAX skips a route without data');
    assert.equal(latency({ infer: undefined, predict: undefined }), undefined, 'no route with data: no datapoint');
    assert.equal(parseMetricMath('-(a - 2) * 3 + 10 / 4')({ a: 5 }), -9 + 2.5, 'precedence and unary minus');
    assert.equal(parseMetricMath('a / b')({ a: 1, b: 0 }), undefined, 'division by zero has no datapoint');
    assert.equal(parseMetricMath('FILL(api, 0) + FILL(lambda, 0)')({ api: 12, lambda: undefined }), 12, 'FILL gives a missing metric its value');
    assert.throws(() => parseMetricMath('MAX([a, b'), MetricMathError, 'unbalanced brackets are refused');
    assert.throws(() => parseMetricMath('a + c')({ a: 1 }), /unknown metric id 'c'/, 'an id the spec does not define is refused');
  });
});

describe('local alarm evaluation over the alarm catalog', () => {
  it('a p99 latency over the threshold for every evaluation period sends one ALARM, naming the API latency with its figure', () => {
    const t = setUp({ name: 'breast-cancer', version: 3, monitoring: { alarms: { p99LatencyMs: 300, periodMinutes: 1, evaluationPeriods: 3 } } });
    t.judgeThrough(-1);
    for (let p = 0; p < 3; p++) {
      t.traffic(p, slow);
      t.judgeThrough(p);
      assert.equal(t.events.length, p < 2 ? 0 : 1, `after period ${p + 1} of 3: ${t.events.map((e) => e.alarmName).join(', ')}`);
    }
    const [event] = t.events;
    assert.equal(event!.state, 'ALARM', 'into ALARM');
    assert.equal(event!.kind, 'api-p99-latency', 'the first serving alarm that breached names the incident');
    assert.equal(event!.value, p99(slow), 'the figure is the last period p99 at the gateway');
    assert.equal(readableAlert(event!).subject, `[ALARM] breast-cancer v3 API p99 latency ${p99(slow)} ms > 300 ms (local)`, 'the subject the cloud would send');
    const states = Object.fromEntries(t.evaluator.statuses().map((s) => [s.kind, s.state]));
    assert.equal(states['function-p99-latency'], 'ALARM', 'the handler time breaches too');
    assert.equal(states['error-rate'], 'OK', 'no errors');
    assert.deepEqual(t.evaluator.composites().map((c) => [c.name, c.state]), [['mlship-local-breast-cancer-health', 'ALARM']], 'the composite is in ALARM');

    // Still slow: no second message. Then two good periods: back under, one OK.
    t.traffic(3, slow);
    t.judgeThrough(3);
    assert.equal(t.events.length, 1, 'staying in ALARM sends nothing more');
    t.traffic(4, fast);
    t.judgeThrough(4);
    assert.equal(t.events.length, 2, 'one good period ends the breach (3 of 3 needed)');
    assert.equal(t.events[1]!.state, 'OK', 'recovery');
    assert.equal(t.events[1]!.previousState, 'ALARM', 'recovered from ALARM');
    assert.match(readableAlert(t.events[1]!).subject, /^\[OK\] breast-cancer v3 API p99 latency back to normal/, 'the OK subject');
  });

  it('slow :explain requests beside fast scoring ones breach no latency alarm, while their 5xx still count as errors', () => {
    const t = setUp({ name: 'breast-cancer', version: 3, monitoring: { alarms: { p99LatencyMs: 300, periodMinutes: 1, evaluationPeriods: 3, minRequests: 20 } } });
    // Explanations take up to explain.timeoutMs: seconds, far over the threshold, as many as the scoring requests.
    const explanations = Array.from({ length: 50 }, (_, i) => 4000 + i);
    t.judgeThrough(-1);
    for (let p = 0; p < 4; p++) {
      t.traffic(p, fast);
      t.traffic(p, explanations, undefined, 'explain');
      t.judgeThrough(p);
    }
    const states = Object.fromEntries(t.evaluator.statuses().map((s) => [s.kind, s.state]));
    assert.deepEqual([states['api-p99-latency'], states['function-p99-latency']], ['OK', 'OK'], `no latency alarm: ${t.events.map((e) => e.alarmName).join(', ')}`);
    assert.deepEqual(t.events, [], 'nothing sent');
    // The same seconds on a scoring route do breach (the test can fail), and an :explain request's 5xx is a server error.
    for (let p = 4; p < 7; p++) {
      t.traffic(p, explanations);
      t.traffic(p, Array.from({ length: 50 }, () => 5), () => 500, 'explain');
      t.judgeThrough(p);
    }
    const after = Object.fromEntries(t.evaluator.statuses().map((s) => [s.kind, s.state]));
    assert.deepEqual([after['api-p99-latency'], after['function-p99-latency'], after['error-rate']], ['ALARM', 'ALARM', 'ALARM']);
  });

  it('two slow periods of three, a quiet model, or errors below the minimum of requests send nothing', () => {
    const t = setUp({ name: 'breast-cancer', version: 3, monitoring: { alarms: { p99LatencyMs: 300, periodMinutes: 1, evaluationPeriods: 3, minRequests: 20 } } });
    t.judgeThrough(-1);
    t.traffic(0, slow);
    t.traffic(1, slow);
    t.traffic(2, fast);
    // Periods 3 and 4 without a request: treatMissingData notBreaching.
    t.traffic(5, Array.from({ length: 19 }, () => 5), () => 500);
    t.traffic(6, Array.from({ length: 19 }, () => 5), () => 500);
    t.traffic(7, Array.from({ length: 19 }, () => 5), () => 500);
    t.judgeThrough(7);
    assert.deepEqual(t.events, [], 'no alert');
    assert.ok(t.evaluator.statuses().every((s) => s.state === 'OK'), `every alarm OK: ${JSON.stringify(t.evaluator.statuses().map((s) => [s.kind, s.state]))}`);
  });

  it('an error rate over the threshold with enough requests alarms with the rate in percent', () => {
    const t = setUp({ name: 'breast-cancer', version: 3, monitoring: { alarms: { errorRatePercent: 1, periodMinutes: 5, evaluationPeriods: 2, minRequests: 20 } } });
    t.judgeThrough(-1);
    // 5 of 40 requests answered 503 in each period.
    for (let p = 0; p < 2; p++) t.traffic(p * 5, Array.from({ length: 40 }, () => 5), (i) => (i % 8 === 0 ? 503 : 200));
    t.judgeThrough(9);
    assert.equal(t.events.length, 1, `one alert: ${t.events.map((e) => e.alarmName).join(', ')}`);
    assert.equal(t.events[0]!.kind, 'error-rate', 'the error rate');
    assert.equal(t.events[0]!.value, (100 * 5) / 40, 'the rate of the last period');
    assert.match(readableAlert(t.events[0]!).subject, /error rate 12\.5% > 1% \(local\)$/, 'figure and threshold in percent');
  });

  it('gateway 429s count as the API throttled requests', () => {
    const t = setUp({ name: 'breast-cancer', version: 3, monitoring: { alarms: { throttles: 10, periodMinutes: 1, evaluationPeriods: 1 } } });
    t.judgeThrough(-1);
    for (let i = 0; i < 12; i++) t.metrics.record({ model: 'breast-cancer', resource: '/v2/models/breast-cancer/infer', statusCode: 429, latencyMs: 0.1, time: T0 + i });
    t.judgeThrough(0);
    assert.deepEqual(t.events.map((e) => [e.kind, e.value]), [['throttles', 12]], 'one throttles alert with the count');
  });

  it('a SageMaker model: ModelLatency judged in microseconds, shown in ms; no GPU figure locally means no GPU alarm', () => {
    const t = setUp({ name: 'digits', version: 2, runtime: 'sagemaker', monitoring: { alarms: { p99LatencyMs: 20, periodMinutes: 1, evaluationPeriods: 1 } } });
    const endpoint = t.specs.find((s) => s.kind === 'endpoint-p99-latency')!;
    assert.equal(endpoint.threshold, 20_000, 'the spec holds microseconds');
    t.judgeThrough(-1);
    const latencies = Array.from({ length: 30 }, () => 10);
    t.traffic(0, latencies);
    t.judgeThrough(0);
    const byKind = Object.fromEntries(t.evaluator.statuses().map((s) => [s.kind, s]));
    assert.equal(byKind['endpoint-p99-latency']!.value, 9, 'handler 9 ms read back in ms');
    assert.equal(byKind['endpoint-p99-latency']!.threshold, 20, 'threshold in ms');
    assert.equal(byKind['gpu-utilization']!.state, 'OK', 'no data: not breaching');
    assert.equal(byKind['gpu-utilization']!.value, undefined, 'no GPU figure');
    assert.equal(t.events.length, 0, 'nothing breached');
  });

  it('the drift alarm is judged from the monitor figures but never alerts: drift has its one report', () => {
    const t = setUp({ name: 'breast-cancer', version: 3 });
    t.judgeThrough(-1);
    t.metrics.recordDrift('breast-cancer', [{ metric: DRIFT_METRICS.detected, value: 1, unit: 'None' }], new Date(T0 + 1000));
    // The drift alarm's period is 60 minutes: judge through its end.
    t.evaluator.tick(T0 + 61 * PERIOD + 3 * PERIOD);
    const drift = t.evaluator.statuses().find((s) => s.kind === 'drift')!;
    assert.equal(drift.state, 'ALARM', 'DriftDetected >= 1');
    assert.equal(drift.inComposite, false, 'not in the composite');
    assert.deepEqual(t.events, [], 'no alert from the drift alarm');
    assert.equal(t.evaluator.composites()[0]!.state, 'OK', 'serving health unaffected');
  });
});
