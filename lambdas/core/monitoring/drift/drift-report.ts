// Compares a window of current rows (and the model's predictions on them) with a model's drift baseline:
// accumulate in one pass (DriftAccumulator), then evaluateDrift gives the figures per feature, ranked by PSI,
// the prediction figures, and the model's verdict. Given the card's permutation importance, each feature
// also carries its importance beside its PSI, and a drifting feature among the model's most important is
// flagged: a drifting important feature moves the model's output; a drifting unimportant one matters less.
import type { DriftBaseline, FeatureBaseline } from '../../models/model-card';
import { BinnedColumns, type BinnedColumnsState, type ColumnCounts } from './accumulator';
import {
  chiSquareHomogeneity,
  jensenShannonDistance,
  kolmogorovSmirnovBinned,
  populationStabilityIndex,
  type ChiSquare,
  type KolmogorovSmirnov,
} from './statistics';
import { resolveThresholds, type DriftThresholds } from './thresholds';
import { importanceMeasure } from '../../explain/report/importance-text';

/** What a DriftAccumulator counted, exactly, as JSON keeps it (DriftAccumulator.state, DriftAccumulator.fromState). */
export interface DriftAccumulatorState {
  readonly features: BinnedColumnsState;
  /** Predictions per class (classification baselines). */
  readonly classes?: number[];
  /** The predicted values' counts and moments (regression baselines). */
  readonly values?: BinnedColumnsState;
}

/**
 * Accumulates current rows and predictions against one baseline, in any number of chunks. Accumulators over
 * parts of the data merge exactly (`merge`, `state` and `fromState`): every count is the sum of the parts', so
 * every figure built on counts (PSI, KS, JS, chi-square, the verdict) equals one pass over all the data; the
 * moments are sums around the baseline's mean, equal to one pass's up to the order of floating-point additions.
 */
export class DriftAccumulator {
  readonly features: BinnedColumns;
  private readonly classCounts: Float64Array | undefined;
  private readonly predictedValues: BinnedColumns | undefined;

  constructor(readonly baseline: DriftBaseline) {
    if (baseline.features.length === 0) throw new RangeError('the drift baseline has no features');
    this.features = new BinnedColumns(baseline.features.map((f) => ({ name: f.name, histogram: f.histogram, percentiles: f.percentiles, center: f.mean })));
    const p = baseline.predictions;
    if (p.kind === 'classes') this.classCounts = new Float64Array(p.counts.length);
    else this.predictedValues = new BinnedColumns([{ name: 'prediction', histogram: p.histogram, percentiles: p.percentiles, center: 0 }]);
  }

  /** Row-major rows of the baseline's features, in its feature order. */
  addRows(rows: Float32Array, rowCount?: number): void {
    this.features.add(rows, rowCount);
  }

  /** The predicted class index of rows (classification baselines). */
  addPredictedClasses(classIndex: ArrayLike<number>): void {
    const counts = this.classCounts;
    if (!counts) throw new RangeError('the baseline holds predicted values (regression), not classes');
    // Every index checked before any is counted: a bad one changes nothing.
    for (let i = 0; i < classIndex.length; i++) {
      const c = classIndex[i]!;
      if (!(c >= 0 && c < counts.length) || !Number.isInteger(c)) throw new RangeError(`predicted class ${c} is outside [0, ${counts.length})`);
    }
    for (let i = 0; i < classIndex.length; i++) counts[classIndex[i]!]!++;
  }

  /** The predicted values of rows (regression baselines). */
  addPredictedValues(values: Float32Array): void {
    if (!this.predictedValues) throw new RangeError('the baseline holds predicted classes, not values');
    this.predictedValues.add(values);
  }

  /** Rows added so far. */
  get rows(): number {
    return this.features.rows;
  }

  /** Everything counted so far, exactly (JSON keeps it as it is). */
  state(): DriftAccumulatorState {
    return {
      features: this.features.state(),
      ...(this.classCounts ? { classes: Array.from(this.classCounts) } : {}),
      ...(this.predictedValues ? { values: this.predictedValues.state() } : {}),
    };
  }

