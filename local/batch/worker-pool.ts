// A pool of worker threads scoring batches locally, one per core by default: each worker loads the model
// once and runs the Lambda batch scorer's handler. Batches go to the least busy worker; a worker's error
// comes back with its name, so the state machine's Retry and Catch see what the cloud would.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BatchPartResult, ScoreBatchEvent } from '../../lambdas/core/batch-pipeline/types';
import type { ScoreWorkerAnswer, ScoreWorkerData } from './score-worker';

/** Workers run TypeScript through tsx, registered by a plain-JS entry, whichever way the parent was started. */
const WORKER_ENTRY = new URL('./score-worker-entry.mjs', import.meta.url);

interface Slot {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  busy: number;
}

export class ScoreWorkerPool {
  private readonly slots: Slot[];
  private readonly pending = new Map<number, { resolve: (value: BatchPartResult) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private closed = false;

  constructor(data: ScoreWorkerData, size = availableParallelism()) {
    this.slots = Array.from({ length: Math.max(1, size) }, () => this.start(data));
  }

  get size(): number {
    return this.slots.length;
  }

  private start(data: ScoreWorkerData): Slot {
    const worker = new Worker(WORKER_ENTRY, { workerData: data });
    let markReady!: () => void;
    let markFailed!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    ready.catch(() => undefined);
    worker.on('message', (answer: ScoreWorkerAnswer) => {
      if ('ready' in answer) return markReady();
      if ('failed' in answer) return markFailed(new Error(answer.failed));
      const waiting = this.pending.get(answer.id);
      if (!waiting) return;
      this.pending.delete(answer.id);
      if ('error' in answer) {
        const error = new Error(answer.error.message);
        error.name = answer.error.name;
        if (answer.error.stack) error.stack = answer.error.stack;
        waiting.reject(error);
      } else {
        waiting.resolve(answer.result as BatchPartResult);
      }
    });
    worker.on('error', (error) => {
      markFailed(error);
      for (const [id, waiting] of this.pending) {
        this.pending.delete(id);
        waiting.reject(error);
      }
    });
    return { worker, ready, busy: 0 };
  }

  /** Scores one batch on the least busy worker. */
  async run(event: ScoreBatchEvent): Promise<BatchPartResult> {
    if (this.closed) throw new Error('the worker pool is closed');
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy += 1;
    try {
      await slot.ready;
      const id = this.nextId++;
      return await new Promise<BatchPartResult>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        slot.worker.postMessage({ id, event });
      });
    } finally {
      slot.busy -= 1;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }
}
