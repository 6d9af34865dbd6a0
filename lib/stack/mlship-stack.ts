// The stack for one manifest and stage: per Lambda model a function and its release (versions, the `live`
// alias, CodeDeploy, alarms, the pre-traffic hook); per SageMaker model a Triton endpoint with its
// blue/green release, autoscaling, data capture and proxy function; and the API in front of the aliases
// and proxies. It only wires constructs together; everything it needs comes from the loaded, validated
// manifest.
// Over 400 lines: the one place that composes every capability's construct; split, the wiring would be read across files.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { compositeAlarmName, modelAlarmSpecs } from '../../lambdas/core/monitoring/alarms/alarm-catalog';
import { TRITON_MAX_BATCH_SIZE } from '../../lambdas/core/sagemaker/triton-config';
import { explainLimitsOf } from '../../lambdas/core/manifest/schema';
import { explainMaxEvaluationsOf } from '../../lambdas/core/batch/explain-settings';
import { AlertFormatter } from '../monitoring/alert-formatter';
import { ManifestError, type LoadedManifest, type LoadedModel } from '../../lambdas/core/manifest/load';
import { BATCH_IMAGE_HANDLERS, BatchScoring } from '../batch/batch-scoring-pipeline';
import { DataCapture } from '../monitoring/data-capture';
import { DRIFT_MONITOR_IMAGE_HANDLERS, DriftMonitor, type MonitorFunctionProps } from '../monitoring/drift-monitor';
import { capturePercentOf } from '../../lambdas/core/manifest/schema';
import { AccessLogsBucket } from '../security/access-logs-bucket';
import { ApiWaf } from '../security/api-waf';
import { InferenceApi } from '../serving/inference-api';
import { METRICS_NAMESPACE, metricsServiceName, ModelFunction } from '../serving/model-function';
import { ModelAlarms } from '../monitoring/model-alarms';
import { ModelRelease, releaseProblems } from '../release/model-release';
import { PipelineImage } from '../pipelines/pipeline-image';
import { QUALITY_MONITOR_IMAGE_HANDLERS, QualityMonitor } from '../quality/quality-monitor';
import { FeedbackApi } from '../quality/feedback-api';
import { feedbackTargetOf } from '../../lambdas/core/quality/feedback/validate';
import { PipelineStorage } from '../pipelines/pipeline-storage';
import { RETRAIN_IMAGE_HANDLERS, RetrainPipeline, retrainProblems } from '../retrain/retrain-pipeline';
import { MonitoringDashboard } from '../monitoring/monitoring-dashboard';
import { SagemakerModel, VARIANT_NAME } from '../sagemaker/sagemaker-model';
import { pascalCase, stackName } from './stack-names';

export interface MlshipStackProps extends Omit<StackProps, 'stackName'> {
  /** The manifest and its models, as `loadManifest` returns them (already validated). */
  readonly loaded: LoadedManifest;
  /**
   * Deployment stage; overrides the manifest's `stage`.
   * @default - the manifest's stage
   */
  readonly stage?: string;
  /**
   * TypeScript entry of the inference handler bundled into every model image.
   * @default - lambdas/inference/index.ts
   */
  readonly handlerEntry?: string;
  /**
   * TypeScript entry of the pre-traffic hook bundled into every model's hook function.
   * @default - lambdas/pre-traffic-hook/index.ts
   */
  readonly hookEntry?: string;
  /**
   * TypeScript entry of the SageMaker proxy bundled into every SageMaker model's proxy function.
   * @default - lambdas/sagemaker-proxy/index.ts
   */
  readonly proxyEntry?: string;
}

export { pascalCase, stackName };

const STAGE_PATTERN = /^[a-z][a-z0-9]{0,11}$/;

/** SageMaker settings Triton cannot honour, with their manifest paths (the schema checks the rest). */
function impossibleSagemakerModels(models: readonly LoadedModel[]): string[] {
  return models
    .filter((m) => m.entry.runtime === 'sagemaker' && m.entry.maxBatchSize > TRITON_MAX_BATCH_SIZE)
    .map(
      (m) =>
        `models[${m.index}].maxBatchSize must be at most ${TRITON_MAX_BATCH_SIZE} for runtime sagemaker ` +
        `(Triton's max_batch_size: each request reaches Triton as one batch), received ${m.entry.maxBatchSize}`,
    );
}

