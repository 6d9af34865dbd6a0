// SagemakerModel on its own: the Triton image per region, the packed model data, the model, the endpoint
// config and its name, the endpoint's blue/green canary and rollback alarms, data capture and its bucket,
// autoscaling, the execution role's and the proxy role's exact statements, the proxy function, and every
// validation branch. The shipped digits model is the model; a stub stands in for the proxy's entry (the
// real proxy is bundled in mlship-stack-sagemaker.test.ts).
// Over 400 lines: every setting and validation branch of one construct, on one synthesized stack.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { Stack, type StackProps } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { TRITON_MAX_BATCH_SIZE } from '../../../lambdas/core/sagemaker/triton-config';
import { PROJECT_ROOT } from '../../../lib/serving/model-image';
import {
  DATA_CAPTURE_PREFIX,
  SagemakerModel,
  sagemakerModelProblems,
  SCALABLE_DIMENSION,
  VARIANT_NAME,
  type SagemakerModelProps,
  type SagemakerModelSettings,
} from '../../../lib/sagemaker/sagemaker-model';
import { TRITON_IMAGE_ACCOUNTS } from '../../../lib/sagemaker/triton-image';
import { proxyTimeoutSeconds } from '../../../lambdas/sagemaker-proxy/config';
import { stageTritonModelData } from '../../../lib/sagemaker/triton-model-data';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject, writeModelFolder } from '../../fixtures/model-folder';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const PROXY_STUB = join(import.meta.dirname, '..', '..', 'fixtures', 'sagemaker-proxy-stub.ts');
const DIGITS_DIR = join(PROJECT_ROOT, 'models', 'digits', '1');
const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((cleanup) => cleanup()));
const tempDir = tempDirMaker('mlship-sagemaker-test-');

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
interface Built {
  readonly model: SagemakerModel;
  readonly stack: Stack;
  readonly template: Template;
  readonly resources: Record<string, Resource>;
  readonly json: { Resources: Record<string, Resource>; Mappings?: Record<string, Record<string, Record<string, string>>> };
  readonly outdir: string;
}

function build(props: Partial<SagemakerModelProps> = {}, stackProps: StackProps = {}, extra?: (stack: Stack) => Partial<SagemakerModelProps>): Built {
  const { app, outdir, cleanup } = createTestApp();
  cleanups.push(cleanup);
  const stack = new Stack(app, 'SagemakerStack', { stackName: 'shop-test', ...stackProps });
  const model = new SagemakerModel(stack, 'Digits', { modelName: 'digits', modelVersion: 1, modelDir: DIGITS_DIR, proxyEntry: PROXY_STUB, ...props, ...extra?.(stack) });
  const template = Template.fromStack(stack);
  const json = template.toJSON() as Built['json'];
  return { model, stack, template, resources: json.Resources, json, outdir };
}

function only(resources: Record<string, Resource>, type: string): [string, Resource] {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type);
  assert.equal(found.length, 1, `exactly one ${type}, found ${found.map(([id]) => id).join(', ')}`);
  return found[0]!;
}

function logicalId(resources: Record<string, Resource>, prefix: string, type: string): string {
  const ids = Object.keys(resources).filter((id) => id.startsWith(prefix) && resources[id]!.Type === type);
  assert.equal(ids.length, 1, `one ${type} named ${prefix}*, found ${ids.join(', ')}`);
  return ids[0]!;
}

const defaults = build();
const { resources: R } = defaults;
const roleId = logicalId(R, 'DigitsExecutionRole', 'AWS::IAM::Role');
const [modelId, modelResource] = only(R, 'AWS::SageMaker::Model');
const [configId, configResource] = only(R, 'AWS::SageMaker::EndpointConfig');
const [endpointId, endpointResource] = only(R, 'AWS::SageMaker::Endpoint');
const bucketId = logicalId(R, 'DigitsCaptureBucket', 'AWS::S3::Bucket');
const keyId = logicalId(R, 'DigitsCaptureKey', 'AWS::KMS::Key');
const latencyAlarmId = logicalId(R, 'DigitsLatencyAlarm', 'AWS::CloudWatch::Alarm');
const errorsAlarmId = logicalId(R, 'DigitsErrorsAlarm', 'AWS::CloudWatch::Alarm');
const partition = { Ref: 'AWS::Partition' };
const region = { Ref: 'AWS::Region' };
const accountId = { Ref: 'AWS::AccountId' };
const imageAccount = { 'Fn::FindInMap': ['TritonImageAccounts', region, 'account'] };

/** The staged model.tar.gz of a build, from the cloud assembly. */
function stagedArchive(built: Built): { file: string; key: string } {
  const url = (only(built.resources, 'AWS::SageMaker::Model')[1].Properties.PrimaryContainer as { ModelDataUrl: { 'Fn::Sub': string } }).ModelDataUrl['Fn::Sub'];
  const key = url.split('/').pop()!;
  const file = join(built.outdir, `asset.${key.replace(/\.gz$/, '')}.tar.gz`);
  assert.ok(existsSync(file), `${file} is staged`);
  return { file, key };
}

