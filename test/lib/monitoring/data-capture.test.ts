// The capture path and the drift monitor in the synthesized stack, for a manifest with a Lambda and a SageMaker
// model: the capture bucket (KMS with rotation, SSL only, no public access, captures expiring), the subscription
// filter on the Lambda model's log group into the delivery stream (processors, dynamic partitioning prefix, error
// prefix, encryption), the SageMaker endpoint capturing into the same bucket, the monitor's schedule from the
// manifest, its settings and its role exactly.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DEFAULT_DRIFT_THRESHOLDS, type DriftThresholds } from '../../../lambdas/core/monitoring/drift/thresholds';
import { DRIFT_METRICS_NAMESPACE } from '../../../lambdas/core/monitoring/contracts';
import { CAPTURE_ERROR_PREFIX, CAPTURE_FILTER_PATTERN, CAPTURE_OUTPUT_PREFIX, DataCapture } from '../../../lib/monitoring/data-capture';
import { loadManifest } from '../../../lambdas/core/manifest/load';
import { MlshipStack } from '../../../lib/stack/mlship-stack';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject } from '../../fixtures/model-folder';

const project = createFixtureProject({
  models: [
    { name: 'breast-cancer', version: 3, features: ['radius', 'texture', 'perimeter', 'area'], labels: ['malignant', 'benign'] },
    { name: 'digits', features: Array.from({ length: 16 }, (_, i) => `px${i}`), labels: ['0', '1', '2'] },
  ],
  manifest: {
    project: 'shop',
    stage: 'test',
    monitoring: { schedule: 'cron(15 * * * ? *)', windowHours: 6, captureRetentionDays: 45 },
    models: [
      { name: 'breast-cancer', version: 3, monitoring: { capturePercent: 25, drift: { driftShare: 0, minSampleSize: 200 } } },
      { name: 'digits', version: 1, runtime: 'sagemaker', sagemaker: { instanceType: 'ml.g6.xlarge', dataCapturePercent: 20 } },
    ],
  },
});
const testApp = createTestApp();
after(() => {
  testApp.cleanup();
  project.cleanup();
});

const stack = new MlshipStack(testApp.app, undefined, { loaded: loadManifest(project.manifestPath) });
const template = Template.fromStack(stack);
type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: unknown };
const json = template.toJSON() as { Resources: Record<string, Resource>; Outputs: Record<string, { Value: unknown }> };
const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
const bucketId = id(stack.dataCapture.bucket as never);
const keyId = id(stack.dataCapture.key as never);

describe('capture bucket', () => {
  it('is KMS-encrypted with its own rotating key, SSL only, private, and its captures expire after captureRetentionDays', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: Match.stringLikeRegexp('shop-test: encrypts captured requests') });
    const bucket = json.Resources[bucketId]!;
    assert.deepEqual((bucket.Properties.BucketEncryption as { ServerSideEncryptionConfiguration: unknown[] }).ServerSideEncryptionConfiguration, [
      { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } } },
    ]);
    assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    const rules = (bucket.Properties.LifecycleConfiguration as { Rules: { Id: string; Prefix?: string; ExpirationInDays?: number }[] }).Rules;
    assert.deepEqual(
      rules.filter((r) => r.ExpirationInDays !== undefined).map((r) => [r.Prefix, r.ExpirationInDays]),
      [['lambda/', 45], ['data-capture/', 45], ['predictions/', 45], ['ground-truth/', 45], ['capture-errors/', 45], ['monitor/summaries/', 45], ['monitor/runs/', 3]],
      'captures, predictions and the monitor\'s hour summaries expire, its fan-out\'s run files after 3 days; monitor/state/ does not',
    );
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    assert.deepEqual(json.Outputs.CaptureBucketName!.Value, { Ref: bucketId });
  });
});

