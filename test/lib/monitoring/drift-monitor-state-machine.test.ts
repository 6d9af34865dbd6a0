// The drift monitor's state machine as the shipped manifest synthesizes it: the schedule starts it; the plan
// decides between the monitor function alone and a Distributed Map over the plan's ranges (its children's
// function, batcher, writer), whose partials the same function merges; failures are notified; the roles are
// limited to the capture prefixes and monitor/; the definition passes asl-validator. And the props' validation.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { DEFAULT_FAN_OUT_ABOVE_BYTES, DEFAULT_SHARE_BYTES } from '../../../lambdas/core/monitoring/pipeline/types';
import { DRIFT_MONITOR_IMAGE_HANDLERS, DriftMonitor, type DriftMonitorProps } from '../../../lib/monitoring/drift-monitor';
import type { PipelineImage } from '../../../lib/pipelines/pipeline-image';
import type { JsonObject } from '../../../local/pipelines/runner';
import { createTestApp } from '../../fixtures/cdk-app';
import { actions, aslValidator, assertScoped, definition, json, resources, statementsOf, statesOf, template } from '../../fixtures/shipped-state-machines';

const NAME = 'mlship-dev-drift-monitor';
const def = definition(NAME);
const states = statesOf(def);
const idOf = (type: string, test: (r: { Properties: Record<string, unknown> }) => boolean) => Object.entries(resources).find(([, r]) => r.Type === type && test(r))![0];
const machineId = idOf('AWS::StepFunctions::StateMachine', (r) => r.Properties.StateMachineName === NAME);
const functionId = (description: RegExp) => idOf('AWS::Lambda::Function', (r) => description.test(String(r.Properties.Description)));
const monitorFn = functionId(/drift-monitor: compares each model's captured traffic/);
const planFn = functionId(/drift-monitor: finds what arrived/);
const foldFn = functionId(/drift-monitor: folds one share/);
/** The function a Lambda task calls (its Resource, resolved locally to the function's logical id). */
const invoked = (state: JsonObject) => String(state.Resource).split(':').at(-1);
/** The S3 object ARNs a role's statements grant `action` on, as `<bucket id>/<pattern>`. */
function objectsGranted(policyPrefix: string, action: string): string[] {
  return statementsOf(policyPrefix)
    .filter((s) => actions(s).includes(action))
    .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
    .map((r) => {
      const join = (r as { 'Fn::Join'?: [string, [{ 'Fn::GetAtt': [string, string] }, string]] })['Fn::Join'];
      return join ? `${join[1][0]['Fn::GetAtt'][0]}${join[1][1]}` : JSON.stringify(r);
    })
    .sort();
}

describe('the drift monitor state machine', () => {
  it('is what the schedule starts (not the function), named for the stage, logged with execution data and traced', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: NAME,
      Targets: [Match.objectLike({ Arn: { Ref: machineId }, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 } })],
    });
    const rules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties.Targets).includes(monitorFn));
    assert.deepEqual(rules, [], 'no rule invokes the function directly: one run at a time goes through the state machine');
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: NAME,
      LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: true, Destinations: Match.anyValue() },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('plans first, then either runs the monitor function alone or fans out, on the plan\'s fanOut', () => {
    assert.equal(def.StartAt, 'Plan');
    const plan = states.get('Plan')!;
    assert.equal(invoked(plan), planFn);
    assert.deepEqual(plan.Parameters, { 'input.$': '$', 'executionName.$': '$$.Execution.Name' });
    assert.equal(plan.ResultPath, '$.plan');
    const choice = states.get('Fan out?')!;
    assert.equal(choice.Type, 'Choice');
    assert.deepEqual(choice.Choices, [{ Variable: '$.plan.fanOut', BooleanEquals: true, Next: 'Fold shares' }]);
    assert.equal(choice.Default, 'Monitor');
    const monitor = states.get('Monitor')!;
    assert.equal(invoked(monitor), monitorFn, 'the single-function path: the same function as before');
    assert.deepEqual(monitor.Parameters, { 'time.$': '$.plan.time' });
    // the threshold and share size the plan judges by, from the capacity figure
    const planEnv = (resources[planFn]!.Properties.Environment as { Variables: Record<string, string> }).Variables;
    assert.deepEqual([Number(planEnv.FAN_OUT_ABOVE_BYTES), Number(planEnv.SHARE_BYTES)], [DEFAULT_FAN_OUT_ABOVE_BYTES, DEFAULT_SHARE_BYTES]);
  });

  it('fans out in a Distributed Map over the plan\'s ranges: rangesPerShare ranges a child, results written, throttling retried; then the function merges', () => {
    const map = states.get('Fold shares')!;
    assert.equal(map.Type, 'Map');
    assert.deepEqual((map.ItemProcessor as JsonObject).ProcessorConfig, { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    const reader = map.ItemReader as JsonObject;
    assert.equal(reader.Resource, 'arn:aws:states:::s3:getObject');
    assert.deepEqual(reader.ReaderConfig, { InputType: 'JSONL' });
    assert.equal((reader.Parameters as JsonObject)['Key.$'], '$.plan.itemsKey');
    assert.deepEqual(Object.keys(map.ItemSelector as JsonObject).sort(), ['end.$', 'hour.$', 'key.$', 'lines.$', 'model.$', 'start.$', 'version.$']);
    const batcher = map.ItemBatcher as JsonObject;
    assert.equal(batcher.MaxItemsPerBatchPath, '$.plan.rangesPerShare');
    assert.deepEqual(batcher.BatchInput, { 'runPrefix.$': '$.plan.runPrefix' });
    assert.equal(map.ToleratedFailurePercentage ?? 0, 0, 'a share that fails for good fails the run (and is notified)');
    assert.equal(((map.ResultWriter as JsonObject).Parameters as JsonObject)['Prefix.$'], '$.plan.resultsPrefix');
    const child = statesOf(map.ItemProcessor as JsonObject).get('Fold share')!;
    assert.equal(invoked(child), foldFn);
    const throttling = (child.Retry as JsonObject[]).find((r) => (r.ErrorEquals as string[]).includes('Lambda.TooManyRequestsException'));
    assert.ok(throttling && (throttling.BackoffRate as number) > 1 && throttling.JitterStrategy === 'FULL', `backoff with jitter: ${JSON.stringify(throttling)}`);
    assert.equal(map.Next, 'Merge');
    const merge = states.get('Merge')!;
    assert.equal(invoked(merge), monitorFn, 'the merge is the monitor function (one at a time: reserved concurrency 1), given the plan');
    assert.deepEqual(merge.Parameters, { 'plan.$': '$.plan' });
    assert.equal(resources[foldFn]!.Properties.MemorySize, 1769, 'a whole vCPU for a child');
    assert.equal(resources[monitorFn]!.Properties.ReservedConcurrentExecutions, 1);
  });

  it('notifies a failure at any step to the notifications topic, then fails', () => {
    for (const step of ['Plan', 'Monitor', 'Fold shares', 'Merge']) {
      const catcher = (states.get(step)!.Catch as JsonObject[])[0]!;
      assert.deepEqual(catcher.ErrorEquals, ['States.ALL']);
      assert.equal(states.get(String(catcher.Next))!.Next, 'Notify failure', `${step} goes to the failure notice`);
    }
    const notify = states.get('Notify failure')!;
    assert.equal(notify.Resource, 'arn:aws:states:::sns:publish');
    assert.match(JSON.stringify(statementsOf('DriftMonitorStateMachineRole').find((s) => actions(s).includes('sns:Publish'))!.Resource), /PipelinesTopic/);
  });

  it('passes asl-validator', () => {
    const { isValid, errorsText } = aslValidator(structuredClone(def), { checkArn: true, checkPaths: true });
    assert.equal(isValid, true, errorsText('\n'));
  });

  it('limits the plan to reading captures and summaries, a child to reading captures, both and the map to writing monitor/runs/; no role has more than it uses', () => {
    for (const prefix of ['DriftMonitorPlan', 'DriftMonitorFold', 'DriftMonitorStateMachine']) assertScoped(prefix);
    const bucket = idOf('AWS::S3::Bucket', (r) => JSON.stringify(r.Properties.LifecycleConfiguration ?? '').includes('monitor/runs/'));
    assert.deepEqual(objectsGranted('DriftMonitorPlanRole', 's3:GetObject'), [`${bucket}/data-capture/*`, `${bucket}/lambda/*`, `${bucket}/monitor/summaries/*`]);
    assert.deepEqual(objectsGranted('DriftMonitorFoldRole', 's3:GetObject'), [`${bucket}/data-capture/*`, `${bucket}/lambda/*`]);
    for (const role of ['DriftMonitorPlanRole', 'DriftMonitorFoldRole']) {
      assert.deepEqual(objectsGranted(role, 's3:PutObject'), [`${bucket}/monitor/runs/*`], `${role} writes only run files`);
      assert.ok(!statementsOf(role).some((s) => actions(s).some((a) => /^s3:Delete/.test(a))), `${role} deletes nothing`);
    }
    for (const action of ['s3:GetObject', 's3:PutObject']) {
      assert.deepEqual(objectsGranted('DriftMonitorStateMachineRole', action), [`${bucket}/monitor/runs/*`], `the map's reader and writer: run files only (${action})`);
    }
    const keys = statementsOf('DriftMonitorStateMachineRole').filter((s) => actions(s).includes('kms:Decrypt'));
    assert.ok(keys.some((s) => /CaptureKey/.test(JSON.stringify(s.Resource))), 'the map reads its items in the encrypted capture bucket');
    assert.ok(json, 'synthesized');
  });
});

