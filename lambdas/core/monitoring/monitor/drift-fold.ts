// The drift monitor's part in incremental monitoring (lambdas/core/monitoring/summaries/): a capture line of
// either format is read as rows of the card's features and its predictions, and added to a DriftAccumulator
// over the card's baseline; an hour summary keeps the accumulator's exact state, and hours merge exactly.
import { createHash } from 'node:crypto';
import { captureLineParser, type CapturedBatch } from '../capture/capture-parse';
import { DriftAccumulator, type DriftAccumulatorState } from '../drift/drift-report';
import type { LineFolder } from '../summaries/window-fold';
import type { DriftBaseline, ModelCard } from '../../models/model-card';
import { NoBaselineError } from '../drift/check-file';

/** The drift monitor's summaries: monitor/summaries/drift/... */
export const DRIFT_SUMMARY_KIND = 'drift';

/** Rows staged before they go to the accumulator: one pass per 2,048 rows, not one per line (a line often holds one row). */
const STAGE_ROWS = 2048;

/**
 * A DriftAccumulator fed through a stage: the rows and predictions of many capture lines are copied together
 * and added in blocks, which costs the accumulator's pass a tenth of what one small add per line does. The
 * counts are the same (bins and class counts do not depend on order); `accumulator` adds what is staged first.
 */
export class DriftFold {
  private readonly target: DriftAccumulator;
  private readonly width: number;
  private readonly rows: Float32Array;
  private readonly values: Float32Array;
  private readonly classes: Int32Array;
  private stagedRows = 0;
  private stagedValues = 0;
  private stagedClasses = 0;

  constructor(baseline: DriftBaseline, from?: DriftAccumulator) {
    this.target = from ?? new DriftAccumulator(baseline);
    this.width = baseline.features.length;
    this.rows = new Float32Array(STAGE_ROWS * this.width);
    this.values = new Float32Array(baseline.predictions.kind === 'values' ? STAGE_ROWS : 0);
    this.classes = new Int32Array(baseline.predictions.kind === 'classes' ? STAGE_ROWS : 0);
  }

  /** A batch already checked: its rows, and its predictions of the baseline's kind. */
  add(batch: CapturedBatch): void {
    const { rows, count } = batch;
    if (count > STAGE_ROWS) {
      this.flush();
      this.target.addRows(rows, count);
    } else {
      if (this.stagedRows + count > STAGE_ROWS) this.flushRows();
      this.rows.set(rows.subarray(0, count * this.width), this.stagedRows * this.width);
      this.stagedRows += count;
    }
    const predicted = this.classes.length > 0 ? batch.classIndex : this.values.length > 0 ? batch.values : undefined;
    if (!predicted) return;
    if (predicted.length > STAGE_ROWS) {
      this.flushPredictions();
      if (predicted instanceof Int32Array) this.target.addPredictedClasses(predicted);
      else this.target.addPredictedValues(predicted);
    } else if (predicted instanceof Int32Array) {
      if (this.stagedClasses + predicted.length > STAGE_ROWS) this.flushPredictions();
      this.classes.set(predicted, this.stagedClasses);
      this.stagedClasses += predicted.length;
    } else {
      if (this.stagedValues + predicted.length > STAGE_ROWS) this.flushPredictions();
      this.values.set(predicted, this.stagedValues);
      this.stagedValues += predicted.length;
    }
  }

  /** Everything added so far. */
  get accumulator(): DriftAccumulator {
    this.flush();
    return this.target;
  }

  private flush(): void {
    this.flushRows();
    this.flushPredictions();
  }

  private flushRows(): void {
    if (this.stagedRows > 0) this.target.addRows(this.rows, this.stagedRows);
    this.stagedRows = 0;
  }

  private flushPredictions(): void {
    if (this.stagedClasses > 0) this.target.addPredictedClasses(this.classes.subarray(0, this.stagedClasses));
    if (this.stagedValues > 0) this.target.addPredictedValues(this.values.subarray(0, this.stagedValues));
    this.stagedClasses = 0;
    this.stagedValues = 0;
  }
}

/** Folds a model's capture lines (of its runtime's format) against its card's drift baseline. */
export function driftFolder(runtime: 'lambda' | 'sagemaker', card: ModelCard): LineFolder<DriftFold> {
  const baseline = card.driftBaseline;
  if (!baseline) throw new NoBaselineError(`${card.name} v${card.version} has no drift baseline in its model.json; the monitor has nothing to compare with`);
  const parse = captureLineParser(runtime, card);
  const p = baseline.predictions;
  const classes = p.kind === 'classes' ? p.counts.length : 0;
  // What the counts mean: the baseline's bins, the features and labels, the format read. Another card gives another hash.
  const fingerprint = `sha256:${createHash('sha256').update(JSON.stringify({ runtime, features: card.input.features, labels: card.labels, baseline })).digest('hex')}`;
  return {
    fingerprint,
    empty: () => new DriftFold(baseline),
    save: (fold) => fold.accumulator.state(),
    load: (state) => new DriftFold(baseline, DriftAccumulator.fromState(baseline, state as DriftAccumulatorState)),
    merge: (into, from) => into.accumulator.merge(from.accumulator),
    fold: (fold, line) => {
      const batch = parse(line);
      // Checked before anything is staged, so a line is counted whole or not at all.
      if (classes > 0 && batch.classIndex) {
        for (const c of batch.classIndex) if (!(c >= 0 && c < classes)) throw new RangeError(`predicted class ${c} is outside [0, ${classes})`);
      }
      fold.add(batch);
      return batch.count;
    },
  };
}
