// The stage's quality monitor (issue 17): a function from the pipeline image (it needs every model's card: its
// labels, task and held-out evaluation, the reference line), run by an EventBridge schedule (the stage's
// monitoring.schedule, as the drift monitor). Each run joins the labels under ground-truth/ of the capture bucket
// to the prediction records under predictions/, per model and version over monitoring.quality.windowHours, puts the
// figures in CloudWatch (namespace mlship/quality, dimensions stage, model, version) and publishes a readable alert
// when a model goes into ALARM. Per model, one CloudWatch alarm per threshold of monitoring.quality.alarms on the
// live version's figures; they join the model's composite alarm (ModelAlarms) and start retraining when
// retrain.onQualityAlarm (lib/retrain/retrain-pipeline.ts). The role can do exactly that: read predictions/ and
// ground-truth/, read and write its own state and summaries under monitor/, use the bucket's key, put metrics in
// its namespace, publish to the topic (with its key) and write its own logs; for models that retrain, also read
// their captured features (lambda/model=*, data-capture/*) and write the labelled ones as training rows under
// training-data/<model>/production-* of the retrain data bucket (issue 17.4). The logic lives in
// lambdas/core/quality/.
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { qualitySettingsSchema, type QualityAlarms, type QualitySettings } from '../../lambdas/core/manifest/schema';
import type { Task } from '../../lambdas/core/models/model-card';
import type { TrainingRowsSource } from '../../lambdas/core/quality/monitor/run-quality-monitor';
import { TRAINING_DATA_PREFIX } from '../../lambdas/core/retrain/contract';
import { LAMBDA_CAPTURE_PREFIX, SAGEMAKER_CAPTURE_PREFIX } from '../../lambdas/core/monitoring/contracts';
import { GROUND_TRUTH_PREFIX, PREDICTIONS_PREFIX, QUALITY_METRICS, QUALITY_METRICS_NAMESPACE } from '../../lambdas/core/quality/contracts';
import { alarmName } from '../../lambdas/core/monitoring/alarms/readable-alert';
import type { AlarmKind } from '../../lambdas/core/monitoring/contracts';
import { MONITOR_STATE_PREFIX } from '../../lambdas/core/monitoring/monitor/monitor-state';
import { SUMMARIES_PREFIX } from '../../lambdas/core/monitoring/summaries/summary-keys';
import type { MonitorFunctionProps } from '../monitoring/drift-monitor';
import { IMAGE_MODELS_DIR } from '../pipelines/pipeline-image';
import { PROJECT_ROOT } from '../private/bundle';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { acknowledgeWildcards, nagResource } from '../private/nag';
import { pascalCase } from '../stack/stack-names';

/** The handler the pipeline image must hold for the monitor (add it to the image's handlers). */
export const QUALITY_MONITOR_IMAGE_HANDLERS: Readonly<Record<string, string>> = {
  'quality-monitor': join(PROJECT_ROOT, 'lambdas', 'quality-monitor', 'index.ts'),
};

/** The monitor's function (and schedule rule) name for a project and stage. */
export function qualityMonitorName(project: string, stage: string): string {
  return `${project}-${stage}-quality-monitor`;
}

/** The alarm kind of every quality alarm (and of the monitor's own alert, alarmName(..., 'quality')). */
export const QUALITY_ALARM_KIND = 'quality' satisfies AlarmKind;

/**
 * The name of a model's quality alarm on one metric: `<project>-<stage>-<model>-quality-<metric>`, the kind's name
 * with the metric, as a model has one alarm per threshold.
 */
export function qualityAlarmName(project: string, stage: string, model: string, metric: QualityAlarmSuffix): string {
  return `${alarmName(project, stage, model, QUALITY_ALARM_KIND)}-${metric}`;
}

/** The metric part of a quality alarm's name, per threshold of monitoring.quality.alarms. */
export type QualityAlarmSuffix = 'accuracy' | 'macro-f1' | 'roc-auc' | 'mae' | 'r2' | 'drop-from-baseline';

