// Permutation feature importance (Breiman 2001; scikit-learn's sklearn.inspection.permutation_importance):
// shuffle one feature's column of the held-out rows, score the model again, and record how much the metric
// got worse (a drop of accuracy or R2, a rise of log-loss, MAE or RMSE; always positive = worse). Repeated `repeats` times with seeded shuffles; the mean and the standard deviation (numpy's
// np.std, ddof 0, as scikit-learn reports it) of the drop per feature. The model is run through a batch
// predict function (the serving onnxruntime session), all permuted copies of one repeat in as few runs as
// the size cap allows (one run for both shipped models). Checked against scikit-learn's metrics on fixed
// permutations: scripts/reference/permutation-importance.py, test/fixtures/permutation-importance.json.
import type { BatchPrediction } from '../models/inference-session';
import type { Explanation, ImportanceMetric, Task } from '../models/model-card';
import { accuracy, macroF1, regressionMetrics, rocAuc } from '../models/training/metrics';
import { createRandom, shuffleInPlace } from '../models/training/random';

export type { ImportanceMetric };
export type BatchPredict = (rows: Float32Array, count: number) => Promise<BatchPrediction>;

export const IMPORTANCE_REPEATS = 5;
export const IMPORTANCE_SEED = 42;
/** Input values per model run (16 MiB of float32): a repeat's permuted copies are split into runs under it. */
export const MAX_VALUES_PER_RUN = 1 << 22;

/** What the held-out rows truly are: class indices (classifiers) or values (regression). */
export type ImportanceTruth =
  | { readonly kind: 'classes'; readonly classIndex: ArrayLike<number>; readonly classCount: number }
  | { readonly kind: 'values'; readonly values: ArrayLike<number> };

export interface HeldOutRows {
  /** Raw feature values, row-major, `count x featureCount`. */
  readonly rows: Float32Array;
  readonly count: number;
  readonly featureCount: number;
  readonly truth: ImportanceTruth;
}

export interface ImportanceOptions {
  /** @default defaultImportanceMetric(task): logLoss for classifiers, r2 for regression */
  readonly metric?: ImportanceMetric;
  /** Shuffles per feature. @default IMPORTANCE_REPEATS (5) */
  readonly repeats?: number;
  /** @default IMPORTANCE_SEED (42) */
  readonly seed?: number;
  /** @default MAX_VALUES_PER_RUN */
  readonly maxValuesPerRun?: number;
}

export interface ImportanceResult {
  readonly metric: ImportanceMetric;
  readonly repeats: number;
  readonly rows: number;
  readonly seed: number;
  /** The metric on the unpermuted rows. */
  readonly baseline: number;
  /** The drop of every repeat, `repeats x featureCount` row-major (repeat r, feature j at r * featureCount + j). */
  readonly drops: Float64Array;
  /** Mean drop per feature (how much worse the metric got); higher = more important. */
  readonly mean: Float64Array;
  /** Standard deviation of the drop over the repeats (ddof 0). */
  readonly std: Float64Array;
}

/**
 * Log-loss for classifiers, R2 for regression (scikit-learn's default score for regressors). Not accuracy,
 * scikit-learn's default for classifiers: on a held-out split of a hundred rows it moves in steps of one
 * row and only when a prediction crosses the decision boundary, so most features of a good model read 0.
 * On the shipped breast-cancer model (113 held-out rows) accuracy gives 19 of the 30 features an importance
 * <= 0 and 26 a std >= their mean; log-loss (what the built-in families are trained to minimise, scikit-learn's
 * neg_log_loss scorer) sees every probability move: 4 features <= 0, 8 with std >= mean. Digits (359 rows):
 * accuracy 19 of 64 <= 0, log-loss 15 (pixels that are always blank: exactly 0). Pass `metric` for another.
 */
export function defaultImportanceMetric(task: Task): ImportanceMetric {
  return task === 'regression' ? 'r2' : 'logLoss';
}

