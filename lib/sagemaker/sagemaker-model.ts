// One model on a SageMaker real-time endpoint running Triton, behind the same API routes as a Lambda model.
// At synth the model version becomes a Triton model repository (config.pbtxt generated from model.json,
// and model.onnx) packed as model.tar.gz in an S3 asset. In the cloud: a SageMaker model with the Triton
// image of the stack's region and an execution role that can do exactly what the endpoint needs; an
// endpoint config named after a hash of everything in it (so a new model version is a new config, and
// CloudFormation updates the endpoint in place); an endpoint whose updates are SageMaker blue/green
// deployments with a canary and rollback alarms; data capture to an encrypted bucket; Application Auto
// Scaling on the variant; and a small proxy function (lambdas/sagemaker-proxy) that API Gateway calls like
// a Lambda model's function. No CodeDeploy on this path: SageMaker's blue/green is the release.
// Over 400 lines: one construct whose endpoint, config, guardrail alarms, scaling and proxy refer to each other; its images and model data are in files of their own.
import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { DEFAULT_EXPLAIN_LIMITS, type ExplainLimits } from '../../lambdas/core/serving/explain-limits';
import { Construct } from 'constructs';
import { modelNameSchema } from '../../lambdas/core/models/model-card';
// The proxy's timeout follows from its invoke timeout (in its own config: the local gateway waits as long).
import { PROXY_INVOKE_ATTEMPTS, PROXY_OVERHEAD_MS, proxyTimeoutSeconds } from '../../lambdas/sagemaker-proxy/config';
import { TRITON_MAX_BATCH_SIZE, type TritonDevice } from '../../lambdas/core/sagemaker/triton-config';
import { GPU_INSTANCE_FAMILIES, SAGEMAKER_INSTANCE_FAMILIES, sagemakerSettingsSchema } from '../../lambdas/core/manifest/schema';
import { MAX_TIMEOUT_SECONDS, METRICS_NAMESPACE, metricsServiceName } from '../serving/model-function';
import { boundedName, shortHash } from '../private/names';
import { sagemakerProxyCode } from './sagemaker-proxy-code';
import { tritonImage, TRITON_VERSION_PATTERN, type TritonImage } from './triton-image';
import { tritonModelDataAsset } from './triton-model-data';
import { acknowledgeWildcards, nagResource } from '../private/nag';
import { ZIP_FUNCTION_RUNTIME, acknowledgeRuntime } from '../private/runtime';

/** The endpoint's one production variant. Its name never changes: a blue/green update needs the same name. */
export const VARIANT_NAME = 'AllTraffic';

/** Application Auto Scaling's dimension for a SageMaker variant's instance count. */
export const SCALABLE_DIMENSION = 'sagemaker:variant:DesiredInstanceCount';

/** Where data capture writes in its bucket; SageMaker adds `/<endpoint>/<variant>/yyyy/mm/dd/hh/`. */
export const DATA_CAPTURE_PREFIX = 'data-capture';

/** Namespace of the instance metrics (CPU, memory, GPU, disk) SageMaker's agent publishes with the execution role. */
export const ENDPOINT_INSTANCE_METRICS_NAMESPACE = '/aws/sagemaker/Endpoints';

/** The time SageMaker may take to provision and start the green fleet (GPU instances, the Triton image). */
export const GREEN_FLEET_PROVISIONING_SECONDS = 3600;

/** SageMaker's limits on a blue/green update (BlueGreenUpdatePolicy). */
const MAX_EXECUTION_TIMEOUT_SECONDS = 28_800;
const MIN_EXECUTION_TIMEOUT_SECONDS = 600;
const MAX_WAIT_SECONDS = 3600;

/** The manifest's defaults (lambdas/core/manifest/schema.ts), so the construct and the manifest agree. */
const DEFAULTS = sagemakerSettingsSchema.parse({});

export interface SagemakerAutoscalingProps {
  /**
   * Fewest instances of the variant.
   * @default 1
   */
  readonly minInstances?: number;
  /**
   * Most instances of the variant.
   * @default 2
   */
  readonly maxInstances?: number;
  /**
   * Target of SageMakerVariantInvocationsPerInstance (invocations per instance per minute) for target tracking.
   * @default 1000
   */
  readonly targetInvocationsPerInstance?: number;
}

