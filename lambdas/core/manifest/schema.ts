// The manifest schema: one file names the models and how each is served. Validated at synth and at start.
// Over 400 lines: the whole manifest schema with every field's description (docs/manifest.md is generated from it).
import { z } from 'zod';
import { DEFAULT_DRIFT_THRESHOLDS } from '../monitoring/drift/thresholds';
import { modelNameSchema, modelVersionSchema } from '../models/model-card';

/** Lambda's synchronous invoke payload limit is 6 MB; API Gateway's is 10 MB. Stay under both. */
export const MAX_BODY_BYTES_LIMIT = 6 * 1024 * 1024;

export const throttleSchema = z.strictObject({
  rateLimit: z.number().min(1).max(10_000).describe('Steady-state requests per second (API Gateway stage method throttling).'),
  burstLimit: z.number().int().min(1).max(5_000).describe('Largest burst of concurrent requests.'),
});
export type Throttle = z.infer<typeof throttleSchema>;

export const lambdaSettingsSchema = z.strictObject({
  memoryMb: z.number().int().min(512).max(10_240).default(2048).describe("The function's memory, MB; its CPU share grows with it, so it also sets inference speed."),
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(29)
    .default(10)
    .describe("The function's timeout, seconds (at most API Gateway's 29 s integration limit); a model slower than it gets 504 timeout."),
  architecture: z.enum(['arm64', 'x86_64']).default('arm64').describe("The function's CPU architecture."),
  reservedConcurrency: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("Concurrency reserved for, and capping, the function; left out, it shares the account's unreserved pool."),
});
export type LambdaSettings = z.infer<typeof lambdaSettingsSchema>;

/** One API key of `api.auth: apiKey`: its own key and usage plan, so each caller is throttled and counted alone. */
export const apiKeySettingsSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, dashes or underscores')
    .describe('Names the key and its usage plan, `<project>-<stage>-<name>` (stack output `ApiKeyId<Name>`); unique in the manifest.'),
  throttle: throttleSchema.optional().describe("This key's throttling across the stage (its usage plan's); left out, only the routes' throttling applies."),
  quota: z
    .strictObject({
      limit: z.number().int().min(1).max(2_000_000_000).describe('Most requests in one period.'),
      period: z.enum(['DAY', 'WEEK', 'MONTH']).describe('The period the limit counts over.'),
    })
    .optional()
    .describe('Most requests this key may make per period (its usage plan\'s quota; past it, 429 quota_exceeded); left out, no quota.'),
});
export type ApiKeySettings = z.infer<typeof apiKeySettingsSchema>;

/** The AWS WAF web ACL in front of the API stage. */
export const wafSettingsSchema = z.strictObject({
  /**
   * Associates a WAFv2 web ACL with the stage (billed per ACL, rule and request). On by default: it is
   * the only place a REST API can refuse a large body before the function runs (API Gateway's own limit
   * is a fixed 10 MB, above Lambda's 6 MB, so a body between the two would come back as a 5xx).
   */
  enabled: z
    .boolean()
    .default(true)
    .describe(
      'An AWS WAF web ACL on the API stage: a rate limit per client IP, bodies over api.maxBodyBytes blocked, the AWS common rule set. false: no web ACL and no WAF charges, and a body between Lambda\'s 6 MB and API Gateway\'s 10 MB comes back as a 5xx.',
    ),
  rateLimitPer5Minutes: z.number().int().min(10).max(2_000_000_000).default(2000).describe("Requests per client IP in any 5 minutes before WAF blocks that IP (WAF's rate-based rule)."),
});
export type WafSettings = z.infer<typeof wafSettingsSchema>;

