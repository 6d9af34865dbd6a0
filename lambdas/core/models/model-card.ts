// The model card (model.json): the contract between training, serving, releasing and monitoring.
// Written by `mlship train` / `mlship import`, read by the Lambda handler, the local gateway and synth.
import { z } from 'zod';

export const MODEL_CARD_SCHEMA_VERSION = 1;

/** A model version is a positive integer; its folder is models/<name>/<version>/. */
export const modelVersionSchema = z.number().int().min(1);

/** Model names become URL path segments, Lambda function names and CloudWatch dimensions. */
export const modelNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,46}[a-z0-9]$/, 'must be 2-48 lower-case letters, digits or dashes, starting with a letter');

export const taskSchema = z.enum(['binary', 'multiclass', 'regression']);
export type Task = z.infer<typeof taskSchema>;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

export const inputContractSchema = z.object({
  /** Name of the ONNX graph input tensor. */
  tensorName: z.string().min(1),
  /** Only float32 inputs for now: every built-in family and most exported tabular/image models. */
  dtype: z.literal('float32'),
  /** ONNX input shape; -1 marks the dynamic batch dimension. The batch dimension comes first. */
  shape: z.array(z.number().int()),
  /** Ordered feature names, one per column of the flattened input row. */
  features: z.array(z.string().min(1)).min(1),
  /** For image models: a request may send an instance as height x width nested arrays. */
  image: z.object({ height: z.number().int().min(1), width: z.number().int().min(1) }).optional(),
});
export type InputContract = z.infer<typeof inputContractSchema>;

export const outputContractSchema = z.object({
  /**
   * Output tensor with per-class scores, shape [N, classes] (classification), or the predicted value,
   * shape [N] or [N, 1] (regression).
   */
  scoresTensor: z.string().min(1),
  /** What the scores are: probabilities (sum to 1), logits (softmax applied when serving), or a value. */
  scoresKind: z.enum(['probabilities', 'logits', 'value']),
  /** Optional output tensor with the predicted class index (int64); informational, serving uses argmax. */
  labelTensor: z.string().min(1).optional(),
});
export type OutputContract = z.infer<typeof outputContractSchema>;

export const evaluationSchema = z.object({
  /** How the held-out split was made, so it can be made again (the retraining gate uses the same split). */
  split: z.object({ strategy: z.enum(['stratified', 'random', 'provided']), testFraction: z.number(), seed: z.number().int() }),
  trainSize: z.number().int().min(0),
  testSize: z.number().int().min(1),
  accuracy: z.number().min(0).max(1).optional(),
  /** Binary tasks. */
  rocAuc: z.number().min(0).max(1).optional(),
  /** Multiclass tasks. */
  macroF1: z.number().min(0).max(1).optional(),
  /** Regression tasks. */
  rmse: z.number().min(0).optional(),
  mae: z.number().min(0).optional(),
  r2: z.number().optional(),
});
export type Evaluation = z.infer<typeof evaluationSchema>;

/**
 * A histogram over quantile bins: `edges` are the k-1 interior cut points (ascending, deduplicated),
 * `counts` the k counts of bins (-inf, e0], (e0, e1], ..., (e_{k-2}, +inf).
 */
export const histogramSchema = z
  .object({ edges: z.array(finite), counts: z.array(z.number().int().min(0)) })
  .refine((h) => h.counts.length === h.edges.length + 1, 'counts must have one more entry than edges');
export type Histogram = z.infer<typeof histogramSchema>;

export const featureBaselineSchema = z.object({
  name: z.string(),
  mean: finite,
  std: finite,
  min: finite,
  max: finite,
  histogram: histogramSchema,
  /**
   * A finer histogram over (up to) the 99 interior percentiles, for the Kolmogorov–Smirnov test: its cumulative
   * counts are the baseline's empirical CDF at every edge. Cards written before it existed have none; the
   * KS test then uses `histogram`, with a coarser resolution (lambdas/core/monitoring/drift/statistics.ts).
   */
  percentiles: histogramSchema.optional(),
});
export type FeatureBaseline = z.infer<typeof featureBaselineSchema>;

export const driftBaselineSchema = z.object({
  sampleSize: z.number().int().min(1),
  features: z.array(featureBaselineSchema),
  /** Classification: counts per class label, in `labels` order. Regression: a histogram of predicted values. */
  predictions: z.union([
    z.object({ kind: z.literal('classes'), counts: z.array(z.number().int().min(0)) }),
    z.object({ kind: z.literal('values'), histogram: histogramSchema, percentiles: histogramSchema.optional() }),
  ]),
});
export type DriftBaseline = z.infer<typeof driftBaselineSchema>;

export const goldenCaseSchema = z.object({
  input: z.array(finite),
  /** Expected label (classification) and per-class probabilities, or the expected value (regression). */
  expected: z.object({ label: z.string().optional(), probabilities: z.array(finite).optional(), value: finite.optional() }),
});
export type GoldenCase = z.infer<typeof goldenCaseSchema>;

