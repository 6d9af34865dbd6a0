// What the retraining functions share: settings from the environment, checked once at start-up, and the
// live model's files (baked into the pipeline image at MODELS_DIR/<model>/, see lib/pipelines/pipeline-image.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../core/common/config-error';
import type { ModelCard } from '../core/models/model-card';
import { readModelCardFile } from '../core/models/model-card-file';

const imageEnvSchema = z.object({
  /** Folder of the live models in the image: <MODELS_DIR>/<model>/model.onnx and model.json. */
  MODELS_DIR: z.string().startsWith('/', 'must be an absolute path'),
});

/** The settings of a function running in the pipeline image; a missing or wrong one stops it at init. */
export function readImageConfig(env: NodeJS.ProcessEnv): { modelsDir: string } {
  const parsed = imageEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  }
  return { modelsDir: parsed.data.MODELS_DIR };
}

const cards = new Map<string, ModelCard>();

/** The live model's card (read once per model and container). */
export function liveCard(modelsDir: string, model: string): ModelCard {
  let card = cards.get(model);
  if (!card) {
    card = readModelCardFile(join(modelsDir, model, 'model.json'), model);
    cards.set(model, card);
  }
  return card;
}

/** The live model's ONNX bytes. */
export function liveOnnx(modelsDir: string, model: string): Uint8Array {
  return readFileSync(join(modelsDir, model, 'model.onnx'));
}
