// The quality monitor in the template (issue 17). A fixture stack with three models: breast-cancer with every
// classifier threshold (its retrain block leaves onQualityAlarm on), churn with one threshold and
// retrain.onQualityAlarm false, digits with none; the shipped manifest's stack; and a small stack of the construct
// alone with a regressor. Checks the function from the pipeline image and its settings, the schedule, the role's
// exact statements, one alarm per threshold (metric, dimensions, comparison, threshold, period, missing data,
// runbook, no action of its own) and none without thresholds, the alarms in the model's composite, the retrain
// rule on them, the dashboard's quality row, the synth-time errors, and cdk-nag.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadManifest } from '../../../lambdas/core/manifest/load';
import type { ModelCardInput } from '../../../lambdas/core/models/model-card';
import { PipelineImage } from '../../../lib/pipelines/pipeline-image';
import { QUALITY_MONITOR_IMAGE_HANDLERS, QualityMonitor, qualityAlarmName, qualityAlarmPeriod, qualityAlarmSpecs } from '../../../lib/quality/quality-monitor';
import { flattenReference } from '../../../lib/private/nag';
import { PROJECT_ROOT } from '../../../lib/serving/model-image';
import { MlshipStack } from '../../../lib/stack/mlship-stack';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject } from '../../fixtures/model-folder';

const retrainable = (card: ModelCardInput): ModelCardInput => ({
  ...card,
  training: { family: 'logreg', labelColumn: 'label', seed: 7 },
  evaluation: { split: { strategy: 'stratified', testFraction: 0.25, seed: 7 }, trainSize: 300, testSize: 100, accuracy: 0.93, rocAuc: 0.97 },
});
const bcQuality = { windowHours: 48, minLabels: 200, alarms: { accuracyBelow: 0.8, macroF1Below: 0.75, rocAucBelow: 0.9, dropFromBaselineAbove: 0.05 } };
const project = createFixtureProject({
  models: [
    { name: 'breast-cancer', features: ['radius', 'texture', 'perimeter', 'area'], labels: ['malignant', 'benign'], card: retrainable },
    { name: 'churn', features: ['tenure', 'spend'], labels: ['stays', 'leaves'], card: retrainable },
    { name: 'digits', features: Array.from({ length: 16 }, (_, i) => `px${i}`), labels: ['0', '1', '2'] },
  ],
  manifest: {
    project: 'shop',
    stage: 'test',
    monitoring: { schedule: 'rate(2 hours)' },
    models: [
      { name: 'breast-cancer', version: 1, retrain: { onDrift: false }, monitoring: { quality: bcQuality } },
      { name: 'churn', version: 1, retrain: { onDrift: false, onQualityAlarm: false }, monitoring: { quality: { alarms: { accuracyBelow: 0.7 } } } },
      { name: 'digits', version: 1 },
    ],
  },
});
const apps = [createTestApp(), createTestApp(), createTestApp(), createTestApp()];
after(() => {
  for (const a of apps) a.cleanup();
  project.cleanup();
});

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const stack = new MlshipStack(apps[0]!.app, undefined, { loaded: loadManifest(project.manifestPath) });
const template = Template.fromStack(stack);
const resources = Object.entries((template.toJSON() as { Resources: Record<string, Resource> }).Resources);
const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
const idOf = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
const alarmsByName = new Map(ofType('AWS::CloudWatch::Alarm').map(([id, r]) => [String(r.Properties.AlarmName), { id, ...(r.Properties as Record<string, unknown>) } as Record<string, unknown>]));
const flatten = (value: unknown) => flattenReference(value);

/** The statements of a role's default policy, by Sid, with their resources flattened (cdk-nag's way). */
function statementsOf(roleId: string): Map<string, { actions: string[]; resources: string[]; condition?: unknown }> {
  const [, policy] = ofType('AWS::IAM::Policy').find(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))!;
  const statements = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
  return new Map(
    statements.map((s) => [
      s.Sid ?? '?',
      { actions: [s.Action].flat().sort(), resources: [s.Resource].flat().map(flatten).sort(), ...(s.Condition ? { condition: s.Condition } : {}) },
    ]),
  );
}

