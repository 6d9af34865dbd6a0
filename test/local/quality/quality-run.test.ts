// The local quality monitor runs after the drift run in the monitor's own thread, over a temp state folder:
// its figures reach the main thread's metrics store (mlship/quality, per version), its alert goes out through
// the same report path as drift's (readable, kind quality), and a model it fails on fails the run like drift.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { qualitySettingsSchema } from '../../../lambdas/core/manifest/schema';
import type { AlarmEvent, ReadableAlert } from '../../../lambdas/core/monitoring/contracts';
import { DEFAULT_DRIFT_THRESHOLDS } from '../../../lambdas/core/monitoring/drift/thresholds';
import { QUALITY_METRICS_NAMESPACE } from '../../../lambdas/core/quality/contracts';
import { lambdaCaptureHourPrefix } from '../../../lambdas/core/monitoring/capture/capture-keys';
import { captureLines } from '../../../lambdas/core/monitoring/capture/capture-record';
import { float32Text } from '../../../lambdas/core/quality/training-rows/training-rows';
import { parse as parseCsvRecords } from 'csv-parse/sync';
import { groundTruthHourPrefix } from '../../../lambdas/core/quality/feedback/label-keys';
import type { QualityMonitoredModel } from '../../../lambdas/core/quality/monitor/run-quality-monitor';
import { predictionLines } from '../../../lambdas/core/quality/predictions/prediction-record';
import { predictionsHourPrefix } from '../../../lambdas/core/quality/predictions/prediction-sink';
import { LocalMetrics } from '../../../local/monitoring/metrics-store';
import { LocalDriftMonitor } from '../../../local/monitoring/monitor-timer';
import { localRetrainDataDir } from '../../../local/retrain/production-rows';
import { breastCancerHeldOut } from '../../fixtures/breast-cancer-split';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-local-quality-');
const card = breastCancerHeldOut().card;
const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of stops) await stop();
});

/** 60 predictions of v1 this hour, all labelled, 30 wrong. */
function capture(folder: string, now: Date): void {
  const put = (key: string, lines: string[]) => {
    mkdirSync(join(folder, key, '..'), { recursive: true });
    writeFileSync(join(folder, key), `${lines.join('\n')}\n`);
  };
  const predictions: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < 60; i++) {
    predictions.push(...predictionLines({ model: 'breast-cancer', version: '1', id: `l-${i}`, time: now, count: 1, classes: card.labels, predicted: Int32Array.of(1) }));
    labels.push(JSON.stringify({ id: `l-${i}`, index: 0, label: i < 30 ? 'malignant' : 'benign', time: now.toISOString() }));
  }
  put(`${predictionsHourPrefix('breast-cancer', '1', now)}p.jsonl`, predictions);
  put(`${groundTruthHourPrefix('breast-cancer', now)}f.jsonl`, labels);
}

describe('the local quality monitor', () => {
  it('runs in the monitor thread after drift: metrics in mlship/quality, one readable alert, a failing model fails the run', async () => {
    const folder = tempDir();
    const now = new Date();
    capture(folder, now);
    const metrics = new LocalMetrics({ periodMs: () => 60_000, emfNamespace: 'mlship' });
    const reports: { alert: ReadableAlert; event: AlarmEvent }[] = [];
    const quality: QualityMonitoredModel = { name: 'breast-cancer', card, quality: qualitySettingsSchema.parse({ windowHours: 1, minLabels: 50, alarms: { accuracyBelow: 0.9 } }) };
    const models = { quality: [quality] };
    const monitor = new LocalDriftMonitor({
      folder,
      project: 'mlship',
      stage: 'local',
      models: () => [{ name: 'breast-cancer', version: '1', card, runtime: 'lambda', drift: DEFAULT_DRIFT_THRESHOLDS }],
      qualityModels: () => models.quality,
      windowMs: 3_600_000,
      intervalMs: 3_600_000,
      metrics,
      report: (alert, event) => reports.push({ alert, event }),
      log: () => undefined,
      dashboardUrl: 'http://127.0.0.1:8080/',
    });
    stops.push(() => monitor.stop());
    await monitor.runOnce(now);
    assert.equal(monitor.health().state, 'ok', JSON.stringify(monitor.health()));
    const [latest] = metrics.latestQuality('breast-cancer');
    assert.equal(latest?.version, '1');
    assert.equal(latest.datums.find((d) => d.metric === 'Accuracy')?.value, 0.5);
    assert.equal(metrics.metric('breast-cancer', { namespace: QUALITY_METRICS_NAMESPACE, metricName: 'LabelCoverage', statistic: 'Average', dimensions: { version: '1' } }, 0, Date.now() + 60_000), 1);
    const quality1 = reports.filter((r) => r.event.kind === 'quality');
    assert.equal(quality1.length, 1);
    assert.equal(quality1[0]!.alert.subject, '[ALARM] breast-cancer v1 accuracy 0.5 < 0.9 (local)');
    assert.ok(quality1[0]!.alert.body.includes('Dashboard:  http://127.0.0.1:8080/'));
    const result = monitor.lastQualityResult('breast-cancer');
    assert.ok(result && 'run' in result.outcome && result.outcome.run.versions[0]!.figures.labelled === 60);

    // The same incident: no second alert on the next run.
    await monitor.runOnce(new Date(now.getTime() + 1000));
    assert.equal(reports.filter((r) => r.event.kind === 'quality').length, 1);

    // A card the quality core cannot use (no labels to check against) fails the run, counted like drift's failures.
    models.quality = [{ ...quality, card: { ...card, labels: undefined as unknown as string[] } }];
    await monitor.runOnce(new Date(now.getTime() + 2000));
    const health = monitor.health();
    assert.equal(health.state, 'failing');
    assert.equal(health.failed, 1);
    assert.match(health.lastError?.message ?? '', /quality of breast-cancer/);
  });
});

