// The monitoring part of the synthesized stack, for a manifest with a Lambda and a SageMaker model and
// thresholds of its own: every alarm of the alarm catalog with its threshold, period, evaluation periods,
// missing-data treatment and (no) actions; one composite alarm per model naming its serving children,
// notifying the encrypted alarm topic on ALARM and OK; the drift alarm under driftAlarmName, outside the
// composite, without actions; the alert formatter's subscription, settings and role; the dashboard; the
// EMF service name that carries project and stage.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { loadManifest } from '../../../lambdas/core/manifest/load';
import { MlshipStack } from '../../../lib/stack/mlship-stack';
import { driftAlarmName } from '../../../lib/private/names';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject } from '../../fixtures/model-folder';

const bcAlarms = { p99LatencyMs: 300, errorRatePercent: 2, throttles: 4, minRequests: 50, periodMinutes: 1, evaluationPeriods: 5 };
const digitsAlarms = { p99LatencyMs: 250, gpuUtilizationPercent: 80 };
const project = createFixtureProject({
  models: [
    { name: 'breast-cancer', version: 3, features: ['radius', 'texture', 'perimeter', 'area'], labels: ['malignant', 'benign'] },
    { name: 'digits', features: Array.from({ length: 16 }, (_, i) => `px${i}`), labels: ['0', '1', '2'] },
  ],
  manifest: {
    project: 'shop',
    stage: 'test',
    notifications: { emails: ['oncall@example.com'] },
    models: [
      { name: 'breast-cancer', version: 3, monitoring: { alarms: bcAlarms } },
      { name: 'digits', version: 1, runtime: 'sagemaker', sagemaker: { instanceType: 'ml.g6.xlarge' }, monitoring: { alarms: digitsAlarms } },
    ],
  },
});
const testApp = createTestApp();
after(() => {
  testApp.cleanup();
  project.cleanup();
});

const stack = new MlshipStack(testApp.app, undefined, { loaded: loadManifest(project.manifestPath) });
type Resource = { Type: string; Properties: Record<string, unknown> };
const json = Template.fromStack(stack).toJSON() as { Resources: Record<string, Resource>; Outputs: Record<string, { Value: unknown }> };
const resources = Object.entries(json.Resources);
const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
const idOf = (construct: { node: { defaultChild?: unknown } } | { readonly node: unknown }) => stack.getLogicalId((construct as { node: { defaultChild: never } }).node.defaultChild);