describe('the quality monitor function and its schedule', () => {
  const fnId = idOf(stack.qualityMonitor.function);
  const fn = template.toJSON().Resources[fnId] as Resource;

  it('runs the quality-monitor handler of the pipeline image, once at a time, with every model and its quality settings', () => {
    assert.deepEqual((fn.Properties.ImageConfig as { Command: string[] }).Command, ['quality-monitor/index.handler']);
    assert.ok(stack.pipelineImage.handlers.includes('quality-monitor'));
    assert.equal(fn.Properties.ReservedConcurrentExecutions, 1);
    assert.deepEqual(fn.Properties.Architectures, ['arm64']);
    const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.equal(env.PROJECT, 'shop');
    assert.equal(env.STAGE, 'test');
    assert.equal(env.MODELS_DIR, '/opt/ml/models');
    assert.deepEqual(env.CAPTURE_BUCKET, { Ref: idOf(stack.dataCapture.bucket) });
    assert.deepEqual(env.TOPIC_ARN, { Ref: idOf(stack.pipelineStorage.topic) });
    assert.ok(flatten(env.DASHBOARD_URL).endsWith('#dashboards/dashboard/shop-test'));
    const models = JSON.parse(String(env.MONITORED_MODELS)) as { name: string; version: string; quality: unknown }[];
    assert.deepEqual(
      models.map((m) => m.name),
      ['breast-cancer', 'churn', 'digits'],
    );
    assert.deepEqual(models[0], { name: 'breast-cancer', version: '1', quality: bcQuality, trainingRows: { runtime: 'lambda' } });
    assert.deepEqual(models[2]!.quality, { windowHours: 24, minLabels: 100, alarms: {} }, 'the defaults written out whole');
    // The models that retrain write their labelled rows into the retrain data bucket; digits does not retrain.
    assert.deepEqual(
      models.map((m) => (m as { trainingRows?: unknown }).trainingRows),
      [{ runtime: 'lambda' }, { runtime: 'lambda' }, undefined],
    );
    assert.deepEqual(env.TRAINING_DATA_BUCKET, { Ref: idOf(stack.pipelineStorage.dataBucket) });
  });

  it("is invoked on the stage's monitoring schedule, retried, with its own log group kept a month", () => {
    const rules = ofType('AWS::Events::Rule').filter(([, r]) => r.Properties.Name === 'shop-test-quality-monitor');
    assert.equal(rules.length, 1);
    const rule = rules[0]![1].Properties;
    assert.equal(rule.ScheduleExpression, 'rate(2 hours)');
    const [target] = rule.Targets as { Arn: unknown; RetryPolicy: { MaximumRetryAttempts: number; MaximumEventAgeInSeconds: number } }[];
    assert.deepEqual(target!.Arn, { 'Fn::GetAtt': [fnId, 'Arn'] });
    assert.deepEqual(target!.RetryPolicy, { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 });
    template.hasResourceProperties('AWS::Lambda::Permission', { Principal: 'events.amazonaws.com', FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] } });
    assert.deepEqual((fn.Properties.LoggingConfig as { LogGroup: unknown }).LogGroup, { Ref: idOf(stack.qualityMonitor.logGroup) });
    template.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
  });
});

