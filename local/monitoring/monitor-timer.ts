// The drift monitor of a local run: the cloud monitor's core (runDriftMonitor over monitorModel) on a timer,
// in its own thread (monitor-thread.ts), reading the gateway's captures under .mlship/capture/ through a
// FolderObjectStore as the Lambda reads the capture bucket, its state in the same folder (monitor/state/), its
// figures into the local metrics store, and a model going into drift reported once through the local alert sinks.
// Serving never waits on it: one run at a time, and a run still going when the timer fires is skipped and
// counted. A failed run (the core throws for a model, the thread dies) is an incident, not a stderr line: it is
// counted, shown on the status page, recorded as a metric, and the monitor going from working to failing (and
// back) is an alert.
import type { MonitoredModel } from '../../lambdas/core/monitoring/monitor/drift-monitor';
import { windowEndingAt, type ModelOutcome } from '../../lambdas/core/monitoring/monitor/monitor-run';
import type { AlarmEvent, ReadableAlert } from '../../lambdas/core/monitoring/contracts';
import type { QualityMonitoredModel, QualityOutcome } from '../../lambdas/core/quality/monitor/run-quality-monitor';
import type { Alert } from '../release/alerts';
import type { LocalMetrics, MonitorRunStatus } from './metrics-store';
import { MonitorThread, type MonitorThreadOptions } from './monitor-thread';

/** The bucket name the capture folder stands for. */
export const LOCAL_CAPTURE_BUCKET = 'capture';
/** Runs kept for the status page. */
const RECENT_RUNS = 20;
/** The model named by the monitor's own alerts. */
export const MONITOR_ALERT_MODEL = 'drift-monitor';

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
  readonly metrics: Pick<LocalMetrics, 'recordDrift' | 'recordMonitorRun'> & Partial<Pick<LocalMetrics, 'recordQuality'>>;
  /**
   * The models the quality monitor judges after each drift run, in the same thread (issue 17): labels under
   * ground-truth/ joined with predictions/ of the same folder; its alerts go to `report`, its figures to
   * metrics.recordQuality; a model it fails on fails the run like a drift failure. @default - none
   */
  readonly qualityModels?: () => readonly QualityMonitoredModel[];
  /**
   * The local retrain data folder (<stateDir>/retrain-data): the quality models that retrain get their window's
   * labelled captured requests written under its training-data/<model>/, where the local retrain gathers them.
   * @default - no rows written
   */
  readonly trainingRowsFolder?: string;
  /** A model went into drift: its one report. */
  readonly report: (alert: ReadableAlert, event: AlarmEvent) => void;
  /** The monitor itself went from working to failing, or back. @default - not sent */
  readonly alert?: (alert: Omit<Alert, 'time'>) => void;
  readonly dashboardUrl?: string;
  /** Problems (a model without a baseline, a failed run), each told once. @default stderr */
  readonly log?: (line: string) => void;
  /** The thread's options (tests give their own module). @default monitor-worker */
  readonly thread?: MonitorThreadOptions;
}

export interface MonitorResult {
  readonly time: string;
  readonly outcome: ModelOutcome;
}

/** One run as the status page lists it. */
export interface MonitorRunRecord {
  readonly started: string;
  readonly finished?: string;
  readonly status: MonitorRunStatus | 'running';
  readonly ms?: number;
  /** The failure (failed runs). */
  readonly error?: string;
}

/** The monitor's own health, for the status page. */
export interface MonitorHealth {
  readonly state: 'not run yet' | 'ok' | 'failing';
  readonly succeeded: number;
  readonly failed: number;
  /** Timer ticks that found a run still going. */
  readonly skipped: number;
  readonly consecutiveFailures: number;
  readonly running: boolean;
  readonly lastError?: { readonly at: string; readonly message: string };
  /** Newest first. */
  readonly recentRuns: readonly MonitorRunRecord[];
}