/** Whether a larger value of the metric is better (the drop is then baseline - permuted; for a loss, permuted - baseline). */
export function higherIsBetter(metric: ImportanceMetric): boolean {
  return metric !== 'mae' && metric !== 'rmse' && metric !== 'logLoss';
}

/** Probabilities are clipped here before the log, as the trainer's log-loss does. */
const LOG_LOSS_FLOOR = 1e-15;

/**
 * The metric of `count` predicted rows starting at row `offset` of `prediction`, against the truth of the
 * held-out rows (row `offset + i` of the prediction is held-out row `i`).
 */
export function scoreRows(metric: ImportanceMetric, prediction: BatchPrediction, offset: number, truth: ImportanceTruth, count: number): number {
  if (truth.kind === 'values') {
    if (metric !== 'r2' && metric !== 'mae' && metric !== 'rmse') throw new RangeError(`metric '${metric}' needs class labels; a regression model is scored by r2, mae or rmse`);
    const m = regressionMetrics(truth.values, prediction.scores.subarray(offset, offset + count));
    return m[metric];
  }
  const { width } = prediction;
  switch (metric) {
    case 'accuracy':
      return accuracy(truth.classIndex, prediction.classIndex.subarray(offset, offset + count));
    case 'logLoss': {
      let sum = 0;
      for (let i = 0; i < count; i++) sum -= Math.log(Math.max(prediction.scores[(offset + i) * width + truth.classIndex[i]!]!, LOG_LOSS_FLOOR));
      return sum / count;
    }
    case 'macroF1':
      return macroF1(truth.classIndex, prediction.classIndex.subarray(offset, offset + count), truth.classCount);
    case 'rocAuc': {
      if (width !== 2) throw new RangeError(`metric 'rocAuc' is for binary classifiers; this model has ${width} classes`);
      const positive = new Float64Array(count);
      for (let i = 0; i < count; i++) positive[i] = prediction.scores[(offset + i) * 2 + 1]!;
      const auc = rocAuc(truth.classIndex, positive);
      if (auc === undefined) throw new RangeError("metric 'rocAuc' needs both classes among the held-out rows");
      return auc;
    }
    default:
      throw new RangeError(`metric '${metric}' is for regression; a classifier is scored by accuracy, logLoss, macroF1 or rocAuc`);
  }
}

/**
 * The seeded shuffles: permutations[r][j] is the row order feature j takes in repeat r (the permuted copy's
 * row i gets column j from row permutations[r][j][i]). One generator, repeats outer, features inner.
 */
export function importancePermutations(count: number, featureCount: number, repeats: number, seed: number): Int32Array[][] {
  const random = createRandom(seed);
  return Array.from({ length: repeats }, () =>
    Array.from({ length: featureCount }, () =>
      Int32Array.from(
        shuffleInPlace(
          Array.from({ length: count }, (_, i) => i),
          random,
        ),
      ),
    ),
  );
}

function checkHeldOut(data: HeldOutRows): void {
  const { rows, count, featureCount, truth } = data;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`permutation importance needs at least one held-out row, received ${count}`);
  if (!Number.isInteger(featureCount) || featureCount < 1 || rows.length !== count * featureCount) {
    throw new RangeError(`rows must hold count x featureCount = ${count} x ${featureCount} values, received ${rows.length}`);
  }
  const truthLength = truth.kind === 'classes' ? truth.classIndex.length : truth.values.length;
  if (truthLength !== count) throw new RangeError(`the truth has ${truthLength} entries for ${count} rows`);
}

/**
 * Permutation importance with the shuffles given (`permutations[r][j]`, as importancePermutations makes
 * them): the reference test feeds scikit-learn's side the same shuffles.
 */
