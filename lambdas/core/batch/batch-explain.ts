// Explanations as columns of the scored CSV (`mlship batch --explain K`, the manifest's batch.explainTopK):
// each scored row gets its k largest attributions by absolute value, then the method and the base value:
//   explain_1_feature,explain_1_value,...,explain_k_feature,explain_k_value,explain_method,explain_base
// computed by the model version's Explainer (lambdas/core/explain/explainer.ts) in the thread that scored
// the chunk, on the chunk's own rows. Exact linear SHAP (the built-in logistic regression) explains a whole
// chunk at once; permutation SHAP explains it in groups of rows whose sampling rounds (the masked rows of
// all the group's rows scored together, in onnxruntime runs of at most the Explainer's MAX_ROWS_PER_RUN)
// stay under its MAX_ROWS_PER_ROUND, so memory stays bounded whatever the chunk size.
import { csvField } from './scored-writer';
import { MAX_ROWS_PER_ROUND, type Explainer, type RowExplanation } from '../explain/explainer';
import type { ModelCard } from '../models/model-card';

/** What a run explains: the k top attributions per row, and permutation SHAP's evaluations per row. */
export interface BatchExplainSettings {
  /** Attributions per row (1 .. the model's feature count). */
  readonly topK: number;
  /**
   * Model rows scored per explained row by permutation SHAP (the manifest's explain.maxEvaluations).
   * @default - the Explainer's DEFAULT_MAX_EVALUATIONS
   */
  readonly maxEvaluations?: number;
}

/** The columns a scored row gains for `topK` attributions, in order. */
export function explainColumns(topK: number): string[] {
  const names: string[] = [];
  for (let i = 1; i <= topK; i++) names.push(`explain_${i}_feature`, `explain_${i}_value`);
  names.push('explain_method', 'explain_base');
  return names;
}

/** topK checked against a model: an integer from 1 to its feature count. Throws RangeError naming `where`. */
export function checkTopK(topK: number, card: ModelCard, where = 'explainTopK'): number {
  const features = card.input.features.length;
  if (!Number.isInteger(topK) || topK < 1 || topK > features) {
    throw new RangeError(`${where} must be an integer from 1 to ${features} (the features of ${card.name} v${card.version}), received ${topK}`);
  }
  return topK;
}

/** Rows explained per Explainer call: all of them (linear), or as many as keep a sampling round under MAX_ROWS_PER_ROUND. */
export function explainRowsPerCall(card: ModelCard, backgroundRows: number, method: Explainer['method']): number {
  if (method === 'linear') return Number.POSITIVE_INFINITY;
  const p = card.input.features.length;
  // The first round of a row scores the background, the row, and two antithetic pairs (explainer.ts, shapley.ts).
  const firstRound = backgroundRows + 1 + 2 * (2 * Math.max(1, p - 1) * backgroundRows);
  return Math.max(1, Math.floor(MAX_ROWS_PER_ROUND / firstRound));
}

/** Explains the rows of a scored chunk and writes each one's columns as the tail of its CSV line. */
export class RowExplainer {
  readonly topK: number;
  /** Rows per Explainer call (explainRowsPerCall). */
  readonly rowsPerCall: number;
  private readonly width: number;
  /** The features as CSV fields, and the chosen indices of the row being written (reused). */
  private readonly featureFields: readonly string[];
  private readonly chosen: Int32Array;

  constructor(
    private readonly explainer: Explainer,
    readonly card: ModelCard,
    backgroundRows: number,
    private readonly settings: BatchExplainSettings,
  ) {
    this.topK = checkTopK(settings.topK, card);
    this.width = card.input.features.length;
    this.rowsPerCall = explainRowsPerCall(card, backgroundRows, explainer.method);
    this.featureFields = card.input.features.map(csvField);
    this.chosen = new Int32Array(this.topK);
  }

  /** The CSV header's explanation fields, each after a comma. */
  headerTail(): string {
    return explainColumns(this.topK).map((name) => `,${csvField(name)}`).join('');
  }

  /** Each of `count` rows' explanation fields, each after a comma (the tail of its scored line), in row order. */
  async tails(rows: Float32Array, count: number): Promise<string[]> {
    const out: string[] = [];
    const budget = this.settings.maxEvaluations === undefined ? {} : { maxEvaluations: this.settings.maxEvaluations };
    for (let start = 0; start < count; start += this.rowsPerCall) {
      const n = Math.min(this.rowsPerCall, count - start);
      const explanations = await this.explainer.explain(rows.subarray(start * this.width, (start + n) * this.width), n, budget);
      for (const e of explanations) out.push(this.tail(e));
    }
    return out;
  }

  /**
   * ,feature,value ... ,method,base: the features topAttributions picks, in its order (largest |attribution|
   * first, ties in feature order; the tests compare the two on every row), chosen by insertion into k
   * places instead of sorting all p per row (a third of the cost of explaining a row linearly); numbers as
   * their shortest round-trip text (exact, so sums can be checked).
   */
  tail(e: RowExplanation): string {
    const values = e.attributions;
    const chosen = this.chosen;
    const k = this.topK;
    let count = 0;
    for (let i = 0; i < values.length; i++) {
      const a = Math.abs(values[i]!);
      // After every chosen one at least as large: a later feature never passes an equal earlier one.
      let at = count;
      while (at > 0 && Math.abs(values[chosen[at - 1]!]!) < a) at--;
      if (at >= k) continue;
      for (let j = Math.min(count, k - 1); j > at; j--) chosen[j] = chosen[j - 1]!;
      chosen[at] = i;
      if (count < k) count++;
    }
    let text = '';
    for (let j = 0; j < count; j++) text += `,${this.featureFields[chosen[j]!]!},${String(values[chosen[j]!]!)}`;
    return `${text},${csvField(e.method)},${String(e.baseValue)}`;
  }
}