/** One alarm of monitoring.quality.alarms, as data: what it watches and when it breaches. */
export interface QualityAlarmSpec {
  readonly threshold: keyof QualityAlarms;
  readonly metric: QualityAlarmSuffix;
  /** The CloudWatch metric (QUALITY_METRICS). */
  readonly metricName: string;
  readonly comparison: '<' | '>';
  readonly value: number;
  /** Classification or regression only (the manifest setting makes no sense for the other task). */
  readonly task: 'classification' | 'regression' | 'any';
  /** What it means, then what to do first: the alarm's description. */
  readonly runbook: string;
}

const RETRAIN_LINE = 'a real change calls for retraining (the retrain state machine starts on this alarm when retrain.onQualityAlarm is on, the default)';

/** Every threshold set in monitoring.quality.alarms, in the manifest's order; none when none is set. */
export function qualityAlarmSpecs(settings: QualitySettings): QualityAlarmSpec[] {
  const { alarms, windowHours, minLabels } = settings;
  const over = `the labelled predictions of the last ${windowHours} h (judged from ${minLabels} labels)`;
  const first = `First read the quality alert (it names the most confused classes and the number of labels): labels that are late, shifted or from another model are fixed at the feedback source; ${RETRAIN_LINE}.`;
  const specs: QualityAlarmSpec[] = [];
  const add = (threshold: keyof QualityAlarms, metric: QualityAlarmSuffix, metricName: string, comparison: '<' | '>', task: QualityAlarmSpec['task'], what: string) => {
    const value = alarms[threshold];
    if (value === undefined) return;
    specs.push({ threshold, metric, metricName, comparison, value, task, runbook: `${what} ${comparison === '<' ? 'below' : 'above'} ${value} on ${over}. ${first}` });
  };
  add('accuracyBelow', 'accuracy', QUALITY_METRICS.accuracy, '<', 'classification', 'The model is wrong more often: accuracy');
  add('macroF1Below', 'macro-f1', QUALITY_METRICS.macroF1, '<', 'classification', 'Some classes are missed: macro-F1');
  add('rocAucBelow', 'roc-auc', QUALITY_METRICS.rocAuc, '<', 'classification', 'The model ranks worse: ROC AUC');
  add('maeAbove', 'mae', QUALITY_METRICS.mae, '>', 'regression', 'The model is further off: mean absolute error');
  add('r2Below', 'r2', QUALITY_METRICS.r2, '<', 'regression', 'The model explains less: R²');
  add('dropFromBaselineAbove', 'drop-from-baseline', QUALITY_METRICS.dropFromBaseline, '>', 'any', "The model does worse than on its held-out split: the drop of accuracy (R² for regressors) from the model card's evaluation is");
  return specs;
}

/**
 * The period of the quality alarms: the schedule's interval (one run, one datapoint), from 1 minute to 1 day
 * (CloudWatch's longest alarm period); a cron schedule, 1 hour.
 */
export function qualityAlarmPeriod(schedule: string): Duration {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
  if (!rate) return Duration.hours(1);
  const unit = rate[2]!.startsWith('minute') ? 60 : rate[2]!.startsWith('hour') ? 3600 : 86_400;
  return Duration.seconds(Math.min(86_400, Math.max(60, Number(rate[1]) * unit)));
}

export interface QualityModelProps {
  readonly name: string;
  /** The version served: the alarms watch its figures. */
  readonly version: number | string;
  /** The live card's task (binary, multiclass, regression): which thresholds apply. */
  readonly task: Task;
  /**
   * The model's monitoring.quality as the manifest writes it.
   * @default - the defaults (24 h, 100 labels, no alarm)
   */
  readonly quality?: Partial<QualitySettings>;
  /**
   * Set for a model that retrains: after each run its labelled captured requests become training rows in
   * `trainingData` (a SageMaker model's captures are its endpoint's).
   * @default - no training rows
   */
  readonly trainingRows?: TrainingRowsSource;
}

