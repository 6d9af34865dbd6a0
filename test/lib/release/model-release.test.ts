// ModelRelease on its own: the version and `live` alias, the CodeDeploy application and deployment group
// with the traffic config of each strategy, the alarms on the new version, the pre-traffic hook and its
// exact permissions, and every validation branch. A plain inline function stands in for the model's
// image function, and a stub for the hook's entry (the real hook is bundled in mlship-stack.test.ts).
// Over 400 lines: every release strategy and validation branch of one construct.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { linearIntervals, LIVE_ALIAS, MAX_TRAFFIC_SHIFT_MINUTES, ModelRelease, releaseProblems, type ModelReleaseProps } from '../../../lib/release/model-release';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject } from '../../fixtures/model-folder';

const project = createFixtureProject();
const cleanups: (() => void)[] = [project.cleanup];
after(() => cleanups.forEach((cleanup) => cleanup()));
const modelDir = join(project.root, 'breast-cancer', '1');
const HOOK_STUB = join(import.meta.dirname, '..', '..', 'fixtures', 'pre-traffic-hook-stub.ts');

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[]; UpdatePolicy?: Record<string, unknown> };

interface Built {
  readonly release: ModelRelease;
  readonly template: Template;
  readonly resources: Record<string, Resource>;
  readonly outdir: string;
  readonly stack: Stack;
}

interface FunctionOptions {
  readonly timeout?: Duration;
  readonly reservedConcurrency?: number;
}

function newFunction(stack: Stack, options: FunctionOptions = { timeout: Duration.seconds(10) }): lambda.Function {
  return new lambda.Function(stack, 'Model', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200 })'),
    timeout: options.timeout,
    reservedConcurrentExecutions: options.reservedConcurrency,
  });
}

function build(props: Partial<ModelReleaseProps> = {}, options: { stackName?: string; fn?: FunctionOptions } = {}): Built {
  const { app, outdir, cleanup } = createTestApp();
  cleanups.push(cleanup);
  const stack = new Stack(app, 'ReleaseStack', { stackName: options.stackName ?? 'shop-test' });
  const fn = newFunction(stack, options.fn);
  const release = new ModelRelease(stack, 'Release', { function: fn, modelName: 'breast-cancer', modelVersion: 3, modelDir, hookEntry: HOOK_STUB, ...props });
  const template = Template.fromStack(stack);
  return { release, template, resources: (template.toJSON() as { Resources: Record<string, Resource> }).Resources, outdir, stack };
}

function only(resources: Record<string, Resource>, type: string): [string, Resource] {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type);
  assert.equal(found.length, 1, `exactly one ${type}, found ${found.map(([id]) => id).join(', ')}`);
  return found[0]!;
}

/** The logical id of the one resource whose id starts with `prefix` (and of `type`, when given). */
function logicalId(resources: Record<string, Resource>, prefix: string, type?: string): string {
  const ids = Object.keys(resources).filter((id) => id.startsWith(prefix) && (type === undefined || resources[id]!.Type === type));
  assert.equal(ids.length, 1, `one resource named ${prefix}*, found ${ids.join(', ')}`);
  return ids[0]!;
}

/** The resolved properties of the alarm whose construct id starts with `prefix` (ErrorRateAlarm ...). */
function alarm(resources: Record<string, Resource>, prefix: string): Record<string, unknown> {
  return resources[logicalId(resources, `Release${prefix}`, 'AWS::CloudWatch::Alarm')]!.Properties;
}

const defaults = build();