describe('the local quality monitor and retraining', () => {
  it("writes a retraining model's labelled captured requests into <stateDir>/retrain-data, where the local retrain gathers them", async () => {
    const stateDir = tempDir();
    const folder = join(stateDir, 'capture');
    const put = (key: string, lines: string[]) => {
      mkdirSync(join(folder, key, '..'), { recursive: true });
      writeFileSync(join(folder, key), `${lines.join('\n')}\n`);
    };
    const answered = new Date('2026-03-01T10:20:00.000Z');
    // At the hour: the quality window and the training rows' tile are both hour 10.
    const now = new Date('2026-03-01T11:00:00.000Z');
    const heldOut = breastCancerHeldOut();
    // The class of a held-out row as its index in the card's labels (the data set writes 0/1 or the names).
    const classOf = (l: string) => (card.labels.includes(l) ? card.labels.indexOf(l) : Number(l));
    const used = heldOut.rows.slice(0, 12).map((features, i) => ({ features, label: classOf(heldOut.labels[i]!) }));
    const predictions: string[] = [];
    const captures: string[] = [];
    const labels: string[] = [];
    used.forEach((row, i) => {
      predictions.push(...predictionLines({ model: 'breast-cancer', version: '1', id: `r-${i}`, time: answered, count: 1, classes: card.labels, predicted: Int32Array.of(row.label) }));
      // A third of the requests sampled (capturePercent): only they have features to train on.
      if (i % 3 === 0) captures.push(...captureLines({ model: 'breast-cancer', version: '1', time: answered, id: `r-${i}`, capturePercent: 33, rows: Float32Array.from(row.features), count: 1, width: row.features.length, classIndex: Int32Array.of(row.label), labels: card.labels }));
      labels.push(JSON.stringify({ id: `r-${i}`, index: 0, label: card.labels[row.label], time: '2026-03-01T10:40:00.000Z' }));
    });
    put(`${predictionsHourPrefix('breast-cancer', '1', answered)}p.jsonl`, predictions);
    put(`${lambdaCaptureHourPrefix('breast-cancer', '1', answered)}c.jsonl`, captures);
    put(`${groundTruthHourPrefix('breast-cancer', answered)}f.jsonl`, labels);
    const logs: string[] = [];
    const monitor = new LocalDriftMonitor({
      folder,
      project: 'mlship',
      stage: 'local',
      models: () => [],
      qualityModels: () => [{ name: 'breast-cancer', card, quality: qualitySettingsSchema.parse({ windowHours: 1, minLabels: 5 }), trainingRows: { runtime: 'lambda' } }],
      trainingRowsFolder: localRetrainDataDir(stateDir),
      windowMs: 3_600_000,
      intervalMs: 3_600_000,
      metrics: new LocalMetrics({ periodMs: () => 60_000, emfNamespace: 'mlship' }),
      report: () => undefined,
      log: (line) => logs.push(line),
    });
    stops.push(() => monitor.stop());
    await monitor.runOnce(now);
    assert.equal(monitor.health().state, 'ok', JSON.stringify(monitor.health()));
    assert.deepEqual(logs, []);
    const result = monitor.lastQualityResult('breast-cancer');
    assert.ok(result && 'run' in result.outcome && result.outcome.trainingRows, JSON.stringify(result));
    assert.equal(result.outcome.run.versions[0]!.figures.labelled, 12, JSON.stringify(result.outcome.run.labels));
    assert.equal(result.outcome.trainingRows.rowsWritten, 4);
    const file = join(stateDir, 'retrain-data', 'training-data', 'breast-cancer', 'production-20260301T10Z-20260301T11Z-labelled.csv');
    const csv = parseCsvRecords(readFileSync(file, 'utf8')) as string[][];
    assert.deepEqual(csv[0], [...card.input.features, card.training!.labelColumn]);
    assert.deepEqual(
      csv.slice(1),
      used.filter((_, i) => i % 3 === 0).map((row) => [...row.features.map((v) => float32Text(Math.fround(v))), card.labels[row.label]!]),
    );
  });
});
