// When a feature, the predictions and the model count as drifting. Defaults and why: README "Drift".

export interface DriftThresholds {
  /**
   * PSI from which a feature's shift is moderate: reported, not drift. The customary cut of credit scoring,
   * where PSI comes from: below 0.1 no meaningful change.
   * @default 0.1
   */
  readonly psiModerate: number;
  /**
   * PSI from which a feature's shift is significant, the customary "act on it" level. A feature drifts when
   * its PSI reaches this and its KS test rejects at `alpha`.
   * @default 0.25
   */
  readonly psiSignificant: number;
  /**
   * Jensen–Shannon distance (base 2) from which the predictions' shift counts, when their test also rejects
   * at `alpha`. Not PSI: its cuts were made for ten score bins, and over two classes a large change gives a
   * small PSI (a positive rate going from 36% to 50% is PSI 0.07) but a JS distance of 0.12. 0.1 is
   * Evidently's default JS cut for categorical data.
   * @default 0.1
   */
  readonly predictionJs: number;
  /**
   * Significance level of the KS test (features) and the chi-square or KS test (predictions). PSI is an
   * effect size whose sampling noise grows as samples shrink (about (bins - 1)(1/n + 1/m) with no drift at
   * all), so drift also needs the test to say the difference is not chance.
   * @default 0.05
   */
  readonly alpha: number;
  /**
   * The model drifts when more than this share of its features drift (or its predictions drift).
   * @default 0.5
   */
  readonly driftShare: number;
  /**
   * Fewest current rows to judge by: below it the verdict is "not enough data", never drift. At 100 rows
   * against a baseline of a few hundred, a stable 10-bin feature's PSI still averages about 0.1.
   * @default 100
   */
  readonly minSampleSize: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = {
  psiModerate: 0.1,
  psiSignificant: 0.25,
  predictionJs: 0.1,
  alpha: 0.05,
  driftShare: 0.5,
  minSampleSize: 100,
};

/** The defaults with `overrides` applied, checked: a bad value throws naming the setting and the value received. */
export function resolveThresholds(overrides: Partial<DriftThresholds> = {}): DriftThresholds {
  const t = { ...DEFAULT_DRIFT_THRESHOLDS, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) } as DriftThresholds;
  const problems: string[] = [];
  if (!(t.psiModerate > 0 && Number.isFinite(t.psiModerate))) problems.push(`psiModerate must be a positive number, received ${t.psiModerate}`);
  if (!(t.psiSignificant >= t.psiModerate && Number.isFinite(t.psiSignificant))) problems.push(`psiSignificant must be at least psiModerate (${t.psiModerate}), received ${t.psiSignificant}`);
  if (!(t.predictionJs > 0 && t.predictionJs <= 1)) problems.push(`predictionJs must be above 0 and at most 1, received ${t.predictionJs}`);
  if (!(t.alpha > 0 && t.alpha < 1)) problems.push(`alpha must be between 0 and 1, received ${t.alpha}`);
  if (!(t.driftShare >= 0 && t.driftShare < 1)) problems.push(`driftShare must be at least 0 and below 1, received ${t.driftShare}`);
  if (!(Number.isInteger(t.minSampleSize) && t.minSampleSize >= 1)) problems.push(`minSampleSize must be a whole number of at least 1, received ${t.minSampleSize}`);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  return t;
}