describe('SagemakerModel: the Triton image of the region', () => {
  it('maps every known region to its account, and finds the image with Fn::FindInMap when the region is not known at synth', () => {
    const mapping = defaults.json.Mappings?.TritonImageAccounts;
    assert.ok(mapping);
    assert.deepEqual(Object.fromEntries(Object.entries(mapping).map(([r, v]) => [r, v.account])), TRITON_IMAGE_ACCOUNTS);
    assert.equal(mapping['us-east-1']!.account, '763104351884');
    assert.equal(mapping['eu-west-1']!.account, '763104351884');
    assert.equal(mapping['af-south-1']!.account, '626614931356');
    assert.equal(mapping['cn-north-1']!.account, '727897471807');
    assert.deepEqual((modelResource.Properties.PrimaryContainer as { Image: unknown }).Image, {
      'Fn::Join': ['', [imageAccount, '.dkr.ecr.', region, '.', { Ref: 'AWS::URLSuffix' }, '/sagemaker-tritonserver:24.09-py3']],
    });
  });

  for (const [where, account] of [
    ['eu-west-1', '763104351884'],
    ['ap-northeast-3', '364406365360'],
    ['cn-northwest-1', '727897471807'],
  ] as const) {
    it(`uses account ${account} in ${where} when the stack's region is known, without a mapping`, () => {
      const built = build({ tritonVersion: '24.05' }, { env: { region: where, account: '123456789012' } });
      assert.equal(built.json.Mappings, undefined);
      const image = (only(built.resources, 'AWS::SageMaker::Model')[1].Properties.PrimaryContainer as { Image: unknown }).Image;
      assert.deepEqual(image, { 'Fn::Join': ['', [`${account}.dkr.ecr.${where}.`, { Ref: 'AWS::URLSuffix' }, '/sagemaker-tritonserver:24.05-py3']] });
    });
  }

  it('fails synth for a region with no known Triton image, naming it', () => {
    assert.throws(() => build({}, { env: { region: 'xx-west-9', account: '123456789012' } }), /no SageMaker Triton image is known for region 'xx-west-9' \(stack shop-test\); known regions: af-south-1, /);
  });
});

describe('SagemakerModel: model data', () => {
  it("packs <model>/config.pbtxt and <model>/<version>/model.onnx as a file asset whose hash is the uncompressed archive's", () => {
    const { file, key } = stagedArchive(defaults);
    const listing = execFileSync('tar', ['-tvzf', file], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listing.map((l) => l.split(/\s+/).pop()), ['digits/', 'digits/config.pbtxt', 'digits/1/', 'digits/1/model.onnx']);
    // Fixed owner, modes and times: nothing of the machine that packed it.
    for (const line of listing) assert.match(line, /^(-rw-r--r--|drwxr-xr-x) 0\/0 /);
    const dir = tempDir();
    execFileSync('tar', ['-xzf', file, '-C', dir]);
    assert.equal(readFileSync(join(dir, 'digits', 'config.pbtxt'), 'utf8'), defaults.model.tritonConfig);
    assert.ok(readFileSync(join(dir, 'digits', '1', 'model.onnx')).equals(readFileSync(join(DIGITS_DIR, 'model.onnx'))));
    assert.equal(key, `${defaults.model.modelData.assetHash}.gz`);
  });

  it('hashes the staged archive by its uncompressed contents, and packs it the same way every time', () => {
    const a = stageTritonModelData({ modelDir: DIGITS_DIR, maxBatchSize: 500, device: 'gpu' });
    const b = stageTritonModelData({ modelDir: DIGITS_DIR, maxBatchSize: 500, device: 'gpu' });
    assert.equal(a.hash, createHash('sha256').update(gunzipSync(readFileSync(a.file))).digest('hex'));
    assert.notEqual(a.file, b.file);
    assert.ok(readFileSync(a.file).equals(readFileSync(b.file)));
    assert.deepEqual(a.entries, ['digits', 'digits/config.pbtxt', 'digits/1', 'digits/1/model.onnx']);
    assert.notEqual(stageTritonModelData({ modelDir: DIGITS_DIR, maxBatchSize: 64, device: 'gpu' }).hash, a.hash, 'a new config is a new archive');
  });

  it('generates the Triton config from model.json: GPU for a GPU family, CPU for a CPU family', () => {
    assert.match(defaults.model.tritonConfig, /^name: "digits"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 1000\n/);
    assert.match(defaults.model.tritonConfig, /kind: KIND_GPU/);
    assert.match(build({ instanceType: 'ml.c5.xlarge', maxBatchSize: 64 }).model.tritonConfig, /max_batch_size: 64\n[\s\S]*kind: KIND_CPU/);
  });

  it('is the same asset, byte for byte, when synthesized again from another copy of the same model', () => {
    const root = tempDir();
    const copy = join(root, 'digits', '1');
    mkdirSync(copy, { recursive: true });
    for (const f of ['model.json', 'model.onnx', 'background.json']) if (existsSync(join(DIGITS_DIR, f))) execFileSync('cp', ['-p', join(DIGITS_DIR, f), join(copy, f)]);
    execFileSync('chmod', ['0664', join(copy, 'model.onnx')]);
    execFileSync('touch', ['-d', '2011-11-11', join(copy, 'model.onnx')]);
    const again = build({ modelDir: copy });
    assert.equal(again.model.modelData.assetHash, defaults.model.modelData.assetHash);
    assert.ok(readFileSync(stagedArchive(again).file).equals(readFileSync(stagedArchive(defaults).file)));
    assert.equal(again.model.endpointConfigName, defaults.model.endpointConfigName);
  });
});