describe("the quality monitor's role", () => {
  const roleId = idOf(stack.qualityMonitor.role);
  const statements = statementsOf(roleId);
  const bucket = `<${idOf(stack.dataCapture.bucket)}.Arn>`;

  it('holds exactly these statements: read predictions and labels, keep its own state, its key, its metrics, its topic, its logs, read the captured features and write the training rows', () => {
    assert.deepEqual([...statements.keys()].sort(), ['KeepOwnState', 'ListPredictionsAndLabels', 'PublishAlerts', 'PutQualityMetrics', 'ReadCapturedFeatures', 'ReadPredictionsAndLabels', 'UseCaptureKey', 'UseTopicKey', 'WriteOwnLogs', 'WriteTrainingRows']);
    assert.deepEqual(statements.get('ReadCapturedFeatures'), { actions: ['s3:GetObject'], resources: [`${bucket}/lambda/model=*`] });
    assert.deepEqual(statements.get('WriteTrainingRows'), { actions: ['s3:AbortMultipartUpload', 's3:PutObject'], resources: [`<${idOf(stack.pipelineStorage.dataBucket)}.Arn>/training-data/*/production-*`] });
    assert.deepEqual(statements.get('ListPredictionsAndLabels'), { actions: ['s3:ListBucket'], resources: [bucket] });
    assert.deepEqual(statements.get('ReadPredictionsAndLabels'), { actions: ['s3:GetObject'], resources: [`${bucket}/ground-truth/*`, `${bucket}/predictions/*`] });
    assert.deepEqual(statements.get('KeepOwnState'), {
      actions: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
      resources: [`${bucket}/monitor/state/quality-*`, `${bucket}/monitor/summaries/quality/*`],
    });
    assert.deepEqual(statements.get('UseCaptureKey'), { actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [`<${idOf(stack.dataCapture.key)}.Arn>`] });
    assert.deepEqual(statements.get('PutQualityMetrics'), { actions: ['cloudwatch:PutMetricData'], resources: ['*'], condition: { StringEquals: { 'cloudwatch:namespace': 'mlship/quality' } } });
    assert.deepEqual(statements.get('PublishAlerts'), { actions: ['sns:Publish'], resources: [`<${idOf(stack.pipelineStorage.topic)}>`] });
    assert.deepEqual(statements.get('UseTopicKey'), { actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [`<${idOf(stack.pipelineStorage.topicKey)}.Arn>`] });
    assert.deepEqual(statements.get('WriteOwnLogs'), { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`<${idOf(stack.qualityMonitor.logGroup)}.Arn>`] });
  });

  it('reads no more than predictions, labels, its state and the captured features, and writes only its state and the production rows', () => {
    const all = [...statements.values()];
    for (const s of all.filter((x) => x.actions.some((a) => a.startsWith('s3:') && a !== 's3:ListBucket'))) {
      for (const r of s.resources) assert.match(r, /\/(predictions\/\*|ground-truth\/\*|monitor\/state\/quality-\*|monitor\/summaries\/quality\/\*|lambda\/model=\*|training-data\/\*\/production-\*)$/, `${s.actions.join(',')} on ${r}`);
    }
    const writes = all.filter((s) => s.actions.some((a) => a === 's3:PutObject' || a === 's3:DeleteObject'));
    assert.deepEqual(writes.flatMap((s) => s.resources).sort(), [`${bucket}/monitor/state/quality-*`, `${bucket}/monitor/summaries/quality/*`, `<${idOf(stack.pipelineStorage.dataBucket)}.Arn>/training-data/*/production-*`].sort());
  });
});

describe('a failed run', () => {
  it("alarms on the function's errors, to the stage's alarm topic: a dead quality monitor is an incident", () => {
    const alarm = alarmsByName.get('shop-test-quality-monitor-failed-runs');
    assert.ok(alarm, 'the failed-runs alarm');
    assert.deepEqual([alarm.Namespace, alarm.MetricName, alarm.Statistic, alarm.Period, alarm.Threshold, alarm.ComparisonOperator, alarm.TreatMissingData], ['AWS/Lambda', 'Errors', 'Sum', 3600, 1, 'GreaterThanOrEqualToThreshold', 'notBreaching']);
    assert.deepEqual(alarm.Dimensions, [{ Name: 'FunctionName', Value: { Ref: idOf(stack.qualityMonitor.function) } }]);
    assert.deepEqual(alarm.AlarmActions, [{ Ref: idOf(stack.alertFormatter.alarmTopic as never) }]);
    assert.match(String(alarm.AlarmDescription), /quality figures and alarms are stale until a run succeeds/);
  });
});

