// Readable alerts: the subject and body a person on call reads, from an AlarmEvent and from CloudWatch
// alarm notifications as SNS delivers them (metric, metric-math and composite alarms; the message shapes
// follow the CloudWatch user guide's "Using Amazon SNS notifications" examples).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlarmEvent } from '../../../../lambdas/core/monitoring/contracts';
import { alarmEventFromCloudWatch, alarmName, formatFigure, MAX_SUBJECT_LENGTH, parseAlarmName, rawAlert, readableAlert } from '../../../../lambdas/core/monitoring/alarms/readable-alert';

const context = { project: 'mlship', stage: 'prod', models: { 'breast-cancer': '3', digits: '1', 'digits-drift': '2' }, dashboardUrl: 'https://console.aws.amazon.com/cloudwatch/home#dashboards/dashboard/mlship-prod' };

const latency: AlarmEvent = {
  state: 'ALARM',
  previousState: 'OK',
  kind: 'api-p99-latency',
  alarmName: 'mlship-prod-breast-cancer-api-p99-latency',
  project: 'mlship',
  stage: 'prod',
  model: 'breast-cancer',
  version: '3',
  value: 812.4,
  threshold: 300,
  comparison: '>',
  unit: 'ms',
  time: '2026-11-22T10:05:31.140+0000',
  runbook: 'p99 latency above 300 ms for 15 minutes: compare latency by version on the dashboard; a new version? roll it back.',
  dashboardUrl: context.dashboardUrl,
};

describe('readableAlert', () => {
  it('puts model, version, figure, threshold and stage in the subject, and the rest in the body', () => {
    const alert = readableAlert(latency);
    assert.equal(alert.subject, '[ALARM] breast-cancer v3 API p99 latency 812 ms > 300 ms (prod)');
    for (const line of ['Model:      breast-cancer', 'Version:    3', 'Figure:     812 ms', 'Threshold:  > 300 ms', 'Time:       2026-11-22T10:05:31.140+0000', `What to do: ${latency.runbook}`, `Dashboard:  ${context.dashboardUrl}`]) {
      assert.ok(alert.body.includes(line), `${line} in\n${alert.body}`);
    }
  });

  it('says a recovery plainly, and an alarm without figures without inventing them', () => {
    assert.equal(readableAlert({ ...latency, state: 'OK', previousState: 'ALARM', value: 120 }).subject, '[OK] breast-cancer v3 API p99 latency back to normal: 120 ms, threshold 300 ms (prod)');
    const drift = readableAlert({ ...latency, kind: 'drift', unit: '', value: undefined, threshold: undefined, details: ['worst area  PSI 0.91  KS 0.42 (p 1e-12)  JS 0.31'] });
    assert.equal(drift.subject, '[ALARM] breast-cancer v3 drift (prod)');
    assert.ok(drift.body.includes('worst area  PSI 0.91'), drift.body);
    assert.ok(!drift.body.includes('Figure:'), 'no figure line when there is no figure');
  });

  it('keeps subjects within what SNS e-mail accepts', () => {
    // The longest names the manifest allows: a 48-character model, a 12-character stage.
    const long = readableAlert({ ...latency, kind: 'function-p99-latency', model: 'a'.repeat(48), stage: 'abcdefghijkl', value: 81234.5, threshold: 29000 });
    assert.ok(long.subject.length <= MAX_SUBJECT_LENGTH, `${long.subject.length} characters`);
    assert.match(long.subject, /\.\.\.$/);
  });

  it('rounds figures for reading', () => {
    assert.deepEqual([formatFigure(812.44, 'ms'), formatFigure(12.345, '%'), formatFigure(0.0123, ''), formatFigure(14, 'requests')], ['812 ms', '12.3%', '0.01', '14 requests']);
  });
});

describe('alarm names', () => {
  it('round-trip through the stage\'s models, the longest model name first when one prefixes another', () => {
    assert.deepEqual(parseAlarmName(alarmName('mlship', 'prod', 'digits', 'drift'), context), { model: 'digits', kind: 'drift' });
    assert.deepEqual(parseAlarmName(alarmName('mlship', 'prod', 'digits-drift', 'error-rate'), context), { model: 'digits-drift', kind: 'error-rate' });
    assert.equal(parseAlarmName('mlship-dev-digits-drift', context), undefined, 'another stage');
    assert.equal(parseAlarmName('mlship-prod-unknown-drift', context), undefined, 'a model this stage does not serve');
  });
});