export const apiSettingsSchema = z
  .strictObject({
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(MAX_BODY_BYTES_LIMIT)
      .default(1024 * 1024)
      .describe("Largest request body accepted, in bytes (at most Lambda's 6 MiB payload limit); larger bodies get 413."),
    throttle: throttleSchema.default({ rateLimit: 100, burstLimit: 200 }).describe("Throttling of every model route (API Gateway stage method throttling); a model's own `throttle` overrides it."),
    auth: z
      .enum(['iam', 'apiKey'])
      .default('iam')
      .describe(
        'Who may call every route but the two health checks: `iam` (requests signed with SigV4 for execute-api by a principal allowed execute-api:Invoke) or `apiKey` (an `x-api-key` header holding one of `apiKeys`).',
      ),
    apiKeys: z.array(apiKeySettingsSchema).default([]).describe('The keys of `auth: apiKey`, each its own API key and usage plan on the stage: at least one with apiKey, none with iam.'),
    waf: wafSettingsSchema.default(wafSettingsSchema.parse({})).describe('The AWS WAF web ACL in front of the API stage.'),
  })
  .superRefine((api, ctx) => {
    if (api.auth === 'apiKey' && api.apiKeys.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['apiKeys'], message: 'must name at least one key when auth is apiKey, received none' });
    }
    if (api.auth === 'iam' && api.apiKeys.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['apiKeys'], message: `applies only to auth: apiKey; auth is iam, received ${api.apiKeys.length} keys` });
    }
    const seen = new Map<string, number>();
    api.apiKeys.forEach((key, index) => {
      const first = seen.get(key.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['apiKeys', index, 'name'], message: `must be unique, '${key.name}' is also apiKeys[${first}].name` });
      else seen.set(key.name, index);
    });
  });
export type ApiSettings = z.infer<typeof apiSettingsSchema>;

export const releaseAlarmsSchema = z.strictObject({
  errorRatePercent: z.number().min(0).max(100).default(1).describe("Share of the new version's requests answered 5xx (or failed invocations) in a minute, percent, above which it is rolled back."),
  p99LatencyMs: z
    .number()
    .min(1)
    .max(900_000)
    .default(1000)
    .describe('p99 latency of the new version in a minute, ms, above which it is rolled back; below the function timeout (lambda.timeoutSeconds).'),
  throttles: z.number().int().min(0).default(0).describe('Throttled invocations of the live alias in a minute above which the new version is rolled back.'),
  minRequests: z.number().int().min(1).default(10).describe('Fewest requests to the new version in a minute for the error rate and p99 to be judged at all.'),
});
export type ReleaseAlarms = z.infer<typeof releaseAlarmsSchema>;

export const releaseSchema = z.strictObject({
  /**
   * canary: `percent` of traffic to the new version for `intervalMinutes`, then all of it.
   * linear: `percent` more every `intervalMinutes` until all. all-at-once: every request at once
   * (still gated by the golden check and rolled back on alarm).
   */
  strategy: z
    .enum(['canary', 'linear', 'all-at-once'])
    .default('canary')
    .describe(
      'canary: `percent` of traffic to the new version for `intervalMinutes`, then all of it. linear: `percent` more every `intervalMinutes`. all-at-once: all of it at once, still after the golden check and under the alarms.',
    ),
  percent: z.number().int().min(1).max(99).default(10).describe('canary: the share sent to the new version first; linear: the step.'),
  intervalMinutes: z
    .number()
    .int()
    .min(1)
    .max(2880)
    .default(5)
    .describe("canary: minutes before the rest of the traffic moves; linear: minutes between steps. The whole release must fit CodeDeploy's 48 hours."),
  alarms: releaseAlarmsSchema.default(releaseAlarmsSchema.parse({})).describe("The rollback alarms, judged every minute on the new version's own requests; any breach rolls it back."),
  provisionedConcurrency: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('Provisioned concurrency on the `live` alias, at most lambda.reservedConcurrency; left out, none (on demand).'),
});
export type Release = z.infer<typeof releaseSchema>;

/** SageMaker real-time instance families mlship knows how to serve with Triton: GPU (g, p) and CPU (c, m, r). */
export const SAGEMAKER_INSTANCE_FAMILIES = ['g4dn', 'g5', 'g6', 'g6e', 'p3', 'p4d', 'p5', 'c5', 'c6i', 'm5', 'm6i', 'r5'] as const;
export const GPU_INSTANCE_FAMILIES: readonly string[] = ['g4dn', 'g5', 'g6', 'g6e', 'p3', 'p4d', 'p5'];

