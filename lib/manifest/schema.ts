// The manifest schema: one file names the models and how each is served. Validated at synth and at start.
import { z } from 'zod';
import { DEFAULT_DRIFT_THRESHOLDS } from '../../lambdas/core/drift/thresholds';
import { modelNameSchema, modelVersionSchema } from '../../lambdas/core/model-card';

/** Lambda's synchronous invoke payload limit is 6 MB; API Gateway's is 10 MB. Stay under both. */
export const MAX_BODY_BYTES_LIMIT = 6 * 1024 * 1024;

export const throttleSchema = z.strictObject({
  /** Steady-state requests per second for the route (API Gateway stage method throttling). */
  rateLimit: z.number().min(1).max(10_000),
  /** Largest burst of concurrent requests for the route. */
  burstLimit: z.number().int().min(1).max(5_000),
});
export type Throttle = z.infer<typeof throttleSchema>;

export const lambdaSettingsSchema = z.strictObject({
  /** Function memory; CPU share grows with it, so it also sets inference speed. */
  memoryMb: z.number().int().min(512).max(10_240).default(2048),
  timeoutSeconds: z.number().int().min(1).max(29).default(10),
  architecture: z.enum(['arm64', 'x86_64']).default('arm64'),
  /** Caps the function's concurrency; left out, it shares the account's unreserved pool. */
  reservedConcurrency: z.number().int().min(1).optional(),
});
export type LambdaSettings = z.infer<typeof lambdaSettingsSchema>;

/** One API key of `api.auth: apiKey`: its own key and usage plan, so each caller is throttled and counted alone. */
export const apiKeySettingsSchema = z.strictObject({
  /** Names the key and its usage plan (`<project>-<stage>-<name>`): 1-64 letters, digits, dashes or underscores. */
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, dashes or underscores'),
  /** Throttling of this key across the stage (the usage plan's); left out, only the stage's route throttling applies. */
  throttle: throttleSchema.optional(),
  /** Most requests this key may make per period (the usage plan's quota); left out, no quota. */
  quota: z
    .strictObject({
      limit: z.number().int().min(1).max(2_000_000_000),
      period: z.enum(['DAY', 'WEEK', 'MONTH']),
    })
    .optional(),
});
export type ApiKeySettings = z.infer<typeof apiKeySettingsSchema>;

/** The AWS WAF web ACL in front of the API stage. */
export const wafSettingsSchema = z.strictObject({
  /**
   * Associates a WAFv2 web ACL with the stage (billed per ACL, rule and request). On by default: it is
   * the only place a REST API can refuse a large body before the function runs (API Gateway's own limit
   * is a fixed 10 MB, above Lambda's 6 MB, so a body between the two would come back as a 5xx).
   */
  enabled: z.boolean().default(true),
  /** Requests per client IP in any 5-minute window before WAF blocks that IP (WAF's rate-based rule, 10 .. 2e9). */
  rateLimitPer5Minutes: z.number().int().min(10).max(2_000_000_000).default(2000),
});
export type WafSettings = z.infer<typeof wafSettingsSchema>;

export const apiSettingsSchema = z
  .strictObject({
    /** Largest request body accepted, in bytes; larger bodies get 413. */
    maxBodyBytes: z.number().int().min(1024).max(MAX_BODY_BYTES_LIMIT).default(1024 * 1024),
    /** Default throttling for every model route; a model's own `throttle` overrides it. */
    throttle: throttleSchema.default({ rateLimit: 100, burstLimit: 200 }),
    /**
     * Who may call the model routes: `iam` (SigV4-signed requests from principals allowed
     * execute-api:Invoke) or `apiKey` (an `x-api-key` header holding one of `apiKeys`).
     */
    auth: z.enum(['iam', 'apiKey']).default('iam'),
    /** The keys of `auth: apiKey`, each with its own usage plan (throttle, quota). At least one with apiKey; none with iam. */
    apiKeys: z.array(apiKeySettingsSchema).default([]),
    waf: wafSettingsSchema.default(wafSettingsSchema.parse({})),
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
  /** Share of the new version's answers that are 5xx (or function errors), in percent, that rolls it back. */
  errorRatePercent: z.number().min(0).max(100).default(1),
  /** p99 latency of the new version, in milliseconds, above which it is rolled back. */
  p99LatencyMs: z.number().min(1).max(900_000).default(1000),
  /** Throttled invocations in one evaluation period above which the new version is rolled back. */
  throttles: z.number().int().min(0).default(0),
  /** Fewest requests to the new version in a period for the error rate and p99 to be judged at all. */
  minRequests: z.number().int().min(1).default(10),
});
export type ReleaseAlarms = z.infer<typeof releaseAlarmsSchema>;