/** A CloudFormation value with its tokens written as `${Ref}` / `${Id.Attr}`, to read and match. */
function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(flat).join('');
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('Ref' in o) return `\${${String(o.Ref)}}`;
    if ('Fn::GetAtt' in o) return `\${${(o['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(flat).join(sep);
    }
  }
  return JSON.stringify(value);
}

const metricAlarms = new Map(ofType('AWS::CloudWatch::Alarm').map(([id, r]) => [String(r.Properties.AlarmName), { id, ...r.Properties }]));
const alarm = (name: string) => {
  const found = metricAlarms.get(name);
  assert.ok(found, `alarm ${name} exists (have ${[...metricAlarms.keys()].join(', ')})`);
  return found as Record<string, unknown> & { id: string };
};
const metricsOf = (a: Record<string, unknown>) => a.Metrics as { Id: string; Expression?: string; MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] }; Period: number; Stat: string } }[];
const alarmTopicId = idOf(stack.alertFormatter.alarmTopic);
/** The API stage's access log format. */
const accessLogFormat = () => String((ofType('AWS::ApiGateway::Stage')[0]![1].Properties.AccessLogSetting as { Format: string }).Format);

describe('monitoring alarms', () => {
  const expected: [string, { kinds: string[]; periodSeconds: number; evaluationPeriods: number }][] = [
    ['breast-cancer', { kinds: ['api-p99-latency', 'error-rate', 'function-p99-latency', 'throttles'], periodSeconds: bcAlarms.periodMinutes * 60, evaluationPeriods: bcAlarms.evaluationPeriods }],
    ['digits', { kinds: ['api-p99-latency', 'error-rate', 'endpoint-p99-latency', 'endpoint-5xx', 'gpu-utilization', 'throttles'], periodSeconds: 300, evaluationPeriods: 3 }],
  ];

  it('has every serving alarm of each model with the manifest\'s period and evaluation periods, missing data not breaching, and no action of its own', () => {
    for (const [model, { kinds, periodSeconds, evaluationPeriods }] of expected) {
      for (const kind of kinds) {
        const a = alarm(`shop-test-${model}-${kind}`);
        assert.equal(a.EvaluationPeriods, evaluationPeriods, `${model} ${kind} evaluation periods`);
        assert.equal(a.DatapointsToAlarm, evaluationPeriods, `${model} ${kind}: every period must breach`);
        assert.equal(a.TreatMissingData, 'notBreaching', `${model} ${kind} missing data`);
        for (const m of metricsOf(a)) if (m.MetricStat) assert.equal(m.MetricStat.Period, periodSeconds, `${model} ${kind} period of ${m.Id}`);
        for (const action of ['AlarmActions', 'OKActions', 'InsufficientDataActions']) assert.equal(a[action], undefined, `${model} ${kind} has no ${action}: only the composite notifies`);
        assert.ok(typeof a.AlarmDescription === 'string' && /First /.test(a.AlarmDescription), `${model} ${kind} says what to do first: ${String(a.AlarmDescription)}`);
      }
    }
  });

  it('takes each threshold from the manifest, in the metric\'s own unit', () => {
    assert.equal(alarm('shop-test-breast-cancer-api-p99-latency').Threshold, bcAlarms.p99LatencyMs);
    assert.equal(alarm('shop-test-breast-cancer-function-p99-latency').Threshold, bcAlarms.p99LatencyMs);
    assert.equal(alarm('shop-test-breast-cancer-throttles').Threshold, bcAlarms.throttles);
    const errorRate = alarm('shop-test-breast-cancer-error-rate');
    assert.equal(errorRate.Threshold, bcAlarms.errorRatePercent);
    assert.ok(metricsOf(errorRate).some((m) => m.Expression?.includes(`requests >= ${bcAlarms.minRequests}`)), `error rate judged from ${bcAlarms.minRequests} requests`);
    const endpoint = alarm('shop-test-digits-endpoint-p99-latency');
    assert.equal(endpoint.Threshold, digitsAlarms.p99LatencyMs * 1000, 'ModelLatency is in microseconds');
    assert.equal(metricsOf(endpoint)[0]!.MetricStat!.Metric.MetricName, 'ModelLatency');
    assert.equal(metricsOf(endpoint)[0]!.MetricStat!.Stat, 'p99');
    const gpu = alarm('shop-test-digits-gpu-utilization');
    assert.equal(gpu.Threshold, digitsAlarms.gpuUtilizationPercent);
    assert.equal(metricsOf(gpu)[0]!.MetricStat!.Metric.Namespace, '/aws/sagemaker/Endpoints');
    assert.equal(alarm('shop-test-digits-endpoint-5xx').Threshold, 0);
    assert.equal(alarm('shop-test-digits-endpoint-5xx').ComparisonOperator, 'GreaterThanThreshold');
  });

  it('watches the API routes of the model and the live alias of its function', () => {
    const api = metricsOf(alarm('shop-test-breast-cancer-api-p99-latency'));
    const resources = api.flatMap((m) => m.MetricStat?.Metric.Dimensions.filter((d) => d.Name === 'Resource').map((d) => d.Value) ?? []);
    assert.deepEqual(resources.sort(), ['/v1/models/breast-cancer:predict', '/v2/models/breast-cancer/infer']);
    // The function's latency is the handler's HandlerLatency of the deployed model version (scoring requests
    // only), gated on its Requests: Lambda's Duration would count slow :explain requests too.
    const fnMetrics = metricsOf(alarm('shop-test-breast-cancer-function-p99-latency'));
    const latency = fnMetrics.find((m) => m.MetricStat?.Metric.MetricName === 'HandlerLatency')!.MetricStat!;
    assert.equal(latency.Stat, 'p99');
    assert.deepEqual(Object.fromEntries(latency.Metric.Dimensions.map((d) => [d.Name, flat(d.Value)])), { service: 'shop-test-breast-cancer', model: 'breast-cancer', version: '3' });
    assert.ok(fnMetrics.some((m) => m.MetricStat?.Metric.MetricName === 'Requests'), 'gated on the Requests count');
    assert.ok(!JSON.stringify(fnMetrics).includes('"Duration"'), 'not Lambda Duration');
  });

  it('counts API 429s of each model from the API access log, and adds Lambda throttles for a Lambda model', () => {
    const filters = ofType('AWS::Logs::MetricFilter');
    const accessLogs = idOf(stack.api.accessLogGroup);
    for (const model of ['breast-cancer', 'digits']) {
      const metricName = `shop-test-${model}-Throttled`;
      const filter = filters.find(([, r]) => (r.Properties.MetricTransformations as { MetricName: string }[])[0]!.MetricName === metricName);
      assert.ok(filter, `a metric filter for ${metricName}`);
      assert.equal(flat(filter[1].Properties.LogGroupName), `\${${accessLogs}}`);
      assert.deepEqual(filter[1].Properties.MetricTransformations, [{ MetricNamespace: 'mlship/api', MetricName: metricName, MetricValue: '1' }]);
      const pattern = String(filter[1].Properties.FilterPattern);
      for (const part of ['$.status = "429"', `$.resourcePath = "/v2/models/${model}/infer"`, `$.resourcePath = "/v1/models/${model}:predict"`]) assert.ok(pattern.includes(part), `${part} in ${pattern}`);
      const a = alarm(`shop-test-${model}-throttles`);
      const read = metricsOf(a).filter((m) => m.MetricStat).map((m) => `${m.MetricStat!.Metric.Namespace} ${m.MetricStat!.Metric.MetricName}`);
      assert.deepEqual(read, model === 'digits' ? [`mlship/api ${metricName}`] : [`mlship/api ${metricName}`, 'AWS/Lambda Throttles']);
    }
    for (const field of ['"resourcePath":"$context.resourcePath"', '"status":"$context.status"']) assert.ok(accessLogFormat().includes(field), `the access log has ${field}, which the filter reads as a string`);
  });

  it('has a drift alarm per model under driftAlarmName, DriftDetected >= 1, without any action', () => {
    for (const model of ['breast-cancer', 'digits']) {
      const drift = alarm(driftAlarmName('shop', 'test', model));
      assert.equal(drift.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(drift.Threshold, 1);
      assert.equal(drift.TreatMissingData, 'notBreaching', 'no report (not enough data) is not drift');
      const stat = metricsOf(drift)[0]!.MetricStat!;
      assert.deepEqual([stat.Metric.Namespace, stat.Metric.MetricName], ['mlship/drift', 'DriftDetected']);
      assert.deepEqual(Object.fromEntries(stat.Metric.Dimensions.map((d) => [d.Name, d.Value])), { stage: 'test', model });
      for (const action of ['AlarmActions', 'OKActions', 'InsufficientDataActions']) assert.equal(drift[action], undefined, `the drift alarm has no ${action}: the monitor's report is the message`);
    }
  });

  it('has one composite alarm per model over its serving alarms (not drift), notifying the encrypted alarm topic on ALARM and OK', () => {
    const composites = ofType('AWS::CloudWatch::CompositeAlarm');
    assert.equal(composites.length, 2, 'one per model');
    for (const [model, { kinds }] of expected) {
      const found = composites.find(([, r]) => r.Properties.AlarmName === `shop-test-${model}-health`);
      assert.ok(found, `composite of ${model}`);
      const rule = flat(found[1].Properties.AlarmRule);
      const children = [...rule.matchAll(/ALARM\("\$\{([A-Za-z0-9]+)\.Arn\}"\)/g)].map((m) => m[1]);
      assert.deepEqual(children.sort(), kinds.map((k) => alarm(`shop-test-${model}-${k}`).id).sort(), `${model}: ${rule}`);
      assert.ok(!rule.includes(alarm(driftAlarmName('shop', 'test', model)).id), 'drift is not in the composite');
      assert.match(rule, /^\(ALARM\(.*\)\)$/, 'any child in ALARM');
      assert.deepEqual(found[1].Properties.AlarmActions, [{ Ref: alarmTopicId }]);
      assert.deepEqual(found[1].Properties.OKActions, [{ Ref: alarmTopicId }]);
    }
    const topic = json.Resources[alarmTopicId]!;
    const keyId = (topic.Properties.KmsMasterKeyId as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    assert.equal(json.Resources[keyId]!.Properties.EnableKeyRotation, true, 'the alarm topic key rotates');
    const keyPolicy = JSON.stringify(json.Resources[keyId]!.Properties.KeyPolicy);
    assert.ok(keyPolicy.includes('cloudwatch.amazonaws.com'), 'CloudWatch may use the key to publish');
    const topicPolicies = ofType('AWS::SNS::TopicPolicy').filter(([, r]) => (r.Properties.Topics as unknown[]).some((t) => flat(t) === `\${${alarmTopicId}}`));
    const statements = topicPolicies.flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: { Effect: string; Principal: unknown; Action: unknown; Condition?: unknown }[] }).Statement);
    const cloudwatch = statements.find((st) => JSON.stringify(st.Principal).includes('cloudwatch.amazonaws.com'));
    assert.ok(cloudwatch && cloudwatch.Effect === 'Allow' && cloudwatch.Action === 'sns:Publish', `CloudWatch may publish: ${JSON.stringify(statements)}`);
    assert.match(flat((cloudwatch.Condition as { ArnLike: Record<string, unknown> }).ArnLike['aws:SourceArn']), /:alarm:shop-test-\*$/, 'only this stage\'s alarms');
    assert.ok(statements.some((st) => st.Effect === 'Deny' && JSON.stringify(st).includes('aws:SecureTransport')), 'SSL only');
  });
});

