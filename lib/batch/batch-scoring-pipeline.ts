// The batch scoring state machine of a stage, `<project>-<stage>-batch`. Execution input:
//   { "model": "breast-cancer", "input": "incoming/rows.csv" | "incoming/day-1/", "output": "scored/run-1/", "format"?: "csv" | "jsonl", "explainTopK"?: 3 }
// (keys in the stage's data bucket). Plan (cuts the input into numbered ranges of rowsPerBatch rows) -> per
// model: a Distributed Map over the ranges with a batch scorer function (runtime lambda), or a SageMaker Batch Transform job and
// a collect step (runtime sagemaker) -> Summarise (merges the parts, rows in = scored + rejected) -> an
// SNS notification. Every step is caught: a failure is notified with the step and its error, then fails
// the execution. The logic lives in lambdas/core/batch/pipeline; this construct only wires it.
// Over 400 lines: one state machine, its functions and their least-privilege roles, which refer to each other.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { WORK_ROOT } from '../../lambdas/core/batch/pipeline/types';
import type { BatchModels } from '../../lambdas/core/batch/pipeline/handlers';
import { modelNameSchema } from '../../lambdas/core/models/model-card';
import type { BatchSettings } from '../../lambdas/core/manifest/schema';
import type { PipelineImage } from '../pipelines/pipeline-image';
import { IMAGE_MODELS_DIR } from '../pipelines/pipeline-image';
import { bundleEntry, PROJECT_ROOT } from '../private/bundle';
import { functionRole, grantKey, grantObjectsRead, grantObjectsWrite } from '../private/grants';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { acknowledgeWildcards, invokeQualifiersReason, nagResource, XRAY_REASON, type WildcardReason } from '../private/nag';
import { boundedName } from '../private/names';
import { stagingDir } from '../private/staging';
import type { SagemakerModel } from '../sagemaker/sagemaker-model';
import { ZIP_FUNCTION_RUNTIME, acknowledgeRuntime } from '../private/runtime';
import { pascalCase } from '../stack/stack-names';

/** The pipeline image's handlers this construct runs; the stack adds them to its one PipelineImage. */
export const BATCH_IMAGE_HANDLERS: Readonly<Record<string, string>> = {
  'batch-plan': join(PROJECT_ROOT, 'lambdas', 'batch-plan', 'index.ts'),
  'batch-score': join(PROJECT_ROOT, 'lambdas', 'batch-score', 'index.ts'),
  'batch-collect': join(PROJECT_ROOT, 'lambdas', 'batch-collect', 'index.ts'),
};

/** The summary function's entry (a zip function: it needs no model). */
export const DEFAULT_SUMMARISE_ENTRY = join(PROJECT_ROOT, 'lambdas', 'batch-summarise', 'index.ts');

/** Errors of the Lambda service itself (throttling, a failed invoke), retried with backoff and jitter. */
export const LAMBDA_SERVICE_ERRORS = ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.SdkClientException', 'Lambda.AWSLambdaException'];

/** The state machine's name for a stack (`<project>-<stage>`). */
export function batchStateMachineName(stackName: string): string {
  return `${stackName}-batch`;
}

export interface BatchModelProps {
  /** The model's name (its state names: `Score <name>`, `Transform <name>`). */
  readonly name: string;
  readonly version: number;
  /** The manifest's batch settings of the model. */
  readonly batch: BatchSettings;
  /** runtime lambda: memory of the model's batch scorer, MB (the manifest's lambda.memoryMb). */
  readonly memoryMb?: number;
  /** runtime sagemaker: the model's endpoint construct; the transform job runs its SageMaker model. */
  readonly sagemaker?: SagemakerModel;
  /**
   * Permutation SHAP's model rows per explained row when the model's batch rows are explained (the manifest's explain.maxEvaluations).
   * @default - the Explainer's default
   */
  readonly explainMaxEvaluations?: number;
}

