// A quality monitor run over breast-cancer's card: the figures per version as metrics (only from minLabels),
// the alert a person reads (metric, value, interval, threshold, window, labels and coverage, baseline, most
// confused classes, runbook, link), and one alert per incident: into ALARM once, staying there silent,
// recovery once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { qualitySettingsSchema } from '../../../../../lambdas/core/manifest/schema';
import { groundTruthHourPrefix } from '../../../../../lambdas/core/quality/feedback/label-keys';
import { nextQualityState, qualityStateKey } from '../../../../../lambdas/core/quality/monitor/quality-state';
import { qualityCloudWatchData, runQualityMonitor, type QualityDatum, type QualityMonitoredModel } from '../../../../../lambdas/core/quality/monitor/run-quality-monitor';
import { predictionLines } from '../../../../../lambdas/core/quality/predictions/prediction-record';
import { predictionsHourPrefix } from '../../../../../lambdas/core/quality/predictions/prediction-sink';
import type { AlarmEvent, ReadableAlert } from '../../../../../lambdas/core/monitoring/contracts';
import { breastCancerHeldOut } from '../../../../fixtures/breast-cancer-split';
import { MemoryObjectStore } from '../../../../fixtures/memory-object-store';

const card = breastCancerHeldOut().card;
const NOW = new Date('2026-03-02T10:30:00Z');
const PREDICTED_AT = new Date('2026-03-02T09:10:00Z');
const LABELLED_AT = new Date('2026-03-02T09:40:00Z');

/** n single-instance predictions of v1; the first `wrong` have the wrong label: truth benign, predicted malignant. */
function traffic(store: MemoryObjectStore, n: number, wrong: number, file = 'l.jsonl'): void {
  const lines: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const predicted = i < wrong ? 0 : i % 2;
    lines.push(...predictionLines({ model: 'breast-cancer', version: '1', id: `req-${i}`, time: PREDICTED_AT, count: 1, classes: card.labels, predicted: Int32Array.of(predicted), probabilities: predicted === 0 ? Float32Array.of(0.9, 0.1) : Float32Array.of(0.2, 0.8) }));
    labels.push(JSON.stringify({ id: `req-${i}`, index: 0, label: i < wrong ? 'benign' : card.labels[i % 2], time: LABELLED_AT.toISOString() }));
  }
  store.put(`${predictionsHourPrefix('breast-cancer', '1', PREDICTED_AT)}p.jsonl`, `${lines.join('\n')}\n`);
  store.put(`${groundTruthHourPrefix('breast-cancer', LABELLED_AT)}${file}`, `${labels.join('\n')}\n`);
}

function model(minLabels = 20): QualityMonitoredModel {
  return { name: 'breast-cancer', card, quality: qualitySettingsSchema.parse({ windowHours: 24, minLabels, alarms: { accuracyBelow: 0.9, dropFromBaselineAbove: 0.05 } }) };
}

function deps(store: MemoryObjectStore, models: QualityMonitoredModel[]) {
  const metrics: { model: string; version: string; datums: readonly QualityDatum[] }[] = [];
  const alerts: { alert: ReadableAlert; event: AlarmEvent }[] = [];
  return {
    metrics,
    alerts,
    deps: {
      store,
      bucket: 'capture',
      project: 'mlship',
      stage: 'dev',
      models,
      putMetrics: async (m: string, version: string, datums: readonly QualityDatum[]) => void metrics.push({ model: m, version, datums }),
      notify: async (alert: ReadableAlert, event: AlarmEvent) => void alerts.push({ alert, event }),
      dashboardUrl: 'https://console.aws.amazon.com/cloudwatch/home#dashboards:name=mlship-dev',
    },
  };
}

