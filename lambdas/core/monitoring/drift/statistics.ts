// The drift statistics, as pure functions of two count vectors over the same bins: the baseline's (from
// model.json) and the current window's. Nothing here reads files or knows about models.
import { chiSquareSurvival, kolmogorovSurvival } from './special';

/**
 * The share that stands in for an empty bin in PSI, whose ln(q/p) is otherwise infinite: 0.0001, the value
 * the common implementations use (Evidently's psi stat test, mwburke/population-stability-index,
 * listendata's PSI write-up). A share of zero is replaced by it, the others are left as they are (no
 * renormalisation). With it, a bin holding 10% of the baseline and nothing now adds
 * (0.0001 - 0.1) ln(0.0001 / 0.1) = 0.69 to the PSI.
 */
export const PSI_EMPTY_BIN_SHARE = 1e-4;

function total(counts: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < counts.length; i++) sum += counts[i]!;
  return sum;
}

function checkPair(baseline: ArrayLike<number>, current: ArrayLike<number>, what: string): { n: number; m: number } {
  if (baseline.length !== current.length) throw new RangeError(`${what}: ${baseline.length} baseline bins but ${current.length} current bins`);
  if (baseline.length === 0) throw new RangeError(`${what}: no bins`);
  for (const [side, counts] of [['baseline', baseline], ['current', current]] as const) {
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (!(c >= 0) || !Number.isFinite(c)) throw new RangeError(`${what}: ${side} bin ${i} has count ${c}; counts must be finite and not negative`);
    }
  }
  const n = total(baseline);
  const m = total(current);
  if (n === 0 || m === 0) throw new RangeError(`${what}: the ${n === 0 ? 'baseline' : 'current'} counts are all zero`);
  return { n, m };
}

/**
 * Population stability index, Σ (q_i - p_i) ln(q_i / p_i) over the bins, p the baseline's shares and q the
 * current ones, a share of 0 replaced by `emptyShare` (see PSI_EMPTY_BIN_SHARE). 0 for identical shares.
 */
export function populationStabilityIndex(baseline: ArrayLike<number>, current: ArrayLike<number>, emptyShare = PSI_EMPTY_BIN_SHARE): number {
  const { n, m } = checkPair(baseline, current, 'PSI');
  let psi = 0;
  for (let i = 0; i < baseline.length; i++) {
    const p = baseline[i]! / n || emptyShare;
    const q = current[i]! / m || emptyShare;
    psi += (q - p) * Math.log(q / p);
  }
  return psi;
}

/**
 * Jensen–Shannon distance in base 2 (scipy.spatial.distance.jensenshannon(p, q, base=2)): the square root
 * of ½ KL(p‖M) + ½ KL(q‖M) with M = (p + q) / 2, 0 for identical shares, 1 for shares on disjoint bins.
 * Empty bins need no epsilon: 0 log 0 is taken as 0 and M is positive wherever p or q is.
 */
export function jensenShannonDistance(baseline: ArrayLike<number>, current: ArrayLike<number>): number {
  const { n, m } = checkPair(baseline, current, 'Jensen-Shannon');
  let divergence = 0;
  for (let i = 0; i < baseline.length; i++) {
    const p = baseline[i]! / n;
    const q = current[i]! / m;
    const mid = (p + q) / 2;
    if (p > 0) divergence += p * Math.log2(p / mid);
    if (q > 0) divergence += q * Math.log2(q / mid);
  }
  return Math.sqrt(Math.min(1, Math.max(0, divergence / 2)));
}

export interface KolmogorovSmirnov {
  /** sup |F_baseline(x) - F_current(x)| over the bin edges. */
  readonly statistic: number;
  /** Asymptotic two-sided p-value (see ksPValue). */
  readonly pValue: number;
  /**
   * How far the statistic on the bin edges can be below the statistic over every value:
   * max over bins of min(baseline share, current share) (see kolmogorovSmirnovBinned).
   */
  readonly resolution: number;
  /** Sample sizes the p-value was computed for. */
  readonly n: number;
  readonly m: number;
}

