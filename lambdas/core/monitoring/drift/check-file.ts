// What `mlship drift` computes: a CSV file's rows against a model's drift baseline, the model's predictions
// on them included, in chunks so a large file never needs one huge tensor; with the card's permutation
// importance beside each feature's PSI when the card has it.
import type { Predictor } from '../../serving/model-api';
import { readCsvFile } from '../../common/csv';
import { DriftAccumulator, evaluateDrift, type DriftReport } from './drift-report';
import { driftRowsFromCsv, type DriftRows } from './drift-csv';
import type { DriftThresholds } from './thresholds';

/** Rows per predict call. */
export const DRIFT_CHUNK_ROWS = 8192;

export class NoBaselineError extends Error {
  override readonly name = 'NoBaselineError';
}

export interface FileDrift {
  readonly report: DriftReport;
  /** The file's rows: how many were used and which were left out. */
  readonly data: Omit<DriftRows, 'x'>;
}

export async function driftOfCsvFile(predictor: Predictor, path: string, thresholds: Partial<DriftThresholds> = {}): Promise<FileDrift> {
  const { card } = predictor;
  if (!card.driftBaseline) {
    throw new NoBaselineError(`${card.name} v${card.version} has no drift baseline in its model.json (mlship train writes one; mlship import writes one with --baseline FILE)`);
  }
  const { x, ...data } = driftRowsFromCsv(readCsvFile(path), card.input.features);
  const accumulator = new DriftAccumulator(card.driftBaseline);
  const width = card.input.features.length;
  const regression = card.driftBaseline.predictions.kind === 'values';
  for (let start = 0; start < data.rows; start += DRIFT_CHUNK_ROWS) {
    const count = Math.min(DRIFT_CHUNK_ROWS, data.rows - start);
    const rows = x.subarray(start * width, (start + count) * width);
    accumulator.addRows(rows, count);
    const predicted = await predictor.predict(rows.slice(), count);
    if (regression) accumulator.addPredictedValues(predicted.scores.subarray(0, count));
    else accumulator.addPredictedClasses(predicted.classIndex);
  }
  const importance = card.explanation?.importance;
  return { report: evaluateDrift(accumulator, { thresholds, labels: card.labels, ...(importance ? { importance } : {}) }), data };
}
