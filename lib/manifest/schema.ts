// The manifest schema: one file names the models and how each is served. Validated at synth and at start.
import { z } from 'zod';
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

export const apiSettingsSchema = z.strictObject({
  /** Largest request body accepted, in bytes; larger bodies get 413. */
  maxBodyBytes: z.number().int().min(1024).max(MAX_BODY_BYTES_LIMIT).default(1024 * 1024),
  /** Default throttling for every model route; a model's own `throttle` overrides it. */
  throttle: throttleSchema.default({ rateLimit: 100, burstLimit: 200 }),
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
});
export type ModelEntry = z.infer<typeof modelEntrySchema>;

export const manifestSchema = z
  .strictObject({
    /** Prefix of the stack and resource names. */
    project: z.string().regex(/^[a-z][a-z0-9-]{0,20}$/, 'must be up to 21 lower-case letters, digits or dashes, starting with a letter').default('mlship'),
    /** Deployment stage, part of the stack name: dev, staging, prod. */
    stage: z.string().regex(/^[a-z][a-z0-9]{0,11}$/, 'must be up to 12 lower-case letters or digits, starting with a letter').default('dev'),
    api: apiSettingsSchema.default(apiSettingsSchema.parse({})),
    models: z.array(modelEntrySchema).min(1),
  })
  .superRefine((manifest, ctx) => {
    const seen = new Map<string, number>();
    manifest.models.forEach((model, index) => {
      const first = seen.get(model.name);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['models', index, 'name'], message: `must be unique, '${model.name}' is also models[${first}].name` });
      } else {
        seen.set(model.name, index);
      }
    });
  });
export type Manifest = z.infer<typeof manifestSchema>;
