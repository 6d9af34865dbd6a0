// The batch scorer of a local run, as a worker thread and the calling thread both load it: the model from
// its folder with the card loadManifest checked (so zod is never loaded for it), and the Lambda batch
// scorer's handler over the run's folders, reading and writing with blocking calls.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createScoreHandler, modelFolderExplainer } from '../../lambdas/core/batch/pipeline/score';
import type { BatchPartResult, ScoreBatchEvent } from '../../lambdas/core/batch/pipeline/types';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import type { ModelCard } from '../../lambdas/core/models/model-card';
import { MountedObjectStore, type Mount } from '../storage/mounted-object-store';

export interface ScoreWorkerData {
  readonly modelDir: string;
  /** The model's card, as loadManifest checked it. */
  readonly card: ModelCard;
  readonly bucket: string;
  readonly mounts: readonly Mount[];
}

export interface LoadedBatchScorer {
  readonly predictor: ServedModel;
  readonly score: (event: ScoreBatchEvent) => Promise<BatchPartResult>;
}

/** Loads the model and makes the handler; throws an Error naming the model's folder (and the file) when the model cannot load. */
export async function loadBatchScorer(data: ScoreWorkerData): Promise<LoadedBatchScorer> {
  try {
    const onnxPath = join(data.modelDir, 'model.onnx');
    const predictor = await ServedModel.fromBytes(data.card, readFileSync(onnxPath)).catch((error: unknown) => {
      throw new Error(`${onnxPath}: onnxruntime cannot load the model: ${(error as Error).message.split('\n')[0]}`);
    });
    return {
      predictor,
      score: createScoreHandler({ store: new MountedObjectStore(data.bucket, data.mounts, { blocking: true }), bucket: data.bucket, predictor, explainer: modelFolderExplainer(data.modelDir, predictor) }),
    };
  } catch (error) {
    throw new Error(`the model in ${data.modelDir} failed to load: ${(error as Error).message}`);
  }
}