export const releaseSchema = z.strictObject({
  /**
   * canary: `percent` of traffic to the new version for `intervalMinutes`, then all of it.
   * linear: `percent` more every `intervalMinutes` until all. all-at-once: every request at once
   * (still gated by the golden check and rolled back on alarm).
   */
  strategy: z.enum(['canary', 'linear', 'all-at-once']).default('canary'),
  /** canary: the share sent to the new version; linear: the step. */
  percent: z.number().int().min(1).max(99).default(10),
  /** canary: how long the new version takes its share before promotion; linear: minutes between steps. */
  intervalMinutes: z.number().int().min(1).max(2880).default(5),
  alarms: releaseAlarmsSchema.default(releaseAlarmsSchema.parse({})),
  /** Provisioned concurrency on the `live` alias; left out, none (on-demand). */
  provisionedConcurrency: z.number().int().min(1).max(1000).optional(),
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
    /** Instance type of the endpoint's variant. */
    instanceType: instanceTypeSchema.default('ml.g5.xlarge'),
    /** Instances when the endpoint is created (autoscaling moves it between min and max). */
    instanceCount: z.number().int().min(1).max(20).default(1),
    autoscaling: z
      .strictObject({
        minInstances: z.number().int().min(1).max(20).default(1),
        maxInstances: z.number().int().min(1).max(20).default(2),
        /** Target of SageMakerVariantInvocationsPerInstance (per minute) for target tracking. */
        targetInvocationsPerInstance: z.number().int().min(1).max(100_000).default(1000),
      })
      .default({ minInstances: 1, maxInstances: 2, targetInvocationsPerInstance: 1000 }),
    /** Share of requests and answers captured to the encrypted capture bucket, percent. */
    dataCapturePercent: z.number().int().min(0).max(100).default(10),
    /** Blue/green canary of a new endpoint config: share of capacity, then wait, then all. */
    canary: z
      .strictObject({
        percent: z.number().int().min(1).max(50).default(10),
        waitMinutes: z.number().int().min(1).max(60).default(5),
      })
      .default({ percent: 10, waitMinutes: 5 }),
    /** Rollback alarms of the blue/green deployment. */
    alarms: z
      .strictObject({
        /** p99 ModelLatency, ms. */
        p99ModelLatencyMs: z.number().min(1).default(500),
        /** Invocation5XXErrors per minute above which the deployment rolls back. */
        invocation5xxErrors: z.number().int().min(0).default(0),
      })
      .default({ p99ModelLatencyMs: 500, invocation5xxErrors: 0 }),
    /** Triton release of the SageMaker Triton image (`<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-tritonserver:<version>-py3`). */
    tritonVersion: z.string().regex(/^\d{2}\.\d{2}$/, "must look like '24.09'").default('24.09'),
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
  rowsPerBatch: z.number().int().min(1).max(10_000).default(5000),
  /**
   * Share of batches whose scoring may fail (after retries) before the whole run fails, percent. The rows
   * of a failed batch are never dropped: they go to the rejects with the batch's error.
   */
  toleratedFailurePercent: z.number().min(0).max(100).default(5),
  /** Child executions (scoring calls) in flight at once. */
  maxConcurrency: z.number().int().min(1).max(10_000).default(100),
  /** runtime sagemaker: the Batch Transform job's instances (default: the endpoint's instance type, one instance). */
  transformInstanceType: z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, "must look like ml.<family>.<size>, e.g. 'ml.g5.xlarge'").optional(),
  transformInstanceCount: z.number().int().min(1).max(20).default(1),
});
export type BatchSettings = z.infer<typeof batchSettingsSchema>;

/** EventBridge schedule expressions: rate(1 day), rate(7 days), cron(0 3 ? * MON *). */
const SCHEDULE_EXPRESSION = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$/;

