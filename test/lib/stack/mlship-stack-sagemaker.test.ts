// The stack for a manifest with a SageMaker model next to a Lambda model: the SageMaker model gets its
// endpoint (and no Lambda versions or CodeDeploy), its routes go to its proxy, the Lambda model keeps its
// alias; the outputs `mlship verify` reads; the real proxy bundle starts up with its model.json; and the
// manifest problems of the sagemaker block that stop synth, with their paths.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { stringify } from 'yaml';
import { modelRoutes } from '../../../lambdas/core/serving/routes';
import { loadManifest, ManifestError } from '../../../lambdas/core/manifest/load';
import { MlshipStack } from '../../../lib/stack/mlship-stack';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject } from '../../fixtures/model-folder';
import { methodsByPath } from '../../fixtures/template-routes';

const project = createFixtureProject({
  manifest: {
    project: 'shop',
    stage: 'test',
    api: { maxBodyBytes: 4096 },
    models: [
      { name: 'breast-cancer', version: 1 },
      {
        name: 'digits',
        version: 1,
        runtime: 'sagemaker',
        maxBatchSize: 256,
        throttle: { rateLimit: 20, burstLimit: 40 },
        sagemaker: {
          instanceType: 'ml.g6.2xlarge',
          instanceCount: 2,
          autoscaling: { minInstances: 2, maxInstances: 5, targetInvocationsPerInstance: 400 },
          dataCapturePercent: 25,
          canary: { percent: 20, waitMinutes: 10 },
          alarms: { p99ModelLatencyMs: 80, invocation5xxErrors: 2 },
          tritonVersion: '24.05',
        },
      },
    ],
  },
});
const testApp = createTestApp();
const cleanups: (() => void)[] = [testApp.cleanup, project.cleanup];
after(() => cleanups.forEach((cleanup) => cleanup()));

// The real proxy (lambdas/sagemaker-proxy/index.ts), as `cdk synth` bundles it.
const stack = new MlshipStack(testApp.app, undefined, { loaded: loadManifest(project.manifestPath) });
const template = Template.fromStack(stack);
const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>; Outputs: Record<string, { Value: unknown }> };
const routes = methodsByPath(json.Resources);

function logicalId(prefix: string, type: string): string {
  const ids = Object.keys(json.Resources).filter((id) => id.startsWith(prefix) && json.Resources[id]!.Type === type);
  assert.equal(ids.length, 1, `one ${type} named ${prefix}*, found ${ids.join(', ')}`);
  return ids[0]!;
}

