// The quality metrics core over 1,000,000 labelled predictions (issue 17's benchmark is the join and the
// metrics over 1M predictions and 1M labels in under 2 s on 2 cores; this is the metrics' share): adding
// every row to a QualityAccumulator, then every figure (ROC AUC's sorts and the delay percentiles included),
// vs one pass summing the same typed arrays. Breast-cancer's shape (2 classes) and digits' (10 classes).
// Run alone: node --import tsx bench/quality/quality-metrics.ts [--quick]
import { pathToFileURL } from 'node:url';
import type { Row } from '../run';
import { QualityAccumulator, qualityFigures } from '../../lambdas/core/quality/metrics/quality-accumulator';
import type { ClassificationFigures } from '../../lambdas/core/quality/metrics/types';
import { createRandom } from '../../lambdas/core/models/training/random';

const ROWS = 1_000_000;
/** A quarter of the join-and-metrics goal (2 s): the rest is for reading and joining. */
const TARGET_MS = 500;

interface Labelled {
  readonly labels: string[];
  readonly truth: Uint8Array;
  readonly predicted: Uint8Array;
  readonly probabilities: Float32Array;
  readonly delays: Float32Array;
}

/** Seeded rows of a classifier that is right about 9 times in 10, probabilities summing to 1, delays of minutes to days. */
function labelledRows(classes: number, seed: number): Labelled {
  const { next } = createRandom(seed);
  const truth = new Uint8Array(ROWS);
  const predicted = new Uint8Array(ROWS);
  const probabilities = new Float32Array(ROWS * classes);
  const delays = new Float32Array(ROWS);
  const row = new Float64Array(classes);
  for (let i = 0; i < ROWS; i++) {
    const t = Math.floor(next() * classes);
    truth[i] = t;
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += row[c] = next() ** 3 + (c === t ? 1.2 * next() : 0);
    let best = 0;
    for (let c = 0; c < classes; c++) {
      probabilities[i * classes + c] = row[c]! / sum;
      if (row[c]! > row[best]!) best = c;
    }
    predicted[i] = best;
    delays[i] = Math.exp(4 + next() * 8);
  }
  return { labels: Array.from({ length: classes }, (_, c) => `class-${c}`), truth, predicted, probabilities, delays };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(name: string, data: Labelled, rounds: number): Row {
  const k = data.labels.length;
  const metricsTimes: number[] = [];
  const sumTimes: number[] = [];
  let checksum = 0;
  for (let round = 0; round < rounds; round++) {
    let started = performance.now();
    let sum = 0;
    for (let i = 0; i < ROWS; i++) {
      sum += data.truth[i]! + data.predicted[i]! + data.delays[i]!;
      for (let c = 0, at = i * k; c < k; c++) sum += data.probabilities[at + c]!;
    }
    sumTimes.push(performance.now() - started);
    checksum += sum;

    started = performance.now();
    const acc = QualityAccumulator.forClassifier(data.labels);
    // As the join adds them: the row by its offset, no subarray per row; room for every row at once.
    acc.reserve(ROWS);
    for (let i = 0; i < ROWS; i++) acc.addClassifiedAt(data.truth[i]!, data.predicted[i]!, data.probabilities, i * k, data.delays[i]!);
    const figures = qualityFigures(acc, { minLabels: 100, predictions: ROWS });
    metricsTimes.push(performance.now() - started);
    const metrics = figures.metrics as ClassificationFigures;
    if (figures.labelled !== ROWS || metrics.rocAuc === undefined || metrics.logLoss === undefined) throw new Error(`${name}: the figures are incomplete`);
  }
  if (!Number.isFinite(checksum)) throw new Error('the baseline sum is not finite');
  const ms = median(metricsTimes);
  const raw = median(sumTimes);
  return {
    figure: `quality metrics, ${ROWS / 1e6}M labelled predictions, ${name} (${k} classes): add + every figure`,
    value: `${ms.toFixed(0)} ms`,
    baseline: `${raw.toFixed(1)} ms summing the same typed arrays`,
    ratio: ms / raw,
    target: `< ${TARGET_MS} ms`,
    ok: ms < TARGET_MS,
  };
}

export async function qualityMetricsBench(options: { readonly quick?: boolean } = {}): Promise<Row[]> {
  const rounds = options.quick ? 3 : 7;
  return [measure("breast-cancer's shape", labelledRows(2, 17), rounds), measure("digits' shape", labelledRows(10, 18), rounds)];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await qualityMetricsBench({ quick: process.argv.includes('--quick') })) console.log(JSON.stringify(row));
}
