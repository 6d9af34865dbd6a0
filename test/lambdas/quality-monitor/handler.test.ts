// The quality monitor's Lambda handler over prediction records and labels in the real key layout, with REAL
// CloudWatch and SNS SDK v3 clients against the local emulator: the figures of every version as mlship/quality
// datums with dimensions stage, model and version (the accuracy equal to the one computed here from the same
// answers and labels), one alert on going into ALARM that names accuracy and its threshold (none while it stays),
// "not enough labels" publishes only the counts; settings from the environment checked at start-up.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SNSClient } from '@aws-sdk/client-sns';
import { ConfigError } from '../../../lambdas/core/common/config-error';
import { captureLines } from '../../../lambdas/core/monitoring/capture/capture-record';
import { lambdaCaptureHourPrefix } from '../../../lambdas/core/monitoring/capture/capture-keys';
import { float32Text } from '../../../lambdas/core/quality/training-rows/training-rows';
import { parse as parseCsvRecords } from 'csv-parse/sync';
import { readModelCardFile } from '../../../lambdas/core/models/model-card-file';
import { QUALITY_METRICS, QUALITY_METRICS_NAMESPACE } from '../../../lambdas/core/quality/contracts';
import { feedbackObjectKey } from '../../../lambdas/core/quality/feedback/label-keys';
import { predictionLines } from '../../../lambdas/core/quality/predictions/prediction-record';
import { predictionsHourPrefix } from '../../../lambdas/core/quality/predictions/prediction-sink';
import { readQualityMonitorConfig, type QualityMonitorConfig } from '../../../lambdas/quality-monitor/config';
import { createQualityMonitorHandler, type QualityRunSummary } from '../../../lambdas/quality-monitor/handler';
import { FolderObjectStore } from '../../../local/storage/folder-object-store';
import { clientSettings } from '../../fixtures/aws-endpoints';
import { REPO_ROOT } from '../../fixtures/breast-cancer-split';
import { startMonitoringEndpoints, type MonitoringEndpoints } from '../../fixtures/monitoring-endpoints';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-quality-handler-');
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:mlship-dev-notifications';
const BUCKET = 'mlship-dev-capture';
const HOUR = 3_600_000;
const MODELS_DIR = join(REPO_ROOT, 'models');
const card = readModelCardFile(join(MODELS_DIR, 'breast-cancer', '1', 'model.json'), 'breast-cancer');

const quality = (alarms: Record<string, number>, minLabels = 100) => ({ windowHours: 24, minLabels, alarms });
const config = (minLabels = 100): QualityMonitorConfig => ({
  bucket: BUCKET,
  topicArn: TOPIC,
  project: 'mlship',
  stage: 'dev',
  models: [{ name: 'breast-cancer', version: '1', quality: quality({ accuracyBelow: 0.9 }, minLabels) }],
  modelsDir: MODELS_DIR,
  dashboardUrl: 'https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/mlship-dev',
});