export interface BatchScoringProps {
  /** `<project>-<stage>`: the state machine is `<namePrefix>-batch`. */
  readonly namePrefix: string;
  /** Deployment stage, named in the notifications. */
  readonly stage: string;
  /** The models that can be scored: every model of the manifest. */
  readonly models: readonly BatchModelProps[];
  /** The stack's pipeline image; it must hold BATCH_IMAGE_HANDLERS and every model. */
  readonly image: PipelineImage;
  /**
   * The pipeline image's architecture.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /** Inputs, outputs and work files (`_work/`). */
  readonly dataBucket: s3.IBucket;
  /** Where success and failure are notified. */
  readonly topic: sns.ITopic;
  /**
   * The key the topic is encrypted with: the state machine may use it to publish.
   * @default - the topic is not encrypted with a customer managed key
   */
  readonly topicKey?: kms.IKey;
  /**
   * How long the functions' and the state machine's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * TypeScript entry of the summary function.
   * @default - lambdas/batch-summarise/index.ts
   */
  readonly summariseEntry?: string;
}

/**
 * The transform job task with its permissions narrowed to this model's jobs: CDK's own statements allow
 * every transform job of the account and ListTags on '*'. The rendered state is CDK's, unchanged.
 */
class ModelTransformJob extends tasks.SageMakerCreateTransformJob {
  constructor(scope: Construct, id: string, props: tasks.SageMakerCreateTransformJobProps, jobNamePrefix: string) {
    super(scope, id, props);
    const stack = Stack.of(scope);
    const jobs = stack.formatArn({ service: 'sagemaker', resource: 'transform-job', resourceName: `${jobNamePrefix.toLowerCase()}-*` });
    // Set before the state is bound to the state machine, which reads the statements then.
    (this as unknown as { taskPolicies: iam.PolicyStatement[] }).taskPolicies = [
      new iam.PolicyStatement({ actions: ['sagemaker:CreateTransformJob', 'sagemaker:DescribeTransformJob', 'sagemaker:StopTransformJob', 'sagemaker:AddTags', 'sagemaker:ListTags'], resources: [jobs] }),
      new iam.PolicyStatement({
        actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
        resources: [stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForSageMakerTransformJobsRule' })],
      }),
    ];
  }
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer between ${min} and ${max}, received ${value}`);
}

export class BatchScoring extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly stateMachineName: string;
  public readonly logGroup: logs.LogGroup;
  public readonly planFunction: lambda.DockerImageFunction;
  /** The batch scorer of each Lambda model, by model name. */
  public readonly scoreFunctions: ReadonlyMap<string, lambda.DockerImageFunction>;
  /** The SageMaker models with a transform branch (their jobs' ARNs are acknowledged by name prefix). */
  private readonly transformModels: string[] = [];
  /** Turns Batch Transform output into scored rows; only when a model runs on SageMaker. */
  public readonly collectFunction?: lambda.DockerImageFunction;
  public readonly summariseFunction: lambda.Function;
  private readonly dataBucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: BatchScoringProps) {
    super(scope, id);
    if (props.models.length === 0) throw new Error('models must name at least one model');
    const names = new Set<string>();
    for (const [i, model] of props.models.entries()) {
      if (!modelNameSchema.safeParse(model.name).success) throw new Error(`models[${i}].name must be 2-48 lower-case letters, digits or dashes, received '${model.name}'`);
      if (names.has(model.name)) throw new Error(`models[${i}].name '${model.name}' appears twice`);
      names.add(model.name);
      requireInteger(`models[${i}].batch.rowsPerBatch`, model.batch.rowsPerBatch, 1, 10_000);
      requireInteger(`models[${i}].batch.maxConcurrency`, model.batch.maxConcurrency, 1, 10_000);
      if (!(model.batch.toleratedFailurePercent >= 0 && model.batch.toleratedFailurePercent <= 100)) {
        throw new Error(`models[${i}].batch.toleratedFailurePercent must be between 0 and 100, received ${model.batch.toleratedFailurePercent}`);
      }
      requireInteger(`models[${i}].batch.explainTopK`, model.batch.explainTopK, 0, 10_000);
      // Never silently dropped: Batch Transform answers with the endpoint's predictions only.
      if (model.sagemaker && model.batch.explainTopK > 0) {
        throw new Error(`models[${i}].batch.explainTopK is ${model.batch.explainTopK}, but ${model.name} runs on SageMaker, whose batch scoring (a Batch Transform job) adds no explanations; set it to 0 or run the model on lambda`);
      }
      if (model.explainMaxEvaluations !== undefined) requireInteger(`models[${i}].explain.maxEvaluations`, model.explainMaxEvaluations, 1, Number.MAX_SAFE_INTEGER);
    }
    const missing = Object.keys(BATCH_IMAGE_HANDLERS).filter((h) => h !== 'batch-collect' && !props.image.handlers.includes(h));
    if (missing.length > 0) throw new Error(`image must hold the batch handlers; it lacks ${missing.join(', ')} (add BATCH_IMAGE_HANDLERS to its handlers)`);

    const { dataBucket, topic, stage } = props;
    this.dataBucket = dataBucket;
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const workObjects = `${WORK_ROOT}*`;
    this.stateMachineName = batchStateMachineName(props.namePrefix);
    const transformJobPrefix = (model: string) => boundedName(`${props.namePrefix}-${model}`, 50);

    const logGroup = (fnId: string) => new logs.LogGroup(this, `${fnId}Logs`, { retention, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
    // Each function has a role of its own that writes to its own log group; the grants below add the rest.
    const imageFunction = (fnId: string, handler: string, description: string, memoryMb: number, timeout: Duration, environment: Record<string, string>) => {
      const functionLogs = logGroup(fnId);
      return new lambda.DockerImageFunction(this, fnId, {
        code: props.image.code(handler),
        description,
        architecture,
        memorySize: memoryMb,
        timeout,
        tracing: lambda.Tracing.ACTIVE,
        logGroup: functionLogs,
        role: functionRole(this, `${fnId}Role`, functionLogs, `${props.namePrefix} batch scoring: ${handler}`),
        environment: { DATA_BUCKET: dataBucket.bucketName, MODELS_DIR: IMAGE_MODELS_DIR, NODE_OPTIONS: '--enable-source-maps', ...environment },
      });
    };

    const batchModels: BatchModels = Object.fromEntries(
      props.models.map((m) => [
        m.name,
        m.sagemaker
          ? { runtime: 'sagemaker' as const, transformJobPrefix: transformJobPrefix(m.name) }
          : {
              runtime: 'lambda' as const,
              rowsPerBatch: m.batch.rowsPerBatch,
              // The plan writes the run's explanation settings into plan.json, which each scorer reads
              // (an execution input's explainTopK overrides the manifest's, with the same budget).
              ...(m.batch.explainTopK > 0 ? { explainTopK: m.batch.explainTopK } : {}),
              ...(m.explainMaxEvaluations !== undefined ? { explainMaxEvaluations: m.explainMaxEvaluations } : {}),
            },
      ]),
    );

    // Plan: reads the user's files (anywhere in the bucket), writes the run's work files.
    this.planFunction = imageFunction('Plan', 'batch-plan', `${props.namePrefix} batch scoring: checks the input, cuts it into numbered ranges of rows`, 3008, Duration.minutes(15), {
      BATCH_MODELS: JSON.stringify(batchModels),
      POWERTOOLS_SERVICE_NAME: `${props.namePrefix}-batch-plan`,
    });
    grantObjectsRead(this.planFunction, dataBucket);
    grantObjectsWrite(this.planFunction, dataBucket, workObjects);

    const scorers = new Map<string, lambda.DockerImageFunction>();
    for (const model of props.models.filter((m) => !m.sagemaker)) {
      const fnId = `Score${pascalCase(model.name)}`;
      // Explaining a batch costs more than scoring it (permutation SHAP runs the model thousands of times a row): the longest timeout then.
      const timeout = model.batch.explainTopK > 0 ? Duration.minutes(15) : Duration.minutes(5);
      const fn = imageFunction(fnId, 'batch-score', `${props.namePrefix} batch scoring of ${model.name} v${model.version}: one batch of rows per call`, model.memoryMb ?? 2048, timeout, {
        MODEL_NAME: model.name,
        POWERTOOLS_SERVICE_NAME: `${props.namePrefix}-batch-score`,
      });
      // Reads its range of the input (wherever in the bucket the execution input names it); writes only work files.
      grantObjectsRead(fn, dataBucket);
      grantObjectsWrite(fn, dataBucket, workObjects);
      scorers.set(model.name, fn);
    }
    this.scoreFunctions = scorers;

    if (props.models.some((m) => m.sagemaker)) {
      if (!props.image.handlers.includes('batch-collect')) throw new Error('image must hold the batch-collect handler for SageMaker models');
      this.collectFunction = imageFunction('Collect', 'batch-collect', `${props.namePrefix} batch scoring: Batch Transform answers to scored rows and rejects`, 3008, Duration.minutes(15), {
        BATCH_MODELS: JSON.stringify(batchModels),
        POWERTOOLS_SERVICE_NAME: `${props.namePrefix}-batch-collect`,
      });
      grantObjectsRead(this.collectFunction, dataBucket, workObjects);
      grantObjectsWrite(this.collectFunction, dataBucket, workObjects);
    }

    const summariseLogs = logGroup('Summarise');
    this.summariseFunction = new lambda.Function(this, 'Summarise', {
      runtime: ZIP_FUNCTION_RUNTIME,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(stageSummariseCode(props.summariseEntry ?? DEFAULT_SUMMARISE_ENTRY)),
      description: `${props.namePrefix} batch scoring: merges the scored parts in row order, writes the outputs and the summary`,
      architecture,
      memorySize: 3008,
      timeout: Duration.minutes(15),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: summariseLogs,
      role: functionRole(this, 'SummariseRole', summariseLogs, `${props.namePrefix} batch scoring: batch-summarise`),
      environment: { DATA_BUCKET: dataBucket.bucketName, STAGE: stage, POWERTOOLS_SERVICE_NAME: `${props.namePrefix}-batch-summarise`, NODE_OPTIONS: '--enable-source-maps' },
    });
    // Reads the work files (and the input ranges of a failed batch, to reject their rows), writes the outputs wherever the execution input says.
    grantObjectsRead(this.summariseFunction, dataBucket);
    grantObjectsWrite(this.summariseFunction, dataBucket);
    acknowledgeRuntime(this.summariseFunction);

    // ---- the state machine ----
    const notifyFailure = new tasks.SnsPublish(this, 'NotifyFailure', {
      stateName: 'Notify failure',
      topic,
      subject: sfn.JsonPath.format(`[batch] failed at {} (${stage})`, sfn.JsonPath.stringAt('$.step')),
      message: sfn.TaskInput.fromJsonPathAt('$.message'),
      resultPath: sfn.JsonPath.DISCARD,
    });
    const failed = new sfn.Fail(this, 'Failed', { stateName: 'Failed', errorPath: '$.error.Error', causePath: '$.error.Cause' });
    notifyFailure.addCatch(failed, { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD });
    notifyFailure.next(failed);
    /** The failure path of one step: what failed, then the notification. */
    const failureOf = (step: string) =>
      new sfn.Pass(this, `FailedAt${pascalCase(step)}`, {
        stateName: `Failed at ${step}`,
        parameters: {
          step,
          'error.$': '$.error',
          message: sfn.JsonPath.format(
            `Batch scoring (${stage}) failed at step ${escapeFormat(step)}.\n\nError: {}\nCause: {}\n\nExecution input: {}\nExecution: {}`,
            sfn.JsonPath.stringAt('$.error.Error'),
            sfn.JsonPath.stringAt('$.error.Cause'),
            sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$$.Execution.Input')),
            sfn.JsonPath.stringAt('$$.Execution.Id'),
          ),
        },
      }).next(notifyFailure);
    const catchTo = <T extends sfn.TaskStateBase | sfn.DistributedMap>(state: T, step: string): T => {
      state.addCatch(failureOf(step), { errors: ['States.ALL'], resultPath: '$.error' });
      return state;
    };

    const plan = catchTo(
      new tasks.LambdaInvoke(this, 'PlanTask', {
        stateName: 'Plan',
        lambdaFunction: this.planFunction,
        payload: sfn.TaskInput.fromObject({ 'input.$': '$', 'executionName.$': '$$.Execution.Name' }),
        payloadResponseOnly: true,
        resultPath: '$.plan',
      }),
      'Plan',
    );

    const summarise = catchTo(
      new tasks.LambdaInvoke(this, 'SummariseTask', {
        stateName: 'Summarise',
        lambdaFunction: this.summariseFunction,
        payload: sfn.TaskInput.fromObject({ 'plan.$': '$.plan', 'scoring.$': '$.scoring' }),
        payloadResponseOnly: true,
        resultPath: '$.summary',
      }),
      'Summarise',
    );
    const notifySuccess = catchTo(
      new tasks.SnsPublish(this, 'NotifySuccess', {
        stateName: 'Notify success',
        topic,
        subject: sfn.JsonPath.stringAt('$.summary.subject'),
        message: sfn.TaskInput.fromJsonPathAt('$.summary.message'),
        resultPath: sfn.JsonPath.DISCARD,
      }),
      'Notify success',
    );
    summarise.next(notifySuccess).next(new sfn.Succeed(this, 'Done', { stateName: 'Done', outputPath: '$.summary.summary' }));

    const choice = new sfn.Choice(this, 'WhichModel', { stateName: 'Which model' });
    for (const model of props.models) {
      choice.when(sfn.Condition.stringEquals('$.plan.model', model.name), model.sagemaker ? this.transformBranch(model, model.sagemaker, transformJobPrefix(model.name), catchTo, summarise) : this.mapBranch(model, scorers.get(model.name)!, catchTo, summarise));
    }
    choice.otherwise(
      new sfn.Pass(this, 'NoBranch', {
        stateName: 'No branch for the model',
        parameters: { error: { Error: 'UnknownModel', Cause: sfn.JsonPath.format('the state machine has no branch for model {}', sfn.JsonPath.stringAt('$.plan.model')) } },
        resultPath: '$.failure',
      })
        .next(new sfn.Pass(this, 'UnknownModelError', { stateName: 'Unknown model', inputPath: '$.failure.error', resultPath: '$.error' }))
        .next(failureOf('Which model')),
    );

    this.logGroup = new logs.LogGroup(this, 'StateMachineLogs', { retention, removalPolicy: LOG_GROUP_REMOVAL_POLICY });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(plan.next(choice)),
      tracingEnabled: true,
      // ERROR with execution data: failures are logged with their input; row data of successful batches is not.
      logs: { destination: this.logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: true },
      timeout: Duration.hours(24),
    });
    // Publishing to an encrypted topic needs its key.
    if (props.topicKey) grantKey(this.stateMachine, props.topicKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
    this.acknowledgeWildcards(workObjects, transformJobPrefix);
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason: 'Logs at ERROR with execution data: a failed step is logged with its input. ALL would copy every batch of users\' rows and their scores into CloudWatch Logs; successful runs are recorded by their summary and outputs in the data bucket',
    });
  }

  /** The wildcards of this pipeline's policies, each explained on the one policy that has it. */
  private acknowledgeWildcards(workObjects: string, transformJobPrefix: (model: string) => string): void {
    const anyObject: WildcardReason = {
      finding: nagResource(this, this.dataBucket.arnForObjects('*')),
      reason: "Objects of the stage's data bucket only: batch inputs and outputs are wherever the execution input names them in this bucket (the caller chooses the keys), so no narrower prefix exists",
    };
    const work: WildcardReason = { finding: nagResource(this, this.dataBucket.arnForObjects(workObjects)), reason: "Only the pipeline's own work files, under _work/ of the stage's data bucket" };
    acknowledgeWildcards(this.planFunction.role!, [anyObject, work, XRAY_REASON]);
    for (const fn of this.scoreFunctions.values()) acknowledgeWildcards(fn.role!, [anyObject, work, XRAY_REASON]);
    if (this.collectFunction) acknowledgeWildcards(this.collectFunction.role!, [work, XRAY_REASON]);
    acknowledgeWildcards(this.summariseFunction.role!, [anyObject, XRAY_REASON]);
    const functions = [this.planFunction, ...this.scoreFunctions.values(), ...(this.collectFunction ? [this.collectFunction] : []), this.summariseFunction];
    acknowledgeWildcards(this.stateMachine.role, [
      XRAY_REASON,
      ...invokeQualifiersReason(this, functions.map((f) => f.functionArn)),
      {
        finding: nagResource(this, `arn:${Aws.PARTITION}:s3:::${this.dataBucket.bucketName}/*`),
        reason: "The Distributed Map reads its items from and writes its results to the stage's data bucket only, at keys the plan chooses",
      },
      ...this.transformModels.map((model) => ({
        finding: `Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:transform-job/${transformJobPrefix(model).toLowerCase()}-*`,
        reason: `Only ${model}'s Batch Transform jobs: each is named ${transformJobPrefix(model).toLowerCase()}-<execution>`,
      })),
    ]);
    const mapPolicy = this.stateMachine.node.tryFindChild('DistributedMapPolicy');
    if (mapPolicy) {
      acknowledgeWildcards(mapPolicy, [
        { finding: /^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:\{"Fn::Select":\[6,\{"Fn::Split":\[":",\{"Ref":"[A-Za-z0-9]+"\}\]\}\]\}(\/\*)?:\*$/, reason: "The child executions of this state machine's own Distributed Map (executions of this state machine only, by name)" },
      ]);
    }
  }

  /**
   * runtime lambda: a Distributed Map over the plan's ranges.jsonl. Each item is already one batch (a range
   * of the manifest's rowsPerBatch whole rows of an input file, which the scorer reads itself), so the
   * ItemBatcher hands the scorer one item per call, with the run's BatchInput.
   */
  private mapBranch(model: BatchModelProps, scorer: lambda.IFunction, catchTo: <T extends sfn.TaskStateBase | sfn.DistributedMap>(state: T, step: string) => T, next: sfn.IChainable): sfn.IChainable {
    const id = pascalCase(model.name);
    const scoreBatch = new tasks.LambdaInvoke(this, `ScoreBatch${id}`, {
      stateName: `Score batch ${model.name}`,
      lambdaFunction: scorer,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
    });
    scoreBatch.addRetry({
      errors: LAMBDA_SERVICE_ERRORS,
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
      maxDelay: Duration.seconds(60),
      jitterStrategy: sfn.JitterType.FULL,
    });
    const map = new sfn.DistributedMap(this, `ScoreMap${id}`, {
      stateName: `Score ${model.name}`,
      itemReader: new sfn.S3JsonLItemReader({ bucket: this.dataBucket, key: sfn.JsonPath.stringAt('$.plan.itemsKey') }),
      itemSelector: {
        'file.$': '$$.Map.Item.Value.file',
        'start.$': '$$.Map.Item.Value.start',
        'end.$': '$$.Map.Item.Value.end',
        'firstRow.$': '$$.Map.Item.Value.firstRow',
        'rows.$': '$$.Map.Item.Value.rows',
      },
      itemBatcher: new sfn.ItemBatcher({
        maxItemsPerBatch: 1,
        batchInput: { model: model.name, 'workPrefix.$': '$.plan.workPrefix', 'format.$': '$.plan.format' },
      }),
      maxConcurrency: model.batch.maxConcurrency,
      toleratedFailurePercentage: model.batch.toleratedFailurePercent,
      resultWriterV2: new sfn.ResultWriterV2({
        bucket: this.dataBucket,
        prefix: sfn.JsonPath.stringAt('$.plan.resultsPrefix'),
        writerConfig: new sfn.WriterConfig({ outputType: sfn.OutputType.JSONL, transformation: sfn.Transformation.NONE }),
      }),
      resultPath: '$.scoring',
    });
    map.itemProcessor(scoreBatch);
    return catchTo(map, `Score ${model.name}`).next(next);
  }

  /** runtime sagemaker: a Batch Transform job over the plan's requests, then the collect step. */
  private transformBranch(
    model: BatchModelProps,
    endpoint: SagemakerModel,
    jobNamePrefix: string,
    catchTo: <T extends sfn.TaskStateBase | sfn.DistributedMap>(state: T, step: string) => T,
    next: sfn.IChainable,
  ): sfn.IChainable {
    const id = pascalCase(model.name);
    const instanceType = model.batch.transformInstanceType ?? endpoint.settings.instanceType;
    const transform = catchTo(
      new ModelTransformJob(
        this,
        `Transform${id}`,
        {
          stateName: `Transform ${model.name}`,
          integrationPattern: sfn.IntegrationPattern.RUN_JOB,
          transformJobName: sfn.JsonPath.stringAt('$.plan.transform.jobName'),
          modelName: endpoint.model.attrModelName,
          // The model's own execution role reads the requests and writes the answers.
          role: endpoint.executionRole,
          batchStrategy: tasks.BatchStrategy.SINGLE_RECORD,
          transformInput: {
            transformDataSource: { s3DataSource: { s3Uri: sfn.JsonPath.stringAt('$.plan.transform.inputUri'), s3DataType: tasks.S3DataType.S3_PREFIX } },
            contentType: 'application/json',
            splitType: tasks.SplitType.LINE,
          },
          transformOutput: { s3OutputPath: sfn.JsonPath.stringAt('$.plan.transform.outputUri'), assembleWith: tasks.AssembleWith.LINE, accept: 'application/json' },
          transformResources: { instanceCount: model.batch.transformInstanceCount, instanceType: new ec2.InstanceType(instanceType.replace(/^ml\./, '')) },
          resultPath: sfn.JsonPath.DISCARD,
        },
        jobNamePrefix,
      ),
      `Transform ${model.name}`,
    );
    grantObjectsRead(endpoint.executionRole, this.dataBucket, `${WORK_ROOT}*`);
    grantObjectsWrite(endpoint.executionRole, this.dataBucket, `${WORK_ROOT}*`);
    this.transformModels.push(model.name);
    acknowledgeWildcards(endpoint.executionRole, [
      { finding: nagResource(this, this.dataBucket.arnForObjects(`${WORK_ROOT}*`)), reason: "Batch Transform reads its input and writes its output only under the pipeline's work prefix _work/ of the stage's data bucket" },
    ]);
    const collect = catchTo(
      new tasks.LambdaInvoke(this, `Collect${id}`, {
        stateName: `Collect ${model.name}`,
        lambdaFunction: this.collectFunction!,
        payload: sfn.TaskInput.fromObject({ model: model.name, 'plan.$': '$.plan' }),
        payloadResponseOnly: true,
        resultPath: '$.scoring',
      }),
      `Collect ${model.name}`,
    );
    collect.next(next);
    // No row parsed: no job to run (SageMaker refuses an empty input), the collect step still accounts for the rows.
    return new sfn.Choice(this, `AnyRows${id}`, { stateName: `Any rows for ${model.name}` })
      .when(sfn.Condition.numberGreaterThan('$.plan.transform.rows', 0), transform.next(collect))
      .otherwise(collect);
  }
}

/** Format strings of States.Format treat { } ' \ specially. */
function escapeFormat(text: string): string {
  return text.replace(/[{}'\\]/g, (c) => `\\${c}`);
}

/** The summary function's code: the handler bundled by esbuild (SDK included) in a staged folder. */
function stageSummariseCode(entry: string): string {
  const bundle = bundleEntry(entry, { propName: 'summariseEntry', purpose: 'the batch summary function must exist to build its code' });
  const dir = stagingDir('mlship-batch-summarise-');
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "commonjs" }\n');
  writeFileSync(join(dir, 'index.js'), bundle.js);
  writeFileSync(join(dir, 'index.js.map'), bundle.map);
  return dir;
}