describe('Lambda capture path', () => {
  const fnId = id(stack.modelFunctions.get('breast-cancer')!.function as never);
  const logGroupId = id(stack.modelFunctions.get('breast-cancer')!.logGroup as never);
  const streamId = id(stack.dataCapture.deliveryStream as never);

  it("the function captures at the model's capturePercent", () => {
    const env = (json.Resources[fnId]!.Properties.Environment as { Variables: Record<string, string> }).Variables;
    assert.equal(env.CAPTURE_PERCENT, '25');
  });

  it("a subscription filter on the model's log group sends the capture and prediction lines to the delivery stream", () => {
    template.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
      LogGroupName: { Ref: logGroupId },
      FilterPattern: '{ ($.mlshipCapture = 1) || ($.mlshipPrediction = 1) }',
      DestinationArn: { 'Fn::GetAtt': [streamId, 'Arn'] },
      RoleArn: Match.anyValue(),
    });
    assert.equal(CAPTURE_FILTER_PATTERN, '{ ($.mlshipCapture = 1) || ($.mlshipPrediction = 1) }');
  });

  it('the delivery stream unzips, extracts the messages, partitions by model, version and hour into the encrypted bucket', () => {
    const stream = json.Resources[streamId]!.Properties as Record<string, Record<string, unknown>>;
    assert.equal(stream.DeliveryStreamName as unknown, 'shop-test-capture');
    assert.deepEqual(stream.DeliveryStreamEncryptionConfigurationInput, { KeyType: 'AWS_OWNED_CMK' });
    const s3 = stream.ExtendedS3DestinationConfiguration as Record<string, unknown>;
    assert.deepEqual(s3.BucketARN, { 'Fn::GetAtt': [bucketId, 'Arn'] });
    assert.equal(s3.Prefix, '!{partitionKeyFromQuery:kind}/model=!{partitionKeyFromQuery:model}/version=!{partitionKeyFromQuery:version}/!{timestamp:yyyy/MM/dd/HH}/');
    assert.equal(s3.Prefix, CAPTURE_OUTPUT_PREFIX);
    assert.equal(s3.ErrorOutputPrefix, CAPTURE_ERROR_PREFIX);
    assert.match(String(s3.ErrorOutputPrefix), /^capture-errors\/!\{firehose:error-output-type\}\//);
    assert.deepEqual(s3.DynamicPartitioningConfiguration, { Enabled: true });
    assert.deepEqual(s3.EncryptionConfiguration, { KMSEncryptionConfig: { AWSKMSKeyARN: { 'Fn::GetAtt': [keyId, 'Arn'] } } });
    const processors = (s3.ProcessingConfiguration as { Enabled: boolean; Processors: { Type: string; Parameters?: { ParameterName: string; ParameterValue: string }[] }[] }).Processors;
    assert.deepEqual(
      processors.map((p) => p.Type),
      ['Decompression', 'CloudWatchLogProcessing', 'MetadataExtraction', 'AppendDelimiterToRecord'],
    );
    const param = (type: string, name: string) => processors.find((p) => p.Type === type)?.Parameters?.find((x) => x.ParameterName === name)?.ParameterValue;
    assert.equal(param('Decompression', 'CompressionFormat'), 'GZIP');
    assert.equal(param('CloudWatchLogProcessing', 'DataMessageExtraction'), 'true');
    // kind: predictions/ for a prediction line, lambda/ for a capture line (the drift monitor's layout, unchanged).
    assert.equal(param('MetadataExtraction', 'MetadataExtractionQuery'), '{"kind":(if .mlshipPrediction == 1 then "predictions" else "lambda" end),"model":.model,"version":.version}');
    assert.equal(param('MetadataExtraction', 'JsonParsingEngine'), 'JQ-1.6');
  });

  it('a model at capturePercent 0 is still subscribed (every prediction is recorded); a bad share is refused at synth', () => {
    const s = new Stack(new App(), 'S');
    const capture = new DataCapture(s, 'C', { namePrefix: 'x-y' });
    const fn = new lambda.Function(s, 'F', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>1') });
    const logGroup = new logs.LogGroup(s, 'L');
    capture.addFunction({ modelName: 'm', function: fn, logGroup, capturePercent: 0 });
    Template.fromStack(s).resourceCountIs('AWS::Logs::SubscriptionFilter', 1);
    Template.fromStack(s).hasResourceProperties('AWS::Logs::SubscriptionFilter', { FilterPattern: CAPTURE_FILTER_PATTERN });
    Template.fromStack(s).hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { CAPTURE_PERCENT: '0' } } });
    assert.throws(() => capture.addFunction({ modelName: 'm', function: fn, logGroup, capturePercent: 101 }), /capturePercent of m must be between 0 and 100, received 101/);
    assert.throws(() => new DataCapture(s, 'D', { namePrefix: 'x-y', retentionDays: 0 }), /retentionDays must be a whole number of days, 1 or more, received 0/);
  });
});