/**
 * How a permuted feature's effect on the held-out split is scored. Higher is better for accuracy, rocAuc,
 * macroF1 and r2; logLoss, mae and rmse are losses. The importance is always how much WORSE the metric got
 * (a drop of a score, a rise of a loss), so higher = more important for every metric.
 */
export const importanceMetricSchema = z.enum(['accuracy', 'logLoss', 'rocAuc', 'macroF1', 'r2', 'mae', 'rmse']);
export type ImportanceMetric = z.infer<typeof importanceMetricSchema>;

export const explanationSchema = z
  .object({
    /** A small sample of training rows that explanations compare an instance with (the "absent" feature values). */
    background: z
      .object({
        file: z.literal('background.json').describe('file beside model.json: {"features": [...], "rows": [[...], ...]}'),
        rows: z.number().int().min(1).describe('rows in the file'),
        sha256: z.string().regex(/^[0-9a-f]{64}$/).describe('sha256 (hex) of the file; a file that does not match is refused'),
        seed: z.number().int().describe('seed of the sample'),
        source: z.string().min(1).describe('where the rows came from, e.g. "100 of the 456 training-split rows, seeded sample"'),
      })
      .describe('the background sample (lambdas/core/explain/background.ts)'),
    /** Permutation feature importance on the held-out split (the card's evaluation split). */
    importance: z
      .object({
        metric: importanceMetricSchema.describe('the metric: logLoss for classifiers and r2 for regression unless chosen otherwise'),
        repeats: z.number().int().min(1).describe('shuffles per feature'),
        rows: z.number().int().min(1).describe('held-out rows used'),
        seed: z.number().int().describe('seed of the shuffles'),
        baseline: finite.describe('the metric on the unpermuted held-out rows (a loss stated as the loss itself)'),
        features: z
          .array(z.object({ name: z.string().min(1), mean: finite, std: finite.refine((v) => v >= 0, 'must be >= 0') }))
          .describe("in the card's feature order; mean (std over the repeats, ddof 0) of how much worse the metric got when the feature was shuffled (a score's drop, a loss's rise); higher = more important"),
      })
      .optional()
      .describe('left out when there were no labelled held-out rows (an import without a label column)'),
  })
  .describe('what explanations need, written by mlship train and mlship import; cards written before it existed have none');
export type Explanation = z.infer<typeof explanationSchema>;

export const modelCardSchema = z
  .object({
    schemaVersion: z.literal(MODEL_CARD_SCHEMA_VERSION),
    name: modelNameSchema,
    version: modelVersionSchema,
    task: taskSchema,
    /** logreg | mlp for built-in families, imported for `mlship import`. */
    family: z.enum(['logreg', 'mlp', 'imported']),
    createdAt: z.iso.datetime(),
    onnx: z.object({ file: z.literal('model.onnx'), sha256: z.string().regex(/^[0-9a-f]{64}$/), opset: z.number().int() }),
    trainingData: z.object({ file: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), rows: z.number().int() }).optional(),
    input: inputContractSchema,
    output: outputContractSchema,
    /** Class labels in score-column order; empty for regression. */
    labels: z.array(z.string().min(1)),
    /** Training hyper-parameters, for the record. */
    training: z.record(z.string(), z.unknown()).optional(),
    evaluation: evaluationSchema.optional(),
    driftBaseline: driftBaselineSchema.optional(),
    /** Background sample and global importance for explanations (issue 19); older cards have none. */
    explanation: explanationSchema.optional(),
    golden: z.array(goldenCaseSchema),
    /** Largest absolute difference in a probability or value that still counts as reproducing a golden case. */
    goldenTolerance: z.number().min(0).default(1e-4),
  })
  .superRefine((card, ctx) => {
    const width = card.input.features.length;
    if (card.input.image && card.input.image.height * card.input.image.width !== width) {
      ctx.addIssue({ code: 'custom', path: ['input', 'image'], message: `height x width must equal the ${width} features` });
    }
    if (card.task === 'regression' ? card.labels.length !== 0 : card.labels.length < 2) {
      ctx.addIssue({ code: 'custom', path: ['labels'], message: card.task === 'regression' ? 'must be empty for regression' : 'needs at least 2 class labels' });
    }
    if ((card.task === 'regression') !== (card.output.scoresKind === 'value')) {
      ctx.addIssue({ code: 'custom', path: ['output', 'scoresKind'], message: `'value' goes with task regression, not ${card.task}` });
    }
    const importance = card.explanation?.importance;
    if (importance && importance.features.map((f) => f.name).join('\n') !== card.input.features.join('\n')) {
      ctx.addIssue({ code: 'custom', path: ['explanation', 'importance', 'features'], message: `must name the ${width} input features in order` });
    }
    card.golden.forEach((g, i) => {
      if (g.input.length !== width) {
        ctx.addIssue({ code: 'custom', path: ['golden', i, 'input'], message: `must have ${width} values, has ${g.input.length}` });
      }
    });
  });
export type ModelCard = z.infer<typeof modelCardSchema>;
export type ModelCardInput = z.input<typeof modelCardSchema>;
