// The retrain pipeline as a manifest's retrain blocks shape it: one state machine for every model with a
// block, the triggers each block asks for (a schedule, the drift alarm, neither), the gate's settings taken
// from the manifest and the live card, the control flow of the synthesized definition (gate boundary,
// rejected, failure at a step, an unknown model) run with local/pipelines, and the retrain blocks that stop synth.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { stringify } from 'yaml';
import type { ModelCardInput } from '../../../lambdas/core/models/model-card';
import { modelAlarmSpecs } from '../../../lambdas/core/monitoring/alarms/alarm-catalog';
import { loadManifest, ManifestError } from '../../../lambdas/core/manifest/load';
import { MlshipStack } from '../../../lib/stack/mlship-stack';
import { RETRAIN_STATES } from '../../../lib/retrain/retrain-pipeline';
import { forEachState } from '../../../local/pipelines/checks';
import { runStateMachine, type Json, type JsonObject, type TaskHandler } from '../../../local/pipelines/runner';
import { stateMachineDefinition } from '../../../local/pipelines/stack-template';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject, writeModelFolder } from '../../fixtures/model-folder';

/** What the built-in trainer records on a card: the label column and the stratified held-out split. */
const retrainable = (labelColumn: string) => (card: ModelCardInput): ModelCardInput => ({
  ...card,
  training: { family: 'logreg', labelColumn, seed: 7 },
  evaluation: { split: { strategy: 'stratified', testFraction: 0.25, seed: 7 }, trainSize: 300, testSize: 100, accuracy: 0.93, rocAuc: 0.97 },
});

const project = createFixtureProject({
  models: [
    { name: 'churn', features: ['tenure', 'spend', 'calls'], labels: ['stays', 'leaves'], card: retrainable('churned') },
    { name: 'fraud', version: 3, features: ['amount', 'hour', 'distance', 'age'], labels: ['ok', 'fraud'], card: retrainable('is_fraud') },
    { name: 'plain', features: ['a', 'b'], labels: ['x', 'y'] },
  ],
  manifest: {
    project: 'shop',
    stage: 'test',
    notifications: { emails: ['oncall@example.com'] },
    models: [
      // Only by hand: no schedule, and the drift alarm does not start it.
      { name: 'churn', version: 1, retrain: { onDrift: false } },
      { name: 'fraud', version: 3, retrain: { schedule: 'cron(0 3 ? * MON *)', metric: 'rocAuc', tolerance: 0.02, minRows: 250 } },
      { name: 'plain', version: 1 },
    ],
  },
});
const cleanups: (() => void)[] = [() => project.cleanup()];
after(() => cleanups.forEach((cleanup) => cleanup()));

function stackFor(manifestPath: string): MlshipStack {
  const { app, cleanup } = createTestApp();
  cleanups.push(cleanup);
  return new MlshipStack(app, undefined, { loaded: loadManifest(manifestPath) });
}

