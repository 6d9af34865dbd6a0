// Retraining as a Step Functions state machine (`<project>-<stage>-retrain`, JSONPath only, so the local
// runner executes this very definition): gather the labelled rows under a prefix of the data bucket, train
// a candidate with the live model's family and hyper-parameters, evaluate candidate and live model on the
// same held-out rows, gate (candidate >= live - tolerance), register the candidate in a versioned,
// KMS-encrypted registry bucket with a parameter naming it, and notify through the pipelines' topic, on
// success, rejection and failure alike. Deploying a candidate stays a reviewed `cdk deploy`; the
// notification says how. Started by the manifest's schedule, by the model's drift alarm or one of its quality
// alarms going into ALARM, or by hand (start-execution with `{"model": "<name>"}`).
//
// The steps that need the live model (its card, its ONNX file, onnxruntime) run in the stage's pipeline
// image (lib/pipelines/pipeline-image.ts), one function per step serving every model; Register is a small zip
// function. Each function has a role of its own limited to the prefixes, bucket and parameters it uses.
// Over 400 lines: one state machine, its five step functions and their roles, which refer to each other.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RETRAIN_WORK_PREFIX, TRAINING_DATA_PREFIX } from '../../lambdas/core/retrain/contract';
import type { ModelCard } from '../../lambdas/core/models/model-card';
import type { LoadedModel } from '../../lambdas/core/manifest/load';
import type { RetrainSettings } from '../../lambdas/core/manifest/schema';
import { IMAGE_MODELS_DIR, type PipelineImage } from '../pipelines/pipeline-image';
import { bundleEntry, PROJECT_ROOT } from '../private/bundle';
import { functionRole, grantKey, grantObjectsRead, grantObjectsWrite } from '../private/grants';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { acknowledgeWildcards, invokeQualifiersReason, nagResource, XRAY_REASON } from '../private/nag';
import { driftAlarmName } from '../private/names';
import { stagingDir } from '../private/staging';
import { ZIP_FUNCTION_RUNTIME, acknowledgeRuntime } from '../private/runtime';
import { pascalCase } from '../stack/stack-names';

/** The retrain handlers that run in the pipeline image (they read the live model there): name -> entry. */
export const RETRAIN_IMAGE_HANDLERS: Readonly<Record<string, string>> = {
  'retrain-gather': join(PROJECT_ROOT, 'lambdas', 'retrain', 'gather.ts'),
  'retrain-train': join(PROJECT_ROOT, 'lambdas', 'retrain', 'train.ts'),
  'retrain-evaluate': join(PROJECT_ROOT, 'lambdas', 'retrain', 'evaluate.ts'),
};

/** The Register step's entry (a zip function). */
export const DEFAULT_REGISTER_ENTRY = join(PROJECT_ROOT, 'lambdas', 'retrain', 'register.ts');

/** The state names of the definition; the local runner's task handlers are keyed by them. */
export const RETRAIN_STATES = {
  readInput: 'Read input',
  whichModel: 'Which model',
  unknownModel: 'Unknown model',
  settings: (model: string) => `Settings ${model}`,
  gather: 'Gather data',
  train: 'Train candidate',
  evaluate: 'Evaluate',
  gate: 'Gate',
  register: 'Register',
  notifyRegistered: 'Notify registered',
  notifyRejected: 'Notify rejected',
  notifyFailure: 'Notify failure',
  registered: 'Registered',
  rejected: 'Rejected',
  failed: 'Failed',
  failedAt: (step: string) => `${step} failed`,
} as const;

/** `<project>-<stage>-retrain`. */
export function retrainStateMachineName(project: string, stage: string): string {
  return `${project}-${stage}-retrain`;
}

/** `/mlship/<project>/<stage>/<model>/candidate`: the latest registered candidate of a model. */
export function candidateParameterName(project: string, stage: string, model: string): string {
  return `/mlship/${project}/${stage}/${model}/candidate`;
}

/** `training-data/<model>/`: where a model's retraining data goes by default. */
export function defaultDataPrefix(model: string): string {
  return `${TRAINING_DATA_PREFIX}${model}/`;
}

