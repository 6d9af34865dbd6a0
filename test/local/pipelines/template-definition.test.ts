// Taking a state machine's definition out of a synthesized template: DefinitionString as a string or an
// Fn::Join of strings and intrinsics, references resolved through the caller's map, pseudo parameters,
// DefinitionSubstitutions, and every unresolvable thing refused with its name. The CDK fixture's
// definition passes asl-validator once resolved.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, describe, it } from 'node:test';
import {
  definitionFromTemplate,
  localReferences,
  resolveString,
  stateMachineLogicalIds,
  TemplateDefinitionError,
} from '../../../local/pipelines/template-definition';
import { buildSfnFixture } from '../../fixtures/sfn-stack';

type Validator = (definition: unknown, options?: { checkArn?: boolean; checkPaths?: boolean }) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as Validator;

const FN_ARN = 'arn:aws:lambda:local:000000000000:function:Scorer';

function templateWith(properties: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { Resources: { Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: properties }, ...extra } };
}

describe('definitionFromTemplate', () => {
  it('parses a plain DefinitionString', () => {
    const definition = definitionFromTemplate(templateWith({ DefinitionString: '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}' }));
    assert.deepEqual(definition, { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } });
  });

  it('resolves Fn::Join with Fn::GetAtt (array and dotted forms), Ref and AWS::Partition', () => {
    const template = templateWith({
      DefinitionString: {
        'Fn::Join': ['', [
          '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"', { 'Fn::GetAtt': ['Scorer', 'Arn'] },
          '","Parameters":{"Bucket":"', { Ref: 'Data' }, '","Other":"', { 'Fn::GetAtt': 'Scorer.Arn' },
          '","Service":"arn:', { Ref: 'AWS::Partition' }, ':states:::s3:getObject"},"End":true}}}',
        ]],
      },
    });
    const definition = definitionFromTemplate(template, 'Machine', { references: { Scorer: { Arn: FN_ARN }, Data: 'data-bucket' } });
    assert.deepEqual((definition.States as Record<string, unknown>).A, {
      Type: 'Task',
      Resource: FN_ARN,
      Parameters: { Bucket: 'data-bucket', Other: FN_ARN, Service: 'arn:aws:states:::s3:getObject' },
      End: true,
    });
  });

  it('applies DefinitionSubstitutions, whose values may be intrinsics', () => {
    const template = templateWith({
      DefinitionString: '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${ScorerArn}","Comment":"${Stage}","End":true}}}',
      DefinitionSubstitutions: { ScorerArn: { 'Fn::GetAtt': ['Scorer', 'Arn'] }, Stage: 'prod' },
    });
    const definition = definitionFromTemplate(template, undefined, { references: { Scorer: { Arn: FN_ARN } } });
    assert.deepEqual((definition.States as Record<string, unknown>).A, { Type: 'Task', Resource: FN_ARN, Comment: 'prod', End: true });
  });

  it('refuses a ${name} that DefinitionSubstitutions does not define', () => {
    const template = templateWith({ DefinitionString: '{"StartAt":"${Missing}"}', DefinitionSubstitutions: { Other: 'x' } });
    assert.throws(() => definitionFromTemplate(template), /Machine\.Properties: the definition uses \$\{Missing\} but DefinitionSubstitutions has no 'Missing'/);
  });

  it('refuses a Ref or Fn::GetAtt with no local reference, naming it and where it is', () => {
    const template = templateWith({ DefinitionString: { 'Fn::Join': ['', ['{"A":"', { 'Fn::GetAtt': ['Ghost', 'Arn'] }, '"}']] } });
    assert.throws(
      () => definitionFromTemplate(template),
      (error: unknown) => error instanceof TemplateDefinitionError && /Machine\.Properties\.DefinitionString: cannot resolve \{"Fn::GetAtt":\["Ghost","Arn"\]\}: no local reference for 'Ghost'/.test(error.message),
    );
    assert.throws(() => definitionFromTemplate(templateWith({ DefinitionString: { Ref: 'Ghost' } })), /cannot resolve \{"Ref":"Ghost"\}: no local reference for 'Ghost'/);
    assert.throws(
      () => definitionFromTemplate(templateWith({ DefinitionString: { 'Fn::GetAtt': ['Scorer', 'Name'] } }), undefined, { references: { Scorer: { Arn: FN_ARN } } }),
      /cannot resolve \{"Fn::GetAtt":\["Scorer","Name"\]\}: the local reference for 'Scorer' has no 'Name'/,
    );
  });

  it('refuses intrinsics it cannot evaluate locally, and a definition in S3', () => {
    assert.throws(() => definitionFromTemplate(templateWith({ DefinitionString: { 'Fn::ImportValue': 'shared-arn' } })), /DefinitionString: cannot resolve Fn::ImportValue locally: \{"Fn::ImportValue":"shared-arn"\}/);
    assert.throws(() => definitionFromTemplate(templateWith({ DefinitionS3Location: { Bucket: 'b', Key: 'k' } })), /Machine\.Properties\.DefinitionS3Location: a definition stored in S3 cannot be read locally/);
    assert.throws(() => definitionFromTemplate(templateWith({ DefinitionString: '{"StartAt":' })), /Machine\.Properties\.DefinitionString is not JSON once resolved/);
  });

  it('asks for a logical id when there are several state machines, and refuses one that is not a state machine', () => {
    const template = templateWith({ DefinitionString: '{}' }, { Other: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: '{}' } }, Data: { Type: 'AWS::S3::Bucket' } });
    assert.deepEqual(stateMachineLogicalIds(template), ['Machine', 'Other']);
    assert.throws(() => definitionFromTemplate(template), /name the state machine: the template has Machine, Other/);
    assert.throws(() => definitionFromTemplate(template, 'Data'), /'Data' is not an AWS::StepFunctions::StateMachine of the template \(state machines: Machine, Other\)/);
  });

  it('resolves Fn::Sub and Fn::Select', () => {
    const options = { references: { Scorer: { Arn: FN_ARN, Ref: 'scorer' } } };
    assert.equal(resolveString({ 'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::Region}:${Scorer}:${Scorer.Arn}' }, options, 'here'), `arn:aws:x:local:scorer:${FN_ARN}`);
    assert.equal(resolveString({ 'Fn::Sub': ['${Own}-${Scorer}', { Own: { Ref: 'AWS::AccountId' } }] }, options, 'here'), '000000000000-scorer');
    assert.equal(resolveString({ 'Fn::Select': [1, ['a', { Ref: 'Scorer' }]] }, options, 'here'), 'scorer');
    assert.throws(() => resolveString({ 'Fn::Select': [5, ['a']] }, options, 'here'), /here: malformed Fn::Select/);
  });
});

