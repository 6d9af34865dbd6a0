// Every monitoring alarm of a model, as data: what it watches (a CloudWatch metric, or metric math over
// several), its threshold from the manifest, how long it must breach, and the runbook line that goes into
// its description and into every alert. lib/ turns these specs into CloudWatch alarms; the local runtime
// evaluates the same specs on its own figures, so a threshold means the same in both places.
import type { ModelEntry } from '../../manifest/schema';
import { DRIFT_METRICS, DRIFT_METRICS_NAMESPACE, type AlarmKind } from '../contracts';
import { alarmName } from './readable-alert';

export interface MetricRef {
  readonly namespace: string;
  readonly metricName: string;
  /** 'p99', 'Sum', 'Average', 'Maximum'. */
  readonly statistic: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /**
   * A metric no AWS service publishes, counted from the API's JSON access log: this CloudWatch Logs filter
   * pattern, one per matching line (lib/ creates the metric filter with the alarm).
   */
  readonly accessLogFilter?: string;
}

/**
 * The operations whose latency the latency alarms judge (the release p99, the function's p99, locally the
 * release window and the monitoring store): scoring only. An :explain request is slow by design (permutation
 * SHAP may run up to explain.timeoutMs), so it is still a request (and its 5xx a server error) but its time
 * is published apart (ExplainLatency) and never judged against p99LatencyMs; the metadata, ready and status
 * routes are not scoring either. The one definition every layer uses.
 */
export const LATENCY_JUDGED_OPERATIONS: readonly string[] = ['predict', 'infer'];

/** Whether a request of this operation (RequestRecord.operation, ModelRoute.operation) counts in the latency alarms. */
export function isLatencyJudged(operation: string | undefined): boolean {
  return operation !== undefined && LATENCY_JUDGED_OPERATIONS.includes(operation);
}

/** Namespace of the metrics counted from the API's access log (API Gateway publishes no 429 count). */
export const API_LOG_METRICS_NAMESPACE = 'mlship/api';

/** The metric of a model's throttled (429) API requests: per project, stage and model (filters take no fixed dimensions). */
export function apiThrottlesMetricName(project: string, stage: string, model: string): string {
  return `${project}-${stage}-${model}-Throttled`;
}

/** Access-log lines of a model's routes answered 429 (API Gateway's throttling, before the function is called). */
export function apiThrottlesFilterPattern(model: string): string {
  return `{ ($.status = "429") && (($.resourcePath = "/v2/models/${model}/infer") || ($.resourcePath = "/v1/models/${model}:predict")) }`;
}

export interface AlarmSpec {
  readonly kind: AlarmKind;
  /** `<project>-<stage>-<model>-<kind>`. */
  readonly name: string;
  readonly model: string;
  readonly version: string;
  /** In the metric's own unit (SageMaker ModelLatency: microseconds). */
  readonly threshold: number;
  readonly comparison: '>' | '>=';
  /** The unit a person reads the figure in. */
  readonly unit: string;
  readonly periodMinutes: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /** A period without data: not a breach (a quiet model is not a failing one). */
  readonly treatMissingData: 'notBreaching';
  /** What it means, then what to do first. The alarm's description and the alert's last line. */
  readonly runbook: string;
  /** The metrics, by id; `expression` combines them, or the only one is the alarm's metric. */
  readonly metrics: Readonly<Record<string, MetricRef>>;
  readonly expression?: string;
  /** Part of the model's composite (serving health) alarm; drift is not: its message comes from the monitor. */
  readonly inComposite: boolean;
}

/** Where a model's metrics are: names the stack knows (tokens in CDK, plain names locally). */
export interface AlarmTargets {
  readonly project: string;
  readonly stage: string;
  /** API Gateway: the REST API's name and stage. */
  readonly apiName: string;
  readonly apiStage: string;
  /** Namespace and service of the handler's EMF metrics. */
  readonly metricsNamespace: string;
  readonly metricsService: string;
  /** runtime lambda: the function name (its `live` alias is `<name>:live`). */
  readonly functionName?: string;
  /** runtime sagemaker: the endpoint and its variant. */
  readonly endpointName?: string;
  readonly variantName?: string;
}

/** The composite alarm of a model's serving health. */
export function compositeAlarmName(project: string, stage: string, model: string): string {
  return alarmName(project, stage, model, 'health');
}