describe('prediction records of a function that only records predictions (a SageMaker model\'s proxy)', () => {
  it('addLogGroup subscribes its log group with the same filter, into the same stream', () => {
    const s = new Stack(new App(), 'P');
    const capture = new DataCapture(s, 'C', { namePrefix: 'x-y' });
    const logGroup = new logs.LogGroup(s, 'ProxyLogs');
    capture.addLogGroup('digits', logGroup);
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::Logs::SubscriptionFilter', 1);
    t.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
      LogGroupName: { Ref: s.getLogicalId(logGroup.node.defaultChild as never) },
      FilterPattern: CAPTURE_FILTER_PATTERN,
      DestinationArn: { 'Fn::GetAtt': [s.getLogicalId(capture.deliveryStream.node.defaultChild as never), 'Arn'] },
    });
  });
});

describe('SageMaker capture', () => {
  it("the endpoint captures its dataCapturePercent into the stage's capture bucket under data-capture/, with its key", () => {
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      DataCaptureConfig: Match.objectLike({
        InitialSamplingPercentage: 20,
        DestinationS3Uri: { 'Fn::Join': ['', ['s3://', { Ref: bucketId }, '/data-capture']] },
        KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
      }),
    });
    assert.equal(stack.sagemakerModels.get('digits')!.captureBucket, stack.dataCapture.bucket, 'no bucket of its own');
  });
});

