// The special functions the drift tests need: the chi-square upper tail (through the regularized upper
// incomplete gamma function) and the Kolmogorov distribution's upper tail. About 80 lines, so written here
// rather than taken from a package: the npm candidates are either a tree of some 40 small modules
// (@stdlib/math-base-special-gammainc) or unmaintained (jstat). Each is checked against scipy in
// test/lambdas/core/monitoring/drift-special.test.ts to 1e-12 relative.

/**
 * ln Γ(x) for x > 0: the Lanczos approximation with g = 7 and 9 coefficients (the widely published set, e.g.
 * Press et al., Numerical Recipes 3rd ed. §6.1, and Wikipedia's "Lanczos approximation"), about 15
 * significant digits; below 0.5 through the reflection formula.
 */
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function lnGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`lnGamma needs x > 0, received ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 10_000;

/**
 * The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for a > 0, x >= 0: the power
 * series of P(a, x) when x < a + 1, else the continued fraction of Q evaluated by the modified Lentz method
 * (Numerical Recipes 3rd ed. §6.2, gser/gcf), so a small tail keeps its relative precision.
 */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`regularizedGammaQ needs a > 0, received ${a}`);
  if (!(x >= 0)) throw new RangeError(`regularizedGammaQ needs x >= 0, received ${x}`);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  const logPrefix = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < MAX_ITERATIONS; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * EPS) break;
    }
    return Math.max(0, 1 - sum * Math.exp(logPrefix));
  }
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(logPrefix) * h;
}

/** P(X > x) for X chi-square distributed with `dof` degrees of freedom (scipy.stats.chi2.sf). */
export function chiSquareSurvival(x: number, dof: number): number {
  if (!(dof > 0)) throw new RangeError(`chi-square degrees of freedom must be positive, received ${dof}`);
  if (x <= 0) return 1;
  return regularizedGammaQ(dof / 2, x / 2);
}

/**
 * The Kolmogorov distribution's upper tail Q_KS(λ) = 2 Σ_{j>=1} (-1)^{j-1} exp(-2 j² λ²) (scipy.special.kolmogorov).
 * For small λ that alternating series converges slowly, so below λ = 1.18 it is 1 - P_KS(λ) with
 * P_KS(λ) = (√(2π) / λ) Σ_{j>=1} exp(-(2j-1)² π² / (8 λ²)) (Numerical Recipes 3rd ed. §6.14.12, 6.14.13).
 */
export function kolmogorovSurvival(lambda: number): number {
  if (Number.isNaN(lambda)) throw new RangeError('kolmogorovSurvival of NaN');
  if (lambda <= 0) return 1;
  if (lambda < 1.18) {
    if (lambda < 0.04) return 1; // P_KS(0.04) is below 1e-300
    const y = Math.exp(-(Math.PI * Math.PI) / (8 * lambda * lambda));
    // Σ exp(-(2j-1)² c) = y + y^9 + y^25 + y^49 ...: four terms reach double precision for y < 0.42
    const sum = y + y ** 9 + y ** 25 + y ** 49 + y ** 81;
    return 1 - (Math.sqrt(2 * Math.PI) / lambda) * sum;
  }
  const x = Math.exp(-2 * lambda * lambda);
  // 2 (x - x^4 + x^9 - x^16 + ...); for λ >= 1.18, x < 0.062 and x^36 is below 1e-43
  return Math.max(0, 2 * (x - x ** 4 + x ** 9 - x ** 16 + x ** 25 - x ** 36));
}
