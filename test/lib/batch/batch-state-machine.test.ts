// The batch scoring state machine as the shipped manifest synthesizes it: its name, logging and tracing, the
// Distributed Map with its reader, batcher, writer, tolerance and retries, Batch Transform for the SageMaker
// model, and roles limited to what they use; the definition passes asl-validator once its references are
// resolved as the local runner resolves them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../../local/pipelines/runner';
import { Match } from 'aws-cdk-lib/assertions';
import { aslValidator, loaded, template, resources, statementsOf, actions, assertScoped, definition, statesOf } from '../../fixtures/shipped-state-machines';

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
