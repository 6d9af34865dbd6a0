// One set of drift thresholds for `mlship drift`, the cloud drift monitor and the local one: the shipped
// manifest's breast-cancer (monitoring.drift.driftShare 0, the rest left to their defaults) as the CLI prints
// it, as the DriftMonitor construct writes it into its function's environment (fed the manifest entries as
// MlshipStack feeds it; test/lib/monitoring/data-capture.test.ts checks that wiring in the whole stack) and the function
// reads it back, and as the local monitor resolves it; then the same rows, where exactly 2 of the 30 features
// drift, judged by all three: drift everywhere (under the default driftShare 0.5 it would not be).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { captureLines } from '../../../lambdas/core/monitoring/capture/capture-record';
import { DEFAULT_DRIFT_THRESHOLDS, resolveDriftThresholds } from '../../../lambdas/core/monitoring/drift/thresholds';
import { ServedModel } from '../../../lambdas/core/models/inference-session';
import { readModelCardFile } from '../../../lambdas/core/models/model-card-file';
import { readDriftMonitorConfig } from '../../../lambdas/drift-monitor/config';
import { createDriftMonitorHandler } from '../../../lambdas/drift-monitor/handler';
import { loadManifest } from '../../../lambdas/core/manifest/load';
import { DRIFT_MONITOR_IMAGE_HANDLERS, DriftMonitor, type MonitoredModelProps } from '../../../lib/monitoring/drift-monitor';
import type { PipelineImage } from '../../../lib/pipelines/pipeline-image';
import { AlertHub } from '../../../local/monitoring/alert-sinks';
import { FolderCaptureSink } from '../../../local/monitoring/capture-files';
import { LocalMonitoring } from '../../../local/monitoring/local-monitoring';
import type { ReleaseManager } from '../../../local/release/manager';
import { FolderObjectStore } from '../../../local/storage/folder-object-store';
import { BREAST_CANCER_DIR, REPO_ROOT, breastCancerHeldOut, heldOutCsv, shiftByOneStd } from '../../fixtures/breast-cancer-split';
import { createTestApp } from '../../fixtures/cdk-app';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const TWO_SHIFTED = ['mean smoothness', 'worst area'];
const CLOUD_BUCKET = 'mlship-dev-capture';
const tempDir = tempDirMaker('mlship-drift-thresholds-');
const testApp = createTestApp();
after(() => testApp.cleanup());

const loaded = loadManifest(join(REPO_ROOT, 'models', 'manifest.yaml'));
const entry = loaded.manifest.models.find((m) => m.name === 'breast-cancer')!;
const heldOut = breastCancerHeldOut();
const rows = shiftByOneStd(heldOut, TWO_SHIFTED);
/** What the shipped manifest means: driftShare 0 written there, every other threshold its default. */
const SHIPPED = { ...DEFAULT_DRIFT_THRESHOLDS, driftShare: 0 };

let stacks = 0;
/** A stack holding only the drift monitor, over the shipped manifest's models as MlshipStack passes them. */
function monitorStack(models: readonly MonitoredModelProps[] = loaded.models.map((m) => ({ name: m.entry.name, version: m.entry.version, runtime: m.entry.runtime, ...(m.entry.runtime === 'sagemaker' ? { endpointName: `mlship-dev-${m.entry.name}` } : {}), drift: m.entry.monitoring.drift }))): { stack: Stack; monitor: DriftMonitor } {
  const stack = new Stack(testApp.app, `Monitor${++stacks}`);
  // the pipeline image's code is beside the point here: an image from a repository, not a Docker build
  const repository = ecr.Repository.fromRepositoryName(stack, 'Repo', 'pipeline');
  const image = { handlers: Object.keys(DRIFT_MONITOR_IMAGE_HANDLERS), code: () => lambda.DockerImageCode.fromEcr(repository) } as unknown as PipelineImage;
  const monitor = new DriftMonitor(stack, 'DriftMonitor', { project: 'mlship', stage: 'dev', image, captureBucket: new s3.Bucket(stack, 'Captures'), captureKey: new kms.Key(stack, 'CaptureKey'), topic: new sns.Topic(stack, 'Topic'), topicKey: new kms.Key(stack, 'TopicKey'), models });
  return { stack, monitor };
}

/** The drift monitor function's environment in the template. */
function cloudEnvironment(): Record<string, unknown> {
  const { stack, monitor } = monitorStack();
  const fnId = stack.getLogicalId(monitor.function.node.defaultChild as never);
  const resources = (Template.fromStack(stack).toJSON() as { Resources: Record<string, { Properties: { Environment: { Variables: Record<string, unknown> } } }> }).Resources;
  return resources[fnId]!.Properties.Environment.Variables;
}

function mlshipDriftJson(file: string): Promise<{ verdict: string; driftingFeatures: string[]; thresholds: unknown; thresholdSources: Record<string, string> }> {
  return new Promise((done, fail) => {
    execFile(process.execPath, [resolve(REPO_ROOT, 'bin', 'mlship.mjs'), 'drift', '--model', 'breast-cancer', '--data', file, '--json'], { cwd: REPO_ROOT }, (error, stdout, stderr) => {
      if (error) fail(new Error(`mlship drift failed: ${stderr}`));
      else done(JSON.parse(stdout) as never);
    });
  });
}