describe('the quality alarms', () => {
  const expected = [
    { metric: 'accuracy', name: 'Accuracy', comparison: 'LessThanThreshold', threshold: 0.8, stat: 'Minimum' },
    { metric: 'macro-f1', name: 'MacroF1', comparison: 'LessThanThreshold', threshold: 0.75, stat: 'Minimum' },
    { metric: 'roc-auc', name: 'RocAuc', comparison: 'LessThanThreshold', threshold: 0.9, stat: 'Minimum' },
    { metric: 'drop-from-baseline', name: 'DropFromBaseline', comparison: 'GreaterThanThreshold', threshold: 0.05, stat: 'Maximum' },
  ] as const;

  it("makes one alarm per threshold set, on the live version's figure in mlship/quality, over the schedule's interval", () => {
    for (const e of expected) {
      const alarm = alarmsByName.get(`shop-test-breast-cancer-quality-${e.metric}`);
      assert.ok(alarm, `alarm ${e.metric} (have ${[...alarmsByName.keys()].filter((n) => n.includes('quality')).join(', ')})`);
      assert.equal(alarm.Namespace, 'mlship/quality');
      assert.equal(alarm.MetricName, e.name);
      assert.deepEqual(alarm.Dimensions, [
        { Name: 'model', Value: 'breast-cancer' },
        { Name: 'stage', Value: 'test' },
        { Name: 'version', Value: '1' },
      ]);
      assert.equal(alarm.ComparisonOperator, e.comparison);
      assert.equal(alarm.Threshold, e.threshold);
      assert.equal(alarm.Statistic, e.stat);
      assert.equal(alarm.Period, 7200, 'rate(2 hours): one figure a period');
      assert.equal(alarm.EvaluationPeriods, 1);
      assert.equal(alarm.DatapointsToAlarm, 1);
      assert.equal(alarm.TreatMissingData, 'notBreaching', 'below minLabels there is no figure, and no breach');
      assert.match(String(alarm.AlarmDescription), new RegExp(`${e.comparison === 'LessThanThreshold' ? 'below' : 'above'} ${e.threshold} on the labelled predictions of the last 48 h \\(judged from 200 labels\\)\\. First `));
      for (const action of ['AlarmActions', 'OKActions', 'InsufficientDataActions']) assert.equal(alarm[action], undefined, `${e.metric}: only the composite notifies (${action})`);
    }
    assert.equal([...alarmsByName.keys()].filter((n) => n.startsWith('shop-test-breast-cancer-quality-')).length, expected.length);
    assert.equal(alarmsByName.get('shop-test-churn-quality-accuracy')?.Threshold, 0.7);
  });

  it('makes none for a model without thresholds', () => {
    assert.deepEqual([...alarmsByName.keys()].filter((n) => n.startsWith('shop-test-digits-quality')), []);
    assert.equal(stack.qualityMonitor.alarmsOf('digits').length, 0);
  });

  it("puts them in the model's composite alarm, beside its serving alarms", () => {
    const composite = (model: string) => {
      const [, c] = ofType('AWS::CloudWatch::CompositeAlarm').find(([, r]) => r.Properties.AlarmName === `shop-test-${model}-health`)!;
      return flatten(c.Properties.AlarmRule);
    };
    for (const e of expected) assert.ok(composite('breast-cancer').includes(`ALARM("<${alarmsByName.get(`shop-test-breast-cancer-quality-${e.metric}`)!.id}.Arn>")`), `${e.metric} in breast-cancer's composite`);
    assert.ok(composite('breast-cancer').includes(`<${alarmsByName.get('shop-test-breast-cancer-error-rate')!.id}.Arn>`), 'the serving alarms stay');
    assert.ok(composite('churn').includes(`<${alarmsByName.get('shop-test-churn-quality-accuracy')!.id}.Arn>`));
    assert.ok(!composite('digits').includes('quality'));
  });

  it('starts retraining on any quality alarm going into ALARM when retrain.onQualityAlarm, and not when off', () => {
    const onQuality = ofType('AWS::Events::Rule').filter(([id]) => id.includes('OnQualityAlarm'));
    assert.equal(onQuality.length, 1, 'breast-cancer only: churn turned it off, digits has no retrain block');
    const rule = onQuality[0]![1].Properties;
    assert.deepEqual(rule.EventPattern, {
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { alarmName: expected.map((e) => `shop-test-breast-cancer-quality-${e.metric}`), state: { value: ['ALARM'] } },
    });
    const [target] = rule.Targets as { Arn: unknown; Input: string; DeadLetterConfig?: unknown }[];
    assert.deepEqual(target!.Arn, { Ref: idOf(stack.retrainPipeline!.stateMachine) });
    assert.deepEqual(JSON.parse(target!.Input), { model: 'breast-cancer' });
    assert.ok(target!.DeadLetterConfig, 'undeliverable triggers land in the dead-letter queue, as the drift rule does');
    assert.deepEqual(stack.retrainPipeline!.rules.get('churn') ?? [], [], 'churn has no trigger at all');
  });
});

