// Evaluation metrics on a held-out split. Pure functions over plain arrays.

export function accuracy(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (actual.length === 0) throw new RangeError('accuracy of zero rows');
  let hits = 0;
  for (let i = 0; i < actual.length; i++) if (actual[i] === predicted[i]) hits++;
  return hits / actual.length;
}

/**
 * ROC AUC for a binary task: the probability that a random positive scores above a random negative
 * (ties count one half). Undefined when only one class is present.
 */
export function rocAuc(actual: ArrayLike<number>, positiveScores: ArrayLike<number>): number | undefined {
  const order = Array.from({ length: actual.length }, (_, i) => i).sort((a, b) => positiveScores[a]! - positiveScores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && positiveScores[order[end + 1]!] === positiveScores[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      if (actual[order[k]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = actual.length - positives;
  if (positives === 0 || negatives === 0) return undefined;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Unweighted mean of per-class F1 over the classes that occur in either the actual or predicted labels. */
export function macroF1(actual: ArrayLike<number>, predicted: ArrayLike<number>, classCount: number): number {
  const tp = new Array<number>(classCount).fill(0);
  const fp = new Array<number>(classCount).fill(0);
  const fn = new Array<number>(classCount).fill(0);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const p = predicted[i]!;
    if (a === p) tp[a]!++;
    else {
      fp[p]!++;
      fn[a]!++;
    }
  }
  let sum = 0;
  let present = 0;
  for (let c = 0; c < classCount; c++) {
    if (tp[c]! + fp[c]! + fn[c]! === 0) continue;
    present++;
    sum += (2 * tp[c]!) / (2 * tp[c]! + fp[c]! + fn[c]!);
  }
  return present === 0 ? 0 : sum / present;
}

export interface RegressionMetrics {
  readonly rmse: number;
  readonly mae: number;
  readonly r2: number;
}

export function regressionMetrics(actual: ArrayLike<number>, predicted: ArrayLike<number>): RegressionMetrics {
  const n = actual.length;
  if (n === 0) throw new RangeError('regression metrics of zero rows');
  let mean = 0;
  for (let i = 0; i < n; i++) mean += actual[i]!;
  mean /= n;
  let sse = 0;
  let sae = 0;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    const e = actual[i]! - predicted[i]!;
    sse += e * e;
    sae += Math.abs(e);
    sst += (actual[i]! - mean) ** 2;
  }
  return { rmse: Math.sqrt(sse / n), mae: sae / n, r2: sst === 0 ? (sse === 0 ? 1 : 0) : 1 - sse / sst };
}