const INSTANCE_TYPE = /^ml\.([a-z0-9]+)\.[a-z0-9]+$/;

/** One message per bad instance type: the form first, then the family. */
const instanceTypeSchema = z.string().superRefine((type, ctx) => {
  const family = INSTANCE_TYPE.exec(type)?.[1];
  if (family === undefined) ctx.addIssue({ code: 'custom', message: `must look like ml.<family>.<size>, e.g. 'ml.g5.xlarge', received '${type}'` });
  else if (!(SAGEMAKER_INSTANCE_FAMILIES as readonly string[]).includes(family)) {
    ctx.addIssue({ code: 'custom', message: `must be of a known instance family (${SAGEMAKER_INSTANCE_FAMILIES.join(', ')}), received '${type}'` });
  }
});

export const sagemakerSettingsSchema = z
  .strictObject({
    instanceType: instanceTypeSchema
      .default('ml.g5.xlarge')
      .describe(`The endpoint variant's instance type, \`ml.<family>.<size>\`, of a known family: GPU ${GPU_INSTANCE_FAMILIES.join(', ')}; CPU ${SAGEMAKER_INSTANCE_FAMILIES.filter((f) => !GPU_INSTANCE_FAMILIES.includes(f)).join(', ')}.`),
    instanceCount: z.number().int().min(1).max(20).default(1).describe('Instances when the endpoint is created, between autoscaling.minInstances and maxInstances (autoscaling moves it then).'),
    autoscaling: z
      .strictObject({
        minInstances: z.number().int().min(1).max(20).default(1).describe('Fewest instances; at most maxInstances.'),
        maxInstances: z.number().int().min(1).max(20).default(2).describe('Most instances.'),
        targetInvocationsPerInstance: z
          .number()
          .int()
          .min(1)
          .max(100_000)
          .default(1000)
          .describe('Invocations per instance per minute that target tracking keeps (SageMakerVariantInvocationsPerInstance).'),
      })
      .default({ minInstances: 1, maxInstances: 2, targetInvocationsPerInstance: 1000 })
      .describe("Application Auto Scaling of the endpoint's variant."),
    dataCapturePercent: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(10)
      .describe("Share of requests and answers the endpoint captures to the stage's capture bucket for the drift monitor, percent; 0: off."),
    canary: z
      .strictObject({
        percent: z.number().int().min(1).max(50).default(10).describe("Share of the new fleet's capacity that takes traffic first (SageMaker allows at most 50)."),
        waitMinutes: z.number().int().min(1).max(60).default(5).describe('Minutes before all traffic moves, and again before the old fleet is terminated.'),
      })
      .default({ percent: 10, waitMinutes: 5 })
      .describe('The blue/green canary of a new endpoint config: a share of capacity, a wait, then all.'),
    alarms: z
      .strictObject({
        p99ModelLatencyMs: z.number().min(1).default(500).describe('p99 ModelLatency of the new endpoint config in a minute, ms, above which it rolls back.'),
        invocation5xxErrors: z.number().int().min(0).default(0).describe('Invocation5XXErrors of the new endpoint config in a minute above which it rolls back.'),
      })
      .default({ p99ModelLatencyMs: 500, invocation5xxErrors: 0 })
      .describe('The rollback alarms of the blue/green deployment, on the new endpoint config.'),
    tritonVersion: z
      .string()
      .regex(/^\d{2}\.\d{2}$/, "must look like '24.09'")
      .default('24.09')
      .describe('Release of the SageMaker Triton image, `<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-tritonserver:<version>-py3`.'),
  })
  .superRefine((s, ctx) => {
    const { minInstances, maxInstances } = s.autoscaling;
    if (minInstances > maxInstances) {
      ctx.addIssue({ code: 'custom', path: ['autoscaling', 'minInstances'], message: `must be at most autoscaling.maxInstances (${maxInstances}), received ${minInstances}` });
    } else if (s.instanceCount < minInstances || s.instanceCount > maxInstances) {
      ctx.addIssue({ code: 'custom', path: ['instanceCount'], message: `must be between autoscaling.minInstances and maxInstances (${minInstances}..${maxInstances}), received ${s.instanceCount}` });
    }
  });