  /** Adds what another accumulator over the same baseline counted (its `state()`); throws, changing nothing, on a state of another shape. */
  mergeState(state: DriftAccumulatorState): void {
    const counts = this.classCounts;
    if (counts) {
      const classes = state.classes;
      if (!Array.isArray(classes) || classes.length !== counts.length || !classes.every((c) => Number.isSafeInteger(c) && c >= 0)) {
        throw new RangeError(`the state's predictions are not counts of ${counts.length} classes`);
      }
    } else if (state.values === undefined) {
      throw new RangeError("the state holds no predicted values (the baseline's predictions are values)");
    }
    // Everything checked before anything is added: a state that does not fit changes nothing.
    this.features.checkState(state.features);
    if (this.predictedValues) this.predictedValues.checkState(state.values!);
    this.features.mergeState(state.features);
    if (this.predictedValues) this.predictedValues.mergeState(state.values!);
    if (counts) state.classes!.forEach((c, i) => (counts[i] = counts[i]! + c));
  }

  /** Adds what another accumulator over the same baseline counted. */
  merge(other: DriftAccumulator): void {
    this.mergeState(other.state());
  }

  /** An accumulator holding a state written by `state()`, over the same baseline. */
  static fromState(baseline: DriftBaseline, state: DriftAccumulatorState): DriftAccumulator {
    const accumulator = new DriftAccumulator(baseline);
    accumulator.mergeState(state);
    return accumulator;
  }

  /** Predictions added so far. */
  get predictions(): number {
    if (this.classCounts) return this.classCounts.reduce((s, c) => s + c, 0);
    return this.predictedValues!.rows;
  }

  /** @internal for evaluateDrift */
  predictionCounts(): { kind: 'classes'; counts: number[] } | { kind: 'values'; counts: ColumnCounts } {
    if (this.classCounts) return { kind: 'classes', counts: Array.from(this.classCounts) };
    return { kind: 'values', counts: this.predictedValues!.column(0) };
  }
}

export type Severity = 'stable' | 'moderate' | 'significant';