describe('alarmEventFromCloudWatch', () => {
  const metricAlarm = {
    AlarmName: 'mlship-prod-breast-cancer-api-p99-latency',
    AlarmDescription: latency.runbook,
    AWSAccountId: '111122223333',
    NewStateValue: 'ALARM',
    NewStateReason: 'Threshold Crossed: 3 out of the last 3 datapoints [812.4 (22/11/26 10:00:00), 790.1 (22/11/26 09:55:00), 655.0 (22/11/26 09:50:00)] were greater than the threshold (300.0) (minimum 3 datapoints for OK -> ALARM transition).',
    StateChangeTime: '2026-11-22T10:05:31.140+0000',
    Region: 'EU (Ireland)',
    AlarmArn: 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:mlship-prod-breast-cancer-api-p99-latency',
    OldStateValue: 'OK',
    Trigger: { MetricName: 'Latency', Namespace: 'AWS/ApiGateway', StatisticType: 'ExtendedStatistic', ExtendedStatistic: 'p99', Period: 300, EvaluationPeriods: 3, ComparisonOperator: 'GreaterThanThreshold', Threshold: 300.0, TreatMissingData: 'notBreaching' },
  };

  it('reads a metric alarm: model, version, kind, figure, threshold, comparison, time, runbook', () => {
    const event = alarmEventFromCloudWatch(JSON.stringify(metricAlarm), context);
    assert.deepEqual(event, { ...latency, value: 812.4 });
    assert.equal(readableAlert(event!).subject, '[ALARM] breast-cancer v3 API p99 latency 812 ms > 300 ms (prod)');
  });

  it('shows SageMaker ModelLatency, which CloudWatch keeps in microseconds, in milliseconds', () => {
    const message = {
      ...metricAlarm,
      AlarmName: 'mlship-prod-digits-endpoint-p99-latency',
      NewStateReason: 'Threshold Crossed: 3 out of the last 3 datapoints [612000.0 (22/11/26 10:00:00)] were greater than the threshold (500000.0).',
      Trigger: { ...metricAlarm.Trigger, MetricName: 'ModelLatency', Namespace: 'AWS/SageMaker', Threshold: 500000.0 },
    };
    const alert = readableAlert(alarmEventFromCloudWatch(JSON.stringify(message), context)!);
    assert.equal(alert.subject, '[ALARM] digits v1 endpoint p99 latency 612 ms > 500 ms (prod)');
  });

  it('reads a quality alarm (one per threshold, named ...-quality-<metric>) and names its metric', () => {
    assert.deepEqual(parseAlarmName('mlship-prod-breast-cancer-quality-accuracy', context), { model: 'breast-cancer', kind: 'quality', metric: 'accuracy' });
    assert.deepEqual(parseAlarmName('mlship-prod-breast-cancer-quality-macro-f1', context), { model: 'breast-cancer', kind: 'quality', metric: 'macro-F1' });
    const message = {
      ...metricAlarm,
      AlarmName: 'mlship-prod-breast-cancer-quality-accuracy',
      AlarmDescription: 'Accuracy below 0.9 on the labelled predictions of the last 24 h.',
      NewStateReason: 'Threshold Crossed: 1 out of the last 1 datapoints [0.52 (22/11/26 10:00:00)] was less than the threshold (0.9) (minimum 1 datapoint for OK -> ALARM transition).',
      Trigger: { MetricName: 'Accuracy', Namespace: 'mlship/quality', StatisticType: 'Statistic', Statistic: 'MINIMUM', Period: 3600, EvaluationPeriods: 1, ComparisonOperator: 'LessThanThreshold', Threshold: 0.9, TreatMissingData: 'notBreaching' },
    };
    const event = alarmEventFromCloudWatch(JSON.stringify(message), context)!;
    assert.deepEqual([event.kind, event.metric, event.value, event.threshold, event.comparison], ['quality', 'accuracy', 0.52, 0.9, '<']);
    assert.equal(readableAlert(event).subject, '[ALARM] breast-cancer v3 accuracy 0.52 < 0.9 (prod)');
  });

  it('reads a metric-math alarm (error rate) from its reason and threshold', () => {
    const message = { ...metricAlarm, AlarmName: 'mlship-prod-breast-cancer-error-rate', NewStateReason: 'Threshold Crossed: 3 datapoints [4.2 (22/11/26 10:00:00), 3.9 (22/11/26 09:55:00), 2.0 (22/11/26 09:50:00)] were greater than or equal to the threshold (1.0).', Trigger: { Metrics: [{ Id: 'rate', Expression: '100 * errors / requests' }], ComparisonOperator: 'GreaterThanOrEqualToThreshold', Threshold: 1.0 } };
    assert.equal(readableAlert(alarmEventFromCloudWatch(JSON.stringify(message), context)!).subject, '[ALARM] breast-cancer v3 error rate 4.2% >= 1% (prod)');
  });

  it('reads a composite alarm through the child that triggered it', () => {
    const composite = {
      AlarmName: 'mlship-prod-breast-cancer-health',
      AlarmDescription: 'breast-cancer is unhealthy: see the triggering alarm',
      NewStateValue: 'ALARM',
      OldStateValue: 'OK',
      NewStateReason: 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:mlship-prod-breast-cancer-api-p99-latency transitioned to ALARM at Sunday 22 November, 2026 10:05:31 UTC',
      StateChangeTime: '2026-11-22T10:05:32.000+0000',
      AlarmRule: 'ALARM("mlship-prod-breast-cancer-api-p99-latency") OR ALARM("mlship-prod-breast-cancer-error-rate")',
      TriggeringChildren: [{ Arn: metricAlarm.AlarmArn, State: { Value: 'ALARM', Timestamp: '2026-11-22T10:05:31.140+0000' } }],
    };
    const event = alarmEventFromCloudWatch(JSON.stringify(composite), context, (name) => (name === metricAlarm.AlarmName ? metricAlarm : undefined))!;
    assert.equal(event.kind, 'api-p99-latency');
    assert.equal(event.alarmName, metricAlarm.AlarmName);
    assert.equal(event.runbook, latency.runbook);
    assert.equal(readableAlert(event).subject, '[ALARM] breast-cancer v3 API p99 latency 812 ms > 300 ms (prod)');
    const withoutFigures = alarmEventFromCloudWatch(JSON.stringify(composite), context)!;
    assert.equal(readableAlert(withoutFigures).subject, '[ALARM] breast-cancer v3 API p99 latency (prod)', 'no figure rather than a wrong one');
  });

  it('returns nothing for what is not an alarm of this stage, and the raw text still reaches people', () => {
    for (const text of ['not json', '{"hello": 1}', JSON.stringify({ ...metricAlarm, AlarmName: 'someone-elses-alarm' }), JSON.stringify({ ...metricAlarm, NewStateValue: 'MAYBE' })]) {
      assert.equal(alarmEventFromCloudWatch(text, context), undefined, text);
    }
    assert.deepEqual(rawAlert('not json', 'prod'), { subject: '[mlship prod] notification', body: 'not json\n' });
  });
});