export type SagemakerSettings = z.infer<typeof sagemakerSettingsSchema>;

/** Batch scoring of this model (the batch state machine): how rows are cut into batches and fanned out. */
export const batchSettingsSchema = z.strictObject({
  /**
   * Rows per child execution of the Distributed Map (one range of the input, scored in one function call).
   * 5000 by default: a call's fixed costs (the invocation, a ranged GET and a PUT, a child execution;
   * tens of ms in the cloud, a part file locally) dwarf scoring 1000 rows of a tabular model (~2 ms),
   * while 5000 rows of 30 features are ~1.4 MB read and ~10 ms scored.
   */
  rowsPerBatch: z.number().int().min(1).max(10_000).default(5000).describe('Rows per Distributed Map child execution: one range of the input, scored in one function call.'),
  /**
   * Share of batches whose scoring may fail (after retries) before the whole run fails, percent. The rows
   * of a failed batch are never dropped: they go to the rejects with the batch's error.
   */
  toleratedFailurePercent: z
    .number()
    .min(0)
    .max(100)
    .default(5)
    .describe("Share of batches whose scoring may fail (after retries) before the run fails, percent; a failed batch's rows become rejects naming the error."),
  maxConcurrency: z.number().int().min(1).max(10_000).default(100).describe('Scoring calls (child executions) in flight at once.'),
  transformInstanceType: z
    .string()
    .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, "must look like ml.<family>.<size>, e.g. 'ml.g5.xlarge'")
    .optional()
    .describe("runtime sagemaker: the Batch Transform job's instance type; left out, the endpoint's."),
  transformInstanceCount: z.number().int().min(1).max(20).default(1).describe("runtime sagemaker: the Batch Transform job's instances."),
  /**
   * Each scored row's k largest attributions (by absolute value) as columns, 0 = none. At most the model's
   * feature count; needs the model version's background sample; runtime lambda only (checked at load).
   */
  explainTopK: z.number().int().min(0).max(10_000).default(0).describe("Each scored row's top-k feature attributions as columns (explain_<i>_feature, explain_<i>_value); 0: none. At most the model's feature count; needs the version's background sample; runtime lambda only."),
});
export type BatchSettings = z.infer<typeof batchSettingsSchema>;

/** EventBridge schedule expressions: rate(1 day), rate(7 days), cron(0 3 ? * MON *). */
const SCHEDULE_EXPRESSION = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$/;

/** Retraining of a built-in model (the retrain state machine): when it runs and how the candidate is judged. */
export const retrainSettingsSchema = z.strictObject({
  schedule: z
    .string()
    .regex(SCHEDULE_EXPRESSION, "must be an EventBridge schedule expression such as 'rate(7 days)' or 'cron(0 3 ? * MON *)'")
    .optional()
    .describe("An EventBridge schedule expression, e.g. 'rate(7 days)' or 'cron(0 3 ? * MON *)'; left out, no scheduled retraining."),
  onDrift: z.boolean().default(true).describe("Also retrain when this model's drift alarm goes into ALARM (an EventBridge rule on the alarm's state change)."),
  onQualityAlarm: z.boolean().default(true).describe("Also retrain when one of this model's quality alarms goes into ALARM (an EventBridge rule on the alarm's state change)."),
  metric: z.enum(['accuracy', 'macroF1', 'rocAuc']).default('accuracy').describe('The held-out metric the gate compares: accuracy or macroF1; rocAuc for binary models.'),
  tolerance: z.number().min(0).max(1).default(0.01).describe('How much worse than the live model, on the same held-out rows, the candidate may be (absolute).'),
  minRows: z.number().int().min(10).default(100).describe('Fewest usable labelled rows the gathered data must have; fewer fails the run with that reason.'),
});
export type RetrainSettings = z.infer<typeof retrainSettingsSchema>;

/**
 * Per-model alarm thresholds of the monitoring (not the release rollback alarms): each alarm is judged on
 * `evaluationPeriods` periods of `periodMinutes` and fires when every one of them breaches, so one slow
 * cold start or one bad minute does not page anyone.
 */
