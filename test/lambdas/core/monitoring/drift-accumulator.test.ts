import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { featureBaseline, histogramCounts, quantileHistogram } from '../../../../lambdas/core/monitoring/drift/baseline';
import { BinnedColumns } from '../../../../lambdas/core/monitoring/drift/accumulator';
import { createRandom } from '../../../../lambdas/core/models/training/random';

describe('BinnedColumns', () => {
  it('counts as histogramCounts does, with the edges in float32, across thousands of random values and edge sets', () => {
    const random = createRandom(11);
    for (let trial = 0; trial < 40; trial++) {
      // edges from data with few distinct values (ties, values on the edges) or continuous, sometimes skewed
      const discrete = trial % 2 === 0;
      const draw = () => (discrete ? Math.round(random.next() * 12) : Math.exp(random.normal() * (1 + (trial % 3))) * 10);
      const training = Array.from({ length: 300 }, draw);
      const base = featureBaseline('x', training);
      const current = Float32Array.from({ length: 5000 }, () => (random.next() < 0.02 ? draw() * 50 - 100 : draw()));
      const columns = new BinnedColumns([{ name: 'x', histogram: base.histogram, percentiles: base.percentiles, center: base.mean }]);
      columns.add(current);
      const counts = columns.column(0);
      assert.deepEqual(counts.histogram, histogramCounts(current, base.histogram.edges.map(Math.fround)), `trial ${trial}: decile counts`);
      assert.deepEqual(counts.percentiles, histogramCounts(current, base.percentiles!.edges.map(Math.fround)), `trial ${trial}: percentile counts`);
    }
  });

  it('puts a value equal to an edge in the bin to its left, though the float32 value is not the decimal one', () => {
    // 10.26 in float32 is 10.260000228881836, above the double 10.26: compared with the double edge it would move right
    assert.ok(Math.fround(10.26) > 10.26, 'the premise');
    const columns = new BinnedColumns([{ name: 'r', histogram: { edges: [10.26, 11.43], counts: [1, 1, 1] }, center: 11 }]);
    columns.add(Float32Array.of(10.26, 11.43, 10.3, 12));
    assert.deepEqual(columns.column(0).histogram, [1, 2, 1]);
  });

  it('gives the same counts and moments for one chunk or many, and one row at a time', () => {
    const random = createRandom(3);
    const histogram = quantileHistogram(Array.from({ length: 200 }, () => random.normal()));
    const spec = [
      { name: 'a', histogram, center: 0 },
      { name: 'b', histogram, center: 1000 },
    ];
    const rows = Float32Array.from({ length: 2 * 5000 }, (_, i) => (i % 2 === 0 ? random.normal() : 1000 + random.normal() * 0.001));
    const once = new BinnedColumns(spec);
    once.add(rows);
    const pieces = new BinnedColumns(spec);
    for (let r = 0; r < 5000; r += 777) pieces.add(rows.subarray(r * 2, Math.min(5000, r + 777) * 2));
    const single = new BinnedColumns(spec);
    for (let r = 0; r < 5000; r++) single.add(rows.subarray(r * 2, r * 2 + 2), 1);
    for (const c of [0, 1]) {
      for (const [other, how] of [[pieces, 'chunks of 777'], [single, 'one row at a time']] as const) {
        const { mean, std, ...counts } = other.column(c);
        const { mean: m0, std: s0, ...counts0 } = once.column(c);
        assert.deepEqual(counts, counts0, `column ${c}, ${how}: counts, min and max are exact`);
        assert.ok(Math.abs(mean - m0) < 1e-12 && Math.abs(std - s0) < 1e-12, `column ${c}, ${how}: moments equal but for summation order (${mean} ${std} vs ${m0} ${s0})`);
      }
    }
    assert.equal(once.rows, 5000);
    // moments against a direct two-pass computation
    const b = Array.from({ length: 5000 }, (_, r) => rows[r * 2 + 1]!);
    const mean = b.reduce((s, v) => s + v, 0) / b.length;
    const std = Math.sqrt(b.reduce((s, v) => s + (v - mean) ** 2, 0) / b.length);
    const got = once.column(1);
    assert.ok(Math.abs(got.mean - mean) < 1e-9, `mean ${got.mean} vs ${mean}`);
    assert.ok(Math.abs(got.std - std) / std < 1e-6, `std ${got.std} vs ${std}: summed around the baseline mean, a std of 1e-3 at 1000 keeps its digits`);
    assert.deepEqual([got.min, got.max], [Math.min(...b), Math.max(...b)]);
  });

  it('counts NaN and infinities apart, in no bin; a column with no finite values has NaN moments', () => {
    const columns = new BinnedColumns([
      { name: 'a', histogram: { edges: [0], counts: [1, 1] }, center: 0 },
      { name: 'b', histogram: { edges: [0], counts: [1, 1] }, center: 0 },
    ]);
    columns.add(Float32Array.of(NaN, NaN, -1, Infinity, 1, -Infinity));
    const a = columns.column(0);
    assert.deepEqual([a.histogram, a.count, a.nonFinite], [[1, 1], 2, 1]);
    const b = columns.column(1);
    assert.deepEqual([b.histogram, b.count, b.nonFinite], [[0, 0], 0, 3]);
    assert.ok(Number.isNaN(b.mean) && Number.isNaN(b.std), 'no finite values, no moments');
    assert.equal(columns.rows, 3);
  });

  it('handles a constant baseline (one edge) and a histogram with no edges', () => {
    const constant = featureBaseline('c', [5, 5, 5, 5]);
    assert.deepEqual(constant.histogram, { edges: [5], counts: [4, 0] });
    const columns = new BinnedColumns([
      { name: 'c', histogram: constant.histogram, percentiles: constant.percentiles, center: 5 },
      { name: 'none', histogram: { edges: [], counts: [3] }, center: 0 },
    ]);
    columns.add(Float32Array.of(5, 1, 5, 2, 6, 3));
    assert.deepEqual(columns.column(0).histogram, [2, 1]);
    assert.deepEqual(columns.column(1).histogram, [3]);
  });

  it('refuses a row count the values do not hold, and a malformed histogram', () => {
    const columns = new BinnedColumns([{ name: 'a', histogram: { edges: [0], counts: [1, 1] }, center: 0 }, { name: 'b', histogram: { edges: [0], counts: [1, 1] }, center: 0 }]);
    assert.throws(() => columns.add(new Float32Array(3)), /3 values do not hold 1.5 rows of 2/);
    assert.throws(() => columns.add(new Float32Array(4), 3), /4 values do not hold 3 rows of 2/);
    assert.throws(() => new BinnedColumns([{ name: 'x', histogram: { edges: [2, 1], counts: [1, 1, 1] }, center: 0 }]), /column 'x' histogram: edges must be ascending, received 2 then 1/);
    assert.throws(() => new BinnedColumns([{ name: 'x', histogram: { edges: [1], counts: [1] }, center: 0 }]), /1 edges need 2 counts, received 1/);
    assert.throws(() => columns.column(2), /column 2 is outside \[0, 2\)/);
  });
});