const minutes = (m: number) => `${m} minute${m === 1 ? '' : 's'}`;

/** Every alarm of one model, from its manifest entry. */
export function modelAlarmSpecs(targets: AlarmTargets, entry: ModelEntry): AlarmSpec[] {
  const { alarms } = entry.monitoring;
  const model = entry.name;
  const version = String(entry.version);
  const period = alarms.periodMinutes;
  const sustained = minutes(period * alarms.evaluationPeriods);
  const base = { model, version, periodMinutes: period, evaluationPeriods: alarms.evaluationPeriods, datapointsToAlarm: alarms.evaluationPeriods, treatMissingData: 'notBreaching' as const };
  const name = (kind: AlarmKind) => alarmName(targets.project, targets.stage, model, kind);
  const apiRoute = (resource: string, method: string): MetricRef => ({
    namespace: 'AWS/ApiGateway',
    metricName: 'Latency',
    statistic: 'p99',
    dimensions: { ApiName: targets.apiName, Stage: targets.apiStage, Resource: resource, Method: method },
  });
  const emf = (metricName: string): MetricRef => ({ namespace: targets.metricsNamespace, metricName, statistic: 'Sum', dimensions: { service: targets.metricsService, model, version } });

  const specs: AlarmSpec[] = [
    {
      ...base,
      kind: 'api-p99-latency',
      name: name('api-p99-latency'),
      threshold: alarms.p99LatencyMs,
      comparison: '>',
      unit: 'ms',
      runbook: `Callers wait: p99 latency at API Gateway over ${alarms.p99LatencyMs} ms for ${sustained}. First compare the dashboard's latency by version: a new version? roll it back (CodeDeploy console, or npx mlship canary rollback locally). Otherwise look for cold starts and raise lambda.memoryMb or provisioned concurrency.`,
      metrics: { infer: apiRoute(`/v2/models/${model}/infer`, 'POST'), predict: apiRoute(`/v1/models/${model}:predict`, 'POST') },
      expression: 'MAX([infer, predict])',
      inComposite: true,
    },
    {
      ...base,
      kind: 'error-rate',
      name: name('error-rate'),
      threshold: alarms.errorRatePercent,
      comparison: '>',
      unit: '%',
      runbook: `Requests fail: over ${alarms.errorRatePercent}% of requests answered 5xx for ${sustained} (judged from ${alarms.minRequests} requests a period). First read the function's or proxy's error logs for this version; a new version? roll it back; a model that failed to load answers 503 model_unavailable.`,
      metrics: { errors: emf('ServerErrors'), requests: emf('Requests') },
      expression: `IF(requests >= ${alarms.minRequests}, 100 * errors / requests, 0)`,
      inComposite: true,
    },
  ];
  const apiThrottles: MetricRef = {
    namespace: API_LOG_METRICS_NAMESPACE,
    metricName: apiThrottlesMetricName(targets.project, targets.stage, model),
    statistic: 'Sum',
    dimensions: {},
    accessLogFilter: apiThrottlesFilterPattern(model),
  };
  const throttles = (runbook: string, metrics: Record<string, MetricRef>): AlarmSpec => ({
    ...base,
    kind: 'throttles',
    name: name('throttles'),
    threshold: alarms.throttles,
    comparison: '>',
    unit: 'requests',
    runbook,
    metrics,
    // A period without any throttle publishes nothing: FILL makes it 0.
    expression: Object.keys(metrics).map((id) => `FILL(${id}, 0)`).join(' + '),
    inComposite: true,
  });
  if (entry.runtime === 'lambda') {
    const fn = targets.functionName ?? `${model}-function`;
    specs.push(
      {
        ...base,
        kind: 'function-p99-latency',
        name: name('function-p99-latency'),
        threshold: alarms.p99LatencyMs,
        comparison: '>',
        unit: 'ms',
        runbook: `The model itself is slow: p99 handler latency of predict and infer requests (HandlerLatency; :explain requests are not counted) over ${alarms.p99LatencyMs} ms for ${sustained} (judged from ${alarms.minRequests} requests a period). First check the InferenceLatency metric by version and the batch sizes callers send; raise lambda.memoryMb (more CPU) or lower maxBatchSize.`,
        // The handler's own HandlerLatency, not Lambda's Duration: Duration cannot tell an :explain request
        // (slow by design, up to explain.timeoutMs) from a :predict. No scoring request in a period: FILL makes it 0.
        metrics: { requests: emf('Requests'), latency: { ...emf('HandlerLatency'), statistic: 'p99' } },
        expression: `IF(requests >= ${alarms.minRequests}, FILL(latency, 0), 0)`,
        inComposite: true,
      },
      throttles(
        `Requests are turned away: over ${alarms.throttles} throttled requests (API 429s and Lambda throttles) per ${minutes(period)} for ${sustained}. First check the route's throttle and the function's concurrency on the dashboard against lambda.reservedConcurrency and the account's limit; raise them if callers are legitimate.`,
        { api: apiThrottles, lambda: { namespace: 'AWS/Lambda', metricName: 'Throttles', statistic: 'Sum', dimensions: { FunctionName: fn, Resource: `${fn}:live` } } },
      ),
    );
  } else {
    const endpoint = { EndpointName: targets.endpointName ?? `${model}-endpoint`, VariantName: targets.variantName ?? 'AllTraffic' };
    specs.push(
      {
        ...base,
        kind: 'endpoint-p99-latency',
        name: name('endpoint-p99-latency'),
        // ModelLatency is in microseconds.
        threshold: alarms.p99LatencyMs * 1000,
        comparison: '>',
        unit: 'ms',
        runbook: `The endpoint is slow: p99 ModelLatency over ${alarms.p99LatencyMs} ms for ${sustained}. First check the instance count and GPU utilization on the dashboard; raise sagemaker.autoscaling.maxInstances, or use a larger instance type.`,
        metrics: { latency: { namespace: 'AWS/SageMaker', metricName: 'ModelLatency', statistic: 'p99', dimensions: endpoint } },
        inComposite: true,
      },
      {
        ...base,
        kind: 'endpoint-5xx',
        name: name('endpoint-5xx'),
        threshold: 0,
        comparison: '>',
        unit: 'errors',
        runbook: `The endpoint fails requests (Invocation5XXErrors) for ${sustained}. First read the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/<endpoint>): Triton errors or out-of-memory; a new endpoint config? its blue/green rollback should have caught it.`,
        metrics: { errors: { namespace: 'AWS/SageMaker', metricName: 'Invocation5XXErrors', statistic: 'Sum', dimensions: endpoint } },
        inComposite: true,
      },
      {
        ...base,
        kind: 'gpu-utilization',
        name: name('gpu-utilization'),
        threshold: alarms.gpuUtilizationPercent,
        comparison: '>',
        unit: '%',
        runbook: `The GPUs are saturated: average GPU utilization over ${alarms.gpuUtilizationPercent}% for ${sustained}; latency follows. First check that autoscaling is adding instances (it may be at sagemaker.autoscaling.maxInstances); raise the maximum or the instance size.`,
        metrics: { gpu: { namespace: '/aws/sagemaker/Endpoints', metricName: 'GPUUtilization', statistic: 'Average', dimensions: endpoint } },
        inComposite: true,
      },
      throttles(
        `Requests are turned away: over ${alarms.throttles} API 429s per ${minutes(period)} for ${sustained}. First check the route's throttle (throttle in the manifest) against the traffic on the dashboard; raise it if callers are legitimate, and the endpoint's instances with it.`,
        { api: apiThrottles },
      ),
    );
  }
  specs.push({
    ...base,
    // The monitor publishes once per run (hourly by default): one datapoint decides.
    periodMinutes: 60,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    kind: 'drift',
    name: name('drift'),
    threshold: 1,
    comparison: '>=',
    unit: '',
    runbook: `Live inputs or predictions no longer look like the training data (the drift monitor's report names the features). First read the report: a broken upstream feed (units, missing values) is fixed upstream; a real change in the population calls for retraining (the retrain state machine starts on this alarm when retrain.onDrift is on).`,
    metrics: { drift: { namespace: DRIFT_METRICS_NAMESPACE, metricName: DRIFT_METRICS.detected, statistic: 'Maximum', dimensions: { stage: targets.stage, model } } },
    inComposite: false,
  });
  return specs;
}