const loaded = loadManifest(project.manifestPath);
const stack = stackFor(project.manifestPath);
const template = Template.fromStack(stack);
const json = template.toJSON() as JsonObject & { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
const definition = stateMachineDefinition(json, 'shop-test-retrain');

function rulesOf(): { Properties: Record<string, unknown> }[] {
  // The retrain rules (the drift and quality monitors' schedules are rules of their own, tested in
  // test/lib/monitoring/data-capture.test.ts and test/lib/quality/quality-monitor.test.ts).
  return Object.values(json.Resources).filter((r) => r.Type === 'AWS::Events::Rule' && !/-(drift|quality)-monitor$/.test(String(r.Properties.Name)));
}

describe('RetrainPipeline from the manifest retrain blocks', () => {
  it('is one state machine, shop-test-retrain, retraining exactly the models with a block', () => {
    assert.ok(stack.retrainPipeline, 'the stack exposes retrainPipeline');
    template.resourcePropertiesCountIs('AWS::StepFunctions::StateMachine', { StateMachineName: 'shop-test-retrain' }, 1);
    const settings: string[] = [];
    forEachState(definition, (name) => {
      if (name.startsWith('Settings ')) settings.push(name);
    });
    assert.deepEqual(settings.sort(), ['Settings churn', 'Settings fraud'], 'a settings state per model with a retrain block, none for plain');
    assert.deepEqual([...stack.retrainPipeline.candidateParameters.keys()].sort(), ['churn', 'fraud']);
    template.resourcePropertiesCountIs('AWS::SSM::Parameter', { Name: Match.stringLikeRegexp('^/mlship/shop/test/.*/candidate$') }, 2);
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/mlship/shop/test/fraud/candidate' });
    template.hasOutput('RetrainStateMachineArn', {});
  });

  it('carries the gate settings from the manifest and the live version from the card', () => {
    let fraud: JsonObject | undefined;
    forEachState(definition, (name, state) => {
      if (name === RETRAIN_STATES.settings('fraud')) fraud = state as JsonObject;
    });
    assert.ok(fraud, 'Settings fraud exists');
    const settings = (fraud.Parameters as JsonObject).settings as JsonObject;
    const block = loaded.models[1]!.entry.retrain!;
    assert.equal(settings.liveVersion, 3);
    assert.equal(settings.metric, block.metric);
    assert.equal(settings.tolerance, block.tolerance);
    assert.equal(settings.minRows, block.minRows);
    assert.equal(settings.defaultDataPrefix, 'training-data/fraud/');
    assert.equal(settings.candidateParameter, '/mlship/shop/test/fraud/candidate');
  });

  it('triggers each model as its block says: fraud on its schedule and its drift alarm, churn only by hand', () => {
    const rules = rulesOf();
    assert.equal(rules.length, 2, `rules: ${JSON.stringify(rules.map((r) => r.Properties.Description))}`);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 3 ? * MON *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^RetrainStateMachine') }, Input: '{"model":"fraud"}', DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.cloudwatch'], 'detail-type': ['CloudWatch Alarm State Change'], detail: { alarmName: ['shop-test-fraud-drift'], state: { value: ['ALARM'] } } },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^RetrainStateMachine') }, Input: '{"model":"fraud"}' })],
    });
    assert.ok(rules.every((r) => !JSON.stringify(r).includes('churn')), 'no rule starts churn');
    assert.deepEqual(stack.retrainPipeline!.rules.get('churn'), undefined);
    // An event EventBridge cannot deliver lands in a queue whose alarm tells the topic.
    template.resourceCountIs('AWS::SQS::Queue', 1);
  });

  it('matches the drift alarm under the name the monitoring alarm catalog gives it', () => {
    const entry = loaded.models[1]!.entry;
    const drift = modelAlarmSpecs({ project: 'shop', stage: 'test', apiName: 'shop-test', apiStage: 'test', metricsNamespace: 'mlship', metricsService: 'mlship-fraud', functionName: 'fn' }, entry).find((s) => s.kind === 'drift');
    assert.ok(drift, 'the catalog has a drift alarm for fraud');
    const onDrift = rulesOf().find((r) => r.Properties.EventPattern !== undefined)!;
    assert.deepEqual((onDrift.Properties.EventPattern as { detail: { alarmName: string[] } }).detail.alarmName, [drift.name]);
  });

  it('lets the state machine role start nothing but its own functions, and the rules start only the state machine', () => {
    const roles = Object.entries(json.Resources).filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && /^RetrainStateMachine|^RetrainPipeline/.test(id) && !/Function/.test(id));
    assert.ok(roles.length > 0, 'the state machine has a policy');
    const invokes = roles.flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement).filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    const targets = JSON.stringify(invokes.map((s) => s.Resource));
    for (const fn of ['RetrainGatherFunction', 'RetrainTrainFunction', 'RetrainEvaluateFunction', 'RetrainRegisterFunction']) assert.match(targets, new RegExp(fn), `${fn} invokable`);
    assert.doesNotMatch(targets, /Batch|ModelFunction/, 'no batch or model function');
    // The role each rule's target assumes may start the retrain state machine and nothing else.
    const ruleRoles = rulesOf().flatMap((r) => (r.Properties.Targets as { RoleArn: { 'Fn::GetAtt': [string, string] } }[]).map((t) => t.RoleArn['Fn::GetAtt'][0]));
    assert.ok(ruleRoles.length === 2, `a role per rule target: ${ruleRoles.join(', ')}`);
    for (const role of new Set(ruleRoles)) {
      const statements = Object.values(json.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: role }]))
        .flatMap((r) => (r.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement);
      assert.ok(statements.length > 0, `policy of ${role}`);
      for (const s of statements) {
        assert.deepEqual([s.Action].flat(), ['states:StartExecution'], `${role}: ${JSON.stringify(s.Action)}`);
        assert.match(JSON.stringify(s.Resource), /^\{"Ref":"RetrainStateMachine[0-9A-F]+"\}$/, `${role} starts only the retrain state machine`);
      }
    }
  });
});

