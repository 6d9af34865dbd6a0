// How a monitor function reaches the world: its figures to CloudWatch, its readable alert to the stage's topic.
// The drift monitor and the quality monitor publish the same way.
import { PutMetricDataCommand, type CloudWatchClient, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { ReadableAlert } from './contracts';

/** Most datums PutMetricData takes in one call. */
export const MAX_DATUMS_PER_CALL = 1000;

/** Puts `data` into `namespace`, as many calls as PutMetricData's limit needs. */
export async function putMetricData(cloudWatch: CloudWatchClient, namespace: string, data: readonly MetricDatum[]): Promise<void> {
  for (let i = 0; i < data.length; i += MAX_DATUMS_PER_CALL) {
    await cloudWatch.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(i, i + MAX_DATUMS_PER_CALL) }));
  }
}

/** Publishes a readable alert to the topic people subscribe to: its subject line and its body. */
export async function publishAlert(sns: SNSClient, topicArn: string, alert: ReadableAlert): Promise<void> {
  await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: alert.subject, Message: alert.body }));
}
