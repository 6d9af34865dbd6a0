// InferenceApi on its own: its defaults and every props validation, with plain inline functions
// standing in for the model functions (no images to stage).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { InferenceApi, OPEN_PATHS, type InferenceApiProps } from '../../../lib/serving/inference-api';
import { methodsByPath } from '../../fixtures/template-routes';
import { createTestApp } from '../../fixtures/cdk-app';

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
        ...['GET /~1v2~1models~1iris', 'GET /~1v2~1models~1iris~1ready', 'POST /~1v2~1models~1iris~1infer', 'GET /~1v1~1models~1iris', 'POST /~1v1~1models~1iris:predict', 'POST /~1v1~1models~1iris:explain'].map((key) => {
          const [HttpMethod, ResourcePath] = key.split(' ');
          return { DataTraceEnabled: false, HttpMethod, ResourcePath, ThrottlingBurstLimit: 200, ThrottlingRateLimit: 100 };
        }),
      ],
    });
    template.resourceCountIs('AWS::Lambda::Permission', 6);
    assert.deepEqual(Object.keys(template.toJSON().Outputs ?? {}), [], 'no outputs of its own');
  });

  it('reports the given server version', () => {
    const { template } = build((stack) => ({ models: [{ name: 'iris', handler: inlineFunction(stack, 'Iris') }], serverVersion: '9.9.9' }));
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      Integration: { Type: 'MOCK', IntegrationResponses: [{ StatusCode: '200', ResponseTemplates: { 'application/json': '{"name":"mlship","version":"9.9.9","extensions":[]}' } }] },
    });
  });

  it('requires IAM authorization on every method but the two health checks (the default)', () => {
    const { api, template } = build((stack) => ({ models: [{ name: 'iris', handler: inlineFunction(stack, 'Iris') }] }));
    assert.equal(api.authorization, 'iam');
    const routes = methodsByPath(template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>);
    let checked = 0;
    for (const [path, methods] of routes) {
      for (const m of methods) {
        const expected = OPEN_PATHS.includes(path) ? 'NONE' : 'AWS_IAM';
        assert.equal(m.properties.AuthorizationType, expected, `${m.httpMethod} ${path}`);
        assert.equal(m.properties.ApiKeyRequired, undefined, `${m.httpMethod} ${path}: no API key with IAM`);
        checked++;
      }
    }
    assert.ok(routes.has('/v2/models/iris/infer') && routes.has('/v2/health/live') && routes.has('/v2'), [...routes.keys()].join(' '));
    assert.ok(checked >= 15, `checked ${checked} methods`);
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    // Without a signature API Gateway says MISSING_AUTHENTICATION_TOKEN: the answer names both causes.
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'MISSING_AUTHENTICATION_TOKEN', StatusCode: '403', ResponseTemplates: { 'application/json': Match.stringLikeRegexp('missing_authentication.*SigV4') } });
  });

  it(':explain is a resource of each model with a POST method like :predict: the same integration and authorization, IAM or API key', () => {
    for (const authorization of ['iam', 'apiKey'] as const) {
      const { template } = build((stack) => ({
        models: [
          { name: 'iris', handler: inlineFunction(stack, 'Iris') },
          { name: 'wine', handler: inlineFunction(stack, 'Wine') },
        ],
        authorization,
        ...(authorization === 'apiKey' ? { apiKeys: [{ name: 'web' }] } : {}),
      }));
      const routes = methodsByPath(template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>);
      for (const model of ['iris', 'wine']) {
        const explain = routes.get(`/v1/models/${model}:explain`)?.find((m) => m.httpMethod === 'POST');
        const predict = routes.get(`/v1/models/${model}:predict`)?.find((m) => m.httpMethod === 'POST');
        assert.ok(explain && predict, `${model}: ${[...routes.keys()].join(' ')}`);
        assert.equal(explain.properties.AuthorizationType, authorization === 'iam' ? 'AWS_IAM' : 'NONE');
        assert.equal(explain.properties.AuthorizationType, predict.properties.AuthorizationType);
        assert.equal(explain.properties.ApiKeyRequired, predict.properties.ApiKeyRequired);
        assert.deepEqual(explain.properties.Integration, predict.properties.Integration, `${model}: :explain goes to the model's function as :predict does`);
        // Any other method on it answers 405, as on :predict.
        assert.deepEqual(routes.get(`/v1/models/${model}:explain`)!.map((m) => m.httpMethod).sort(), routes.get(`/v1/models/${model}:predict`)!.map((m) => m.httpMethod).sort());
      }
    }
  });

  it('with apiKey: an API key on every method but the health checks, one key and usage plan per key with its throttle and quota on the stage', () => {
    const { api, template } = build((stack) => ({
      models: [{ name: 'iris', handler: inlineFunction(stack, 'Iris') }],
      restApiName: 'shop-prod',
      stageName: 'prod',
      authorization: 'apiKey',
      apiKeys: [{ name: 'web', throttle: { rateLimit: 5, burstLimit: 10 }, quota: { limit: 1000, period: 'DAY' } }, { name: 'batch' }],
    }));
    assert.deepEqual([...api.apiKeys.keys()], ['web', 'batch']);
    const routes = methodsByPath(template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>);
    for (const [path, methods] of routes) {
      for (const m of methods) {
        assert.equal(m.properties.AuthorizationType, 'NONE', `${m.httpMethod} ${path}`);
        assert.equal(m.properties.ApiKeyRequired, OPEN_PATHS.includes(path) ? undefined : true, `${m.httpMethod} ${path}`);
      }
    }
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 2);
    template.hasResourceProperties('AWS::ApiGateway::ApiKey', { Name: 'shop-prod-web', Enabled: true, Value: Match.absent() });
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 2);
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      UsagePlanName: 'shop-prod-web',
      ApiStages: [{ ApiId: Match.anyValue(), Stage: Match.anyValue() }],
      Throttle: { RateLimit: 5, BurstLimit: 10 },
      Quota: { Limit: 1000, Period: 'DAY' },
    });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { UsagePlanName: 'shop-prod-batch', Throttle: Match.absent(), Quota: Match.absent() });
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 2);
    // With no IAM method, MISSING_AUTHENTICATION_TOKEN only means an unknown path.
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'MISSING_AUTHENTICATION_TOKEN', StatusCode: '404' });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'INVALID_API_KEY', StatusCode: '403' });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'QUOTA_EXCEEDED', StatusCode: '429' });
  });

  it('logs execution errors (never bodies) for every method, into a log group with retention', () => {
    const { template } = build((stack) => ({ models: [{ name: 'iris', handler: inlineFunction(stack, 'Iris') }], stageName: 'prod' }));
    const [stage] = Object.values(template.findResources('AWS::ApiGateway::Stage')) as { Properties: { MethodSettings: { LoggingLevel?: string; DataTraceEnabled?: boolean; HttpMethod: string; ResourcePath: string }[] } }[];
    for (const setting of stage!.Properties.MethodSettings) {
      assert.equal(setting.LoggingLevel, 'ERROR', `${setting.HttpMethod} ${setting.ResourcePath}`);
      assert.equal(setting.DataTraceEnabled, false, `${setting.HttpMethod} ${setting.ResourcePath}`);
    }
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: Match.anyValue() }, '/prod']] },
      RetentionInDays: 30,
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
    ['apiKey without keys', (stack) => ({ authorization: 'apiKey', models: [{ name: 'iris', handler: inlineFunction(stack, 'F') }] }), 'apiKeys must name at least one key when authorization is apiKey, received none'],
    ['keys with iam', (stack) => ({ apiKeys: [{ name: 'web' }], models: [{ name: 'iris', handler: inlineFunction(stack, 'F') }] }), 'apiKeys applies only to authorization apiKey; authorization is iam, received 1 keys'],
    ['a key named twice', (stack) => ({ authorization: 'apiKey', apiKeys: [{ name: 'web' }, { name: 'web' }], models: [{ name: 'iris', handler: inlineFunction(stack, 'F') }] }), "apiKeys[1].name must be unique, received 'web' twice"],
    ['a key name with a slash', (stack) => ({ authorization: 'apiKey', apiKeys: [{ name: 'a/b' }], models: [{ name: 'iris', handler: inlineFunction(stack, 'F') }] }), "apiKeys[0].name must be 1-64 letters, digits, dashes or underscores, received 'a/b'"],
    ['a quota of 0', (stack) => ({ authorization: 'apiKey', apiKeys: [{ name: 'web', quota: { limit: 0, period: 'DAY' } }], models: [{ name: 'iris', handler: inlineFunction(stack, 'F') }] }), 'apiKeys[0].quota.limit must be a whole number of requests, 1 or more, received 0'],
    ['a timeout past 29 s', (stack) => ({ models: [{ name: 'iris', handler: inlineFunction(stack, 'F'), timeout: Duration.seconds(30) }] }), "models[0].timeout must be from 50 ms to 29 s (API Gateway's integration limits), received 30000 ms"],
    ['a negative key rate', (stack) => ({ authorization: 'apiKey', apiKeys: [{ name: 'web', throttle: { rateLimit: -2, burstLimit: 1 } }], models: [{ name: 'iris', handler: inlineFunction(stack, 'F') }] }), 'apiKeys[0].throttle.rateLimit must be a number of requests per second, 0 or more, received -2'],
  ];
  for (const [what, props, message] of invalid) {
    it(`rejects ${what}`, () => {
      const stack = newStack();
      assert.throws(() => new InferenceApi(stack, 'Api', props(stack)), typeof message === 'string' ? { message } : message);
    });
  }
});
