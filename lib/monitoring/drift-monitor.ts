// The stage's drift monitor: a function from the pipeline image (it needs every model's card and its drift
// baseline) on an EventBridge schedule. Each run reads the last window of captures of every model from the
// capture bucket (only what arrived since the last run, folded into per-hour summaries under monitor/summaries/),
// puts the drift figures in CloudWatch (namespace mlship/drift) and publishes one report per model going into
// drift to the notifications topic. Its role can do exactly that: read the capture bucket (and decrypt it),
// write its state and summaries under monitor/ (and delete summaries past retention there), put metrics in its
// namespace, publish to the topic (with its key), and write its own logs. Each model's thresholds are resolved
// here (resolveDriftThresholds, as `mlship drift` and the local monitor do) and written out whole, so the
// template shows what it judges by.
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { resolveDriftThresholds, type DriftThresholds } from '../../lambdas/core/monitoring/drift/thresholds';
import { MONITOR_PREFIX, SUMMARIES_PREFIX } from '../../lambdas/core/monitoring/summaries/summary-keys';
import { DRIFT_METRICS_NAMESPACE } from '../../lambdas/core/monitoring/contracts';
import { IMAGE_MODELS_DIR, type PipelineImage } from '../pipelines/pipeline-image';
import { PROJECT_ROOT } from '../private/bundle';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { acknowledgeWildcards, nagResource } from '../private/nag';

/** The handler the pipeline image must hold for the monitor (add it to the image's handlers). */
export const DRIFT_MONITOR_IMAGE_HANDLERS: Readonly<Record<string, string>> = {
  'drift-monitor': join(PROJECT_ROOT, 'lambdas', 'drift-monitor', 'index.ts'),
};

export interface MonitoredModelProps {
  readonly name: string;
  /** The version served (whose card's baseline the captures are compared with). */
  readonly version: number;
  readonly runtime: 'lambda' | 'sagemaker';
  /** runtime sagemaker: the endpoint whose captures are read. */
  readonly endpointName?: string;
  /**
   * The model's drift thresholds as its manifest entry writes them (`monitoring.drift`); each one left out
   * takes its default (DEFAULT_DRIFT_THRESHOLDS).
   * @default - every threshold its default
   */
  readonly drift?: Partial<DriftThresholds>;
}

export interface DriftMonitorProps {
  readonly project: string;
  readonly stage: string;
  /** The stack's pipeline image, holding DRIFT_MONITOR_IMAGE_HANDLERS and every monitored model. */
  readonly image: PipelineImage;
  /** @default lambda.Architecture.ARM_64 (the image's) */
  readonly architecture?: lambda.Architecture;
  /** The capture bucket (DataCapture.bucket) and its key. */
  readonly captureBucket: s3.IBucket;
  readonly captureKey: kms.IKey;
  /** Where the drift reports go: the stage's notifications topic and its key. */
  readonly topic: sns.ITopic;
  readonly topicKey: kms.IKey;
  /** The models to watch. */
  readonly models: readonly MonitoredModelProps[];
  /**
   * An EventBridge schedule expression.
   * @default 'rate(1 hour)'
   */
  readonly schedule?: string;
  /**
   * Hours of captures each run reads.
   * @default 24
   */
  readonly windowHours?: number;
  /**
   * The stage's dashboard, linked from every report.
   * @default - no link
   */
  readonly dashboardUrl?: string;
}

