// The drift accumulator's state, written out and merged: what the monitor's hour summaries rest on. A state
// survives JSON exactly (NaN, infinities, -0 too); accumulators over parts of the data merge into the counts of
// one pass over all of it, so every figure built on counts and the verdict are the same.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BinnedColumns, fromExact, toExact } from '../../../../lambdas/core/monitoring/drift/accumulator';
import { featureBaseline } from '../../../../lambdas/core/monitoring/drift/baseline';
import { DriftAccumulator, evaluateDrift, type DriftAccumulatorState } from '../../../../lambdas/core/monitoring/drift/drift-report';
import { modelCardSchema } from '../../../../lambdas/core/models/model-card';
import { createRandom } from '../../../../lambdas/core/models/training/random';
import { BREAST_CANCER_DIR } from '../../../fixtures/breast-cancer-split';

const card = modelCardSchema.parse(JSON.parse(readFileSync(join(BREAST_CANCER_DIR, 'model.json'), 'utf8')));
const baseline = card.driftBaseline!;
const width = baseline.features.length;

/** Rows like the baseline's, the first `shifted` features moved by `by` standard deviations, with a few NaN. */
function rows(count: number, seed: number, shifted = 0, by = 0): Float32Array {
  const random = createRandom(seed);
  const out = new Float32Array(count * width);
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < width; c++) {
      const f = baseline.features[c]!;
      out[i * width + c] = random.next() < 0.002 ? NaN : f.mean + f.std * (random.normal() + (c < shifted ? by : 0));
    }
  }
  return out;
}

const roundTrip = (state: DriftAccumulatorState): DriftAccumulatorState => JSON.parse(JSON.stringify(state)) as DriftAccumulatorState;