describe('the CDK fixture', () => {
  const fixture = buildSfnFixture();
  after(() => fixture.cleanup());

  it('gives the definition that deploys, with local ARNs in place of the functions and the bucket name', () => {
    const definition = definitionFromTemplate(fixture.template, undefined, { references: localReferences(fixture.template) });
    const states = definition.States as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(states), ['Validate', 'NoModel', 'Prepare', 'ScoreRows', 'Summarise', 'Failed']);
    const map = states.ScoreRows!;
    assert.match(String((map.ItemProcessor as { States: { ScoreBatch: { Resource: string } } }).States.ScoreBatch.Resource), /^arn:aws:lambda:local:000000000000:function:Scorer[0-9A-F]{8}$/);
    assert.deepEqual(map.ItemReader, {
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW' },
      Parameters: { Bucket: 'data666c94c7', Key: 'input/rows.csv' },
    });
    assert.deepEqual(map.ResultWriter, {
      Resource: 'arn:aws:states:::s3:putObject',
      Parameters: { Bucket: 'data666c94c7', Prefix: 'output' },
      WriterConfig: { OutputType: 'JSONL', Transformation: 'COMPACT' },
    });
  });

  it('passes asl-validator once resolved', () => {
    const definition = definitionFromTemplate(fixture.template, undefined, { references: localReferences(fixture.template) });
    const { isValid, errorsText } = aslValidator(structuredClone(definition), { checkArn: true, checkPaths: true });
    assert.equal(isValid, true, errorsText('\n'));
  });
});
