// The synthesized stack for a manifest: one image function per Lambda model and its release (version,
// `live` alias, CodeDeploy, alarms, pre-traffic hook), every route of the shared route table on the API
// (the v1 ':predict' form included) calling the aliases, throttling, JSON gateway errors, outputs; and
// the manifest problems that stop synth.
// Over 400 lines: assertions on the one synthesized stack, made once and shared by every case.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { stringify } from 'yaml';
import { errorBody, GatewayTimeoutError } from '../../../lambdas/core/serving/errors';
import { RouteTable } from '../../../lambdas/core/serving/routes';
import { loadManifest, ManifestError } from '../../../lambdas/core/manifest/load';
import { MlshipStack, pascalCase } from '../../../lib/stack/mlship-stack';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject, writeModelFolder } from '../../fixtures/model-folder';
import { methodsByPath } from '../../fixtures/template-routes';

const project = createFixtureProject({
  manifest: {
    project: 'shop',
    stage: 'test',
    api: { maxBodyBytes: 2048, throttle: { rateLimit: 50, burstLimit: 80 } },
    models: [
      {
        name: 'breast-cancer',
        version: 1,
        lambda: { memoryMb: 3008, timeoutSeconds: 15, reservedConcurrency: 5 },
        throttle: { rateLimit: 200, burstLimit: 400 },
        release: { strategy: 'canary', percent: 25, intervalMinutes: 7, provisionedConcurrency: 2, alarms: { p99LatencyMs: 500, minRequests: 50 } },
      },
      { name: 'digits', version: 1, runtime: 'lambda', lambda: { architecture: 'x86_64' }, maxBatchSize: 64, release: { strategy: 'linear', percent: 10, intervalMinutes: 1 } },
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
const json = template.toJSON() as {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string; UpdatePolicy?: unknown }>;
  Outputs: Record<string, { Value: unknown }>;
};
const routes = methodsByPath(json.Resources);
const packageVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** The logical id of the one resource of `type` whose id starts with `prefix`. */
function logicalId(prefix: string, type: string): string {
  const ids = Object.keys(json.Resources).filter((id) => id.startsWith(prefix) && json.Resources[id]!.Type === type);
  assert.equal(ids.length, 1, `one ${type} named ${prefix}*, found ${ids.join(', ')}`);
  return ids[0]!;
}

function method(path: string, httpMethod: string): Record<string, unknown> {
  const found = routes.get(path)?.find((m) => m.httpMethod === httpMethod);
  assert.ok(found, `${httpMethod} ${path} exists (have ${JSON.stringify([...routes.keys()])})`);
  return found.properties;
}

/** The body a mock method answers with, and its status. */
function mockResponse(path: string, httpMethod: string): { status: string; body: unknown; parameters: unknown } {
  const integration = method(path, httpMethod).Integration as { Type: string; PassthroughBehavior: string; IntegrationResponses: { StatusCode: string; SelectionPattern?: string; ResponseTemplates: Record<string, string>; ResponseParameters?: unknown }[] };
  assert.equal(integration.Type, 'MOCK');
  assert.equal(integration.PassthroughBehavior, 'NEVER');
  assert.equal(integration.IntegrationResponses.length, 1);
  const [response] = integration.IntegrationResponses;
  assert.equal(response!.SelectionPattern, undefined, 'the only integration response is the default one');
  return { status: response!.StatusCode, body: JSON.parse(response!.ResponseTemplates['application/json']!.replace('$context.httpMethod', 'PUT')), parameters: response!.ResponseParameters };
}

describe('MlshipStack', () => {
  it('is named <project>-<stage> and tagged with both', () => {
    assert.equal(stack.stackName, 'shop-test');
    assert.deepEqual(stack.tags.tagValues(), { project: 'shop', stage: 'test' });
  });

  it('creates one container-image function per Lambda model, sized from the manifest', () => {
    // Model functions: the image functions serving one model (the pipelines' image functions serve none).
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { PackageType: 'Image', Environment: { Variables: Match.objectLike({ MODEL_DIR: '/opt/ml/model' }) } }, 2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Code: { ImageUri: Match.objectLike({ 'Fn::Sub': Match.stringLikeRegexp('container-assets') }) },
      Description: Match.stringLikeRegexp('breast-cancer v1'),
      MemorySize: 3008,
      Timeout: 15,
      Architectures: ['arm64'],
      ReservedConcurrentExecutions: 5,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: Match.objectLike({ Ref: Match.stringLikeRegexp('^BreastCancerModelLogGroup') }) },
      Tags: Match.arrayWith([{ Key: 'model', Value: 'breast-cancer' }]),
      Environment: {
        Variables: {
          MODEL_NAME: 'breast-cancer',
          MODEL_VERSION: '1',
          MODEL_DIR: '/opt/ml/model',
          MAX_BODY_BYTES: '2048',
          MAX_BATCH_SIZE: '1000',
          // EMF service with project and stage: two stages in one account keep their figures apart.
          POWERTOOLS_SERVICE_NAME: 'shop-test-breast-cancer',
          POWERTOOLS_METRICS_NAMESPACE: 'mlship',
          LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Description: Match.stringLikeRegexp('digits v1'),
      MemorySize: 2048,
      Timeout: 10,
      Architectures: ['x86_64'],
      ReservedConcurrentExecutions: Match.absent(),
      Environment: { Variables: Match.objectLike({ MODEL_NAME: 'digits', MAX_BATCH_SIZE: '64', POWERTOOLS_SERVICE_NAME: 'shop-test-digits' }) },
    });
  });

  it('builds each image for its function architecture', () => {
    const assets = JSON.parse(readFileSync(join(testApp.outdir, 'shop-test.assets.json'), 'utf8')) as { dockerImages: Record<string, { source: { platform?: string } }> };
    // breast-cancer on arm64, digits on x86_64, and the pipelines' one image on arm64.
    assert.deepEqual(Object.values(assets.dockerImages).map((i) => i.source.platform).sort(), ['linux/amd64', 'linux/arm64', 'linux/arm64']);
  });

  it('keeps function, hook and access logs for a month in log groups it creates', () => {
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    assert.ok(groups.length >= 5, `two functions, two hooks, the access log and the pipelines' logs: ${groups.length}`);
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, groups.length);
  });

  it('creates a resource and method for every route of the route table, and nothing else', () => {
    const table = new RouteTable(['breast-cancer', 'digits']);
    for (const route of table.routes) {
      assert.ok(method(route.path, route.method), `${route.method} ${route.path}`);
    }
    const withMethods = [...routes.keys()].sort();
    const expected = [...new Set(table.routes.map((r) => r.path))].concat(['/v2/models/{model}', '/v2/models/{model}/ready', '/v2/models/{model}/infer', '/v1/models/{model}', '/v1/models/{model}/feedback']).sort();
    assert.deepEqual(withMethods, expected);
    for (const path of new Set(table.routes.map((r) => r.path))) {
      const declared = table.routes.filter((r) => r.path === path).map((r) => r.method);
      assert.deepEqual(routes.get(path)!.map((m) => m.httpMethod).sort(), [...declared, 'ANY'].sort(), path);
    }
  });

  it('serves the v1 :predict form as one path part with a colon', () => {
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'breast-cancer:predict' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'digits:predict' });
    assert.ok(method('/v1/models/breast-cancer:predict', 'POST'));
  });

  it("proxies each model route to that model's live alias, never to $LATEST", () => {
    const aliasId = (model: string) => logicalId(`${model}ReleaseLive`, 'AWS::Lambda::Alias');
    for (const [path, model] of [
      ['/v2/models/breast-cancer/infer', 'BreastCancer'],
      ['/v1/models/digits:predict', 'Digits'],
      ['/v2/models/digits', 'Digits'],
    ] as const) {
      const integration = method(path, path.endsWith('digits') ? 'GET' : 'POST').Integration as { Type: string; IntegrationHttpMethod: string; Uri: unknown };
      assert.equal(integration.Type, 'AWS_PROXY');
      assert.equal(integration.IntegrationHttpMethod, 'POST');
      assert.deepEqual(integration.Uri, {
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':apigateway:', { Ref: 'AWS::Region' }, ':lambda:path/2015-03-31/functions/', { Ref: aliasId(model) }, '/invocations']],
      });
    }
    // One invoke permission per model method, on the alias and scoped to that method; no test-invoke permissions.
    const apiPermissions = Object.values(json.Resources).filter((r) => r.Type === 'AWS::Lambda::Permission' && r.Properties.Principal === 'apigateway.amazonaws.com');
    // The feedback routes (one per model) invoke the feedback function, never a model.
    const feedbackFunction = { 'Fn::GetAtt': [logicalId('FeedbackFunction', 'AWS::Lambda::Function'), 'Arn'] };
    const feedbackPermissions = apiPermissions.filter((p) => JSON.stringify(p.Properties.FunctionName) === JSON.stringify(feedbackFunction));
    assert.equal(feedbackPermissions.length, 2);
    const permissions = apiPermissions.filter((p) => !feedbackPermissions.includes(p));
    assert.equal(permissions.length, 12);
    assert.deepEqual([...new Set(permissions.map((p) => JSON.stringify(p.Properties.FunctionName)))].sort(), [{ Ref: aliasId('BreastCancer') }, { Ref: aliasId('Digits') }].map((r) => JSON.stringify(r)).sort());
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { Ref: aliasId('BreastCancer') },
      SourceArn: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['/POST/v1/models/breast-cancer:predict'])] }),
    });
  });

  it("releases each model through a version, its live alias and a CodeDeploy deployment group with the manifest's strategy", () => {
    template.resourceCountIs('AWS::Lambda::Version', 2);
    template.resourceCountIs('AWS::Lambda::Alias', 2);
    template.resourceCountIs('AWS::CodeDeploy::Application', 2);
    template.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 2);
    for (const model of ['BreastCancer', 'Digits']) {
      const alias = json.Resources[logicalId(`${model}ReleaseLive`, 'AWS::Lambda::Alias')]!;
      assert.equal(alias.Properties.Name, 'live');
      assert.deepEqual(alias.Properties.FunctionVersion, { 'Fn::GetAtt': [logicalId(`${model}ModelFunctionCurrentVersion`, 'AWS::Lambda::Version'), 'Version'] });
    }
    // breast-cancer: a custom canary (25% for 7 minutes) and provisioned concurrency on its alias.
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 } });
    template.resourceCountIs('AWS::CodeDeploy::DeploymentConfig', 1);
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentConfig', {
      DeploymentConfigName: 'shop-test-breast-cancer-Canary25Percent7Minutes',
      TrafficRoutingConfig: { Type: 'TimeBasedCanary', TimeBasedCanary: { CanaryPercentage: 25, CanaryInterval: 7 } },
    });
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', {
      DeploymentGroupName: 'shop-test-breast-cancer',
      DeploymentConfigName: { Ref: logicalId('BreastCancerReleaseDeploymentConfig', 'AWS::CodeDeploy::DeploymentConfig') },
      AutoRollbackConfiguration: { Enabled: true, Events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST', 'DEPLOYMENT_STOP_ON_ALARM'] },
    });
    // digits: linear 10% every minute is one of CodeDeploy's own.
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', { DeploymentGroupName: 'shop-test-digits', DeploymentConfigName: 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute' });
  });

  it("bundles the real pre-traffic hook, which starts up reading the model.json beside it", () => {
    const hook = json.Resources[logicalId('DigitsReleasePreTrafficHook', 'AWS::Lambda::Function')]!.Properties as { Code: { S3Key: string } };
    const dir = join(testApp.outdir, `asset.${hook.Code.S3Key.replace(/\.zip$/, '')}`);
    const script = "const m = require('./index.js'); process.stdout.write('HANDLER ' + typeof m.handler + '\\n')";
    // A clean environment, as Lambda gives it: no tsx, no node_modules above the asset folder.
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: dir,
      env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', TARGET_FUNCTION_ARN: 'arn:aws:lambda:eu-west-1:123456789012:function:shop-test-digits:3', MODEL_NAME: 'digits', LOG_LEVEL: 'INFO' },
      encoding: 'utf8',
    });
    assert.match(out, /^HANDLER function$/m);
    const logs = out.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: string; message: string });
    assert.ok(logs.length > 0, out);
    assert.deepEqual(logs.filter((l) => l.level === 'CRITICAL' || l.level === 'ERROR'), [], 'it found and accepted model.json');
  });

  it("watches each model's new version with alarms from its manifest thresholds", () => {
    const releaseAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => String((a.Properties as { AlarmName?: unknown }).AlarmName).includes('-release-'));
    assert.equal(releaseAlarms.length, 8, 'four per model');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'shop-test-breast-cancer-release-p99-latency',
      Threshold: 500,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(requests >= 50, FILL(p99Latency, 0), 0)' })]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'shop-test-digits-release-error-rate',
      Threshold: 1,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(requests >= 10, 100 * FILL(serverErrors, 0) / requests, 0)' })]),
    });
  });

  it("runs each model's pre-traffic hook with its own model.json, against its own new version", () => {
    for (const [model, name] of [
      ['BreastCancer', 'breast-cancer'],
      ['Digits', 'digits'],
    ] as const) {
      const hookId = logicalId(`${model}ReleasePreTrafficHook`, 'AWS::Lambda::Function');
      const hook = json.Resources[hookId]!.Properties as { FunctionName: string; Environment: { Variables: Record<string, unknown> }; Code: { S3Key: string } };
      assert.equal(hook.FunctionName, `shop-test-${name}-pre-traffic`);
      assert.deepEqual(hook.Environment.Variables.TARGET_FUNCTION_ARN, { Ref: logicalId(`${model}ModelFunctionCurrentVersion`, 'AWS::Lambda::Version') });
      assert.equal(hook.Environment.Variables.MODEL_NAME, name);
      const card = readFileSync(join(testApp.outdir, `asset.${hook.Code.S3Key.replace(/\.zip$/, '')}`, 'model.json'), 'utf8');
      assert.equal(card, readFileSync(join(project.root, name, '1', 'model.json'), 'utf8'));
      assert.deepEqual(json.Resources[logicalId(`${model}ReleaseLive`, 'AWS::Lambda::Alias')]!.UpdatePolicy, {
        CodeDeployLambdaAliasUpdate: {
          ApplicationName: { Ref: logicalId(`${model}ReleaseApplication`, 'AWS::CodeDeploy::Application') },
          DeploymentGroupName: { Ref: logicalId(`${model}ReleaseDeploymentGroup`, 'AWS::CodeDeploy::DeploymentGroup') },
          BeforeAllowTrafficHook: { Ref: hookId },
        },
      });
    }
  });

  it('answers health and server metadata from API Gateway itself', () => {
    assert.deepEqual(mockResponse('/v2/health/live', 'GET'), { status: '200', body: { live: true }, parameters: {} });
    assert.deepEqual(mockResponse('/v2/health/ready', 'GET'), { status: '200', body: { ready: true }, parameters: {} });
    assert.deepEqual(mockResponse('/v2', 'GET'), { status: '200', body: { name: 'mlship', version: packageVersion, extensions: [] }, parameters: {} });
  });

  it('answers a wrong method on a known path with 405 method_not_allowed and an Allow header', () => {
    assert.deepEqual(mockResponse('/v2/models/digits/infer', 'ANY'), {
      status: '405',
      body: { error: { code: 'method_not_allowed', message: 'method PUT is not allowed on /v2/models/digits/infer; use POST' } },
      parameters: { 'method.response.header.Allow': "'POST'" },
    });
    assert.equal(mockResponse('/v1/models/breast-cancer:predict', 'ANY').status, '405');
    assert.equal(mockResponse('/v2/health/live', 'ANY').status, '405');
    assert.deepEqual((method('/v2/models/digits/infer', 'ANY').MethodResponses as unknown[])[0], { StatusCode: '405', ResponseParameters: { 'method.response.header.Allow': true } });
  });

  it('answers model-shaped paths of unknown models with 404 model_not_found', () => {
    for (const path of ['/v2/models/{model}', '/v2/models/{model}/infer', '/v1/models/{model}']) {
      assert.deepEqual(mockResponse(path, 'ANY').body, { error: { code: 'model_not_found', message: 'no such model; the models served are breast-cancer, digits' } });
      assert.equal(mockResponse(path, 'ANY').status, '404');
    }
  });

  it('throttles each model route from the model or the API default, and everything else by default', () => {
    const settings = (template.findResources('AWS::ApiGateway::Stage') as Record<string, { Properties: { MethodSettings: Record<string, unknown>[] } }>);
    const [stage] = Object.values(settings);
    const byPath = new Map(stage!.Properties.MethodSettings.map((s) => [`${String(s.ResourcePath)} ${String(s.HttpMethod)}`, [s.ThrottlingRateLimit, s.ThrottlingBurstLimit]]));
    assert.deepEqual(byPath.get('/* *'), [50, 80]);
    assert.deepEqual(byPath.get('/~1v2~1models~1breast-cancer~1infer POST'), [200, 400]);
    assert.deepEqual(byPath.get('/~1v1~1models~1breast-cancer:predict POST'), [200, 400]);
    assert.deepEqual(byPath.get('/~1v2~1models~1breast-cancer GET'), [200, 400]);
    assert.deepEqual(byPath.get('/~1v2~1models~1digits~1infer POST'), [50, 80]);
    assert.deepEqual(byPath.get('/~1v1~1models~1digits:predict POST'), [50, 80]);
    assert.deepEqual(byPath.get('/~1v1~1models~1breast-cancer:explain POST'), [200, 400], ':explain is throttled as the model');
    assert.deepEqual(byPath.get('/~1v1~1models~1digits:explain POST'), [50, 80]);
    assert.deepEqual(byPath.get('/~1v1~1models~1breast-cancer~1feedback POST'), [200, 400], 'the feedback route is throttled as the model');
    assert.deepEqual(byPath.get('/~1v1~1models~1digits~1feedback POST'), [50, 80]);
    assert.equal(byPath.size, 15, 'the default and one entry per model route, feedback included');
  });

  it('deploys the stage named after the manifest stage, traced, with JSON access logs', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'shop-test', EndpointConfiguration: { Types: ['REGIONAL'] } });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'test',
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
    const [stage] = Object.values(template.findResources('AWS::ApiGateway::Stage')) as { Properties: { AccessLogSetting: { Format: string } } }[];
    // Every field is a quoted string except messageString, which API Gateway quotes itself.
    const line = JSON.parse(stage!.Properties.AccessLogSetting.Format.replaceAll('$context.error.messageString', '"boom"')) as Record<string, string>;
    assert.equal(line.requestId, '$context.requestId');
    assert.equal(line.status, '$context.status');
    assert.equal(line.error, 'boom');
    // Logging needs API Gateway's account-level CloudWatch role.
    template.resourceCountIs('AWS::ApiGateway::Account', 1);
  });

  it("turns API Gateway's own errors into the API's JSON error body", () => {
    const expected: [string, string | undefined, string][] = [
      // With IAM authorization (the default) an unsigned request and an unknown path look the same to API Gateway.
      ['MISSING_AUTHENTICATION_TOKEN', '403', 'missing_authentication'],
      ['ACCESS_DENIED', '403', 'forbidden'],
      ['INVALID_SIGNATURE', '403', 'invalid_signature'],
      ['EXPIRED_TOKEN', '403', 'expired_token'],
      ['INVALID_API_KEY', '403', 'invalid_api_key'],
      ['QUOTA_EXCEEDED', '429', 'quota_exceeded'],
      ['WAF_FILTERED', '403', 'forbidden'],
      ['THROTTLED', '429', 'throttled'],
      ['REQUEST_TOO_LARGE', '413', 'payload_too_large'],
      ['UNSUPPORTED_MEDIA_TYPE', '415', 'unsupported_media_type'],
      ['INTEGRATION_TIMEOUT', '504', 'timeout'],
      ['DEFAULT_4XX', undefined, 'invalid_request'],
      ['DEFAULT_5XX', undefined, 'internal_error'],
    ];
    template.resourceCountIs('AWS::ApiGateway::GatewayResponse', expected.length);
    const responses = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse')) as { Properties: { ResponseType: string; StatusCode?: string; ResponseTemplates: Record<string, string>; ResponseParameters: Record<string, string> } }[];
    for (const [type, status, code] of expected) {
      const response = responses.find((r) => r.Properties.ResponseType === type);
      assert.ok(response, type);
      assert.equal(response.Properties.StatusCode, status, type);
      assert.deepEqual(response.Properties.ResponseParameters, { 'gatewayresponse.header.Content-Type': "'application/json'" });
      const body = JSON.parse(response.Properties.ResponseTemplates['application/json']!.replace('$context.error.messageString', '"from API Gateway"')) as { error: { code: string; message: string } };
      assert.equal(body.error.code, code, type);
      assert.ok(body.error.message.length > 0);
    }
  });

  it("answers a model slower than its function's timeout with the local gateway's 504 body: the API waits exactly the function's timeout", () => {
    // API Gateway starts counting before it calls the function, so it gives up first: its 504, never Lambda's 502.
    const timeout = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse')).find((r) => r.Properties.ResponseType === 'INTEGRATION_TIMEOUT') as { Properties: { ResponseTemplates: Record<string, string> } };
    assert.deepEqual(JSON.parse(timeout.Properties.ResponseTemplates['application/json']!), errorBody(new GatewayTimeoutError()));
    const functions = template.findResources('AWS::Lambda::Function');
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')) as { Properties: { HttpMethod: string; Integration: { Type: string; TimeoutInMillis?: number; Uri?: unknown } } }[];
    for (const name of ['BreastCancer', 'Digits']) {
      const fn = Object.entries(functions).find(([id]) => id.startsWith(`${name}ModelFunction`))![1];
      const alias = JSON.stringify({ Ref: logicalId(`${name}ReleaseLive`, 'AWS::Lambda::Alias') });
      const integrations = methods.filter((m) => m.Properties.Integration.Type === 'AWS_PROXY' && JSON.stringify(m.Properties.Integration.Uri).includes(alias));
      assert.ok(integrations.length > 0, `${name}'s routes`);
      for (const m of integrations) assert.equal(m.Properties.Integration.TimeoutInMillis, (fn.Properties as { Timeout: number }).Timeout * 1000, `${name} ${m.Properties.HttpMethod}`);
    }
  });

  it('outputs the API URL and, per model, its function name, the version its live alias should reach, and v2 infer URL', () => {
    // The pipelines' outputs are tested with their constructs.
    assert.deepEqual(Object.keys(json.Outputs).filter((key) => /^(Api|BreastCancer|Digits)/.test(key)).sort(), ['ApiAuthorization', 'ApiUrl', 'BreastCancerFunctionName', 'BreastCancerInferUrl', 'BreastCancerLiveVersion', 'DigitsFunctionName', 'DigitsInferUrl', 'DigitsLiveVersion']);
    assert.ok(['DataBucketName', 'NotificationTopicArn', 'BatchStateMachineArn'].every((key) => key in json.Outputs), `pipeline outputs: ${Object.keys(json.Outputs).join(', ')}`);
    template.hasOutput('BreastCancerFunctionName', { Value: { Ref: Match.stringLikeRegexp('^BreastCancerModelFunction') } });
    template.hasOutput('DigitsLiveVersion', { Value: { 'Fn::GetAtt': [logicalId('DigitsModelFunctionCurrentVersion', 'AWS::Lambda::Version'), 'Version'] } });
    template.hasOutput('DigitsInferUrl', { Value: { 'Fn::Join': ['', Match.arrayWith(['/v2/models/digits/infer'])] } });
    template.hasOutput('ApiUrl', { Value: { 'Fn::Join': ['', Match.arrayWith(['https://', '.execute-api.'])] } });
  });
});