describe('DriftMonitor props', () => {
  const testApp = createTestApp();
  after(() => testApp.cleanup());
  let stacks = 0;
  const make = (props: Partial<DriftMonitorProps>) => {
    const stack = new Stack(testApp.app, `FanOut${++stacks}`);
    const repository = ecr.Repository.fromRepositoryName(stack, 'Repo', 'pipeline');
    const image = { handlers: Object.keys(DRIFT_MONITOR_IMAGE_HANDLERS), code: () => lambda.DockerImageCode.fromEcr(repository) } as unknown as PipelineImage;
    return new DriftMonitor(stack, 'DriftMonitor', { project: 'mlship', stage: 'dev', image, captureBucket: new s3.Bucket(stack, 'Captures'), captureKey: new kms.Key(stack, 'CaptureKey'), topic: new sns.Topic(stack, 'Topic'), topicKey: new kms.Key(stack, 'TopicKey'), models: [{ name: 'm', version: 1, runtime: 'lambda' }], ...props });
  };

  it('refuses a share smaller than a capture object can be, a negative threshold, and a concurrency out of range, naming the value', () => {
    assert.throws(() => make({ shareBytes: 1000 }), /shareBytes must be a whole number of bytes, at least 128 MiB \(134217728\), received 1000/);
    assert.throws(() => make({ fanOutAboveBytes: -1 }), /fanOutAboveBytes must be a whole number of bytes, 0 or more, received -1/);
    assert.throws(() => make({ maxConcurrency: 0 }), /maxConcurrency must be a whole number from 1 to 10000, received 0/);
    assert.throws(() => make({ maxConcurrency: 1.5 }), /received 1\.5/);
  });

  it('writes its threshold and share size into the plan function', () => {
    const monitor = make({ fanOutAboveBytes: 1024, shareBytes: 256 * 1024 ** 2, maxConcurrency: 7 });
    const stack = Stack.of(monitor);
    const resolved = stack.resolve((monitor.planFunction.node.defaultChild as lambda.CfnFunction).environment) as { variables: Record<string, string> };
    assert.deepEqual([resolved.variables.FAN_OUT_ABOVE_BYTES, resolved.variables.SHARE_BYTES], ['1024', String(256 * 1024 ** 2)]);
  });
});