describe('SagemakerModel: model, endpoint config and endpoint', () => {
  it("runs the model from the asset with Triton's default model name, network-isolated, after its role's policy exists", () => {
    const policyId = logicalId(R, 'DigitsExecutionRoleDefaultPolicy', 'AWS::IAM::Policy');
    assert.deepEqual(modelResource.Properties.ExecutionRoleArn, { 'Fn::GetAtt': [roleId, 'Arn'] });
    assert.equal(modelResource.Properties.EnableNetworkIsolation, true);
    const container = modelResource.Properties.PrimaryContainer as { Environment: unknown; ModelDataUrl: unknown };
    assert.deepEqual(container.Environment, { SAGEMAKER_TRITON_DEFAULT_MODEL_NAME: 'digits' });
    assert.deepEqual(container.ModelDataUrl, { 'Fn::Sub': `s3://cdk-hnb659fds-assets-\${AWS::AccountId}-\${AWS::Region}/${defaults.model.modelData.assetHash}.gz` });
    assert.ok(modelResource.DependsOn?.includes(policyId));
  });

  it('names the endpoint <stack>-<model> and the config <stack>-<model>-v<version>-<hash>, with one fixed variant', () => {
    assert.equal(defaults.model.endpointName, 'shop-test-digits');
    assert.match(defaults.model.endpointConfigName, /^shop-test-digits-v1-[0-9a-f]{8}$/);
    assert.equal(endpointResource.Properties.EndpointName, 'shop-test-digits');
    assert.deepEqual(endpointResource.Properties.EndpointConfigName, { 'Fn::GetAtt': [configId, 'EndpointConfigName'] });
    assert.equal(configResource.Properties.EndpointConfigName, defaults.model.endpointConfigName);
    assert.deepEqual(configResource.Properties.ProductionVariants, [
      { VariantName: 'AllTraffic', ModelName: { 'Fn::GetAtt': [modelId, 'ModelName'] }, InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1, InitialVariantWeight: 1 },
    ]);
    assert.equal(VARIANT_NAME, 'AllTraffic');
  });

  it('gives a new model version a new endpoint config name, and keeps the endpoint and variant names', () => {
    const root = tempDir();
    const v2 = writeModelFolder(root, { name: 'digits', version: 2, features: Array.from({ length: 64 }, (_, i) => `pixel${i}`), labels: ['0', '1', '2'] });
    const next = build({ modelVersion: 2, modelDir: v2 });
    assert.match(next.model.endpointConfigName, /^shop-test-digits-v2-[0-9a-f]{8}$/);
    assert.notEqual(next.model.modelData.assetHash, defaults.model.modelData.assetHash);
    assert.equal(next.model.endpointName, defaults.model.endpointName);
    const variants = only(next.resources, 'AWS::SageMaker::EndpointConfig')[1].Properties.ProductionVariants as { VariantName: string }[];
    assert.deepEqual(variants.map((v) => v.VariantName), ['AllTraffic']);
  });

  it('gives every other change of the config or the model a new config name too (all their properties need replacement)', () => {
    const names = new Set([
      defaults.model.endpointConfigName,
      build({ instanceType: 'ml.g6.xlarge' }).model.endpointConfigName,
      build({ instanceCount: 2 }).model.endpointConfigName,
      build({ dataCapturePercent: 20 }).model.endpointConfigName,
      build({ tritonVersion: '24.05' }).model.endpointConfigName,
      build({ maxBatchSize: 64 }).model.endpointConfigName,
    ]);
    assert.equal(names.size, 6);
    // Autoscaling, canary and alarms are not in the config: the same name.
    assert.equal(build({ canary: { percent: 20 }, autoscaling: { maxInstances: 4 } }).model.endpointConfigName, defaults.model.endpointConfigName);
  });

  it('keeps names within 63 characters for long stack and model names', () => {
    const root = tempDir();
    const dir = writeModelFolder(root, { name: 'a-very-long-model-name-that-goes-on-and-on-and-x' });
    const built = build({ modelName: 'a-very-long-model-name-that-goes-on-and-on-and-x', modelDir: dir }, { stackName: 'a-long-project-name-x-production' });
    assert.ok(built.model.endpointName.length <= 63, built.model.endpointName);
    assert.ok(built.model.endpointConfigName.length <= 63, built.model.endpointConfigName);
    assert.match(built.model.endpointConfigName, /-v1-[0-9a-f]{8}$/);
  });

  it('updates the endpoint blue/green: a canary of 10% of capacity for 5 minutes, 5 more before the old fleet goes', () => {
    assert.deepEqual(endpointResource.Properties.DeploymentConfig, {
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 }, WaitIntervalInSeconds: 300 },
        TerminationWaitInSeconds: 300,
        // An hour to provision the new fleet, the canary wait, the final wait.
        MaximumExecutionTimeoutInSeconds: 3600 + 300 + 300,
      },
      AutoRollbackConfiguration: { Alarms: [{ AlarmName: { Ref: latencyAlarmId } }, { AlarmName: { Ref: errorsAlarmId } }] },
    });
    // Updates keep the instance count autoscaling reached, but take the new data capture settings.
    assert.equal(endpointResource.Properties.RetainAllVariantProperties, true);
    assert.deepEqual(endpointResource.Properties.ExcludeRetainedVariantProperties, [{ VariantPropertyType: 'DataCaptureConfig' }]);
  });

  it("takes the canary's size and wait from its props", () => {
    const { template } = build({ canary: { percent: 50, waitMinutes: 60 } });
    template.hasResourceProperties('AWS::SageMaker::Endpoint', {
      DeploymentConfig: Match.objectLike({
        BlueGreenUpdatePolicy: {
          TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 50 }, WaitIntervalInSeconds: 3600 },
          TerminationWaitInSeconds: 3600,
          MaximumExecutionTimeoutInSeconds: 10_800,
        },
      }),
    });
  });
});