/** A model's error that is no failure of the monitor: it was told the model has nothing to compare with. */
function isFailure(outcome: ModelOutcome): outcome is Extract<ModelOutcome, { error: Error }> {
  return 'error' in outcome && outcome.error.name !== 'NoBaselineError';
}

export class LocalDriftMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ModelOutcome[]> | undefined;
  private readonly latest = new Map<string, MonitorResult>();
  private readonly latestQuality = new Map<string, { readonly time: string; readonly outcome: QualityOutcome }>();
  private readonly told = new Set<string>();
  private readonly thread: MonitorThread;
  private counts = { succeeded: 0, failed: 0, skipped: 0, consecutiveFailures: 0 };
  private lastError: { at: string; message: string } | undefined;
  private readonly recent: MonitorRunRecord[] = [];
  private stopped = false;

  constructor(private readonly options: LocalDriftMonitorOptions) {
    this.thread = new MonitorThread(options.thread);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** What the timer does: a run, or, with one still going, a skip (counted). */
  tick(now = new Date()): void {
    if (this.running) {
      this.counts.skipped++;
      this.options.metrics.recordMonitorRun('skipped', now);
      return;
    }
    void this.runOnce(now);
  }

  /**
   * Stops the timer; waits up to `waitMs` for a run in progress, then ends the thread (a run cut short is not
   * counted as failed: the next start reads what it had not).
   */
  async stop(waitMs = 5000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.running) {
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise((r) => (timeout = setTimeout(r, waitMs)))]);
      clearTimeout(timeout);
    }
    this.stopped = true;
    await this.thread.close();
    await this.running;
  }

  /** Runs now (or joins the run in progress): every model over the window ending now. Never rejects. */
  runOnce(now = new Date()): Promise<ModelOutcome[]> {
    this.running ??= this.run(now).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Runs judging the window that ends at `now`, once any run in progress has ended (tests, and a run by hand). Never rejects. */
  async runAt(now: Date): Promise<ModelOutcome[]> {
    // The timer may start a run while this one waits: wait for that one too, then start ours at once.
    while (this.running) await this.running;
    return this.runOnce(now);
  }

  private log(line: string): void {
    if (this.told.has(line)) return;
    this.told.add(line);
    (this.options.log ?? ((l: string) => process.stderr.write(`mlship: ${l}\n`)))(line);
  }

  private async run(now: Date): Promise<ModelOutcome[]> {
    const { options } = this;
    const started = Date.now();
    const record: { -readonly [K in keyof MonitorRunRecord]: MonitorRunRecord[K] } = { started: new Date(started).toISOString(), status: 'running' };
    this.recent.unshift(record);
    if (this.recent.length > RECENT_RUNS) this.recent.length = RECENT_RUNS;
    const models = options.models();
    const window = windowEndingAt(now, options.windowMs / 3_600_000);
    const qualityModels = options.qualityModels?.() ?? [];
    let outcomes: ModelOutcome[];
    let qualityOutcomes: QualityOutcome[] = [];
    let failure: string | undefined;
    try {
      outcomes = await this.thread.run(
        {
          folder: options.folder,
          bucket: LOCAL_CAPTURE_BUCKET,
          project: options.project,
          stage: options.stage,
          models,
          from: window.from.getTime(),
          to: window.to.getTime(),
          now: now.getTime(),
          ...(options.dashboardUrl ? { dashboardUrl: options.dashboardUrl } : {}),
          ...(qualityModels.length > 0 ? { quality: { models: qualityModels, ...(options.trainingRowsFolder ? { trainingRowsFolder: options.trainingRowsFolder } : {}) } } : {}),
        },
        {
          putMetrics: (model, datums, time) => options.metrics.recordDrift(model, datums, time),
          notify: (alert, event) => options.report(alert, event),
          putQualityMetrics: (model, version, datums, time) => options.metrics.recordQuality?.(model, version, datums, time),
          qualityOutcomes: (list) => (qualityOutcomes = list),
        },
      );
      for (const outcome of outcomes) {
        this.latest.set(outcome.model, { time: now.toISOString(), outcome });
        if ('error' in outcome) this.log(`drift monitor: ${outcome.model}: ${outcome.error.message}`);
      }
      for (const outcome of qualityOutcomes) {
        this.latestQuality.set(outcome.model, { time: now.toISOString(), outcome });
        if ('error' in outcome) this.log(`quality monitor: ${outcome.model}: ${outcome.error.message}`);
        // Rows not written fail no run (the figures and alerts stand), but are told.
        else if (outcome.trainingRowsError !== undefined) this.log(`quality monitor: ${outcome.model}: training rows not written: ${outcome.trainingRowsError}`);
      }
      const failed = [...outcomes.filter(isFailure).map((o) => `${o.model}: ${o.error.message}`), ...qualityOutcomes.flatMap((o) => ('error' in o ? [`quality of ${o.model}: ${o.error.message}`] : []))];
      if (failed.length > 0) failure = failed.join('; ');
    } catch (error) {
      outcomes = [];
      if (this.stopped) {
        this.recent.splice(this.recent.indexOf(record), 1);
        return outcomes;
      }
      failure = (error as Error).message;
      this.log(`drift monitor: ${failure}`);
    }
    const finished = Date.now();
    Object.assign(record, { finished: new Date(finished).toISOString(), ms: finished - started, status: failure === undefined ? 'succeeded' : 'failed', ...(failure !== undefined ? { error: failure } : {}) });
    options.metrics.recordMonitorRun(failure === undefined ? 'succeeded' : 'failed', new Date(finished));
    if (failure === undefined) this.succeeded();
    else this.failed(failure, finished);
    return outcomes;
  }

  private succeeded(): void {
    const after = this.counts.consecutiveFailures;
    this.counts.succeeded++;
    this.counts.consecutiveFailures = 0;
    if (after > 0) {
      this.options.alert?.({
        level: 'info',
        model: MONITOR_ALERT_MODEL,
        event: 'monitoring',
        message: `[OK] drift monitor runs again after ${after} failed run${after === 1 ? '' : 's'} (${this.options.stage})`,
        details: { state: 'OK', failedRuns: after },
      });
    }
  }

  private failed(message: string, at: number): void {
    this.counts.failed++;
    this.counts.consecutiveFailures++;
    this.lastError = { at: new Date(at).toISOString(), message };
    if (this.counts.consecutiveFailures === 1) {
      this.options.alert?.({
        level: 'critical',
        model: MONITOR_ALERT_MODEL,
        event: 'monitoring',
        message: `[ALARM] drift monitor run failed (${this.options.stage})`,
        body: `A drift monitor run failed: ${message}\n\nUntil runs succeed again, drift goes unwatched. The status page counts failed runs and shows the latest error; an alert says when runs succeed again.\n\nRunbook: read the error: a model whose card the monitor cannot use is fixed in its model.json; an unreadable capture folder in its permissions; a thread out of memory is a bug worth an issue (the run's captures are on disk, the next run retries them).\n`,
        details: { state: 'ALARM', error: message },
      });
    }
  }

  /** How many runs finished (succeeded or failed). */
  get completedRuns(): number {
    return this.counts.succeeded + this.counts.failed;
  }

  /** The monitor's own health: runs succeeded, failed and skipped, the latest error, the recent runs. */
  health(): MonitorHealth {
    const { succeeded, failed, skipped, consecutiveFailures } = this.counts;
    return {
      state: succeeded + failed === 0 ? 'not run yet' : consecutiveFailures > 0 ? 'failing' : 'ok',
      succeeded,
      failed,
      skipped,
      consecutiveFailures,
      running: this.running !== undefined,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      recentRuns: this.recent.map((r) => ({ ...r })),
    };
  }

  /** The last quality run's outcome of a model. */
  lastQualityResult(model: string): { readonly time: string; readonly outcome: QualityOutcome } | undefined {
    return this.latestQuality.get(model);
  }

  /** The last run's outcome of a model. */
  lastResult(model: string): MonitorResult | undefined {
    return this.latest.get(model);
  }
}