export interface Moments {
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

/** A histogram of both samples over the same bins (the baseline's deciles), for reports and charts. */
export interface SideBySide {
  /** Interior edges; bins are (-inf, e0], (e0, e1], ..., (e_last, +inf). */
  readonly edges: number[];
  readonly baseline: number[];
  readonly current: number[];
}

export interface KsFigures extends KolmogorovSmirnov {
  /** The bins the statistic was read at: the baseline's 99 percentiles, or its deciles for a card without them. */
  readonly bins: 'percentiles' | 'deciles';
}

export interface FeatureDrift {
  readonly name: string;
  /** Position in the model's feature order. */
  readonly index: number;
  /** 1 for the largest PSI. */
  readonly rank: number;
  /** Finite current values; NaN and infinities are in `nonFinite`, in no bin. */
  readonly count: number;
  readonly nonFinite: number;
  /** null when the feature had no finite values. */
  readonly psi: number | null;
  readonly jsDistance: number | null;
  readonly ks: KsFigures | null;
  readonly severity: Severity;
  /** PSI at or above psiSignificant and the KS test rejecting at alpha, with enough rows. */
  readonly drifting: boolean;
  readonly baseline: Moments;
  readonly current: Moments;
  /** (current mean - baseline mean) / baseline std; null for a constant baseline. */
  readonly meanShiftInStd: number | null;
  readonly histogram: SideBySide;
  /** The feature's permutation importance from the model card; absent when the card has none. */
  readonly importance?: FeatureImportanceFigure;
}

/**
 * A model's permutation feature importance as the model card keeps it (explanation.importance): the mean
 * drop of `metric` on `rows` held-out rows when a feature's column is shuffled, over `repeats` shuffles.
 */
export interface FeatureImportanceInput {
  readonly metric: string;
  readonly repeats: number;
  readonly rows: number;
  readonly features: readonly { readonly name: string; readonly mean: number; readonly std: number }[];
}

/** The most important features, by importance: a drifting one among them is flagged `important`. */
export const IMPORTANT_FEATURES = 5;

export interface FeatureImportanceFigure {
  /** Mean drop of the metric when the feature is permuted; higher is more important. */
  readonly mean: number;
  readonly std: number;
  /** 1 for the most important feature of the model. */
  readonly rank: number;
  /** Among the IMPORTANT_FEATURES most important, with a mean drop above 0. */
  readonly important: boolean;
}

/** What the report says about importance, when the card has it. */
export interface DriftImportance {
  readonly metric: string;
  readonly repeats: number;
  readonly rows: number;
  /** IMPORTANT_FEATURES: how many of the most important features count as important. */
  readonly top: number;
  /** Drifting features that are important, highest PSI first. */
  readonly driftingImportant: string[];
  /** One line for people: which drifting features are important, or that none is. */
  readonly note: string;
}

export type PredictionDrift =
  | {
      readonly kind: 'classes';
      readonly labels: string[];
      readonly baseline: number[];
      readonly current: number[];
      readonly chiSquare: ChiSquare;
      readonly psi: number;
      readonly jsDistance: number;
      /** The chi-square test rejecting at alpha and the JS distance at or above predictionJs, with enough rows. */
      readonly drifting: boolean;
    }
  | {
      readonly kind: 'values';
      readonly histogram: SideBySide;
      readonly ks: KsFigures;
      readonly psi: number;
      readonly jsDistance: number;
      /** The KS test rejecting at alpha and the JS distance at or above predictionJs, with enough rows. */
      readonly drifting: boolean;
    };

export type Verdict = 'drift' | 'no drift' | 'not enough data';

export interface DriftReport {
  readonly verdict: Verdict;
  /** One line saying why, naming the drifting features. */
  readonly summary: string;
  readonly rows: number;
  readonly baselineRows: number;
  readonly thresholds: DriftThresholds;
  /** The drifting features' names, highest PSI first. */
  readonly driftingFeatures: string[];
  /** Drifting features / features. */
  readonly driftShare: number;
  /** Every feature, highest PSI first. */
  readonly features: FeatureDrift[];
  /** Absent when no predictions were added. */
  readonly predictions?: PredictionDrift;
  /** Absent when the model card has no permutation importance. */
  readonly importance?: DriftImportance;
}

export interface EvaluateOptions {
  readonly thresholds?: Partial<DriftThresholds>;
  /** Class labels in class-index order, for the prediction figures. @default the class indices */
  readonly labels?: readonly string[];
  /** The model card's permutation importance (explanation.importance). @default - no importance in the report */
  readonly importance?: FeatureImportanceInput;
}

function severityOf(psi: number, t: DriftThresholds): Severity {
  return psi >= t.psiSignificant ? 'significant' : psi >= t.psiModerate ? 'moderate' : 'stable';
}

function ksFigures(baseline: FeatureBaseline['histogram'], percentiles: FeatureBaseline['percentiles'], current: ColumnCounts): KsFigures {
  if (percentiles && current.percentiles) return { ...kolmogorovSmirnovBinned(percentiles.counts, current.percentiles), bins: 'percentiles' };
  return { ...kolmogorovSmirnovBinned(baseline.counts, current.histogram), bins: 'deciles' };
}

function featureDrift(baseline: FeatureBaseline, index: number, current: ColumnCounts, enough: boolean, t: DriftThresholds): Omit<FeatureDrift, 'rank'> {
  const has = current.count > 0;
  const psi = has ? populationStabilityIndex(baseline.histogram.counts, current.histogram) : null;
  const ks = has ? ksFigures(baseline.histogram, baseline.percentiles, current) : null;
  const severity = psi === null ? 'stable' : severityOf(psi, t);
  return {
    name: baseline.name,
    index,
    count: current.count,
    nonFinite: current.nonFinite,
    psi,
    jsDistance: has ? jensenShannonDistance(baseline.histogram.counts, current.histogram) : null,
    ks,
    severity,
    drifting: enough && current.count >= t.minSampleSize && severity === 'significant' && ks !== null && ks.pValue < t.alpha,
    baseline: { mean: baseline.mean, std: baseline.std, min: baseline.min, max: baseline.max },
    current: { mean: current.mean, std: current.std, min: current.min, max: current.max },
    meanShiftInStd: has && baseline.std > 0 ? (current.mean - baseline.mean) / baseline.std : null,
    histogram: { edges: [...baseline.histogram.edges], baseline: [...baseline.histogram.counts], current: current.histogram },
  };
}

function predictionDrift(baseline: DriftBaseline['predictions'], accumulator: DriftAccumulator, labels: readonly string[] | undefined, enough: boolean, t: DriftThresholds): PredictionDrift | undefined {
  if (accumulator.predictions === 0) return undefined;
  const current = accumulator.predictionCounts();
  if (baseline.kind === 'classes' && current.kind === 'classes') {
    const chiSquare = chiSquareHomogeneity(baseline.counts, current.counts);
    const psi = populationStabilityIndex(baseline.counts, current.counts);
    const jsDistance = jensenShannonDistance(baseline.counts, current.counts);
    return {
      kind: 'classes',
      labels: baseline.counts.map((_, i) => labels?.[i] ?? String(i)),
      baseline: [...baseline.counts],
      current: current.counts,
      chiSquare,
      psi,
      jsDistance,
      drifting: enough && chiSquare.pValue < t.alpha && jsDistance >= t.predictionJs,
    };
  }
  if (baseline.kind === 'values' && current.kind === 'values') {
    const counts = current.counts;
    if (counts.count === 0) return undefined;
    const ks = ksFigures(baseline.histogram, baseline.percentiles, counts);
    const psi = populationStabilityIndex(baseline.histogram.counts, counts.histogram);
    const jsDistance = jensenShannonDistance(baseline.histogram.counts, counts.histogram);
    return {
      kind: 'values',
      histogram: { edges: [...baseline.histogram.edges], baseline: [...baseline.histogram.counts], current: counts.histogram },
      ks,
      psi,
      jsDistance,
      drifting: enough && ks.pValue < t.alpha && jsDistance >= t.predictionJs,
    };
  }
  throw new RangeError(`the baseline's predictions are ${baseline.kind} but ${current.kind} were added`);
}

/** Highest PSI first; then the larger KS statistic; then the model's feature order. A feature with no values goes last. */
function byDrift(a: Omit<FeatureDrift, 'rank'>, b: Omit<FeatureDrift, 'rank'>): number {
  return (b.psi ?? -1) - (a.psi ?? -1) || (b.ks?.statistic ?? -1) - (a.ks?.statistic ?? -1) || a.index - b.index;
}

const figure = (x: number) => (x === 0 ? '0' : Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toFixed(3).replace(/\.?0+$/, '') : x.toExponential(1));

function listNames(names: readonly string[], max = 5): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** Each feature's importance figure by name: rank 1 for the highest mean drop (ties in the card's order). */
export function importanceFigures(importance: FeatureImportanceInput): Map<string, FeatureImportanceFigure> {
  const ranked = importance.features.map((f, i) => ({ ...f, i })).sort((a, b) => b.mean - a.mean || a.i - b.i);
  return new Map(ranked.map((f, r) => [f.name, { mean: f.mean, std: f.std, rank: r + 1, important: r < IMPORTANT_FEATURES && f.mean > 0 }]));
}

