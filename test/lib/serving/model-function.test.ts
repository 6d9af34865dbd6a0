// ModelFunction on its own: its defaults and every props validation.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ModelFunction, type ModelFunctionProps } from '../../../lib/serving/model-function';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject } from '../../fixtures/model-folder';

const project = createFixtureProject();
const cleanups: (() => void)[] = [project.cleanup];
after(() => cleanups.forEach((cleanup) => cleanup()));
const base: ModelFunctionProps = { modelName: 'digits', modelVersion: 3, modelDir: join(project.root, 'digits', '1') };

/** A stack in its own app: an app synthesizes once. */
function newStack(): Stack {
  const { app, cleanup } = createTestApp();
  cleanups.push(cleanup);
  return new Stack(app, 'FunctionStack');
}

describe('ModelFunction', () => {
  it('defaults to 2048 MB, 10 s, arm64, no reserved concurrency, a month of logs', () => {
    const stack = newStack();
    const model = new ModelFunction(stack, 'Digits', base);
    assert.equal(model.modelName, 'digits');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      MemorySize: 2048,
      Timeout: 10,
      Architectures: ['arm64'],
      ReservedConcurrentExecutions: Match.absent(),
      Description: 'mlship model digits v3: ONNX inference (onnxruntime-node)',
      Environment: { Variables: Match.objectLike({ MODEL_VERSION: '3', MAX_BODY_BYTES: '1048576', MAX_BATCH_SIZE: '1000', EXPLAIN_MAX_INSTANCES: '16', EXPLAIN_TIMEOUT_MS: '5000', EXPLAIN_MAX_EVALUATIONS: '65536' }) },
    });
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
  });

  it(":explain's limits reach the handler's environment; the default deadline is at most half a short timeout", () => {
    const stack = newStack();
    new ModelFunction(stack, 'Digits', { ...base, timeoutSeconds: 20, explain: { maxInstances: 4, timeoutMs: 15_000, maxEvaluations: 1000 } });
    new ModelFunction(stack, 'Quick', { ...base, modelName: 'quick', timeoutSeconds: 3 });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 20, Environment: { Variables: Match.objectLike({ EXPLAIN_MAX_INSTANCES: '4', EXPLAIN_TIMEOUT_MS: '15000', EXPLAIN_MAX_EVALUATIONS: '1000' }) } });
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 3, Environment: { Variables: Match.objectLike({ MODEL_NAME: 'quick', EXPLAIN_TIMEOUT_MS: '1500' }) } });
  });

  it('takes the log retention it is given', () => {
    const stack = newStack();
    new ModelFunction(stack, 'Digits', { ...base, logRetention: logs.RetentionDays.ONE_WEEK });
    Template.fromStack(stack).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  const invalid: [string, Partial<ModelFunctionProps>, string][] = [
    ['a model name with capitals', { modelName: 'Digits' }, "modelName must be 2-48 lower-case letters, digits or dashes, starting with a letter, received 'Digits'"],
    ['version 0', { modelVersion: 0 }, 'modelVersion must be an integer between 1 and 9007199254740991, received 0'],
    ['memory below 128 MB', { memoryMb: 64 }, 'memoryMb must be an integer between 128 and 10240, received 64'],
    ['memory above 10240 MB', { memoryMb: 16_384 }, 'memoryMb must be an integer between 128 and 10240, received 16384'],
    ['a timeout longer than API Gateway waits', { timeoutSeconds: 30 }, 'timeoutSeconds must be an integer between 1 and 29, received 30'],
    ['a fractional timeout', { timeoutSeconds: 2.5 }, 'timeoutSeconds must be an integer between 1 and 29, received 2.5'],
    ['a body limit above the Lambda payload limit', { maxBodyBytes: 7 * 1024 * 1024 }, 'maxBodyBytes must be an integer between 1 and 6291456, received 7340032'],
    ['a batch size of 0', { maxBatchSize: 0 }, 'maxBatchSize must be an integer between 1 and 10000, received 0'],
    ['reserved concurrency 0', { reservedConcurrency: 0 }, 'reservedConcurrency must be an integer between 1 and 100000, received 0'],
    [
      'an explain deadline as long as the timeout',
      { timeoutSeconds: 5, explain: { maxInstances: 16, timeoutMs: 5000, maxEvaluations: 100 } },
      "explain.timeoutMs must be an integer below the function's timeout (timeoutSeconds 5 = 5000 ms), received 5000",
    ],
    ['no instance to explain', { explain: { maxInstances: 0, timeoutMs: 100, maxEvaluations: 100 } }, 'explain.maxInstances must be an integer between 1 and 256, received 0'],
  ];
  for (const [what, patch, message] of invalid) {
    it(`rejects ${what}`, () => {
      assert.throws(() => new ModelFunction(newStack(), 'Digits', { ...base, ...patch }), { message });
    });
  }
});
