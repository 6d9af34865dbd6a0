// The alert formatter: CloudWatch alarm notifications as SNS delivers them to a Lambda function (message
// shapes from the CloudWatch user guide, "Using Amazon SNS notifications" / "Composite alarm notifications"),
// turned into readable alerts published to the notifications topic. Real AWS SDK v3 clients talk to a local
// emulator of CloudWatch DescribeAlarms and SNS Publish (test/fixtures/alarm-endpoints.ts); the last test
// runs the esbuild bundle of the Lambda entry itself.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SNSEvent } from 'aws-lambda';
import { readAlertFormatterConfig } from '../../../lambdas/alert-formatter/config';
import { createAlertFormatter } from '../../../lambdas/alert-formatter/handler';
import { DEFAULT_ALERT_FORMATTER_ENTRY } from '../../../lib/monitoring/alert-formatter';
import { bundleEntry } from '../../../lib/private/bundle';
import { startAlarmEndpoints, type AlarmEndpoints, type EmulatedMetricAlarm } from '../../fixtures/alarm-endpoints';
import { clientSettings } from '../../fixtures/aws-endpoints';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:mlship-prod-notifications';
const DASHBOARD = 'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/mlship-prod';
const env = { NOTIFICATION_TOPIC_ARN: TOPIC, PROJECT: 'mlship', STAGE: 'prod', MODELS: JSON.stringify({ 'breast-cancer': '3', digits: '1' }), DASHBOARD_URL: DASHBOARD };
const arn = (name: string) => `arn:aws:cloudwatch:eu-west-1:111122223333:alarm:${name}`;
const RUNBOOK = 'Callers wait: p99 latency at API Gateway over 300 ms for 15 minutes. First compare the dashboard\'s latency by version.';

const latencyChild: EmulatedMetricAlarm = {
  AlarmName: 'mlship-prod-breast-cancer-api-p99-latency',
  AlarmDescription: RUNBOOK,
  StateValue: 'ALARM',
  StateReason: 'Threshold Crossed: 3 out of the last 3 datapoints [812.4 (22/11/26 10:00:00), 790.1 (22/11/26 09:55:00), 655.0 (22/11/26 09:50:00)] were greater than the threshold (300.0) (minimum 3 datapoints for OK -> ALARM transition).',
  StateUpdatedTimestamp: new Date('2026-11-22T10:05:31.140Z'),
  Threshold: 300,
  ComparisonOperator: 'GreaterThanThreshold',
  EvaluationPeriods: 3,
  Period: 300,
};

function composite(state: 'ALARM' | 'OK', children: string[]) {
  return {
    AlarmName: 'mlship-prod-breast-cancer-health',
    AlarmDescription: 'breast-cancer is unhealthy: one of its serving alarms is in ALARM.',
    AWSAccountId: '111122223333',
    AlarmConfigurationUpdatedTimestamp: '2026-11-20T08:00:00.000+0000',
    NewStateValue: state,
    NewStateReason: `${arn(children[0]!)} transitioned to ${state} at Sunday 22 November, 2026 10:05:31 UTC`,
    StateChangeTime: '2026-11-22T10:05:32.000+0000',
    Region: 'EU (Ireland)',
    AlarmArn: arn('mlship-prod-breast-cancer-health'),
    OldStateValue: state === 'ALARM' ? 'OK' : 'ALARM',
    AlarmRule: children.map((c) => `ALARM("${c}")`).join(' OR '),
    TriggeringChildren: children.map((c) => ({ Arn: arn(c), State: { Value: state, Timestamp: '2026-11-22T10:05:31.140+0000' } })),
  };
}

