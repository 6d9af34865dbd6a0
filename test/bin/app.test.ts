// The CDK app end to end: the real `npx cdk synth` on the shipped manifest with no AWS account,
// credentials or network, and the app's exit status and message for a bad manifest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadManifest } from '../../lambdas/core/manifest/load';
import { PROJECT_ROOT } from '../../lib/serving/model-image';
import { createFixtureProject } from '../fixtures/model-folder';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempOutdir = tempDirMaker('mlship-synth-');

/** The environment of a machine with no AWS account: no AWS_* variables, no instance metadata to probe. */
function offlineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('CDK_')));
  return { ...env, AWS_EC2_METADATA_DISABLED: 'true', ...extra };
}

describe('npx cdk synth', () => {
  it('synthesizes the shipped manifest offline, with the stage from context', () => {
    const shipped = loadManifest(join(PROJECT_ROOT, 'models', 'manifest.yaml'));
    assert.deepEqual(
      shipped.models.map((m) => [m.entry.name, m.entry.version, m.entry.runtime]),
      [
        ['breast-cancer', 1, 'lambda'],
        ['digits', 1, 'sagemaker'],
      ],
    );
    const outdir = tempOutdir();
    const result = spawnSync('npx', ['--no', 'cdk', 'synth', '--quiet', '-c', 'stage=ci', '-o', outdir], { cwd: PROJECT_ROOT, env: offlineEnv(), encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, `cdk synth failed:\n${result.stdout}\n${result.stderr}`);
    const template = JSON.parse(readFileSync(join(outdir, 'mlship-ci.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { PackageType?: string; Environment?: { Variables?: Record<string, unknown> } } }>;
      Outputs: Record<string, unknown>;
    };
    // breast-cancer: an image function released through its live alias by CodeDeploy, gated by its hook.
    const modelFunctions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.MODEL_DIR === '/opt/ml/model');
    assert.equal(modelFunctions.length, 1);
    assert.equal(modelFunctions[0]!.Properties.PackageType, 'Image');
    const count = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type).length;
    assert.deepEqual([count('AWS::Lambda::Alias'), count('AWS::CodeDeploy::DeploymentGroup')], [1, 1]);
    // digits: a SageMaker model, endpoint config and endpoint with autoscaling, behind the proxy function.
    assert.deepEqual(
      ['AWS::SageMaker::Model', 'AWS::SageMaker::EndpointConfig', 'AWS::SageMaker::Endpoint', 'AWS::ApplicationAutoScaling::ScalableTarget'].map(count),
      [1, 1, 1, 1],
    );
    // The pipelines: batch scoring for both models, retraining for breast-cancer (its manifest retrain block), and
    // the drift monitor's run (plan, fan-out, merge).
    const machines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine') as unknown as { Properties: { StateMachineName?: string } }[];
    assert.deepEqual(machines.map((m) => m.Properties.StateMachineName).sort(), ['mlship-ci-batch', 'mlship-ci-drift-monitor', 'mlship-ci-retrain']);
    // Monitoring: one composite (serving health) alarm per model, and the stage's dashboard.
    assert.deepEqual([count('AWS::CloudWatch::CompositeAlarm'), count('AWS::CloudWatch::Dashboard')], [2, 1]);
    // Data capture and prediction records: the breast-cancer function's logs and the digits proxy's (every
    // prediction it answered) through Firehose; the drift monitor on its schedule.
    assert.deepEqual([count('AWS::Logs::SubscriptionFilter'), count('AWS::KinesisFirehose::DeliveryStream'), count('AWS::Events::Rule') >= 1], [2, 1, true]);
    assert.deepEqual(Object.keys(template.Outputs).sort(), [
      'ApiAuthorization',
      'ApiUrl',
      'BatchStateMachineArn',
      'BreastCancerFunctionName',
      'BreastCancerInferUrl',
      'BreastCancerLiveVersion',
      'CaptureBucketName',
      'DashboardUrl',
      'DataBucketName',
      'DigitsEndpointConfigName',
      'DigitsEndpointName',
      'DigitsFunctionName',
      'DigitsInferUrl',
      'NotificationTopicArn',
      'RegistryBucketName',
      'RetrainStateMachineArn',
    ]);
  });
});

describe('bin/app.ts', () => {
  const project = createFixtureProject({ manifest: { models: [{ name: 'breast-cancer', version: 1 }, { name: 'digits', version: 1, runtime: 'gpu' }] } });
  const sagemaker = createFixtureProject({ manifest: { models: [{ name: 'breast-cancer', version: 1 }, { name: 'digits', version: 1, runtime: 'sagemaker' }] } });
  const badSagemaker = createFixtureProject({ manifest: { models: [{ name: 'digits', version: 1, runtime: 'sagemaker', sagemaker: { instanceType: 'ml.x1.large', canary: { percent: 60 } } }] } });
  after(() => {
    project.cleanup();
    sagemaker.cleanup();
    badSagemaker.cleanup();
  });

  function runApp(context: Record<string, string>, outdir = tempOutdir()) {
    return spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: PROJECT_ROOT,
      env: offlineEnv({ CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir }),
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  it('prints every manifest problem with its path and exits 1, without a stack trace', () => {
    const result = runApp({ manifest: project.manifestPath });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `Invalid manifest ${project.manifestPath}:\n  - models[1].runtime must be one of lambda, sagemaker, received 'gpu'\n`);
    assert.equal(result.stdout, '');
  });

  it('synthesizes a SageMaker model offline, its image found per region at deploy', () => {
    const outdir = tempOutdir();
    const result = runApp({ manifest: sagemaker.manifestPath }, outdir);
    assert.equal(result.status, 0, result.stderr);
    const template = JSON.parse(readFileSync(join(outdir, 'mlship-dev.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }>; Outputs: Record<string, unknown>; Mappings: Record<string, unknown> };
    assert.equal(Object.values(template.Resources).filter((r) => r.Type === 'AWS::SageMaker::Endpoint').length, 1);
    assert.ok(template.Mappings.TritonImageAccounts);
    assert.deepEqual(Object.keys(template.Outputs).filter((k) => k.startsWith('Digits')).sort(), ['DigitsEndpointConfigName', 'DigitsEndpointName', 'DigitsFunctionName', 'DigitsInferUrl']);
  });

  it('prints the problems of a sagemaker block with their paths and exits 1', () => {
    const result = runApp({ manifest: badSagemaker.manifestPath });
    assert.equal(result.status, 1);
    assert.equal(
      result.stderr,
      `Invalid manifest ${badSagemaker.manifestPath}:\n` +
        "  - models[0].sagemaker.instanceType must be of a known instance family (g4dn, g5, g6, g6e, p3, p4d, p5, c5, c6i, m5, m6i, r5), received 'ml.x1.large'\n" +
        '  - models[0].sagemaker.canary.percent must be at most 50, received 60\n',
    );
  });

  it('names a manifest that does not exist', () => {
    const missing = join(tmpdir(), 'no-such-manifest.yaml');
    const result = runApp({ manifest: missing });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `Invalid manifest ${missing}:\n  - file not found\n`);
  });
});
