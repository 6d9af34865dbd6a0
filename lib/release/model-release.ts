// How a new version of one model's function reaches traffic in the cloud. Every change to the function
// publishes a new version (`currentVersion`); the `live` alias, which API Gateway calls, moves to it
// through a CodeDeploy deployment with the manifest's strategy (canary, linear or all at once). Before
// any traffic moves, a pre-traffic hook invokes the new version with the golden cases of its model.json;
// while traffic moves, alarms on the new version (error rate, function errors, p99 latency of its
// scoring requests, throttles) watch it. A failed hook, an alarm or a failed or stopped deployment moves the alias back.
// Over 400 lines: one construct (the alias, the deployment group, its alarms and the hook) whose parts refer to each other.
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { modelNameSchema } from '../../lambdas/core/models/model-card';
import { releaseSchema } from '../../lambdas/core/manifest/schema';
import { METRICS_NAMESPACE, metricsServiceName } from '../serving/model-function';
import { preTrafficHookCode } from './pre-traffic-hook-code';
import { boundedName } from '../private/names';
import { LOG_GROUP_REMOVAL_POLICY } from '../private/logs';
import { acknowledgeWildcards, invokeQualifiersReason } from '../private/nag';
import { ZIP_FUNCTION_RUNTIME, acknowledgeRuntime } from '../private/runtime';
import { LIVE_ALIAS } from '../stack/stack-names';

export { LIVE_ALIAS };

/**
 * CodeDeploy's limit for a Lambda deployment: at most 48 hours between the first and the last traffic
 * shift (the deployment may run 50 hours: one more for each of the two lifecycle hooks).
 */
export const MAX_TRAFFIC_SHIFT_MINUTES = 48 * 60;

export type ReleaseStrategy = 'canary' | 'linear' | 'all-at-once';
const STRATEGIES: readonly ReleaseStrategy[] = ['canary', 'linear', 'all-at-once'];

/** Thresholds of the alarms that roll a new version back. */
export interface ReleaseAlarmThresholds {
  /**
   * Share of the new version's requests answered 5xx in a minute, in percent, above which it is rolled back.
   * @default 1
   */
  readonly errorRatePercent?: number;
  /**
   * p99 handler latency of the new version's scoring requests (predict, infer; not :explain) in a minute, in
   * milliseconds, above which it is rolled back.
   * @default 1000
   */
  readonly p99LatencyMs?: number;
  /**
   * Throttled invocations of the alias in a minute above which the new version is rolled back.
   * @default 0
   */
  readonly throttles?: number;
  /**
   * Fewest requests to the new version in a minute for the error rate and the p99 to be judged at all.
   * @default 10
   */
  readonly minRequests?: number;
}

/** The release settings of a model, every default applied: what `releaseProblems` checks. */
export interface ReleaseSettings {
  readonly strategy: string;
  readonly percent: number;
  readonly intervalMinutes: number;
  readonly alarms: Required<ReleaseAlarmThresholds>;
  readonly provisionedConcurrency?: number;
}

/** What the released function allows, where known: some settings are impossible against it. */
export interface ReleaseFunctionLimits {
  /** The function timeout, in seconds: no handler latency exceeds it. */
  readonly timeoutSeconds?: number;
  /** The function's reserved concurrency: provisioned concurrency cannot exceed it. */
  readonly reservedConcurrency?: number;
}

/** The manifest defaults (lambdas/core/manifest/schema.ts), so the construct and the manifest agree. */
const DEFAULTS = releaseSchema.parse({});