/** An SNS event as Lambda receives it from a subscription. */
function snsEvent(...messages: (string | undefined)[]): SNSEvent {
  return {
    Records: messages.map((message, i) => ({
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: 'arn:aws:sns:eu-west-1:111122223333:mlship-prod-alarms:5f1c',
      Sns: {
        Type: 'Notification',
        MessageId: `m-${i}`,
        TopicArn: 'arn:aws:sns:eu-west-1:111122223333:mlship-prod-alarms',
        Subject: 'ALARM: "mlship-prod-breast-cancer-health" in EU (Ireland)',
        Message: message as string,
        Timestamp: '2026-11-22T10:05:32.512Z',
        SignatureVersion: '1',
        Signature: 'EXAMPLE',
        SigningCertUrl: 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-EXAMPLE.pem',
        UnsubscribeUrl: 'https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe',
        MessageAttributes: {},
      },
    })),
  };
}

const logged: { level: string; message: string }[] = [];
const logger = { info: (message: string) => void logged.push({ level: 'info', message }), warn: (message: string) => void logged.push({ level: 'warn', message }) };

let aws: AlarmEndpoints;
before(async () => {
  aws = await startAlarmEndpoints();
});
after(async () => aws.close());
beforeEach(() => {
  aws.alarms.clear();
  aws.describeCalls.length = 0;
  aws.publishes.length = 0;
  aws.failDescribe = false;
  logged.length = 0;
});

const formatter = () =>
  createAlertFormatter({ cloudWatch: new CloudWatchClient(clientSettings(aws)), sns: new SNSClient(clientSettings(aws)), config: readAlertFormatterConfig(env), logger });

