// When a feature, the predictions and the model count as drifting. Defaults and why: README "Drift". A model's
// thresholds come from resolveDriftThresholds: flags over the manifest's monitoring.drift over the defaults.

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

/** Where a threshold's value came from: a command-line flag, the model's `monitoring.drift` in the manifest, or the default above. */
export type ThresholdSource = 'flag' | 'manifest' | 'default';

/** The settings of DriftThresholds, in the manifest's order (its header comment and DEFAULT_DRIFT_THRESHOLDS). */
export const DRIFT_THRESHOLD_NAMES = ['psiModerate', 'psiSignificant', 'predictionJs', 'alpha', 'driftShare', 'minSampleSize'] as const satisfies readonly (keyof DriftThresholds)[];

export interface ResolvedDriftThresholds {
  readonly thresholds: DriftThresholds;
  /** Where each of `thresholds` came from. */
  readonly sources: Readonly<Record<keyof DriftThresholds, ThresholdSource>>;
}

/**
 * A model's drift thresholds, the one place `mlship drift`, the local monitor and the cloud monitor take them
 * from: each setting from `flags` when given there, else from the model's `monitoring.drift` block as the
 * manifest writes it (the settings it leaves out are absent), else its default; checked as resolveThresholds.
 */
export function resolveDriftThresholds(manifest: Partial<DriftThresholds> = {}, flags: Partial<DriftThresholds> = {}): ResolvedDriftThresholds {
  const values: Partial<Record<keyof DriftThresholds, number>> = {};
  const sources = {} as Record<keyof DriftThresholds, ThresholdSource>;
  for (const name of DRIFT_THRESHOLD_NAMES) {
    const flag = flags[name];
    const set = manifest[name];
    values[name] = flag ?? set ?? DEFAULT_DRIFT_THRESHOLDS[name];
    sources[name] = flag !== undefined ? 'flag' : set !== undefined ? 'manifest' : 'default';
  }
  return { thresholds: resolveThresholds(values), sources };
}

/** One line for people: each threshold with where it came from, "psiModerate 0.1 (default), ..., driftShare 0 (manifest), ...". */
export function describeDriftThresholds(thresholds: DriftThresholds, sources?: ResolvedDriftThresholds['sources']): string {
  return DRIFT_THRESHOLD_NAMES.map((name) => `${name} ${thresholds[name]}${sources ? ` (${sources[name]})` : ''}`).join(', ');
}