describe('SagemakerModel: rollback alarms', () => {
  const dimensions = (config: string) => [
    { Name: 'EndpointConfigName', Value: config },
    { Name: 'EndpointName', Value: 'shop-test-digits' },
    { Name: 'VariantName', Value: 'AllTraffic' },
  ];
  const everyMinute = { Namespace: 'AWS/SageMaker', Period: 60, EvaluationPeriods: 1, DatapointsToAlarm: 1, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' };

  it('p99 ModelLatency of the new endpoint config, in microseconds: 500 ms is 500000', () => {
    const props = R[latencyAlarmId]!.Properties;
    assert.deepEqual({ ...props, AlarmDescription: undefined, Tags: undefined }, {
      ...everyMinute,
      AlarmName: 'shop-test-digits-sagemaker-p99-model-latency',
      MetricName: 'ModelLatency',
      ExtendedStatistic: 'p99',
      Threshold: 500_000,
      Dimensions: dimensions(defaults.model.endpointConfigName),
      AlarmDescription: undefined,
      Tags: undefined,
    });
    assert.match(String(props.AlarmDescription), /above 500 ms in a minute\. During an endpoint update SageMaker stops the blue\/green deployment .* What to do: /);
  });

  it('Invocation5XXErrors of the new endpoint config above the threshold in a minute', () => {
    const props = R[errorsAlarmId]!.Properties;
    assert.deepEqual({ ...props, AlarmDescription: undefined, Tags: undefined }, {
      ...everyMinute,
      AlarmName: 'shop-test-digits-sagemaker-5xx-errors',
      MetricName: 'Invocation5XXErrors',
      Statistic: 'Sum',
      Threshold: 0,
      Dimensions: dimensions(defaults.model.endpointConfigName),
      AlarmDescription: undefined,
      Tags: undefined,
    });
  });

  it('takes the thresholds from its props', () => {
    const { template } = build({ alarms: { p99ModelLatencyMs: 120, invocation5xxErrors: 3 } });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ModelLatency', Threshold: 120_000 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Invocation5XXErrors', Threshold: 3 });
  });
});