describe("the dashboard's quality row", () => {
  // The body's strings joined, every token (region, alarm ARNs) as TOKEN, so it parses as JSON.
  const text = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const join = (value as Record<string, unknown>)['Fn::Join'] as [string, unknown[]] | undefined;
    return join ? join[1].map(text).join(join[0]) : 'TOKEN';
  };
  const body = text((ofType('AWS::CloudWatch::Dashboard')[0]![1].Properties as { DashboardBody: unknown }).DashboardBody);
  const widgets = (JSON.parse(body) as { widgets: { type: string; properties: { title?: string; markdown?: string; metrics?: unknown[][]; annotations?: { horizontal?: { value: number; label: string }[] } } }[] }).widgets;
  const titled = (title: string) => {
    const w = widgets.find((x) => x.properties.title === title);
    assert.ok(w, `widget '${title}' (have ${widgets.map((x) => x.properties.title ?? x.properties.markdown).join(' | ')})`);
    return w;
  };

  it('graphs accuracy, macro-F1 and ROC AUC by version with the threshold lines, labels and coverage, and label delay', () => {
    const accuracy = titled('breast-cancer: accuracy by version');
    assert.ok(JSON.stringify(accuracy.properties.metrics).includes(`SEARCH('{mlship/quality,model,stage,version} MetricName=\\"Accuracy\\" stage=\\"test\\" model=\\"breast-cancer\\"', 'Minimum', 7200)`));
    assert.deepEqual(accuracy.properties.annotations?.horizontal?.map((h) => h.value).sort(), [0.05, 0.8]);
    const f1 = titled('breast-cancer: macro-F1 and ROC AUC by version');
    assert.deepEqual(f1.properties.annotations?.horizontal?.map((h) => h.value).sort(), [0.75, 0.9]);
    assert.ok(JSON.stringify(f1.properties.metrics).includes('RocAuc'));
    const labels = JSON.stringify(titled('breast-cancer: labelled predictions and label coverage').properties.metrics);
    assert.ok(labels.includes('LabelledPredictions') && labels.includes('LabelCoverage'));
    const delay = JSON.stringify(titled('breast-cancer: label delay p50 / p95 (s)').properties.metrics);
    assert.ok(delay.includes('LabelDelayP50Seconds') && delay.includes('LabelDelayP95Seconds'));
    // A model without thresholds still gets its row, with no lines.
    assert.equal(titled('digits: accuracy by version').properties.annotations, undefined);
  });

  it("shows the quality alarms in the model's alarm status", () => {
    const status = titled('breast-cancer: alarms') as unknown as { properties: { alarms: string[] } };
    // The ARNs are tokens: the widget holds the composite, the model's alarms and its 4 quality alarms.
    assert.equal(stack.qualityMonitor.alarmsOf('breast-cancer').length, 4);
    assert.equal(status.properties.alarms.length, 1 + stack.modelAlarms.get('breast-cancer')!.alarms.size + 4);
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in the quality monitor', () => {
    const findings = new AwsSolutionsChecks()
      .validateScope(stack)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}  ${r.constructPath}`))
      .filter((f) => f.includes('/QualityMonitor/') || f.includes('OnQualityAlarm'));
    assert.deepEqual(findings, []);
  });
});

describe('the shipped manifest (models/manifest.yaml)', () => {
  const shipped = new MlshipStack(apps[1]!.app, undefined, { loaded: loadManifest(join(PROJECT_ROOT, 'models', 'manifest.yaml')) });
  const t = Template.fromStack(shipped);

  it('runs the quality monitor over every model, and cdk-nag finds nothing unacknowledged', () => {
    const fnId = shipped.getLogicalId(shipped.qualityMonitor.function.node.defaultChild as never);
    const env = ((t.toJSON().Resources[fnId] as Resource).Properties.Environment as { Variables: Record<string, string> }).Variables;
    const shippedModels = loadManifest(join(PROJECT_ROOT, 'models', 'manifest.yaml')).models.map((m) => m.entry.name);
    assert.deepEqual((JSON.parse(env.MONITORED_MODELS!) as { name: string }[]).map((m) => m.name), shippedModels);
    t.hasResourceProperties('AWS::Events::Rule', { Name: `${shipped.stackName}-quality-monitor` });
    const findings = new AwsSolutionsChecks().validateScope(shipped).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}  ${r.constructPath}  ${v.description}`));
    assert.deepEqual(findings, []);
  });
});