export interface SagemakerCanaryProps {
  /**
   * Share of the new fleet's capacity that takes traffic first, in percent (SageMaker allows at most 50).
   * @default 10
   */
  readonly percent?: number;
  /**
   * Minutes the canary bakes before all traffic moves, and again before the old fleet is terminated (1..60).
   * @default 5
   */
  readonly waitMinutes?: number;
}

export interface SagemakerRollbackAlarmProps {
  /**
   * p99 ModelLatency of the new endpoint config in a minute, in milliseconds, above which the update rolls back.
   * @default 500
   */
  readonly p99ModelLatencyMs?: number;
  /**
   * Invocation5XXErrors of the new endpoint config in a minute above which the update rolls back.
   * @default 0
   */
  readonly invocation5xxErrors?: number;
}

export interface SagemakerModelProps {
  /** The model's name, as in the manifest: Triton's model name, names, the proxy's MODEL_NAME, tags. */
  readonly modelName: string;
  /** The model version served: Triton's version folder, so its answers carry it as model_version. */
  readonly modelVersion: number;
  /** Folder of the model version: model.json and model.onnx. */
  readonly modelDir: string;
  /**
   * Instance type of the variant: a known family (GPU_INSTANCE_FAMILIES run Triton on the GPU, others on the CPU).
   * @default 'ml.g5.xlarge'
   */
  readonly instanceType?: string;
  /**
   * Instances when the endpoint is created; autoscaling moves the count between min and max afterwards,
   * and updates keep the count it reached.
   * @default 1
   */
  readonly instanceCount?: number;
  /**
   * Target tracking on invocations per instance.
   * @default - minInstances 1, maxInstances 2, targetInvocationsPerInstance 1000
   */
  readonly autoscaling?: SagemakerAutoscalingProps;
  /**
   * Share of requests and answers captured to the capture bucket, in percent; 0 turns data capture off.
   * @default 10
   */
  readonly dataCapturePercent?: number;
  /**
   * Blue/green canary of an endpoint update.
   * @default - 10% of capacity for 5 minutes
   */
  readonly canary?: SagemakerCanaryProps;
  /**
   * Thresholds of the alarms that roll an endpoint update back.
   * @default - p99ModelLatencyMs 500, invocation5xxErrors 0
   */
  readonly alarms?: SagemakerRollbackAlarmProps;
  /**
   * Release of the SageMaker Triton image.
   * @default '24.09'
   */
  readonly tritonVersion?: string;
  /**
   * Most instances in one request: Triton's max_batch_size and the proxy's MAX_BATCH_SIZE (at most 1024).
   * @default 1000
   */
  readonly maxBatchSize?: number;
  /**
   * Largest request body the proxy accepts, in bytes.
   * @default 1048576
   */
  readonly maxBodyBytes?: number;
  /**
   * Limit of one InvokeEndpoint attempt, in milliseconds; the proxy's timeout follows from it.
   * @default 2000
   */
  readonly invokeTimeoutMs?: number;
  /**
   * `POST /v1/models/<name>:explain` through the proxy (permutation SHAP, the masked rows of each round sent
   * to the endpoint in invocations of at most maxBatchSize rows): the manifest's explain block.
   * @default - 16 instances, 5000 ms, 65536 rows
   */
  readonly explain?: ExplainLimits;
  /**
   * Memory of the proxy function, in MB.
   * @default 512
   */
  readonly proxyMemoryMb?: number;
  /**
   * Bucket that data capture writes to (under `data-capture/`); when it has an encryption key, captures use it.
   * @default - a bucket of its own: KMS-encrypted with a key of its own, SSL only, no public access, captures expire
   */
  readonly captureBucket?: s3.IBucket;
  /**
   * Days captures are kept in the bucket this construct creates.
   * @default 90
   */
  readonly captureRetentionDays?: number;
  /**
   * TypeScript entry of the proxy, exporting `handler`.
   * @default - lambdas/sagemaker-proxy/index.ts
   */
  readonly proxyEntry?: string;
  /**
   * The `service` dimension of the proxy's EMF metrics (POWERTOOLS_SERVICE_NAME).
   * @default - metricsServiceName(modelName): 'mlship-<model>'
   */
  readonly metricsServiceName?: string;
  /**
   * How long the endpoint's and the proxy's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the proxy's log group, the capture bucket and its key when the stack is deleted (the
   * endpoint's own log group, which has a fixed name, is always deleted with the endpoint).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The settings of a SageMaker model, every default applied: what `sagemakerModelProblems` checks. */
export interface SagemakerModelSettings {
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly autoscaling: Required<SagemakerAutoscalingProps>;
  readonly dataCapturePercent: number;
  readonly canary: Required<SagemakerCanaryProps>;
  readonly alarms: Required<SagemakerRollbackAlarmProps>;
  readonly tritonVersion: string;
  readonly maxBatchSize: number;
  readonly maxBodyBytes: number;
  readonly invokeTimeoutMs: number;
  readonly proxyMemoryMb: number;
  readonly captureRetentionDays: number;
}

const isInteger = (value: number, min: number, max = Number.MAX_SAFE_INTEGER): boolean => Number.isInteger(value) && value >= min && value <= max;

/** The instance family of 'ml.g5.xlarge' ('g5'), or undefined when the type is not of that form. */
export function instanceFamily(instanceType: string): string | undefined {
  return /^ml\.([a-z0-9]+)\.[a-z0-9]+$/.exec(instanceType)?.[1];
}

/** Where Triton runs on an instance type: the GPU for GPU families, else the CPU. */
export function tritonDevice(instanceType: string): TritonDevice {
  return GPU_INSTANCE_FAMILIES.includes(instanceFamily(instanceType) ?? '') ? 'gpu' : 'cpu';
}

/** Every problem with the settings, each naming its prop and the value received. Empty when they are fine. */
export function sagemakerModelProblems(s: SagemakerModelSettings): string[] {
  const problems: string[] = [];
  const family = instanceFamily(s.instanceType);
  if (family === undefined) problems.push(`instanceType must look like ml.<family>.<size>, e.g. 'ml.g5.xlarge', received '${s.instanceType}'`);
  else if (!(SAGEMAKER_INSTANCE_FAMILIES as readonly string[]).includes(family)) {
    problems.push(`instanceType must be of a known instance family (${SAGEMAKER_INSTANCE_FAMILIES.join(', ')}), received '${s.instanceType}'`);
  }
  const { minInstances, maxInstances, targetInvocationsPerInstance } = s.autoscaling;
  const minOk = isInteger(minInstances, 1);
  const maxOk = isInteger(maxInstances, 1);
  if (!minOk) problems.push(`autoscaling.minInstances must be an integer, 1 or more, received ${minInstances}`);
  if (!maxOk) problems.push(`autoscaling.maxInstances must be an integer, 1 or more, received ${maxInstances}`);
  if (minOk && maxOk && minInstances > maxInstances) problems.push(`autoscaling.minInstances must be at most autoscaling.maxInstances (${maxInstances}), received ${minInstances}`);
  if (!isInteger(s.instanceCount, 1)) problems.push(`instanceCount must be an integer, 1 or more, received ${s.instanceCount}`);
  else if (minOk && maxOk && minInstances <= maxInstances && (s.instanceCount < minInstances || s.instanceCount > maxInstances)) {
    problems.push(`instanceCount must be between autoscaling.minInstances and maxInstances (${minInstances}..${maxInstances}), received ${s.instanceCount}`);
  }
  if (!(Number.isFinite(targetInvocationsPerInstance) && targetInvocationsPerInstance > 0)) {
    problems.push(`autoscaling.targetInvocationsPerInstance must be a number above 0, received ${targetInvocationsPerInstance}`);
  }
  if (!isInteger(s.dataCapturePercent, 0, 100)) problems.push(`dataCapturePercent must be an integer between 0 and 100, received ${s.dataCapturePercent}`);
  if (!isInteger(s.canary.percent, 1, 50)) problems.push(`canary.percent must be an integer between 1 and 50 (SageMaker's canary is at most half of the new fleet), received ${s.canary.percent}`);
  if (!isInteger(s.canary.waitMinutes, 1, MAX_WAIT_SECONDS / 60)) {
    problems.push(`canary.waitMinutes must be an integer between 1 and 60 (SageMaker waits at most an hour between steps), received ${s.canary.waitMinutes}`);
  }
  if (!(Number.isFinite(s.alarms.p99ModelLatencyMs) && s.alarms.p99ModelLatencyMs > 0)) {
    problems.push(`alarms.p99ModelLatencyMs must be a number of milliseconds above 0, received ${s.alarms.p99ModelLatencyMs}`);
  }
  if (!isInteger(s.alarms.invocation5xxErrors, 0)) problems.push(`alarms.invocation5xxErrors must be an integer, 0 or more, received ${s.alarms.invocation5xxErrors}`);
  if (!TRITON_VERSION_PATTERN.test(s.tritonVersion)) problems.push(`tritonVersion must look like '24.09', received '${s.tritonVersion}'`);
  if (!isInteger(s.maxBatchSize, 1, TRITON_MAX_BATCH_SIZE)) {
    problems.push(`maxBatchSize must be an integer between 1 and ${TRITON_MAX_BATCH_SIZE} (Triton's max_batch_size: each request reaches Triton as one batch), received ${s.maxBatchSize}`);
  }
  if (!isInteger(s.maxBodyBytes, 1, 6 * 1024 * 1024)) problems.push(`maxBodyBytes must be an integer between 1 and ${6 * 1024 * 1024}, received ${s.maxBodyBytes}`);
  if (!isInteger(s.invokeTimeoutMs, 1) || proxyTimeoutSeconds(s.invokeTimeoutMs) > MAX_TIMEOUT_SECONDS) {
    problems.push(
      `invokeTimeoutMs must be a whole number of milliseconds, 1 or more, small enough that ${PROXY_INVOKE_ATTEMPTS} attempts and ${PROXY_OVERHEAD_MS} ms fit the ${MAX_TIMEOUT_SECONDS} s API Gateway limit, received ${s.invokeTimeoutMs}`,
    );
  }
  if (!isInteger(s.proxyMemoryMb, 128, 10_240)) problems.push(`proxyMemoryMb must be an integer between 128 and 10240, received ${s.proxyMemoryMb}`);
  if (!isInteger(s.captureRetentionDays, 1)) problems.push(`captureRetentionDays must be an integer, 1 or more, received ${s.captureRetentionDays}`);
  return problems;
}

const defined = <T extends object>(value: T | undefined): Partial<T> => Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;

/** One model version on a SageMaker Triton endpoint, with its blue/green release, autoscaling, data capture and proxy. */
export class SagemakerModel extends Construct {
  public readonly modelName: string;
  public readonly modelVersion: number;
  /** The endpoint's name (fixed across versions): `<stack>-<model>`. */
  public readonly endpointName: string;
  /** The name of the endpoint config this synth intends to be live: `<stack>-<model>-v<version>-<hash>`. */
  public readonly endpointConfigName: string;
  /** Triton's config.pbtxt, as packed into the model data. */
  public readonly tritonConfig: string;
  /** The Triton image of the stack's region. */
  public readonly image: TritonImage;
  /** model.tar.gz: the Triton model repository. */
  public readonly modelData: s3assets.Asset;
  /** The role SageMaker runs the model with. */
  public readonly executionRole: iam.Role;
  public readonly model: sagemaker.CfnModel;
  public readonly endpointConfig: sagemaker.CfnEndpointConfig;
  public readonly endpoint: sagemaker.CfnEndpoint;
  /** Where SageMaker writes the container's logs: /aws/sagemaker/Endpoints/<endpoint>. */
  public readonly endpointLogGroup: logs.LogGroup;
  /** The capture bucket; undefined when data capture is off. */
  public readonly captureBucket?: s3.IBucket;
  /** p99 ModelLatency of the new endpoint config: rolls an update back. */
  public readonly latencyAlarm: cloudwatch.Alarm;
  /** Invocation5XXErrors of the new endpoint config: rolls an update back. */
  public readonly errorsAlarm: cloudwatch.Alarm;
  public readonly alarms: readonly cloudwatch.Alarm[];
  public readonly scalableTarget: appscaling.CfnScalableTarget;
  public readonly scalingPolicy: appscaling.CfnScalingPolicy;
  /** The function API Gateway calls for this model's routes. */
  public readonly proxy: lambda.Function;
  public readonly proxyLogGroup: logs.LogGroup;
  public readonly settings: SagemakerModelSettings;