/** Why a live model cannot be retrained with these settings; empty when it can. */
export function retrainCardProblems(card: ModelCard, settings: Pick<RetrainSettings, 'metric'>): string[] {
  const problems: string[] = [];
  if (card.family !== 'logreg' && card.family !== 'mlp') {
    return [
      `applies only to the built-in families (logreg, mlp), which the retraining pipeline trains again; ${card.name} v${card.version} was imported (family ${card.family}): retrain it where it was made and bring the new version in with \`mlship import\``,
    ];
  }
  if (!card.evaluation || card.evaluation.split.strategy !== 'stratified') {
    problems.push(`needs the live model's held-out split (model.json evaluation.split, stratified) to evaluate a candidate on the same rows; ${card.name} v${card.version} has ${card.evaluation ? `a '${card.evaluation.split.strategy}' split` : 'no evaluation'}`);
  }
  if (typeof card.training?.labelColumn !== 'string') problems.push(`needs the live model's label column (model.json training.labelColumn); ${card.name} v${card.version} records none`);
  if (settings.metric === 'rocAuc' && card.labels.length !== 2) {
    problems.push(`.metric rocAuc applies to binary models; ${card.name} has ${card.labels.length} classes: use accuracy or macroF1`);
  }
  return problems;
}

/** Retrain settings the pipeline cannot honour, with their manifest paths (the schema checks the rest). */
export function retrainProblems(models: readonly LoadedModel[]): string[] {
  return models
    .filter((m) => m.entry.retrain !== undefined)
    .flatMap((m) => retrainCardProblems(m.card, m.entry.retrain!).map((p) => `models[${m.index}].retrain${p.startsWith('.') ? p : ` ${p}`}`));
}

export interface RetrainModel {
  /** The model's name. */
  readonly name: string;
  /** The live model's card (the version the manifest names). */
  readonly card: ModelCard;
  /** The manifest's retrain block. */
  readonly retrain: RetrainSettings;
  /**
   * The model's quality alarms (lib/quality/quality-monitor.ts): with retrain.onQualityAlarm, any of them going
   * into ALARM starts a run.
   * @default - none
   */
  readonly qualityAlarmNames?: readonly string[];
}

export interface RetrainPipelineProps {
  /** Manifest project: part of every name. */
  readonly project: string;
  readonly stage: string;
  /** The models with a retrain block (at least one). */
  readonly models: readonly RetrainModel[];
  /** The stage's pipeline image, built with RETRAIN_IMAGE_HANDLERS and every model. */
  readonly image: PipelineImage;
  /** Training data (`training-data/<model>/`) and work files (`_work/retrain/`). */
  readonly dataBucket: s3.IBucket;
  /** Where results and failures are published. */
  readonly topic: sns.ITopic;
  /** The key encrypting the topic, which the state machine must be able to use to publish. */
  readonly topicKey?: kms.IKey;
  /**
   * TypeScript entry of the Register function, exporting `handler`.
   * @default - lambdas/retrain/register.ts
   */
  readonly registerEntry?: string;
  /**
   * Retention of the state machine's and the functions' logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Bucket receiving the registry bucket's S3 server access logs (under registry/).
   * @default - no server access logs
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
}

interface StepFunctionSpec {
  /** Gather, Train, Evaluate, Register: the function is `<step>Function`, with `<step>FunctionRole` and `<step>FunctionLogs`. */
  readonly step: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
}

export class RetrainPipeline extends Construct {
  /** Candidate versions: `<model>/<version>/model.onnx|model.json|background.json|evaluation.json`; versioned, KMS-encrypted, kept. */
  readonly registryBucket: s3.Bucket;
  readonly registryKey: kms.Key;
  /** The parameter naming each model's latest registered candidate, by model name. */
  readonly candidateParameters: ReadonlyMap<string, ssm.StringParameter>;
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  readonly gatherFunction: lambda.Function;
  readonly trainFunction: lambda.Function;
  readonly evaluateFunction: lambda.Function;
  readonly registerFunction: lambda.Function;
  /** Schedule, drift-alarm and quality-alarm rules, by model name. */
  readonly rules: ReadonlyMap<string, events.Rule[]>;
  /** Trigger events EventBridge could not deliver (an alarm goes off when one arrives); undefined without rules. */
  readonly triggerDeadLetters?: sqs.Queue;

