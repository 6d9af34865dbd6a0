// A pool of scorers for the batches of a local run: worker threads, each loading the model once and
// running the Lambda batch scorer's handler, and optionally the calling thread itself. Batches go to the
// least busy scorer (of two as busy, one that is ready); a scorer's error comes back with its name, so the
// state machine's Retry and Catch see what the cloud would.
//
// The calling thread scores too because a worker is slow to begin: it starts (~55 ms), then runs its
// first batches before V8 has optimised the parser (the first one ~5x slower): ~100 ms of a core before it
// scores at full speed. So a worker is started only for input enough to pay that back, one per
// BYTES_PER_WORKER, up to all cores (2-core machine, batches of 5,000 rows: a 26 MB file scored in 162 ms
// by the calling thread alone and 242 ms with a worker; 52 MB even; 83 MB 547 ms alone, 423 ms with one).
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
import type { BatchPartResult, ScoreBatchEvent } from '../../lambdas/core/batch/pipeline/types';
import { loadBatchScorer, type ScoreWorkerData } from './batch-scorer';
import type { ScoreWorkerAnswer } from './score-worker';

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

export interface ScorePoolSize {
  /** Worker threads. */
  readonly workers: number;
  /** Also score in the calling thread. */
  readonly callingThread: boolean;
}

/** Input bytes that make a worker pay back its start (see the top of this file). */
export const BYTES_PER_WORKER = 48 * 1024 * 1024;

/** The calling thread, and a worker per BYTES_PER_WORKER of input up to threads - 1 of them. */
export function poolSizeFor(threads: number, inputBytes: number): ScorePoolSize {
  return { workers: Math.max(0, Math.min(threads - 1, Math.floor(inputBytes / BYTES_PER_WORKER))), callingThread: true };
}

interface Slot {
  readonly kind: 'callingThread' | 'worker';
  /** Batches it scored. */
  scored: number;
  /** Scores one batch, once the slot is ready. */
  readonly score: (event: ScoreBatchEvent) => Promise<BatchPartResult>;
  readonly ready: Promise<void>;
  isReady: boolean;
  busy: number;
  readonly close: () => Promise<void>;
}

/** A promise that is settled from outside, and never reported as unhandled. */
function signal(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class ScoreWorkerPool {
  private readonly slots: Slot[];
  private readonly pending = new Map<number, { resolve: (value: BatchPartResult) => void; reject: (error: Error) => void }>();
  private readonly dir: string | undefined;
  private nextId = 0;
  private closed = false;

  /**
   * Starts the scorers at once: they load the model while the caller goes on (run() waits for them).
   * A number is that many workers and no scoring in the calling thread.
   */
  constructor(data: ScoreWorkerData, size: number | ScorePoolSize = { workers: availableParallelism(), callingThread: false }) {
    const { workers, callingThread } = typeof size === 'number' ? { workers: Math.max(1, size), callingThread: false } : size;
    if (workers < 1 && !callingThread) throw new RangeError('a score pool needs a worker or the calling thread');
    this.slots = [];
    if (workers > 0) {
      const dir = mkdtempSync(join(tmpdir(), 'mlship-batch-worker-'));
      this.dir = dir;
      const entry = workerBundle().then((code) => {
        const file = join(dir, 'score-worker.mjs');
        writeFileSync(file, code);
        return pathToFileURL(file);
      });
      for (let i = 0; i < workers; i++) this.slots.push(this.start(entry, data));
    }
    if (callingThread) this.slots.push(this.inCallingThread(data));
  }

  get size(): number {
    return this.slots.length;
  }

  /** Resolves when every scorer has loaded the model; rejects with the first failure. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.ready));
  }

  /** The calling thread's scorer: the same as a worker's (batch-scorer.ts). */
  private inCallingThread(data: ScoreWorkerData): Slot {
    const handler = loadBatchScorer(data);
    const slot: Slot = {
      kind: 'callingThread',
      scored: 0,
      ready: handler.then(() => undefined),
      isReady: false,
      busy: 0,
      score: async (event) => (await handler).score(event),
      close: async () => {
        const loaded = await handler.catch(() => undefined);
        await loaded?.predictor.release();
      },
    };
    slot.ready.then(() => (slot.isReady = true), () => undefined);
    return slot;
  }

  private start(entry: Promise<URL>, data: ScoreWorkerData): Slot {
    const { promise: ready, resolve: markReady, reject: markFailed } = signal();
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
    const slot: Slot = {
      kind: 'worker',
      scored: 0,
      ready,
      isReady: false,
      busy: 0,
      score: async (event) => {
        const w = await worker;
        const id = this.nextId++;
        return new Promise<BatchPartResult>((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
          w.postMessage({ id, event });
        });
      },
      close: async () => {
        await (await worker.catch(() => undefined))?.terminate();
      },
    };
    ready.then(() => (slot.isReady = true), () => undefined);
    return slot;
  }

  /** Scores one batch on the least busy scorer (of two as busy, the one that is ready: a worker may still be starting). */
  async run(event: ScoreBatchEvent): Promise<BatchPartResult> {
    if (this.closed) throw new Error('the worker pool is closed');
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy || (b.busy === a.busy && b.isReady && !a.isReady) ? b : a));
    slot.busy += 1;
    try {
      await slot.ready;
      const result = await slot.score(event);
      slot.scored += 1;
      return result;
    } finally {
      slot.busy -= 1;
    }
  }

  /** Batches scored so far by the calling thread and by the workers. */
  get scored(): { readonly callingThread: number; readonly workers: number } {
    const count = (kind: Slot['kind']) => this.slots.filter((s) => s.kind === kind).reduce((n, s) => n + s.scored, 0);
    return { callingThread: count('callingThread'), workers: count('worker') };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((slot) => slot.close()));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
