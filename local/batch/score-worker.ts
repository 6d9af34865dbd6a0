// A worker thread of the local batch run: loads the model once, then scores the batches it is sent with
// the same handler as the Lambda batch scorer, over the same local folders. The main thread has already
// checked the model card (loadManifest): it comes in workerData, so the worker never loads zod.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { createScoreHandler } from '../../lambdas/core/batch-pipeline/score';
import type { ScoreBatchEvent } from '../../lambdas/core/batch-pipeline/types';
import { ServedModel } from '../../lambdas/core/inference-session';
import type { ModelCard } from '../../lambdas/core/model-card';
import { MountedObjectStore, type Mount } from '../storage/mounted-object-store';

export interface ScoreWorkerData {
  readonly modelDir: string;
  /** The model's card, as loadManifest checked it. */
  readonly card: ModelCard;
  readonly bucket: string;
  readonly mounts: readonly Mount[];
}

export type ScoreWorkerRequest = { readonly id: number; readonly event: ScoreBatchEvent };
export type ScoreWorkerAnswer =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: { readonly name: string; readonly message: string; readonly stack?: string } }
  | { readonly ready: true }
  | { readonly failed: string };

const data = workerData as ScoreWorkerData;
const port = parentPort!;
try {
  const onnxPath = join(data.modelDir, 'model.onnx');
  const predictor = await ServedModel.fromBytes(data.card, readFileSync(onnxPath)).catch((error: unknown) => {
    throw new Error(`${onnxPath}: onnxruntime cannot load the model: ${(error as Error).message.split('\n')[0]}`);
  });
  const score = createScoreHandler({ store: new MountedObjectStore(data.bucket, data.mounts, { blocking: true }), bucket: data.bucket, predictor });
  port.on('message', (request: ScoreWorkerRequest) => {
    score(request.event).then(
      (result) => port.postMessage({ id: request.id, result } satisfies ScoreWorkerAnswer),
      (error: unknown) => {
        const e = error instanceof Error ? error : new Error(String(error));
        port.postMessage({ id: request.id, error: { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) } } satisfies ScoreWorkerAnswer);
      },
    );
  });
  port.postMessage({ ready: true } satisfies ScoreWorkerAnswer);
} catch (error) {
  port.postMessage({ failed: `the model in ${data.modelDir} failed to load: ${(error as Error).message}` } satisfies ScoreWorkerAnswer);
}
