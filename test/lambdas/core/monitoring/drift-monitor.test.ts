// The drift monitor's core on the real breast-cancer model and its card baseline, over captures written in the
// real key layout by the real capture path (the inference handler with a FolderCaptureSink), read through a
// FolderObjectStore and through S3ObjectStore on s3rver: a held-out slice of the training distribution does not
// alarm; the same rows with three features shifted by one standard deviation alarm and name those first.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { lambdaCaptureHourPrefix } from '../../../../lambdas/core/monitoring/capture/capture-keys';
import { RequestCapture } from '../../../../lambdas/core/monitoring/capture/capture-sink';
import { resolveDriftThresholds } from '../../../../lambdas/core/monitoring/drift/thresholds';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import { ModelApi } from '../../../../lambdas/core/serving/model-api';
import { driftAlarmEvent, monitorModel, type MonitoredModel, type MonitorRun } from '../../../../lambdas/core/monitoring/monitor/drift-monitor';
import { nextMonitorState } from '../../../../lambdas/core/monitoring/monitor/monitor-state';
import { DRIFT_METRICS } from '../../../../lambdas/core/monitoring/contracts';
import { readableAlert } from '../../../../lambdas/core/monitoring/alarms/readable-alert';
import { S3ObjectStore } from '../../../../lambdas/core/storage/s3-object-store';
import { createInferenceHandler } from '../../../../lambdas/inference/handler';
import { loadManifest } from '../../../../lambdas/core/manifest/load';
import { FolderCaptureSink } from '../../../../local/monitoring/capture-files';
import { FolderObjectStore } from '../../../../local/storage/folder-object-store';
import { apiEvent } from '../../../fixtures/api-events';
import { BREAST_CANCER_DIR, REPO_ROOT, breastCancerHeldOut, shiftByOneStd } from '../../../fixtures/breast-cancer-split';
import { tempDirMaker } from '../../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-monitor-');
const BUCKET = 'captures';
const SHIFTED = ['mean smoothness', 'worst area', 'texture error'];