describe('quality monitor handler', () => {
  let endpoints: MonitoringEndpoints;
  let cloudWatch: CloudWatchClient;
  let sns: SNSClient;
  const folder = tempDir();
  const store = new FolderObjectStore({ [BUCKET]: folder });
  const now = new Date('2026-03-02T12:00:00.000Z');
  /** The 300 answers written and the labels sent: label i is right unless i % 5 === 0 (accuracy 0.8 < 0.9). */
  const rows = 300;
  const predictedOf = (i: number) => (i % 3 === 0 ? 0 : 1);
  const truthOf = (i: number) => (i % 5 === 0 ? 1 - predictedOf(i) : predictedOf(i));
  let handlerOf: (c: QualityMonitorConfig) => (event: { time?: string }) => Promise<QualityRunSummary>;

  before(async () => {
    endpoints = await startMonitoringEndpoints();
    cloudWatch = new CloudWatchClient(clientSettings(endpoints));
    sns = new SNSClient(clientSettings(endpoints));
    handlerOf = (c) => createQualityMonitorHandler({ config: c, store, cloudWatch, sns, logger: new Logger({ logLevel: 'SILENT' }), card: (model) => readModelCardFile(join(MODELS_DIR, model, '1', 'model.json'), model) });
    const answered = new Date(now.getTime() - 3 * HOUR);
    const lines: string[] = [];
    for (let i = 0; i < rows; i++) {
      const p = predictedOf(i) === 0 ? 0.8 : 0.3;
      lines.push(...predictionLines({ model: 'breast-cancer', version: '1', id: `req-${i}`, time: answered, count: 1, classes: card.labels, predicted: Int32Array.of(predictedOf(i)), probabilities: Float32Array.of(p, 1 - p) }));
    }
    await store.write(BUCKET, `${predictionsHourPrefix('breast-cancer', '1', answered)}part-0.jsonl`, `${lines.join('\n')}\n`);
    const received = new Date(now.getTime() - HOUR);
    const labels = Array.from({ length: rows }, (_, i) => JSON.stringify({ id: `req-${i}`, index: 0, label: card.labels[truthOf(i)], time: received.toISOString() }));
    await store.write(BUCKET, feedbackObjectKey('breast-cancer', received, 'feedback-1'), `${labels.join('\n')}\n`);
  });
  after(async () => {
    cloudWatch.destroy();
    sns.destroy();
    await endpoints.close();
  });

  it('publishes the figures of the live version in mlship/quality, with the accuracy computed from the same answers and labels', async () => {
    await handlerOf(config(1000))({ time: now.toISOString() });
    const datums = endpoints.metricCalls.flat();
    assert.ok(datums.every((d) => d.namespace === QUALITY_METRICS_NAMESPACE));
    for (const d of datums) assert.deepEqual(d.dimensions, { stage: 'dev', model: 'breast-cancer', version: '1' }, d.metricName);
    const byName = new Map(datums.map((d) => [d.metricName, d.value]));
    // 300 labelled of 300 predictions, below minLabels 1000: the counts only, no figure for an alarm to read.
    assert.equal(byName.get(QUALITY_METRICS.labelled), rows);
    assert.equal(byName.get(QUALITY_METRICS.coverage), 1);
    assert.equal(byName.has(QUALITY_METRICS.accuracy), false, 'not enough labels: no accuracy');
    assert.equal(endpoints.publishes.length, 0);
  });

  it('goes into ALARM once: one alert naming accuracy and its threshold, the figures published; a second run alerts no more', async () => {
    endpoints.metricCalls.length = 0;
    const handler = handlerOf(config());
    const summary = await handler({ time: now.toISOString() });
    let correct = 0;
    for (let i = 0; i < rows; i++) if (truthOf(i) === predictedOf(i)) correct++;
    const datums = endpoints.metricCalls.flat();
    const accuracy = datums.find((d) => d.metricName === QUALITY_METRICS.accuracy);
    assert.ok(accuracy, `Accuracy published (have ${datums.map((d) => d.metricName).join(', ')})`);
    assert.equal(accuracy.value, correct / rows);
    assert.deepEqual(accuracy.dimensions, { stage: 'dev', model: 'breast-cancer', version: '1' });
    assert.ok(endpoints.metricCalls.every((call) => call.length <= 1000));
    assert.equal(endpoints.publishes.length, 1);
    const [alert] = endpoints.publishes;
    assert.equal(alert!.topicArn, TOPIC);
    assert.match(alert!.subject ?? '', /^\[ALARM\] breast-cancer v1 .*accuracy.*0\.8.*< 0\.9 \(dev\)$/);
    assert.match(alert!.message, /accuracy/i);
    assert.match(alert!.message, /#dashboards\/dashboard\/mlship-dev/);
    assert.equal(summary.outcomes.length, 1);
    await handler({ time: new Date(now.getTime() + HOUR).toISOString() });
    assert.equal(endpoints.publishes.length, 1, 'still in ALARM: no second alert');
  });

  it('writes the labelled captured requests of a retraining model as training rows in the data bucket; a data bucket it cannot write is logged, the figures stand', async () => {
    const DATA_BUCKET = 'mlship-dev-data';
    const dir = tempDir();
    const rowsStore = new FolderObjectStore({ [BUCKET]: join(dir, 'capture'), [DATA_BUCKET]: join(dir, 'data') });
    // Answered the day before the run (the last whole 24 h tile), labelled this morning; every other request captured.
    const runAt = new Date('2026-03-02T12:30:00.000Z');
    const answered = new Date('2026-03-01T20:15:00.000Z');
    const dataRows = readFileSync(join(REPO_ROOT, 'models', 'breast-cancer', 'data', 'breast_cancer.csv'), 'utf8').trim().split('\n').slice(1, 41).map((l) => l.split(',').map(Number));
    const predictions: string[] = [];
    const captures: string[] = [];
    const labels: string[] = [];
    dataRows.forEach((cells, i) => {
      predictions.push(...predictionLines({ model: 'breast-cancer', version: '1', id: `row-${i}`, time: answered, count: 1, classes: card.labels, predicted: Int32Array.of(cells[30]!) }));
      if (i % 2 === 0) captures.push(...captureLines({ model: 'breast-cancer', version: '1', time: answered, id: `row-${i}`, capturePercent: 50, rows: Float32Array.from(cells.slice(0, 30)), count: 1, width: 30, classIndex: Int32Array.of(cells[30]!), labels: card.labels }));
      labels.push(JSON.stringify({ id: `row-${i}`, index: 0, label: card.labels[cells[30]!], time: '2026-03-02T10:00:00.000Z' }));
    });
    await rowsStore.write(BUCKET, `${predictionsHourPrefix('breast-cancer', '1', answered)}part-0.jsonl`, `${predictions.join('\n')}\n`);
    await rowsStore.write(BUCKET, `${lambdaCaptureHourPrefix('breast-cancer', '1', answered)}part-0.jsonl`, `${captures.join('\n')}\n`);
    await rowsStore.write(BUCKET, feedbackObjectKey('breast-cancer', new Date('2026-03-02T10:00:00.000Z'), 'feedback-rows'), `${labels.join('\n')}\n`);
    const retraining: QualityMonitorConfig = { ...config(10), models: [{ ...config(10).models[0]!, trainingRows: { runtime: 'lambda' } }], trainingDataBucket: DATA_BUCKET };
    const logged: string[] = [];
    const logger = new Logger({ logLevel: 'SILENT' });
    const handlerWith = (store: FolderObjectStore, log = logger) => createQualityMonitorHandler({ config: retraining, store, cloudWatch, sns, logger: log, card: () => card });

    const summary = await handlerWith(rowsStore)({ time: runAt.toISOString() });
    const [outcome] = summary.outcomes;
    assert.ok(outcome && 'run' in outcome && outcome.trainingRows, JSON.stringify(outcome));
    assert.equal(outcome.trainingRowsError, undefined);
    assert.equal(outcome.trainingRows.key, 'training-data/breast-cancer/production-20260301T00Z-20260302T00Z-labelled.csv');
    assert.equal(outcome.trainingRows.rowsWritten, 20);
    const file = join(dir, 'data', outcome.trainingRows.key);
    const csv = parseCsvRecords(readFileSync(file, 'utf8')) as string[][];
    assert.deepEqual(csv[0], [...card.input.features, 'diagnosis']);
    assert.deepEqual(
      csv.slice(1),
      dataRows.filter((_, i) => i % 2 === 0).map((cells) => [...cells.slice(0, 30).map((v) => float32Text(Math.fround(v))), card.labels[cells[30]!]!]),
    );

    // The data bucket unknown to the store: the rows fail, the run does not; the error is logged.
    const noData = new FolderObjectStore({ [BUCKET]: join(dir, 'capture') });
    const errorLog = new Logger({ logLevel: 'ERROR' });
    errorLog.error = ((message: string, extra: Record<string, unknown>) => logged.push(`${message} ${JSON.stringify(extra)}`)) as typeof errorLog.error;
    const failed = await handlerWith(noData, errorLog)({ time: runAt.toISOString() });
    const [second] = failed.outcomes;
    assert.ok(second && 'run' in second && second.run.versions[0]!.figures.labelled === 40, JSON.stringify(second));
    assert.match(second.trainingRowsError ?? '', /no local folder for bucket 'mlship-dev-data'/);
    assert.ok(logged.some((l) => l.startsWith('training rows not written') && l.includes('breast-cancer')), logged.join('\n'));
    assert.ok(existsSync(file), 'the earlier file stays');
  });

  it('fails the run, naming the model, when a model cannot be judged (the others still are)', async () => {
    const broken = new FolderObjectStore({});
    const handler = createQualityMonitorHandler({ config: config(), store: broken, cloudWatch, sns, logger: new Logger({ logLevel: 'SILENT' }), card: () => card });
    await assert.rejects(handler({ time: now.toISOString() }), /1 of 1 models could not be judged: breast-cancer \(/);
  });

  it('refuses at start-up a card of another version than the settings name', () => {
    assert.throws(
      () => createQualityMonitorHandler({ config: { ...config(), models: [{ name: 'breast-cancer', version: '2', quality: quality({}) }] }, store, cloudWatch, sns, logger: new Logger({ logLevel: 'SILENT' }), card: () => card }),
      /the card of breast-cancer in the image is version 1, MONITORED_MODELS says 2/,
    );
  });
});

describe('quality monitor config', () => {
  const env = {
    CAPTURE_BUCKET: BUCKET,
    TOPIC_ARN: TOPIC,
    PROJECT: 'mlship',
    STAGE: 'dev',
    MONITORED_MODELS: JSON.stringify([{ name: 'breast-cancer', version: '1', quality: quality({ accuracyBelow: 0.6 }) }]),
  };

  it('reads the settings the construct writes, with the image folder by default', () => {
    const c = readQualityMonitorConfig(env);
    assert.equal(c.modelsDir, '/opt/ml/models');
    assert.deepEqual(c.models, [{ name: 'breast-cancer', version: '1', quality: quality({ accuracyBelow: 0.6 }) }]);
    assert.equal(c.dashboardUrl, undefined);
  });

  it('names the variable at fault', () => {
    const wrong = (changes: Record<string, string | undefined>, message: RegExp) => assert.throws(() => readQualityMonitorConfig({ ...env, ...changes }), (e: unknown) => e instanceof ConfigError && message.test(e.message));
    wrong({ CAPTURE_BUCKET: undefined }, /CAPTURE_BUCKET/);
    wrong({ TOPIC_ARN: 'topic' }, /TOPIC_ARN must be an SNS topic ARN/);
    wrong({ MONITORED_MODELS: '[{' }, /MONITORED_MODELS is not JSON/);
    wrong({ MONITORED_MODELS: '[]' }, /MONITORED_MODELS/);
    wrong({ MONITORED_MODELS: JSON.stringify([{ name: 'm', version: '1', quality: { windowHours: 0, minLabels: 1, alarms: {} } }]) }, /MONITORED_MODELS\.0\.quality\.windowHours/);
    wrong({ MONITORED_MODELS: JSON.stringify([{ name: 'm', version: '1', quality: quality({}) }, { name: 'm', version: '1', quality: quality({}) }]) }, /MONITORED_MODELS names 'm' twice/);
    wrong({ MODELS_DIR: 'models' }, /MODELS_DIR must be an absolute path/);
    wrong({ DASHBOARD_URL: 'not a url' }, /DASHBOARD_URL/);
    wrong({ MONITORED_MODELS: JSON.stringify([{ name: 'm', version: '1', quality: quality({}), trainingRows: { runtime: 'lambda' } }]) }, /TRAINING_DATA_BUCKET is needed: MONITORED_MODELS m writes training rows/);
    wrong({ MONITORED_MODELS: JSON.stringify([{ name: 'm', version: '1', quality: quality({}), trainingRows: { runtime: 'sagemaker' } }]), TRAINING_DATA_BUCKET: 'data-bucket' }, /MONITORED_MODELS\.0\.trainingRows\.endpointName/);
  });

  it('reads where a retraining model\'s rows go', () => {
    const models = [{ name: 'breast-cancer', version: '1', quality: quality({}), trainingRows: { runtime: 'sagemaker', endpointName: 'mlship-dev-breast-cancer' } }];
    const c = readQualityMonitorConfig({ ...env, MONITORED_MODELS: JSON.stringify(models), TRAINING_DATA_BUCKET: 'mlship-dev-data' });
    assert.equal(c.trainingDataBucket, 'mlship-dev-data');
    assert.deepEqual(c.models, models);
  });
});
