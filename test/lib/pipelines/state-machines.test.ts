// The batch scoring and retrain state machines as the shipped manifest synthesizes them: names, logging,
// tracing, the states that matter (Distributed Map with its reader, batcher, writer, tolerance and
// retries; Batch Transform for the SageMaker model; the retrain gate), the triggers, the registry, and
// roles limited to the buckets, prefixes, functions, topic and parameter they use. Both definitions pass
// asl-validator once their references are resolved as the local runner resolves them.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { loadManifest, resolveManifestPath } from '../../../lambdas/core/manifest/load';
import { forEachState } from '../../../local/pipelines/checks';
import type { JsonObject } from '../../../local/pipelines/runner';
import { stateMachineDefinition, synthesizeStackTemplate } from '../../../local/pipelines/stack-template';

type Validator = (definition: unknown, options?: { checkArn?: boolean; checkPaths?: boolean }) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as Validator;
const loaded = loadManifest(resolveManifestPath(undefined));
const { template: json } = synthesizeStackTemplate(loaded);
const template = Template.fromJSON(json);
const resources = json.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
function statementsOf(policyIdPrefix: string): Statement[] {
  return Object.entries(resources)
    .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith(policyIdPrefix))
    .flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
/** Actions AWS only grants on `*` (X-Ray segments, CloudWatch Logs delivery for state machine logging). */
const RESOURCE_STAR_ONLY = /^(xray:|logs:(CreateLogDelivery|DeleteLogDelivery|DescribeLogGroups|DescribeResourcePolicies|GetLogDelivery|ListLogDeliveries|PutResourcePolicy|UpdateLogDelivery)$)/;

function assertScoped(prefix: string): void {
  const statements = statementsOf(prefix);
  assert.ok(statements.length > 0, `policies of ${prefix}`);
  for (const s of statements) {
    for (const action of actions(s)) assert.ok(!action.includes('*') || /^s3:(GetBucket|GetObject|List|Abort|PutObject)|^kms:(GenerateDataKey|ReEncrypt)/.test(action), `${prefix}: wildcard action ${action}`);
    if (JSON.stringify(s.Resource) === '"*"') assert.ok(actions(s).every((a) => RESOURCE_STAR_ONLY.test(a)), `${prefix}: ${actions(s).join(', ')} on *`);
  }
}

function definition(name: string): JsonObject {
  return stateMachineDefinition(json, name);
}

function statesOf(def: JsonObject): Map<string, JsonObject> {
  const states = new Map<string, JsonObject>();
  forEachState(def, (name, state) => states.set(name, state as JsonObject));
  return states;
}

