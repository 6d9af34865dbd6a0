// The batch state machine's Lambda handlers as plain functions of their event, given their dependencies:
// the Lambda entries (lambdas/batch-*/index.ts) give them S3 and the image's models, the local runner
// gives them folders and the manifest's models. Both run exactly this code.
import { z } from 'zod';
import { ConfigError } from '../../common/config-error';
import type { ModelCard } from '../../models/model-card';
import type { ObjectStore } from '../../storage/object-store';
import { collectTransform } from './collect';
import { planBatch, type PlanModel } from './plan';
// The scorer's handler lives beside its core: the local batch workers import it without this file's zod.
export { createScoreHandler } from './score';
import { summariseBatch, type SummariseResult } from './summarise';
import type { BatchPartResult, BatchPlan, ScoringResult } from './types';

/** The plan function's event (its Payload in the state machine). */
export interface PlanEvent {
  /** The execution input. */
  readonly input: unknown;
  /** `$$.Execution.Name`: names the work prefix. */
  readonly executionName: string;
}

export interface CollectEvent {
  readonly model: string;
  readonly plan: BatchPlan;
}

export interface SummariseEvent {
  readonly plan: BatchPlan;
  readonly scoring: ScoringResult;
}

function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${what} must be a non-empty string, received ${JSON.stringify(value)?.slice(0, 100)}`);
  return value;
}

export function createPlanHandler(deps: { store: ObjectStore; bucket: string; models: ReadonlyMap<string, PlanModel> }): (event: PlanEvent) => Promise<BatchPlan> {
  return async (event) =>
    planBatch({ ...deps, request: event?.input, executionName: requireString(event?.executionName, 'executionName') });
}

export function createCollectHandler(deps: { store: ObjectStore; bucket: string; cards: ReadonlyMap<string, ModelCard> }): (event: CollectEvent) => Promise<{ batches: BatchPartResult[] }> {
  return async (event) => {
    const card = deps.cards.get(requireString(event?.model, 'model'));
    if (!card) throw new TypeError(`this function collects ${[...deps.cards.keys()].join(', ')}, not '${event.model}'`);
    return collectTransform({ store: deps.store, bucket: deps.bucket, plan: event.plan, card });
  };
}

export function createSummariseHandler(deps: { store: ObjectStore; bucket: string; stage: string; locate?: (key: string) => string }): (event: SummariseEvent) => Promise<SummariseResult> {
  return async (event) => {
    if (!event?.plan || !event.scoring) throw new TypeError('the event must be {"plan": ..., "scoring": ...}');
    return summariseBatch({ ...deps, plan: event.plan, scoring: event.scoring });
  };
}

// ---- settings from the environment (Lambda), checked at start-up ----

const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name');

export const batchEnvSchemas = {
  plan: z.object({
    DATA_BUCKET: bucketName,
    MODELS_DIR: z.string().min(1).default('/opt/ml/models'),
    /** JSON: model name -> { runtime, rowsPerBatch? (lambda), transformJobPrefix? (sagemaker), explainTopK?, explainMaxEvaluations? } */
    BATCH_MODELS: z.string().min(2),
  }),
  score: z.object({ DATA_BUCKET: bucketName, MODEL_NAME: z.string().min(1), MODELS_DIR: z.string().min(1).default('/opt/ml/models') }),
  collect: z.object({ DATA_BUCKET: bucketName, MODELS_DIR: z.string().min(1).default('/opt/ml/models'), BATCH_MODELS: z.string().min(2) }),
  summarise: z.object({ DATA_BUCKET: bucketName, STAGE: z.string().min(1) }),
};

export const batchModelsSchema = z.record(
  z.string(),
  z
    .strictObject({
      runtime: z.enum(['lambda', 'sagemaker']),
      rowsPerBatch: z.number().int().min(1).max(10_000).optional(),
      transformJobPrefix: z.string().min(1).max(50).optional(),
      /** The manifest's batch.explainTopK, when above 0. */
      explainTopK: z.number().int().min(1).optional(),
      /** The manifest's explain.maxEvaluations, when the model explains. */
      explainMaxEvaluations: z.number().int().min(1).optional(),
    })
    .refine((m) => m.runtime !== 'lambda' || m.rowsPerBatch !== undefined, { message: 'a lambda model needs rowsPerBatch', path: ['rowsPerBatch'] }),
);
export type BatchModels = z.infer<typeof batchModelsSchema>;

/** Reads a handler's settings; a missing or wrong one is a ConfigError naming the variable. */
export function readBatchEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  return parsed.data;
}

/** BATCH_MODELS, parsed. */
export function readBatchModels(text: string): BatchModels {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`BATCH_MODELS is not JSON: ${(error as Error).message}`);
  }
  const parsed = batchModelsSchema.safeParse(json);
  if (!parsed.success) throw new ConfigError(`BATCH_MODELS: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return parsed.data;
}
