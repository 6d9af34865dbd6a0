// The drift statistics on count vectors, against values worked out by hand (in the comments) or computed
// offline with numpy 2.4.6 / scipy 1.17.1 (the call is noted beside each).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { featureBaseline } from '../../../../lambdas/core/monitoring/drift/baseline';
import { BinnedColumns } from '../../../../lambdas/core/monitoring/drift/accumulator';
import {
  chiSquareHomogeneity,
  jensenShannonDistance,
  kolmogorovSmirnovBinned,
  ksPValue,
  populationStabilityIndex,
  PSI_EMPTY_BIN_SHARE,
} from '../../../../lambdas/core/monitoring/drift/statistics';

function assertClose(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} within ${tolerance}`);
}

/** The PSI formula written out with numpy (np.where(p == 0, 1e-4, p) for both sides), for the table below. */
describe('populationStabilityIndex', () => {
  it('is 0 for identical shares, whatever the sample sizes', () => {
    assert.equal(populationStabilityIndex([10, 20, 30, 40], [10, 20, 30, 40]), 0);
    assertClose(populationStabilityIndex([10, 20, 30, 40], [100, 200, 300, 400]), 0, 1e-15, 'same shares, ten times the rows');
  });

  it('50/50 -> 25/75: (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5) = 0.25 ln 3', () => {
    assertClose(populationStabilityIndex([50, 50], [25, 75]), 0.25 * Math.log(3), 1e-15, 'PSI');
    assertClose(populationStabilityIndex([50, 50], [25, 75]), 0.2746530721670274, 1e-15, 'numpy');
    // symmetric in its two arguments (it is KL(p||q) + KL(q||p))
    assertClose(populationStabilityIndex([25, 75], [50, 50]), 0.25 * Math.log(3), 1e-15, 'swapped');
  });

  it('replaces an empty share by 0.0001: [10, 0] vs [5, 5] = 0.5 ln 2 + (0.5 - 1e-4) ln(5000)', () => {
    assert.equal(PSI_EMPTY_BIN_SHARE, 1e-4);
    const expected = 0.5 * Math.log(2) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4);
    assertClose(populationStabilityIndex([10, 0], [5, 5]), expected, 1e-14, 'by hand');
    assertClose(populationStabilityIndex([10, 0], [5, 5]), 4.60431846666895, 1e-13, 'numpy');
    // an empty bin on each side; a bin empty on both sides adds nothing
    assertClose(populationStabilityIndex([10, 10, 0, 0], [0, 10, 10, 0]), 8.515489752777954, 1e-13, 'numpy, [10,10,0] vs [0,10,10]');
    assert.ok(Number.isFinite(populationStabilityIndex([1, 0], [0, 1])), 'disjoint bins give a large finite PSI');
  });

  it('refuses bins that do not pair up, negative counts and an empty side', () => {
    assert.throws(() => populationStabilityIndex([1, 2], [1, 2, 3]), /PSI: 2 baseline bins but 3 current bins/);
    assert.throws(() => populationStabilityIndex([1, -2], [1, 2]), /baseline bin 1 has count -2/);
    assert.throws(() => populationStabilityIndex([1, 2], [0, 0]), /the current counts are all zero/);
    assert.throws(() => populationStabilityIndex([], []), /no bins/);
  });
});

describe('jensenShannonDistance', () => {
  it('is 0 for identical shares and 1 for disjoint ones (base 2)', () => {
    assert.equal(jensenShannonDistance([3, 1, 2], [6, 2, 4]), 0);
    assert.equal(jensenShannonDistance([5, 5, 0, 0], [0, 0, 1, 9]), 1);
    assert.equal(jensenShannonDistance([1, 0], [0, 1]), 1);
  });

  it('matches scipy.spatial.distance.jensenshannon(p, q, base=2)', () => {
    assertClose(jensenShannonDistance([50, 50], [25, 75]), 0.22089576884901735, 1e-15, '[50,50] vs [25,75]');
    assertClose(jensenShannonDistance([10, 0], [5, 5]), 0.5579230452841438, 1e-15, '[10,0] vs [5,5], an empty bin');
    assertClose(jensenShannonDistance([1, 2, 3, 4], [4, 3, 2, 1]), 0.3918681606471551, 1e-15, '[1,2,3,4] vs [4,3,2,1]');
  });

  it('by hand, [1, 0] vs [1/2, 1/2]: M = [3/4, 1/4], JSD = ½ log2(4/3) + ½ (½ log2(2/3) + ½ log2 2)', () => {
    const jsd = 0.5 * Math.log2(4 / 3) + 0.5 * (0.5 * Math.log2(2 / 3) + 0.5 * 1);
    assertClose(jensenShannonDistance([2, 0], [1, 1]), Math.sqrt(jsd), 1e-15, 'JS distance');
  });
});

describe('kolmogorovSmirnovBinned', () => {
  it('identical distributions: statistic 0, p-value 1', () => {
    const ks = kolmogorovSmirnovBinned([5, 10, 5], [50, 100, 50]);
    assert.deepEqual([ks.statistic, ks.pValue, ks.n, ks.m], [0, 1, 20, 200]);
  });

  it('values on the edges are exact: [1,1,2,2,3,3,4,4] vs [3,3,3,3,4,4,4,4] gives scipy ks_2samp(method="asymp") D 0.5', () => {
    // edges 1, 2, 3: cumulative shares 2/8, 4/8, 6/8 vs 0, 0, 4/8, so D = max(.25, .5, .25) = 0.5
    const ks = kolmogorovSmirnovBinned([2, 2, 2, 2], [0, 0, 4, 4]);
    assert.equal(ks.statistic, 0.5);
    // scipy's p-value is kstwo.sf(0.5, round(8*8/16) = 4) = 0.1875; Stephens' formula is within 0.1%
    assertClose(ks.pValue, 0.1875, 0.1875 * 0.01, 'p-value');
    // a bin's share is the most either CDF can move inside it: min(2/8, 4/8) in the last two bins
    assert.equal(ks.resolution, 0.25);
  });

  it('ties: every value on one edge, in both samples, is no drift; all of them moved one edge up is D = 1', () => {
    assert.equal(kolmogorovSmirnovBinned([0, 7, 0], [0, 3, 0]).statistic, 0);
    const moved = kolmogorovSmirnovBinned([0, 7, 0], [0, 0, 3]);
    assert.equal(moved.statistic, 1);
    assert.equal(moved.resolution, 0);
  });

  it('on the percentile bins, brackets the exact statistic: U(0,1) vs the squares of U(0,1), D = max(√x - x) = 1/4', () => {
    const baselineValues = Array.from({ length: 1000 }, (_, i) => i / 1000);
    const currentValues = Float32Array.from({ length: 500 }, (_, j) => (j / 500) ** 2);
    const base = featureBaseline('u', baselineValues);
    const columns = new BinnedColumns([{ name: 'u', histogram: base.histogram, percentiles: base.percentiles, center: base.mean }]);
    columns.add(currentValues);
    const ks = kolmogorovSmirnovBinned(base.percentiles!.counts, columns.column(0).percentiles!);
    // scipy.stats.ks_2samp(np.arange(1000)/1000, (np.arange(500)/500)**2).statistic = 0.251
    assert.ok(ks.statistic <= 0.251 + 1e-12 && 0.251 <= ks.statistic + ks.resolution, `${ks.statistic} <= 0.251 <= ${ks.statistic} + ${ks.resolution}`);
    assert.ok(ks.resolution <= 0.011, `99 percentile edges resolve the statistic to about 1/100, got ${ks.resolution}`);
    // on the deciles alone the same samples give a much coarser reading
    const coarse = kolmogorovSmirnovBinned(base.histogram.counts, columns.column(0).histogram);
    assert.ok(coarse.statistic <= 0.251 && coarse.resolution >= 0.09, `deciles: ${coarse.statistic} with resolution ${coarse.resolution}`);
  });
});

describe('ksPValue', () => {
  it("agrees with scipy's asymptotic ks_2samp p-value, kstwo.sf(d, round(nm/(n+m))), within 3% where decisions are made", () => {
    const table: [d: number, n: number, m: number, p: number][] = [
      [0.5, 8, 8, 0.1875],
      [0.1, 456, 113, 0.30222731867496555],
      [0.131, 456, 113, 0.08028078633507653],
      [0.05, 1000, 1000, 0.15866260223815387],
      [0.02, 10000, 100000, 0.0013692988198454371],
      [0.08, 200, 300, 0.4049780103964079],
      [0.2, 1000, 500, 3.76367543796376e-12],
    ];
    for (const [d, n, m, p] of table) {
      const q = ksPValue(d, n, m);
      assert.ok(Math.abs(q - p) <= 0.04 * p, `ksPValue(${d}, ${n}, ${m}) = ${q}, scipy ${p}`);
    }
  });

  it('is 1 for D = 0, tiny samples included, and falls as samples grow for the same D', () => {
    assert.equal(ksPValue(0, 1, 1), 1);
    assert.ok(ksPValue(0.3, 5, 5) > 0.5, 'D 0.3 between five values each is no evidence');
    assert.ok(ksPValue(0.3, 500, 500) < 1e-10, 'the same D between 500 values each is');
    assert.throws(() => ksPValue(0.1, 0, 10), /sample sizes must be positive, received 0 and 10/);
  });
});

describe('chiSquareHomogeneity', () => {
  it('by hand: [10, 20, 30] vs [30, 20, 10], expected 20 everywhere: (100 + 0 + 100) / 20 x 2 = 20 on 2 dof, p = e^-10', () => {
    const chi = chiSquareHomogeneity([10, 20, 30], [30, 20, 10]);
    assertClose(chi.statistic, 20, 1e-12, 'statistic');
    assert.equal(chi.dof, 2);
    assertClose(chi.pValue, Math.exp(-10), 1e-18, 'p-value');
  });

  it('matches scipy.stats.chi2_contingency([baseline, current], correction=False)', () => {
    const table: [baseline: number[], current: number[], statistic: number, dof: number, p: number][] = [
      [[166, 290], [40, 73], 0.039623666013102465, 1, 0.8422182027395078],
      [[100, 50, 25, 25], [90, 60, 30, 20], 2.4455077086656036, 3, 0.48521959781836455],
      // a class empty on both sides is left out (scipy is given the table without it)
      [[5, 0, 5], [1, 0, 9], 3.8095238095238093, 1, 0.050961936967763424],
    ];
    for (const [baseline, current, statistic, dof, p] of table) {
      const chi = chiSquareHomogeneity(baseline, current);
      assertClose(chi.statistic, statistic, 1e-12, `statistic of ${baseline} vs ${current}`);
      assert.equal(chi.dof, dof, `dof of ${baseline} vs ${current}`);
      assertClose(chi.pValue, p, 1e-12, `p of ${baseline} vs ${current}`);
    }
  });

  it('identical shares: statistic 0, p 1; one class only: no degrees of freedom, p 1', () => {
    const same = chiSquareHomogeneity([10, 30], [20, 60]);
    assert.deepEqual([same.statistic, same.dof, same.pValue], [0, 1, 1]);
    assert.deepEqual(chiSquareHomogeneity([0, 9], [0, 4]), { statistic: 0, dof: 0, pValue: 1 });
  });
});