describe('drift thresholds: one source for mlship drift, the cloud monitor and the local monitor', () => {
  const env = cloudEnvironment();
  // the bucket, topic and dashboard are references in the template: stand-ins for what deploying resolves them to
  const cloudConfig = readDriftMonitorConfig({ ...(env as Record<string, string>), CAPTURE_BUCKET: CLOUD_BUCKET, TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:mlship-dev-notifications', DASHBOARD_URL: 'https://example.com/dashboard' });
  // the same captures in two folders: each monitor keeps its state (drifting or not) beside them
  const localFolder = tempDir();
  const alerts = new AlertHub([]);
  const cloudFolder = tempDir();
  const local = new LocalMonitoring({
    manifest: loaded,
    captureFolder: localFolder,
    alerts,
    // the live version of breast-cancer only (digits is not monitored here)
    releases: () => ({ get: (name: string) => (name === 'breast-cancer' ? { status: () => ({ live: 1 }), versions: [{ version: 1, model: { card: heldOut.card } }] } : undefined) }) as unknown as ReleaseManager,
  });

  it('the template holds the manifest\'s thresholds, whole, and the function reads back the same ones the local monitor uses', () => {
    const written = (JSON.parse(env.MONITORED_MODELS as string) as { name: string; drift: unknown }[]).map((m) => [m.name, m.drift]);
    assert.deepEqual(written, [['breast-cancer', SHIPPED], ['digits', DEFAULT_DRIFT_THRESHOLDS]], 'every threshold written out, the manifest\'s driftShare 0 among them');
    assert.deepEqual(cloudConfig.models.find((m) => m.name === 'breast-cancer')!.drift, SHIPPED);
    const [monitored] = local.monitoredModels();
    assert.equal(monitored!.name, 'breast-cancer');
    assert.deepEqual(monitored!.drift, SHIPPED);
    assert.deepEqual(resolveDriftThresholds(entry.monitoring.drift).thresholds, SHIPPED);
  });

  it('rows with 2 of 30 features shifted: mlship drift, the cloud handler and the local monitor all say drift, by driftShare 0 from the manifest', async () => {
    const csv = join(tempDir(), 'two-shifted.csv');
    writeFileSync(csv, heldOutCsv(heldOut, rows));
    const cli = await mlshipDriftJson(csv);
    assert.deepEqual(cli.thresholds, SHIPPED);
    assert.equal(cli.thresholdSources.driftShare, 'manifest');
    assert.deepEqual([cli.verdict, new Set(cli.driftingFeatures)], ['drift', new Set(TWO_SHIFTED)]);

    // the rows as captured requests, one per row, in the last hour
    const at = new Date();
    const time = new Date(at.getTime() - 30 * 60_000);
    const served = await ServedModel.load(BREAST_CANCER_DIR);
    const sinks = [new FolderCaptureSink(localFolder), new FolderCaptureSink(cloudFolder)];
    try {
      const x = Float32Array.from(rows.flat());
      const { classIndex } = await served.predict(x, rows.length);
      for (let i = 0; i < rows.length; i++) {
        const lines = captureLines({ model: 'breast-cancer', version: '1', time, capturePercent: 10, rows: x.subarray(i * 30, (i + 1) * 30), count: 1, width: 30, classIndex: classIndex.subarray(i, i + 1), labels: heldOut.card.labels });
        for (const sink of sinks) sink.writeLambda('breast-cancer', '1', time, lines);
      }
    } finally {
      await Promise.all(sinks.map((sink) => sink.close()));
      await served.release();
    }

    const [localOutcome] = await local.monitor.runOnce(at);
    assert.ok(localOutcome && 'run' in localOutcome, JSON.stringify(localOutcome));
    assert.deepEqual([localOutcome.run.report.verdict, new Set(localOutcome.run.report.driftingFeatures)], ['drift', new Set(TWO_SHIFTED)], localOutcome.run.report.summary);
    assert.deepEqual(localOutcome.run.report.thresholds, SHIPPED);
    assert.deepEqual(alerts.recent().map((a) => a.message), ['[ALARM] breast-cancer v1 drift 6.67% > 0% (local)'], 'the local monitor\'s one report, against driftShare 0');
    await local.close();

    const published: string[] = [];
    const cloudHandler = createDriftMonitorHandler({
      config: cloudConfig,
      store: new FolderObjectStore({ [CLOUD_BUCKET]: cloudFolder }),
      cloudWatch: { send: async () => ({}) } as unknown as CloudWatchClient,
      sns: { send: async (command: PublishCommand) => published.push(command.input.Subject ?? '') } as unknown as SNSClient,
      logger: new Logger({ logLevel: 'SILENT' }),
      // the image holds <MODELS_DIR>/<model>/model.json; here the repo's folders of the same version
      card: (model) => readModelCardFile(join(REPO_ROOT, 'models', model, '1', 'model.json'), model),
    });
    const summary = await cloudHandler({ time: at.toISOString() });
    const cloud = summary.models.find((m) => m.model === 'breast-cancer')!;
    assert.deepEqual([cloud.verdict, new Set(cloud.drifting)], ['drift', new Set(TWO_SHIFTED)]);
    assert.deepEqual(published, ['[ALARM] breast-cancer v1 drift 6.67% > 0% (dev)'], 'the cloud monitor\'s one report, the same figure against the same threshold');
  });

  it('the construct refuses thresholds that cannot work, naming the model', () => {
    assert.throws(() => monitorStack([{ name: 'm', version: 1, runtime: 'lambda', drift: { psiModerate: 0.5 } }]), /^Error: models: m's drift thresholds: psiSignificant must be at least psiModerate \(0\.5\), received 0\.25$/);
  });
});