describe('ModelRelease: version and alias', () => {
  it('publishes the function as it is now and points the live alias at it, without provisioned concurrency', () => {
    const { resources } = defaults;
    const [versionId, version] = only(resources, 'AWS::Lambda::Version');
    assert.deepEqual(version.Properties.FunctionName, { Ref: logicalId(resources, 'Model', 'AWS::Lambda::Function') });
    const [, alias] = only(resources, 'AWS::Lambda::Alias');
    assert.equal(alias.Properties.Name, 'live');
    assert.equal(LIVE_ALIAS, 'live');
    assert.deepEqual(alias.Properties.FunctionVersion, { 'Fn::GetAtt': [versionId, 'Version'] });
    assert.equal(alias.Properties.ProvisionedConcurrencyConfig, undefined);
  });

  it('sets provisioned concurrency on the alias when asked', () => {
    const { template } = build({ provisionedConcurrency: 4 });
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 4 } });
  });

  it('moves the alias through CodeDeploy, with the hook, after the hook, the alarms and the deployment group are updated', () => {
    const { resources } = defaults;
    const [, alias] = only(resources, 'AWS::Lambda::Alias');
    const hookId = logicalId(resources, 'ReleasePreTrafficHook', 'AWS::Lambda::Function');
    assert.deepEqual(alias.UpdatePolicy, {
      CodeDeployLambdaAliasUpdate: {
        ApplicationName: { Ref: logicalId(resources, 'ReleaseApplication', 'AWS::CodeDeploy::Application') },
        DeploymentGroupName: { Ref: logicalId(resources, 'ReleaseDeploymentGroup', 'AWS::CodeDeploy::DeploymentGroup') },
        BeforeAllowTrafficHook: { Ref: hookId },
      },
    });
    for (const [prefix, type] of [
      ['ReleaseDeploymentGroup', 'AWS::CodeDeploy::DeploymentGroup'],
      ['ReleasePreTrafficHook', 'AWS::Lambda::Function'],
      ['ReleaseErrorRateAlarm', 'AWS::CloudWatch::Alarm'],
      ['ReleaseFunctionErrorsAlarm', 'AWS::CloudWatch::Alarm'],
      ['ReleaseLatencyAlarm', 'AWS::CloudWatch::Alarm'],
      ['ReleaseThrottlesAlarm', 'AWS::CloudWatch::Alarm'],
    ] as const) {
      assert.ok(alias.DependsOn?.includes(logicalId(resources, prefix, type)), `the alias depends on ${prefix}`);
    }
  });
});