/**
 * Asymptotic p-value of the two-sample KS statistic d for samples of n and m values: Q_KS(λ) with the
 * effective size en = n m / (n + m) and Stephens' correction λ = (√en + 0.12 + 0.11 / √en) d (Stephens
 * 1970; Numerical Recipes 3rd ed. §14.3.3, eq. 14.3.18). scipy's ks_2samp(method='asymp') computes the same
 * quantity as kstwo.sf(d, round(en)); the two agree to a few percent of the p-value in the range that
 * decides (0.001 to 0.5), which the tests check.
 */
export function ksPValue(d: number, n: number, m: number): number {
  if (!(n > 0 && m > 0)) throw new RangeError(`KS sample sizes must be positive, received ${n} and ${m}`);
  if (d <= 0) return 1;
  const en = Math.sqrt((n * m) / (n + m));
  return Math.min(1, Math.max(0, kolmogorovSurvival((en + 0.12 + 0.11 / en) * d)));
}

/**
 * The two-sample Kolmogorov–Smirnov test from counts over the same bins (-inf, g0], (g0, g1], ..., (g_last, +inf).
 * Both empirical CDFs are known exactly at every edge g_i (the cumulative counts), so the statistic is
 * D_edges = max_i |B_i / n - C_i / m|, the exact two-sample statistic restricted to the edges. Over all x
 * the statistic D lies in [D_edges, D_edges + resolution]: inside a bin each CDF moves by at most that bin's
 * share, so the gap there exceeds the gap at an edge by at most min(baseline share, current share) of the
 * bin. For values that only take edge values (a discrete feature whose every value is an edge) D_edges is D.
 * The p-value is computed from D_edges, so it is never smaller than the exact one's asymptotic value:
 * coarse bins can hide drift from the KS test but cannot invent it.
 */
export function kolmogorovSmirnovBinned(baseline: ArrayLike<number>, current: ArrayLike<number>): KolmogorovSmirnov {
  const { n, m } = checkPair(baseline, current, 'KS');
  let b = 0;
  let c = 0;
  let statistic = 0;
  let resolution = 0;
  for (let i = 0; i < baseline.length; i++) {
    const bShare = baseline[i]! / n;
    const cShare = current[i]! / m;
    resolution = Math.max(resolution, Math.min(bShare, cShare));
    b += baseline[i]!;
    c += current[i]!;
    if (i < baseline.length - 1) statistic = Math.max(statistic, Math.abs(b / n - c / m));
  }
  return { statistic, pValue: ksPValue(statistic, n, m), resolution, n, m };
}

export interface ChiSquare {
  readonly statistic: number;
  /** Degrees of freedom: the bins where either side has a count, less one. */
  readonly dof: number;
  readonly pValue: number;
}

/**
 * Pearson's chi-square test of homogeneity of the 2 x k table [baseline; current]: do both samples come from
 * one categorical distribution? (scipy.stats.chi2_contingency([baseline, current], correction=False), for
 * categorical features and the predicted-class distribution.) Both sides are samples, so the baseline's own
 * sampling error is accounted for, as in the two-sample KS test. Bins empty on both sides are left out (their
 * expected counts would be 0); Yates' continuity correction is not applied, even for two classes, so the
 * statistic is the same function of the counts for any number of classes.
 */
export function chiSquareHomogeneity(baseline: ArrayLike<number>, current: ArrayLike<number>): ChiSquare {
  const { n, m } = checkPair(baseline, current, 'chi-square');
  const all = n + m;
  let statistic = 0;
  let used = 0;
  for (let i = 0; i < baseline.length; i++) {
    const column = baseline[i]! + current[i]!;
    if (column === 0) continue;
    used++;
    const expectedB = (n * column) / all;
    const expectedC = (m * column) / all;
    statistic += (baseline[i]! - expectedB) ** 2 / expectedB + (current[i]! - expectedC) ** 2 / expectedC;
  }
  const dof = used - 1;
  return { statistic, dof, pValue: dof === 0 ? 1 : chiSquareSurvival(statistic, dof) };
}