export const monitoringAlarmsSchema = z.strictObject({
  p99LatencyMs: z
    .number()
    .min(1)
    .max(900_000)
    .default(1000)
    .describe("p99 latency, ms, above which it alarms: of the model's API routes (API Gateway, end to end) and of its function or endpoint."),
  errorRatePercent: z.number().min(0).max(100).default(1).describe('Share of requests answered 5xx (or failed invocations), percent, above which it alarms.'),
  throttles: z.number().int().min(0).default(10).describe('Throttled requests per period (API Gateway 429s and Lambda throttles together) above which it alarms.'),
  minRequests: z
    .number()
    .int()
    .min(1)
    .default(20)
    .describe('Fewest requests in a period for the error rate to be judged at all (a 1-request period is not a 100% error rate).'),
  gpuUtilizationPercent: z.number().min(1).max(100).default(90).describe("runtime sagemaker: average GPU utilization of the endpoint's instances, percent, above which it alarms."),
  periodMinutes: z
    .union([z.literal(1), z.literal(5), z.literal(10), z.literal(15), z.literal(30), z.literal(60)])
    .default(5)
    .describe('Length of one evaluation period, minutes.'),
  evaluationPeriods: z.number().int().min(1).max(24).default(3).describe('Periods in a row that must all breach before an alarm fires.'),
});
export type MonitoringAlarms = z.infer<typeof monitoringAlarmsSchema>;

/**
 * When the drift monitor calls a model drifting, as the manifest writes it: a setting left out stays absent
 * here and takes its default (DEFAULT_DRIFT_THRESHOLDS) in resolveDriftThresholds, which `mlship drift`, the
 * local monitor and the cloud monitor all use, so each can say whether a threshold came from the manifest.
 */
export const driftSettingsSchema = z
  .strictObject({
    psiModerate: z
      .number()
      .positive()
      .max(10)
      .optional()
      .describe(`PSI from which a feature's shift is reported as moderate; at most psiSignificant. Left out: ${DEFAULT_DRIFT_THRESHOLDS.psiModerate}.`),
    psiSignificant: z
      .number()
      .positive()
      .max(10)
      .optional()
      .describe(`PSI from which a feature drifts, when its KS test also rejects at alpha. Left out: ${DEFAULT_DRIFT_THRESHOLDS.psiSignificant}.`),
    predictionJs: z
      .number()
      .positive()
      .max(1)
      .optional()
      .describe(`Jensen-Shannon distance from which the predictions drift, when their test also rejects at alpha. Left out: ${DEFAULT_DRIFT_THRESHOLDS.predictionJs}.`),
    alpha: z
      .number()
      .positive()
      .lt(1)
      .optional()
      .describe(`Significance level of the KS (features) and chi-square (predictions) tests. Left out: ${DEFAULT_DRIFT_THRESHOLDS.alpha}.`),
    driftShare: z
      .number()
      .min(0)
      .lt(1)
      .optional()
      .describe(`The model drifts when more than this share of its features drift, or its predictions do; 0: any drifting feature. Left out: ${DEFAULT_DRIFT_THRESHOLDS.driftShare}.`),
    minSampleSize: z
      .number()
      .int()
      .min(10)
      .optional()
      .describe(`Fewest captured rows to judge by; fewer is "not enough data", never drift. Left out: ${DEFAULT_DRIFT_THRESHOLDS.minSampleSize}.`),
  })
  .superRefine((d, ctx) => {
    const moderate = d.psiModerate ?? DEFAULT_DRIFT_THRESHOLDS.psiModerate;
    const significant = d.psiSignificant ?? DEFAULT_DRIFT_THRESHOLDS.psiSignificant;
    if (significant >= moderate) return;
    if (d.psiSignificant !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['psiSignificant'], message: `must be at least psiModerate (${moderate}${d.psiModerate === undefined ? ', its default' : ''}), received ${significant}` });
    } else {
      ctx.addIssue({ code: 'custom', path: ['psiModerate'], message: `must be at most psiSignificant (${significant}, its default), received ${moderate}` });
    }
  });
