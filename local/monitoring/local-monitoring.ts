// Monitoring of a local run, in one place for the gateway: the metrics store the gateway feeds with every
// answer, the alarm evaluator over the alarm catalog's specs of every model, the drift monitor on a timer
// over the capture folder (in its own thread), the state folder's bounds (retention and size cap), the alert hub (console, .mlship/alerts.jsonl, webhook, the status page's list),
// and the status page's snapshot. The stage is 'local', so alarm names and alerts never pass for a cloud
// stage's.
import { resolveDriftThresholds } from '../../lambdas/core/monitoring/drift/thresholds';
import type { MonitoredModel } from '../../lambdas/core/monitoring/monitor/drift-monitor';
import type { QualityMonitoredModel } from '../../lambdas/core/quality/monitor/run-quality-monitor';
import { localRetrainDataDir } from '../retrain/production-rows';
import type { ModelCard } from '../../lambdas/core/models/model-card';
import { modelAlarmSpecs, type AlarmSpec } from '../../lambdas/core/monitoring/alarms/alarm-catalog';
import type { AlarmEvent, ReadableAlert } from '../../lambdas/core/monitoring/contracts';
import { readableAlert } from '../../lambdas/core/monitoring/alarms/readable-alert';
import type { LoadedManifest } from '../../lambdas/core/manifest/load';
import type { ProcessFaultCounts } from '../serving/process-faults';
import type { ReleaseManager } from '../release/manager';
import { localEndpointName } from '../sagemaker/endpoint';
import { AlarmEvaluator } from './alarm-evaluator';
import { monitoringAlert, type AlertHub } from './alert-sinks';
import { LocalMetrics, type RequestFigure } from './metrics-store';
import type { FolderCaptureSink } from './capture-files';
import { LocalDriftMonitor } from './monitor-timer';
import type { MonitorThreadOptions } from './monitor-thread';
import { StateFolderBounds } from './state-bounds';
import { topFeaturesStatus, type DriftStatus, type ModelStatus, type QualityStatus, type StatusSnapshot } from './status-page';
import type { QualitySettings } from '../../lambdas/core/manifest/schema';

/** The stage name of a local run in alarm names and alerts. */
export const LOCAL_STAGE = 'local';
/** Namespace of the handler's EMF metrics, as lib/serving/model-function.ts METRICS_NAMESPACE. */
const EMF_NAMESPACE = 'mlship';
/** Time between drift monitor runs by default, seconds. */
export const DEFAULT_MONITOR_INTERVAL_SECONDS = 60;

export interface LocalMonitoringOptions {
  readonly manifest: LoadedManifest;
  /** The capture folder the gateway's FolderCaptureSink writes (.mlship/capture). */
  readonly captureFolder: string;
  readonly alerts: AlertHub;
  /** The gateway's releases (which version is live, the split), once loaded. */
  readonly releases: () => ReleaseManager | undefined;
  /** Multiplies alarm periods and the monitor's window. @default 1 */
  readonly timeScale?: number;
  /** Time between drift monitor runs, ms. @default 60 s */
  readonly monitorIntervalMs?: number;
  /** The status page's URL: the alerts' dashboard link. */
  readonly statusUrl?: string;
  readonly log?: (line: string) => void;
  /** The process's uncaught-error counts, for the status page. @default - not shown */
  readonly processFaults?: () => ProcessFaultCounts;
  /** The gateway's capture writer: its counts on the status page, its open files dropped last. @default - none */
  readonly captureSink?: FolderCaptureSink;
  /**
   * The state folder (.mlship) whose captures are kept within monitoring.captureRetentionDays (scaled by the
   * time scale) and whose size within stateMaxBytes, oldest captures first. @default - no bounds kept
   */
  readonly stateDir?: string;
  /** The state folder's cap, bytes (npm start --state-max-mb). @default monitoring.localStateMaxMb MiB */
  readonly stateMaxBytes?: number;
  /** Time between checks of the state folder's bounds, ms. @default 10 s */
  readonly stateCheckIntervalMs?: number;
  /** The drift monitor thread's options (tests give their own module). @default monitor-worker */
  readonly monitorThread?: MonitorThreadOptions;
}