  constructor(scope: Construct, id: string, props: SagemakerModelProps) {
    super(scope, id);
    if (!modelNameSchema.safeParse(props.modelName).success) {
      throw new Error(`modelName must be 2-48 lower-case letters, digits or dashes, starting with a letter, received '${props.modelName}'`);
    }
    if (!isInteger(props.modelVersion, 1)) throw new Error(`modelVersion must be an integer, 1 or more, received ${props.modelVersion}`);
    const settings: SagemakerModelSettings = {
      instanceType: props.instanceType ?? DEFAULTS.instanceType,
      instanceCount: props.instanceCount ?? DEFAULTS.instanceCount,
      autoscaling: { ...DEFAULTS.autoscaling, ...defined(props.autoscaling) },
      dataCapturePercent: props.dataCapturePercent ?? DEFAULTS.dataCapturePercent,
      canary: { ...DEFAULTS.canary, ...defined(props.canary) },
      alarms: { ...DEFAULTS.alarms, ...defined(props.alarms) },
      tritonVersion: props.tritonVersion ?? DEFAULTS.tritonVersion,
      maxBatchSize: props.maxBatchSize ?? 1000,
      maxBodyBytes: props.maxBodyBytes ?? 1024 * 1024,
      invokeTimeoutMs: props.invokeTimeoutMs ?? 2000,
      proxyMemoryMb: props.proxyMemoryMb ?? 512,
      captureRetentionDays: props.captureRetentionDays ?? 90,
    };
    const problems = sagemakerModelProblems(settings);
    if (problems.length > 0) throw new Error(problems.join('; '));
    this.settings = settings;
    this.modelName = props.modelName;
    this.modelVersion = props.modelVersion;
    const { modelName, modelVersion } = props;
    const stack = Stack.of(this);
    const baseName = `${stack.stackName}-${modelName}`;
    const label = `mlship ${modelName} v${modelVersion}`;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    // The model data: Triton's repository for this version, generated from model.json.
    const { asset, staged } = tritonModelDataAsset(this, 'ModelData', { modelDir: props.modelDir, maxBatchSize: settings.maxBatchSize, device: tritonDevice(settings.instanceType) });
    if (staged.card.name !== modelName || staged.card.version !== modelVersion) {
      throw new Error(`modelDir ${props.modelDir} holds ${staged.card.name} v${staged.card.version}, expected ${modelName} v${modelVersion}`);
    }
    this.modelData = asset;
    this.tritonConfig = staged.config;
    this.image = tritonImage(this, settings.tritonVersion);

    // Names. The endpoint keeps its name across versions; the endpoint config's name carries a hash of
    // everything that goes into it and into the model (every property of both requires replacement), so a
    // new model version or setting is a new config, and CloudFormation updates the endpoint to it in place.
    this.endpointName = boundedName(baseName, 63);
    const environment = { SAGEMAKER_TRITON_DEFAULT_MODEL_NAME: modelName };
    const captureContentTypes = ['application/json'];
    const configHash = shortHash(
      JSON.stringify({
        modelData: staged.hash,
        tritonVersion: settings.tritonVersion,
        environment,
        networkIsolation: true,
        variant: VARIANT_NAME,
        instanceType: settings.instanceType,
        instanceCount: settings.instanceCount,
        capture: settings.dataCapturePercent > 0 ? { percent: settings.dataCapturePercent, prefix: DATA_CAPTURE_PREFIX, captureContentTypes, bucket: props.captureBucket ? 'given' : 'own' } : 'off',
      }),
    );
    const configSuffix = `-v${modelVersion}-${configHash}`;
    this.endpointConfigName = `${boundedName(baseName, 63 - configSuffix.length)}${configSuffix}`;

    // SageMaker writes to a log group of this fixed name. Deleted with the endpoint: a retained one would
    // make creating the endpoint again (the model moved back from runtime lambda, the stack re-created) fail.
    this.endpointLogGroup = new logs.LogGroup(this, 'EndpointLogs', {
      logGroupName: `/aws/sagemaker/Endpoints/${this.endpointName}`,
      retention: logRetention,
      // The one exception to LOG_GROUP_REMOVAL_POLICY (lib/private/logs.ts): SageMaker fixes this name, so a
      // retained group would stop the stack from being created again with the same endpoint.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Data capture: its own bucket and key unless one is given.
    let captureKey: kms.IKey | undefined;
    if (settings.dataCapturePercent > 0) {
      if (props.captureBucket) {
        this.captureBucket = props.captureBucket;
        captureKey = props.captureBucket.encryptionKey;
      } else {
        captureKey = new kms.Key(this, 'CaptureKey', {
          description: `${label}: encrypts the requests and answers SageMaker data capture writes (${baseName})`,
          enableKeyRotation: true,
          removalPolicy,
        });
        this.captureBucket = new s3.Bucket(this, 'CaptureBucket', {
          encryption: s3.BucketEncryption.KMS,
          encryptionKey: captureKey,
          bucketKeyEnabled: true,
          enforceSSL: true,
          minimumTLSVersion: 1.2,
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
          lifecycleRules: [
            { id: 'expire-captures', prefix: `${DATA_CAPTURE_PREFIX}/`, expiration: Duration.days(settings.captureRetentionDays) },
            { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
          ],
          removalPolicy,
        });
      }
    }

    // Rollback alarms, on the NEW endpoint config only (the EndpointConfigName dimension): a fleet that was
    // already failing does not stop the update that replaces it. Named, so the role can be given exactly them.
    const alarmDimensions = { EndpointName: this.endpointName, VariantName: VARIANT_NAME, EndpointConfigName: this.endpointConfigName };
    const metric = (metricName: string, statistic: string) => new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName, statistic, period: Duration.minutes(1), dimensionsMap: alarmDimensions });
    const common = { evaluationPeriods: 1, datapointsToAlarm: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING };
    const rollback = 'During an endpoint update SageMaker stops the blue/green deployment and moves all traffic back to the old fleet (the old endpoint config); after an update it only reports.';
    const { p99ModelLatencyMs, invocation5xxErrors } = settings.alarms;
    const latencyAlarmName = boundedName(`${baseName}-sagemaker-p99-model-latency`, 255);
    const errorsAlarmName = boundedName(`${baseName}-sagemaker-5xx-errors`, 255);
    this.latencyAlarm = new cloudwatch.Alarm(this, 'LatencyAlarm', {
      ...common,
      alarmName: latencyAlarmName,
      alarmDescription:
        `${label}: p99 ModelLatency of endpoint config ${this.endpointConfigName} above ${p99ModelLatencyMs} ms in a minute. ${rollback} ` +
        `What to do: compare ModelLatency of the new and the old endpoint config (namespace AWS/SageMaker, endpoint ${this.endpointName}); check the endpoint's logs (/aws/sagemaker/Endpoints/${this.endpointName}); ` +
        `choose a larger sagemaker.instanceType, make the model smaller, or raise sagemaker.alarms.p99ModelLatencyMs if the new latency is expected.`,
      // ModelLatency is reported in microseconds.
      threshold: p99ModelLatencyMs * 1000,
      metric: metric('ModelLatency', 'p99'),
    });
    this.errorsAlarm = new cloudwatch.Alarm(this, 'ErrorsAlarm', {
      ...common,
      alarmName: errorsAlarmName,
      alarmDescription:
        `${label}: more than ${invocation5xxErrors} invocations of endpoint config ${this.endpointConfigName} answered 5xx in a minute. ${rollback} ` +
        `What to do: read the endpoint's logs (/aws/sagemaker/Endpoints/${this.endpointName}) for Triton's error (a model that failed to load, a shape the config does not accept), fix the model or its config, deploy again.`,
      threshold: invocation5xxErrors,
      metric: metric('Invocation5XXErrors', 'Sum'),
    });
    this.alarms = [this.latencyAlarm, this.errorsAlarm];

    // The execution role: pull exactly the Triton image's repository, read exactly the model data object,
    // write its endpoint's logs and instance metrics, read its rollback alarms, write captures.
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `${label}: SageMaker pulls the Triton image, reads the model data, writes logs, metrics and captures`,
    });
    const role = this.executionRole;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'PullTritonImage', actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], resources: [this.image.repositoryArn] }));
    // ecr:GetAuthorizationToken has no resource type: IAM accepts only "*" for it. The token only lets the
    // caller log in to ECR; what it may pull is still limited to the repository above.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadModelData', actions: ['s3:GetObject'], resources: [`arn:${Aws.PARTITION}:s3:::${asset.s3BucketName}/${asset.s3ObjectKey}`] }));
    const logGroupArn = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: this.endpointLogGroup.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteEndpointLogs',
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
        resources: [logGroupArn, `${logGroupArn}:log-stream:*`],
      }),
    );
    // cloudwatch:PutMetricData has no resource type either: "*", limited by the condition to the namespace
    // of the endpoint's instance metrics.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PutInstanceMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': ENDPOINT_INSTANCE_METRICS_NAMESPACE } },
      }),
    );
    // SageMaker reads the rollback alarms with the execution role during a blue/green update. ARNs built
    // from the names, so the policy does not wait for the alarms (which name the endpoint config).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRollbackAlarms',
        actions: ['cloudwatch:DescribeAlarms'],
        resources: [latencyAlarmName, errorsAlarmName].map((name) => stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME })),
      }),
    );
    if (this.captureBucket) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'WriteCaptures', actions: ['s3:PutObject'], resources: [this.captureBucket.arnForObjects(`${DATA_CAPTURE_PREFIX}/*`)] }));
      if (captureKey) role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'EncryptCaptures', actions: ['kms:Encrypt', 'kms:GenerateDataKey'], resources: [captureKey.keyArn] }));
    }

    acknowledgeWildcards(role, [
      { finding: nagResource(this, `${logGroupArn}:log-stream:*`), reason: "The log streams of this endpoint's own log group (/aws/sagemaker/Endpoints/<endpoint>), which SageMaker names per instance" },
      ...(this.captureBucket ? [{ finding: nagResource(this, this.captureBucket.arnForObjects(`${DATA_CAPTURE_PREFIX}/*`)), reason: "Writes captures only under data-capture/ of the stage's capture bucket, at keys SageMaker names by endpoint, variant and hour" }] : []),
      { finding: 'Resource::*', reason: 'Only ecr:GetAuthorizationToken (no resource type; the image pull itself is limited to the Triton repository) and cloudwatch:PutMetricData (no resource type; limited by condition to the endpoint instance metrics namespace)' },
    ]);

    this.model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: role.roleArn,
      primaryContainer: { image: this.image.imageUri, modelDataUrl: asset.s3ObjectUrl, environment },
      // Triton needs no network: SageMaker itself downloads the model data.
      enableNetworkIsolation: true,
    });
    // SageMaker checks the role's access when it creates the model and the endpoint: the policy first.
    this.model.node.addDependency(role);

    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'EndpointConfig', {
      endpointConfigName: this.endpointConfigName,
      productionVariants: [{ variantName: VARIANT_NAME, modelName: this.model.attrModelName, instanceType: settings.instanceType, initialInstanceCount: settings.instanceCount, initialVariantWeight: 1 }],
      dataCaptureConfig: this.captureBucket
        ? {
            enableCapture: true,
            initialSamplingPercentage: settings.dataCapturePercent,
            destinationS3Uri: `s3://${this.captureBucket.bucketName}/${DATA_CAPTURE_PREFIX}`,
            kmsKeyId: captureKey?.keyArn,
            captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
            // The proxy sends and receives JSON: captured as text, not base64.
            captureContentTypeHeader: { jsonContentTypes: captureContentTypes },
          }
        : undefined,
    });

    const waitSeconds = settings.canary.waitMinutes * 60;
    const terminationWaitSeconds = waitSeconds;
    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', {
      endpointName: this.endpointName,
      endpointConfigName: this.endpointConfig.attrEndpointConfigName,
      deploymentConfig: {
        blueGreenUpdatePolicy: {
          trafficRoutingConfiguration: { type: 'CANARY', canarySize: { type: 'CAPACITY_PERCENT', value: settings.canary.percent }, waitIntervalInSeconds: waitSeconds },
          // The new fleet takes all traffic for as long again, still watched by the alarms, before the old one goes.
          terminationWaitInSeconds: terminationWaitSeconds,
          maximumExecutionTimeoutInSeconds: Math.min(MAX_EXECUTION_TIMEOUT_SECONDS, Math.max(MIN_EXECUTION_TIMEOUT_SECONDS, GREEN_FLEET_PROVISIONING_SECONDS + waitSeconds + terminationWaitSeconds)),
        },
        autoRollbackConfiguration: { alarms: this.alarms.map((alarm) => ({ alarmName: alarm.alarmName })) },
      },
      // An update keeps the instance count autoscaling reached (the new config's count is only the
      // initial one), but takes the new config's data capture settings.
      retainAllVariantProperties: true,
      excludeRetainedVariantProperties: [{ variantPropertyType: 'DataCaptureConfig' }],
    });

    // Autoscaling. The L1 resources, because the L2 ScalableTarget always creates a role with no policy;
    // without a RoleARN, Application Auto Scaling uses its service-linked role for SageMaker endpoints.
    const { minInstances, maxInstances, targetInvocationsPerInstance } = settings.autoscaling;
    this.scalableTarget = new appscaling.CfnScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      scalableDimension: SCALABLE_DIMENSION,
      resourceId: `endpoint/${this.endpoint.attrEndpointName}/variant/${VARIANT_NAME}`,
      minCapacity: minInstances,
      maxCapacity: maxInstances,
    });
    this.scalingPolicy = new appscaling.CfnScalingPolicy(this, 'ScalingPolicy', {
      policyName: boundedName(`${baseName}-invocations-per-instance`, 256),
      policyType: 'TargetTrackingScaling',
      scalingTargetId: this.scalableTarget.ref,
      targetTrackingScalingPolicyConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        targetValue: targetInvocationsPerInstance,
        scaleOutCooldown: 60,
        scaleInCooldown: 300,
      },
    });

    // The proxy: a role of its own with its log group and InvokeEndpoint on this endpoint, nothing else.
    this.proxyLogGroup = new logs.LogGroup(this, 'ProxyLogs', { retention: logRetention, removalPolicy });
    const proxyRole = new iam.Role(this, 'ProxyRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${label} proxy: invoke the SageMaker endpoint ${this.endpointName}, write its logs`,
    });
    this.proxyLogGroup.grantWrite(proxyRole);
    this.grantInvoke(proxyRole);
    this.proxy = new lambda.Function(this, 'Proxy', {
      description: `${label}: API Gateway to the SageMaker endpoint ${this.endpointName} (Triton)`,
      runtime: ZIP_FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: sagemakerProxyCode({ modelDir: props.modelDir, proxyEntry: props.proxyEntry }),
      memorySize: settings.proxyMemoryMb,
      timeout: Duration.seconds(proxyTimeoutSeconds(settings.invokeTimeoutMs)),
      role: proxyRole,
      logGroup: this.proxyLogGroup,
      environment: {
        ENDPOINT_NAME: this.endpointName,
        MODEL_NAME: modelName,
        INVOKE_TIMEOUT_MS: String(settings.invokeTimeoutMs),
        MAX_BODY_BYTES: String(settings.maxBodyBytes),
        MAX_BATCH_SIZE: String(settings.maxBatchSize),
        EXPLAIN_MAX_INSTANCES: String((props.explain ?? DEFAULT_EXPLAIN_LIMITS).maxInstances),
        EXPLAIN_TIMEOUT_MS: String((props.explain ?? DEFAULT_EXPLAIN_LIMITS).timeoutMs),
        EXPLAIN_MAX_EVALUATIONS: String((props.explain ?? DEFAULT_EXPLAIN_LIMITS).maxEvaluations),
        POWERTOOLS_SERVICE_NAME: props.metricsServiceName ?? metricsServiceName(modelName),
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    acknowledgeRuntime(this.proxy);
    Tags.of(this).add('model', modelName);
  }

  /** Lets `grantee` call InvokeEndpoint on this endpoint, and on nothing else. */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:InvokeEndpoint'], resourceArns: [this.endpoint.attrEndpointArn] });
  }
}