export type DriftSettings = z.infer<typeof driftSettingsSchema>;

/**
 * The quality monitor of one model (issue 17): labels sent to the feedback API are joined to the recorded
 * predictions over a window, per version; the alarms fire on the figures of the window.
 */
export const qualityAlarmsSchema = z.strictObject({
  accuracyBelow: z.number().gt(0).lt(1).optional().describe('Classifiers: alarm when the accuracy of the window is below this (0 .. 1). Left out: no such alarm.'),
  macroF1Below: z.number().gt(0).lt(1).optional().describe('Classifiers: alarm when the macro-averaged F1 of the window is below this. Left out: no such alarm.'),
  rocAucBelow: z.number().gt(0).lt(1).optional().describe('Classifiers with probabilities: alarm when the ROC AUC (one-vs-rest, macro, for more than two classes) is below this. Left out: no such alarm.'),
  maeAbove: z.number().positive().optional().describe('Regressors: alarm when the mean absolute error of the window is above this. Left out: no such alarm.'),
  r2Below: z.number().lt(1).optional().describe('Regressors: alarm when R² of the window is below this. Left out: no such alarm.'),
  dropFromBaselineAbove: z
    .number()
    .gt(0)
    .lt(1)
    .optional()
    .describe("Alarm when accuracy (R² for regressors) is this much below the model card's own evaluation on its held-out split (absolute). Left out: no such alarm."),
});
export type QualityAlarms = z.infer<typeof qualityAlarmsSchema>;

export const qualitySettingsSchema = z.strictObject({
  windowHours: z
    .number()
    .int()
    .min(1)
    .max(720)
    .default(24)
    .describe('Hours of predictions, by the time they were made, whose labels are judged together; a label that comes later than this after its prediction is not counted.'),
  minLabels: z.number().int().min(1).default(100).describe('Fewest labelled predictions of a version in the window to judge by; fewer is "not enough labels", never an alarm.'),
  alarms: qualityAlarmsSchema.default({}).describe('Thresholds of the quality alarms; each breach goes to the stage composite alarm and an e-mail naming the metric, its interval and the most confused classes.'),
});
export type QualitySettings = z.infer<typeof qualitySettingsSchema>;

/** The default capture share of a Lambda model, percent. */
export const DEFAULT_CAPTURE_PERCENT = 10;

/** Monitoring of one model: data capture, alarm thresholds, drift thresholds. */
export const modelMonitoringSchema = z.strictObject({
  capturePercent: z
    .number()
    .min(0)
    .max(100)
    .optional()
    .describe(
      `Share of scored requests (with their answers) captured for the drift monitor, percent. runtime lambda only: a SageMaker endpoint captures at sagemaker.dataCapturePercent. Left out: ${DEFAULT_CAPTURE_PERCENT}.`,
    ),
  alarms: monitoringAlarmsSchema
    .default(monitoringAlarmsSchema.parse({}))
    .describe('Thresholds of the monitoring alarms (not the release rollback alarms). An alarm fires when every one of `evaluationPeriods` periods of `periodMinutes` breaches, so one bad minute pages nobody.'),
  drift: driftSettingsSchema.default({}).describe('When the drift monitor (and `mlship drift`) calls this model drifting.'),
  quality: qualitySettingsSchema
    .default(qualitySettingsSchema.parse({}))
    .describe('The quality monitor: labels from the feedback API joined to the recorded predictions, accuracy and the like per version, and their alarms.'),
});
export type ModelMonitoring = z.infer<typeof modelMonitoringSchema>;

/** The share of a model's requests captured, percent, wherever it runs. */
export function capturePercentOf(entry: { readonly runtime: 'lambda' | 'sagemaker'; readonly monitoring: ModelMonitoring; readonly sagemaker?: SagemakerSettings }): number {
  return entry.runtime === 'sagemaker' ? (entry.sagemaker?.dataCapturePercent ?? DEFAULT_CAPTURE_PERCENT) : (entry.monitoring.capturePercent ?? DEFAULT_CAPTURE_PERCENT);
}