describe('the synthesized retrain definition, run locally with stand-in steps', () => {
  interface Run {
    status: string;
    error?: string;
    called: string[];
    notifications: { state: string; subject: string; message: string }[];
  }

  /** Runs the definition with `steps` standing in for the Lambda steps; SNS publishes are recorded. */
  async function run(input: Json, steps: Partial<Record<string, TaskHandler>>): Promise<Run> {
    const called: string[] = [];
    const notifications: Run['notifications'] = [];
    const publish = (state: string): TaskHandler => (i) => {
      const { Subject, Message } = i as { Subject?: string; Message?: string };
      notifications.push({ state, subject: String(Subject ?? ''), message: String(Message ?? '') });
      return { MessageId: `m-${notifications.length}` };
    };
    const S = RETRAIN_STATES;
    const handlers: Record<string, TaskHandler> = {
      [S.notifyRegistered]: publish(S.notifyRegistered),
      [S.notifyRejected]: publish(S.notifyRejected),
      [S.notifyFailure]: publish(S.notifyFailure),
    };
    for (const name of [S.gather, S.train, S.evaluate, S.register]) {
      handlers[name] = async (event, context) => {
        called.push(name);
        const step = steps[name];
        if (!step) throw Object.assign(new Error(`${name} was not expected to run`), { name: 'Unexpected' });
        return step(event, context);
      };
    }
    const result = await runStateMachine(definition, input, { taskHandlers: handlers, executionName: 'local-test' });
    return { status: result.status, ...(result.status === 'FAILED' ? { error: result.error } : {}), called, notifications };
  }

  const gather: TaskHandler = () => ({ rows: 400, rejected: 0 });
  const train: TaskHandler = () => ({ version: 4 });
  const evaluation = (candidateScore: number, threshold: number): TaskHandler => () => ({ candidateScore, threshold, rejectedMessage: `candidate ${candidateScore} below ${threshold}` });

  it('registers a candidate exactly at the threshold (no worse than the live model by more than the tolerance)', async () => {
    const result = await run({ model: 'fraud' }, { [RETRAIN_STATES.gather]: gather, [RETRAIN_STATES.train]: train, [RETRAIN_STATES.evaluate]: evaluation(0.95, 0.95), [RETRAIN_STATES.register]: () => ({ version: 4, message: 'fraud v4 registered' }) });
    assert.equal(result.status, 'SUCCEEDED');
    assert.deepEqual(result.called, ['Gather data', 'Train candidate', 'Evaluate', 'Register']);
    assert.deepEqual(result.notifications.map((n) => [n.state, n.subject, n.message]), [['Notify registered', 'shop-test: fraud candidate v4 registered', 'fraud v4 registered']]);
  });

  it('rejects a candidate below the threshold without registering it; the execution still succeeds and says why', async () => {
    const result = await run({ model: 'churn' }, { [RETRAIN_STATES.gather]: gather, [RETRAIN_STATES.train]: train, [RETRAIN_STATES.evaluate]: evaluation(0.9, 0.92) });
    assert.equal(result.status, 'SUCCEEDED');
    assert.ok(!result.called.includes('Register'), `Register not called: ${result.called.join(', ')}`);
    assert.deepEqual(result.notifications.map((n) => [n.state, n.subject, n.message]), [['Notify rejected', 'shop-test: churn candidate v4 not registered', 'candidate 0.9 below 0.92']]);
  });

  it('stops at a failing step, registers nothing, and the failure notification names the step and the error', async () => {
    const result = await run({ model: 'fraud' }, {
      [RETRAIN_STATES.gather]: gather,
      [RETRAIN_STATES.train]: () => {
        throw Object.assign(new Error('the label column is_fraud has one class only'), { name: 'TrainingError' });
      },
    });
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'TrainingError');
    assert.deepEqual(result.called, ['Gather data', 'Train candidate']);
    assert.equal(result.notifications.length, 1, JSON.stringify(result.notifications));
    const [failure] = result.notifications;
    assert.equal(failure!.state, 'Notify failure');
    assert.equal(failure!.subject, 'shop-test: retraining failed');
    assert.match(failure!.message, /failed at the step: Train candidate\n/);
    assert.match(failure!.message, /one class only/);
    assert.match(failure!.message, /live model is unchanged/);
  });

  it('fails an input naming no model it retrains, listing the ones it does, before any step runs', async () => {
    for (const input of [{ model: 'plain' }, { dataPrefix: 'training-data/x/' }, { model: 7 }] as Json[]) {
      const result = await run(input, {});
      assert.equal(result.status, 'FAILED', JSON.stringify(input));
      assert.equal(result.error, 'UnknownModel', JSON.stringify(input));
      assert.deepEqual(result.called, [], `no step for ${JSON.stringify(input)}`);
      assert.match(result.notifications[0]!.message, /failed at the step: Which model\n/);
      assert.match(result.notifications[0]!.message, /churn, fraud/);
    }
  });
});