describe('MlshipStack with a SageMaker model', () => {
  const endpoint = stack.sagemakerModels.get('digits')!;

  it('builds a SageMaker endpoint for the sagemaker model and a Lambda release for the other', () => {
    assert.deepEqual([...stack.sagemakerModels.keys()], ['digits']);
    assert.deepEqual([...stack.modelFunctions.keys()], ['breast-cancer']);
    assert.deepEqual([...stack.modelReleases.keys()], ['breast-cancer']);
    template.resourceCountIs('AWS::SageMaker::Endpoint', 1);
    // No Lambda versions or CodeDeploy for the SageMaker model: its endpoint's blue/green update is the release.
    template.resourceCountIs('AWS::Lambda::Version', 1);
    template.resourceCountIs('AWS::Lambda::Alias', 1);
    template.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', 1);
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { PackageType: 'Image', Environment: { Variables: Match.objectLike({ MODEL_DIR: '/opt/ml/model' }) } }, 1);
  });

  it("takes every sagemaker setting from the manifest", () => {
    assert.equal(endpoint.endpointName, 'shop-test-digits');
    assert.match(endpoint.endpointConfigName, /^shop-test-digits-v1-[0-9a-f]{8}$/);
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ VariantName: 'AllTraffic', InstanceType: 'ml.g6.2xlarge', InitialInstanceCount: 2 })],
      DataCaptureConfig: Match.objectLike({ InitialSamplingPercentage: 25 }),
    });
    template.hasResourceProperties('AWS::SageMaker::Endpoint', {
      DeploymentConfig: Match.objectLike({
        BlueGreenUpdatePolicy: Match.objectLike({ TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 20 }, WaitIntervalInSeconds: 600 } }),
      }),
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 5 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 400 }) });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'shop-test-digits-sagemaker-p99-model-latency', Threshold: 80_000 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'shop-test-digits-sagemaker-5xx-errors', Threshold: 2 });
    template.hasResourceProperties('AWS::SageMaker::Model', {
      PrimaryContainer: Match.objectLike({ Image: { 'Fn::Join': ['', Match.arrayWith(['/sagemaker-tritonserver:24.05-py3'])] } }),
    });
    assert.match(endpoint.tritonConfig, /max_batch_size: 256\n/);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: { Variables: Match.objectLike({ ENDPOINT_NAME: 'shop-test-digits', MODEL_NAME: 'digits', MAX_BODY_BYTES: '4096', MAX_BATCH_SIZE: '256', POWERTOOLS_SERVICE_NAME: 'shop-test-digits' }) },
    });
  });

  it("proxies the SageMaker model's routes to its proxy function, and the Lambda model's to its live alias", () => {
    const proxyId = logicalId('DigitsSagemakerProxy', 'AWS::Lambda::Function');
    for (const route of [...modelRoutes('breast-cancer'), ...modelRoutes('digits')]) {
      const found = routes.get(route.path)?.find((m) => m.httpMethod === route.method);
      assert.ok(found, `${route.method} ${route.path}`);
      const integration = found.properties.Integration as { Type: string; Uri: { 'Fn::Join': [string, unknown[]] } };
      assert.equal(integration.Type, 'AWS_PROXY');
      const target = integration.Uri['Fn::Join'][1][5];
      assert.deepEqual(target, route.model === 'digits' ? { 'Fn::GetAtt': [proxyId, 'Arn'] } : { Ref: logicalId('BreastCancerReleaseLive', 'AWS::Lambda::Alias') }, `${route.method} ${route.path}`);
      // The API waits as long as the function it calls may run: the proxy's timeout, the Lambda model's own.
      const functionId = route.model === 'digits' ? proxyId : Object.keys(template.findResources('AWS::Lambda::Function')).find((id) => id.startsWith('BreastCancerModelFunction'))!;
      assert.equal((found.properties.Integration as { TimeoutInMillis: number }).TimeoutInMillis, (template.findResources('AWS::Lambda::Function')[functionId]!.Properties as { Timeout: number }).Timeout * 1000, `${route.method} ${route.path}`);
    }
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [proxyId, 'Arn'] },
      SourceArn: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['/POST/v2/models/digits/infer'])] }),
    });
    // The model's throttle applies to its routes as for any model.
    const [stage] = Object.values(template.findResources('AWS::ApiGateway::Stage')) as { Properties: { MethodSettings: { ResourcePath: string; HttpMethod: string; ThrottlingRateLimit: number }[] } }[];
    assert.equal(stage!.Properties.MethodSettings.find((s) => s.ResourcePath === '/~1v2~1models~1digits~1infer' && s.HttpMethod === 'POST')?.ThrottlingRateLimit, 20);
  });

  it('outputs, per model, what `mlship verify` compares with what is live', () => {
    assert.deepEqual(Object.keys(json.Outputs).filter((key) => /^(Api|BreastCancer|Digits)/.test(key)).sort(), [
      'ApiAuthorization',
      'ApiUrl',
      'BreastCancerFunctionName',
      'BreastCancerInferUrl',
      'BreastCancerLiveVersion',
      'DigitsEndpointConfigName',
      'DigitsEndpointName',
      'DigitsFunctionName',
      'DigitsInferUrl',
    ]);
    template.hasOutput('DigitsEndpointName', { Value: { 'Fn::GetAtt': [logicalId('DigitsSagemakerEndpoint', 'AWS::SageMaker::Endpoint'), 'EndpointName'] } });
    template.hasOutput('DigitsEndpointConfigName', { Value: { 'Fn::GetAtt': [logicalId('DigitsSagemakerEndpointConfig', 'AWS::SageMaker::EndpointConfig'), 'EndpointConfigName'] } });
    template.hasOutput('DigitsFunctionName', { Value: { Ref: logicalId('DigitsSagemakerProxy', 'AWS::Lambda::Function') } });
    template.hasOutput('DigitsInferUrl', { Value: { 'Fn::Join': ['', Match.arrayWith(['/v2/models/digits/infer'])] } });
    template.hasOutput('BreastCancerLiveVersion', { Value: { 'Fn::GetAtt': [logicalId('BreastCancerModelFunctionCurrentVersion', 'AWS::Lambda::Version'), 'Version'] } });
  });

  it('bundles the real proxy, which starts up reading the model.json beside it', () => {
    const proxy = json.Resources[logicalId('DigitsSagemakerProxy', 'AWS::Lambda::Function')]!.Properties as { Code: { S3Key: string } };
    const dir = join(testApp.outdir, `asset.${proxy.Code.S3Key.replace(/\.zip$/, '')}`);
    const script = "const m = require('./index.js'); process.stdout.write('HANDLER ' + typeof m.handler + '\\n')";
    // A clean environment, as Lambda gives it: no tsx, no node_modules above the asset folder, no network used.
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: dir,
      env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', ENDPOINT_NAME: 'shop-test-digits', MODEL_NAME: 'digits', INVOKE_TIMEOUT_MS: '2000', LOG_LEVEL: 'INFO' },
      encoding: 'utf8',
    });
    assert.match(out, /^HANDLER function$/m);
    const logs = out.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: string; message: string });
    assert.deepEqual(logs.filter((l) => l.level === 'CRITICAL' || l.level === 'ERROR'), [], 'it found and accepted model.json');
    assert.ok(logs.some((l) => l.message === 'sagemaker proxy ready'), out);
  });
});