describe('monitorModel on the breast-cancer model', () => {
  const heldOut = breastCancerHeldOut();
  const shipped = loadManifest(join(REPO_ROOT, 'models', 'manifest.yaml'));
  const entry = shipped.manifest.models.find((m) => m.name === 'breast-cancer')!;
  const model: MonitoredModel = { name: 'breast-cancer', version: '1', card: heldOut.card, runtime: 'lambda', drift: resolveDriftThresholds(entry.monitoring.drift).thresholds };
  let served: ServedModel;
  const logger = new Logger({ logLevel: 'SILENT' });
  const now = new Date();
  const window = { from: new Date(now.getTime() - 24 * 3_600_000), to: new Date(now.getTime() + 60_000) };

  before(async () => {
    served = await ServedModel.load(BREAST_CANCER_DIR);
  });
  after(async () => served.release());

  /** Sends the rows through the inference handler (requests of 1 to 4 instances), capturing all of them into `folder`. */
  async function captureThroughHandler(folder: string, rows: readonly number[][]): Promise<void> {
    const sink = new FolderCaptureSink(folder);
    const handler = createInferenceHandler({ api: new ModelApi(served, { maxBodyBytes: 1 << 20, maxBatchSize: 1000 }), logger, capture: new RequestCapture(100, sink) });
    for (let i = 0, size = 1; i < rows.length; i += size, size = (size % 4) + 1) {
      const result = await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: rows.slice(i, i + size) }));
      assert.equal(result.statusCode, 200, result.body);
    }
    await sink.close();
  }

  function assertNoAlarm(run: MonitorRun): void {
    assert.equal(run.report.rows, heldOut.rows.length);
    assert.equal(run.report.verdict, 'no drift', run.report.summary);
    assert.deepEqual(run.report.driftingFeatures, []);
    assert.equal(run.recordsRejected, 0, run.problems.join('; '));
    assert.equal(run.datums.find((d) => d.metric === DRIFT_METRICS.detected)?.value, 0, 'DriftDetected 0');
  }

  function assertAlarmNamingShifted(run: MonitorRun): void {
    assert.equal(run.report.verdict, 'drift', run.report.summary);
    assert.deepEqual(new Set(run.report.features.slice(0, 3).map((f) => f.name)), new Set(SHIFTED), 'the shifted features ranked first');
    assert.deepEqual(new Set(run.report.driftingFeatures), new Set(SHIFTED));
    assert.equal(run.datums.find((d) => d.metric === DRIFT_METRICS.detected)?.value, 1, 'DriftDetected 1');
    for (const name of SHIFTED) {
      const psi = run.datums.find((d) => d.metric === DRIFT_METRICS.featurePsi && d.feature === name)!.value;
      assert.ok(psi > 1, `${name}: FeaturePsi ${psi} published`);
    }
  }

  it('the shipped manifest counts any drifting breast-cancer feature (driftShare 0) and captures 10%', () => {
    assert.equal(entry.monitoring.drift.driftShare, 0);
    assert.equal(entry.monitoring.capturePercent, 10);
  });

  it('FolderObjectStore: a held-out slice does not alarm; the same rows with three features shifted by 1 std alarm and name them first', async () => {
    const calm = tempDir();
    await captureThroughHandler(calm, heldOut.rows);
    const calmRun = await monitorModel(new FolderObjectStore({ [BUCKET]: calm }), BUCKET, model, window);
    assertNoAlarm(calmRun);
    assert.ok(calmRun.files >= 1 && calmRun.files <= 2, `one capture file per hour (${calmRun.files})`);

    const shifted = tempDir();
    await captureThroughHandler(shifted, shiftByOneStd(heldOut, SHIFTED));
    const run = await monitorModel(new FolderObjectStore({ [BUCKET]: shifted }), BUCKET, model, window);
    assertAlarmNamingShifted(run);

    // the message a person gets: the drifting features first, with PSI, KS, p and JS
    const event = driftAlarmEvent(run, { project: 'mlship', stage: 'dev', previous: { drifting: false }, dashboardUrl: 'https://console.aws.amazon.com/cloudwatch/home#dashboards/dashboard/mlship-dev' });
    assert.equal(event.state, 'ALARM');
    assert.equal(event.previousState, 'OK');
    assert.equal(event.alarmName, 'mlship-dev-breast-cancer-drift');
    const alert = readableAlert(event);
    assert.equal(alert.subject, '[ALARM] breast-cancer v1 drift 10% > 0% (dev)');
    const details = event.details!;
    assert.match(details[0]!, /^Drifting features \(PSI >= 0\.25 and KS p < 0\.05\), highest PSI first:$/);
    assert.deepEqual(new Set(details.slice(1, 4).map((l) => l.trim().split(':')[0])), new Set(SHIFTED), details.join('\n'));
    for (const line of details.slice(1, 4)) assert.match(line, /PSI \d+(\.\d+)?, KS 0\.\d+ \(p \d(\.\d)?e-\d+\), JS 0\.\d+, mean moved \+\d\.\d+ std$/, line);
    assert.ok(alert.body.indexOf(SHIFTED[0]!) < alert.body.indexOf('Next highest PSI'), 'drifting features come before the rest');
    assert.match(alert.body, /Dashboard: {2}https:\/\/console/);
  });

  it('S3ObjectStore on s3rver: the same captures, uploaded in the same keys, give the same figures', async () => {
    const folder = tempDir();
    await captureThroughHandler(folder, shiftByOneStd(heldOut, SHIFTED));
    const local = new FolderObjectStore({ [BUCKET]: folder });
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: tempDir() });
    const { port } = (await server.run()) as { port: number };
    const client = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
      for await (const object of local.list(BUCKET, '')) {
        await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: object.key, Body: await local.read(BUCKET, object.key) }));
      }
      const s3Run = await monitorModel(new S3ObjectStore(client), BUCKET, model, window);
      assertAlarmNamingShifted(s3Run);
      const folderRun = await monitorModel(local, BUCKET, model, window);
      assert.deepEqual(s3Run.datums, folderRun.datums, 'the same figures from S3 and from the folder');
    } finally {
      client.destroy();
      await server.close();
    }
  });

  it('reads only its window\'s whole hours, its version and its own model; bad lines are counted, not fatal', async () => {
    const folder = tempDir();
    await captureThroughHandler(folder, heldOut.rows);
    const store = new FolderObjectStore({ [BUCKET]: folder });
    const old = new Date(now.getTime() - 30 * 3_600_000);
    const line = (time: Date, version: string) => JSON.stringify({ mlshipCapture: 1, model: 'breast-cancer', version, time: time.toISOString(), capturePercent: 10, inputs: [new Array(30).fill(1e6)], labels: ['benign'] });
    // shifted rows outside the window, and in another version's folder: neither may count
    await store.write(BUCKET, `${lambdaCaptureHourPrefix('breast-cancer', '1', old)}x.jsonl`, `${Array.from({ length: 500 }, () => line(old, '1')).join('\n')}\n`);
    await store.write(BUCKET, `${lambdaCaptureHourPrefix('breast-cancer', '2', now)}x.jsonl`, `${Array.from({ length: 500 }, () => line(now, '2')).join('\n')}\n`);
    // a window shorter than an hour judges the whole hours it touches
    const edge = { from: new Date(now.getTime() - 1000), to: window.to };
    await store.write(BUCKET, `${lambdaCaptureHourPrefix('breast-cancer', '1', now)}y.jsonl`, `${line(new Date(now.getTime() - 5000), '1')}\nnot json\n`);
    const run = await monitorModel(store, BUCKET, model, window);
    assert.equal(run.report.rows, heldOut.rows.length + 1, 'the held-out rows and the in-window extra line only');
    assert.equal(run.recordsRejected, 1);
    assert.match(run.problems[0]!, /y\.jsonl line 2: not JSON/);
    const cut = await monitorModel(store, BUCKET, model, edge);
    assert.equal(cut.report.rows, run.report.rows, 'the current hour, whole');
    assert.equal(cut.objectsRead, 0, 'from the summaries the first run wrote: no capture read again');
  });

  it('below minSampleSize: "not enough data", no DriftDetected datum, and the state keeps what it was', async () => {
    const folder = tempDir();
    await captureThroughHandler(folder, shiftByOneStd(heldOut, SHIFTED).slice(0, 60));
    const run = await monitorModel(new FolderObjectStore({ [BUCKET]: folder }), BUCKET, model, window);
    assert.equal(run.report.verdict, 'not enough data');
    assert.deepEqual(run.datums, [{ metric: DRIFT_METRICS.rows, value: 60, unit: 'Count' }]);
    assert.equal(driftAlarmEvent(run, { project: 'mlship', stage: 'dev' }).state, 'INSUFFICIENT_DATA');
    const drifting = { model: 'breast-cancer', version: '1', drifting: true, driftingSince: '2026-01-01T00:00:00.000Z', lastRun: '', lastVerdict: 'drift' as const, driftingFeatures: SHIFTED };
    const next = nextMonitorState(drifting, run, now);
    assert.equal(next.report, false);
    assert.equal(next.state.drifting, true, 'still drifting: nothing was judged');
  });

  it('a SageMaker model without an endpoint name is refused, naming it', async () => {
    await assert.rejects(monitorModel(new FolderObjectStore({ [BUCKET]: tempDir() }), BUCKET, { ...model, runtime: 'sagemaker' }, window), /breast-cancer runs on SageMaker but no endpointName/);
  });
});