export class DriftMonitor extends Construct {
  public readonly function: lambda.DockerImageFunction;
  public readonly role: iam.Role;
  public readonly rule: events.Rule;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DriftMonitorProps) {
    super(scope, id);
    const windowHours = props.windowHours ?? 24;
    if (!Number.isInteger(windowHours) || windowHours < 1 || windowHours > 168) throw new Error(`windowHours must be a whole number from 1 to 168, received ${windowHours}`);
    if (props.models.length === 0) throw new Error('models must name at least one model to watch');
    const missing = Object.keys(DRIFT_MONITOR_IMAGE_HANDLERS).filter((h) => !props.image.handlers.includes(h));
    if (missing.length > 0) throw new Error(`image must hold the drift monitor's handler; it lacks ${missing.join(', ')} (add DRIFT_MONITOR_IMAGE_HANDLERS to its handlers)`);
    const thresholds = props.models.map((m): DriftThresholds => {
      if (m.runtime === 'sagemaker' && !m.endpointName) throw new Error(`models: ${m.name} runs on SageMaker and needs its endpointName`);
      try {
        return resolveDriftThresholds(m.drift).thresholds;
      } catch (error) {
        throw new Error(`models: ${m.name}'s drift thresholds: ${(error as Error).message}`);
      }
    });
    const name = `${props.project}-${props.stage}-drift-monitor`;

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `${name}: reads captures, writes its state and summaries, puts drift metrics, publishes drift reports` });
    const bucket = props.captureBucket;
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListCaptures', actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadCaptures', actions: ['s3:GetObject'], resources: [bucket.arnForObjects('*')] }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteState', actions: ['s3:PutObject'], resources: [bucket.arnForObjects(`${MONITOR_PREFIX}*`)] }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'DeleteOldSummaries', actions: ['s3:DeleteObject'], resources: [bucket.arnForObjects(`${SUMMARIES_PREFIX}*`)] }));
    // Decrypt to read; a data key to write its state and summaries (the bucket encrypts with the same key).
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'UseCaptureKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.captureKey.keyArn] }));
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PutDriftMetrics',
        actions: ['cloudwatch:PutMetricData'],
        // PutMetricData has no resource ARN: the namespace condition is what scopes it.
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': DRIFT_METRICS_NAMESPACE } },
      }),
    );
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'PublishReports', actions: ['sns:Publish'], resources: [props.topic.topicArn] }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'UseTopicKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.topicKey.keyArn] }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }));
    acknowledgeWildcards(this.role, [
      { finding: nagResource(this, bucket.arnForObjects('*')), reason: "Reads every model's captures in the capture bucket (lambda/ and data-capture/, partitioned by model, version and hour) and its own state; this one bucket, read only" },
      { finding: nagResource(this, bucket.arnForObjects(`${MONITOR_PREFIX}*`)), reason: 'Writes only its own objects, under monitor/ of the capture bucket: its state (monitor/state/) and its hour summaries (monitor/summaries/)' },
      { finding: nagResource(this, bucket.arnForObjects(`${SUMMARIES_PREFIX}*`)), reason: 'Deletes only its own hour summaries past retention, under monitor/summaries/ of the capture bucket' },
      { finding: 'Resource::*', reason: `cloudwatch:PutMetricData supports no resource ARN; the statement is scoped by its condition to the namespace ${DRIFT_METRICS_NAMESPACE}` },
    ]);

    this.function = new lambda.DockerImageFunction(this, 'Function', {
      code: props.image.code('drift-monitor'),
      description: `${name}: compares each model's captured traffic with its training baseline and reports drift`,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      memorySize: 1024,
      timeout: Duration.minutes(10),
      // One run at a time: two overlapping runs could both report the same transition.
      reservedConcurrentExecutions: 1,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        CAPTURE_BUCKET: bucket.bucketName,
        TOPIC_ARN: props.topic.topicArn,
        PROJECT: props.project,
        STAGE: props.stage,
        WINDOW_HOURS: String(windowHours),
        MODELS_DIR: IMAGE_MODELS_DIR,
        MONITORED_MODELS: JSON.stringify(
          props.models.map((m, i) => ({ name: m.name, version: String(m.version), runtime: m.runtime, ...(m.endpointName ? { endpointName: m.endpointName } : {}), drift: thresholds[i] })),
        ),
        ...(props.dashboardUrl ? { DASHBOARD_URL: props.dashboardUrl } : {}),
        POWERTOOLS_SERVICE_NAME: name,
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    this.rule = new events.Rule(this, 'Schedule', {
      ruleName: name,
      description: `Runs ${name} (${props.schedule ?? 'rate(1 hour)'}, the last ${windowHours} h of captures)`,
      schedule: events.Schedule.expression(props.schedule ?? 'rate(1 hour)'),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });
  }
}