describe('MlshipStack synth-time errors', () => {
  const root = project.root;
  let counter = 0;
  const cleanups: (() => void)[] = [];
  after(() => cleanups.forEach((cleanup) => cleanup()));

  /** Loads a manifest next to the fixture models and builds its stack, as bin/app.ts does. */
  function synth(doc: unknown, options: { stage?: string } = {}): MlshipStack {
    const file = join(root, `manifest-${++counter}.yaml`);
    writeFileSync(file, stringify(doc));
    const { app, cleanup } = createTestApp();
    cleanups.push(cleanup);
    return new MlshipStack(app, undefined, { loaded: loadManifest(file), stage: options.stage });
  }

  function assertProblems(fn: () => unknown, expected: readonly (string | RegExp)[]): void {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`);
      assert.equal(error.problems.length, expected.length, JSON.stringify(error.problems));
      expected.forEach((e, i) => (typeof e === 'string' ? assert.equal(error.problems[i], e) : assert.match(error.problems[i]!, e)));
      return true;
    });
  }

  it('fails on a runtime that does not exist, naming the manifest path', () => {
    assertProblems(() => synth({ models: [{ name: 'breast-cancer', version: 1 }, { name: 'digits', version: 1, runtime: 'gpu' }] }), ["models[1].runtime must be one of lambda, sagemaker, received 'gpu'"]);
  });

  it('fails on a sagemaker block of a model with runtime lambda', () => {
    assertProblems(() => synth({ models: [{ name: 'digits', version: 1, sagemaker: { instanceType: 'ml.g5.xlarge' } }] }), ["models[0].sagemaker applies only to runtime: sagemaker; this model's runtime is lambda"]);
  });

  it('names a missing model file', () => {
    const dir = writeModelFolder(root, { name: 'no-onnx' });
    unlinkSync(join(dir, 'model.onnx'));
    assertProblems(() => synth({ models: [{ name: 'no-onnx', version: 1 }] }), [/^models\[0\] \(no-onnx v1\): .*no-onnx\/1\/model\.onnx not found$/]);
  });

  it('fails when the ONNX input disagrees with model.json', () => {
    writeModelFolder(root, { name: 'mismatch', features: ['a', 'b', 'c'], onnxWidth: 7 });
    assertProblems(() => synth({ models: [{ name: 'mismatch', version: 1 }] }), [/model\.onnx: the ONNX input 'input' takes 7 values per instance \(dims \["batch",7\]\), model\.json lists 3 features$/]);
  });

  it('fails on duplicate model names', () => {
    assertProblems(() => synth({ models: [{ name: 'digits', version: 1 }, { name: 'digits', version: 1 }] }), ["models[1].name must be unique, 'digits' is also models[0].name"]);
  });

  it('fails on names that would share construct ids', () => {
    writeModelFolder(root, { name: 'model-1' });
    writeModelFolder(root, { name: 'model1' });
    assert.equal(pascalCase('model-1'), pascalCase('model1'));
    assertProblems(() => synth({ models: [{ name: 'model-1', version: 1 }, { name: 'model1', version: 1 }] }), [
      "models[1].name 'model1' and models[0].name 'model-1' both become the CloudFormation id 'Model1'; rename one",
    ]);
  });

  it('fails on API key names that would share an output id, and on a bad quota, naming their manifest paths', () => {
    const models = [{ name: 'digits', version: 1 }];
    assertProblems(() => synth({ api: { auth: 'apiKey', apiKeys: [{ name: 'web-shop' }, { name: 'web_shop' }] }, models }), [
      "api.apiKeys[1].name 'web_shop' and api.apiKeys[0].name 'web-shop' both become the output ApiKeyIdWebShop; rename one",
    ]);
    assertProblems(() => synth({ api: { auth: 'apiKey', apiKeys: [{ name: 'web', quota: { limit: 0, period: 'DAY' } }] }, models }), ['api.apiKeys[0].quota.limit must be at least 1, received 0']);
  });

  it('fails on a release percent outside 1..99, naming its manifest path', () => {
    assertProblems(() => synth({ models: [{ name: 'digits', version: 1, release: { percent: 150 } }] }), ['models[0].release.percent must be at most 99, received 150']);
  });

  it('fails on zero minutes between traffic shifts', () => {
    assertProblems(() => synth({ models: [{ name: 'digits', version: 1, release: { intervalMinutes: 0 } }] }), ['models[0].release.intervalMinutes must be at least 1, received 0']);
  });

  it('fails on a linear release CodeDeploy would refuse, and on alarms and concurrency Lambda makes impossible', () => {
    assertProblems(
      () =>
        synth({
          models: [
            { name: 'breast-cancer', version: 1, release: { strategy: 'linear', percent: 5, intervalMinutes: 200 } },
            { name: 'digits', version: 1, lambda: { timeoutSeconds: 2, reservedConcurrency: 3 }, release: { provisionedConcurrency: 4, alarms: { p99LatencyMs: 2000 } } },
          ],
        }),
      [
        'models[0].release: linear 5% every 200 minutes shifts the last traffic 3800 minutes (19 intervals) after the first; CodeDeploy allows at most 2880 (48 hours) for a Lambda deployment: raise percent or lower intervalMinutes',
        "models[1].release.alarms.p99LatencyMs must be below the function timeout of 2000 ms (2 s): the handler's latency never exceeds the timeout (Lambda stops the function first), so the alarm could never fire; received 2000",
        "models[1].release.provisionedConcurrency must be at most the function's reserved concurrency (3): Lambda refuses more; received 4",
      ],
    );
  });

  it('takes the stage from the override, and validates it', () => {
    const prod = synth({ project: 'shop', stage: 'dev', models: [{ name: 'digits', version: 1 }] }, { stage: 'prod' });
    assert.equal(prod.stackName, 'shop-prod');
    Template.fromStack(prod).hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'prod' });
    assertProblems(() => synth({ models: [{ name: 'digits', version: 1 }] }, { stage: 'Prod-1' }), ["stage must be up to 12 lower-case letters or digits, starting with a letter, received 'Prod-1'"]);
  });
});