export interface ModelReleaseProps {
  /**
   * The model's function. A concrete `lambda.Function`, not an `IFunction`: the release needs its
   * `currentVersion`, which only a function defined in this app has.
   */
  readonly function: lambda.Function;
  /** The model's name, as in the manifest: names, descriptions and the `model` metric dimension. */
  readonly modelName: string;
  /** The model version the function serves: the `version` dimension of the handler's metrics. */
  readonly modelVersion: number;
  /** Folder of that model version; its model.json (golden cases) is copied next to the hook's code. */
  readonly modelDir: string;
  /**
   * How traffic moves to a new version: `canary` sends `percent` for `intervalMinutes`, then all;
   * `linear` adds `percent` every `intervalMinutes`; `all-at-once` moves everything at once (still
   * after the golden check, and still rolled back on alarm).
   * @default 'canary'
   */
  readonly strategy?: ReleaseStrategy;
  /**
   * canary: the share of traffic the new version takes first; linear: the step. An integer, 1..99.
   * @default 10
   */
  readonly percent?: number;
  /**
   * canary: minutes before the rest of the traffic moves; linear: minutes between steps.
   * @default 5
   */
  readonly intervalMinutes?: number;
  /**
   * Alarm thresholds; each one left out takes its default.
   * @default - errorRatePercent 1, p99LatencyMs 1000, throttles 0, minRequests 10
   */
  readonly alarms?: ReleaseAlarmThresholds;
  /**
   * Provisioned concurrency on the `live` alias.
   * @default - none: on-demand concurrency
   */
  readonly provisionedConcurrency?: number;
  /**
   * CloudWatch namespace of the handler's EMF metrics (POWERTOOLS_METRICS_NAMESPACE).
   * @default 'mlship'
   */
  readonly metricsNamespace?: string;
  /**
   * The `service` dimension of the handler's EMF metrics (POWERTOOLS_SERVICE_NAME).
   * @default - 'mlship-' followed by the model name
   */
  readonly metricsServiceName?: string;
  /**
   * TypeScript entry of the pre-traffic hook, exporting `handler`.
   * @default - lambdas/pre-traffic-hook/index.ts
   */
  readonly hookEntry?: string;
  /**
   * How long the hook's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the hook's log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

const at = (path: string, name: string): string => (path ? `${path}.${name}` : name);
const isInteger = (value: number, min: number, max = Number.MAX_SAFE_INTEGER): boolean => Number.isInteger(value) && value >= min && value <= max;

/** Number of traffic shifts of a linear release after the first: 10% steps move at 10, 20 ... 100. */
export function linearIntervals(percent: number): number {
  return Math.ceil(100 / percent) - 1;
}

/**
 * Every problem with release settings that CodeDeploy, CloudWatch or Lambda would refuse or that could
 * never work, each named with its path (`models[0].release.percent ...`). Empty when they are fine.
 * `path` is the settings' own path: 'models[0].release' in a manifest, '' for construct props.
 */
export function releaseProblems(settings: ReleaseSettings, path = '', limits: ReleaseFunctionLimits = {}): string[] {
  const problems: string[] = [];
  const { strategy, percent, intervalMinutes, alarms } = settings;
  if (!STRATEGIES.includes(strategy as ReleaseStrategy)) {
    problems.push(`${at(path, 'strategy')} must be one of ${STRATEGIES.join(', ')}, received '${strategy}'`);
  } else if (strategy !== 'all-at-once') {
    const percentOk = isInteger(percent, 1, 99);
    const intervalOk = isInteger(intervalMinutes, 1);
    if (!percentOk) problems.push(`${at(path, 'percent')} must be an integer between 1 and 99 (CodeDeploy shifts whole percents), received ${percent}`);
    if (!intervalOk) problems.push(`${at(path, 'intervalMinutes')} must be a whole number of minutes, 1 or more, received ${intervalMinutes}`);
    if (strategy === 'canary' && intervalOk && intervalMinutes > MAX_TRAFFIC_SHIFT_MINUTES) {
      problems.push(`${at(path, 'intervalMinutes')} must be at most ${MAX_TRAFFIC_SHIFT_MINUTES} for a canary: CodeDeploy allows 48 hours between a Lambda deployment's first and last traffic shift; received ${intervalMinutes}`);
    }
    if (strategy === 'linear' && percentOk && intervalOk) {
      const steps = linearIntervals(percent);
      if (steps * intervalMinutes > MAX_TRAFFIC_SHIFT_MINUTES) {
        problems.push(
          `${path || 'release'}: linear ${percent}% every ${intervalMinutes} minutes shifts the last traffic ${steps * intervalMinutes} minutes (${steps} intervals) after the first; ` +
            `CodeDeploy allows at most ${MAX_TRAFFIC_SHIFT_MINUTES} (48 hours) for a Lambda deployment: raise percent or lower intervalMinutes`,
        );
      }
    }
  }
  const alarmsPath = at(path, 'alarms');
  if (!(Number.isFinite(alarms.errorRatePercent) && alarms.errorRatePercent >= 0 && alarms.errorRatePercent <= 100)) {
    problems.push(`${at(alarmsPath, 'errorRatePercent')} must be a percentage between 0 and 100, received ${alarms.errorRatePercent}`);
  }
  if (!(Number.isFinite(alarms.p99LatencyMs) && alarms.p99LatencyMs > 0)) {
    problems.push(`${at(alarmsPath, 'p99LatencyMs')} must be a number of milliseconds above 0, received ${alarms.p99LatencyMs}`);
  } else if (limits.timeoutSeconds !== undefined && alarms.p99LatencyMs >= limits.timeoutSeconds * 1000) {
    problems.push(
      `${at(alarmsPath, 'p99LatencyMs')} must be below the function timeout of ${limits.timeoutSeconds * 1000} ms (${limits.timeoutSeconds} s): ` +
        `the handler's latency never exceeds the timeout (Lambda stops the function first), so the alarm could never fire; received ${alarms.p99LatencyMs}`,
    );
  }
  if (!isInteger(alarms.throttles, 0)) problems.push(`${at(alarmsPath, 'throttles')} must be an integer, 0 or more, received ${alarms.throttles}`);
  if (!isInteger(alarms.minRequests, 1)) problems.push(`${at(alarmsPath, 'minRequests')} must be an integer, 1 or more, received ${alarms.minRequests}`);
  const pc = settings.provisionedConcurrency;
  if (pc !== undefined) {
    if (!isInteger(pc, 1)) {
      problems.push(`${at(path, 'provisionedConcurrency')} must be an integer, 1 or more, received ${pc}`);
    } else if (limits.reservedConcurrency !== undefined && pc > limits.reservedConcurrency) {
      problems.push(`${at(path, 'provisionedConcurrency')} must be at most the function's reserved concurrency (${limits.reservedConcurrency}): Lambda refuses more; received ${pc}`);
    }
  }
  return problems;
}

/** The predefined CodeDeploy configuration for a strategy, when one exists (only 10% steps do). */
export function predefinedDeploymentConfig(strategy: ReleaseStrategy, percent: number, intervalMinutes: number): codedeploy.ILambdaDeploymentConfig | undefined {
  const C = codedeploy.LambdaDeploymentConfig;
  if (strategy === 'all-at-once') return C.ALL_AT_ONCE;
  if (percent !== 10) return undefined;
  const predefined: Record<string, codedeploy.ILambdaDeploymentConfig> =
    strategy === 'canary'
      ? { 5: C.CANARY_10PERCENT_5MINUTES, 10: C.CANARY_10PERCENT_10MINUTES, 15: C.CANARY_10PERCENT_15MINUTES, 30: C.CANARY_10PERCENT_30MINUTES }
      : { 1: C.LINEAR_10PERCENT_EVERY_1MINUTE, 2: C.LINEAR_10PERCENT_EVERY_2MINUTES, 3: C.LINEAR_10PERCENT_EVERY_3MINUTES, 10: C.LINEAR_10PERCENT_EVERY_10MINUTES };
  return predefined[intervalMinutes];
}

/** The `live` alias of a model's function, moved to each new version by CodeDeploy under alarms and a golden-case hook. */
export class ModelRelease extends Construct {
  /** The version published for the function as it is now: the one a deployment moves traffic to. */
  public readonly version: lambda.Version;
  /** The `live` alias; point callers (API Gateway) at it, never at the function. */
  public readonly alias: lambda.Alias;
  public readonly application: codedeploy.LambdaApplication;
  public readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  public readonly deploymentConfig: codedeploy.ILambdaDeploymentConfig;
  /** The function CodeDeploy runs before any traffic moves: the new version must reproduce its golden cases. */
  public readonly preTrafficHook: lambda.Function;
  public readonly preTrafficHookLogGroup: logs.LogGroup;
  /** 5xx answers over requests, from the handler's EMF metrics, for the new model version. */
  public readonly errorRateAlarm: cloudwatch.Alarm;
  /** Failed invocations (crash, timeout, out of memory) of the new Lambda version. */
  public readonly functionErrorsAlarm: cloudwatch.Alarm;
  /** p99 HandlerLatency of the new model version's scoring requests (predict, infer), from the handler's EMF metrics. */
  public readonly latencyAlarm: cloudwatch.Alarm;
  /** Throttled invocations of the alias. */
  public readonly throttlesAlarm: cloudwatch.Alarm;
  /** Every alarm that stops and rolls back a deployment. */
  public readonly alarms: readonly cloudwatch.Alarm[];
  public readonly strategy: ReleaseStrategy;