describe('alert formatter', () => {
  const fnId = idOf(stack.alertFormatter.function);
  const fn = json.Resources[fnId]!.Properties;

  it('is subscribed to the alarm topic and publishes to the notifications topic', () => {
    const subs = ofType('AWS::SNS::Subscription').filter(([, r]) => flat(r.Properties.TopicArn) === `\${${alarmTopicId}}`);
    assert.deepEqual(subs.map(([, r]) => [r.Properties.Protocol, flat(r.Properties.Endpoint)]), [['lambda', `\${${fnId}.Arn}`]], 'only the formatter reads the alarm topic');
    const vars = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.equal(flat(vars.NOTIFICATION_TOPIC_ARN), `\${${idOf(stack.pipelineStorage.topic)}}`);
    assert.deepEqual([vars.PROJECT, vars.STAGE, JSON.parse(String(vars.MODELS))], ['shop', 'test', { 'breast-cancer': '3', digits: '1' }]);
    assert.match(flat(vars.DASHBOARD_URL), /#dashboards\/dashboard\/shop-test$/);
    assert.equal(fn.Runtime, 'nodejs22.x');
  });

  it('may publish to the notifications topic (and use its key), describe the stage\'s alarms and write its logs; nothing more', () => {
    const roleId = idOf(stack.alertFormatter.role);
    const role = json.Resources[roleId]!.Properties;
    assert.equal(role.ManagedPolicyArns, undefined, 'no managed policy');
    const policies = ofType('AWS::IAM::Policy').filter(([, r]) => (r.Properties.Roles as unknown[]).some((x) => flat(x) === `\${${roleId}}`));
    const statements = policies.flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown; Effect: string }[] }).Statement);
    const summary = statements.map((s) => `${s.Effect} ${[s.Action].flat().join(',')} on ${flat(s.Resource)}`).sort();
    assert.deepEqual(summary, [
      `Allow cloudwatch:DescribeAlarms on arn:\${AWS::Partition}:cloudwatch:\${AWS::Region}:\${AWS::AccountId}:alarm:shop-test-*`,
      `Allow kms:Decrypt,kms:GenerateDataKey on \${${idOf(stack.pipelineStorage.topicKey)}.Arn}`,
      `Allow logs:CreateLogStream,logs:PutLogEvents on \${${idOf(stack.alertFormatter.logGroup)}.Arn}`,
      `Allow sns:Publish on \${${idOf(stack.pipelineStorage.topic)}}`,
    ]);
  });
});

