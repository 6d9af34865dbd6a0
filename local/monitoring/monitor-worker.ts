// The drift monitor's thread (node:worker_threads): runs the monitor core (runDriftMonitor, the same as the
// cloud's Lambda handler) over the capture folder for the main thread, so a run never holds up a request. The
// figures and reports go back to the main thread, which puts them in its metrics store and alert hub and
// answers each, so the core's order holds: a report is out before the state that remembers it is written.
// npm start runs the esbuild bundle of this file (dist/local/monitor-worker.mjs, scripts/build-local.ts);
// under tsx (tests) the TypeScript itself (monitor-thread.ts starts either).
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { AlarmEvent, ReadableAlert } from '../../lambdas/core/monitoring/contracts';
import type { DriftDatum, MonitoredModel } from '../../lambdas/core/monitoring/monitor/drift-monitor';
import { runDriftMonitor, type ModelOutcome } from '../../lambdas/core/monitoring/monitor/monitor-run';
import type { ObjectStore } from '../../lambdas/core/storage/object-store';
import { runQualityMonitor, type QualityDatum, type QualityMonitoredModel, type QualityOutcome } from '../../lambdas/core/quality/monitor/run-quality-monitor';
import { FolderObjectStore } from '../storage/folder-object-store';

/** The bucket name the retrain data folder stands for in a job's store. */
export const LOCAL_TRAINING_DATA_BUCKET = 'retrain-data';

/** One run, as the main thread asks for it. */
export interface MonitorJob {
  /** The capture folder, read as `bucket`. */
  readonly folder: string;
  readonly bucket: string;
  readonly project: string;
  readonly stage: string;
  readonly models: readonly MonitoredModel[];
  /** The window, epoch ms. */
  readonly from: number;
  readonly to: number;
  readonly now: number;
  readonly dashboardUrl?: string;
  /**
   * The quality monitor, run after the drift monitor on the same store: its models (their windows are their own),
   * and the folder standing for the retrain data bucket, where the models that retrain get their labelled rows.
   * @default - not run
   */
  readonly quality?: { readonly models: readonly QualityMonitoredModel[]; readonly trainingRowsFolder?: string };
}

export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

export type WireOutcome = Exclude<ModelOutcome, { error: Error }> | { readonly model: string; readonly error: WireError };
export type WireQualityOutcome = Exclude<QualityOutcome, { error: Error }> | { readonly model: string; readonly error: WireError };

export type ToWorker = { readonly type: 'run'; readonly id: number; readonly job: MonitorJob } | { readonly type: 'answer'; readonly call: number; readonly error?: string };

/** What a run asks of the main thread: publish a model's figures, or send a report. */
export type MonitorCall =
  | { readonly what: 'metrics'; readonly model: string; readonly datums: readonly DriftDatum[]; readonly time: number }
  | { readonly what: 'notify'; readonly alert: ReadableAlert; readonly event: AlarmEvent }
  | { readonly what: 'quality-metrics'; readonly model: string; readonly version: string; readonly datums: readonly QualityDatum[]; readonly time: number };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'call'; readonly id: number; readonly call: number; readonly payload: MonitorCall }
  | { readonly type: 'done'; readonly id: number; readonly outcomes: readonly WireOutcome[]; readonly quality?: readonly WireQualityOutcome[] }
  | { readonly type: 'failed'; readonly id: number; readonly error: WireError };

/** What the thread is started with. */
export interface MonitorWorkerData {
  /** The thread's nice value (Linux: per thread), so serving keeps the CPU when both want it. @default 10 */
  readonly nice?: number;
}