describe('MlshipStack synth-time errors of the sagemaker block', () => {
  let counter = 0;

  /** Loads a manifest next to the fixture models and builds its stack, as bin/app.ts does. */
  function synth(doc: unknown): MlshipStack {
    const file = join(project.root, `manifest-sagemaker-${++counter}.yaml`);
    writeFileSync(file, stringify(doc));
    const { app, cleanup } = createTestApp();
    cleanups.push(cleanup);
    return new MlshipStack(app, undefined, { loaded: loadManifest(file) });
  }

  function assertProblems(fn: () => unknown, expected: readonly string[]): void {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`);
      assert.deepEqual(error.problems, expected);
      return true;
    });
  }

  const sagemakerModel = (sagemaker: unknown, extra: Record<string, unknown> = {}) => ({ models: [{ name: 'digits', version: 1, runtime: 'sagemaker', sagemaker, ...extra }] });

  it('fails on an unknown instance family', () => {
    assertProblems(() => synth(sagemakerModel({ instanceType: 'ml.x1.large' })), [
      "models[0].sagemaker.instanceType must be of a known instance family (g4dn, g5, g6, g6e, p3, p4d, p5, c5, c6i, m5, m6i, r5), received 'ml.x1.large'",
    ]);
  });

  it('fails on autoscaling.minInstances above maxInstances', () => {
    assertProblems(() => synth(sagemakerModel({ autoscaling: { minInstances: 4, maxInstances: 2 }, instanceCount: 2 })), [
      // One message: the count is not judged against a range that does not exist.
      'models[0].sagemaker.autoscaling.minInstances must be at most autoscaling.maxInstances (2), received 4',
    ]);
  });

  it('fails on a canary over 50% of the capacity', () => {
    assertProblems(() => synth(sagemakerModel({ canary: { percent: 60 } })), ['models[0].sagemaker.canary.percent must be at most 50, received 60']);
  });

  it("fails on a maxBatchSize above Triton's max_batch_size", () => {
    assertProblems(() => synth(sagemakerModel({}, { maxBatchSize: 5000 })), [
      "models[0].maxBatchSize must be at most 1024 for runtime sagemaker (Triton's max_batch_size: each request reaches Triton as one batch), received 5000",
    ]);
  });

  it('builds a sagemaker model with no sagemaker block, on the defaults', () => {
    const built = synth({ models: [{ name: 'digits', version: 1, runtime: 'sagemaker' }] });
    const defaults = Template.fromStack(built);
    defaults.hasResourceProperties('AWS::SageMaker::EndpointConfig', { ProductionVariants: [Match.objectLike({ InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1 })] });
    defaults.hasResourceProperties('AWS::SageMaker::Model', { PrimaryContainer: Match.objectLike({ Image: { 'Fn::Join': ['', Match.arrayWith(['/sagemaker-tritonserver:24.09-py3'])] } }) });
  });
});