/** Names that differ only where pascalCase drops a dash ('model-1', 'model1') would share construct ids. */
function idCollisions(models: readonly LoadedModel[]): string[] {
  const byId = new Map<string, LoadedModel>();
  const problems: string[] = [];
  for (const model of models) {
    const id = pascalCase(model.entry.name);
    const other = byId.get(id);
    if (other) {
      problems.push(`models[${model.index}].name '${model.entry.name}' and models[${other.index}].name '${other.entry.name}' both become the CloudFormation id '${id}'; rename one`);
    } else {
      byId.set(id, model);
    }
  }
  return problems;
}

/** API key names that differ only where pascalCase drops a character would share the output ApiKeyId<Name>. */
function apiKeyIdCollisions(keys: readonly { readonly name: string }[]): string[] {
  const byId = new Map<string, number>();
  const problems: string[] = [];
  keys.forEach((key, index) => {
    const id = `ApiKeyId${pascalCase(key.name)}`;
    const other = byId.get(id);
    if (other !== undefined) problems.push(`api.apiKeys[${index}].name '${key.name}' and api.apiKeys[${other}].name '${keys[other]!.name}' both become the output ${id}; rename one`);
    else byId.set(id, index);
  });
  return problems;
}

/** Release settings CodeDeploy or Lambda would refuse, or that could never work, with their manifest paths. */
function impossibleReleases(models: readonly LoadedModel[]): string[] {
  return models
    .filter((m) => m.entry.runtime === 'lambda')
    .flatMap((m) =>
      releaseProblems(m.entry.release, `models[${m.index}].release`, {
        timeoutSeconds: m.entry.lambda.timeoutSeconds,
        reservedConcurrency: m.entry.lambda.reservedConcurrency,
      }),
    );
}

export class MlshipStack extends Stack {
  public readonly api: InferenceApi;
  /** The bucket of every other bucket's S3 server access logs. */
  public readonly accessLogs: AccessLogsBucket;
  /** The web ACL in front of the API stage; undefined unless the manifest's api.waf.enabled. */
  public readonly apiWaf?: ApiWaf;
  /** The function of each Lambda model, by model name. */
  public readonly modelFunctions: ReadonlyMap<string, ModelFunction>;
  /** The release (version, `live` alias, deployment group, alarms, hook) of each Lambda model, by model name. */
  public readonly modelReleases: ReadonlyMap<string, ModelRelease>;
  /** The endpoint (model, config, blue/green release, autoscaling, capture, proxy) of each SageMaker model, by model name. */
  public readonly sagemakerModels: ReadonlyMap<string, SagemakerModel>;
  /** The pipelines' data bucket and notification topic. */
  public readonly pipelineStorage: PipelineStorage;
  /** The stage's one pipeline image (every model, the pipeline and monitor handlers). */
  public readonly pipelineImage: PipelineImage;
  /** The batch scoring state machine (`<project>-<stage>-batch`) and its functions. */
  public readonly batchScoring: BatchScoring;
  /** The retrain state machine, its registry and triggers; undefined when no model has a retrain block. */
  public readonly retrainPipeline?: RetrainPipeline;
  /** Every model's monitoring alarms and composite (serving health) alarm, by model name. */
  public readonly modelAlarms: ReadonlyMap<string, ModelAlarms>;
  /** The alarm topic the composite alarms notify, and the formatter that turns them into readable alerts. */
  public readonly alertFormatter: AlertFormatter;
  /** The stage's dashboard `<project>-<stage>`. */
  public readonly dashboard: MonitoringDashboard;
  /** The capture bucket (Lambda captures through Firehose, SageMaker endpoint captures) and the capture path. */
  public readonly dataCapture: DataCapture;
  /** The scheduled drift monitor over the captures. */
  public readonly driftMonitor: DriftMonitor;
  /** The scheduled quality monitor (labels joined to predictions) and each model's quality alarms. */
  public readonly qualityMonitor: QualityMonitor;
  /** The feedback function behind every model's feedback route, and its ledger of labels seen. */
  public readonly feedback: FeedbackApi;
  public readonly stage: string;

