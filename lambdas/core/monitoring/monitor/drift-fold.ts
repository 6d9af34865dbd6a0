// The drift monitor's part in incremental monitoring (lambdas/core/monitoring/summaries/): a capture line of
// either format is read as rows of the card's features and its predictions, and added to a DriftAccumulator
// over the card's baseline; an hour summary keeps the accumulator's exact state, and hours merge exactly.
import { createHash } from 'node:crypto';
import { captureLineParser } from '../capture/capture-parse';
import { DriftAccumulator, type DriftAccumulatorState } from '../drift/drift-report';
import type { LineFolder } from '../summaries/window-fold';
import type { ModelCard } from '../../models/model-card';
import { NoBaselineError } from '../drift/check-file';

/** The drift monitor's summaries: monitor/summaries/drift/... */
export const DRIFT_SUMMARY_KIND = 'drift';

/** Folds a model's capture lines (of its runtime's format) against its card's drift baseline. */
export function driftFolder(runtime: 'lambda' | 'sagemaker', card: ModelCard): LineFolder<DriftAccumulator> {
  const baseline = card.driftBaseline;
  if (!baseline) throw new NoBaselineError(`${card.name} v${card.version} has no drift baseline in its model.json; the monitor has nothing to compare with`);
  const parse = captureLineParser(runtime, card);
  const p = baseline.predictions;
  const classes = p.kind === 'classes' ? p.counts.length : 0;
  // What the counts mean: the baseline's bins, the features and labels, the format read. Another card gives another hash.
  const fingerprint = `sha256:${createHash('sha256').update(JSON.stringify({ runtime, features: card.input.features, labels: card.labels, baseline })).digest('hex')}`;
  return {
    fingerprint,
    empty: () => new DriftAccumulator(baseline),
    save: (accumulator) => accumulator.state(),
    load: (state) => DriftAccumulator.fromState(baseline, state as DriftAccumulatorState),
    merge: (into, from) => into.merge(from),
    fold: (accumulator, line) => {
      const batch = parse(line);
      // Checked before anything is added, so a line is counted whole or not at all.
      if (classes > 0 && batch.classIndex) {
        for (const c of batch.classIndex) if (!(c >= 0 && c < classes)) throw new RangeError(`predicted class ${c} is outside [0, ${classes})`);
      }
      accumulator.addRows(batch.rows, batch.count);
      if (classes > 0 && batch.classIndex) accumulator.addPredictedClasses(batch.classIndex);
      if (classes === 0 && batch.values) accumulator.addPredictedValues(batch.values);
      return batch.count;
    },
  };
}
