// The explainer of a model folder (models/<name>/<version>/ locally, /opt/ml/model in a function or the batch
// image, the card's folder beside the SageMaker proxy): its background sample (background.json, named and
// hashed in model.json) and, for a built-in logreg run in this process, its ONNX bytes, for exact linear SHAP.
// One place, so the :explain route and batch scoring build the same explainer from the same files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelCard } from '../models/model-card';
import { readBackground } from './background';
import { Explainer, type ExplainPredict } from './explainer';

export interface FolderExplainer {
  readonly explainer: Explainer;
  /** Rows of the background sample. */
  readonly backgroundRows: number;
}

/**
 * The folder's explainer; undefined when the card names no background sample. Throws (readBackground's error)
 * when the named file is missing or does not check out. `onnx: false` when the model does not run in this
 * process (a remote endpoint): permutation SHAP through `predict` then, whatever the family.
 */
export function explainerForFolder(dir: string, card: ModelCard, predict: ExplainPredict, options: { readonly onnx?: boolean } = {}): FolderExplainer | undefined {
  const background = readBackground(dir, card);
  if (!background) return undefined;
  const onnx = options.onnx !== false && card.family === 'logreg' ? readFileSync(join(dir, card.onnx.file)) : undefined;
  return { explainer: Explainer.create({ card, background, predict, ...(onnx ? { onnx } : {}) }), backgroundRows: background.length / card.input.features.length };
}
