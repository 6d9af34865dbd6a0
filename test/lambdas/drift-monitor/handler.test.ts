// The drift monitor's Lambda handler over captures in the real key layout, with REAL CloudWatch and SNS SDK v3
// clients against a local emulator: figures every run, one report per transition into drift (none while it
// stays), "not enough data" publishes no DriftDetected; settings from the environment checked at start-up.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SNSClient } from '@aws-sdk/client-sns';
import { captureLines } from '../../../lambdas/core/monitoring/capture/capture-record';
import { DEFAULT_DRIFT_THRESHOLDS, resolveDriftThresholds } from '../../../lambdas/core/monitoring/drift/thresholds';
import { ServedModel } from '../../../lambdas/core/models/inference-session';
import { readModelCardFile } from '../../../lambdas/core/models/model-card-file';
import { monitorStateKey } from '../../../lambdas/core/monitoring/monitor/monitor-state';
import { DRIFT_METRICS, DRIFT_METRICS_NAMESPACE } from '../../../lambdas/core/monitoring/contracts';
import { readDriftMonitorConfig, type DriftMonitorConfig } from '../../../lambdas/drift-monitor/config';
import { createDriftMonitorHandler, type MonitorSummary } from '../../../lambdas/drift-monitor/handler';
import { FolderCaptureSink } from '../../../local/monitoring/capture-files';
import { FolderObjectStore } from '../../../local/storage/folder-object-store';
import { clientSettings } from '../../fixtures/aws-endpoints';
import { BREAST_CANCER_DIR, REPO_ROOT, breastCancerHeldOut, shiftByOneStd } from '../../fixtures/breast-cancer-split';
import { startMonitoringEndpoints, type MonitoringEndpoints } from '../../fixtures/monitoring-endpoints';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-monitor-handler-');
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:mlship-dev-notifications';
const SHIFTED = ['mean smoothness', 'worst area', 'texture error'];
const HOUR = 3_600_000;

