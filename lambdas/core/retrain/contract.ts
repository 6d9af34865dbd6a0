// What the steps of the retrain state machine pass each other. The state machine (lib/retrain/retrain-pipeline.ts)
// puts the model's constants under `settings` (a Pass state per model, from the manifest and the live
// model card at synth), the execution's input under `input` and each step's result under its own key
// (`data`, `candidate`, `evaluation`, `registered`). Every handler checks its event against these schemas,
// so a step started with the wrong shape fails at once with the field at fault.
import { z } from 'zod';
import { BACKGROUND_FILE } from '../explain/background';
import { modelNameSchema } from '../models/model-card';

/** Prefix of the data bucket under which retraining data may be gathered (the gather function's role reads only here). */
export const TRAINING_DATA_PREFIX = 'training-data/';
/** Where one execution keeps its files: the data bucket's `_work/` expires them (lib/pipelines/pipeline-storage.ts). */
export const RETRAIN_WORK_PREFIX = '_work/retrain/';

export const retrainMetricSchema = z.enum(['accuracy', 'macroF1', 'rocAuc']);
export type RetrainMetric = z.infer<typeof retrainMetricSchema>;

/** The model's constants, written into the definition at synth. */
export const retrainSettingsSchema = z.object({
  project: z.string().min(1),
  stage: z.string().min(1),
  model: modelNameSchema,
  /** The version in the manifest when the stack was deployed: the one the candidate is compared with. */
  liveVersion: z.number().int().min(1),
  metric: retrainMetricSchema,
  tolerance: z.number().min(0).max(1),
  minRows: z.number().int().min(1),
  dataBucket: z.string().min(1),
  registryBucket: z.string().min(1),
  /** The SSM parameter naming the latest registered candidate. */
  candidateParameter: z.string().startsWith('/'),
  /** `training-data/<model>/`, used when the input names no prefix. */
  defaultDataPrefix: z.string().startsWith(TRAINING_DATA_PREFIX),
});
export type RetrainSettings = z.infer<typeof retrainSettingsSchema>;

/** The execution's input: `{ "model": "breast-cancer", "dataPrefix"?: "training-data/breast-cancer/" }`. */
export const retrainInputSchema = z.object({
  model: z.string(),
  dataPrefix: z.string().min(1).optional(),
});

/** Execution names become S3 key segments. */
const executionSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,80}$/, 'must be 1-80 letters, digits or _ . : -');

export const gatherEventSchema = z.object({ settings: retrainSettingsSchema, input: retrainInputSchema, execution: executionSchema });
export type GatherEvent = z.infer<typeof gatherEventSchema>;

export const gatheredFileSchema = z.object({ key: z.string(), rows: z.number().int(), accepted: z.number().int(), rejected: z.number().int() });

export const gatherResultSchema = z.object({
  /** Where the data came from: s3://bucket/prefix (locally, the file given). */
  source: z.string(),
  prefix: z.string(),
  files: z.array(gatheredFileSchema),
  /** Objects under the prefix that are not CSV files (.csv, .csv.gz), left out. */
  skipped: z.array(z.string()),
  rowsRead: z.number().int(),
  rowsAccepted: z.number().int(),
  rowsRejected: z.number().int(),
  /** Accepted rows by class label. */
  classCounts: z.record(z.string(), z.number().int()),
  dataKey: z.string(),
  /** sha256 of data.csv. */
  sha256: z.string(),
  /** The rejected rows with their file, row and reason; null when none was rejected. */
  rejectsKey: z.string().nullable(),
  /** The first few rejects, one line each (`<file> row <n>: <reason>`), for the notification. */
  firstRejects: z.array(z.string()),
});
export type GatherResult = z.infer<typeof gatherResultSchema>;

export const trainEventSchema = z.object({ settings: retrainSettingsSchema, execution: executionSchema, data: gatherResultSchema });
export type TrainEvent = z.infer<typeof trainEventSchema>;

export const candidateSchema = z.object({
  version: z.number().int().min(1),
  onnxKey: z.string(),
  cardKey: z.string(),
  /** The candidate's background.json (the sample its explanations use), named in its card's explanation.background. */
  backgroundKey: z.string().nullable().default(null),
  family: z.enum(['logreg', 'mlp']),
  trainSize: z.number().int(),
  testSize: z.number().int(),
  trainingMs: z.number(),
  notes: z.array(z.string()),
});
export type Candidate = z.infer<typeof candidateSchema>;

export const evaluateEventSchema = z.object({ settings: retrainSettingsSchema, execution: executionSchema, data: gatherResultSchema, candidate: candidateSchema });
export type EvaluateEvent = z.infer<typeof evaluateEventSchema>;