  constructor(scope: Construct, id: string | undefined, props: MlshipStackProps) {
    const { loaded, stage: stageOverride, handlerEntry, hookEntry, proxyEntry, ...stackProps } = props;
    const { manifest } = loaded;
    const stage = stageOverride ?? manifest.stage;
    if (!STAGE_PATTERN.test(stage)) {
      throw new ManifestError(loaded.file, [`stage must be up to 12 lower-case letters or digits, starting with a letter, received '${stage}'`]);
    }
    const problems = [...apiKeyIdCollisions(manifest.api.apiKeys), ...idCollisions(loaded.models), ...impossibleReleases(loaded.models), ...impossibleSagemakerModels(loaded.models), ...retrainProblems(loaded.models)];
    if (problems.length > 0) throw new ManifestError(loaded.file, problems);

    const name = stackName(manifest.project, stage);
    super(scope, id ?? name, {
      ...stackProps,
      stackName: name,
      description: `mlship ${manifest.project} (${stage}): ${loaded.models.map((m) => `${m.entry.name} v${m.entry.version}`).join(', ')}`,
      // With @aws-cdk/core:explicitStackTags, stack tags are set here; CloudFormation copies them to resources.
      tags: { ...stackProps.tags, project: manifest.project, stage },
    });
    this.stage = stage;
    // S3 server access logs are delivered under the log bucket's policy, never the LogDeliveryWrite ACL (every
    // bucket enforces bucket-owner object ownership, which disables ACLs): pinned here as well as in cdk.json,
    // so an app run without the project's context still synthesizes.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);

    const functions = new Map<string, ModelFunction>();
    const releases = new Map<string, ModelRelease>();
    const endpoints = new Map<string, SagemakerModel>();
    // One capture bucket for every model: Lambda models through their logs and Firehose, SageMaker endpoints directly.
    // Every bucket's S3 server access logs go to one bucket of the stage.
    this.accessLogs = new AccessLogsBucket(this, 'AccessLogs');
    this.dataCapture = new DataCapture(this, 'Capture', { namePrefix: name, retentionDays: manifest.monitoring.captureRetentionDays, serverAccessLogsBucket: this.accessLogs.bucket });
    for (const model of loaded.models) {
      const { entry } = model;
      const id = pascalCase(entry.name);
      // EMF metrics carry the project and stage, so two stages in one account keep their figures apart.
      const serviceName = metricsServiceName(entry.name, name);
      if (entry.sagemaker) {
        // SageMaker's blue/green deployment is this model's release: no Lambda versions, no CodeDeploy.
        const { sagemaker } = entry;
        endpoints.set(
          entry.name,
          new SagemakerModel(this, `${id}Sagemaker`, {
            modelName: entry.name,
            modelVersion: entry.version,
            modelDir: model.dir,
            instanceType: sagemaker.instanceType,
            instanceCount: sagemaker.instanceCount,
            autoscaling: sagemaker.autoscaling,
            dataCapturePercent: sagemaker.dataCapturePercent,
            captureBucket: this.dataCapture.bucket,
            canary: sagemaker.canary,
            alarms: sagemaker.alarms,
            tritonVersion: sagemaker.tritonVersion,
            maxBatchSize: entry.maxBatchSize,
            maxBodyBytes: manifest.api.maxBodyBytes,
            explain: explainLimitsOf(entry),
            proxyEntry,
            metricsServiceName: serviceName,
          }),
        );
        // The proxy records every prediction on its log (the endpoint captures the inputs itself).
        this.dataCapture.addLogGroup(entry.name, endpoints.get(entry.name)!.proxyLogGroup);
        continue;
      }
      const fn = new ModelFunction(this, `${id}Model`, {
        modelName: entry.name,
        modelVersion: entry.version,
        modelDir: model.dir,
        memoryMb: entry.lambda.memoryMb,
        timeoutSeconds: entry.lambda.timeoutSeconds,
        architecture: entry.lambda.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
        reservedConcurrency: entry.lambda.reservedConcurrency,
        maxBodyBytes: manifest.api.maxBodyBytes,
        maxBatchSize: entry.maxBatchSize,
        explain: explainLimitsOf(entry),
        handlerEntry,
        metricsServiceName: serviceName,
      });
      functions.set(entry.name, fn);
      // CAPTURE_PERCENT on the function, and its log group's capture lines to the capture bucket.
      this.dataCapture.addFunction({ modelName: entry.name, function: fn.function, logGroup: fn.logGroup, capturePercent: capturePercentOf(entry) });
      releases.set(
        entry.name,
        new ModelRelease(this, `${id}Release`, {
          function: fn.function,
          modelName: entry.name,
          modelVersion: entry.version,
          modelDir: model.dir,
          strategy: entry.release.strategy,
          percent: entry.release.percent,
          intervalMinutes: entry.release.intervalMinutes,
          alarms: entry.release.alarms,
          provisionedConcurrency: entry.release.provisionedConcurrency,
          hookEntry,
          metricsServiceName: serviceName,
        }),
      );
    }
    this.modelFunctions = functions;
    this.modelReleases = releases;
    this.sagemakerModels = endpoints;

    this.pipelineStorage = new PipelineStorage(this, 'Pipelines', { namePrefix: name, emails: manifest.notifications.emails, serverAccessLogsBucket: this.accessLogs.bucket });

    // Labels for earlier predictions (POST /v1/models/<name>/feedback), kept in the capture bucket beside them.
    this.feedback = new FeedbackApi(this, 'Feedback', {
      namePrefix: name,
      bucket: this.dataCapture.bucket,
      bucketKey: this.dataCapture.key,
      models: loaded.models.map((m) => feedbackTargetOf(m.card, m.entry.maxBatchSize)),
      retentionDays: manifest.monitoring.captureRetentionDays,
      maxBodyBytes: manifest.api.maxBodyBytes,
    });

    this.api = new InferenceApi(this, 'Api', {
      feedbackHandler: this.feedback.function,
      stageName: stage,
      restApiName: name,
      defaultThrottle: manifest.api.throttle,
      authorization: manifest.api.auth,
      apiKeys: manifest.api.apiKeys,
      webAclAssociated: manifest.api.waf.enabled,
      // The API calls each Lambda model's `live` alias, so CodeDeploy decides which version answers, and
      // each SageMaker model's proxy, which calls the endpoint (where SageMaker decides).
      models: loaded.models.map((m) => ({
        name: m.entry.name,
        handler: releases.get(m.entry.name)?.alias ?? endpoints.get(m.entry.name)!.proxy,
        throttle: m.entry.throttle,
        // The API waits as long as the function may run, so a slow model is the API's 504 as it is locally.
        timeout: (functions.get(m.entry.name)?.function ?? endpoints.get(m.entry.name)!.proxy).timeout,
      })),
    });

    if (manifest.api.waf.enabled) {
      this.apiWaf = new ApiWaf(this, 'Waf', {
        stage: this.api.api.deploymentStage,
        maxBodyBytes: manifest.api.maxBodyBytes,
        rateLimitPer5Minutes: manifest.api.waf.rateLimitPer5Minutes,
        name: `${name}-api`,
      });
    }

    // The one pipeline image: every model, and the handlers of the pipelines and monitors that run in it (made
    // before the monitoring: the quality monitor runs in it, and its alarms join the composite alarms).
    const retrainModels = loaded.models.filter((m) => m.entry.retrain !== undefined);
    const pipelineHandlers: Record<string, string> = { ...BATCH_IMAGE_HANDLERS, ...DRIFT_MONITOR_IMAGE_HANDLERS, ...QUALITY_MONITOR_IMAGE_HANDLERS, ...(retrainModels.length > 0 ? RETRAIN_IMAGE_HANDLERS : {}) };
    this.pipelineImage = new PipelineImage({
      handlers: pipelineHandlers,
      models: Object.fromEntries(loaded.models.map((m) => [m.entry.name, m.dir])),
      architecture: lambda.Architecture.ARM_64,
    });

    // Monitoring: each model's alarms from the alarm catalog (the specs the local runtime evaluates too), a
    // composite alarm per model notifying the alarm topic, the formatter that mails readable alerts from it,
    // and the stage's dashboard.
    this.dashboard = new MonitoringDashboard(this, 'Dashboard', { dashboardName: name, stage, models: [] });
    this.alertFormatter = new AlertFormatter(this, 'Alerts', {
      namePrefix: name,
      project: manifest.project,
      stage,
      models: Object.fromEntries(loaded.models.map((m) => [m.entry.name, m.entry.version])),
      notificationTopic: this.pipelineStorage.topic,
      notificationKey: this.pipelineStorage.topicKey,
      dashboardUrl: this.dashboard.url,
    });
    // The quality monitor (issue 17): labels joined to predictions, per model and version, on the drift monitor's
    // schedule; its alarms join each model's composite alarm and, with retrain.onQualityAlarm, start retraining.
    // Both monitors run from the pipeline image, read the capture bucket and report to the notifications topic.
    const monitorFunction: MonitorFunctionProps = {
      project: manifest.project,
      stage,
      image: this.pipelineImage,
      captureBucket: this.dataCapture.bucket,
      captureKey: this.dataCapture.key,
      topic: this.pipelineStorage.topic,
      topicKey: this.pipelineStorage.topicKey,
    };
    this.qualityMonitor = new QualityMonitor(this, 'QualityMonitor', {
      ...monitorFunction,
      schedule: manifest.monitoring.schedule,
      dashboardUrl: this.dashboard.url,
      failureAlarmTopic: this.alertFormatter.alarmTopic,
      // Labelled production rows of the models that retrain, where the retrain state machine gathers (issue 17.4).
      ...(retrainModels.length > 0 ? { trainingData: { bucket: this.pipelineStorage.dataBucket } } : {}),
      models: loaded.models.map((m) => {
        const endpoint = endpoints.get(m.entry.name);
        const trainingRows = m.entry.retrain === undefined ? undefined : endpoint ? { runtime: 'sagemaker' as const, endpointName: endpoint.endpointName } : { runtime: 'lambda' as const };
        return { name: m.entry.name, version: m.entry.version, task: m.card.task, quality: m.entry.monitoring.quality, ...(trainingRows ? { trainingRows } : {}) };
      }),
    });
    const modelAlarms = new Map<string, ModelAlarms>();
    for (const { entry } of loaded.models) {
      const targets = {
        project: manifest.project,
        stage,
        apiName: this.api.api.restApiName,
        apiStage: stage,
        metricsNamespace: METRICS_NAMESPACE,
        metricsService: metricsServiceName(entry.name, name),
        functionName: functions.get(entry.name)?.function.functionName,
        endpointName: endpoints.get(entry.name)?.endpointName,
        variantName: VARIANT_NAME,
      };
      const alarms = new ModelAlarms(this, `${pascalCase(entry.name)}Alarms`, {
        modelName: entry.name,
        specs: modelAlarmSpecs(targets, entry),
        compositeName: compositeAlarmName(manifest.project, stage, entry.name),
        alarmTopic: this.alertFormatter.alarmTopic,
        apiAccessLogs: this.api.accessLogGroup,
        compositeAlsoOf: this.qualityMonitor.alarmsOf(entry.name),
      });
      modelAlarms.set(entry.name, alarms);
      const quality = this.qualityMonitor.modelAlarms.get(entry.name)!;
      this.dashboard.addModel({ name: entry.name, version: entry.version, runtime: entry.runtime, targets, alarms: [alarms.composite, ...alarms.alarms.values(), ...this.qualityMonitor.alarmsOf(entry.name)] });
      this.dashboard.addQuality({ name: entry.name, task: quality.task, thresholds: quality.settings.alarms, period: this.qualityMonitor.period });
    }
    this.modelAlarms = modelAlarms;

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL of the inference API (stage included)' });
    new CfnOutput(this, 'ApiAuthorization', {
      value: manifest.api.auth,
      description: manifest.api.auth === 'iam' ? 'Callers sign requests with SigV4 (service execute-api) as a principal allowed execute-api:Invoke' : 'Callers send an x-api-key header (aws apigateway get-api-key --api-key <ApiKeyId...> --include-value)',
    });
    for (const [keyName, key] of this.api.apiKeys) {
      new CfnOutput(this, `ApiKeyId${pascalCase(keyName)}`, { value: key.keyId, description: `API key ${keyName}: its value with aws apigateway get-api-key --api-key <this> --include-value` });
    }
    new CfnOutput(this, 'DataBucketName', {
      value: this.pipelineStorage.dataBucket.bucketName,
      description: 'Bucket of batch inputs and outputs and of training data (training-data/<model>/)',
    });
    new CfnOutput(this, 'DashboardUrl', { value: this.dashboard.url, description: `CloudWatch dashboard ${name}: traffic, latency, errors, throttles, drift, quality and alarms per model` });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.pipelineStorage.topic.topicArn, description: 'SNS topic of pipeline results (subscribe on-call here)' });
    // Pipeline constructs (batch scoring, retraining) are added here, after the models they use.
    this.batchScoring = new BatchScoring(this, 'Batch', {
      namePrefix: name,
      stage,
      image: this.pipelineImage,
      architecture: lambda.Architecture.ARM_64,
      dataBucket: this.pipelineStorage.dataBucket,
      topic: this.pipelineStorage.topic,
      topicKey: this.pipelineStorage.topicKey,
      models: loaded.models.map((m) => ({
        name: m.entry.name,
        version: m.entry.version,
        batch: m.entry.batch,
        memoryMb: m.entry.lambda.memoryMb,
        ...(endpoints.has(m.entry.name) ? { sagemaker: endpoints.get(m.entry.name)! } : {}),
        ...(explainMaxEvaluationsOf(m.entry) !== undefined ? { explainMaxEvaluations: explainMaxEvaluationsOf(m.entry)! } : {}),
      })),
    });
    this.driftMonitor = new DriftMonitor(this, 'DriftMonitor', {
      ...monitorFunction,
      schedule: manifest.monitoring.schedule,
      windowHours: manifest.monitoring.windowHours,
      dashboardUrl: this.dashboard.url,
      models: loaded.models.map((m) => ({
        name: m.entry.name,
        version: m.entry.version,
        runtime: m.entry.runtime,
        ...(endpoints.has(m.entry.name) ? { endpointName: endpoints.get(m.entry.name)!.endpointName } : {}),
        drift: m.entry.monitoring.drift,
      })),
    });
    new CfnOutput(this, 'CaptureBucketName', {
      value: this.dataCapture.bucket.bucketName,
      description: 'Captured requests and answers: lambda/model=<m>/version=<v>/<yyyy>/<MM>/<dd>/<HH>/ (Lambda models), data-capture/<endpoint>/ (SageMaker)',
    });
    new CfnOutput(this, 'BatchStateMachineArn', {
      value: this.batchScoring.stateMachine.stateMachineArn,
      description: 'Batch scoring: aws stepfunctions start-execution --state-machine-arn <this> --input \'{"model":"<name>","input":"<key or prefix/>","output":"<prefix/>"}\'',
    });
    if (retrainModels.length > 0) {
      this.retrainPipeline = new RetrainPipeline(this, 'Retrain', {
        project: manifest.project,
        stage,
        models: retrainModels.map((m) => ({
          name: m.entry.name,
          card: m.card,
          retrain: m.entry.retrain!,
          qualityAlarmNames: this.qualityMonitor.modelAlarms.get(m.entry.name)!.alarms.map((a) => a.alarmName),
        })),
        image: this.pipelineImage,
        dataBucket: this.pipelineStorage.dataBucket,
        topic: this.pipelineStorage.topic,
        topicKey: this.pipelineStorage.topicKey,
        serverAccessLogsBucket: this.accessLogs.bucket,
      });
      new CfnOutput(this, 'RetrainStateMachineArn', {
        value: this.retrainPipeline.stateMachine.stateMachineArn,
        description: 'Retrain state machine: aws stepfunctions start-execution --state-machine-arn <this> --input \'{"model":"<name>"}\'',
      });
      new CfnOutput(this, 'RegistryBucketName', { value: this.retrainPipeline.registryBucket.bucketName, description: 'Model registry: retrained candidates at <model>/<version>/' });
    }
    // Output names are read by `mlship verify` (what is really live after a deploy): keep them stable.
    for (const model of loaded.models) {
      const modelName = model.entry.name;
      const id = pascalCase(modelName);
      const fn = functions.get(modelName);
      const endpoint = endpoints.get(modelName);
      if (fn) {
        new CfnOutput(this, `${id}FunctionName`, { value: fn.function.functionName, description: `Lambda function serving ${modelName} v${fn.modelVersion}` });
        new CfnOutput(this, `${id}LiveVersion`, {
          value: releases.get(modelName)!.version.version,
          description: `The function version the live alias of ${modelName} should point at after this deploy`,
        });
      } else if (endpoint) {
        new CfnOutput(this, `${id}EndpointName`, { value: endpoint.endpoint.attrEndpointName, description: `SageMaker endpoint serving ${modelName}` });
        new CfnOutput(this, `${id}EndpointConfigName`, {
          value: endpoint.endpointConfig.attrEndpointConfigName,
          description: `The endpoint config ${modelName}'s endpoint should run after this deploy (${modelName} v${endpoint.modelVersion}); SageMaker may have rolled back to another`,
        });
        new CfnOutput(this, `${id}FunctionName`, { value: endpoint.proxy.functionName, description: `Lambda function proxying ${modelName}'s routes to its SageMaker endpoint` });
      }
      new CfnOutput(this, `${id}InferUrl`, { value: this.api.urlForPath(`/v2/models/${modelName}/infer`), description: `POST here to run ${modelName} (Open Inference Protocol v2)` });
    }
  }
}
