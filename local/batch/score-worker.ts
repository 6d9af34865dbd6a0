// A worker thread of the local batch run: loads the model once, then scores the batches it is sent with
// the same handler as the Lambda batch scorer, over the same local folders. The main thread has already
// checked the model card (loadManifest): it comes in workerData, so the worker never loads zod.
import { parentPort, workerData } from 'node:worker_threads';
import type { ScoreBatchEvent } from '../../lambdas/core/batch/pipeline/types';
import { loadBatchScorer, type ScoreWorkerData } from './batch-scorer';

export type ScoreWorkerRequest = { readonly id: number; readonly event: ScoreBatchEvent };
export type ScoreWorkerAnswer =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: { readonly name: string; readonly message: string; readonly stack?: string } }
  | { readonly ready: true }
  | { readonly failed: string };

const data = workerData as ScoreWorkerData;
const port = parentPort!;
try {
  const { score } = await loadBatchScorer(data);
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
  port.postMessage({ failed: (error as Error).message } satisfies ScoreWorkerAnswer);
}
