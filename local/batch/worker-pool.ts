// A pool of worker threads scoring batches locally, one per core by default: each worker loads the model
// once and runs the Lambda batch scorer's handler. Batches go to the least busy worker; a worker's error
// comes back with its name, so the state machine's Retry and Catch see what the cloud would.
//
// The workers run one esbuild bundle of score-worker.ts (made once per process, as synth bundles the
// Lambda handlers), not the TypeScript through tsx: a worker registering tsx's loader takes ~300 ms to
// start on a 2-core machine, the bundle ~50 ms, and a batch run waits for its workers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import type { BatchPartResult, ScoreBatchEvent } from '../../lambdas/core/batch-pipeline/types';
import type { ScoreWorkerAnswer, ScoreWorkerData } from './score-worker';

const WORKER_SOURCE = new URL('./score-worker.ts', import.meta.url);
/** Native code stays outside the bundle, imported from where this project installed it. */
const NATIVE_PACKAGES = ['onnxruntime-node'];

let bundled: Promise<string> | undefined;

/** The worker's code: score-worker.ts and what it imports, one ES module (native packages by absolute URL). */
function workerBundle(): Promise<string> {
  bundled ??= build({
    entryPoints: [new URL(WORKER_SOURCE).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    // Parsed by every worker at its start.
    minify: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'native-packages',
        setup(b) {
          b.onResolve({ filter: new RegExp(`^(${NATIVE_PACKAGES.join('|')})$`) }, (args) => ({ path: import.meta.resolve(args.path), external: true }));
        },
      },
    ],
  }).then((result) => result.outputFiles[0]!.text);
  bundled.catch(() => (bundled = undefined));
  return bundled;
}

interface Slot {
  readonly worker: Promise<Worker>;
  readonly ready: Promise<void>;
  busy: number;
}

export class ScoreWorkerPool {
  private readonly slots: Slot[];
  private readonly pending = new Map<number, { resolve: (value: BatchPartResult) => void; reject: (error: Error) => void }>();
  private readonly dir: string;
  private nextId = 0;
  private closed = false;

  /** Starts the workers at once: they load the model while the caller goes on (run() waits for them). */
  constructor(data: ScoreWorkerData, size = availableParallelism()) {
    this.dir = mkdtempSync(join(tmpdir(), 'mlship-batch-worker-'));
    const entry = workerBundle().then((code) => {
      const file = join(this.dir, 'score-worker.mjs');
      writeFileSync(file, code);
      return pathToFileURL(file);
    });
    this.slots = Array.from({ length: Math.max(1, size) }, () => this.start(entry, data));
  }

  get size(): number {
    return this.slots.length;
  }

  /** Resolves when every worker has loaded the model; rejects with the first failure. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.ready));
  }

  private start(entry: Promise<URL>, data: ScoreWorkerData): Slot {
    let markReady!: () => void;
    let markFailed!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    ready.catch(() => undefined);
    const worker = entry.then((url) => {
      const w = new Worker(url, { workerData: data, execArgv: [] });
      w.on('message', (answer: ScoreWorkerAnswer) => {
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
      w.on('error', (error) => {
        markFailed(error);
        for (const [id, waiting] of this.pending) {
          this.pending.delete(id);
          waiting.reject(error);
        }
      });
      return w;
    });
    worker.catch((error: unknown) => markFailed(new Error(`the batch worker could not be built: ${(error as Error).message}`)));
    return { worker, ready, busy: 0 };
  }

  /** Scores one batch on the least busy worker. */
  async run(event: ScoreBatchEvent): Promise<BatchPartResult> {
    if (this.closed) throw new Error('the worker pool is closed');
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy += 1;
    try {
      await slot.ready;
      const worker = await slot.worker;
      const id = this.nextId++;
      return await new Promise<BatchPartResult>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.postMessage({ id, event });
      });
    } finally {
      slot.busy -= 1;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map(async (slot) => (await slot.worker.catch(() => undefined))?.terminate()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