describe('SagemakerModel: data capture', () => {
  it('captures 10% of inputs and outputs as JSON text, encrypted with its key, under data-capture/', () => {
    assert.deepEqual(configResource.Properties.DataCaptureConfig, {
      EnableCapture: true,
      InitialSamplingPercentage: 10,
      DestinationS3Uri: { 'Fn::Join': ['', ['s3://', { Ref: bucketId }, `/${DATA_CAPTURE_PREFIX}`]] },
      KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
      CaptureContentTypeHeader: { JsonContentTypes: ['application/json'] },
    });
  });

  it('writes to a KMS-encrypted (rotated key), SSL-only, non-public bucket whose captures expire', () => {
    const bucket = R[bucketId]!;
    assert.deepEqual(bucket.Properties.BucketEncryption, {
      ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } } }],
    });
    assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    assert.deepEqual(bucket.Properties.LifecycleConfiguration, {
      Rules: [
        { Id: 'expire-captures', Prefix: 'data-capture/', ExpirationInDays: 90, Status: 'Enabled' },
        { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
      ],
    });
    assert.equal(R[keyId]!.Properties.EnableKeyRotation, true);
    const [, policy] = only(R, 'AWS::S3::BucketPolicy');
    const statements = (policy.Properties.PolicyDocument as { Statement: { Effect: string; Condition: unknown; Principal: unknown; Action: string }[] }).Statement;
    assert.deepEqual(statements.map((s) => [s.Effect, s.Action, s.Principal, s.Condition]), [
      ['Deny', 's3:*', { AWS: '*' }, { Bool: { 'aws:SecureTransport': 'false' } }],
      ['Deny', 's3:*', { AWS: '*' }, { NumericLessThan: { 's3:TlsVersion': 1.2 } }],
    ]);
    // Captured requests are production data: kept when the stack goes.
    assert.equal((defaults.template.toJSON() as { Resources: Record<string, { DeletionPolicy?: string }> }).Resources[bucketId]!.DeletionPolicy, 'Retain');
    build({ captureRetentionDays: 7 }).template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-captures', ExpirationInDays: 7 })]) } });
  });

  it('captures nothing, and creates no bucket or key, at 0%', () => {
    const off = build({ dataCapturePercent: 0 });
    off.template.resourceCountIs('AWS::S3::Bucket', 0);
    off.template.resourceCountIs('AWS::KMS::Key', 0);
    assert.equal(only(off.resources, 'AWS::SageMaker::EndpointConfig')[1].Properties.DataCaptureConfig, undefined);
    assert.equal(off.model.captureBucket, undefined);
  });

  it("writes to a bucket it is given, with the bucket's key", () => {
    const given = build({}, {}, (stack) => ({ captureBucket: new s3.Bucket(stack, 'Shared', { encryption: s3.BucketEncryption.S3_MANAGED }) }));
    given.template.resourceCountIs('AWS::S3::Bucket', 1);
    given.template.resourceCountIs('AWS::KMS::Key', 0);
    const capture = only(given.resources, 'AWS::SageMaker::EndpointConfig')[1].Properties.DataCaptureConfig as { DestinationS3Uri: unknown; KmsKeyId?: unknown };
    assert.deepEqual(capture.DestinationS3Uri, { 'Fn::Join': ['', ['s3://', { Ref: logicalId(given.resources, 'Shared', 'AWS::S3::Bucket') }, '/data-capture']] });
    assert.equal(capture.KmsKeyId, undefined);
  });
});

describe('SagemakerModel: autoscaling', () => {
  it('registers the variant with Application Auto Scaling (its service-linked role) and tracks invocations per instance', () => {
    const [targetId, target] = only(R, 'AWS::ApplicationAutoScaling::ScalableTarget');
    assert.deepEqual({ ...target.Properties, Tags: undefined }, {
      ServiceNamespace: 'sagemaker',
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      ResourceId: { 'Fn::Join': ['', ['endpoint/', { 'Fn::GetAtt': [endpointId, 'EndpointName'] }, '/variant/AllTraffic']] },
      MinCapacity: 1,
      MaxCapacity: 2,
      Tags: undefined,
    });
    assert.equal(SCALABLE_DIMENSION, 'sagemaker:variant:DesiredInstanceCount');
    const [, policy] = only(R, 'AWS::ApplicationAutoScaling::ScalingPolicy');
    assert.deepEqual(policy.Properties, {
      PolicyName: 'shop-test-digits-invocations-per-instance',
      PolicyType: 'TargetTrackingScaling',
      ScalingTargetId: { Ref: targetId },
      TargetTrackingScalingPolicyConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        TargetValue: 1000,
        ScaleOutCooldown: 60,
        ScaleInCooldown: 300,
      },
    });
  });

  it('takes min, max, the target and the initial count from its props', () => {
    const { template } = build({ instanceCount: 2, autoscaling: { minInstances: 2, maxInstances: 6, targetInvocationsPerInstance: 250 } });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 250 }) });
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', { ProductionVariants: [Match.objectLike({ InitialInstanceCount: 2 })] });
  });
});

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