/** The capture bucket holds predictions/ and ground-truth/; the image QUALITY_MONITOR_IMAGE_HANDLERS. */
export interface QualityMonitorProps extends MonitorFunctionProps {
  /**
   * Where the failed-runs alarm goes (the stage's alarm topic, whose formatter mails it).
   * @default - the alarm has no action
   */
  readonly failureAlarmTopic?: sns.ITopic;
  /** The models to judge (at least one). */
  readonly models: readonly QualityModelProps[];
  /**
   * An EventBridge schedule expression; also the alarms' period (qualityAlarmPeriod).
   * @default 'rate(1 hour)'
   */
  readonly schedule?: string;
  /**
   * The stage's dashboard, linked from every alert.
   * @default - no link
   */
  readonly dashboardUrl?: string;
  /**
   * The retrain data bucket (PipelineStorage.dataBucket) and its key, where the training rows of the models with
   * `trainingRows` go; needed when one has.
   * @default - none
   */
  readonly trainingData?: { readonly bucket: s3.IBucket; readonly key?: kms.IKey };
}

/** A model's quality alarms with the specs they were made from. */
export interface QualityModelAlarms {
  readonly model: string;
  readonly task: 'classification' | 'regression';
  readonly settings: QualitySettings;
  readonly alarms: readonly { readonly spec: QualityAlarmSpec; readonly alarmName: string; readonly alarm: cloudwatch.Alarm }[];
}