describe('a quality monitor run', () => {
  it('says "not enough labels" below minLabels: only LabelledPredictions and LabelCoverage, no alert', async () => {
    const store = new MemoryObjectStore();
    traffic(store, 10, 10);
    const { deps: d, metrics, alerts } = deps(store, [model(20)]);
    const [outcome] = await runQualityMonitor(d, NOW);
    assert.ok(outcome && 'run' in outcome, String(outcome && 'error' in outcome ? outcome.error.stack : ''));
    assert.equal(outcome.run.versions[0]!.figures.verdict, 'not enough labels');
    assert.deepEqual(
      metrics[0]!.datums.map((x) => [x.metric, x.value]),
      [
        ['LabelledPredictions', 10],
        ['LabelCoverage', 1],
      ],
    );
    assert.equal(alerts.length, 0);
  });

  it('fires once into ALARM with a readable alert, stays silent while it lasts, recovers once', async () => {
    const store = new MemoryObjectStore();
    traffic(store, 100, 48);
    const { deps: d, metrics, alerts } = deps(store, [model(20)]);
    await runQualityMonitor(d, NOW);
    assert.equal(alerts.length, 1);
    const { alert, event } = alerts[0]!;
    assert.equal(event.kind, 'quality');
    assert.equal(event.state, 'ALARM');
    assert.equal(alert.subject, '[ALARM] breast-cancer v1 accuracy 0.52 < 0.9 (dev)');
    for (const expected of [
      'Metric:     accuracy 0.52 (95% interval 0.423 to 0.615), threshold < 0.9',
      'Metric:     accuracy drop from baseline 0.462, threshold > 0.05',
      '100 labelled of 100 predictions (coverage 100%; at least 20 to judge); label delay p50 30 min, p95 30 min',
      'Window:     24 h of predictions (whole UTC hours), 2026-03-01T11:00:00.000Z to 2026-03-02T10:30:00.000Z',
      "Baseline:   accuracy 0.982, ROC AUC 1 on the model card's held-out split (113 rows); live is 0.462 below it",
      'actual benign predicted as malignant: 48',
      'What to do: The model answers worse than it did on its held-out split. 1. Check the label feed first',
      'then check drift',
      'Dashboard:  https://console.aws.amazon.com/cloudwatch/home#dashboards:name=mlship-dev',
    ]) {
      assert.ok(alert.body.toLowerCase().includes(expected.toLowerCase()), `${expected}\n---\n${alert.body}`);
    }
    // The figures went out: accuracy 0.52, the drop from the card's 0.982.
    const datums = new Map(metrics[0]!.datums.map((x) => [x.metric, x.value]));
    assert.equal(datums.get('Accuracy'), 0.52);
    assert.ok(Math.abs(datums.get('DropFromBaseline')! - (card.evaluation!.accuracy! - 0.52)) < 1e-12);
    assert.equal(datums.get('LabelDelayP50Seconds'), 1800);
    const state = JSON.parse(store.objects.get(qualityStateKey('breast-cancer'))!.toString()) as { versions: Record<string, { alarm: boolean }> };
    assert.equal(state.versions['1']!.alarm, true);

    // Still bad: no second alert.
    await runQualityMonitor(d, new Date(NOW.getTime() + 60_000));
    assert.equal(alerts.length, 1);

    // The labels fixed (the feed had sent wrong ones): recovery, once.
    traffic(store, 100, 0);
    await runQualityMonitor(d, new Date(NOW.getTime() + 120_000));
    assert.equal(alerts.length, 2);
    assert.equal(alerts[1]!.event.state, 'OK');
    assert.equal(alerts[1]!.alert.subject, '[OK] breast-cancer v1 accuracy back to normal: 1, threshold 0.9 (dev)');
    await runQualityMonitor(d, new Date(NOW.getTime() + 180_000));
    assert.equal(alerts.length, 2);
  });

  it('keeps a version in ALARM through "not enough labels" and reports a new incident after a recovery', () => {
    const t = new Date('2026-03-02T10:00:00Z');
    let s = nextQualityState(undefined, 'm', [{ version: '1', verdict: 'judged', breaches: ['accuracyBelow'] }], t);
    assert.deepEqual(s.transitions, [{ version: '1', to: 'ALARM' }]);
    s = nextQualityState(s.state, 'm', [{ version: '1', verdict: 'not enough labels', breaches: [] }], t);
    assert.deepEqual(s.transitions, []);
    assert.equal(s.state.versions['1']!.alarm, true);
    s = nextQualityState(s.state, 'm', [{ version: '1', verdict: 'judged', breaches: [] }], t);
    assert.deepEqual(s.transitions, [{ version: '1', to: 'OK', recovered: 'accuracyBelow' }]);
    s = nextQualityState(s.state, 'm', [{ version: '1', verdict: 'judged', breaches: ['macroF1Below'] }, { version: '2', verdict: 'judged', breaches: [] }], t);
    assert.deepEqual(s.transitions, [{ version: '1', to: 'ALARM' }]);
  });

  it('puts its figures in mlship/quality with dimensions stage, model and version', () => {
    const time = new Date('2026-03-02T10:00:00Z');
    assert.deepEqual(qualityCloudWatchData([{ metric: 'Accuracy', value: 0.5, unit: 'None' }, { metric: 'LogLoss', value: Infinity, unit: 'None' }], { stage: 'dev', model: 'm', version: '3', time }), [
      { MetricName: 'Accuracy', Dimensions: [{ Name: 'stage', Value: 'dev' }, { Name: 'model', Value: 'm' }, { Name: 'version', Value: '3' }], Value: 0.5, Unit: 'None', Timestamp: time },
      { MetricName: 'LogLoss', Dimensions: [{ Name: 'stage', Value: 'dev' }, { Name: 'model', Value: 'm' }, { Name: 'version', Value: '3' }], Value: 1e300, Unit: 'None', Timestamp: time },
    ]);
  });
});
