// The alert formatter: each CloudWatch alarm notification the alarm topic delivers becomes one readable
// alert on the notifications topic. For a composite alarm it asks DescribeAlarms for the children that
// triggered it, so the alert carries the figure, the threshold and the runbook of the alarm that fired.
// Anything it cannot read (another message, a malformed one, DescribeAlarms failing) still reaches people:
// the raw text, or the alert without figures. Only a failing Publish throws (the invocation is retried).
import { DescribeAlarmsCommand, type CloudWatchClient, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SNSEvent } from 'aws-lambda';
import { alarmEventFromCloudWatch, rawAlert, readableAlert, type CloudWatchAlarmMessage } from '../core/monitoring/alarms/readable-alert';
import type { ReadableAlert } from '../core/monitoring/contracts';
import type { AlertFormatterConfig } from './config';

export type FormatterLogger = Pick<Logger, 'info' | 'warn'>;

export interface AlertFormatterDeps {
  readonly cloudWatch: CloudWatchClient;
  readonly sns: SNSClient;
  readonly config: AlertFormatterConfig;
  readonly logger: FormatterLogger;
}

export type AlertFormatter = (event: SNSEvent) => Promise<ReadableAlert[]>;

/** A metric alarm as DescribeAlarms returns it, in the shape of its notification. */
export function messageOfMetricAlarm(alarm: MetricAlarm): CloudWatchAlarmMessage {
  return {
    AlarmName: alarm.AlarmName,
    AlarmDescription: alarm.AlarmDescription,
    NewStateValue: alarm.StateValue,
    NewStateReason: alarm.StateReason,
    StateChangeTime: alarm.StateUpdatedTimestamp?.toISOString(),
    Trigger: { MetricName: alarm.MetricName, Threshold: alarm.Threshold, ComparisonOperator: alarm.ComparisonOperator },
  };
}

/** The alarm names of a composite notification's triggering children; none for anything else. */
function triggeringChildren(text: string): string[] {
  try {
    const message = JSON.parse(text) as { TriggeringChildren?: unknown };
    if (!Array.isArray(message.TriggeringChildren)) return [];
    return message.TriggeringChildren.map((c: { Arn?: unknown }) => c?.Arn)
      .filter((arn): arn is string => typeof arn === 'string' && arn.includes(':alarm:'))
      .map((arn) => arn.slice(arn.indexOf(':alarm:') + ':alarm:'.length))
      .slice(0, 100);
  } catch {
    return [];
  }
}

export function createAlertFormatter(deps: AlertFormatterDeps): AlertFormatter {
  const { config, logger } = deps;
  const context = { project: config.project, stage: config.stage, models: config.models, ...(config.dashboardUrl ? { dashboardUrl: config.dashboardUrl } : {}) };

  const describe = async (names: string[]): Promise<Map<string, CloudWatchAlarmMessage>> => {
    const found = new Map<string, CloudWatchAlarmMessage>();
    if (names.length === 0) return found;
    try {
      const answer = await deps.cloudWatch.send(new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ['MetricAlarm'] }));
      for (const alarm of answer.MetricAlarms ?? []) if (alarm.AlarmName) found.set(alarm.AlarmName, messageOfMetricAlarm(alarm));
    } catch (error) {
      // The alert goes out without the child's figures rather than not at all.
      logger.warn('DescribeAlarms failed; the alert goes out without figures', { alarms: names, error: (error as Error).message });
    }
    return found;
  };

  return async (event) => {
    const alerts: ReadableAlert[] = [];
    for (const record of event.Records ?? []) {
      const text = typeof record?.Sns?.Message === 'string' ? record.Sns.Message : JSON.stringify(record ?? null);
      const children = await describe(triggeringChildren(text));
      const alarmEvent = alarmEventFromCloudWatch(text, context, (name) => children.get(name));
      const alert = alarmEvent ? readableAlert(alarmEvent) : rawAlert(text, config.stage);
      if (!alarmEvent) logger.warn('not a CloudWatch alarm of this stage; forwarding the raw text', { messageId: record?.Sns?.MessageId });
      await deps.sns.send(new PublishCommand({ TopicArn: config.topicArn, Subject: alert.subject, Message: alert.body }));
      logger.info('alert published', { subject: alert.subject, alarm: alarmEvent?.alarmName, state: alarmEvent?.state });
      alerts.push(alert);
    }
    return alerts;
  };
}