export const metricsSchema = z.object({ accuracy: z.number(), macroF1: z.number(), rocAuc: z.number().optional() });
export type HeldOutMetrics = z.infer<typeof metricsSchema>;

/**
 * Both models on the newest labelled production window under the data prefix (a file written by
 * lambdas/core/quality/training-rows/), as the gate's second figure. Its rows are part of the gathered data, so
 * the candidate trained on the share of them in the training split (`trainedOn`): the gate decides on the
 * held-out rows, which neither model saw; this figure says how both do on what production asked lately.
 */
export const productionEvaluationSchema = z.object({
  key: z.string(),
  /** The window of prediction time the file covers, ISO 8601. */
  from: z.string(),
  to: z.string(),
  rows: z.number().int(),
  /** Of `rows`, those in the candidate's training split. */
  trainedOn: z.number().int(),
  candidate: metricsSchema,
  live: metricsSchema,
});
export type ProductionEvaluation = z.infer<typeof productionEvaluationSchema>;

export const evaluationResultSchema = z.object({
  metric: retrainMetricSchema,
  /** The candidate's metric on the held-out rows (rounded to 12 decimals, as is everything the gate compares). */
  candidateScore: z.number(),
  liveScore: z.number(),
  tolerance: z.number(),
  /** liveScore - tolerance: the gate passes when candidateScore >= threshold. */
  threshold: z.number(),
  heldOutRows: z.number().int(),
  candidateVersion: z.number().int(),
  liveVersion: z.number().int(),
  candidate: metricsSchema,
  live: metricsSchema,
  evaluationKey: z.string(),
  /** Both models on the newest labelled production window; null when the data holds no labelled production rows. */
  production: productionEvaluationSchema.nullable().default(null),
  /** The notification sent when the gate rejects the candidate. */
  rejectedMessage: z.string(),
});
export type EvaluationResult = z.infer<typeof evaluationResultSchema>;

export const registerEventSchema = z.object({
  settings: retrainSettingsSchema,
  execution: executionSchema,
  data: gatherResultSchema,
  candidate: candidateSchema,
  evaluation: evaluationResultSchema,
});
export type RegisterEvent = z.infer<typeof registerEventSchema>;

export const registeredSchema = z.object({
  version: z.number().int(),
  /** s3://registry/<model>/<version>/ */
  uri: z.string(),
  parameterName: z.string(),
  message: z.string(),
});
export type Registered = z.infer<typeof registeredSchema>;

/** The work folder of an execution in the data bucket, and its files. */
export function workKeys(execution: string): { prefix: string; data: string; rejects: string; onnx: string; card: string; background: string; evaluation: string } {
  const prefix = `${RETRAIN_WORK_PREFIX}${execution}/`;
  return {
    prefix,
    data: `${prefix}data.csv`,
    rejects: `${prefix}rejects.jsonl`,
    onnx: `${prefix}candidate/model.onnx`,
    card: `${prefix}candidate/model.json`,
    background: `${prefix}candidate/${BACKGROUND_FILE}`,
    evaluation: `${prefix}evaluation.json`,
  };
}

/** Keys of a version in the registry bucket. */
export function registryKeys(model: string, version: number): { prefix: string; onnx: string; card: string; background: string; evaluation: string } {
  const prefix = `${model}/${version}/`;
  return { prefix, onnx: `${prefix}model.onnx`, card: `${prefix}model.json`, background: `${prefix}${BACKGROUND_FILE}`, evaluation: `${prefix}evaluation.json` };
}

/** Fewer labelled rows than retrain.minRows (or no CSV file at all). */
export class NotEnoughData extends Error {
  override readonly name = 'NotEnoughData';
}

/** The data cannot be trained on as it is: a header that is not the live model's columns, a bad prefix. */
export class BadTrainingData extends Error {
  override readonly name = 'BadTrainingData';
}

/** The live model cannot be compared with (no evaluation split on its card, another model's card). */
export class LiveModelMismatch extends Error {
  override readonly name = 'LiveModelMismatch';
}

/** The registry already holds the candidate's version: versions are never overwritten. */
export class VersionExists extends Error {
  override readonly name = 'VersionExists';
}

/** Parses a step's event, naming every field at fault. */
export function parseEvent<T>(schema: z.ZodType<T>, event: unknown, step: string): T {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`);
  const error = new Error(`${step} received an event it cannot use: ${problems.join('; ')}`);
  error.name = 'BadEvent';
  throw error;
}