export async function importanceFromPermutations(
  predict: BatchPredict,
  data: HeldOutRows,
  metric: ImportanceMetric,
  permutations: readonly (readonly Int32Array[])[],
  maxValuesPerRun: number = MAX_VALUES_PER_RUN,
): Promise<Omit<ImportanceResult, 'seed'>> {
  checkHeldOut(data);
  const { rows, count, featureCount, truth } = data;
  const repeats = permutations.length;
  if (repeats < 1) throw new RangeError('permutation importance needs at least one repeat');
  permutations.forEach((perRepeat, r) => {
    if (perRepeat.length !== featureCount) throw new RangeError(`permutations[${r}] has ${perRepeat.length} shuffles for ${featureCount} features`);
    perRepeat.forEach((p, j) => {
      if (p.length !== count) throw new RangeError(`permutations[${r}][${j}] has ${p.length} entries for ${count} rows`);
    });
  });
  const sign = higherIsBetter(metric) ? 1 : -1;
  const baseline = scoreRows(metric, await predict(rows.slice(), count), 0, truth, count);
  const copyValues = count * featureCount;
  const copiesPerRun = Math.max(1, Math.min(featureCount, Math.floor(maxValuesPerRun / copyValues)));
  const drops = new Float64Array(repeats * featureCount);
  const buffer = new Float32Array(copiesPerRun * copyValues);
  for (let r = 0; r < repeats; r++) {
    for (let first = 0; first < featureCount; first += copiesPerRun) {
      const copies = Math.min(copiesPerRun, featureCount - first);
      for (let k = 0; k < copies; k++) {
        const j = first + k;
        const copy = buffer.subarray(k * copyValues, (k + 1) * copyValues);
        copy.set(rows);
        const order = permutations[r]![j]!;
        for (let i = 0; i < count; i++) copy[i * featureCount + j] = rows[order[i]! * featureCount + j]!;
      }
      // A fresh array per run: a predict function may keep or transfer what it is given.
      const prediction = await predict(buffer.slice(0, copies * copyValues), copies * count);
      for (let k = 0; k < copies; k++) {
        drops[r * featureCount + first + k] = sign * (baseline - scoreRows(metric, prediction, k * count, truth, count));
      }
    }
  }
  const mean = new Float64Array(featureCount);
  const std = new Float64Array(featureCount);
  for (let j = 0; j < featureCount; j++) {
    let sum = 0;
    for (let r = 0; r < repeats; r++) sum += drops[r * featureCount + j]!;
    mean[j] = sum / repeats;
    let squares = 0;
    for (let r = 0; r < repeats; r++) squares += (drops[r * featureCount + j]! - mean[j]!) ** 2;
    std[j] = Math.sqrt(squares / repeats);
  }
  return { metric, repeats, rows: count, baseline, drops, mean, std };
}

/** Permutation importance of every feature on the held-out rows, with seeded shuffles. */
export async function permutationImportance(predict: BatchPredict, data: HeldOutRows, task: Task, options: ImportanceOptions = {}): Promise<ImportanceResult> {
  checkHeldOut(data);
  const repeats = options.repeats ?? IMPORTANCE_REPEATS;
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a positive integer, received ${repeats}`);
  const seed = options.seed ?? IMPORTANCE_SEED;
  const metric = options.metric ?? defaultImportanceMetric(task);
  const permutations = importancePermutations(data.count, data.featureCount, repeats, seed);
  return { ...(await importanceFromPermutations(predict, data, metric, permutations, options.maxValuesPerRun)), seed };
}

/** The card's explanation.importance for a result, features in the card's order. */
export function importanceCardEntry(result: ImportanceResult, features: readonly string[]): NonNullable<Explanation['importance']> {
  if (features.length !== result.mean.length) throw new RangeError(`${features.length} feature names for ${result.mean.length} importances`);
  return {
    metric: result.metric,
    repeats: result.repeats,
    rows: result.rows,
    seed: result.seed,
    baseline: result.baseline,
    features: features.map((name, j) => ({ name, mean: result.mean[j]!, std: result.std[j]! })),
  };
}