describe('dashboard', () => {
  const [[, dashboard]] = ofType('AWS::CloudWatch::Dashboard') as [[string, Resource]];
  const body = JSON.parse(flat(dashboard.Properties.DashboardBody).replace(/\$\{[^}]+\}/g, 'TOKEN')) as { widgets: { type: string; properties: { title?: string; markdown?: string; metrics?: unknown[]; alarms?: string[] } }[] };

  it('is named <project>-<stage> and linked from the outputs', () => {
    assert.equal(dashboard.Properties.DashboardName, 'shop-test');
    assert.match(flat(json.Outputs.DashboardUrl!.Value), /^https:\/\/\$\{AWS::Region\}\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=\$\{AWS::Region\}#dashboards\/dashboard\/shop-test$/);
  });

  it('shows per model traffic by version, latency percentiles, errors, throttles, drift per feature and its alarms', () => {
    for (const model of ['breast-cancer', 'digits']) {
      const widget = (title: string) => {
        const found = body.widgets.find((w) => w.properties.title === `${model}: ${title}`);
        assert.ok(found, `${model}: ${title} (have ${body.widgets.map((w) => w.properties.title).join(' | ')})`);
        return JSON.stringify(found.properties);
      };
      assert.ok(widget('traffic by version').includes(`MetricName=\\"Requests\\" service=\\"shop-test-${model}\\" model=\\"${model}\\"`), `${model} traffic by version`);
      const latency = widget('latency percentiles (ms)');
      for (const p of ['p50', 'p90', 'p99']) assert.ok(latency.includes(`"stat":"${p}"`), `${model} latency ${p}`);
      const errors = widget('errors (4xx, 5xx) by version');
      assert.ok(errors.includes('ClientErrors') && errors.includes('ServerErrors'), `${model} 4xx and 5xx`);
      assert.ok(widget('throttles').includes(`"mlship/api","shop-test-${model}-Throttled"`), `${model} API 429s`);
      assert.ok(widget('drift per feature (PSI)').includes(`{mlship/drift,feature,model,stage} MetricName=\\"FeaturePsi\\" stage=\\"test\\" model=\\"${model}\\"`), `${model} drift per feature`);
      const status = body.widgets.find((w) => w.type === 'alarm' && w.properties.title === `${model}: alarms`);
      assert.ok(status, `${model} alarm status widget`);
      assert.equal(status.properties.alarms?.length, 1 + stack.modelAlarms.get(model)!.alarms.size, 'the composite and every alarm of the model');
    }
    assert.ok(body.widgets.find((w) => w.properties.title === 'breast-cancer: throttles')!.properties.metrics!.some((m) => JSON.stringify(m).includes('Throttles')), 'Lambda throttles of the Lambda model');
  });
});

