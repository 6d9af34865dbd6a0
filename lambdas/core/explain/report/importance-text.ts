// How a permutation importance is said in every view (mlship explain, its HTML report, the drift report, the
// status page): the card stores how much WORSE the held-out metric got when a feature was shuffled, which is
// a drop for a score (accuracy, ROC AUC, macro-F1, R²) and a rise for a loss (log loss, MAE, RMSE).

const NAMES: Readonly<Record<string, string>> = { accuracy: 'accuracy', logLoss: 'log loss', rocAuc: 'ROC AUC', macroF1: 'macro-F1', r2: 'R²', mae: 'MAE', rmse: 'RMSE' };
const LOSSES = new Set(['logLoss', 'mae', 'rmse']);

/** A metric's name for people: 'log loss' for logLoss. */
export function metricName(metric: string): string {
  return NAMES[metric] ?? metric;
}

/** What the importance of a feature is: 'drop in accuracy', 'rise in log loss'. */
export function importanceMeasure(metric: string): string {
  return `${LOSSES.has(metric) ? 'rise' : 'drop'} in ${metricName(metric)}`;
}
