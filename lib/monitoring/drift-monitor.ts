// The stage's drift monitor: a function from the pipeline image (it needs every model's card and its drift
// baseline), started on an EventBridge schedule through a small state machine, `<project>-<stage>-drift-monitor`.
// Each run reads the last window of captures of every model from the capture bucket (only what arrived since the
// last run, folded into per-hour summaries under monitor/summaries/), puts the drift figures in CloudWatch
// (namespace mlship/drift) and publishes one report per model going into drift to the notifications topic.
//   Plan (what arrived, per model and hour: new byte ranges) -> Fan out?
//     at most fanOutAboveBytes: Monitor (the function folds it, as one run always did)
//     more: Fold shares (a Distributed Map over the plan's ranges, shareBytes a child; each child writes one
//           partial summary per range) -> Merge (the function, given the plan: adds the partials to the hour
//           summaries exactly once, then judges, publishes and reports as a run does)
//   any failure -> Notify failure (the notifications topic) -> Failed
// The roles can do exactly that: the monitor function reads the capture bucket (and decrypts it), writes its state
// and summaries under monitor/ (and deletes summaries past retention there), puts metrics in its namespace,
// publishes to the topic (with its key), and writes its own logs; the plan reads the captures and summaries and
// writes its run files under monitor/runs/; a child reads the captures and writes its partials there. Each
// model's thresholds are resolved here (resolveDriftThresholds, as `mlship drift` and the local monitor do) and
// written out whole, so the template shows what it judges by. The logic lives in lambdas/core/monitoring/.
// Over 300 lines: one state machine, its functions and their least-privilege roles, which refer to each other.
import { join } from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { resolveDriftThresholds, type DriftThresholds } from '../../lambdas/core/monitoring/drift/thresholds';
import { MONITOR_PREFIX, SUMMARIES_PREFIX } from '../../lambdas/core/monitoring/summaries/summary-keys';
import { DRIFT_METRICS_NAMESPACE, LAMBDA_CAPTURE_PREFIX, SAGEMAKER_CAPTURE_PREFIX } from '../../lambdas/core/monitoring/contracts';
import { DEFAULT_FAN_OUT_ABOVE_BYTES, DEFAULT_SHARE_BYTES, RUNS_PREFIX } from '../../lambdas/core/monitoring/pipeline/types';
import { LAMBDA_SERVICE_ERRORS } from '../batch/batch-scoring-pipeline';
import { IMAGE_MODELS_DIR, type PipelineImage } from '../pipelines/pipeline-image';
import { PROJECT_ROOT } from '../private/bundle';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { functionRole, grantKey } from '../private/grants';
import { acknowledgeWildcards, invokeQualifiersReason, nagResource, XRAY_REASON } from '../private/nag';

/** The handler the pipeline image must hold for the monitor (add it to the image's handlers). */
export const DRIFT_MONITOR_IMAGE_HANDLERS: Readonly<Record<string, string>> = {
  'drift-monitor': join(PROJECT_ROOT, 'lambdas', 'drift-monitor', 'index.ts'),
  'drift-monitor-plan': join(PROJECT_ROOT, 'lambdas', 'drift-monitor-plan', 'index.ts'),
  'drift-monitor-fold': join(PROJECT_ROOT, 'lambdas', 'drift-monitor-fold', 'index.ts'),
};

/** The monitor's state machine (and its function's) name for a project and stage. */
export function driftMonitorName(project: string, stage: string): string {
  return `${project}-${stage}-drift-monitor`;
}

/** The map's item reader with CDK's statement (GetObject on every object of the bucket) narrowed to the run files. */
class RunFilesItemReader extends sfn.S3JsonLItemReader {
  constructor(
    props: sfn.S3FileItemReaderProps,
    private readonly runObjects: string,
  ) {
    super(props);
  }

  override providePolicyStatements(): iam.PolicyStatement[] {
    return [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.runObjects] })];
  }
}

/** The map's result writer with CDK's statement (every object of the bucket) narrowed to the run files. */
class RunFilesResultWriter extends sfn.ResultWriterV2 {
  constructor(
    props: sfn.ResultWriterV2Props,
    private readonly runObjects: string,
  ) {
    super(props);
  }

