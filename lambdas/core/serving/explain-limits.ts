// The manifest's `explain` block as the runtimes take it (explain.timeoutMs resolved): the function's
// environment (EXPLAIN_*), the construct props and the local gateway all carry this one shape.

export interface ExplainLimits {
  /** Most instances in one :explain request (explain.maxInstances). */
  readonly maxInstances: number;
  /** Sampling deadline, ms after the request is read (explain.timeoutMs). */
  readonly timeoutMs: number;
  /** Model rows scored per explained row by permutation SHAP (explain.maxEvaluations). */
  readonly maxEvaluations: number;
}

/** The manifest's defaults with the default 10 s function timeout: the function's own fallbacks. */
export const DEFAULT_EXPLAIN_LIMITS: ExplainLimits = { maxInstances: 16, timeoutMs: 5000, maxEvaluations: 65_536 };
