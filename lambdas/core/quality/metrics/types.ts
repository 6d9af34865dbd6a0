// The shapes of the quality figures, shared by the metrics core (quality-accumulator.ts), the quality monitor,
// its alerts, the `mlship quality` report and the status page.

/** A proportion with its 95% Wilson score interval (statsmodels proportion_confint(method='wilson')). */
export interface Proportion {
  readonly value: number;
  readonly low: number;
  readonly high: number;
}

export interface ClassFigures {
  readonly label: string;
  /** Labelled predictions whose true class is this one. */
  readonly support: number;
  /** sklearn precision_recall_fscore_support(zero_division=0) for this class. */
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/** One off-diagonal cell of the confusion matrix: `count` predictions of `predicted` whose truth was `actual`. */
export interface Confusion {
  readonly actual: string;
  readonly predicted: string;
  readonly count: number;
}

export interface ClassificationFigures {
  readonly task: 'classification';
  readonly labels: readonly string[];
  readonly accuracy: Proportion;
  readonly perClass: readonly ClassFigures[];
  readonly macroF1: number;
  /** Binary: roc_auc_score on the probability of labels[1]; more classes: one-vs-rest, macro. Undefined without probabilities, or when a class has no positive or no negative. */
  readonly rocAuc?: number;
  /** sklearn log_loss(labels=all classes); undefined without probabilities. */
  readonly logLoss?: number;
  /** confusion[actual][predicted], in `labels` order (sklearn confusion_matrix). */
  readonly confusion: readonly (readonly number[])[];
  /** The largest off-diagonal cells, largest first (at most 3). */
  readonly mostConfused: readonly Confusion[];
}

export interface RegressionFigures {
  readonly task: 'regression';
  readonly mae: number;
  readonly rmse: number;
  /** sklearn r2_score; undefined when every true value is the same. */
  readonly r2?: number;
}

export interface QualityFigures {
  /** Labelled predictions judged. */
  readonly labelled: number;
  /** Predictions made in the window (labelled or not). */
  readonly predictions: number;
  /** labelled / predictions (0 when there were none). */
  readonly coverage: number;
  /** Seconds from prediction to label, numpy percentile(method='linear'); undefined without labels. */
  readonly delaySeconds?: { readonly p50: number; readonly p95: number };
  /** 'not enough labels' below minLabels: then `metrics` is undefined. */
  readonly verdict: 'judged' | 'not enough labels';
  readonly minLabels: number;
  readonly metrics?: ClassificationFigures | RegressionFigures;
}