export class LocalMonitoring {
  readonly metrics: LocalMetrics;
  readonly evaluator: AlarmEvaluator;
  readonly monitor: LocalDriftMonitor;
  readonly specs: readonly AlarmSpec[];
  /** The state folder's retention and size cap; undefined without a stateDir. */
  readonly bounds: StateFolderBounds | undefined;
  private readonly timeScale: number;
  private readonly monitorIntervalMs: number;

  constructor(private readonly options: LocalMonitoringOptions) {
    const { manifest } = options.manifest;
    this.timeScale = options.timeScale ?? 1;
    this.monitorIntervalMs = options.monitorIntervalMs ?? DEFAULT_MONITOR_INTERVAL_SECONDS * 1000;
    const project = manifest.project;
    this.specs = manifest.models.flatMap((entry) =>
      modelAlarmSpecs(
        {
          project,
          stage: LOCAL_STAGE,
          apiName: `${project}-${LOCAL_STAGE}`,
          apiStage: LOCAL_STAGE,
          metricsNamespace: EMF_NAMESPACE,
          metricsService: `${project}-${LOCAL_STAGE}-${entry.name}`,
          functionName: `${project}-${LOCAL_STAGE}-${entry.name}`,
          endpointName: localEndpointName(entry.name, entry.version),
        },
        entry,
      ),
    );
    const periods = new Map(manifest.models.map((m) => [m.name, m.monitoring.alarms.periodMinutes * 60_000 * this.timeScale]));
    this.metrics = new LocalMetrics({ periodMs: (model) => periods.get(model) ?? 60_000 * this.timeScale, emfNamespace: EMF_NAMESPACE });
    const send = (alert: ReadableAlert, event: AlarmEvent) => options.alerts.emit(monitoringAlert(alert, event));
    this.evaluator = new AlarmEvaluator({
      project,
      stage: LOCAL_STAGE,
      specs: this.specs,
      metrics: this.metrics,
      timeScale: this.timeScale,
      onAlert: (event) => send(readableAlert(event), event),
      ...(options.statusUrl ? { dashboardUrl: options.statusUrl } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    this.monitor = new LocalDriftMonitor({
      folder: options.captureFolder,
      project,
      stage: LOCAL_STAGE,
      models: () => this.monitoredModels(),
      qualityModels: () => this.qualityModels(),
      // The labelled rows of the models that retrain, where `mlship retrain` gathers them.
      ...(options.stateDir ? { trainingRowsFolder: localRetrainDataDir(options.stateDir) } : {}),
      windowMs: manifest.monitoring.windowHours * 3_600_000 * this.timeScale,
      intervalMs: this.monitorIntervalMs,
      metrics: this.metrics,
      report: send,
      alert: (alert) => options.alerts.emit(alert),
      ...(options.monitorThread ? { thread: options.monitorThread } : {}),
      ...(options.statusUrl ? { dashboardUrl: options.statusUrl } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    const sink = options.captureSink;
    this.bounds = options.stateDir
      ? new StateFolderBounds({
          stateDir: options.stateDir,
          captureFolder: options.captureFolder,
          maxBytes: options.stateMaxBytes ?? manifest.monitoring.localStateMaxMb * 1024 * 1024,
          retentionMs: manifest.monitoring.captureRetentionDays * 86_400_000 * this.timeScale,
          ...(sink ? { inUse: () => sink.currentFiles() } : {}),
          ...(options.stateCheckIntervalMs !== undefined ? { intervalMs: options.stateCheckIntervalMs } : {}),
          ...(options.log ? { log: options.log } : {}),
        })
      : undefined;
  }

  start(): void {
    this.evaluator.start();
    this.monitor.start();
    this.bounds?.start();
    void this.bounds?.check();
  }

  async close(): Promise<void> {
    this.evaluator.stop();
    await this.bounds?.stop();
    await this.monitor.stop();
    await this.options.alerts.flush();
  }

  /** Counts one answer of a model route. */
  record(figure: RequestFigure): void {
    this.metrics.record(figure);
  }

  /** Every model's live version with its card, as the drift monitor reads them. */
  monitoredModels(): MonitoredModel[] {
    const releases = this.options.releases();
    if (!releases) return [];
    return this.options.manifest.models.flatMap(({ entry }) => {
      const release = releases.get(entry.name);
      if (!release) return [];
      const live = release.status().live;
      const handle = release.versions.find((v) => v.version === live) ?? release.versions[0]!;
      return [
        {
          name: entry.name,
          version: String(handle.version),
          card: handle.model.card,
          runtime: entry.runtime,
          ...(entry.runtime === 'sagemaker' ? { endpointName: localEndpointName(entry.name, handle.version) } : {}),
          // The same resolution as the cloud monitor's construct (lib/monitoring/drift-monitor.ts) and `mlship drift`.
          drift: resolveDriftThresholds(entry.monitoring.drift).thresholds,
        },
      ];
    });
  }

  /**
   * Every model as the quality monitor judges it: the live version's card, the other loaded versions' cards
   * (a canary's predictions are judged too), and its monitoring.quality with the window scaled by --time-scale.
   */
  qualityModels(): QualityMonitoredModel[] {
    const releases = this.options.releases();
    if (!releases) return [];
    return this.options.manifest.models.flatMap(({ entry }) => {
      const release = releases.get(entry.name);
      if (!release) return [];
      const live = release.status().live;
      const handle = release.versions.find((v) => v.version === live) ?? release.versions[0]!;
      const cards = new Map<string, ModelCard>(release.versions.filter((v) => v !== handle).map((v) => [String(v.version), v.model.card]));
      const quality = { ...entry.monitoring.quality, windowHours: entry.monitoring.quality.windowHours * this.timeScale };
      const trainingRows = entry.retrain === undefined ? undefined : entry.runtime === 'sagemaker' ? { runtime: 'sagemaker' as const, endpointName: localEndpointName(entry.name, handle.version) } : { runtime: 'lambda' as const };
      return [{ name: entry.name, card: handle.model.card, cards, quality, ...(trainingRows ? { trainingRows } : {}) }];
    });
  }

  /** What the status page shows. */
  snapshot(now = Date.now()): StatusSnapshot {
    const { manifest } = this.options.manifest;
    const releases = this.options.releases();
    const alarms = this.evaluator.statuses();
    const composites = this.evaluator.composites();
    const models: ModelStatus[] = manifest.models.map((entry) => {
      const release = releases?.get(entry.name)?.status();
      const periodMs = this.metrics.periodMs(entry.name);
      const periods = entry.monitoring.alarms.evaluationPeriods;
      const current = Math.floor(now / periodMs);
      const health = composites.find((c) => c.model === entry.name);
      return {
        name: entry.name,
        runtime: entry.runtime,
        live: release?.live ?? entry.version,
        traffic: release?.traffic ?? [],
        ...(release?.deployment ? { deployment: { from: release.deployment.from, to: release.deployment.to, weight: release.deployment.weight, strategy: release.deployment.strategy } } : {}),
        health: health ? { name: health.name, state: health.state, since: health.since, ...(health.trigger ? { trigger: health.trigger } : {}) } : { name: '', state: 'INSUFFICIENT_DATA', since: new Date(now).toISOString() },
        alarms: alarms.filter((a) => a.model === entry.name),
        recent: { minutes: (periods * periodMs) / 60_000, versions: this.metrics.versionFigures(entry.name, (current - periods + 1) * periodMs, (current + 1) * periodMs) },
        sinceStart: this.metrics.totalFigures(entry.name),
        drift: this.driftStatus(entry.name, resolveDriftThresholds(entry.monitoring.drift).thresholds.minSampleSize),
        quality: this.qualityStatus(entry.name, entry.monitoring.quality),
        topFeatures: topFeaturesStatus(releases?.get(entry.name)?.versions.map((v) => ({ version: v.version, card: v.model.card })) ?? []),
      };
    });
    return {
      project: manifest.project,
      stage: LOCAL_STAGE,
      time: new Date(now).toISOString(),
      timeScale: this.timeScale,
      monitor: {
        intervalSeconds: this.monitorIntervalMs / 1000,
        windowMinutes: manifest.monitoring.windowHours * 60 * this.timeScale,
        runs: this.monitor.completedRuns,
        ...this.monitor.health(),
        ...(this.bounds ? { storage: this.bounds.status() } : {}),
        ...(this.options.captureSink ? { capture: this.options.captureSink.stats() } : {}),
      },
      models,
      ...(this.options.processFaults ? { process: this.options.processFaults() } : {}),
      alerts: this.options.alerts
        .recent()
        .slice(0, 20)
        .map((a) => ({ time: a.time, level: a.level, model: a.model, event: a.event, message: a.message, ...(a.body ? { body: a.body } : {}) })),
    };
  }

  private qualityStatus(model: string, settings: QualitySettings): QualityStatus {
    const base = { windowHours: settings.windowHours * this.timeScale, thresholds: { ...settings.alarms } as Record<string, number> };
    const result = this.monitor.lastQualityResult(model);
    if (!result) return { ...base, state: 'not run yet', versions: [] };
    const { outcome } = result;
    if ('error' in outcome) return { ...base, state: 'error', lastRun: result.time, error: outcome.error.message, versions: [] };
    const versions = outcome.run.versions
      .filter((v) => v.figures.predictions > 0 || v.figures.labelled > 0)
      .map((v) => {
        const m = v.figures.metrics;
        return {
          version: v.version,
          labelled: v.figures.labelled,
          predictions: v.figures.predictions,
          coverage: v.figures.coverage,
          verdict: v.figures.verdict,
          minLabels: v.figures.minLabels,
          ...(m?.task === 'classification' ? { accuracy: m.accuracy, macroF1: m.macroF1, ...(m.rocAuc !== undefined ? { rocAuc: m.rocAuc } : {}) } : {}),
          ...(m?.task === 'regression' ? { mae: m.mae, ...(m.r2 !== undefined ? { r2: m.r2 } : {}) } : {}),
          breaches: v.breaches.map((b) => `${b.metric} ${Math.round(b.value * 1000) / 1000} ${b.comparison} ${b.threshold}`),
        };
      });
    const state = versions.some((v) => v.breaches.length > 0) ? 'alarm' : versions.some((v) => v.verdict === 'judged') ? 'ok' : 'not enough labels';
    return { ...base, state, lastRun: result.time, labelsWithoutPrediction: outcome.run.labels.withoutPrediction, versions };
  }

  private driftStatus(model: string, minSampleSize: number): DriftStatus {
    const result = this.monitor.lastResult(model);
    if (!result) return { state: 'not run yet', driftingFeatures: [], features: [] };
    const { outcome } = result;
    if ('error' in outcome) return { state: 'error', lastRun: result.time, error: outcome.error.message, driftingFeatures: [], features: [] };
    const { report } = outcome.run;
    const features = [...report.features]
      // Drifting important features first (the card's permutation importance), then drifting ones, then by PSI.
      .sort((a, b) => Number(b.drifting && b.importance?.important === true) - Number(a.drifting && a.importance?.important === true) || Number(b.drifting) - Number(a.drifting) || (b.psi ?? -1) - (a.psi ?? -1))
      .slice(0, 10)
      .map((f) => ({
        name: f.name,
        psi: f.psi,
        ksStatistic: f.ks?.statistic ?? null,
        ksPValue: f.ks?.pValue ?? null,
        jsDistance: f.jsDistance,
        drifting: f.drifting,
        ...(f.importance ? { importance: { rank: f.importance.rank, mean: f.importance.mean, important: f.importance.important } } : {}),
      }));
    return {
      state: report.verdict,
      lastRun: result.time,
      version: outcome.run.version,
      rows: report.rows,
      minSampleSize,
      summary: report.summary,
      driftingFeatures: report.driftingFeatures,
      features,
      ...(report.predictions ? { predictions: { drifting: report.predictions.drifting, jsDistance: report.predictions.jsDistance } } : {}),
    };
  }
}