describe('drift monitor handler', () => {
  const heldOut = breastCancerHeldOut();
  let endpoints: MonitoringEndpoints;
  let served: ServedModel;
  let cloudWatch: CloudWatchClient;
  let sns: SNSClient;
  const folder = tempDir();
  const store = new FolderObjectStore({ 'mlship-dev-capture': folder });
  const sink = new FolderCaptureSink(folder);
  const config: DriftMonitorConfig = {
    bucket: 'mlship-dev-capture',
    topicArn: TOPIC,
    project: 'mlship',
    stage: 'dev',
    windowHours: 24,
    models: [
      { name: 'breast-cancer', version: '1', runtime: 'lambda', drift: resolveDriftThresholds({ driftShare: 0 }).thresholds },
      { name: 'digits', version: '1', runtime: 'sagemaker', endpointName: 'mlship-dev-digits', drift: DEFAULT_DRIFT_THRESHOLDS },
    ],
    modelsDir: join(REPO_ROOT, 'models'),
    dashboardUrl: 'https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/mlship-dev',
  };
  let handler: (event: { time?: string }) => Promise<MonitorSummary>;

  before(async () => {
    endpoints = await startMonitoringEndpoints();
    served = await ServedModel.load(BREAST_CANCER_DIR);
    cloudWatch = new CloudWatchClient(clientSettings(endpoints));
    sns = new SNSClient(clientSettings(endpoints));
    handler = createDriftMonitorHandler({
      config,
      store,
      cloudWatch,
      sns,
      logger: new Logger({ logLevel: 'SILENT' }),
      card: (model) => readModelCardFile(join(config.modelsDir, model, '1', 'model.json'), model),
    });
  });
  after(async () => {
    cloudWatch.destroy();
    sns.destroy();
    await served.release();
    await endpoints.close();
  });

  /** Captures the rows (with the model's answers) as one request each, answered at `time`. */
  async function capture(rows: readonly number[][], time: Date): Promise<void> {
    const x = Float32Array.from(rows.flat());
    const { classIndex } = await served.predict(x, rows.length);
    for (let i = 0; i < rows.length; i++) {
      const lines = captureLines({ model: 'breast-cancer', version: '1', time, capturePercent: 10, rows: x.subarray(i * 30, (i + 1) * 30), count: 1, width: 30, classIndex: classIndex.subarray(i, i + 1), labels: heldOut.card.labels });
      sink.writeLambda('breast-cancer', '1', time, lines);
    }
    await sink.flush();
  }

  const datumsOf = (call: number, model: string) => endpoints.metricCalls.slice(call).flat().filter((d) => d.dimensions.model === model);
  const detected = (call: number, model: string) => datumsOf(call, model).filter((d) => d.metricName === DRIFT_METRICS.detected).map((d) => d.value);

  it('the CloudWatch client speaks JSON 1.0 and the SNS client the query protocol to the emulator', async () => {
    const t0 = new Date('2026-11-20T12:00:00.000Z');
    await capture(heldOut.rows, new Date(t0.getTime() - HOUR));
    const summary = await handler({ time: t0.toISOString() });
    assert.deepEqual(summary.models.map((m) => [m.model, m.verdict, m.rows]), [['breast-cancer', 'no drift', 113], ['digits', 'not enough data', 0]]);
    assert.ok(endpoints.protocols.has('cloudwatch:json'), [...endpoints.protocols].join());
    assert.ok(endpoints.protocols.has('gzip'), 'a model\'s 125 datums go gzipped, as the SDK sends bodies over 10 KB');
    // a calm day: figures, no report
    assert.deepEqual(detected(0, 'breast-cancer'), [0]);
    const psi = datumsOf(0, 'breast-cancer').filter((d) => d.metricName === DRIFT_METRICS.featurePsi);
    assert.equal(psi.length, 30, 'FeaturePsi for every feature');
    assert.deepEqual(psi[0]!.dimensions, { stage: 'dev', model: 'breast-cancer', feature: psi[0]!.dimensions.feature! });
    assert.ok(psi.every((d) => d.namespace === DRIFT_METRICS_NAMESPACE && d.timestamp?.getTime() === t0.getTime()), 'namespace and the window end as the time');
    // no captures of digits: its rows only, no DriftDetected (the alarm sees missing data, not "no drift")
    assert.deepEqual(datumsOf(0, 'digits').map((d) => [d.metricName, d.value]), [[DRIFT_METRICS.rows, 0]]);
    assert.equal(endpoints.publishes.length, 0, 'nothing to tell anyone');
  });

  it('one report when breast-cancer goes into drift, none while it stays, figures every run; a new transition reports again', async () => {
    const t1 = new Date('2026-11-22T12:00:00.000Z');
    await capture(shiftByOneStd(heldOut, SHIFTED), new Date(t1.getTime() - 2 * HOUR));
    let calls = endpoints.metricCalls.length;
    await handler({ time: t1.toISOString() });
    assert.deepEqual(detected(calls, 'breast-cancer'), [1]);
    assert.equal(endpoints.publishes.length, 1, 'one report');
    const [report] = endpoints.publishes;
    assert.equal(report!.topicArn, TOPIC);
    assert.ok(endpoints.protocols.has('sns:query'), 'Publish in the query protocol');
    assert.equal(report!.subject, '[ALARM] breast-cancer v1 drift 10% > 0% (dev)');
    const lines = report!.message.split('\n');
    const first = lines.findIndex((l) => l.startsWith('Drifting features'));
    assert.ok(first > 0, report!.message);
    assert.deepEqual(new Set(lines.slice(first + 1, first + 4).map((l) => l.trim().split(':')[0])), new Set(SHIFTED), 'the shifted features named first');
    assert.match(report!.message, /What to do: Live inputs or predictions no longer look like the training data/);
    assert.match(report!.message, /Dashboard: {2}https:\/\/console\.aws\.amazon\.com\/cloudwatch/);
    const state = JSON.parse(new TextDecoder().decode(await store.read('mlship-dev-capture', monitorStateKey('breast-cancer')))) as { drifting: boolean; driftingFeatures: string[] };
    assert.equal(state.drifting, true);

    // two more hourly runs over the same drifting window: figures each time, no second message
    for (const hours of [1, 2]) {
      calls = endpoints.metricCalls.length;
      await handler({ time: new Date(t1.getTime() + hours * HOUR).toISOString() });
      assert.deepEqual(detected(calls, 'breast-cancer'), [1], `run +${hours}h publishes DriftDetected 1`);
    }
    assert.equal(endpoints.publishes.length, 1, 'still one report');

    // a calm day later: back to no drift (no message), then drift again: a new report
    const t2 = new Date(t1.getTime() + 48 * HOUR);
    await capture(heldOut.rows, new Date(t2.getTime() - HOUR));
    calls = endpoints.metricCalls.length;
    await handler({ time: t2.toISOString() });
    assert.deepEqual(detected(calls, 'breast-cancer'), [0]);
    const t3 = new Date(t2.getTime() + 30 * HOUR);
    await capture(shiftByOneStd(heldOut, SHIFTED), new Date(t3.getTime() - HOUR));
    await handler({ time: t3.toISOString() });
    assert.equal(endpoints.publishes.length, 2, 'a second transition, a second report');
  });

  it('below minSampleSize: "not enough data", CapturedRows only, no report even for shifted rows', async () => {
    const t = new Date('2026-12-10T12:00:00.000Z');
    await capture(shiftByOneStd(heldOut, SHIFTED).slice(0, 40), new Date(t.getTime() - HOUR));
    const calls = endpoints.metricCalls.length;
    const published = endpoints.publishes.length;
    const summary = await handler({ time: t.toISOString() });
    assert.equal(summary.models[0]!.verdict, 'not enough data');
    assert.deepEqual(datumsOf(calls, 'breast-cancer').map((d) => [d.metricName, d.value]), [[DRIFT_METRICS.rows, 40]]);
    assert.equal(endpoints.publishes.length, published);
  });

  it('a model that cannot be judged fails the run after the others were judged, naming it', async () => {
    const broken = createDriftMonitorHandler({
      config: { ...config, models: [{ ...config.models[0]!, name: 'breast-cancer' }, { ...config.models[1]!, endpointName: undefined }] },
      store,
      cloudWatch,
      sns,
      logger: new Logger({ logLevel: 'SILENT' }),
      card: (model) => readModelCardFile(join(config.modelsDir, model, '1', 'model.json'), model),
    });
    const calls = endpoints.metricCalls.length;
    await assert.rejects(broken({ time: '2026-12-11T00:00:00Z' }), /1 of 2 models could not be judged: digits \(digits runs on SageMaker but no endpointName/);
    assert.ok(datumsOf(calls, 'breast-cancer').length > 0, 'breast-cancer was still judged');
  });

  it('reads its settings from the environment and names every wrong one', () => {
    const env = {
      CAPTURE_BUCKET: 'mlship-dev-capture',
      TOPIC_ARN: TOPIC,
      PROJECT: 'mlship',
      STAGE: 'dev',
      WINDOW_HOURS: '24',
      MONITORED_MODELS: JSON.stringify([{ name: 'breast-cancer', version: '1', runtime: 'lambda', drift: DEFAULT_DRIFT_THRESHOLDS }]),
    };
    const read = readDriftMonitorConfig(env);
    assert.equal(read.windowHours, 24);
    assert.equal(read.modelsDir, '/opt/ml/models');
    assert.equal(read.models[0]!.drift.minSampleSize, 100);
    assert.throws(() => readDriftMonitorConfig({ ...env, WINDOW_HOURS: '0', TOPIC_ARN: 'topic' }), /TOPIC_ARN must be an SNS topic ARN.*WINDOW_HOURS/);
    assert.throws(() => readDriftMonitorConfig({ ...env, MONITORED_MODELS: '[' }), /MONITORED_MODELS is not JSON/);
    assert.throws(() => readDriftMonitorConfig({ ...env, CAPTURE_BUCKET: undefined }), /CAPTURE_BUCKET/);
  });
});
