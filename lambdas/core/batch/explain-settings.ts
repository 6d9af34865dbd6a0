// Which batch runs may add explanations, checked where the setting is read: the manifest's
// models[i].batch.explainTopK at load (synth and `npm start` alike), an execution input's or
// `mlship batch --explain`'s explainTopK when a run is planned. Kept apart from batch-explain.ts (the
// explainer itself) so the manifest loader pulls in no explanation code.
import type { ModelCard } from '../models/model-card';

/** Why `topK` cannot explain this model's batch rows, or undefined. `where` names the setting (a manifest path, a flag). */
export function explainTopKProblem(topK: number, card: ModelCard, runtime: 'lambda' | 'sagemaker', where: string): string | undefined {
  if (!Number.isInteger(topK) || topK < 0) return `${where} must be an integer of at least 0, received ${topK}`;
  if (topK === 0) return undefined;
  const features = card.input.features.length;
  if (topK > features) return `${where} is ${topK}, more than the ${features} features of ${card.name} v${card.version}`;
  if (runtime === 'sagemaker') {
    return `${where} is ${topK}, but ${card.name} runs on SageMaker, whose batch scoring (a Batch Transform job) adds no explanations; set it to 0 or run the model on lambda`;
  }
  if (!card.explanation?.background) {
    return `${where} is ${topK}, but ${card.name} v${card.version} has no background sample for explanations (model.json explanation.background; mlship train and mlship import write it)`;
  }
  return undefined;
}

/** The manifest check: models[i].batch.explainTopK of one loaded model (an empty list when it is fine). */
export function batchExplainProblems(entry: { readonly runtime: 'lambda' | 'sagemaker'; readonly batch: { readonly explainTopK: number } }, card: ModelCard, index: number): string[] {
  const problem = explainTopKProblem(entry.batch.explainTopK, card, entry.runtime, `models[${index}].batch.explainTopK`);
  return problem ? [problem] : [];
}

/** A manifest model entry's explain.maxEvaluations (permutation SHAP's model rows per explained row), when it sets one. */
export function explainMaxEvaluationsOf(entry: object): number | undefined {
  const value = (entry as { readonly explain?: { readonly maxEvaluations?: unknown } }).explain?.maxEvaluations;
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * Model rows one batch may score for permutation SHAP: 2^25, about 2.5 minutes of a small MLP on one core
 * (digits, 64 features: ~220,000 model rows a second measured on a busy 2-core machine), well inside a
 * batch scorer's 15 minutes.
 */
export const EXPLAIN_EVALUATIONS_PER_BATCH = 2 ** 25;

/**
 * Rows per batch of a run that explains: rowsPerBatch for exact linear SHAP (the built-in logistic
 * regression, no extra model run), otherwise as many as EXPLAIN_EVALUATIONS_PER_BATCH allows at
 * maxEvaluations model rows each (permutation SHAP costs that much per row; a batch of 5,000 digits rows
 * would run ~25 minutes).
 */
export function explainedRowsPerBatch(card: ModelCard, rowsPerBatch: number, maxEvaluations: number): number {
  if (card.family === 'logreg' && card.task !== 'regression') return rowsPerBatch;
  return Math.max(1, Math.min(rowsPerBatch, Math.floor(EXPLAIN_EVALUATIONS_PER_BATCH / Math.max(1, maxEvaluations))));
}
