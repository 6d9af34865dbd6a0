// What the stage's pipelines share: the data bucket (batch inputs and outputs, training data, work files)
// and the notification topic (pipeline results; later the alarms), with e-mail subscriptions from the
// manifest. Both encrypted; the bucket takes TLS only and is never public.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Top-level prefix of the data bucket where pipelines keep intermediate files; expired after a while. */
export const WORK_PREFIX = '_work/';

export interface PipelineStorageProps {
  /** `<project>-<stage>`: the topic's name prefix. */
  readonly namePrefix: string;
  /** E-mail addresses subscribed to the notification topic. */
  readonly emails: readonly string[];
  /**
   * Days intermediate files under `_work/` are kept.
   * @default 14
   */
  readonly workFileDays?: number;
  /**
   * Bucket receiving the data bucket's S3 server access logs (under data/).
   * @default - no server access logs
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
}

export class PipelineStorage extends Construct {
  /** Batch inputs and outputs, training data (`training-data/<model>/`), and work files (`_work/`). */
  readonly dataBucket: s3.Bucket;
  /** The key encrypting the topic's messages. */
  readonly topicKey: kms.Key;
  /** Pipeline results and failures, e-mailed to the manifest's `notifications.emails`. */
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: PipelineStorageProps) {
    super(scope, id);
    this.dataBucket = new s3.Bucket(this, 'DataBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Data people put here outlives the stack.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-work-files', prefix: WORK_PREFIX, expiration: Duration.days(props.workFileDays ?? 14) }],
      ...(props.serverAccessLogsBucket ? { serverAccessLogsBucket: props.serverAccessLogsBucket, serverAccessLogsPrefix: 'data/' } : {}),
    });

    this.topicKey = new kms.Key(this, 'TopicKey', {
      description: `${props.namePrefix}: encrypts the notification topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarms and EventBridge publish to the topic, so they must be able to use its key.
    for (const service of ['cloudwatch.amazonaws.com', 'events.amazonaws.com']) {
      this.topicKey.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(service)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
        }),
      );
    }
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: `${props.namePrefix}-notifications`,
      displayName: `mlship ${props.namePrefix}`,
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    for (const email of props.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
  }
}