  constructor(scope: Construct, id: string, props: RetrainPipelineProps) {
    super(scope, id);
    const { project, stage, models } = props;
    if (models.length === 0) throw new Error('models must name at least one model with a retrain block');
    const seen = new Set<string>();
    for (const model of models) {
      if (seen.has(model.name)) throw new Error(`models names '${model.name}' twice`);
      seen.add(model.name);
      if (model.card.name !== model.name) throw new Error(`models: the card of '${model.name}' is for model '${model.card.name}'`);
      const problems = retrainCardProblems(model.card, model.retrain);
      if (problems.length > 0) throw new Error(`models '${model.name}': retrain ${problems.join('; ')}`);
    }
    for (const handler of Object.keys(RETRAIN_IMAGE_HANDLERS)) {
      if (!props.image.handlers.includes(handler)) throw new Error(`image must include the handler '${handler}' (add RETRAIN_IMAGE_HANDLERS to its handlers)`);
    }
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const machineName = retrainStateMachineName(project, stage);
    const workObjects = `${RETRAIN_WORK_PREFIX}*`;

    this.registryKey = new kms.Key(this, 'RegistryKey', {
      description: `${project}-${stage}: encrypts the model registry (retrained candidates)`,
      enableKeyRotation: true,
      // The registry is kept, so its key must be too, or the kept objects could never be read.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.registryBucket = new s3.Bucket(this, 'Registry', {
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.registryKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.serverAccessLogsBucket ? { serverAccessLogsBucket: props.serverAccessLogsBucket, serverAccessLogsPrefix: 'registry/' } : {}),
    });

    const parameters = new Map<string, ssm.StringParameter>();
    for (const model of models) {
      parameters.set(
        model.name,
        new ssm.StringParameter(this, `${pascalCase(model.name)}Candidate`, {
          parameterName: candidateParameterName(project, stage, model.name),
          description: `The latest ${model.name} candidate registered by ${machineName} (JSON: version, uri, metrics, data rows, execution)`,
          // The Register function overwrites the value; CloudFormation only writes it again if this text changes.
          stringValue: JSON.stringify({ model: model.name, version: null, note: `no candidate registered yet; ${machineName} writes this parameter` }),
        }),
      );
    }
    this.candidateParameters = parameters;

    // Functions: one per step, every model.
    const architecture = props.image.platform.platform === 'linux/arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
    const makeFunction = (spec: StepFunctionSpec, code: { image: lambda.DockerImageCode } | { zip: lambda.Code }): { fn: lambda.Function; role: iam.Role } => {
      const id = `${spec.step}Function`;
      const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
      const role = functionRole(this, `${id}Role`, logGroup, `${machineName} ${spec.description}`);
      const common = {
        description: `${machineName}: ${spec.description}`,
        architecture,
        memorySize: spec.memorySize,
        timeout: spec.timeout,
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        environment: {
          ...('image' in code ? { MODELS_DIR: IMAGE_MODELS_DIR } : {}),
          POWERTOOLS_SERVICE_NAME: `${machineName}-${spec.step.toLowerCase()}`,
          LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        },
      };
      const fn =
        'image' in code
          ? new lambda.DockerImageFunction(this, id, { ...common, code: code.image })
          : new lambda.Function(this, id, { ...common, runtime: ZIP_FUNCTION_RUNTIME, handler: 'index.handler', code: code.zip });
      return { fn, role };
    };
    const gather = makeFunction(
      { step: 'Gather', description: 'gathers the labelled CSV rows under training-data/ into the execution work folder', memorySize: 2048, timeout: Duration.minutes(10) },
      { image: props.image.code('retrain-gather') },
    );
    const train = makeFunction(
      { step: 'Train', description: 'trains the candidate with the live model family and hyper-parameters', memorySize: 4096, timeout: Duration.minutes(15) },
      { image: props.image.code('retrain-train') },
    );
    const evaluate = makeFunction(
      { step: 'Evaluate', description: 'evaluates candidate and live model on the same held-out rows', memorySize: 2048, timeout: Duration.minutes(10) },
      { image: props.image.code('retrain-evaluate') },
    );
    const register = makeFunction(
      { step: 'Register', description: 'copies a candidate that passed the gate to the registry and names it in its parameter', memorySize: 512, timeout: Duration.minutes(2) },
      { zip: registerCode(props.registerEntry ?? DEFAULT_REGISTER_ENTRY) },
    );
    this.gatherFunction = gather.fn;
    this.trainFunction = train.fn;
    this.evaluateFunction = evaluate.fn;
    this.registerFunction = register.fn;
    acknowledgeRuntime(register.fn);