/** The stage's drift monitor: when it runs and how much captured traffic it reads. */
export const monitorSettingsSchema = z.strictObject({
  schedule: z
    .string()
    .regex(SCHEDULE_EXPRESSION, "must be an EventBridge schedule expression such as 'rate(1 hour)' or 'cron(0 * * * ? *)'")
    .default('rate(1 hour)')
    .describe("The drift monitor's EventBridge schedule expression, e.g. 'rate(1 hour)' or 'cron(0 * * * ? *)'."),
  windowHours: z.number().int().min(1).max(168).default(24).describe('Hours of captured traffic each run reads and compares with the baseline.'),
  captureRetentionDays: z
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(30)
    .describe('Days captured requests are kept in the capture bucket, and by `npm start` under its state folder (.mlship/capture/).'),
  localStateMaxMb: z
    .number()
    .int()
    .min(1)
    .max(1_048_576)
    .default(2048)
    .describe(
      "Largest size of `npm start`'s state folder (.mlship/), MiB: past it the oldest captures are deleted first, and counted on the status page (`npm start -- --state-max-mb N` overrides it). The cloud's capture bucket has no cap; captureRetentionDays bounds it.",
    ),
});
export type MonitorSettings = z.infer<typeof monitorSettingsSchema>;

/** `POST /v1/models/<name>:explain` of this model: how many rows one request may explain, and how long and how much it samples. */
export const explainSettingsSchema = z.strictObject({
  maxInstances: z.number().int().min(1).max(256).default(16).describe('Most instances in one :explain request; more get 400.'),
  timeoutMs: z
    .number()
    .int()
    .min(10)
    .max(28_000)
    .optional()
    .describe(
      "Deadline of an explanation's sampling, ms: past it no new round starts and the answer says complete: false, with its standard errors. Below the function's timeout (lambda.timeoutSeconds). Left out: half the function's timeout, at most 5000.",
    ),
  maxEvaluations: z
    .number()
    .int()
    .min(1)
    .max(10_000_000)
    .default(65_536)
    .describe("Model rows scored per explained row by permutation SHAP (masked copies of the background sample), raised to the two antithetic permutation pairs a standard error needs; the exact linear SHAP of a built-in logreg scores none."),
});
export type ExplainSettings = z.infer<typeof explainSettingsSchema>;

/** The sampling deadline of a model's explanations, ms: explain.timeoutMs, else half the function's timeout, at most 5 s. */
export function explainTimeoutMs(entry: { readonly explain: ExplainSettings; readonly lambda: LambdaSettings }): number {
  return entry.explain.timeoutMs ?? Math.min(5000, entry.lambda.timeoutSeconds * 500);
}

/** A model's explain block as the runtimes take it (the function's EXPLAIN_* settings, the proxy, the local gateway), its deadline resolved. */
export function explainLimitsOf(entry: { readonly explain: ExplainSettings; readonly lambda: LambdaSettings }): { maxInstances: number; timeoutMs: number; maxEvaluations: number } {
  return { maxInstances: entry.explain.maxInstances, timeoutMs: explainTimeoutMs(entry), maxEvaluations: entry.explain.maxEvaluations };
}

