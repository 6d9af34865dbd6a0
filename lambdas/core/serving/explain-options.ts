// The :explain route's explainer for a model folder (models/<name>/<version>/ locally, /opt/ml/model in the
// function, the card's folder beside the SageMaker proxy): its background sample (background.json, named and
// hashed in model.json), the ONNX bytes for the exact linear SHAP of a built-in logreg, and the manifest's
// limits. A version without a background sample, or with one that does not check out, still serves every
// other route; its :explain answers 409 explanation_unavailable with the reason.
import type { ExplainPredict } from '../explain/explainer';
import { explainerForFolder } from '../explain/model-folder';
import type { ModelCard } from '../models/model-card';
import { noBackgroundReason, type ExplainOptions } from './model-api';

import type { ExplainLimits } from './explain-limits';

export { DEFAULT_EXPLAIN_LIMITS, type ExplainLimits } from './explain-limits';

export interface ExplainSource {
  /** The model folder holding model.json, background.json and (for a local session) model.onnx. */
  readonly dir: string;
  readonly card: ModelCard;
  /** Scores rows: the in-process session, or the endpoint. */
  readonly predict: ExplainPredict;
  /** Read model.onnx from `dir` (a local session of a built-in logreg: exact linear SHAP). @default true */
  readonly onnx?: boolean;
}

/** The ExplainOptions of one model version; `warn` hears why explanations are unavailable when a file is wrong. */
export function explainOptionsFor(source: ExplainSource, limits: ExplainLimits, warn?: (message: string) => void): ExplainOptions {
  const { dir, card, predict } = source;
  let made: ReturnType<typeof explainerForFolder>;
  try {
    made = explainerForFolder(dir, card, predict, { onnx: source.onnx !== false });
  } catch (error) {
    const reason = `${card.name} v${card.version}'s background sample cannot be read: ${(error as Error).message}`;
    warn?.(reason);
    return { explainer: undefined, unavailable: reason, ...limits };
  }
  if (!made) return { explainer: undefined, unavailable: noBackgroundReason(card), ...limits };
  return { explainer: made.explainer, ...limits };
}