export function wireError(error: unknown): WireError {
  const e = error instanceof Error ? error : new Error(String(error));
  return { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
}

export interface ServeOptions {
  /** The store a job reads (tests wrap it). @default a FolderObjectStore over the job's folder */
  readonly store?: (job: MonitorJob) => ObjectStore;
}

/** Answers the main thread's jobs on `port`, one at a time. */
export function serveMonitorJobs(port: NonNullable<typeof parentPort>, options: ServeOptions = {}): void {
  const answers = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let nextCall = 0;
  const call = (id: number, payload: MonitorCall) =>
    new Promise<void>((resolve, reject) => {
      const n = nextCall++;
      answers.set(n, { resolve, reject });
      port.postMessage({ type: 'call', id, call: n, payload } satisfies FromWorker);
    });
  const stores = new Map<string, ObjectStore>();
  port.on('message', (message: ToWorker) => {
    if (message.type === 'answer') {
      const waiting = answers.get(message.call);
      answers.delete(message.call);
      if (message.error === undefined) waiting?.resolve();
      else waiting?.reject(new Error(message.error));
      return;
    }
    const { id, job } = message;
    const rowsFolder = job.quality?.trainingRowsFolder;
    const key = `${job.bucket}\u0000${job.folder}\u0000${rowsFolder ?? ''}`;
    let store = stores.get(key);
    if (!store) {
      store = options.store?.(job) ?? new FolderObjectStore({ [job.bucket]: job.folder, ...(rowsFolder ? { [LOCAL_TRAINING_DATA_BUCKET]: rowsFolder } : {}) });
      stores.set(key, store);
    }
    const notify = (alert: ReadableAlert, event: AlarmEvent) => call(id, { what: 'notify', alert, event });
    const drift = runDriftMonitor(
      {
        store,
        bucket: job.bucket,
        project: job.project,
        stage: job.stage,
        models: job.models,
        putMetrics: (model, datums, time) => call(id, { what: 'metrics', model, datums, time: time.getTime() }),
        notify,
        ...(job.dashboardUrl ? { dashboardUrl: job.dashboardUrl } : {}),
      },
      { from: new Date(job.from), to: new Date(job.to) },
      new Date(job.now),
    );
    // The quality monitor after the drift run, in the same thread (off the request path); its failures are per model, in its outcomes.
    const quality = (): Promise<QualityOutcome[] | undefined> =>
      job.quality && job.quality.models.length > 0
        ? runQualityMonitor(
            {
              store: store!,
              bucket: job.bucket,
              project: job.project,
              stage: job.stage,
              models: job.quality.models,
              ...(rowsFolder ? { trainingRows: { dataBucket: LOCAL_TRAINING_DATA_BUCKET } } : {}),
              putMetrics: (model, version, datums, time) => call(id, { what: 'quality-metrics', model, version, datums, time: time.getTime() }),
              notify,
              ...(job.dashboardUrl ? { dashboardUrl: job.dashboardUrl } : {}),
            },
            new Date(job.now),
          )
        : Promise.resolve(undefined);
    drift
      .then(async (outcomes) => ({ outcomes, qualityOutcomes: await quality() }))
      .then(
        ({ outcomes, qualityOutcomes }) =>
          port.postMessage({
            type: 'done',
            id,
            outcomes: outcomes.map((o) => ('error' in o ? { model: o.model, error: wireError(o.error) } : o)),
            ...(qualityOutcomes ? { quality: qualityOutcomes.map((o) => ('error' in o ? { model: o.model, error: wireError(o.error) } : o)) } : {}),
          } satisfies FromWorker),
        (error: unknown) => port.postMessage({ type: 'failed', id, error: wireError(error) } satisfies FromWorker),
      );
  });
  port.postMessage({ type: 'ready' } satisfies FromWorker);
}

/** Lowers this thread's priority (Linux applies setpriority to the calling thread only); elsewhere a no-op. */
export function lowerPriority(nice: number): void {
  try {
    setPriority(nice);
  } catch {
    // Not allowed or not supported: the run still happens, at the same priority as serving.
  }
}

if (parentPort && (workerData as { monitorWorker?: MonitorWorkerData } | undefined)?.monitorWorker) {
  lowerPriority((workerData as { monitorWorker: MonitorWorkerData }).monitorWorker.nice ?? 10);
  serveMonitorJobs(parentPort);
}