/** Retraining of a built-in model (the retrain state machine): when it runs and how the candidate is judged. */
export const retrainSettingsSchema = z.strictObject({
  /** An EventBridge schedule expression; left out, no scheduled retraining. */
  schedule: z.string().regex(SCHEDULE_EXPRESSION, "must be an EventBridge schedule expression such as 'rate(7 days)' or 'cron(0 3 ? * MON *)'").optional(),
  /** Retrain when this model's drift alarm goes into ALARM (an EventBridge rule on the alarm's state change). */
  onDrift: z.boolean().default(true),
  /** The held-out metric the gate compares (classifiers: accuracy, macroF1; binary also rocAuc). */
  metric: z.enum(['accuracy', 'macroF1', 'rocAuc']).default('accuracy'),
  /** How much worse than the live model, on the same held-out split, the candidate may be (absolute, 0 .. 1). */
  tolerance: z.number().min(0).max(1).default(0.01),
  /** Fewest labelled rows the gathered data must have; fewer fails the run with that reason. */
  minRows: z.number().int().min(10).default(100),
});
export type RetrainSettings = z.infer<typeof retrainSettingsSchema>;

/**
 * Per-model alarm thresholds of the monitoring (not the release rollback alarms): each alarm is judged on
 * `evaluationPeriods` periods of `periodMinutes` and fires when every one of them breaches, so one slow
 * cold start or one bad minute does not page anyone.
 */
export const monitoringAlarmsSchema = z.strictObject({
  /** p99 latency in ms of the model's API routes (API Gateway, end to end) and of its function or endpoint. */
  p99LatencyMs: z.number().min(1).max(900_000).default(1000),
  /** Share of requests answered 5xx (or failed invocations), percent. */
  errorRatePercent: z.number().min(0).max(100).default(1),
  /** Throttled requests per period (API Gateway 429s and Lambda throttles together) above which it alarms. */
  throttles: z.number().int().min(0).default(10),
  /** Fewest requests in a period for the error rate to be judged at all (a 1-request period is not a 100% error rate). */
  minRequests: z.number().int().min(1).default(20),
  /** runtime sagemaker: average GPU utilisation of the endpoint's instances, percent, above which it alarms. */
  gpuUtilizationPercent: z.number().min(1).max(100).default(90),
  periodMinutes: z.union([z.literal(1), z.literal(5), z.literal(10), z.literal(15), z.literal(30), z.literal(60)]).default(5),
  evaluationPeriods: z.number().int().min(1).max(24).default(3),
});
export type MonitoringAlarms = z.infer<typeof monitoringAlarmsSchema>;

/**
 * When the drift monitor calls a model drifting, as the manifest writes it: a setting left out stays absent
 * here and takes its default (DEFAULT_DRIFT_THRESHOLDS) in resolveDriftThresholds, which `mlship drift`, the
 * local monitor and the cloud monitor all use, so each can say whether a threshold came from the manifest.
 */