describe('alert formatter', () => {
  it('turns a composite alarm into the alert of the child that fired, with its figure from DescribeAlarms', async () => {
    aws.alarms.set(latencyChild.AlarmName, latencyChild);
    await formatter()(snsEvent(JSON.stringify(composite('ALARM', [latencyChild.AlarmName]))));
    assert.deepEqual(aws.describeCalls, [[latencyChild.AlarmName]], 'DescribeAlarms asked for the triggering child');
    assert.equal(aws.publishes.length, 1, 'one message');
    const [published] = aws.publishes;
    assert.equal(published!.topicArn, TOPIC);
    assert.equal(published!.subject, '[ALARM] breast-cancer v3 API p99 latency 812 ms > 300 ms (prod)');
    for (const line of ['Model:      breast-cancer', 'Version:    3', 'Figure:     812 ms', 'Threshold:  > 300 ms', 'Time:       2026-11-22T10:05:32.000+0000', `What to do: ${RUNBOOK}`, `Dashboard:  ${DASHBOARD}`]) {
      assert.ok(published!.message.includes(line), `${line} in\n${published!.message}`);
    }
  });

  it('says the recovery when the composite goes back to OK', async () => {
    aws.alarms.set(latencyChild.AlarmName, { ...latencyChild, StateValue: 'OK', StateReason: 'Threshold Crossed: 1 out of the last 3 datapoints [120.5 (22/11/26 10:40:00)] was not greater than the threshold (300.0).' });
    await formatter()(snsEvent(JSON.stringify(composite('OK', [latencyChild.AlarmName]))));
    assert.equal(aws.publishes[0]?.subject, '[OK] breast-cancer v3 API p99 latency back to normal: 121 ms, threshold 300 ms (prod)');
    assert.ok(aws.publishes[0]!.message.includes('Recovered'), aws.publishes[0]!.message);
  });

  it('reads a metric alarm notification directly, SageMaker ModelLatency in milliseconds', async () => {
    const message = {
      AlarmName: 'mlship-prod-digits-endpoint-p99-latency',
      AlarmDescription: 'The endpoint is slow.',
      NewStateValue: 'ALARM',
      OldStateValue: 'OK',
      NewStateReason: 'Threshold Crossed: 3 out of the last 3 datapoints [612000.0 (22/11/26 10:00:00), 601000.0 (22/11/26 09:55:00)] were greater than the threshold (500000.0).',
      StateChangeTime: '2026-11-22T10:05:31.140+0000',
      Trigger: { MetricName: 'ModelLatency', Namespace: 'AWS/SageMaker', StatisticType: 'ExtendedStatistic', ExtendedStatistic: 'p99', Dimensions: [{ name: 'EndpointName', value: 'mlship-prod-digits' }, { name: 'VariantName', value: 'AllTraffic' }], Period: 300, EvaluationPeriods: 3, ComparisonOperator: 'GreaterThanThreshold', Threshold: 500000.0, TreatMissingData: 'notBreaching' },
    };
    await formatter()(snsEvent(JSON.stringify(message)));
    assert.deepEqual(aws.describeCalls, [], 'no DescribeAlarms for a metric alarm');
    assert.equal(aws.publishes[0]?.subject, '[ALARM] digits v1 endpoint p99 latency 612 ms > 500 ms (prod)');
  });

  it('still sends the alert, without figures, when DescribeAlarms is refused', async () => {
    aws.failDescribe = true;
    await formatter()(snsEvent(JSON.stringify(composite('ALARM', [latencyChild.AlarmName]))));
    assert.equal(aws.publishes[0]?.subject, '[ALARM] breast-cancer v3 API p99 latency (prod)');
    assert.ok(logged.some((l) => l.level === 'warn' && l.message.includes('DescribeAlarms failed')), JSON.stringify(logged));
  });

  it('forwards a malformed or foreign message as raw text, one alert per record, never a crash', async () => {
    const foreign = JSON.stringify({ ...composite('ALARM', ['someone-else-alarm']), AlarmName: 'someone-else-alarm' });
    const alerts = await formatter()(snsEvent('{"AlarmName": "mlship-prod-breast-cancer-health", "NewStateValue": ', foreign, undefined));
    assert.equal(alerts.length, 3, 'one alert per record');
    assert.deepEqual(aws.publishes.map((p) => p.subject), ['[mlship prod] notification', '[mlship prod] notification', '[mlship prod] notification']);
    assert.ok(aws.publishes[0]!.message.startsWith('{"AlarmName": "mlship-prod-breast-cancer-health"'), aws.publishes[0]!.message);
    assert.ok(aws.publishes[1]!.message.includes('someone-else-alarm'), aws.publishes[1]!.message);
  });

  it('names the setting at fault', () => {
    assert.throws(() => readAlertFormatterConfig({ ...env, NOTIFICATION_TOPIC_ARN: 'topic' }), /NOTIFICATION_TOPIC_ARN must be an SNS topic ARN/);
    assert.throws(() => readAlertFormatterConfig({ ...env, MODELS: '{' }), /MODELS must be JSON/);
    assert.throws(() => readAlertFormatterConfig({ ...env, MODELS: '{}' }), /MODELS must name at least one model/);
  });
});

describe('alert formatter bundle', () => {
  const tempDir = tempDirMaker('mlship-formatter-bundle-');

  it('runs as Lambda would run it: the esbuild bundle of the entry, clients from the environment', async () => {
    const dir = tempDir();
    const bundle = bundleEntry(DEFAULT_ALERT_FORMATTER_ENTRY, { propName: 'entry', purpose: 'test' });
    writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
    writeFileSync(join(dir, 'index.js'), bundle.js);
    Object.assign(process.env, env, { AWS_ENDPOINT_URL: aws.url, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_MAX_ATTEMPTS: '1', POWERTOOLS_LOG_LEVEL: 'SILENT' });
    aws.alarms.set(latencyChild.AlarmName, latencyChild);
    const entry = createRequire(import.meta.url)(join(dir, 'index.js')) as { handler: (event: SNSEvent, context: unknown) => Promise<void> };
    await entry.handler(snsEvent(JSON.stringify(composite('ALARM', [latencyChild.AlarmName]))), { functionName: 'mlship-prod-alert-formatter', awsRequestId: 'r-1' });
    assert.equal(aws.publishes[0]?.subject, '[ALARM] breast-cancer v3 API p99 latency 812 ms > 300 ms (prod)');
  });
});