describe('DriftAccumulator state and merge', () => {
  it('numbers JSON cannot hold survive as their names', () => {
    for (const x of [0, -0, 1.5e-300, -7, NaN, Infinity, -Infinity, Number.MAX_VALUE]) {
      const back = fromExact(JSON.parse(JSON.stringify(toExact(x))));
      assert.ok(Object.is(back, x), `${x} came back as ${back}`);
    }
    assert.throws(() => fromExact('seven'), /"seven" is not a number/);
  });

  it('a state written out and read back is the same accumulator, bit for bit, an empty one included', () => {
    const a = new DriftAccumulator(baseline);
    assert.deepEqual(DriftAccumulator.fromState(baseline, roundTrip(a.state())).state(), a.state(), 'empty: min +inf, max -inf kept');
    a.addRows(rows(500, 1, 3, 1));
    a.addPredictedClasses(Int32Array.from({ length: 500 }, (_, i) => i % 3 === 0 ? 0 : 1));
    const back = DriftAccumulator.fromState(baseline, roundTrip(a.state()));
    assert.deepEqual(back.state(), a.state());
    assert.deepEqual(evaluateDrift(back, { labels: card.labels }), evaluateDrift(a, { labels: card.labels }));
  });

  it('parts merged give the counts of one pass, in any grouping; the moments agree to rounding', () => {
    const all = rows(3000, 2, 2, 0.8);
    const classes = Int32Array.from({ length: 3000 }, (_, i) => (i * 7) % 2);
    const once = new DriftAccumulator(baseline);
    once.addRows(all);
    once.addPredictedClasses(classes);
    const random = createRandom(5);
    for (let trial = 0; trial < 20; trial++) {
      // cut the rows at random places, fold each part apart, merge them in a random order through JSON
      const cuts = [0, ...Array.from({ length: 1 + Math.floor(random.next() * 6) }, () => Math.floor(random.next() * 3000)), 3000].sort((x, y) => x - y);
      const parts = cuts.slice(1).map((end, i) => {
        const part = new DriftAccumulator(baseline);
        part.addRows(all.subarray(cuts[i]! * width, end * width));
        part.addPredictedClasses(classes.subarray(cuts[i]!, end));
        return roundTrip(part.state());
      });
      parts.sort(() => random.next() - 0.5);
      const merged = new DriftAccumulator(baseline);
      for (const part of parts) merged.mergeState(part);
      const a = merged.state();
      const b = once.state();
      assert.deepEqual([a.features.counts, a.features.finite, a.features.nonFinite, a.features.min, a.features.max, a.classes], [b.features.counts, b.features.finite, b.features.nonFinite, b.features.min, b.features.max, b.classes], `trial ${trial}: counts, min and max exact`);
      const r1 = evaluateDrift(merged, { labels: card.labels });
      const r0 = evaluateDrift(once, { labels: card.labels });
      assert.equal(r1.verdict, r0.verdict);
      assert.deepEqual(r1.features.map((f) => [f.name, f.psi, f.ks, f.jsDistance, f.drifting]), r0.features.map((f) => [f.name, f.psi, f.ks, f.jsDistance, f.drifting]), `trial ${trial}: every figure built on counts is the same`);
      r1.features.forEach((f, i) => {
        const g = r0.features[i]!;
        assert.ok(Math.abs(f.current.mean - g.current.mean) <= 1e-9 * Math.abs(g.current.mean) + 1e-12 && Math.abs(f.current.std - g.current.std) <= 1e-9 * g.current.std, `${f.name}: moments ${f.current.mean} ${f.current.std} vs ${g.current.mean} ${g.current.std}`);
      });
    }
  });

  it('a regression baseline: predicted values merge too', () => {
    const values = featureBaseline('prediction', Array.from({ length: 200 }, (_, i) => i / 10));
    const regression = { ...baseline, predictions: { kind: 'values' as const, histogram: values.histogram, percentiles: values.percentiles } };
    const whole = new DriftAccumulator(regression);
    const merged = new DriftAccumulator(regression);
    for (let part = 0; part < 3; part++) {
      const a = new DriftAccumulator(regression);
      const predicted = Float32Array.from({ length: 100 }, (_, i) => (i + part * 7) / 5);
      a.addRows(rows(100, 10 + part));
      a.addPredictedValues(predicted);
      whole.addRows(rows(100, 10 + part));
      whole.addPredictedValues(predicted);
      merged.mergeState(roundTrip(a.state()));
    }
    assert.deepEqual(merged.state().values!.counts, whole.state().values!.counts);
    assert.equal(evaluateDrift(merged).predictions!.psi, evaluateDrift(whole).predictions!.psi);
  });

  it('a state of another shape is refused and changes nothing', () => {
    const a = new DriftAccumulator(baseline);
    a.addRows(rows(10, 3));
    a.addPredictedClasses(new Int32Array(10));
    const before = a.state();
    const bad = roundTrip(before);
    assert.throws(() => a.mergeState({ ...bad, classes: [1, 2, 3] }), /the state's predictions are not counts of 2 classes/);
    assert.throws(() => a.mergeState({ ...bad, features: { ...bad.features, sum: bad.features.sum.slice(1) } }), /the state's sum holds 29 values, these columns need 30/);
    assert.throws(() => a.mergeState({ ...bad, features: { ...bad.features, finite: bad.features.finite.map(() => 0.5) } }), /counts are not all whole numbers/);
    assert.deepEqual(a.state(), before, 'nothing added');
    const other = new BinnedColumns([{ name: 'x', histogram: { edges: [0, 1], counts: [1, 1, 1] }, center: 0 }]);
    assert.throws(() => other.mergeState(before.features), /the state's counts holds \d+ values, these columns need 3/);
  });

  it('a predicted class out of range is refused before anything is counted', () => {
    const a = new DriftAccumulator(baseline);
    assert.throws(() => a.addPredictedClasses(Int32Array.of(0, 1, 5)), /predicted class 5 is outside \[0, 2\)/);
    assert.equal(a.predictions, 0);
  });
});