describe('the batch scoring state machine', () => {
  const def = definition('mlship-dev-batch');
  const states = statesOf(def);

  it('is named for the stage, logs with execution data to a log group kept a month, and is traced', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'mlship-dev-batch',
      LoggingConfiguration: { Level: Match.anyValue(), IncludeExecutionData: true, Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BatchStateMachineLogs'), 'Arn'] } } }] },
      TracingConfiguration: { Enabled: true },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', Match.objectLike({ RetentionInDays: 30 }));
  });

  it('scores a Lambda model in a Distributed Map: the plan\'s ranges of rowsPerBatch rows, one per call, tolerance, results written, throttling retried with backoff', () => {
    const map = states.get('Score breast-cancer');
    assert.ok(map, `states: ${[...states.keys()].join(', ')}`);
    assert.equal(map.Type, 'Map');
    assert.deepEqual((map.ItemProcessor as JsonObject).ProcessorConfig, { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    const reader = map.ItemReader as JsonObject;
    assert.deepEqual(reader.ReaderConfig, { InputType: 'JSONL' });
    assert.equal((reader.Parameters as JsonObject)['Key.$'], '$.plan.itemsKey', 'the items are the plan\'s ranges, not the user\'s file');
    assert.deepEqual(Object.keys(map.ItemSelector as JsonObject).sort(), ['end.$', 'file.$', 'firstRow.$', 'rows.$', 'start.$']);
    // Plan writes the manifest's rowsPerBatch into the plan function's settings: each item is one batch of that many rows.
    const plan = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function' && /batch scoring: checks the input/.test(String(r.Properties.Description)))!;
    const batchModels = JSON.parse(String(((plan.Properties.Environment as JsonObject).Variables as JsonObject).BATCH_MODELS)) as Record<string, { rowsPerBatch?: number }>;
    assert.equal(batchModels['breast-cancer']!.rowsPerBatch, loaded.models[0]!.entry.batch.rowsPerBatch);
    const batcher = map.ItemBatcher as JsonObject;
    assert.equal(batcher.MaxItemsPerBatch, 1, 'one range (a batch of rowsPerBatch rows) per scorer call');
    assert.deepEqual(Object.keys(batcher.BatchInput as JsonObject).sort(), ['format.$', 'model', 'workPrefix.$']);
    assert.equal(map.ToleratedFailurePercentage, 5);
    assert.ok(map.ResultWriter, 'results written to the bucket');
    const scorer = statesOf(map.ItemProcessor as JsonObject).get('Score batch breast-cancer')!;
    const throttling = (scorer.Retry as JsonObject[]).find((r) => (r.ErrorEquals as string[]).includes('Lambda.TooManyRequestsException'));
    assert.ok(throttling, 'throttling retried');
    assert.ok((throttling.BackoffRate as number) > 1 && throttling.JitterStrategy === 'FULL', `backoff with jitter: ${JSON.stringify(throttling)}`);
  });

  it('scores the SageMaker model with a Batch Transform job in the same state machine', () => {
    const transform = states.get('Transform digits');
    assert.ok(transform);
    assert.equal(transform.Resource, 'arn:aws:states:::sagemaker:createTransformJob.sync');
    const parameters = transform.Parameters as JsonObject;
    assert.deepEqual((parameters.TransformInput as JsonObject).SplitType, 'Line');
    assert.equal(parameters.BatchStrategy, 'SingleRecord');
    assert.ok(states.has('Collect digits'));
  });

  it('ends with a summary and notifies success and failure alike', () => {
    assert.ok(states.has('Summarise'));
    const notifications = [...states.entries()].filter(([name, s]) => name.startsWith('Notify ') && s.Resource === 'arn:aws:states:::sns:publish');
    assert.ok(notifications.length >= 2, `notify states: ${notifications.map(([n]) => n).join(', ')}`);
  });

  it('passes asl-validator', () => {
    const { isValid, errorsText } = aslValidator(structuredClone(def), { checkArn: true, checkPaths: true });
    assert.equal(isValid, true, errorsText('\n'));
  });

  it('limits every role to the data bucket, its functions, its topic and its transform jobs', () => {
    for (const prefix of ['BatchPlan', 'BatchScore', 'BatchCollect', 'BatchSummarise', 'BatchStateMachine']) assertScoped(prefix);
    const machine = statementsOf('BatchStateMachineRole');
    const transform = machine.find((s) => actions(s).includes('sagemaker:CreateTransformJob'))!;
    assert.match(JSON.stringify(transform.Resource), /transform-job\/mlship-dev-digits-\*/);
    assert.match(JSON.stringify(machine.find((s) => actions(s).includes('sns:Publish'))!.Resource), /PipelinesTopic/);
    // The scorer reads its range of the input, wherever it is, and writes the run's work files only.
    const scorer = statementsOf('BatchScoreBreastCancer').filter((s) => /PipelinesDataBucket/.test(JSON.stringify(s.Resource)));
    assert.ok(scorer.some((s) => actions(s).some((a) => a.startsWith('s3:GetObject'))), 'the scorer reads the input');
    const writes = scorer.filter((st) => actions(st).some((a) => /^s3:(Put|Delete|Abort)/.test(a)));
    assert.ok(writes.length > 0, 'the scorer writes its parts');
    for (const s of writes) assert.match(JSON.stringify(s.Resource), /_work\/\*/, `the scorer writes only work files: ${JSON.stringify(s)}`);
  });
});

describe('the retrain state machine', () => {
  const def = definition('mlship-dev-retrain');
  const states = statesOf(def);

  it('is named for the stage, logs everything with execution data, and is traced', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'mlship-dev-retrain',
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true, Destinations: Match.anyValue() },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('gates the candidate against the live model before registering it', () => {
    const gate = [...states.values()].find((s) => s.Type === 'Choice' && JSON.stringify(s.Choices).includes('NumericGreaterThanEqualsPath'));
    assert.ok(gate, 'a Choice comparing the candidate with the threshold');
    for (const step of ['Gather data', 'Train candidate', 'Evaluate', 'Register', 'Notify registered', 'Notify rejected', 'Notify failure']) assert.ok([...states.keys()].some((n) => n.startsWith(step)), `${step} in ${[...states.keys()].join(', ')}`);
  });

  it('starts on the manifest schedule and when the model\'s drift alarm goes into ALARM', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(7 days)',
      Targets: [Match.objectLike({ Input: '{"model":"breast-cancer"}', RetryPolicy: Match.anyValue(), DeadLetterConfig: Match.anyValue() })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.cloudwatch'], 'detail-type': ['CloudWatch Alarm State Change'], detail: { alarmName: ['mlship-dev-breast-cancer-drift'], state: { value: ['ALARM'] } } },
      Targets: [Match.objectLike({ Input: '{"model":"breast-cancer"}' })],
    });
  });

  it('registers into a versioned, KMS-encrypted, TLS-only registry that is kept', () => {
    const [id, registry] = Object.entries(resources).find(([key, r]) => r.Type === 'AWS::S3::Bucket' && key.startsWith('RetrainRegistry'))!;
    assert.deepEqual(registry.Properties.VersioningConfiguration, { Status: 'Enabled' });
    assert.match(JSON.stringify(registry.Properties.BucketEncryption), /aws:kms/);
    assert.equal((resources[id] as unknown as { DeletionPolicy: string }).DeletionPolicy, 'Retain');
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::S3::BucketPolicy', { Bucket: { Ref: id }, PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } });
  });

  it('limits every role: the training data and work prefixes, the registry, the candidate parameter, the topic', () => {
    for (const prefix of ['RetrainGather', 'RetrainTrain', 'RetrainEvaluate', 'RetrainRegister', 'RetrainStateMachine']) assertScoped(prefix);
    const gather = JSON.stringify(statementsOf('RetrainGather'));
    assert.match(gather, /training-data\/\*/);
    const ssm = statementsOf('RetrainRegister').find((s) => actions(s).includes('ssm:PutParameter'))!;
    const [parameterId] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::SSM::Parameter' && r.Properties.Name === '/mlship/mlship/dev/breast-cancer/candidate')!;
    assert.match(JSON.stringify(ssm.Resource), new RegExp(`"Ref":"${parameterId}"`), 'only the candidate parameter');
  });

  it('passes asl-validator', () => {
    const { isValid, errorsText } = aslValidator(structuredClone(def), { checkArn: true, checkPaths: true });
    assert.equal(isValid, true, errorsText('\n'));
  });
});
