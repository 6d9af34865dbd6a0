// InferenceApi on its own: its defaults and every props validation, with plain inline functions
// standing in for the model functions (no images to stage).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { InferenceApi, type InferenceApiProps } from '../../lib/inference-api';
import { createTestApp } from '../fixtures/cdk-app';

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((cleanup) => cleanup()));

function newStack(): Stack {
  const { app, cleanup } = createTestApp();
  cleanups.push(cleanup);
  return new Stack(app, 'ApiStack');
}

function inlineFunction(stack: Stack, id: string): lambda.IFunction {
  return new lambda.Function(stack, id, { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 })') });
}

function build(props: (stack: Stack) => InferenceApiProps): { api: InferenceApi; template: Template } {
  const stack = newStack();
  const api = new InferenceApi(stack, 'Api', props(stack));
  return { api, template: Template.fromStack(stack) };
}

describe('InferenceApi', () => {
  it('works with only models: stage dev, 100/200 throttling, package version in /v2', () => {
    const { api, template } = build((stack) => ({ models: [{ name: 'iris', handler: inlineFunction(stack, 'Iris') }] }));
    assert.equal(api.stageName, 'dev');
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'mlship-dev' });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'dev',
      MethodSettings: [
        { DataTraceEnabled: false, HttpMethod: '*', ResourcePath: '/*', ThrottlingBurstLimit: 200, ThrottlingRateLimit: 100 },
        ...['GET /~1v2~1models~1iris', 'GET /~1v2~1models~1iris~1ready', 'POST /~1v2~1models~1iris~1infer', 'GET /~1v1~1models~1iris', 'POST /~1v1~1models~1iris:predict'].map((key) => {
          const [HttpMethod, ResourcePath] = key.split(' ');
          return { DataTraceEnabled: false, HttpMethod, ResourcePath, ThrottlingBurstLimit: 200, ThrottlingRateLimit: 100 };
        }),
      ],
    });
    template.resourceCountIs('AWS::Lambda::Permission', 5);
    assert.deepEqual(Object.keys(template.toJSON().Outputs ?? {}), [], 'no outputs of its own');
  });

  it('reports the given server version', () => {
    const { template } = build((stack) => ({ models: [{ name: 'iris', handler: inlineFunction(stack, 'Iris') }], serverVersion: '9.9.9' }));
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      Integration: { Type: 'MOCK', IntegrationResponses: [{ StatusCode: '200', ResponseTemplates: { 'application/json': '{"name":"mlship","version":"9.9.9","extensions":[]}' } }] },
    });
  });

  const invalid: [string, (stack: Stack) => InferenceApiProps, string | RegExp][] = [
    ['no models', () => ({ models: [] }), 'models must name at least one model, received none'],
    ['a stage name with a dash', (stack) => ({ stageName: 'prod-1', models: [{ name: 'iris', handler: inlineFunction(stack, 'F') }] }), "stageName must be 1-128 letters, digits or underscores, received 'prod-1'"],
    ['a negative default rate', (stack) => ({ defaultThrottle: { rateLimit: -1, burstLimit: 1 }, models: [{ name: 'iris', handler: inlineFunction(stack, 'F') }] }), 'defaultThrottle.rateLimit must be a number of requests per second, 0 or more, received -1'],
    ['a fractional burst', (stack) => ({ models: [{ name: 'iris', handler: inlineFunction(stack, 'F'), throttle: { rateLimit: 1, burstLimit: 1.5 } }] }), 'models[0].throttle.burstLimit must be an integer, 0 or more, received 1.5'],
    ['a model name that is not a URL segment', (stack) => ({ models: [{ name: 'Iris/2', handler: inlineFunction(stack, 'F') }] }), "models[0].name must be 2-48 lower-case letters, digits or dashes, starting with a letter, received 'Iris/2'"],
    [
      'a model named twice',
      (stack) => ({ models: [{ name: 'iris', handler: inlineFunction(stack, 'F') }, { name: 'iris', handler: inlineFunction(stack, 'G') }] }),
      "models[1].name must be unique, received 'iris' twice",
    ],
  ];
  for (const [what, props, message] of invalid) {
    it(`rejects ${what}`, () => {
      const stack = newStack();
      assert.throws(() => new InferenceApi(stack, 'Api', props(stack)), typeof message === 'string' ? { message } : message);
    });
  }
});