export const modelEntrySchema = z.strictObject({
  name: modelNameSchema.describe('The URL segment, function name part and metric dimension: 2-48 lower-case letters, digits or dashes, starting with a letter; unique in the manifest.'),
  version: modelVersionSchema.describe('The version served; its files are <name>/<version>/model.onnx and model.json next to the manifest, written by `mlship train` or `mlship import`.'),
  runtime: z
    .enum(['lambda', 'sagemaker'])
    .default('lambda')
    .describe('Where the model runs in the cloud: lambda (a container-image function) or sagemaker (a Triton endpoint behind a proxy function). Locally every model runs in the gateway process.'),
  lambda: lambdaSettingsSchema.default(lambdaSettingsSchema.parse({})).describe("Sizing of the model's function (runtime lambda)."),
  throttle: throttleSchema.optional().describe("This model's route throttling; left out, api.throttle."),
  maxBatchSize: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(1000)
    .describe("Most instances in one request; more get 400. For runtime sagemaker also Triton's max_batch_size, at most 1024."),
  release: releaseSchema.default(releaseSchema.parse({})).describe('How a new version of this model reaches traffic: CodeDeploy on the `live` alias in the cloud, the same schedule and alarms locally.'),
  sagemaker: sagemakerSettingsSchema.optional().describe('The endpoint of a `runtime: sagemaker` model (only then); left out, the defaults.'),
  batch: batchSettingsSchema.default(batchSettingsSchema.parse({})).describe('Batch scoring of this model by the batch state machine: how rows are cut into batches and fanned out.'),
  explain: explainSettingsSchema.default(explainSettingsSchema.parse({})).describe('Local explanations, `POST /v1/models/<name>:explain`: limits, deadline and sampling budget.'),
  retrain: retrainSettingsSchema
    .optional()
    .describe('Retraining by the retrain state machine (built-in families logreg and mlp only); left out, the model is never retrained.'),
  monitoring: modelMonitoringSchema.default(modelMonitoringSchema.parse({})).describe('Data capture, alarm and drift thresholds of this model.'),
}).transform((entry) =>
  // After parsing, `sagemaker` is set exactly when the runtime is sagemaker (with its defaults filled in).
  entry.runtime === 'sagemaker' && entry.sagemaker === undefined ? { ...entry, sagemaker: sagemakerSettingsSchema.parse({}) } : entry,
);
export type ModelEntry = z.infer<typeof modelEntrySchema>;

export const manifestSchema = z
  .strictObject({
    project: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,20}$/, 'must be up to 21 lower-case letters, digits or dashes, starting with a letter')
      .default('mlship')
      .describe('Prefix of the stack name (`<project>-<stage>`) and of resource names.'),
    stage: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,11}$/, 'must be up to 12 lower-case letters or digits, starting with a letter')
      .default('dev')
      .describe('Deployment stage (dev, staging, prod), part of the stack name; `cdk deploy -c stage=prod` overrides it.'),
    api: apiSettingsSchema.default(apiSettingsSchema.parse({})).describe('The HTTP API: body limit, throttling, who may call it, the WAF web ACL.'),
    notifications: z
      .strictObject({
        emails: z.array(z.email()).default([]).describe("Addresses subscribed to the stage's encrypted SNS topic: alerts, drift reports, pipeline results."),
      })
      .default({ emails: [] })
      .describe('Who hears of alarms, drift and pipeline results.'),
    monitoring: monitorSettingsSchema.default(monitorSettingsSchema.parse({})).describe("The stage's drift monitor: when it runs, the window it reads, how long captures are kept."),
    models: z.array(modelEntrySchema).min(1).describe('The models served, at least one; each name once.'),
  })
  .superRefine((manifest, ctx) => {
    const seen = new Map<string, number>();
    manifest.models.forEach((model, index) => {
      if (model.sagemaker && model.runtime !== 'sagemaker') {
        ctx.addIssue({ code: 'custom', path: ['models', index, 'sagemaker'], message: `applies only to runtime: sagemaker; this model's runtime is ${model.runtime}` });
      }
      if (model.runtime === 'sagemaker' && model.monitoring.capturePercent !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['models', index, 'monitoring', 'capturePercent'], message: 'applies only to runtime: lambda; a SageMaker endpoint captures at sagemaker.dataCapturePercent' });
      }
      const explainMs = model.explain.timeoutMs;
      if (explainMs !== undefined && model.runtime === 'lambda' && explainMs >= model.lambda.timeoutSeconds * 1000) {
        ctx.addIssue({ code: 'custom', path: ['models', index, 'explain', 'timeoutMs'], message: `must be below the function's timeout (lambda.timeoutSeconds = ${model.lambda.timeoutSeconds} s), received ${explainMs}` });
      }
      const first = seen.get(model.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['models', index, 'name'], message: `must be unique, '${model.name}' is also models[${first}].name` });
      } else {
        seen.set(model.name, index);
      }
    });
  });
export type Manifest = z.infer<typeof manifestSchema>;