  constructor(scope: Construct, id: string, props: ModelReleaseProps) {
    super(scope, id);
    const fn = props.function;
    if (!modelNameSchema.safeParse(props.modelName).success) {
      throw new Error(`modelName must be 2-48 lower-case letters, digits or dashes, starting with a letter, received '${props.modelName}'`);
    }
    if (!isInteger(props.modelVersion, 1)) throw new Error(`modelVersion must be an integer, 1 or more, received ${props.modelVersion}`);
    const settings: ReleaseSettings = {
      strategy: props.strategy ?? DEFAULTS.strategy,
      percent: props.percent ?? DEFAULTS.percent,
      intervalMinutes: props.intervalMinutes ?? DEFAULTS.intervalMinutes,
      alarms: { ...DEFAULTS.alarms, ...Object.fromEntries(Object.entries(props.alarms ?? {}).filter(([, v]) => v !== undefined)) },
      provisionedConcurrency: props.provisionedConcurrency,
    };
    const reserved = (fn.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions;
    const timeout = fn.timeout && !Token.isUnresolved(fn.timeout.toSeconds({ integral: false })) ? fn.timeout.toSeconds({ integral: false }) : undefined;
    const problems = releaseProblems(settings, '', {
      timeoutSeconds: timeout ?? 3, // Lambda's own default when the function sets none
      reservedConcurrency: typeof reserved === 'number' && !Token.isUnresolved(reserved) ? reserved : undefined,
    });
    if (problems.length > 0) throw new Error(problems.join('; '));
    this.strategy = settings.strategy as ReleaseStrategy;

    const { modelName, modelVersion } = props;
    const stackName = Stack.of(this).stackName;
    const baseName = `${stackName}-${modelName}`;
    const label = `mlship ${modelName} v${modelVersion}`;

    this.version = fn.currentVersion;
    this.alias = new lambda.Alias(this, 'Live', {
      aliasName: LIVE_ALIAS,
      version: this.version,
      description: `The version of ${modelName} that serves traffic; moved by CodeDeploy (${baseName})`,
      provisionedConcurrentExecutions: settings.provisionedConcurrency,
    });

    const alarms = this.createAlarms(props, settings.alarms, baseName, label);
    this.errorRateAlarm = alarms.errorRate;
    this.functionErrorsAlarm = alarms.functionErrors;
    this.latencyAlarm = alarms.latency;
    this.throttlesAlarm = alarms.throttles;
    this.alarms = [alarms.errorRate, alarms.functionErrors, alarms.latency, alarms.throttles];

    // The hook: bundled at synth with the version's model.json beside it; a role of its own with only
    // its log group and invoking the new version. CodeDeploy's addPreHook grants it
    // PutLifecycleEventHookExecutionStatus on this deployment group, and grants CodeDeploy invoking it.
    this.preTrafficHookLogGroup = new logs.LogGroup(this, 'PreTrafficHookLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? LOG_GROUP_REMOVAL_POLICY,
    });
    const hookRole = new iam.Role(this, 'PreTrafficHookRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${label} pre-traffic hook: invoke the new version, report to CodeDeploy, write its logs`,
    });
    this.preTrafficHookLogGroup.grantWrite(hookRole);
    hookRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.version.functionArn] }));
    this.preTrafficHook = new lambda.Function(this, 'PreTrafficHook', {
      functionName: boundedName(`${baseName}-pre-traffic`, 64),
      description: `${label}: before traffic moves, the new version must reproduce the golden cases of its model.json`,
      runtime: ZIP_FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: preTrafficHookCode({ modelDir: props.modelDir, hookEntry: props.hookEntry }),
      memorySize: 256,
      // The new version may start cold (a container image loading its model); CodeDeploy waits up to an hour.
      timeout: Duration.minutes(5),
      role: hookRole,
      logGroup: this.preTrafficHookLogGroup,
      environment: {
        TARGET_FUNCTION_ARN: this.version.functionArn,
        MODEL_NAME: modelName,
        POWERTOOLS_SERVICE_NAME: `${props.metricsServiceName ?? metricsServiceName(modelName)}-pre-traffic`,
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    this.deploymentConfig = predefinedDeploymentConfig(this.strategy, settings.percent, settings.intervalMinutes) ?? this.customDeploymentConfig(settings, baseName);
    this.application = new codedeploy.LambdaApplication(this, 'Application', { applicationName: boundedName(baseName, 100) });
    this.deploymentGroup = new codedeploy.LambdaDeploymentGroup(this, 'DeploymentGroup', {
      application: this.application,
      deploymentGroupName: boundedName(baseName, 100),
      alias: this.alias,
      deploymentConfig: this.deploymentConfig,
      alarms: [...this.alarms],
      preHook: this.preTrafficHook,
      // Back to the previous version on a failed hook or deployment, on any alarm, and when stopped by hand
      // (a stopped Lambda deployment would otherwise leave the alias split between two versions).
      autoRollback: { failedDeployment: true, deploymentInAlarm: true, stoppedDeployment: true },
    });
    acknowledgeRuntime(this.preTrafficHook);
    // CodeDeploy's role: the managed policy AWS maintains for Lambda deployments (CDK attaches it to any
    // role given), and invoking the hook by qualified ARN.
    Validations.of(this.deploymentGroup.role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
      reason: "AWSCodeDeployRoleForLambdaLimited is AWS's policy for CodeDeploy's Lambda deployments (update and read aliases, read the deployment alarms, invoke hooks); CDK's LambdaDeploymentGroup attaches it to its role whatever role is given",
    });
    acknowledgeWildcards(this.deploymentGroup.role, invokeQualifiersReason(this, [this.preTrafficHook.functionArn]));

    // The alias update starts the deployment, so the deployment group, the hook (with the new version's
    // ARN, its permissions and model.json) and the alarms (watching the new version) must be updated first.
    this.alias.node.addDependency(this.deploymentGroup, this.preTrafficHook, ...this.alarms);
  }

  private customDeploymentConfig(settings: ReleaseSettings, baseName: string): codedeploy.LambdaDeploymentConfig {
    const { percent, intervalMinutes } = settings;
    const interval = Duration.minutes(intervalMinutes);
    const canary = this.strategy === 'canary';
    const minutes = intervalMinutes === 1 ? 'Minute' : 'Minutes';
    // Named like CodeDeploy's own (LambdaCanary10Percent5Minutes); the name changes with the settings, so
    // the replacement CloudFormation makes when they change never clashes with the old name.
    const shape = canary ? `Canary${percent}Percent${intervalMinutes}${minutes}` : `Linear${percent}PercentEvery${intervalMinutes}${minutes}`;
    return new codedeploy.LambdaDeploymentConfig(this, 'DeploymentConfig', {
      deploymentConfigName: boundedName(`${baseName}-${shape}`, 100),
      trafficRouting: canary
        ? new codedeploy.TimeBasedCanaryTrafficRouting({ percentage: percent, interval })
        : new codedeploy.TimeBasedLinearTrafficRouting({ percentage: percent, interval }),
    });
  }

  private createAlarms(props: ModelReleaseProps, thresholds: Required<ReleaseAlarmThresholds>, baseName: string, label: string) {
    const fn = props.function;
    const period = Duration.minutes(1);
    const { errorRatePercent, p99LatencyMs, throttles, minRequests } = thresholds;
    // Lambda's metrics of invocations through the alias, for the version that ran them. The dimension
    // values are built from the function name, not the alias, so the alarms do not depend on the alias
    // (the alias depends on them, through the deployment group).
    const aliasDimensions = { FunctionName: fn.functionName, Resource: `${fn.functionName}:${LIVE_ALIAS}` };
    const newVersionDimensions = { ...aliasDimensions, ExecutedVersion: this.version.version };
    const lambdaMetric = (metricName: string, statistic: string, dimensionsMap: Record<string, string>) =>
      new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName, statistic, period, dimensionsMap });
    // The handler's EMF metrics (Powertools): dimensions service, model and the MODEL version.
    const emfDimensions = { service: props.metricsServiceName ?? metricsServiceName(props.modelName), model: props.modelName, version: String(props.modelVersion) };
    const emfMetric = (metricName: string, statistic = 'Sum') => new cloudwatch.Metric({ namespace: props.metricsNamespace ?? METRICS_NAMESPACE, metricName, statistic, period, dimensionsMap: emfDimensions });

    const common = { evaluationPeriods: 1, datapointsToAlarm: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING };
    const rollback = 'During a release CodeDeploy stops the deployment and moves the live alias back to the previous version; after a release it only reports.';

    const errorRate = new cloudwatch.Alarm(this, 'ErrorRateAlarm', {
      ...common,
      alarmName: boundedName(`${baseName}-release-error-rate`, 255),
      alarmDescription:
        `${label}: more than ${errorRatePercent}% of requests answered 5xx (ServerErrors / Requests) in a minute with at least ${minRequests} requests. ${rollback} ` +
        `What to do: search the function's logs for 'request failed' or 'handler failed', fix the model or the handler, deploy again.`,
      threshold: errorRatePercent,
      // ServerErrors is only published when there is one: FILL makes a minute without any 0. Below
      // minRequests (or with no requests at all) the rate is not judged.
      metric: new cloudwatch.MathExpression({
        expression: `IF(requests >= ${minRequests}, 100 * FILL(serverErrors, 0) / requests, 0)`,
        usingMetrics: { requests: emfMetric('Requests'), serverErrors: emfMetric('ServerErrors') },
        period,
        label: `${props.modelName} v${props.modelVersion} 5xx rate (%)`,
      }),
    });

    const functionErrors = new cloudwatch.Alarm(this, 'FunctionErrorsAlarm', {
      ...common,
      alarmName: boundedName(`${baseName}-release-function-errors`, 255),
      alarmDescription:
        `${label}: the new Lambda version failed an invocation through the live alias (a crash, a timeout or running out of memory, not a 5xx answer); any one counts. ${rollback} ` +
        `What to do: search the function's logs for 'Task timed out', 'Runtime exited' or 'Runtime.OutOfMemory'; raise lambda.memoryMb or lambda.timeoutSeconds in the manifest or fix the model, deploy again.`,
      threshold: 0,
      metric: lambdaMetric('Errors', 'Sum', newVersionDimensions),
    });

    const latency = new cloudwatch.Alarm(this, 'LatencyAlarm', {
      ...common,
      alarmName: boundedName(`${baseName}-release-p99-latency`, 255),
      alarmDescription:
        `${label}: p99 handler latency of the new version's predict and infer requests (HandlerLatency; :explain requests are not counted) above ${p99LatencyMs} ms in a minute with at least ${minRequests} requests. ${rollback} ` +
        `What to do: compare the InferenceLatency metric of the new and the previous model version (namespace ${props.metricsNamespace ?? METRICS_NAMESPACE}); give the function more lambda.memoryMb (more CPU), make the model smaller, or raise release.alarms.p99LatencyMs if the new latency is expected.`,
      threshold: p99LatencyMs,
      // The handler's HandlerLatency, not Lambda's Duration: Duration cannot tell an :explain request (slow by
      // design, up to explain.timeoutMs) from a :predict, and a few explanations in a canary would roll back a
      // good version. Only scoring requests publish HandlerLatency (lambdas/inference/request-metrics.ts); a
      // minute with requests but none of them scoring has no datapoint: FILL makes it 0.
      metric: new cloudwatch.MathExpression({
        expression: `IF(requests >= ${minRequests}, FILL(p99Latency, 0), 0)`,
        usingMetrics: { requests: emfMetric('Requests'), p99Latency: emfMetric('HandlerLatency', 'p99') },
        period,
        label: `${props.modelName} v${props.modelVersion} p99 scoring latency (ms)`,
      }),
    });

    const throttled = new cloudwatch.Alarm(this, 'ThrottlesAlarm', {
      ...common,
      alarmName: boundedName(`${baseName}-release-throttles`, 255),
      alarmDescription:
        `${label}: more than ${throttles} invocations of the live alias throttled in a minute (throttles carry no version: both versions count). ${rollback} ` +
        `What to do: check the function's ConcurrentExecutions against lambda.reservedConcurrency and the account's concurrency limit; raise reservedConcurrency or release.provisionedConcurrency, or ask AWS for a higher limit.`,
      threshold: throttles,
      metric: lambdaMetric('Throttles', 'Sum', aliasDimensions),
    });

    return { errorRate, functionErrors, latency, throttles: throttled };
  }
}