export class QualityMonitor extends Construct {
  public readonly function: lambda.DockerImageFunction;
  public readonly role: iam.Role;
  public readonly rule: events.Rule;
  public readonly logGroup: logs.LogGroup;
  /** Each model's quality alarms (none for a model without thresholds), by model name. */
  public readonly modelAlarms: ReadonlyMap<string, QualityModelAlarms>;
  /** The alarms' period (the schedule's interval). */
  public readonly period: Duration;
  /** A run that failed (the function's errors, after EventBridge's retries too): a dead monitor is an incident. */
  public readonly failureAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: QualityMonitorProps) {
    super(scope, id);
    if (props.models.length === 0) throw new Error('models must name at least one model to judge');
    const missing = Object.keys(QUALITY_MONITOR_IMAGE_HANDLERS).filter((h) => !props.image.handlers.includes(h));
    if (missing.length > 0) throw new Error(`image must hold the quality monitor's handler; it lacks ${missing.join(', ')} (add QUALITY_MONITOR_IMAGE_HANDLERS to its handlers)`);
    const seen = new Set<string>();
    const models = props.models.map((m) => {
      if (seen.has(m.name)) throw new Error(`models names '${m.name}' twice`);
      seen.add(m.name);
      const parsed = qualitySettingsSchema.safeParse(m.quality ?? {});
      if (!parsed.success) throw new Error(`models: ${m.name}'s quality settings: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
      const task = m.task === 'regression' ? ('regression' as const) : ('classification' as const);
      const specs = qualityAlarmSpecs(parsed.data);
      const wrong = specs.find((s) => s.task !== 'any' && s.task !== task);
      if (wrong) throw new Error(`models: ${m.name} is a ${m.task} model; monitoring.quality.alarms.${wrong.threshold} applies to ${wrong.task} models only, received ${wrong.value}`);
      return { ...m, version: String(m.version), task, settings: parsed.data, specs };
    });
    const retraining = models.filter((m) => m.trainingRows !== undefined);
    if (retraining.length > 0 && !props.trainingData) throw new Error(`trainingData is needed: ${retraining.map((m) => m.name).join(', ')} write training rows`);
    const schedule = props.schedule ?? 'rate(1 hour)';
    this.period = qualityAlarmPeriod(schedule);
    const name = qualityMonitorName(props.project, props.stage);
    const bucket = props.captureBucket;

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `${name}: reads predictions and labels, keeps its state, puts quality metrics, publishes quality alerts` });
    // ListBucket on the bucket, not narrowed by s3:prefix: S3 answers a read of an absent key (the state before the
    // first run, a file gone before it is read) NoSuchKey only with ListBucket, and a prefix condition is not met
    // by a GetObject request, which would turn them into AccessDenied. Listing shows key names only.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListPredictionsAndLabels', actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    const reads = [PREDICTIONS_PREFIX, GROUND_TRUTH_PREFIX].map((p) => bucket.arnForObjects(`${p}*`));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadPredictionsAndLabels', actions: ['s3:GetObject'], resources: reads }));
    const own = [`${MONITOR_STATE_PREFIX}${QUALITY_ALARM_KIND}-*`, `${SUMMARIES_PREFIX}${QUALITY_ALARM_KIND}/*`].map((p) => bucket.arnForObjects(p));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'KeepOwnState', actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], resources: own }));
    // Decrypt to read; a data key to write its state (the bucket encrypts with the same key).
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'UseCaptureKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.captureKey.keyArn] }));
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PutQualityMetrics',
        actions: ['cloudwatch:PutMetricData'],
        // PutMetricData has no resource ARN: the namespace condition is what scopes it.
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': QUALITY_METRICS_NAMESPACE } },
      }),
    );
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'PublishAlerts', actions: ['sns:Publish'], resources: [props.topic.topicArn] }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'UseTopicKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.topicKey.keyArn] }));
    const trainingRowsFindings: { finding: string; reason: string }[] = [];
    if (retraining.length > 0 && props.trainingData) {
      // The features of labelled predictions are in the captures, which only the models that retrain need read.
      const features = [
        ...(retraining.some((m) => m.trainingRows!.runtime === 'lambda') ? [bucket.arnForObjects(`${LAMBDA_CAPTURE_PREFIX}model=*`)] : []),
        ...(retraining.some((m) => m.trainingRows!.runtime === 'sagemaker') ? [bucket.arnForObjects(`${SAGEMAKER_CAPTURE_PREFIX}*`)] : []),
      ];
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadCapturedFeatures', actions: ['s3:GetObject'], resources: features }));
      const data = props.trainingData.bucket;
      const rows = data.arnForObjects(`${TRAINING_DATA_PREFIX}*/production-*`);
      // The rows are streamed out (a multipart upload for a big window): a failed one is aborted, not left behind.
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteTrainingRows', actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [rows] }));
      const dataKey = props.trainingData.key ?? data.encryptionKey;
      // A multipart upload to an SSE-KMS bucket needs Decrypt as well as a data key.
      if (dataKey) this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'UseTrainingDataKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [dataKey.keyArn] }));
      trainingRowsFindings.push(
        ...features.map((f) => ({ finding: nagResource(this, f), reason: `Reads the captured features (${f.includes(LAMBDA_CAPTURE_PREFIX) ? 'lambda/model=<model>/' : 'data-capture/<endpoint>/'}) of the models that retrain, to turn the labelled ones into training rows` })),
        { finding: nagResource(this, rows), reason: 'Writes only the labelled production rows, training-data/<model>/production-<from>-<to>-labelled.csv, of the retrain data bucket' },
      );
    }
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }));
    acknowledgeWildcards(this.role, [
      { finding: nagResource(this, reads[0]!), reason: 'Reads only the prediction records, under predictions/ of the capture bucket (partitioned by model, version and hour)' },
      { finding: nagResource(this, reads[1]!), reason: 'Reads only the labels, under ground-truth/ of the capture bucket (partitioned by model and hour)' },
      { finding: nagResource(this, own[0]!), reason: `Reads, writes and deletes only its own state, monitor/state/${QUALITY_ALARM_KIND}-<model>.json, in the capture bucket` },
      { finding: nagResource(this, own[1]!), reason: `Reads, writes and deletes only its own summaries, under monitor/summaries/${QUALITY_ALARM_KIND}/ of the capture bucket` },
      { finding: 'Resource::*', reason: `cloudwatch:PutMetricData supports no resource ARN; the statement is scoped by its condition to the namespace ${QUALITY_METRICS_NAMESPACE}` },
      ...trainingRowsFindings,
    ]);

    this.function = new lambda.DockerImageFunction(this, 'Function', {
      code: props.image.code('quality-monitor'),
      description: `${name}: joins labels to predictions and judges each model's accuracy (or error) per version`,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      memorySize: 1024,
      timeout: Duration.minutes(10),
      // One run at a time: two overlapping runs could both alert on the same transition.
      reservedConcurrentExecutions: 1,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        CAPTURE_BUCKET: bucket.bucketName,
        TOPIC_ARN: props.topic.topicArn,
        PROJECT: props.project,
        STAGE: props.stage,
        MODELS_DIR: IMAGE_MODELS_DIR,
        MONITORED_MODELS: JSON.stringify(models.map((m) => ({ name: m.name, version: m.version, quality: m.settings, ...(m.trainingRows ? { trainingRows: m.trainingRows } : {}) }))),
        ...(retraining.length > 0 && props.trainingData ? { TRAINING_DATA_BUCKET: props.trainingData.bucket.bucketName } : {}),
        ...(props.dashboardUrl ? { DASHBOARD_URL: props.dashboardUrl } : {}),
        POWERTOOLS_SERVICE_NAME: name,
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    // The schedule invokes the function with the scheduled event (its time ends the window).
    this.rule = new events.Rule(this, 'Schedule', {
      ruleName: name,
      description: `Runs ${name} (${schedule})`,
      schedule: events.Schedule.expression(schedule),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });

    // A failed run leaves the figures stale and no alarm can fire on them: that is itself alarm-worthy.
    this.failureAlarm = new cloudwatch.Alarm(this, 'FailedRunsAlarm', {
      alarmName: `${name}-failed-runs`,
      alarmDescription: `A run of ${name} failed (its log group says which model and why): quality figures and alarms are stale until a run succeeds. Read the log, fix the cause (a missing card, the bucket's permissions), and invoke the function once by hand.`,
      metric: this.function.metricErrors({ period: Duration.hours(1), statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.failureAlarmTopic) this.failureAlarm.addAlarmAction(new cloudwatchActions.SnsAction(props.failureAlarmTopic));

    // ---- the alarms: one per threshold, on the live version's figures ----
    const COMPARISON = { '<': cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, '>': cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD } as const;
    const byModel = new Map<string, QualityModelAlarms>();
    for (const model of models) {
      const alarms = model.specs.map((spec) => {
        const alarmName = qualityAlarmName(props.project, props.stage, model.name, spec.metric);
        const alarm = new cloudwatch.Alarm(this, `${pascalCase(model.name)}${pascalCase(spec.metric)}Alarm`, {
          alarmName,
          alarmDescription: spec.runbook,
          metric: new cloudwatch.Metric({
            namespace: QUALITY_METRICS_NAMESPACE,
            metricName: spec.metricName,
            dimensionsMap: { stage: props.stage, model: model.name, version: model.version },
            // The worst figure of the period (the monitor publishes one per run).
            statistic: spec.comparison === '<' ? 'Minimum' : 'Maximum',
            period: this.period,
          }),
          threshold: spec.value,
          comparisonOperator: COMPARISON[spec.comparison],
          evaluationPeriods: 1,
          datapointsToAlarm: 1,
          // Below minLabels the monitor publishes no figure: not enough labels is no breach.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        });
        return { spec, alarmName, alarm };
      });
      byModel.set(model.name, { model: model.name, task: model.task, settings: model.settings, alarms });
    }
    this.modelAlarms = byModel;
  }

  /** The quality alarms of one model (empty without thresholds). */
  public alarmsOf(model: string): cloudwatch.Alarm[] {
    return (this.modelAlarms.get(model)?.alarms ?? []).map((a) => a.alarm);
  }
}