describe('drift monitor', () => {
  const monitor = stack.driftMonitor;
  const fnId = id(monitor.function as never);
  const roleId = id(monitor.role as never);
  const topicId = id(stack.pipelineStorage.topic as never);
  const topicKeyId = id(stack.pipelineStorage.topicKey as never);

  it("runs on the manifest's schedule, through its state machine (which runs the function, or fans out)", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'shop-test-drift-monitor',
      ScheduleExpression: 'cron(15 * * * ? *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { Ref: id(monitor.stateMachine as never) }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 } })],
    });
  });

  it('runs from the pipeline image with its settings: bucket, topic, window, models with their drift thresholds and endpoint', () => {
    const fn = json.Resources[fnId]!.Properties as { Environment: { Variables: Record<string, unknown> }; PackageType: string; ReservedConcurrentExecutions: number; ImageConfig: { Command: string[] } };
    assert.equal(fn.PackageType, 'Image');
    assert.deepEqual(fn.ImageConfig.Command, ['drift-monitor/index.handler']);
    assert.equal(fn.ReservedConcurrentExecutions, 1);
    const env = fn.Environment.Variables;
    assert.deepEqual(env.CAPTURE_BUCKET, { Ref: bucketId });
    assert.deepEqual(env.TOPIC_ARN, { Ref: topicId });
    assert.equal(env.WINDOW_HOURS, '6');
    assert.equal(env.MODELS_DIR, '/opt/ml/models');
    assert.equal(env.STAGE, 'test');
    const models = JSON.parse(env.MONITORED_MODELS as string) as { name: string; version: string; runtime: string; endpointName?: string; drift: DriftThresholds }[];
    assert.deepEqual(models.map((m) => [m.name, m.version, m.runtime, m.endpointName]), [['breast-cancer', '3', 'lambda', undefined], ['digits', '1', 'sagemaker', stack.sagemakerModels.get('digits')!.endpointName]]);
    // every threshold written out (the template shows what the function judges by): the manifest's, else the default
    assert.deepEqual(models.map((m) => m.drift), [{ ...DEFAULT_DRIFT_THRESHOLDS, driftShare: 0, minSampleSize: 200 }, DEFAULT_DRIFT_THRESHOLDS]);
    assert.match(JSON.stringify(env.DASHBOARD_URL), /#dashboards(:name=|\/dashboard\/)shop-test/, 'the stage dashboard linked from reports');
  });

  it('its role reads captures, writes under monitor/ and deletes only monitor/summaries/, puts metrics in its namespace, publishes to the topic, writes its logs: nothing more', () => {
    const policies = Object.values(json.Resources).filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as { Ref: string }[]).some((x) => x.Ref === roleId));
    assert.equal(policies.length, 1);
    const statements = (policies[0]!.Properties.PolicyDocument as { Statement: { Sid: string; Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string }[] }).Statement;
    const byId = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    assert.deepEqual(Object.keys(byId).sort(), ['DeleteOldSummaries', 'ListCaptures', 'PublishReports', 'PutDriftMetrics', 'ReadCaptures', 'UseCaptureKey', 'UseTopicKey', 'WriteOwnLogs', 'WriteState']);
    assert.ok(statements.every((s) => s.Effect === 'Allow'), 'allows only');
    const b = { 'Fn::GetAtt': [bucketId, 'Arn'] };
    assert.deepEqual([byId.ListCaptures!.Action, byId.ListCaptures!.Resource], ['s3:ListBucket', b]);
    assert.deepEqual([byId.ReadCaptures!.Action, byId.ReadCaptures!.Resource], ['s3:GetObject', { 'Fn::Join': ['', [b, '/*']] }]);
    assert.deepEqual([byId.WriteState!.Action, byId.WriteState!.Resource], ['s3:PutObject', { 'Fn::Join': ['', [b, '/monitor/*']] }]);
    assert.deepEqual([byId.DeleteOldSummaries!.Action, byId.DeleteOldSummaries!.Resource], ['s3:DeleteObject', { 'Fn::Join': ['', [b, '/monitor/summaries/*']] }]);
    assert.deepEqual([byId.UseCaptureKey!.Action, byId.UseCaptureKey!.Resource], [['kms:Decrypt', 'kms:GenerateDataKey'], { 'Fn::GetAtt': [keyId, 'Arn'] }]);
    assert.deepEqual([byId.PutDriftMetrics!.Action, byId.PutDriftMetrics!.Resource, byId.PutDriftMetrics!.Condition], ['cloudwatch:PutMetricData', '*', { StringEquals: { 'cloudwatch:namespace': DRIFT_METRICS_NAMESPACE } }]);
    assert.deepEqual([byId.PublishReports!.Action, byId.PublishReports!.Resource], ['sns:Publish', { Ref: topicId }]);
    assert.deepEqual([byId.UseTopicKey!.Action, byId.UseTopicKey!.Resource], [['kms:Decrypt', 'kms:GenerateDataKey'], { 'Fn::GetAtt': [topicKeyId, 'Arn'] }]);
    assert.deepEqual([byId.WriteOwnLogs!.Action, byId.WriteOwnLogs!.Resource], [['logs:CreateLogStream', 'logs:PutLogEvents'], { 'Fn::GetAtt': [id(monitor.logGroup as never), 'Arn'] }]);
    const role = json.Resources[roleId]!.Properties as { ManagedPolicyArns?: unknown; Policies?: unknown; AssumeRolePolicyDocument: { Statement: { Principal: unknown }[] } };
    assert.equal(role.ManagedPolicyArns, undefined, 'no managed policies (not even basic execution)');
    assert.equal(role.Policies, undefined);
    assert.deepEqual(role.AssumeRolePolicyDocument.Statement.map((s) => s.Principal), [{ Service: 'lambda.amazonaws.com' }]);
  });
});
