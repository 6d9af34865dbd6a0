// One model's inference function: a container-image Lambda running the shared handler with the model
// baked into the image at /opt/ml/model. Sizing comes from the manifest; settings reach the handler
// through the environment, which it validates at start-up.
import { Duration, RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { modelNameSchema } from '../../lambdas/core/models/model-card';
import { IMAGE_MODEL_DIR, modelImageCode } from './model-image';
import { DEFAULT_EXPLAIN_LIMITS, type ExplainLimits } from '../../lambdas/core/serving/explain-limits';
import { functionRole } from '../private/grants';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { acknowledgeWildcards, XRAY_REASON } from '../private/nag';

/** The API Gateway integration timeout is 29 s, so a function behind it never needs longer. */
export const MAX_TIMEOUT_SECONDS = 29;

/** CloudWatch namespace of the handler's EMF metrics (POWERTOOLS_METRICS_NAMESPACE). */
export const METRICS_NAMESPACE = 'mlship';

/**
 * The `service` dimension of a model's EMF metrics (POWERTOOLS_SERVICE_NAME): `<namePrefix>-<model>`. The
 * stack passes `<project>-<stage>`, so two stages in one account keep their figures apart; constructs used
 * on their own default to 'mlship-<model>'.
 */
export function metricsServiceName(modelName: string, namePrefix = 'mlship'): string {
  return `${namePrefix}-${modelName}`;
}

export interface ModelFunctionProps {
  /** The model's name, as in the manifest: used in the description, the environment and the tags. */
  readonly modelName: string;
  /** The model version served; the handler reports it in `x-model-version`. */
  readonly modelVersion: number;
  /** Folder holding model.onnx and model.json, baked into the image. */
  readonly modelDir: string;
  /**
   * Function memory in MB; CPU share grows with it, so it also sets inference speed.
   * @default 2048
   */
  readonly memoryMb?: number;
  /**
   * Function timeout in seconds, at most 29 (the API Gateway integration limit).
   * @default 10
   */
  readonly timeoutSeconds?: number;
  /**
   * Function architecture.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /**
   * Concurrency reserved for (and capping) the function.
   * @default - no reservation: the function shares the account's unreserved concurrency
   */
  readonly reservedConcurrency?: number;
  /**
   * Largest request body the handler accepts, in bytes.
   * @default 1048576
   */
  readonly maxBodyBytes?: number;
  /**
   * Most instances the handler accepts in one request.
   * @default 1000
   */
  readonly maxBatchSize?: number;
  /**
   * `POST /v1/models/<name>:explain`: most instances per request, the sampling deadline (ms, below the
   * function's timeout) and the rows scored per explained row (the manifest's explain block).
   * @default - 16 instances, 5000 ms (at most half the timeout), 65536 rows
   */
  readonly explain?: ExplainLimits;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * TypeScript entry of the handler bundled into the image.
   * @default - lambdas/inference/index.ts
   */
  readonly handlerEntry?: string;
  /**
   * The `service` dimension of the handler's EMF metrics (POWERTOOLS_SERVICE_NAME).
   * @default - metricsServiceName(modelName): 'mlship-<model>'
   */
  readonly metricsServiceName?: string;
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, received ${value}`);
  }
}

/** A container-image Lambda function serving one model version. */
export class ModelFunction extends Construct {
  /** The function; grant invocation with `function.grantInvoke(principal)`. */
  public readonly function: lambda.DockerImageFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly modelName: string;
  public readonly modelVersion: number;

  constructor(scope: Construct, id: string, props: ModelFunctionProps) {
    super(scope, id);
    const memoryMb = props.memoryMb ?? 2048;
    const timeoutSeconds = props.timeoutSeconds ?? 10;
    const maxBodyBytes = props.maxBodyBytes ?? 1024 * 1024;
    const maxBatchSize = props.maxBatchSize ?? 1000;
    if (!modelNameSchema.safeParse(props.modelName).success) {
      throw new Error(`modelName must be 2-48 lower-case letters, digits or dashes, starting with a letter, received '${props.modelName}'`);
    }
    requireInteger('modelVersion', props.modelVersion, 1, Number.MAX_SAFE_INTEGER);
    requireInteger('memoryMb', memoryMb, 128, 10_240);
    requireInteger('timeoutSeconds', timeoutSeconds, 1, MAX_TIMEOUT_SECONDS);
    requireInteger('maxBodyBytes', maxBodyBytes, 1, 6 * 1024 * 1024);
    requireInteger('maxBatchSize', maxBatchSize, 1, 10_000);
    if (props.reservedConcurrency !== undefined) requireInteger('reservedConcurrency', props.reservedConcurrency, 1, 100_000);
    const explain = props.explain ?? { ...DEFAULT_EXPLAIN_LIMITS, timeoutMs: Math.min(DEFAULT_EXPLAIN_LIMITS.timeoutMs, timeoutSeconds * 500) };
    requireInteger('explain.maxInstances', explain.maxInstances, 1, 256);
    requireInteger('explain.maxEvaluations', explain.maxEvaluations, 1, Number.MAX_SAFE_INTEGER);
    // The deadline stops sampling; the answer still needs the round in flight and its encoding, inside the timeout.
    if (!Number.isInteger(explain.timeoutMs) || explain.timeoutMs < 1 || explain.timeoutMs >= timeoutSeconds * 1000) {
      throw new Error(`explain.timeoutMs must be an integer below the function's timeout (timeoutSeconds ${timeoutSeconds} = ${timeoutSeconds * 1000} ms), received ${explain.timeoutMs}`);
    }

    this.modelName = props.modelName;
    this.modelVersion = props.modelVersion;
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? LOG_GROUP_REMOVAL_POLICY,
    });

    this.function = new lambda.DockerImageFunction(this, 'Function', {
      code: modelImageCode({ modelDir: props.modelDir, architecture, handlerEntry: props.handlerEntry }),
      description: `mlship model ${props.modelName} v${props.modelVersion}: ONNX inference (onnxruntime-node)`,
      architecture,
      memorySize: memoryMb,
      timeout: Duration.seconds(timeoutSeconds),
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      // Its own role: writes to its own log group (and X-Ray), nothing else; no AWSLambdaBasicExecutionRole.
      role: functionRole(this, 'Role', this.logGroup, `mlship model ${props.modelName}: inference function`),
      // Each change publishes a version (see ModelRelease); old ones stay, so a rollback has somewhere to go.
      currentVersionOptions: { description: `mlship model ${props.modelName} v${props.modelVersion}`, removalPolicy: RemovalPolicy.RETAIN },
      environment: {
        MODEL_NAME: props.modelName,
        MODEL_VERSION: String(props.modelVersion),
        MODEL_DIR: IMAGE_MODEL_DIR,
        MAX_BODY_BYTES: String(maxBodyBytes),
        MAX_BATCH_SIZE: String(maxBatchSize),
        EXPLAIN_MAX_INSTANCES: String(explain.maxInstances),
        EXPLAIN_TIMEOUT_MS: String(explain.timeoutMs),
        EXPLAIN_MAX_EVALUATIONS: String(explain.maxEvaluations),
        POWERTOOLS_SERVICE_NAME: props.metricsServiceName ?? metricsServiceName(props.modelName),
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    acknowledgeWildcards(this.function.role!, [XRAY_REASON]);
    Tags.of(this).add('model', props.modelName);
  }
}
