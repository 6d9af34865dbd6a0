// The drift baseline written into model.json: per feature summary statistics and a histogram over the
// training data's quantile bins, and the distribution of the model's own predictions on that data.
// The drift monitor bins live inputs with the same edges (histogramCounts) and compares the counts
// (lambdas/core/monitoring/drift/): PSI and Jensen–Shannon over the decile histogram, Kolmogorov–Smirnov over the
// percentile one, whose cumulative counts are the baseline's empirical CDF at 99 points.
import type { DriftBaseline, FeatureBaseline, Histogram } from '../../models/model-card';
import type { Matrix } from '../../models/training/matrix';

/** Quantile bins per feature: 10 gives the 9 interior deciles as edges. */
export const DEFAULT_BASELINE_BINS = 10;

/** Bins of the finer histogram kept for the KS test: 100 gives the 99 interior percentiles as edges. */
export const PERCENTILE_BINS = 100;

/**
 * The q-quantile of sorted values as the lower order statistic (numpy's method 'lower'): always an observed
 * value, so a feature with a few discrete values (pixel intensities, flags) gets one bin per value and no
 * empty bins between them, where interpolation would invent edges like 2.4 between 0 and 8.
 */
function quantileSorted(sorted: Float64Array, q: number): number {
  return sorted[Math.floor((sorted.length - 1) * q + 1e-9)]!;
}

/**
 * The bins-1 interior quantiles (at 1/bins, 2/bins, ...) of the finite values, ascending with duplicates
 * removed: a feature with few distinct values gets fewer, wider bins. Empty when there are no values.
 */
export function quantileEdges(values: ArrayLike<number>, bins = DEFAULT_BASELINE_BINS): number[] {
  if (!Number.isInteger(bins) || bins < 2) throw new RangeError(`bins must be an integer of at least 2, received ${bins}`);
  const sorted = Float64Array.from(Array.from(values).filter(Number.isFinite)).sort();
  if (sorted.length === 0) return [];
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const edge = quantileSorted(sorted, i / bins);
    if (edges.length === 0 || edge > edges[edges.length - 1]!) edges.push(edge);
  }
  return edges;
}

/**
 * Counts values into the edges.length + 1 bins (-inf, e0], (e0, e1], ..., (e_last, +inf).
 * `edges` must be ascending. NaN values are not counted.
 */
export function histogramCounts(values: ArrayLike<number>, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    // first edge >= v
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (edges[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    counts[lo]!++;
  }
  return counts;
}

/** Quantile edges from the values, and the values' counts in them. */
export function quantileHistogram(values: ArrayLike<number>, bins = DEFAULT_BASELINE_BINS): Histogram {
  const edges = quantileEdges(values, bins);
  return { edges, counts: histogramCounts(values, edges) };
}

/** Mean, population standard deviation, min, max, the quantile histogram and the percentile histogram of one feature. */
export function featureBaseline(name: string, values: ArrayLike<number>, bins = DEFAULT_BASELINE_BINS): FeatureBaseline {
  const n = values.length;
  if (n === 0) throw new RangeError(`feature '${name}': no values to build a baseline from`);
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (values[i]! - mean) ** 2;
  return { name, mean, std: Math.sqrt(squares / n), min, max, histogram: quantileHistogram(values, bins), percentiles: quantileHistogram(values, PERCENTILE_BINS) };
}

export type PredictionSample =
  /** Classification: the predicted class index of every row. */
  | { readonly kind: 'classes'; readonly classIndex: ArrayLike<number>; readonly classCount: number }
  /** Regression: the predicted value of every row. */
  | { readonly kind: 'values'; readonly values: ArrayLike<number> };

export interface DriftBaselineInput {
  /** The baseline rows (the training split for built-in models), raw features. */
  readonly x: Matrix;
  /** Feature names, one per column of x. */
  readonly features: readonly string[];
  /** The model's predictions on the same rows. */
  readonly predictions: PredictionSample;
  /** @default 10 */
  readonly bins?: number;
}

export function buildDriftBaseline(input: DriftBaselineInput): DriftBaseline {
  const { x, features, predictions } = input;
  const bins = input.bins ?? DEFAULT_BASELINE_BINS;
  if (features.length !== x.cols) throw new RangeError(`${features.length} feature names for ${x.cols} columns`);
  if (x.rows === 0) throw new RangeError('a drift baseline needs at least one row');
  const column = new Float64Array(x.rows);
  const featureBaselines = features.map((name, c) => {
    for (let r = 0; r < x.rows; r++) column[r] = x.data[r * x.cols + c]!;
    return featureBaseline(name, column, bins);
  });
  let predictionBaseline: DriftBaseline['predictions'];
  if (predictions.kind === 'classes') {
    const counts = new Array<number>(predictions.classCount).fill(0);
    for (let i = 0; i < predictions.classIndex.length; i++) {
      const c = predictions.classIndex[i]!;
      if (!Number.isInteger(c) || c < 0 || c >= predictions.classCount) throw new RangeError(`predicted class ${c} is outside [0, ${predictions.classCount})`);
      counts[c]!++;
    }
    predictionBaseline = { kind: 'classes', counts };
  } else {
    predictionBaseline = { kind: 'values', histogram: quantileHistogram(predictions.values, bins), percentiles: quantileHistogram(predictions.values, PERCENTILE_BINS) };
  }
  return { sampleSize: x.rows, features: featureBaselines, predictions: predictionBaseline };
}