describe('retrain blocks that stop synth', () => {
  const root = project.root;
  writeModelFolder(root, { name: 'bought', features: ['a', 'b', 'c'], card: (card) => ({ ...retrainable('y')(card), family: 'imported' }) });
  writeModelFolder(root, { name: 'flowers', features: ['a', 'b', 'c', 'd'], labels: ['setosa', 'versicolor', 'virginica'], card: retrainable('species') });
  let counter = 0;

  function synth(models: unknown[]): void {
    const file = join(root, `retrain-manifest-${++counter}.yaml`);
    writeFileSync(file, stringify({ project: 'shop', stage: 'test', models }));
    stackFor(file);
  }

  function assertProblems(fn: () => unknown, expected: readonly RegExp[]): void {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`);
      assert.equal(error.problems.length, expected.length, JSON.stringify(error.problems));
      expected.forEach((e, i) => assert.match(error.problems[i]!, e));
      return true;
    });
  }

  it('refuses retraining an imported model, naming the manifest path and what to do instead', () => {
    assertProblems(() => synth([{ name: 'churn', version: 1 }, { name: 'bought', version: 1, retrain: {} }]), [/^models\[1\]\.retrain applies only to the built-in families \(logreg, mlp\).*bought v1 was imported.*mlship import/]);
  });

  it('refuses a live model without the held-out split or label column the gate needs', () => {
    assertProblems(() => synth([{ name: 'plain', version: 1, retrain: {} }]), [/^models\[0\]\.retrain needs the live model's held-out split .*plain v1 has no evaluation$/, /^models\[0\]\.retrain needs the live model's label column .*plain v1 records none$/]);
  });

  it('refuses rocAuc as the gate metric of a multiclass model', () => {
    assertProblems(() => synth([{ name: 'flowers', version: 1, retrain: { metric: 'rocAuc' } }]), [/^models\[0\]\.retrain\.metric rocAuc applies to binary models; flowers has 3 classes: use accuracy or macroF1$/]);
  });

  it('builds no retrain state machine when no model has a block', () => {
    const file = join(root, 'no-retrain.yaml');
    writeFileSync(file, stringify({ project: 'shop', stage: 'test', models: [{ name: 'plain', version: 1 }] }));
    const plain = stackFor(file);
    assert.equal(plain.retrainPipeline, undefined);
    const t = Template.fromStack(plain);
    t.resourcePropertiesCountIs('AWS::StepFunctions::StateMachine', { StateMachineName: 'shop-test-retrain' }, 0);
    const rules = Object.values((t.toJSON() as { Resources: Record<string, { Type: string; Properties: { Name?: string } }> }).Resources).filter((r) => r.Type === 'AWS::Events::Rule');
    assert.deepEqual(rules.map((r) => r.Properties.Name).sort(), ['shop-test-drift-monitor', 'shop-test-quality-monitor'], 'the drift and quality monitors\' schedules only: no retrain trigger');
    assert.ok(!('RetrainStateMachineArn' in (t.toJSON() as { Outputs: Record<string, unknown> }).Outputs), 'no retrain output');
  });
});