function statementsOf(resources: Record<string, Resource>, rolePrefix: string): Statement[] {
  const policies = Object.values(resources).filter(
    (r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref.startsWith(rolePrefix)),
  );
  return policies.flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

const fnJoin = (...parts: unknown[]) => ({ 'Fn::Join': ['', parts] as [string, unknown[]] });

describe('SagemakerModel: least-privilege roles', () => {
  it('the execution role: only SageMaker may assume it, and it has no managed policies', () => {
    const role = R[roleId]!.Properties;
    assert.deepEqual(role.AssumeRolePolicyDocument, { Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'sagemaker.amazonaws.com' } }], Version: '2012-10-17' });
    assert.equal(role.ManagedPolicyArns, undefined);
    assert.equal(role.Policies, undefined);
  });

  it('the execution role: pull that image, log in to ECR, read that object, its logs and instance metrics, read its alarms, write captures', () => {
    const logGroup = fnJoin('arn:', partition, ':logs:', region, ':', accountId, ':log-group:', { Ref: logicalId(R, 'DigitsEndpointLogs', 'AWS::Logs::LogGroup') });
    const alarmArn = (name: string) => fnJoin('arn:', partition, ':cloudwatch:', region, ':', accountId, `:alarm:${name}`);
    assert.deepEqual(statementsOf(R, 'DigitsExecutionRole'), [
      { Sid: 'PullTritonImage', Effect: 'Allow', Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: fnJoin('arn:', partition, ':ecr:', region, ':', imageAccount, ':repository/sagemaker-tritonserver') },
      { Sid: 'EcrLogin', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
      {
        Sid: 'ReadModelData',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: fnJoin('arn:', partition, ':s3:::', { 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' }, `/${defaults.model.modelData.assetHash}.gz`),
      },
      { Sid: 'WriteEndpointLogs', Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'], Resource: [fnJoin(...logGroup['Fn::Join'][1], ':log-stream:*'), logGroup] },
      { Sid: 'PutInstanceMetrics', Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': '/aws/sagemaker/Endpoints' } } },
      { Sid: 'ReadRollbackAlarms', Effect: 'Allow', Action: 'cloudwatch:DescribeAlarms', Resource: [alarmArn('shop-test-digits-sagemaker-5xx-errors'), alarmArn('shop-test-digits-sagemaker-p99-model-latency')] },
      { Sid: 'WriteCaptures', Effect: 'Allow', Action: 's3:PutObject', Resource: fnJoin({ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/data-capture/*') },
      { Sid: 'EncryptCaptures', Effect: 'Allow', Action: ['kms:Encrypt', 'kms:GenerateDataKey'], Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } },
    ]);
    // The endpoint's log group is the one SageMaker writes to; deleted with the endpoint, so that a new
    // endpoint of the same name can create it again.
    defaults.template.hasResource('AWS::Logs::LogGroup', { Properties: { LogGroupName: '/aws/sagemaker/Endpoints/shop-test-digits', RetentionInDays: 30 }, DeletionPolicy: 'Delete' });
    defaults.template.hasResource('AWS::Logs::LogGroup', { Properties: { LogGroupName: Match.absent() }, DeletionPolicy: 'Retain' });
  });

  it('the execution role: no wildcard but the two actions that have no resource type, each explained in the source', () => {
    const wildcards = statementsOf(R, 'DigitsExecutionRole').filter((s) => JSON.stringify(s.Resource).includes('*"') && !JSON.stringify(s.Resource).includes(':log-stream:*') && !JSON.stringify(s.Resource).includes('/data-capture/*'));
    assert.deepEqual(wildcards.map((s) => [s.Action, s.Resource]), [
      ['ecr:GetAuthorizationToken', '*'],
      ['cloudwatch:PutMetricData', '*'],
    ]);
    for (const s of statementsOf(R, 'DigitsExecutionRole')) assert.ok(![s.Action].flat().some((a) => a.includes('*')), `no wildcard action in ${s.Sid}`);
    const source = readFileSync(join(PROJECT_ROOT, 'lib', 'sagemaker', 'sagemaker-model.ts'), 'utf8');
    assert.match(source, /\/\/ ecr:GetAuthorizationToken has no resource type: IAM accepts only "\*" for it\./);
    assert.match(source, /\/\/ cloudwatch:PutMetricData has no resource type either: "\*", limited by the condition/);
  });

  it('without data capture, the execution role cannot write to any bucket', () => {
    const sids = statementsOf(build({ dataCapturePercent: 0 }).resources, 'DigitsExecutionRole').map((s) => s.Sid);
    assert.deepEqual(sids, ['PullTritonImage', 'EcrLogin', 'ReadModelData', 'WriteEndpointLogs', 'PutInstanceMetrics', 'ReadRollbackAlarms']);
  });

  it('the proxy role: its own log group and InvokeEndpoint on exactly this endpoint, nothing else', () => {
    const role = R[logicalId(R, 'DigitsProxyRole', 'AWS::IAM::Role')]!.Properties;
    assert.deepEqual(role.AssumeRolePolicyDocument, { Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }], Version: '2012-10-17' });
    assert.equal(role.ManagedPolicyArns, undefined);
    assert.deepEqual(statementsOf(R, 'DigitsProxyRole'), [
      { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logicalId(R, 'DigitsProxyLogs', 'AWS::Logs::LogGroup'), 'Arn'] } },
      { Effect: 'Allow', Action: 'sagemaker:InvokeEndpoint', Resource: { 'Fn::GetAtt': [endpointId, 'EndpointArn'] } },
    ]);
  });

  it('grantInvoke gives another principal InvokeEndpoint on this endpoint only', () => {
    const { app, cleanup } = createTestApp();
    cleanups.push(cleanup);
    const stack = new Stack(app, 'GrantStack', { stackName: 'shop-test' });
    const model = new SagemakerModel(stack, 'Digits', { modelName: 'digits', modelVersion: 1, modelDir: DIGITS_DIR, proxyEntry: PROXY_STUB });
    const other = new iam.Role(stack, 'Other', { assumedBy: new iam.AccountRootPrincipal() });
    model.grantInvoke(other);
    const resources = (Template.fromStack(stack).toJSON() as { Resources: Record<string, Resource> }).Resources;
    assert.deepEqual(statementsOf(resources, 'Other'), [{ Effect: 'Allow', Action: 'sagemaker:InvokeEndpoint', Resource: { 'Fn::GetAtt': [logicalId(resources, 'DigitsEndpoint', 'AWS::SageMaker::Endpoint'), 'EndpointArn'] } }]);
  });
});

describe('SagemakerModel: the proxy function', () => {
  it('Node.js 22 on arm64, the settings in its environment, a timeout above its longest call, logs kept a month', () => {
    const [, fn] = only(R, 'AWS::Lambda::Function');
    assert.deepEqual(
      { ...fn.Properties, Code: undefined, Role: undefined, Description: undefined, Tags: undefined },
      {
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 512,
        // 3 attempts of 2 s and 2 s more, plus a second.
        Timeout: 9,
        LoggingConfig: { LogGroup: { Ref: logicalId(R, 'DigitsProxyLogs', 'AWS::Logs::LogGroup') } },
        Environment: {
          Variables: {
            ENDPOINT_NAME: 'shop-test-digits',
            MODEL_NAME: 'digits',
            INVOKE_TIMEOUT_MS: '2000',
            MAX_BODY_BYTES: '1048576',
            MAX_BATCH_SIZE: '1000',
            EXPLAIN_MAX_INSTANCES: '16',
            EXPLAIN_TIMEOUT_MS: '5000',
            EXPLAIN_MAX_EVALUATIONS: '65536',
            POWERTOOLS_SERVICE_NAME: 'mlship-digits',
            POWERTOOLS_METRICS_NAMESPACE: 'mlship',
            LOG_LEVEL: 'INFO',
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
        Code: undefined,
        Role: undefined,
        Description: undefined,
        Tags: undefined,
      },
    );
    assert.equal(proxyTimeoutSeconds(2000), 9);
    defaults.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30, LogGroupName: Match.absent() });
  });

  it('takes its limits and sizing from its props', () => {
    const { template } = build({ invokeTimeoutMs: 5000, maxBodyBytes: 4096, maxBatchSize: 64, proxyMemoryMb: 1024 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: proxyTimeoutSeconds(5000),
      Environment: { Variables: Match.objectLike({ INVOKE_TIMEOUT_MS: '5000', MAX_BODY_BYTES: '4096', MAX_BATCH_SIZE: '64' }) },
    });
  });

  it("bundles its entry with the model's model.json next to index.js", () => {
    const [, fn] = only(R, 'AWS::Lambda::Function');
    const dir = join(defaults.outdir, `asset.${(fn.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`);
    assert.ok(existsSync(join(dir, 'index.js')));
    assert.equal(readFileSync(join(dir, 'model.json'), 'utf8'), readFileSync(join(DIGITS_DIR, 'model.json'), 'utf8'));
  });

  it('tags every resource with the model', () => {
    defaults.template.hasResourceProperties('AWS::SageMaker::Endpoint', { Tags: [{ Key: 'model', Value: 'digits' }] });
    defaults.template.hasResourceProperties('AWS::Lambda::Function', { Tags: [{ Key: 'model', Value: 'digits' }] });
  });
});

describe('SagemakerModel: validation', () => {
  const valid: SagemakerModelSettings = {
    instanceType: 'ml.g5.xlarge',
    instanceCount: 1,
    autoscaling: { minInstances: 1, maxInstances: 2, targetInvocationsPerInstance: 1000 },
    dataCapturePercent: 10,
    canary: { percent: 10, waitMinutes: 5 },
    alarms: { p99ModelLatencyMs: 500, invocation5xxErrors: 0 },
    tritonVersion: '24.09',
    maxBatchSize: 1000,
    maxBodyBytes: 1024 * 1024,
    invokeTimeoutMs: 2000,
    proxyMemoryMb: 512,
    captureRetentionDays: 90,
  };

  it('accepts the defaults', () => {
    assert.deepEqual(sagemakerModelProblems(valid), []);
    assert.deepEqual(defaults.model.settings, valid);
  });

  const cases: [string, Partial<SagemakerModelSettings>, string][] = [
    ['an instance type of another form', { instanceType: 'g5.xlarge' }, "instanceType must look like ml.<family>.<size>, e.g. 'ml.g5.xlarge', received 'g5.xlarge'"],
    ['an unknown instance family', { instanceType: 'ml.x1.large' }, "instanceType must be of a known instance family (g4dn, g5, g6, g6e, p3, p4d, p5, c5, c6i, m5, m6i, r5), received 'ml.x1.large'"],
    ['min above max', { autoscaling: { minInstances: 3, maxInstances: 2, targetInvocationsPerInstance: 1000 }, instanceCount: 2 }, 'autoscaling.minInstances must be at most autoscaling.maxInstances (2), received 3'],
    ['no instances', { autoscaling: { minInstances: 0, maxInstances: 2, targetInvocationsPerInstance: 1000 } }, 'autoscaling.minInstances must be an integer, 1 or more, received 0'],
    ['a fractional maximum', { autoscaling: { minInstances: 1, maxInstances: 2.5, targetInvocationsPerInstance: 1000 } }, 'autoscaling.maxInstances must be an integer, 1 or more, received 2.5'],
    ['an initial count outside min..max', { instanceCount: 3 }, 'instanceCount must be between autoscaling.minInstances and maxInstances (1..2), received 3'],
    ['a zero initial count', { instanceCount: 0 }, 'instanceCount must be an integer, 1 or more, received 0'],
    ['a zero scaling target', { autoscaling: { minInstances: 1, maxInstances: 2, targetInvocationsPerInstance: 0 } }, 'autoscaling.targetInvocationsPerInstance must be a number above 0, received 0'],
    ['a capture share over 100', { dataCapturePercent: 101 }, 'dataCapturePercent must be an integer between 0 and 100, received 101'],
    ['a canary over 50%', { canary: { percent: 60, waitMinutes: 5 } }, "canary.percent must be an integer between 1 and 50 (SageMaker's canary is at most half of the new fleet), received 60"],
    ['a canary wait over an hour', { canary: { percent: 10, waitMinutes: 61 } }, 'canary.waitMinutes must be an integer between 1 and 60 (SageMaker waits at most an hour between steps), received 61'],
    ['a zero latency threshold', { alarms: { p99ModelLatencyMs: 0, invocation5xxErrors: 0 } }, 'alarms.p99ModelLatencyMs must be a number of milliseconds above 0, received 0'],
    ['a negative error threshold', { alarms: { p99ModelLatencyMs: 500, invocation5xxErrors: -1 } }, 'alarms.invocation5xxErrors must be an integer, 0 or more, received -1'],
    ['a Triton version of another form', { tritonVersion: '2.50.0' }, "tritonVersion must look like '24.09', received '2.50.0'"],
    ['a batch over what Triton takes', { maxBatchSize: TRITON_MAX_BATCH_SIZE + 1 }, `maxBatchSize must be an integer between 1 and ${TRITON_MAX_BATCH_SIZE} (Triton's max_batch_size: each request reaches Triton as one batch), received ${TRITON_MAX_BATCH_SIZE + 1}`],
    ['a body over 6 MiB', { maxBodyBytes: 7 * 1024 * 1024 }, `maxBodyBytes must be an integer between 1 and 6291456, received ${7 * 1024 * 1024}`],
    ['an invoke timeout that would outlast API Gateway', { invokeTimeoutMs: 9000 }, 'invokeTimeoutMs must be a whole number of milliseconds, 1 or more, small enough that 3 attempts and 2000 ms fit the 29 s API Gateway limit, received 9000'],
    ['too little proxy memory', { proxyMemoryMb: 64 }, 'proxyMemoryMb must be an integer between 128 and 10240, received 64'],
    ['no capture retention', { captureRetentionDays: 0 }, 'captureRetentionDays must be an integer, 1 or more, received 0'],
  ];
  for (const [what, change, message] of cases) {
    it(`refuses ${what}`, () => {
      assert.deepEqual(sagemakerModelProblems({ ...valid, ...change }), [message]);
    });
  }

  it('throws every problem at synth, from the props', () => {
    assert.throws(() => build({ instanceType: 'ml.x1.large', canary: { percent: 60 } }), {
      message: "instanceType must be of a known instance family (g4dn, g5, g6, g6e, p3, p4d, p5, c5, c6i, m5, m6i, r5), received 'ml.x1.large'; canary.percent must be an integer between 1 and 50 (SageMaker's canary is at most half of the new fleet), received 60",
    });
  });

  it('refuses a bad model name or version, and a folder holding another model', () => {
    assert.throws(() => build({ modelName: 'Digits' }), /modelName must be 2-48 lower-case letters, digits or dashes, starting with a letter, received 'Digits'/);
    assert.throws(() => build({ modelVersion: 0 }), /modelVersion must be an integer, 1 or more, received 0/);
    assert.throws(() => build({ modelVersion: 2 }), /modelDir .*digits\/1 holds digits v1, expected digits v2/);
    const project = createFixtureProject();
    cleanups.push(project.cleanup);
    const empty = join(project.root, 'empty');
    mkdirSync(empty);
    assert.throws(() => build({ modelDir: empty }), /modelDir .*empty has no model\.json: Triton's config\.pbtxt is generated from it/);
    rmSync(join(project.root, 'breast-cancer', '1', 'model.onnx'));
    assert.throws(() => build({ modelName: 'breast-cancer', modelDir: join(project.root, 'breast-cancer', '1') }), /has no model\.onnx/);
  });

  it('refuses a proxy entry that does not exist', () => {
    assert.throws(() => build({ proxyEntry: join(tempDir(), 'missing.ts') }), /proxyEntry .*missing\.ts not found: the SageMaker proxy must exist to build its function/);
  });
});