export const driftSettingsSchema = z
  .strictObject({
    psiModerate: z.number().positive().max(10).optional(),
    psiSignificant: z.number().positive().max(10).optional(),
    predictionJs: z.number().positive().max(1).optional(),
    alpha: z.number().positive().lt(1).optional(),
    driftShare: z.number().min(0).lt(1).optional(),
    minSampleSize: z.number().int().min(10).optional(),
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

/** Monitoring of one model: data capture, alarm thresholds, drift thresholds. */
export const modelMonitoringSchema = z.strictObject({
  /**
   * Share of requests (with their answers) captured for the drift monitor, percent. runtime lambda only:
   * a SageMaker endpoint captures by itself at `sagemaker.dataCapturePercent`. Left out: 10 on Lambda.
   */
  capturePercent: z.number().min(0).max(100).optional(),
  alarms: monitoringAlarmsSchema.default(monitoringAlarmsSchema.parse({})),
  drift: driftSettingsSchema.default({}),
});
export type ModelMonitoring = z.infer<typeof modelMonitoringSchema>;

/** The default capture share of a Lambda model, percent. */
export const DEFAULT_CAPTURE_PERCENT = 10;

/** The share of a model's requests captured, percent, wherever it runs. */
export function capturePercentOf(entry: { readonly runtime: 'lambda' | 'sagemaker'; readonly monitoring: ModelMonitoring; readonly sagemaker?: SagemakerSettings }): number {
  return entry.runtime === 'sagemaker' ? (entry.sagemaker?.dataCapturePercent ?? DEFAULT_CAPTURE_PERCENT) : (entry.monitoring.capturePercent ?? DEFAULT_CAPTURE_PERCENT);
}

/** The stage's drift monitor: when it runs and how much captured traffic it reads. */
export const monitorSettingsSchema = z.strictObject({
  /** An EventBridge schedule expression of the drift monitor. */
  schedule: z.string().regex(SCHEDULE_EXPRESSION, "must be an EventBridge schedule expression such as 'rate(1 hour)' or 'cron(0 * * * ? *)'").default('rate(1 hour)'),
  /** Hours of captured traffic each run reads (the window compared with the baseline). */
  windowHours: z.number().int().min(1).max(168).default(24),
  /** Days captured requests are kept in the capture bucket. */
  captureRetentionDays: z.number().int().min(1).max(3650).default(30),
});
export type MonitorSettings = z.infer<typeof monitorSettingsSchema>;

export const modelEntrySchema = z.strictObject({
  name: modelNameSchema,
  /** The version served; its files are models/<name>/<version>/model.onnx and model.json. */
  version: modelVersionSchema,
  /** Where the model runs in the cloud. Locally every model runs in the gateway process. */
  runtime: z.enum(['lambda', 'sagemaker']).default('lambda'),
  lambda: lambdaSettingsSchema.default(lambdaSettingsSchema.parse({})),
  throttle: throttleSchema.optional(),
  /** Most instances accepted in one request; larger batches get 400. */
  maxBatchSize: z.number().int().min(1).max(10_000).default(1000),
  /** How a new version of this model reaches traffic, in the cloud (CodeDeploy) and locally. */
  release: releaseSchema.default(releaseSchema.parse({})),
  /** The GPU endpoint of a `runtime: sagemaker` model; left out, the defaults. */
  sagemaker: sagemakerSettingsSchema.optional(),
  /** Batch scoring through the batch state machine; left out, the defaults. */
  batch: batchSettingsSchema.default(batchSettingsSchema.parse({})),
  /** Retraining through the retrain state machine (built-in families only); left out, the model is never retrained. */
  retrain: retrainSettingsSchema.optional(),
  /** Data capture, alarm and drift thresholds; left out, the defaults. */
  monitoring: modelMonitoringSchema.default(modelMonitoringSchema.parse({})),
}).transform((entry) =>
  // After parsing, `sagemaker` is set exactly when the runtime is sagemaker (with its defaults filled in).
  entry.runtime === 'sagemaker' && entry.sagemaker === undefined ? { ...entry, sagemaker: sagemakerSettingsSchema.parse({}) } : entry,
);
export type ModelEntry = z.infer<typeof modelEntrySchema>;

export const manifestSchema = z
  .strictObject({
    /** Prefix of the stack and resource names. */
    project: z.string().regex(/^[a-z][a-z0-9-]{0,20}$/, 'must be up to 21 lower-case letters, digits or dashes, starting with a letter').default('mlship'),
    /** Deployment stage, part of the stack name: dev, staging, prod. */
    stage: z.string().regex(/^[a-z][a-z0-9]{0,11}$/, 'must be up to 12 lower-case letters or digits, starting with a letter').default('dev'),
    api: apiSettingsSchema.default(apiSettingsSchema.parse({})),
    /** Who hears of pipeline results and alarms: e-mail subscriptions of the stage's encrypted SNS topic. */
    notifications: z
      .strictObject({ emails: z.array(z.email()).default([]) })
      .default({ emails: [] }),
    /** The drift monitor's schedule and window, and how long captures are kept. */
    monitoring: monitorSettingsSchema.default(monitorSettingsSchema.parse({})),
    models: z.array(modelEntrySchema).min(1),
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
      const first = seen.get(model.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['models', index, 'name'], message: `must be unique, '${model.name}' is also models[${first}].name` });
      } else {
        seen.set(model.name, index);
      }
    });
  });
export type Manifest = z.infer<typeof manifestSchema>;
