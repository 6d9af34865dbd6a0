import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDriftBaseline, featureBaseline, histogramCounts, quantileEdges } from '../../../../lambdas/core/monitoring/drift/baseline';
import { driftBaselineSchema, type FeatureBaseline } from '../../../../lambdas/core/models/model-card';
import { matrixFromRows } from '../../../../lambdas/core/models/training/matrix';

describe('histogramCounts', () => {
  it('counts into (-inf, e0], (e0, e1], ..., (e_last, +inf): a value on an edge falls in the bin to its left', () => {
    assert.deepEqual(histogramCounts([0, 1, 1.5, 2, 3, -5, 99], [1, 2]), [3, 2, 2]);
    assert.deepEqual(histogramCounts([1, 2, 3], []), [3]);
    assert.deepEqual(histogramCounts([Number.NaN, 1], [0]), [0, 1], 'NaN is not counted');
  });
});

describe('quantileEdges', () => {
  it('gives the 9 interior deciles as observed values (numpy.quantile method lower), ten equal bins', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    const edges = quantileEdges(values);
    assert.deepEqual(edges, [10, 20, 30, 40, 50, 60, 70, 80, 90]);
    assert.deepEqual(histogramCounts(values, edges), Array(10).fill(10));
    assert.deepEqual(quantileEdges(Array.from({ length: 11 }, (_, i) => i)), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('removes duplicate edges, so a feature with few distinct values gets fewer bins', () => {
    const pixels = [...Array(70).fill(0), ...Array(20).fill(8), ...Array(10).fill(16)];
    const edges = quantileEdges(pixels);
    assert.deepEqual(edges, [0, 8]);
    assert.deepEqual(histogramCounts(pixels, edges), [70, 20, 10]);
    assert.deepEqual(quantileEdges([5, 5, 5]), [5]);
  });
});

describe('buildDriftBaseline', () => {
  const x = matrixFromRows([
    [1, 10],
    [2, 10],
    [3, 10],
    [4, 10],
  ]);

  it('summarises every feature and counts predicted classes; the result fits the model card schema', () => {
    const baseline = buildDriftBaseline({ x, features: ['a', 'b'], predictions: { kind: 'classes', classIndex: [0, 2, 2, 1], classCount: 3 } });
    assert.equal(baseline.sampleSize, 4);
    const a = baseline.features[0]!;
    assert.deepEqual([a.name, a.mean, a.min, a.max], ['a', 2.5, 1, 4]);
    assert.ok(Math.abs(a.std - Math.sqrt(1.25)) < 1e-12, 'population standard deviation');
    assert.equal(a.histogram.counts.reduce((s, c) => s + c, 0), 4);
    assert.deepEqual(baseline.features[1]!.histogram, { edges: [10], counts: [4, 0] });
    assert.deepEqual(baseline.predictions, { kind: 'classes', counts: [1, 1, 2] });
    assert.ok(driftBaselineSchema.safeParse(baseline).success);
  });

  it('keeps a histogram of predicted values for regression', () => {
    const baseline = buildDriftBaseline({ x, features: ['a', 'b'], predictions: { kind: 'values', values: [0.5, 1.5, 2.5, 3.5] }, bins: 2 });
    assert.deepEqual(baseline.predictions, { kind: 'values', histogram: { edges: [1.5], counts: [2, 2] }, percentiles: { edges: [0.5, 1.5, 2.5], counts: [1, 1, 1, 1] } });
  });

  it('keeps a percentile histogram per feature for the KS test: 99 edges for continuous values, one per value for few distinct ones', () => {
    const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
    const wide = featureBaseline('wide', values);
    assert.equal(wide.percentiles!.edges.length, 99);
    assert.deepEqual(wide.percentiles!.edges.slice(0, 3), [9, 19, 29]);
    assert.deepEqual(wide.percentiles!.counts, Array(100).fill(10));
    // the deciles are among the percentiles, so one pass over the finer bins gives both histograms' counts
    assert.ok(wide.histogram.edges.every((e) => wide.percentiles!.edges.includes(e)), 'decile edges are percentile edges');
    const flags = featureBaseline('flag', [0, 0, 0, 1, 1]);
    assert.deepEqual(flags.percentiles, { edges: [0, 1], counts: [3, 2, 0] });
  });

  it('a card written before percentiles existed still validates', () => {
    const old: Partial<FeatureBaseline> = featureBaseline('a', [1, 2, 3]);
    delete old.percentiles;
    assert.ok(driftBaselineSchema.safeParse({ sampleSize: 3, features: [old], predictions: { kind: 'classes', counts: [3] } }).success, 'no percentiles');
  });

  it('rejects a mismatch between names and columns, and a predicted class outside the labels', () => {
    assert.throws(() => buildDriftBaseline({ x, features: ['a'], predictions: { kind: 'classes', classIndex: [0, 0, 0, 0], classCount: 2 } }), /1 feature names for 2 columns/);
    assert.throws(() => buildDriftBaseline({ x, features: ['a', 'b'], predictions: { kind: 'classes', classIndex: [0, 0, 0, 5], classCount: 2 } }), /predicted class 5 is outside \[0, 2\)/);
    assert.throws(() => featureBaseline('empty', []), /feature 'empty': no values/);
  });
});