describe('ModelRelease: CodeDeploy', () => {
  it('creates a Lambda application and a deployment group named after the stack and model', () => {
    const { template, release } = defaults;
    template.hasResourceProperties('AWS::CodeDeploy::Application', { ApplicationName: 'shop-test-breast-cancer', ComputePlatform: 'Lambda' });
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', {
      DeploymentGroupName: 'shop-test-breast-cancer',
      DeploymentStyle: { DeploymentType: 'BLUE_GREEN', DeploymentOption: 'WITH_TRAFFIC_CONTROL' },
    });
    assert.equal(release.strategy, 'canary');
  });

  it('rolls back on a failed deployment, on any alarm and when stopped', () => {
    const [, group] = only(defaults.resources, 'AWS::CodeDeploy::DeploymentGroup');
    assert.deepEqual(group.Properties.AutoRollbackConfiguration, { Enabled: true, Events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST', 'DEPLOYMENT_STOP_ON_ALARM'] });
  });

  it('watches exactly its four alarms', () => {
    const { resources } = defaults;
    const [, group] = only(resources, 'AWS::CodeDeploy::DeploymentGroup');
    assert.deepEqual(group.Properties.AlarmConfiguration, {
      Enabled: true,
      Alarms: ['ErrorRateAlarm', 'FunctionErrorsAlarm', 'LatencyAlarm', 'ThrottlesAlarm'].map((a) => ({ Name: { Ref: logicalId(resources, `Release${a}`, 'AWS::CloudWatch::Alarm') } })),
    });
    assert.equal(Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').length, 4);
  });

  const predefined: [string, Partial<ModelReleaseProps>, string][] = [
    ['canary 10% for 5 minutes (the default)', {}, 'CodeDeployDefault.LambdaCanary10Percent5Minutes'],
    ['canary 10% for 10 minutes', { strategy: 'canary', percent: 10, intervalMinutes: 10 }, 'CodeDeployDefault.LambdaCanary10Percent10Minutes'],
    ['canary 10% for 15 minutes', { strategy: 'canary', percent: 10, intervalMinutes: 15 }, 'CodeDeployDefault.LambdaCanary10Percent15Minutes'],
    ['canary 10% for 30 minutes', { strategy: 'canary', percent: 10, intervalMinutes: 30 }, 'CodeDeployDefault.LambdaCanary10Percent30Minutes'],
    ['linear 10% every minute', { strategy: 'linear', percent: 10, intervalMinutes: 1 }, 'CodeDeployDefault.LambdaLinear10PercentEvery1Minute'],
    ['linear 10% every 2 minutes', { strategy: 'linear', percent: 10, intervalMinutes: 2 }, 'CodeDeployDefault.LambdaLinear10PercentEvery2Minutes'],
    ['linear 10% every 3 minutes', { strategy: 'linear', percent: 10, intervalMinutes: 3 }, 'CodeDeployDefault.LambdaLinear10PercentEvery3Minutes'],
    ['linear 10% every 10 minutes', { strategy: 'linear', percent: 10, intervalMinutes: 10 }, 'CodeDeployDefault.LambdaLinear10PercentEvery10Minutes'],
    ['all at once', { strategy: 'all-at-once' }, 'CodeDeployDefault.LambdaAllAtOnce'],
    ['all at once, whatever percent and interval say', { strategy: 'all-at-once', percent: 33, intervalMinutes: 7 }, 'CodeDeployDefault.LambdaAllAtOnce'],
  ];
  for (const [what, props, name] of predefined) {
    it(`uses CodeDeploy's own configuration for ${what}`, () => {
      const { template } = build(props);
      template.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', { DeploymentConfigName: name });
      template.resourceCountIs('AWS::CodeDeploy::DeploymentConfig', 0);
    });
  }

  const custom: [string, Partial<ModelReleaseProps>, Record<string, unknown>, string][] = [
    ['canary 25% for 7 minutes', { strategy: 'canary', percent: 25, intervalMinutes: 7 }, { Type: 'TimeBasedCanary', TimeBasedCanary: { CanaryPercentage: 25, CanaryInterval: 7 } }, 'shop-test-breast-cancer-Canary25Percent7Minutes'],
    ['canary 10% for 7 minutes (no predefined interval)', { strategy: 'canary', percent: 10, intervalMinutes: 7 }, { Type: 'TimeBasedCanary', TimeBasedCanary: { CanaryPercentage: 10, CanaryInterval: 7 } }, 'shop-test-breast-cancer-Canary10Percent7Minutes'],
    ['canary 5% for 48 hours', { strategy: 'canary', percent: 5, intervalMinutes: 2880 }, { Type: 'TimeBasedCanary', TimeBasedCanary: { CanaryPercentage: 5, CanaryInterval: 2880 } }, 'shop-test-breast-cancer-Canary5Percent2880Minutes'],
    ['linear 20% every 4 minutes', { strategy: 'linear', percent: 20, intervalMinutes: 4 }, { Type: 'TimeBasedLinear', TimeBasedLinear: { LinearPercentage: 20, LinearInterval: 4 } }, 'shop-test-breast-cancer-Linear20PercentEvery4Minutes'],
    ['linear 50% every minute', { strategy: 'linear', percent: 50, intervalMinutes: 1 }, { Type: 'TimeBasedLinear', TimeBasedLinear: { LinearPercentage: 50, LinearInterval: 1 } }, 'shop-test-breast-cancer-Linear50PercentEvery1Minute'],
  ];
  for (const [what, props, routing, name] of custom) {
    it(`creates a custom configuration for ${what}`, () => {
      const { template, resources } = build(props);
      template.resourceCountIs('AWS::CodeDeploy::DeploymentConfig', 1);
      template.hasResourceProperties('AWS::CodeDeploy::DeploymentConfig', { ComputePlatform: 'Lambda', DeploymentConfigName: name, TrafficRoutingConfig: routing });
      template.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', { DeploymentConfigName: { Ref: logicalId(resources, 'ReleaseDeploymentConfig', 'AWS::CodeDeploy::DeploymentConfig') } });
    });
  }
});

describe('ModelRelease: alarms on the new version', () => {
  const thresholds = build({ alarms: { errorRatePercent: 2.5, p99LatencyMs: 800, throttles: 3, minRequests: 20 } });
  const { resources } = thresholds;
  const functionId = logicalId(resources, 'Model', 'AWS::Lambda::Function');
  const [versionId] = only(resources, 'AWS::Lambda::Version');
  const aliasDimensions = [
    { Name: 'FunctionName', Value: { Ref: functionId } },
    { Name: 'Resource', Value: { 'Fn::Join': ['', [{ Ref: functionId }, ':live']] } },
  ];
  const newVersionDimensions = [{ Name: 'ExecutedVersion', Value: { 'Fn::GetAtt': [versionId, 'Version'] } }, ...aliasDimensions];
  const everyMinute = { EvaluationPeriods: 1, DatapointsToAlarm: 1, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' };

  it('error rate: 100 * ServerErrors / Requests of the new model version, judged from minRequests requests', () => {
    const props = alarm(resources, 'ErrorRateAlarm');
    assert.deepEqual({ ...props, AlarmDescription: undefined }, {
      ...everyMinute,
      AlarmDescription: undefined,
      AlarmName: 'shop-test-breast-cancer-release-error-rate',
      Threshold: 2.5,
      Metrics: [
        { Id: 'expr_1', Expression: 'IF(requests >= 20, 100 * FILL(serverErrors, 0) / requests, 0)', Label: 'breast-cancer v3 5xx rate (%)', ReturnData: true },
        ...['Requests', 'ServerErrors'].map((name) => ({
          Id: name === 'Requests' ? 'requests' : 'serverErrors',
          ReturnData: false,
          MetricStat: {
            Metric: {
              Namespace: 'mlship',
              MetricName: name,
              // Powertools' `service` (POWERTOOLS_SERVICE_NAME), and the handler's default dimensions: the MODEL version.
              Dimensions: [
                { Name: 'model', Value: 'breast-cancer' },
                { Name: 'service', Value: 'mlship-breast-cancer' },
                { Name: 'version', Value: '3' },
              ],
            },
            Period: 60,
            Stat: 'Sum',
          },
        })),
      ],
    });
    assert.match(String(props.AlarmDescription), /^mlship breast-cancer v3: more than 2\.5% of requests answered 5xx .* at least 20 requests\. During a release CodeDeploy .* back to the previous version.*What to do: /);
  });

  it('function errors: any failed invocation of the new Lambda version through the alias', () => {
    const props = alarm(resources, 'FunctionErrorsAlarm');
    assert.deepEqual({ ...props, AlarmDescription: undefined }, {
      ...everyMinute,
      AlarmDescription: undefined,
      AlarmName: 'shop-test-breast-cancer-release-function-errors',
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Period: 60,
      Dimensions: newVersionDimensions,
      Threshold: 0,
    });
    assert.match(String(props.AlarmDescription), /crash, a timeout or running out of memory.*What to do: /);
  });

  it('latency: p99 HandlerLatency of the new model version (scoring requests only, not :explain), judged from minRequests requests', () => {
    const props = alarm(resources, 'LatencyAlarm');
    const emf = (id: string, name: string, stat: string) => ({
      Id: id,
      ReturnData: false,
      MetricStat: {
        Metric: {
          Namespace: 'mlship',
          MetricName: name,
          Dimensions: [
            { Name: 'model', Value: 'breast-cancer' },
            { Name: 'service', Value: 'mlship-breast-cancer' },
            { Name: 'version', Value: '3' },
          ],
        },
        Period: 60,
        Stat: stat,
      },
    });
    assert.deepEqual({ ...props, AlarmDescription: undefined }, {
      ...everyMinute,
      AlarmDescription: undefined,
      AlarmName: 'shop-test-breast-cancer-release-p99-latency',
      Threshold: 800,
      Metrics: [
        { Id: 'expr_1', Expression: 'IF(requests >= 20, FILL(p99Latency, 0), 0)', Label: 'breast-cancer v3 p99 scoring latency (ms)', ReturnData: true },
        emf('requests', 'Requests', 'Sum'),
        emf('p99Latency', 'HandlerLatency', 'p99'),
      ],
    });
    // Lambda's Duration counts :explain requests (slow by design): no alarm of the release reads it.
    for (const name of ['ErrorRateAlarm', 'LatencyAlarm']) assert.doesNotMatch(JSON.stringify(alarm(resources, name)), /"Duration"/);
    assert.match(String(props.AlarmDescription), /p99 handler latency of the new version's predict and infer requests \(HandlerLatency; :explain requests are not counted\) above 800 ms in a minute with at least 20 requests\. .*What to do: /);
  });

  it('throttles: throttled invocations of the alias (they carry no version)', () => {
    const props = alarm(resources, 'ThrottlesAlarm');
    assert.deepEqual({ ...props, AlarmDescription: undefined }, {
      ...everyMinute,
      AlarmDescription: undefined,
      AlarmName: 'shop-test-breast-cancer-release-throttles',
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Statistic: 'Sum',
      Period: 60,
      Dimensions: aliasDimensions,
      Threshold: 3,
    });
    assert.match(String(props.AlarmDescription), /more than 3 invocations of the live alias throttled .*What to do: /);
  });

  it('takes the manifest defaults: 1% errors, 1000 ms p99, no throttles, 10 requests', () => {
    const { resources: r } = defaults;
    assert.equal(alarm(r, 'ErrorRateAlarm').Threshold, 1);
    assert.equal((alarm(r, 'ErrorRateAlarm').Metrics as { Expression?: string }[])[0]!.Expression, 'IF(requests >= 10, 100 * FILL(serverErrors, 0) / requests, 0)');
    assert.equal(alarm(r, 'LatencyAlarm').Threshold, 1000);
    assert.equal(alarm(r, 'ThrottlesAlarm').Threshold, 0);
  });

  it('fills in only the thresholds it is given', () => {
    const { resources: r } = build({ alarms: { p99LatencyMs: 250 } });
    assert.equal(alarm(r, 'LatencyAlarm').Threshold, 250);
    assert.equal(alarm(r, 'ErrorRateAlarm').Threshold, 1);
  });

  it('describes every alarm in words, with what to do', () => {
    for (const prefix of ['ErrorRateAlarm', 'FunctionErrorsAlarm', 'LatencyAlarm', 'ThrottlesAlarm']) {
      const description = String(alarm(resources, prefix).AlarmDescription);
      assert.ok(description.length < 1024, `${prefix}: CloudWatch takes up to 1024 characters`);
      assert.match(description, /What to do: /, prefix);
    }
  });
});

describe('ModelRelease: pre-traffic hook', () => {
  const { resources, template, outdir } = defaults;
  const hookId = logicalId(resources, 'ReleasePreTrafficHook', 'AWS::Lambda::Function');
  const hook = resources[hookId]!;
  const [versionId] = only(resources, 'AWS::Lambda::Version');

  it('is a Node.js 22 arm64 function targeting the new version, named for the console', () => {
    assert.equal(hook.Type, 'AWS::Lambda::Function');
    assert.deepEqual(
      { ...hook.Properties, Code: undefined, Role: undefined, Description: undefined },
      {
        FunctionName: 'shop-test-breast-cancer-pre-traffic',
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 256,
        Timeout: 300,
        LoggingConfig: { LogGroup: { Ref: logicalId(resources, 'ReleasePreTrafficHookLogs', 'AWS::Logs::LogGroup') } },
        Environment: {
          Variables: {
            TARGET_FUNCTION_ARN: { Ref: versionId },
            MODEL_NAME: 'breast-cancer',
            POWERTOOLS_SERVICE_NAME: 'mlship-breast-cancer-pre-traffic',
            LOG_LEVEL: 'INFO',
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
        Code: undefined,
        Role: undefined,
        Description: undefined,
      },
    );
  });

  it('keeps its logs a month in a log group of its own', () => {
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
    const { template: week } = build({ logRetention: logs.RetentionDays.ONE_WEEK });
    week.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('ships the bundle with the model version’s model.json next to index.js', () => {
    const key = String((hook.Properties.Code as { S3Key: string }).S3Key).replace(/\.zip$/, '');
    const assetDir = join(outdir, `asset.${key}`);
    assert.ok(existsSync(assetDir), `the asset folder ${assetDir} is in cdk.out`);
    assert.deepEqual(readdirSync(assetDir).sort(), ['index.js', 'index.js.map', 'model.json', 'package.json']);
    assert.deepEqual(readFileSync(join(assetDir, 'model.json')), readFileSync(join(modelDir, 'model.json')));
    assert.match(readFileSync(join(assetDir, 'index.js'), 'utf8'), /handler/);
  });

  it('may only write its logs, invoke the new version and report to its own deployment group', () => {
    const roleId = logicalId(resources, 'ReleasePreTrafficHookRole', 'AWS::IAM::Role');
    assert.deepEqual(hook.Properties.Role, { 'Fn::GetAtt': [roleId, 'Arn'] });
    const role = resources[roleId]!;
    assert.equal(role.Properties.ManagedPolicyArns, undefined, 'no managed policies (no AWSLambdaBasicExecutionRole on *)');
    assert.deepEqual(role.Properties.AssumeRolePolicyDocument, { Version: '2012-10-17', Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }] });
    const policies = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(roleId));
    const statements = policies.flatMap((p) => (p.Properties.PolicyDocument as { Statement: { Effect: string; Action: string | string[]; Resource: unknown }[] }).Statement);
    const groupId = logicalId(resources, 'ReleaseDeploymentGroup', 'AWS::CodeDeploy::DeploymentGroup');
    const applicationId = logicalId(resources, 'ReleaseApplication', 'AWS::CodeDeploy::Application');
    const normalized = statements.map((s) => ({ Effect: s.Effect, Action: [s.Action].flat().sort(), Resource: s.Resource }));
    assert.deepEqual(
      normalized.sort((a, b) => a.Action[0]!.localeCompare(b.Action[0]!)),
      [
        {
          Effect: 'Allow',
          Action: ['codedeploy:PutLifecycleEventHookExecutionStatus'],
          Resource: {
            'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':codedeploy:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':deploymentgroup:', { Ref: applicationId }, '/', { Ref: groupId }]],
          },
        },
        { Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: { Ref: versionId } },
        { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [logicalId(resources, 'ReleasePreTrafficHookLogs', 'AWS::Logs::LogGroup'), 'Arn'] } },
      ],
    );
    assert.ok(!JSON.stringify(statements).includes('"*"'), 'no statement on *');
  });

  it('may be invoked by CodeDeploy, and by nothing else', () => {
    const groupRoleId = logicalId(resources, 'ReleaseDeploymentGroupServiceRole', 'AWS::IAM::Role');
    const invokers = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .filter((r) => JSON.stringify(r.Properties.PolicyDocument).includes(`"${hookId}"`));
    assert.equal(invokers.length, 1);
    assert.deepEqual(invokers[0]!.Properties.Roles, [{ Ref: groupRoleId }]);
    assert.equal(Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Permission').length, 0);
  });

  it('keeps names within their limits, with a hash when a long stack and model name would not fit', () => {
    const longModel = 'a'.repeat(40);
    const first = build({ modelName: longModel }, { stackName: 'project-with-a-long-name-staging1' });
    const second = build({ modelName: longModel }, { stackName: 'project-with-a-long-name-staging1' });
    const hookOf = (b: Built) => b.resources[logicalId(b.resources, 'ReleasePreTrafficHook', 'AWS::Lambda::Function')]!;
    const name = String(hookOf(first).Properties.FunctionName);
    assert.ok(name.length <= 64, name);
    assert.match(name, /^project-with-a-long-name-staging1-a+-[0-9a-f]{8}$/);
    assert.equal(String(hookOf(second).Properties.FunctionName), name, 'the same name every synth');
  });
});

describe('ModelRelease validation', () => {
  const invalid: [string, Partial<ModelReleaseProps>, string, FunctionOptions?][] = [
    ['a model name with capitals', { modelName: 'Breast' }, "modelName must be 2-48 lower-case letters, digits or dashes, starting with a letter, received 'Breast'"],
    ['model version 0', { modelVersion: 0 }, 'modelVersion must be an integer, 1 or more, received 0'],
    ['an unknown strategy', { strategy: 'blue-green' as never }, "strategy must be one of canary, linear, all-at-once, received 'blue-green'"],
    ['percent 0', { percent: 0 }, 'percent must be an integer between 1 and 99 (CodeDeploy shifts whole percents), received 0'],
    ['percent 100', { strategy: 'linear', percent: 100 }, 'percent must be an integer between 1 and 99 (CodeDeploy shifts whole percents), received 100'],
    ['a fractional percent', { percent: 12.5 }, 'percent must be an integer between 1 and 99 (CodeDeploy shifts whole percents), received 12.5'],
    ['zero minutes', { intervalMinutes: 0 }, 'intervalMinutes must be a whole number of minutes, 1 or more, received 0'],
    ['a fractional interval', { strategy: 'linear', intervalMinutes: 1.5 }, 'intervalMinutes must be a whole number of minutes, 1 or more, received 1.5'],
    [
      'a canary longer than CodeDeploy allows',
      { intervalMinutes: MAX_TRAFFIC_SHIFT_MINUTES + 1 },
      "intervalMinutes must be at most 2880 for a canary: CodeDeploy allows 48 hours between a Lambda deployment's first and last traffic shift; received 2881",
    ],
    [
      'a linear release longer than CodeDeploy allows',
      { strategy: 'linear', percent: 10, intervalMinutes: 321 },
      'release: linear 10% every 321 minutes shifts the last traffic 2889 minutes (9 intervals) after the first; CodeDeploy allows at most 2880 (48 hours) for a Lambda deployment: raise percent or lower intervalMinutes',
    ],
    ['a negative error rate', { alarms: { errorRatePercent: -1 } }, 'alarms.errorRatePercent must be a percentage between 0 and 100, received -1'],
    ['an error rate above 100%', { alarms: { errorRatePercent: 101 } }, 'alarms.errorRatePercent must be a percentage between 0 and 100, received 101'],
    ['a p99 of 0 ms', { alarms: { p99LatencyMs: 0 } }, 'alarms.p99LatencyMs must be a number of milliseconds above 0, received 0'],
    [
      'a p99 threshold the function timeout never lets the handler reach',
      { alarms: { p99LatencyMs: 10_000 } },
      "alarms.p99LatencyMs must be below the function timeout of 10000 ms (10 s): the handler's latency never exceeds the timeout (Lambda stops the function first), so the alarm could never fire; received 10000",
    ],
    [
      "a p99 threshold above Lambda's default timeout of 3 s",
      { alarms: { p99LatencyMs: 5000 } },
      "alarms.p99LatencyMs must be below the function timeout of 3000 ms (3 s): the handler's latency never exceeds the timeout (Lambda stops the function first), so the alarm could never fire; received 5000",
      {},
    ],
    ['negative throttles', { alarms: { throttles: -1 } }, 'alarms.throttles must be an integer, 0 or more, received -1'],
    ['fractional throttles', { alarms: { throttles: 0.5 } }, 'alarms.throttles must be an integer, 0 or more, received 0.5'],
    ['minRequests 0', { alarms: { minRequests: 0 } }, 'alarms.minRequests must be an integer, 1 or more, received 0'],
    ['provisioned concurrency 0', { provisionedConcurrency: 0 }, 'provisionedConcurrency must be an integer, 1 or more, received 0'],
    [
      'more provisioned than reserved concurrency',
      { provisionedConcurrency: 6 },
      "provisionedConcurrency must be at most the function's reserved concurrency (5): Lambda refuses more; received 6",
      { timeout: Duration.seconds(10), reservedConcurrency: 5 },
    ],
    [
      'several problems at once, all of them',
      { percent: 0, alarms: { minRequests: 0 } },
      'percent must be an integer between 1 and 99 (CodeDeploy shifts whole percents), received 0; alarms.minRequests must be an integer, 1 or more, received 0',
    ],
  ];
  for (const [what, props, message, fnOptions] of invalid) {
    it(`rejects ${what}`, () => {
      assert.throws(() => build(props, { fn: fnOptions ?? { timeout: Duration.seconds(10) } }), { message });
    });
  }

  it('accepts the most CodeDeploy allows: a linear release whose last shift is 48 hours after the first', () => {
    assert.doesNotThrow(() => build({ strategy: 'linear', percent: 10, intervalMinutes: 320 }));
    assert.doesNotThrow(() => build({ provisionedConcurrency: 5 }, { fn: { timeout: Duration.seconds(10), reservedConcurrency: 5 } }));
  });

  it('names a model folder without model.json', () => {
    assert.throws(() => build({ modelDir: project.root }), { message: `modelDir ${project.root} has no model.json: the pre-traffic hook needs its golden cases` });
  });

  it('names a hook entry that does not exist', () => {
    assert.throws(() => build({ hookEntry: join(project.root, 'no-hook.ts') }), /^Error: hookEntry .*no-hook\.ts not found: the pre-traffic hook must exist to build its function$/);
  });
});

describe('releaseProblems', () => {
  const fine = { strategy: 'canary', percent: 10, intervalMinutes: 5, alarms: { errorRatePercent: 1, p99LatencyMs: 1000, throttles: 0, minRequests: 10 } };

  it('finds nothing wrong with the defaults', () => {
    assert.deepEqual(releaseProblems(fine, 'models[0].release', { timeoutSeconds: 10 }), []);
  });

  it('names each problem with its manifest path', () => {
    assert.deepEqual(releaseProblems({ ...fine, strategy: 'linear', percent: 1, intervalMinutes: 30, provisionedConcurrency: 9 }, 'models[2].release', { timeoutSeconds: 1, reservedConcurrency: 8 }), [
      'models[2].release: linear 1% every 30 minutes shifts the last traffic 2970 minutes (99 intervals) after the first; CodeDeploy allows at most 2880 (48 hours) for a Lambda deployment: raise percent or lower intervalMinutes',
      "models[2].release.alarms.p99LatencyMs must be below the function timeout of 1000 ms (1 s): the handler's latency never exceeds the timeout (Lambda stops the function first), so the alarm could never fire; received 1000",
      "models[2].release.provisionedConcurrency must be at most the function's reserved concurrency (8): Lambda refuses more; received 9",
    ]);
  });

  it('counts the intervals of a linear release: shifts at every step until 100%', () => {
    assert.deepEqual([1, 10, 30, 33, 34, 50, 99].map(linearIntervals), [99, 9, 3, 3, 2, 1, 1]);
  });
});
