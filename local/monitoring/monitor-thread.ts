// The main thread's side of the drift monitor's worker thread (monitor-worker.ts): starts it when the first run
// is due and keeps it for the next ones, sends it a run, does what the run asks (publish figures, send a
// report) and resolves with the run's outcomes. A run that throws, or a thread that dies (out of memory, a
// crash), rejects the run; the next run starts a fresh thread. The thread's heap is capped, so a runaway
// run fails alone instead of taking the gateway's memory with it.
//
// npm start runs one bundle (dist/local/main.mjs) with the worker's bundle beside it (monitor-worker.mjs,
// both made by scripts/build-local.ts); run as TypeScript (tsx: tests, the mlship command line), the thread
// registers tsx first and imports monitor-worker.ts.
import { Worker } from 'node:worker_threads';
import type { AlarmEvent, ReadableAlert } from '../../lambdas/core/monitoring/contracts';
import type { DriftDatum } from '../../lambdas/core/monitoring/monitor/drift-monitor';
import type { ModelOutcome } from '../../lambdas/core/monitoring/monitor/monitor-run';
import type { QualityDatum, QualityOutcome } from '../../lambdas/core/quality/monitor/run-quality-monitor';
import type { FromWorker, MonitorJob, MonitorWorkerData, ToWorker, WireError } from './monitor-worker';

export interface MonitorThreadOptions {
  /**
   * The thread's module: an ES module that serves jobs (serveMonitorJobs). A .ts module is loaded through tsx.
   * @default monitor-worker.mjs beside the npm start bundle, else monitor-worker.ts
   */
  readonly entry?: URL;
  /** The thread's workerData. @default { monitorWorker: { nice } } */
  readonly workerData?: unknown;
  /** The thread's nice value: below serving's, so a run takes the CPU serving leaves. @default 10 */
  readonly nice?: number;
  /** The thread's heap cap, MiB: past it the thread dies and the run fails, the gateway serves on. @default 1024 */
  readonly maxHeapMb?: number;
}

export interface MonitorCalls {
  putMetrics(model: string, datums: readonly DriftDatum[], time: Date): void;
  notify(alert: ReadableAlert, event: AlarmEvent): void;
  /** One version's quality figures (a job with `quality`). */
  putQualityMetrics?(model: string, version: string, datums: readonly QualityDatum[], time: Date): void;
  /** The quality monitor's outcomes of the run, before the run resolves. */
  qualityOutcomes?(outcomes: QualityOutcome[]): void;
}

/** The run failed as a whole: it threw, or its thread died. */
export class MonitorRunError extends Error {
  override readonly name = 'MonitorRunError';
}

function defaultEntry(): URL {
  // In the bundle this module is part of dist/local/main.mjs.
  return import.meta.url.endsWith('.mjs') ? new URL('./monitor-worker.mjs', import.meta.url) : new URL('./monitor-worker.ts', import.meta.url);
}

export function fromWire(error: WireError): Error {
  const e = new Error(error.message);
  e.name = error.name;
  if (error.stack) e.stack = error.stack;
  return e;
}

interface Running {
  readonly id: number;
  readonly calls: MonitorCalls;
  readonly resolve: (outcomes: ModelOutcome[]) => void;
  readonly reject: (error: Error) => void;
}

export class MonitorThread {
  private worker: Worker | undefined;
  private running: Running | undefined;
  private nextId = 0;
  /** Threads started so far (a dead one is replaced at the next run). */
  started = 0;

  constructor(private readonly options: MonitorThreadOptions = {}) {}

  private start(): Worker {
    const entry = this.options.entry ?? defaultEntry();
    const workerData = this.options.workerData ?? { monitorWorker: { nice: this.options.nice ?? 10 } satisfies MonitorWorkerData };
    const resourceLimits = { maxOldGenerationSizeMb: this.options.maxHeapMb ?? 1024 };
    const worker = entry.pathname.endsWith('.ts')
      ? new Worker(`import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(entry.href)});`, { eval: true, workerData, resourceLimits, execArgv: [] })
      : new Worker(entry, { workerData, resourceLimits, execArgv: [] });
    this.started++;
    worker.on('message', (message: FromWorker) => this.onMessage(worker, message));
    worker.on('error', (error) => this.died(worker, error));
    worker.on('exit', (code) => this.died(worker, new Error(`the monitor thread exited with code ${code}`)));
    return worker;
  }

  private onMessage(worker: Worker, message: FromWorker): void {
    const running = this.running;
    if (message.type === 'ready' || !running || message.id !== running.id) return;
    if (message.type === 'call') {
      let error: string | undefined;
      try {
        const { payload } = message;
        if (payload.what === 'metrics') running.calls.putMetrics(payload.model, payload.datums, new Date(payload.time));
        else if (payload.what === 'quality-metrics') running.calls.putQualityMetrics?.(payload.model, payload.version, payload.datums, new Date(payload.time));
        else running.calls.notify(payload.alert, payload.event);
      } catch (e) {
        error = (e as Error).message;
      }
      worker.postMessage({ type: 'answer', call: message.call, ...(error !== undefined ? { error } : {}) } satisfies ToWorker);
      return;
    }
    this.running = undefined;
    // Idle, the thread keeps no process alive; during a run it does (the run's caller waits for it).
    worker.unref();
    if (message.type === 'done' && message.quality) running.calls.qualityOutcomes?.(message.quality.map((o) => ('error' in o ? { model: o.model, error: fromWire(o.error) } : o)));
    if (message.type === 'done') running.resolve(message.outcomes.map((o) => ('error' in o ? { model: o.model, error: fromWire(o.error) } : o)));
    else running.reject(new MonitorRunError(`the monitor run failed: ${message.error.name}: ${message.error.message}`));
  }

  private died(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const running = this.running;
    this.running = undefined;
    running?.reject(new MonitorRunError(`the monitor thread died: ${error.message}`));
  }

  /** Runs one job on the thread (starting it if need be); one at a time. */
  run(job: MonitorJob, calls: MonitorCalls): Promise<ModelOutcome[]> {
    if (this.running) return Promise.reject(new Error('a monitor run is in progress'));
    return new Promise<ModelOutcome[]>((resolve, reject) => {
      const id = this.nextId++;
      this.running = { id, calls, resolve, reject };
      try {
        this.worker ??= this.start();
        this.worker.ref();
        this.worker.postMessage({ type: 'run', id, job } satisfies ToWorker);
      } catch (error) {
        this.running = undefined;
        reject(new MonitorRunError(`the monitor thread could not start: ${(error as Error).message}`));
      }
    });
  }

  /** Whether a run is in progress. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Ends the thread; a run in progress fails. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.died(worker, new Error('the monitor was stopped'));
    await worker.terminate();
  }
}