  override providePolicyStatements(): iam.PolicyStatement[] {
    return [new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'], resources: [this.runObjects] })];
  }
}

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

/** Where a monitor function (the drift monitor, the quality monitor) runs, what it reads and where its alerts go. */
export interface MonitorFunctionProps {
  readonly project: string;
  readonly stage: string;
  /** The stack's pipeline image, holding the monitor's handlers and every monitored model. */
  readonly image: PipelineImage;
  /** @default lambda.Architecture.ARM_64 (the image's) */
  readonly architecture?: lambda.Architecture;
  /** The capture bucket (DataCapture.bucket) and its key. */
  readonly captureBucket: s3.IBucket;
  readonly captureKey: kms.IKey;
  /** Where the monitor's reports go: the stage's notifications topic and its key. */
  readonly topic: sns.ITopic;
  readonly topicKey: kms.IKey;
}

export interface DriftMonitorProps extends MonitorFunctionProps {
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
  /**
   * New capture bytes (all models' windows together) above which a run fans out to a Distributed Map; at most
   * this, the monitor function folds them itself. The default is about 60% of what one run of the function folds
   * (docs/monitoring.md, Capacity).
   * @default DEFAULT_FAN_OUT_ABOVE_BYTES (4 GiB)
   */
  readonly fanOutAboveBytes?: number;
  /**
   * Most capture bytes one child of the Distributed Map folds (a range larger than this is a child's alone).
   * @default DEFAULT_SHARE_BYTES (4 GiB)
   */
  readonly shareBytes?: number;
  /**
   * Children folding at once.
   * @default 50
   */
  readonly maxConcurrency?: number;
}

export class DriftMonitor extends Construct {
  public readonly function: lambda.DockerImageFunction;
  public readonly role: iam.Role;
  public readonly rule: events.Rule;
  public readonly logGroup: logs.LogGroup;
  /** The schedule's target: plan, then the function alone or the fan-out and its merge. */
  public readonly stateMachine: sfn.StateMachine;
  public readonly stateMachineLogGroup: logs.LogGroup;
  public readonly planFunction: lambda.DockerImageFunction;
  /** A child of the Distributed Map. */
  public readonly foldFunction: lambda.DockerImageFunction;

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
    const fanOutAboveBytes = props.fanOutAboveBytes ?? DEFAULT_FAN_OUT_ABOVE_BYTES;
    const shareBytes = props.shareBytes ?? DEFAULT_SHARE_BYTES;
    const maxConcurrency = props.maxConcurrency ?? 50;
    if (!Number.isInteger(fanOutAboveBytes) || fanOutAboveBytes < 0) throw new Error(`fanOutAboveBytes must be a whole number of bytes, 0 or more, received ${fanOutAboveBytes}`);
    // A share holds at least one whole capture object: Firehose's largest is 128 MiB.
    if (!Number.isInteger(shareBytes) || shareBytes < 128 * 1024 ** 2) throw new Error(`shareBytes must be a whole number of bytes, at least 128 MiB (134217728), received ${shareBytes}`);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > 10_000) throw new Error(`maxConcurrency must be a whole number from 1 to 10000, received ${maxConcurrency}`);
    const name = driftMonitorName(props.project, props.stage);
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const monitoredModels = JSON.stringify(
      props.models.map((m, i) => ({ name: m.name, version: String(m.version), runtime: m.runtime, ...(m.endpointName ? { endpointName: m.endpointName } : {}), drift: thresholds[i] })),
    );

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
      { finding: nagResource(this, bucket.arnForObjects('*')), reason: "Reads every model's captures in the capture bucket (lambda/ and data-capture/, partitioned by model, version and hour), its own state and, as the fan-out's merge, its run's partials under monitor/runs/; this one bucket, read only" },
      { finding: nagResource(this, bucket.arnForObjects(`${MONITOR_PREFIX}*`)), reason: 'Writes only its own objects, under monitor/ of the capture bucket: its state (monitor/state/) and its hour summaries (monitor/summaries/)' },
      { finding: nagResource(this, bucket.arnForObjects(`${SUMMARIES_PREFIX}*`)), reason: 'Deletes only its own hour summaries past retention, under monitor/summaries/ of the capture bucket' },
      { finding: 'Resource::*', reason: `cloudwatch:PutMetricData supports no resource ARN; the statement is scoped by its condition to the namespace ${DRIFT_METRICS_NAMESPACE}` },
    ]);

    this.function = new lambda.DockerImageFunction(this, 'Function', {
      code: props.image.code('drift-monitor'),
      description: `${name}: compares each model's captured traffic with its training baseline and reports drift`,
      architecture,
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
        MONITORED_MODELS: monitoredModels,
        ...(props.dashboardUrl ? { DASHBOARD_URL: props.dashboardUrl } : {}),
        POWERTOOLS_SERVICE_NAME: name,
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    // ---- the fan-out's plan and children ----
    const captureObjects = [`${LAMBDA_CAPTURE_PREFIX}*`, `${SAGEMAKER_CAPTURE_PREFIX}*`].map((p) => bucket.arnForObjects(p));
    const runObjects = bucket.arnForObjects(`${RUNS_PREFIX}*`);
    const stepFunction = (id: string, handler: string, description: string, memoryMb: number, timeout: Duration, reads: readonly string[], environment: Record<string, string>) => {
      const functionLogs = new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
      const role = functionRole(this, `${id}Role`, functionLogs, `${name}: ${handler}`);
      // ListBucket: a capture gone before it is read must be NoSuchKey (said and skipped), not AccessDenied.
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListCaptures', actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadCaptures', actions: ['s3:GetObject'], resources: [...reads] }));
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteRunFiles', actions: ['s3:PutObject'], resources: [runObjects] }));
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'UseCaptureKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.captureKey.keyArn] }));
      const fn = new lambda.DockerImageFunction(this, id, {
        code: props.image.code(handler),
        description,
        architecture,
        memorySize: memoryMb,
        timeout,
        tracing: lambda.Tracing.ACTIVE,
        role,
        logGroup: functionLogs,
        environment: { CAPTURE_BUCKET: bucket.bucketName, WINDOW_HOURS: String(windowHours), MODELS_DIR: IMAGE_MODELS_DIR, MONITORED_MODELS: monitoredModels, POWERTOOLS_SERVICE_NAME: `${name}-${handler.replace(/^drift-monitor-/, '')}`, NODE_OPTIONS: '--enable-source-maps', ...environment },
      });
      acknowledgeWildcards(role, [
        ...reads.map((arn) => ({ finding: nagResource(this, arn), reason: `Reads only under ${arn === captureObjects[0] ? 'lambda/ (the Lambda models\' captures)' : arn === captureObjects[1] ? 'data-capture/ (the SageMaker endpoints\' captures)' : 'monitor/summaries/ (the hour summaries: what is folded so far)'} of the capture bucket` })),
        { finding: nagResource(this, runObjects), reason: "Writes only the drift monitor's run files, under monitor/runs/ of the capture bucket (expired after a few days)" },
        XRAY_REASON,
      ]);
      return fn;
    };
    this.planFunction = stepFunction('Plan', 'drift-monitor-plan', `${name}: finds what arrived in each model's window since the last run, and whether the run fans out`, 1024, Duration.minutes(10), [...captureObjects, bucket.arnForObjects(`${SUMMARIES_PREFIX}*`)], {
      FAN_OUT_ABOVE_BYTES: String(fanOutAboveBytes),
      SHARE_BYTES: String(shareBytes),
    });
    // A whole vCPU (1,769 MB): a child folds on one thread.
    this.foldFunction = stepFunction('Fold', 'drift-monitor-fold', `${name}: folds one share of the new captures into partial summaries`, 1769, Duration.minutes(15), captureObjects, {});

    // ---- the state machine ----
    const notifyFailure = new tasks.SnsPublish(this, 'NotifyFailure', {
      stateName: 'Notify failure',
      topic: props.topic,
      subject: sfn.JsonPath.format(`[drift monitor] failed at {} (${props.stage})`, sfn.JsonPath.stringAt('$.step')),
      message: sfn.TaskInput.fromJsonPathAt('$.message'),
      resultPath: sfn.JsonPath.DISCARD,
    });
    const failed = new sfn.Fail(this, 'Failed', { stateName: 'Failed', errorPath: '$.error.Error', causePath: '$.error.Cause' });
    notifyFailure.addCatch(failed, { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD });
    notifyFailure.next(failed);
    const catchTo = <T extends sfn.TaskStateBase | sfn.DistributedMap>(state: T, step: string): T => {
      state.addCatch(
        new sfn.Pass(this, `FailedAt${step.replace(/[^A-Za-z]/g, '')}`, {
          stateName: `Failed at ${step}`,
          parameters: {
            step,
            'error.$': '$.error',
            message: sfn.JsonPath.format(
              `The drift monitor (${props.stage}) failed at step ${step}: no figures or reports from this run; the next run folds what this one did not.\n\nError: {}\nCause: {}\n\nExecution: {}`,
              sfn.JsonPath.stringAt('$.error.Error'),
              sfn.JsonPath.stringAt('$.error.Cause'),
              sfn.JsonPath.stringAt('$$.Execution.Id'),
            ),
          },
        }).next(notifyFailure),
        { errors: ['States.ALL'], resultPath: '$.error' },
      );
      return state;
    };
    /** A Lambda step, its throttling (the monitor runs one at a time) and service errors retried with backoff. */
    const invoke = (id: string, stateName: string, fn: lambda.IFunction, payload: sfn.TaskInput | undefined, resultPath: string) => {
      const task = new tasks.LambdaInvoke(this, id, { stateName, lambdaFunction: fn, ...(payload ? { payload } : {}), payloadResponseOnly: true, retryOnServiceExceptions: false, resultPath });
      task.addRetry({ errors: LAMBDA_SERVICE_ERRORS, interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2, maxDelay: Duration.seconds(60), jitterStrategy: sfn.JitterType.FULL });
      return task;
    };
    const done = new sfn.Succeed(this, 'Done', { stateName: 'Done' });
    const plan = catchTo(invoke('PlanTask', 'Plan', this.planFunction, sfn.TaskInput.fromObject({ 'input.$': '$', 'executionName.$': '$$.Execution.Name' }), '$.plan'), 'Plan');
    const monitor = catchTo(invoke('MonitorTask', 'Monitor', this.function, sfn.TaskInput.fromObject({ 'time.$': '$.plan.time' }), '$.result'), 'Monitor');
    const merge = catchTo(invoke('MergeTask', 'Merge', this.function, sfn.TaskInput.fromObject({ 'plan.$': '$.plan' }), '$.result'), 'Merge');
    const foldShare = invoke('FoldShareTask', 'Fold share', this.foldFunction, undefined, '$');
    const map = new sfn.DistributedMap(this, 'FoldMap', {
      stateName: 'Fold shares',
      itemReader: new RunFilesItemReader({ bucket, key: sfn.JsonPath.stringAt('$.plan.itemsKey') }, runObjects),
      itemSelector: {
        'model.$': '$$.Map.Item.Value.model',
        'version.$': '$$.Map.Item.Value.version',
        'hour.$': '$$.Map.Item.Value.hour',
        'key.$': '$$.Map.Item.Value.key',
        'start.$': '$$.Map.Item.Value.start',
        'end.$': '$$.Map.Item.Value.end',
        'lines.$': '$$.Map.Item.Value.lines',
      },
      itemBatcher: new sfn.ItemBatcher({ maxItemsPerBatchPath: '$.plan.rangesPerShare', batchInput: { 'runPrefix.$': '$.plan.runPrefix' } }),
      maxConcurrency,
      // A share that fails for good fails the run (notified); the next run folds its bytes, as nothing of them was recorded.
      toleratedFailurePercentage: 0,
      resultWriterV2: new RunFilesResultWriter(
        {
          bucket,
          prefix: sfn.JsonPath.stringAt('$.plan.resultsPrefix'),
          writerConfig: new sfn.WriterConfig({ outputType: sfn.OutputType.JSONL, transformation: sfn.Transformation.NONE }),
        },
        runObjects,
      ),
      resultPath: '$.folded',
    });
    map.itemProcessor(foldShare);
    catchTo(map, 'Fold shares').next(merge).next(done);
    monitor.next(done);
    const choice = new sfn.Choice(this, 'FanOut', { stateName: 'Fan out?' }).when(sfn.Condition.booleanEquals('$.plan.fanOut', true), map).otherwise(monitor);

    this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: name,
      definitionBody: sfn.DefinitionBody.fromChainable(plan.next(choice)),
      tracingEnabled: true,
      logs: { destination: this.stateMachineLogGroup, level: sfn.LogLevel.ERROR, includeExecutionData: true },
      timeout: Duration.hours(2),
    });
    // Reading the items and writing the map's results in the (KMS-encrypted) capture bucket; publishing to the encrypted topic.
    grantKey(this.stateMachine, props.captureKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
    grantKey(this.stateMachine, props.topicKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
    acknowledgeWildcards(this.stateMachine.role, [
      XRAY_REASON,
      ...invokeQualifiersReason(this, [this.planFunction.functionArn, this.foldFunction.functionArn, this.function.functionArn]),
      { finding: nagResource(this, runObjects), reason: "The Distributed Map reads its items from and writes its results to the drift monitor's run files only, under monitor/runs/ of the capture bucket (keys the plan chooses per execution)" },
    ]);
    const mapPolicy = this.stateMachine.node.tryFindChild('DistributedMapPolicy');
    if (mapPolicy) {
      acknowledgeWildcards(mapPolicy, [
        { finding: /^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:\{"Fn::Select":\[6,\{"Fn::Split":\[":",\{"Ref":"[A-Za-z0-9]+"\}\]\}\]\}(\/\*)?:\*$/, reason: "The child executions of this state machine's own Distributed Map (executions of this state machine only, by name)" },
      ]);
    }
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason: "Logs at ERROR with execution data: a failed step is logged with its input (keys, counts, the plan). ALL would log every run's steps; a run's figures are in CloudWatch metrics and the monitor function's logs",
    });

    // The schedule starts the state machine (with the scheduled event: its time ends the window).
    this.rule = new events.Rule(this, 'Schedule', {
      ruleName: name,
      description: `Runs ${name} (${props.schedule ?? 'rate(1 hour)'}, the last ${windowHours} h of captures)`,
      schedule: events.Schedule.expression(props.schedule ?? 'rate(1 hour)'),
      targets: [new targets.SfnStateMachine(this.stateMachine, { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });
  }
}