    // Least privilege: training data is read only under training-data/, work files only under _work/retrain/.
    grantObjectsRead(gather.role, props.dataBucket, `${TRAINING_DATA_PREFIX}*`);
    grantObjectsWrite(gather.role, props.dataBucket, workObjects);
    for (const role of [train.role, evaluate.role]) {
      grantObjectsRead(role, props.dataBucket, workObjects);
      grantObjectsWrite(role, props.dataBucket, workObjects);
    }
    // Train lists the registry for the next version number; it reads no object there.
    train.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.registryBucket.bucketArn] }));
    grantObjectsRead(register.role, props.dataBucket, workObjects);
    grantObjectsRead(register.role, this.registryBucket);
    grantObjectsWrite(register.role, this.registryBucket);
    for (const parameter of parameters.values()) parameter.grantWrite(register.role);
    const work = { finding: nagResource(this, props.dataBucket.arnForObjects(workObjects)), reason: "Only this pipeline's work files, under _work/retrain/ of the stage's data bucket" };
    acknowledgeWildcards(gather.role, [
      { finding: nagResource(this, props.dataBucket.arnForObjects(`${TRAINING_DATA_PREFIX}*`)), reason: 'Reads the labelled rows people put under training-data/ (one folder per model, any file name) and nothing else of the data bucket' },
      work,
      XRAY_REASON,
    ]);
    for (const role of [train.role, evaluate.role]) acknowledgeWildcards(role, [work, XRAY_REASON]);
    acknowledgeWildcards(register.role, [
      work,
      { finding: nagResource(this, this.registryBucket.arnForObjects('*')), reason: "The model registry bucket of this pipeline alone: candidates are written at <model>/<version>/, a version Register picks at run time" },
      XRAY_REASON,
    ]);

    // The definition.
    const S = RETRAIN_STATES;
    const failed = new sfn.Fail(this, S.failed, { stateName: S.failed, errorPath: '$.failure.Error', causePath: '$.failure.Cause' });
    const notifyFailure = new tasks.SnsPublish(this, S.notifyFailure, {
      stateName: S.notifyFailure,
      topic: props.topic,
      subject: `${project}-${stage}: retraining failed`,
      message: sfn.TaskInput.fromJsonPathAt(
        `States.Format('Retraining failed at the step: {}\nError: {}\nCause: {}\nInput: {}\nExecution: {} of ${machineName}\nNothing was registered and the live model is unchanged. The execution history in the Step Functions console shows every step with its input and output.', $.failure.step, $.failure.Error, $.failure.Cause, States.JsonToString($.input), $.execution)`,
      ),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notifyFailure.next(failed);
    const failureOf = (step: string): sfn.Pass => {
      const pass = new sfn.Pass(this, S.failedAt(step), { stateName: S.failedAt(step), result: sfn.Result.fromString(step), resultPath: '$.failure.step' });
      pass.next(notifyFailure);
      return pass;
    };
    const catchInto = <T extends tasks.LambdaInvoke | tasks.SnsPublish>(task: T, step: string): T => {
      task.addCatch(failureOf(step), { errors: ['States.ALL'], resultPath: '$.failure' });
      return task;
    };
    const invoke = (fn: lambda.IFunction, stateName: string, payload: Record<string, string>, resultPath: string, timeout: Duration): tasks.LambdaInvoke =>
      catchInto(
        new tasks.LambdaInvoke(this, stateName, {
          stateName,
          lambdaFunction: fn,
          payload: sfn.TaskInput.fromObject(payload),
          payloadResponseOnly: true,
          resultPath,
          taskTimeout: sfn.Timeout.duration(timeout),
        }),
        stateName,
      );

    const gatherStep = invoke(gather.fn, S.gather, { 'settings.$': '$.settings', 'input.$': '$.input', 'execution.$': '$.execution' }, '$.data', Duration.minutes(11));
    const trainStep = invoke(train.fn, S.train, { 'settings.$': '$.settings', 'execution.$': '$.execution', 'data.$': '$.data' }, '$.candidate', Duration.minutes(16));
    const evaluateStep = invoke(
      evaluate.fn,
      S.evaluate,
      { 'settings.$': '$.settings', 'execution.$': '$.execution', 'data.$': '$.data', 'candidate.$': '$.candidate' },
      '$.evaluation',
      Duration.minutes(11),
    );
    const registerStep = invoke(
      register.fn,
      S.register,
      { 'settings.$': '$.settings', 'execution.$': '$.execution', 'data.$': '$.data', 'candidate.$': '$.candidate', 'evaluation.$': '$.evaluation' },
      '$.registered',
      Duration.minutes(3),
    );
    const notifyRegistered = catchInto(
      new tasks.SnsPublish(this, S.notifyRegistered, {
        stateName: S.notifyRegistered,
        topic: props.topic,
        subject: sfn.JsonPath.format(`${project}-${stage}: {} candidate v{} registered`, sfn.JsonPath.stringAt('$.settings.model'), sfn.JsonPath.stringAt('$.candidate.version')),
        message: sfn.TaskInput.fromJsonPathAt('$.registered.message'),
        resultPath: sfn.JsonPath.DISCARD,
      }),
      S.notifyRegistered,
    );
    const notifyRejected = catchInto(
      new tasks.SnsPublish(this, S.notifyRejected, {
        stateName: S.notifyRejected,
        topic: props.topic,
        subject: sfn.JsonPath.format(`${project}-${stage}: {} candidate v{} not registered`, sfn.JsonPath.stringAt('$.settings.model'), sfn.JsonPath.stringAt('$.candidate.version')),
        message: sfn.TaskInput.fromJsonPathAt('$.evaluation.rejectedMessage'),
        resultPath: sfn.JsonPath.DISCARD,
      }),
      S.notifyRejected,
    );
    // A rejected candidate is a normal outcome: the execution succeeds, and says so.
    const gate = new sfn.Choice(this, S.gate, { stateName: S.gate, comment: 'The candidate passes when its held-out metric >= the live model\'s minus retrain.tolerance, on the same rows' })
      .when(sfn.Condition.numberGreaterThanEqualsJsonPath('$.evaluation.candidateScore', '$.evaluation.threshold'), registerStep.next(notifyRegistered).next(new sfn.Succeed(this, S.registered, { stateName: S.registered })))
      .otherwise(notifyRejected.next(new sfn.Succeed(this, S.rejected, { stateName: S.rejected })));
    const pipeline = gatherStep.next(trainStep).next(evaluateStep).next(gate);

    const names = models.map((m) => m.name);
    const unknownModel = new sfn.Pass(this, S.unknownModel, {
      stateName: S.unknownModel,
      parameters: {
        Error: 'UnknownModel',
        'Cause.$': `States.Format('the input must name a model this state machine retrains ({}); received {}', '${names.join(', ')}', States.JsonToString($.input))`,
        step: S.whichModel,
      },
      resultPath: '$.failure',
    }).next(notifyFailure);
    const whichModel = new sfn.Choice(this, S.whichModel, { stateName: S.whichModel });
    for (const model of models) {
      const settings = new sfn.Pass(this, S.settings(model.name), {
        stateName: S.settings(model.name),
        comment: `${model.name}: the live version, the gate and where things are (from the manifest and model.json at synth)`,
        parameters: {
          'input.$': '$.input',
          'execution.$': '$.execution',
          settings: {
            project,
            stage,
            model: model.name,
            liveVersion: model.card.version,
            metric: model.retrain.metric,
            tolerance: model.retrain.tolerance,
            minRows: model.retrain.minRows,
            dataBucket: props.dataBucket.bucketName,
            registryBucket: this.registryBucket.bucketName,
            candidateParameter: candidateParameterName(project, stage, model.name),
            defaultDataPrefix: defaultDataPrefix(model.name),
          },
        },
      });
      whichModel.when(
        sfn.Condition.and(sfn.Condition.isPresent('$.input.model'), sfn.Condition.isString('$.input.model'), sfn.Condition.stringEquals('$.input.model', model.name)),
        settings.next(pipeline),
      );
    }
    whichModel.otherwise(unknownModel);
    const readInput = new sfn.Pass(this, S.readInput, {
      stateName: S.readInput,
      comment: 'Keeps the execution input under $.input and the execution name (the work folder) under $.execution',
      parameters: { 'input.$': '$', 'execution.$': '$$.Execution.Name' },
    });

    this.logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      // Kept when the stack is deleted (LOG_GROUP_REMOVAL_POLICY): the stack id's UUID in the name lets the
      // stack be created again next to the kept group.
      logGroupName: `/aws/vendedlogs/states/${machineName}-${Fn.select(2, Fn.split('/', Stack.of(this).stackId))}`,
      retention,
      removalPolicy: LOG_GROUP_REMOVAL_POLICY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: machineName,
      comment: `Retrains ${names.join(', ')}: gather, train, evaluate against the live model, gate, register, notify`,
      definitionBody: sfn.DefinitionBody.fromChainable(readInput.next(whichModel)),
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      timeout: Duration.hours(1),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    // The topic is encrypted: publishing needs its key.
    if (props.topicKey) grantKey(this.stateMachine, props.topicKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
    acknowledgeWildcards(this.stateMachine.role, [XRAY_REASON, ...invokeQualifiersReason(this, [gather.fn, train.fn, evaluate.fn, register.fn].map((f) => f.functionArn))]);

    // Triggers: the manifest's schedule, and the model's drift alarm or quality alarms going into ALARM.
    const rules = new Map<string, events.Rule[]>();
    const onQuality = (m: RetrainModel) => m.retrain.onQualityAlarm && (m.qualityAlarmNames ?? []).length > 0;
    const triggered = models.filter((m) => m.retrain.schedule !== undefined || m.retrain.onDrift || onQuality(m));
    if (triggered.length > 0) {
      // A customer managed key: EventBridge can only write to a queue encrypted with a key whose policy lets it.
      const deadLetterKey = new kms.Key(this, 'TriggerDeadLettersKey', {
        description: `${machineName}: encrypts the retrain triggers' dead-letter queue`,
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      deadLetterKey.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
      this.triggerDeadLetters = new sqs.Queue(this, 'TriggerDeadLetters', {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: deadLetterKey,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(this.triggerDeadLetters).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: "This queue is itself the dead-letter queue of the retrain rules' targets (EventBridge deadLetterConfig, which cdk-nag does not follow); a dead-letter queue of a dead-letter queue would hold nothing",
      });
      new cloudwatch.Alarm(this, 'TriggerDeadLettersAlarm', {
        alarmDescription: `${machineName}: a schedule, drift or quality trigger could not start the state machine (the event is in the dead-letter queue; start it by hand)`,
        metric: this.triggerDeadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(new cwActions.SnsAction(props.topic));
    }
    for (const model of triggered) {
      const target = new targets.SfnStateMachine(this.stateMachine, {
        input: events.RuleTargetInput.fromObject({ model: model.name }),
        deadLetterQueue: this.triggerDeadLetters,
        retryAttempts: 3,
        maxEventAge: Duration.hours(2),
      });
      const list: events.Rule[] = [];
      if (model.retrain.schedule !== undefined) {
        list.push(
          new events.Rule(this, `${pascalCase(model.name)}Schedule`, {
            description: `Retrains ${model.name} on the manifest's schedule (${model.retrain.schedule})`,
            schedule: events.Schedule.expression(model.retrain.schedule),
            targets: [target],
          }),
        );
      }
      if (model.retrain.onDrift) {
        const alarmName = driftAlarmName(project, stage, model.name);
        list.push(
          new events.Rule(this, `${pascalCase(model.name)}OnDrift`, {
            description: `Retrains ${model.name} when its drift alarm ${alarmName} goes into ALARM`,
            eventPattern: {
              source: ['aws.cloudwatch'],
              detailType: ['CloudWatch Alarm State Change'],
              detail: { alarmName: [alarmName], state: { value: ['ALARM'] } },
            },
            targets: [target],
          }),
        );
      }
      if (onQuality(model)) {
        const names = [...model.qualityAlarmNames!];
        list.push(
          new events.Rule(this, `${pascalCase(model.name)}OnQualityAlarm`, {
            description: `Retrains ${model.name} when one of its quality alarms (${names.length}) goes into ALARM`,
            eventPattern: {
              source: ['aws.cloudwatch'],
              detailType: ['CloudWatch Alarm State Change'],
              detail: { alarmName: names, state: { value: ['ALARM'] } },
            },
            targets: [target],
          }),
        );
      }
      rules.set(model.name, list);
    }
    this.rules = rules;
  }
}

/** The Register function's code: its entry bundled by esbuild (SDK included) in a staged folder. */
function registerCode(entry: string): lambda.Code {
  const bundle = bundleEntry(entry, { propName: 'registerEntry', purpose: 'the Register step of the retrain state machine runs it' });
  const dir = stagingDir('mlship-retrain-register-');
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "commonjs" }\n');
  writeFileSync(join(dir, 'index.js'), bundle.js);
  writeFileSync(join(dir, 'index.js.map'), bundle.map);
  return lambda.Code.fromAsset(dir);
}
