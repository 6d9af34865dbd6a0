// The drift monitor of a local run: the cloud monitor's core (runDriftMonitor over monitorModel) on a timer,
// reading the gateway's captures under .mlship/capture/ through a FolderObjectStore as the Lambda reads the
// capture bucket, its state in the same folder (monitor/state/<model>.json), its figures into the local
// metrics store, and a model going into drift reported once through the local alert sinks.
import type { MonitoredModel } from '../../lambdas/core/monitoring/monitor/drift-monitor';
import { runDriftMonitor, windowEndingAt, type ModelOutcome } from '../../lambdas/core/monitoring/monitor/monitor-run';
import type { AlarmEvent, ReadableAlert } from '../../lambdas/core/monitoring/contracts';
import { FolderObjectStore } from '../storage/folder-object-store';
import type { LocalMetrics } from './metrics-store';

/** The bucket name the capture folder stands for. */
export const LOCAL_CAPTURE_BUCKET = 'capture';

export interface LocalDriftMonitorOptions {
  /** The capture folder (.mlship/capture). */
  readonly folder: string;
  readonly project: string;
  readonly stage: string;
  /** The models as they are now (the live version of each, with its card). */
  readonly models: () => readonly MonitoredModel[];
  /** How much captured traffic each run reads, ms (monitoring.windowHours, scaled by --time-scale). */
  readonly windowMs: number;
  /** Time between runs, ms. */
  readonly intervalMs: number;
  readonly metrics: Pick<LocalMetrics, 'recordDrift'>;
  /** A model went into drift: its one report. */
  readonly report: (alert: ReadableAlert, event: AlarmEvent) => void;
  readonly dashboardUrl?: string;
  /** Problems (a model without a baseline, an unreadable folder), each told once. @default stderr */
  readonly log?: (line: string) => void;
}

export interface MonitorResult {
  readonly time: string;
  readonly outcome: ModelOutcome;
}

export class LocalDriftMonitor {
  private readonly store: FolderObjectStore;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ModelOutcome[]> | undefined;
  private readonly latest = new Map<string, MonitorResult>();
  private readonly told = new Set<string>();
  private runs = 0;

  constructor(private readonly options: LocalDriftMonitorOptions) {
    this.store = new FolderObjectStore({ [LOCAL_CAPTURE_BUCKET]: options.folder });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Runs now (or joins the run in progress): every model over the window ending now. */
  runOnce(now = new Date()): Promise<ModelOutcome[]> {
    this.running ??= this.run(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(now: Date): Promise<ModelOutcome[]> {
    const { options } = this;
    const outcomes = await runDriftMonitor(
      {
        store: this.store,
        bucket: LOCAL_CAPTURE_BUCKET,
        project: options.project,
        stage: options.stage,
        models: options.models(),
        putMetrics: async (model, datums, time) => options.metrics.recordDrift(model, datums, time),
        notify: async (alert, event) => options.report(alert, event),
        ...(options.dashboardUrl ? { dashboardUrl: options.dashboardUrl } : {}),
      },
      windowEndingAt(now, options.windowMs / 3_600_000),
      now,
    );
    this.runs++;
    for (const outcome of outcomes) {
      this.latest.set(outcome.model, { time: now.toISOString(), outcome });
      if ('error' in outcome) {
        const line = `drift monitor: ${outcome.model}: ${outcome.error.message}`;
        if (!this.told.has(line)) {
          this.told.add(line);
          (options.log ?? ((l: string) => process.stderr.write(`mlship: ${l}\n`)))(line);
        }
      }
    }
    return outcomes;
  }

  /** How many runs finished. */
  get completedRuns(): number {
    return this.runs;
  }

  /** The last run's outcome of a model. */
  lastResult(model: string): MonitorResult | undefined {
    return this.latest.get(model);
  }
}