describe('metrics of two stages in one account', () => {
  it('carry project and stage in the EMF service of each model, and the release alarms read that service', () => {
    const fnVars = (json.Resources[idOf(stack.modelFunctions.get('breast-cancer')!.function)]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.equal(fnVars.POWERTOOLS_SERVICE_NAME, 'shop-test-breast-cancer');
    const proxyVars = (json.Resources[idOf(stack.sagemakerModels.get('digits')!.proxy)]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.equal(proxyVars.POWERTOOLS_SERVICE_NAME, 'shop-test-digits');
    const release = json.Resources[idOf(stack.modelReleases.get('breast-cancer')!.errorRateAlarm)]!.Properties;
    const services = metricsOf(release).flatMap((m) => m.MetricStat?.Metric.Dimensions.filter((d) => d.Name === 'service').map((d) => d.Value) ?? []);
    assert.deepEqual([...new Set(services)], ['shop-test-breast-cancer']);
  });

  it('has API Gateway publish the per-route metrics the latency alarms read', () => {
    const [[, apiStage]] = ofType('AWS::ApiGateway::Stage');
    const settings = apiStage!.Properties.MethodSettings as { ResourcePath: string; HttpMethod: string; MetricsEnabled?: boolean }[];
    for (const path of ['/~1v2~1models~1breast-cancer~1infer', '/~1v1~1models~1breast-cancer:predict']) {
      assert.equal(settings.find((s) => s.ResourcePath === path && s.HttpMethod === 'POST')?.MetricsEnabled, true, `${path} has detailed metrics`);
    }
  });
});