describe('the construct alone, with a regressor', () => {
  const small = new Stack(apps[2]!.app, 'Small');
  const image = new PipelineImage({ handlers: QUALITY_MONITOR_IMAGE_HANDLERS, models: { price: join(project.root, 'churn', '1'), other: join(project.root, 'digits', '1') } });
  const key = new kms.Key(small, 'Key', { enableKeyRotation: true });
  const bucket = new s3.Bucket(small, 'Bucket', { encryptionKey: key, enforceSSL: true });
  const topicKey = new kms.Key(small, 'TopicKey', { enableKeyRotation: true });
  const topic = new sns.Topic(small, 'Topic', { masterKey: topicKey, enforceSSL: true });
  const base = { project: 'p', stage: 'dev', image, captureBucket: bucket, captureKey: key, topic, topicKey };
  const monitor = new QualityMonitor(small, 'Quality', {
    ...base,
    schedule: 'cron(0 * * * ? *)',
    models: [
      { name: 'price', version: 3, task: 'regression', quality: { alarms: { maeAbove: 12.5, r2Below: 0.6, dropFromBaselineAbove: 0.1 } } },
      { name: 'other', version: 1, task: 'multiclass' },
    ],
  });
  const alarms = Object.values(Template.fromStack(small).findResources('AWS::CloudWatch::Alarm')).map((r) => (r as Resource).Properties);

  it('makes the regressor alarms: MAE above, R² below, the drop from the held-out R² above; an hour for a cron schedule', () => {
    const byName = new Map(alarms.map((a) => [String(a.AlarmName), a]));
    assert.deepEqual([...byName.keys()].sort(), ['p-dev-price-quality-drop-from-baseline', 'p-dev-price-quality-mae', 'p-dev-price-quality-r2', 'p-dev-quality-monitor-failed-runs']);
    assert.deepEqual([byName.get('p-dev-price-quality-mae')!.MetricName, byName.get('p-dev-price-quality-mae')!.ComparisonOperator, byName.get('p-dev-price-quality-mae')!.Threshold], ['Mae', 'GreaterThanThreshold', 12.5]);
    assert.deepEqual([byName.get('p-dev-price-quality-r2')!.MetricName, byName.get('p-dev-price-quality-r2')!.ComparisonOperator, byName.get('p-dev-price-quality-r2')!.Threshold], ['R2', 'LessThanThreshold', 0.6]);
    assert.ok(alarms.every((a) => a.Period === 3600));
    assert.deepEqual((byName.get('p-dev-price-quality-r2')!.Dimensions as { Name: string; Value: string }[]).find((d) => d.Name === 'version'), { Name: 'version', Value: '3' });
    assert.equal(monitor.alarmsOf('other').length, 0);
    assert.equal(qualityAlarmName('p', 'dev', 'price', 'mae'), 'p-dev-price-quality-mae');
  });

  it('reads the endpoint captures of a retraining SageMaker model and writes its rows with the data bucket\'s key', () => {
    const other = new Stack(apps[3]!.app, 'Retraining');
    const k = new kms.Key(other, 'Key', { enableKeyRotation: true });
    const b = new s3.Bucket(other, 'Bucket', { encryptionKey: k, enforceSSL: true });
    const dataKey = new kms.Key(other, 'DataKey', { enableKeyRotation: true });
    const data = new s3.Bucket(other, 'Data', { encryptionKey: dataKey, enforceSSL: true });
    const tk = new kms.Key(other, 'TopicKey', { enableKeyRotation: true });
    const t = new sns.Topic(other, 'Topic', { masterKey: tk, enforceSSL: true });
    const make = (trainingData?: { bucket: s3.IBucket }) =>
      new QualityMonitor(other, trainingData ? 'Quality' : 'NoData', {
        project: 'p',
        stage: 'dev',
        image,
        captureBucket: b,
        captureKey: k,
        topic: t,
        topicKey: tk,
        ...(trainingData ? { trainingData } : {}),
        models: [{ name: 'price', version: 3, task: 'regression', trainingRows: { runtime: 'sagemaker', endpointName: 'p-dev-price' } }],
      });
    assert.throws(() => make(), /trainingData is needed: price write training rows/);
    const m = make({ bucket: data });
    const json = Template.fromStack(other).toJSON() as { Resources: Record<string, Resource> };
    const roleId = other.getLogicalId(m.role.node.defaultChild as never);
    const policy = Object.values(json.Resources).find((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as { Ref: string }[]).some((x) => x.Ref === roleId))!;
    const bySid = new Map((policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement.map((x) => [x.Sid, { actions: [x.Action].flat().sort(), resources: [x.Resource].flat().map(flatten) }]));
    const id = (c: { node: { defaultChild?: unknown } }) => other.getLogicalId(c.node.defaultChild as never);
    assert.deepEqual(bySid.get('ReadCapturedFeatures'), { actions: ['s3:GetObject'], resources: [`<${id(b)}.Arn>/data-capture/*`] });
    assert.deepEqual(bySid.get('WriteTrainingRows'), { actions: ['s3:AbortMultipartUpload', 's3:PutObject'], resources: [`<${id(data)}.Arn>/training-data/*/production-*`] });
    assert.deepEqual(bySid.get('UseTrainingDataKey'), { actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [`<${id(dataKey)}.Arn>`] });
    const fn = json.Resources[other.getLogicalId(m.function.node.defaultChild as never)]!;
    const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    assert.deepEqual(env.TRAINING_DATA_BUCKET, { Ref: id(data) });
    assert.deepEqual((JSON.parse(String(env.MONITORED_MODELS)) as { trainingRows?: unknown }[])[0]!.trainingRows, { runtime: 'sagemaker', endpointName: 'p-dev-price' });
    const findings = new AwsSolutionsChecks().validateScope(other).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}  ${r.constructPath}`)).filter((f) => f.includes('/Quality/'));
    assert.deepEqual(findings, []);
  });

  it('is clean under cdk-nag on its own', () => {
    const findings = new AwsSolutionsChecks().validateScope(small).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}  ${r.constructPath}`)).filter((f) => f.includes('/Quality/'));
    assert.deepEqual(findings, []);
  });

  it('refuses at synth a threshold of the other task, no model, a model twice, and an image without its handler', () => {
    const make = (id: string, props: Partial<ConstructorParameters<typeof QualityMonitor>[2]>) => () => new QualityMonitor(small, id, { ...base, models: [{ name: 'm', version: 1, task: 'binary' }], ...props });
    assert.throws(make('A', { models: [{ name: 'price', version: 1, task: 'regression', quality: { alarms: { accuracyBelow: 0.9 } } }] }), /models: price is a regression model; monitoring\.quality\.alarms\.accuracyBelow applies to classification models only, received 0\.9/);
    assert.throws(make('B', { models: [{ name: 'm', version: 1, task: 'binary', quality: { alarms: { maeAbove: 3 } } }] }), /m is a binary model; monitoring\.quality\.alarms\.maeAbove applies to regression models only, received 3/);
    assert.throws(make('C', { models: [] }), /models must name at least one model/);
    assert.throws(make('D', { models: [{ name: 'm', version: 1, task: 'binary' }, { name: 'm', version: 2, task: 'binary' }] }), /models names 'm' twice/);
    assert.throws(make('E', { models: [{ name: 'm', version: 1, task: 'binary', quality: { windowHours: 0 } }] }), /m's quality settings: windowHours/);
    assert.throws(make('F', { image: { handlers: ['batch-score'] } as unknown as PipelineImage }), /image must hold the quality monitor's handler; it lacks quality-monitor/);
  });
});

describe('qualityAlarmSpecs and qualityAlarmPeriod', () => {
  it('lists only the thresholds set, in the manifest order, and none when none is set', () => {
    const settings = { windowHours: 24, minLabels: 100, alarms: {} };
    assert.deepEqual(qualityAlarmSpecs(settings), []);
    assert.deepEqual(
      qualityAlarmSpecs({ ...settings, alarms: { dropFromBaselineAbove: 0.05, accuracyBelow: 0.6 } }).map((s) => [s.metricName, s.comparison, s.value]),
      [
        ['Accuracy', '<', 0.6],
        ['DropFromBaseline', '>', 0.05],
      ],
    );
  });

  it('takes the period from a rate schedule, within 1 minute and 1 day; an hour for cron', () => {
    assert.deepEqual(['rate(1 hour)', 'rate(15 minutes)', 'rate(1 minute)', 'rate(3 days)', 'cron(0 * * * ? *)'].map((s) => qualityAlarmPeriod(s).toSeconds()), [3600, 900, 60, 86_400, 3600]);
    assert.equal(Duration.hours(1).toSeconds(), qualityAlarmPeriod('rate(60 minutes)').toSeconds());
  });
});