function noDriftNote(features: readonly FeatureDrift[], metric: string): string {
  const top = features.filter((f) => f.importance?.important).sort((a, b) => a.importance!.rank - b.importance!.rank);
  return top.length === 0 ? `no feature drifts; no feature's importance (${importanceMeasure(metric)} when shuffled) is above 0` : `no feature drifts; the most important (${importanceMeasure(metric)} when shuffled): ${listNames(top.map((f) => f.name))}`;
}

function driftImportance(importance: FeatureImportanceInput, features: readonly FeatureDrift[]): DriftImportance {
  const important = features.filter((f) => f.drifting && f.importance?.important);
  const drifting = features.filter((f) => f.drifting);
  const unimportant = drifting.length - important.length;
  const note =
    drifting.length === 0
      ? noDriftNote(features, importance.metric)
      : important.length === 0
        ? `none of the ${IMPORTANT_FEATURES} most important features drifts: the ${drifting.length} drifting feature${drifting.length === 1 ? '' : 's'} move${drifting.length === 1 ? 's' : ''} the model's output little`
        : `drifting important feature${important.length === 1 ? '' : 's'}: ${listNames(important.map((f) => `${f.name} (importance #${f.importance!.rank})`))}${unimportant > 0 ? `; ${unimportant} other drifting feature${unimportant === 1 ? ' is' : 's are'} less important` : ''}`;
  return { metric: importance.metric, repeats: importance.repeats, rows: importance.rows, top: IMPORTANT_FEATURES, driftingImportant: important.map((f) => f.name), note };
}

/** The figures and the verdict for what the accumulator has seen. */
export function evaluateDrift(accumulator: DriftAccumulator, options: EvaluateOptions = {}): DriftReport {
  const t = resolveThresholds(options.thresholds);
  const { baseline } = accumulator;
  const rows = accumulator.rows;
  const enough = rows >= t.minSampleSize;
  const importance = options.importance ? importanceFigures(options.importance) : undefined;
  const features = baseline.features
    .map((f, i) => featureDrift(f, i, accumulator.features.column(i), enough, t))
    .sort(byDrift)
    .map((f, i): FeatureDrift => {
      const figure = importance?.get(f.name);
      return { ...f, rank: i + 1, ...(figure ? { importance: figure } : {}) };
    });
  const predictions = predictionDrift(baseline.predictions, accumulator, options.labels, enough, t);
  const driftingFeatures = features.filter((f) => f.drifting).map((f) => f.name);
  const driftShare = driftingFeatures.length / features.length;
  const shareDrifts = driftShare > t.driftShare;
  const predictionsDrift = predictions?.drifting ?? false;
  const verdict: Verdict = !enough ? 'not enough data' : shareDrifts || predictionsDrift ? 'drift' : 'no drift';

  const featurePart = `${driftingFeatures.length} of ${features.length} features drift${driftingFeatures.length > 0 ? ` (${listNames(driftingFeatures)})` : ''}${shareDrifts ? `, more than ${figure(t.driftShare * 100)}%` : ''}`;
  let predictionPart = '';
  if (predictions?.kind === 'classes') {
    predictionPart = `predictions ${predictions.drifting ? 'drift' : 'stable'} (chi-square p ${figure(predictions.chiSquare.pValue)}, JS ${figure(predictions.jsDistance)})`;
  } else if (predictions?.kind === 'values') {
    predictionPart = `predictions ${predictions.drifting ? 'drift' : 'stable'} (KS p ${figure(predictions.ks.pValue)}, JS ${figure(predictions.jsDistance)})`;
  }
  const summary = !enough
    ? `not enough data: ${rows} rows, fewer than the ${t.minSampleSize} needed to judge drift`
    : `${verdict}: ${[featurePart, predictionPart].filter(Boolean).join('; ')}`;

  return {
    verdict,
    summary,
    rows,
    baselineRows: baseline.sampleSize,
    thresholds: t,
    driftingFeatures,
    driftShare,
    features,
    ...(predictions ? { predictions } : {}),
    ...(options.importance ? { importance: driftImportance(options.importance, features) } : {}),
  };
}
