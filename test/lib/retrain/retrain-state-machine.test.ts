// The retrain state machine as the shipped manifest synthesizes it: the gate, the triggers, the registry, and
// roles limited to the buckets, prefixes, functions, topic and parameter they use; the definition passes
// asl-validator once its references are resolved as the local runner resolves them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { aslValidator, template, resources, statementsOf, actions, assertScoped, definition, statesOf } from '../../fixtures/shipped-state-machines';

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
