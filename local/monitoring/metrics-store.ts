// The local stand-in for CloudWatch's metrics: every answer of a model route (which version, which route,
// status, time at the gateway and in the handler) counted per model in periods aligned like CloudWatch's,
// and the drift monitor's figures per run. The alarm evaluator asks it for the metrics the alarm catalog names
// (AWS/ApiGateway Latency, AWS/Lambda Duration, the handler's EMF counts, ...) and gets the local figure
// that stands for each; the status page reads its per-version summaries.
import type { DriftDatum } from '../../lambdas/core/monitoring/monitor/drift-monitor';
import { API_LOG_METRICS_NAMESPACE, isLatencyJudged, type MetricRef } from '../../lambdas/core/monitoring/alarms/alarm-catalog';
import { DRIFT_METRICS_NAMESPACE } from '../../lambdas/core/monitoring/contracts';
import { QUALITY_METRICS_NAMESPACE } from '../../lambdas/core/quality/contracts';
import type { QualityDatum } from '../../lambdas/core/quality/monitor/run-quality-monitor';
import { percentile } from '../release/window';

/** One answer of a model route. */
export interface RequestFigure {
  readonly model: string;
  /** The version that answered; undefined when the gateway answered first (429 throttled, 413, still loading). */
  readonly version?: string;
  /** The route's resource path, e.g. /v2/models/breast-cancer/infer (API Gateway's Resource dimension). */
  readonly resource: string;
  /**
   * The route's operation (predict, infer, explain, metadata, ...): only scoring requests (isLatencyJudged) are in
   * the handler's EMF latency (HandlerLatency, InferenceLatency), as the function publishes them. @default - not scoring
   */
  readonly operation?: string;
  readonly statusCode: number;
  /** Time at the gateway, ms: what API Gateway's Latency measures. */
  readonly latencyMs: number;
  /** Time in the version's handler, ms: the function's Duration (ModelLatency for a SageMaker model). */
  readonly handlerMs?: number;
  /** When it was answered, epoch ms. @default now */
  readonly time?: number;
}

/** Namespace of the local drift monitor's own run counts (local only: the alarm catalog has no spec on them yet). */
export const MONITOR_RUNS_NAMESPACE = 'mlship/local-monitor';
export type MonitorRunStatus = 'succeeded' | 'failed' | 'skipped';
/** The metric of each run status, Sum per period: MonitorRunsFailed > 0 is a monitor that failed in that period. */
export const MONITOR_RUN_METRICS: Readonly<Record<MonitorRunStatus, string>> = { succeeded: 'MonitorRunsSucceeded', failed: 'MonitorRunsFailed', skipped: 'MonitorRunsSkipped' };

/** Latency samples kept per version, route and period; past it, reservoir sampling keeps percentiles honest. */
export const MAX_SAMPLES_PER_PERIOD = 4096;

class Reservoir {
  private values = new Float64Array(64);
  length = 0;
  seen = 0;
  private random = 1;

  add(value: number): void {
    this.seen++;
    if (this.length < MAX_SAMPLES_PER_PERIOD) {
      if (this.length === this.values.length) {
        const grown = new Float64Array(Math.min(MAX_SAMPLES_PER_PERIOD, this.values.length * 2));
        grown.set(this.values);
        this.values = grown;
      }
      this.values[this.length++] = value;
      return;
    }
    // Algorithm R with a small deterministic generator: every sample of the period has the same chance.
    this.random = (Math.imul(this.random, 1664525) + 1013904223) >>> 0;
    const slot = this.random % this.seen;
    if (slot < MAX_SAMPLES_PER_PERIOD) this.values[slot] = value;
  }

  samples(): Float64Array {
    return this.values.subarray(0, this.length);
  }
}

interface Counts {
  requests: number;
  clientErrors: number;
  serverErrors: number;
  throttles: number;
  handled: number;
  readonly latency: Reservoir;
  readonly handler: Reservoir;
}

interface Cell extends Counts {
  readonly version: string | undefined;
  readonly resource: string;
  /** Whether the route's requests are scoring ones, judged for latency. */
  readonly judged: boolean;
}

/** A version's figures over a stretch of time (the status page's rows). */
export interface VersionFigures {
  readonly version: string;
  readonly requests: number;
  readonly clientErrors: number;
  readonly serverErrors: number;
  readonly throttles: number;
  /** Percentiles of the time at the gateway, ms; null without requests. */
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
}

interface DriftPoint {
  readonly time: number;
  readonly datums: readonly DriftDatum[];
}

/** One quality monitor run's figures of a version (namespace mlship/quality). */
export interface QualityPoint {
  readonly time: number;
  readonly version: string;
  readonly datums: readonly QualityDatum[];
}

interface ModelSeries {
  readonly periodMs: number;
  quality: QualityPoint[];
  readonly periods: Map<number, Map<string, Cell>>;
  /** Per version since the store began (the status page's "since start"). */
  readonly totals: Map<string, Cell>;
  drift: DriftPoint[];
}

/** Where a metric's local figure comes from. */
type Source = 'latency' | 'handler' | 'scoring-handler' | 'handler-us' | 'requests' | 'client-errors' | 'server-errors' | 'throttles' | 'handled';

/**
 * The local figure behind each CloudWatch metric the alarms and dashboard use. The gateway is API Gateway
 * and the function in one process: API latency is the time at the gateway, the function's Duration (and a
 * SageMaker endpoint's ModelLatency, in microseconds as CloudWatch has it) the time in the handler, and
 * the gateway's 429s are the API's throttled requests (the access-log metric in the cloud). Lambda's own
 * Throttles and GPU utilization have no local figure (no concurrency limit, no GPU): they see no data.
 */
const SOURCES: Readonly<Record<string, Readonly<Record<string, Source>>>> = {
  'AWS/ApiGateway': { Latency: 'latency', Count: 'requests', '4XXError': 'client-errors', '5XXError': 'server-errors' },
  'AWS/Lambda': { Duration: 'handler', Invocations: 'handled', Errors: 'server-errors' },
  'AWS/SageMaker': { ModelLatency: 'handler-us', Invocations: 'handled', Invocation5XXErrors: 'server-errors', Invocation4XXErrors: 'client-errors' },
};

/**
 * The handler's EMF metrics (namespace given to the store): counted per version. Its latencies are those of
 * scoring requests only (an :explain request's time is ExplainLatency); Lambda's Duration above has them all.
 */
const EMF_SOURCES: Readonly<Record<string, Source>> = { Requests: 'requests', ServerErrors: 'server-errors', ClientErrors: 'client-errors', InferenceLatency: 'scoring-handler', HandlerLatency: 'scoring-handler' };

export interface LocalMetricsOptions {
  /** Length of a model's periods, ms (its alarms' period, scaled by --time-scale). */
  readonly periodMs: (model: string) => number;
  /** Namespace of the handler's EMF metrics, as the alarm specs name it. */
  readonly emfNamespace: string;
  /** Periods kept per model. @default 60 */
  readonly keepPeriods?: number;
  /** Drift monitor runs kept per model. @default 100 */
  readonly keepDriftRuns?: number;
  readonly now?: () => number;
}

export class LocalMetrics {
  private readonly models = new Map<string, ModelSeries>();
  private monitorRuns: { readonly time: number; readonly status: MonitorRunStatus }[] = [];
  private readonly keepPeriods: number;
  private readonly now: () => number;

  constructor(private readonly options: LocalMetricsOptions) {
    this.keepPeriods = options.keepPeriods ?? 60;
    this.now = options.now ?? Date.now;
  }

  private series(model: string): ModelSeries {
    let series = this.models.get(model);
    if (!series) {
      const periodMs = this.options.periodMs(model);
      if (!(periodMs > 0)) throw new RangeError(`period of ${model} must be above 0 ms, received ${periodMs}`);
      series = { periodMs, periods: new Map(), totals: new Map(), drift: [], quality: [] };
      this.models.set(model, series);
    }
    return series;
  }

  /** The period length of a model, ms. */
  periodMs(model: string): number {
    return this.series(model).periodMs;
  }

  /** Counts one answer. Cheap: a map lookup and two reservoir inserts. */
  record(figure: RequestFigure): void {
    const series = this.series(figure.model);
    const index = Math.floor((figure.time ?? this.now()) / series.periodMs);
    let period = series.periods.get(index);
    if (!period) {
      period = new Map();
      series.periods.set(index, period);
      for (const old of series.periods.keys()) if (old <= index - this.keepPeriods) series.periods.delete(old);
    }
    const key = `${figure.version ?? ''}|${figure.resource}`;
    let cell = period.get(key);
    if (!cell) {
      cell = newCell(figure.version, figure.resource, isLatencyJudged(figure.operation));
      period.set(key, cell);
    }
    let total = series.totals.get(figure.version ?? '');
    if (!total) {
      total = newCell(figure.version, '*', false);
      series.totals.set(figure.version ?? '', total);
    }
    count(cell, figure);
    count(total, figure);
  }

  /** Keeps one drift monitor run's figures (what the cloud monitor puts to CloudWatch). */
  recordDrift(model: string, datums: readonly DriftDatum[], time: Date): void {
    const series = this.series(model);
    series.drift.push({ time: time.getTime(), datums: [...datums] });
    const keep = this.options.keepDriftRuns ?? 100;
    if (series.drift.length > keep) series.drift = series.drift.slice(-keep);
  }

  /** Keeps one quality monitor run's figures of a version (what the cloud monitor puts to CloudWatch under mlship/quality). */
  recordQuality(model: string, version: string, datums: readonly QualityDatum[], time: Date): void {
    const series = this.series(model);
    series.quality.push({ time: time.getTime(), version, datums: [...datums] });
    const keep = 4 * (this.options.keepDriftRuns ?? 100);
    if (series.quality.length > keep) series.quality = series.quality.slice(-keep);
  }

  /** The latest quality run's figures of each version of a model, newest version run first. */
  latestQuality(model: string): QualityPoint[] {
    const latest = new Map<string, QualityPoint>();
    for (const point of this.models.get(model)?.quality ?? []) latest.set(point.version, point);
    return [...latest.values()].sort((a, b) => b.time - a.time);
  }

  /** Counts one drift monitor run (or a tick skipped because a run was still going). */
  recordMonitorRun(status: MonitorRunStatus, time: Date): void {
    this.monitorRuns.push({ time: time.getTime(), status });
    const keep = 10 * (this.options.keepDriftRuns ?? 100);
    if (this.monitorRuns.length > keep) this.monitorRuns = this.monitorRuns.slice(-keep);
  }

  /** The latest drift run's figures of a model, with its time. */
  latestDrift(model: string): DriftPoint | undefined {
    const runs = this.models.get(model)?.drift;
    return runs?.[runs.length - 1];
  }

  private cells(model: string, from: number, to: number, filter: (cell: Cell) => boolean): Cell[] {
    const series = this.models.get(model);
    if (!series) return [];
    const cells: Cell[] = [];
    const first = Math.ceil(from / series.periodMs);
    const last = Math.floor(to / series.periodMs);
    for (const [index, period] of series.periods) {
      if (index < first || index >= last) continue;
      for (const cell of period.values()) if (filter(cell)) cells.push(cell);
    }
    return cells;
  }

  /**
   * The value of a CloudWatch metric for a model over [from, to) (whole periods inside it), in the metric's
   * own unit; undefined when there is no datapoint (no request of that kind in the stretch), or when the
   * metric has no local figure.
   */
  metric(model: string, ref: MetricRef, from: number, to: number): number | undefined {
    if (ref.namespace === DRIFT_METRICS_NAMESPACE) return this.driftMetric(model, ref, from, to);
    if (ref.namespace === QUALITY_METRICS_NAMESPACE) return this.qualityMetric(model, ref, from, to);
    if (ref.namespace === MONITOR_RUNS_NAMESPACE) return this.monitorRunMetric(ref, from, to);
    const source =
      ref.namespace === this.options.emfNamespace
        ? EMF_SOURCES[ref.metricName]
        : ref.namespace === API_LOG_METRICS_NAMESPACE && ref.metricName.endsWith('-Throttled')
          ? 'throttles'
          : SOURCES[ref.namespace]?.[ref.metricName];
    if (!source) return undefined;
    const version = ref.namespace === this.options.emfNamespace ? ref.dimensions.version : undefined;
    const resource = ref.namespace === 'AWS/ApiGateway' ? ref.dimensions.Resource : undefined;
    const cells = this.cells(model, from, to, (c) => (version === undefined || c.version === version) && (resource === undefined || c.resource === resource));
    const requests = cells.reduce((s, c) => s + c.requests, 0);
    if (requests === 0) return undefined;
    const sum = (field: 'requests' | 'clientErrors' | 'serverErrors' | 'throttles' | 'handled') => cells.reduce((s, c) => s + c[field], 0);
    switch (source) {
      case 'requests':
        return countStatistic(ref.statistic, requests, requests);
      case 'client-errors':
        return countStatistic(ref.statistic, sum('clientErrors'), requests);
      case 'server-errors':
        return countStatistic(ref.statistic, sum('serverErrors'), requests);
      case 'throttles':
        return countStatistic(ref.statistic, sum('throttles'), requests);
      case 'handled':
        return sum('handled') === 0 ? undefined : countStatistic(ref.statistic, sum('handled'), sum('handled'));
      case 'latency':
        return sampleStatistic(ref.statistic, merge(cells.map((c) => c.latency.samples())));
      case 'handler':
      case 'handler-us': {
        const value = sampleStatistic(ref.statistic, merge(cells.map((c) => c.handler.samples())));
        return value === undefined || source === 'handler' ? value : value * 1000;
      }
      case 'scoring-handler':
        return sampleStatistic(ref.statistic, merge(cells.filter((c) => c.judged).map((c) => c.handler.samples())));
    }
  }

  private driftMetric(model: string, ref: MetricRef, from: number, to: number): number | undefined {
    const runs = this.models.get(model)?.drift ?? [];
    const values = runs
      .filter((run) => run.time >= from && run.time < to)
      .flatMap((run) => run.datums.filter((d) => d.metric === ref.metricName && d.feature === ref.dimensions.feature).map((d) => d.value));
    return values.length === 0 ? undefined : sampleStatistic(ref.statistic, Float64Array.from(values));
  }

  /** A quality figure of the version the dimensions name (any version without one) over the runs in [from, to). */
  private qualityMetric(model: string, ref: MetricRef, from: number, to: number): number | undefined {
    const values = (this.models.get(model)?.quality ?? [])
      .filter((run) => run.time >= from && run.time < to && (ref.dimensions.version === undefined || run.version === ref.dimensions.version))
      .flatMap((run) => run.datums.filter((d) => d.metric === ref.metricName).map((d) => d.value));
    return values.length === 0 ? undefined : sampleStatistic(ref.statistic, Float64Array.from(values));
  }

  /** Runs of a status in [from, to) (Sum, SampleCount); undefined when no run ended then. */
  private monitorRunMetric(ref: MetricRef, from: number, to: number): number | undefined {
    const status = (Object.keys(MONITOR_RUN_METRICS) as MonitorRunStatus[]).find((s) => MONITOR_RUN_METRICS[s] === ref.metricName);
    const runs = this.monitorRuns.filter((r) => r.time >= from && r.time < to);
    if (!status || runs.length === 0) return undefined;
    return countStatistic(ref.statistic, runs.filter((r) => r.status === status).length, runs.length);
  }

  /** Per version (and '-' for answers given before a version was picked): counts and latency percentiles over [from, to). */
  versionFigures(model: string, from: number, to: number): VersionFigures[] {
    const byVersion = new Map<string, Cell[]>();
    for (const cell of this.cells(model, from, to, () => true)) {
      const key = cell.version ?? '-';
      byVersion.set(key, [...(byVersion.get(key) ?? []), cell]);
    }
    return summarise(byVersion);
  }

  /** Per version since the store began (latency percentiles over a uniform sample of every answer). */
  totalFigures(model: string): VersionFigures[] {
    const totals = this.models.get(model)?.totals ?? new Map<string, Cell>();
    return summarise([...totals].map(([version, cell]) => [version === '' ? '-' : version, [cell]] as [string, Cell[]]));
  }
}

function newCell(version: string | undefined, resource: string, judged: boolean): Cell {
  return { version, resource, judged, requests: 0, clientErrors: 0, serverErrors: 0, throttles: 0, handled: 0, latency: new Reservoir(), handler: new Reservoir() };
}

function count(cell: Cell, figure: RequestFigure): void {
  cell.requests++;
  if (figure.statusCode === 429) cell.throttles++;
  else if (figure.statusCode >= 500) cell.serverErrors++;
  else if (figure.statusCode >= 400) cell.clientErrors++;
  cell.latency.add(figure.latencyMs);
  if (figure.handlerMs !== undefined) {
    cell.handled++;
    cell.handler.add(figure.handlerMs);
  }
}

function summarise(cellsByVersion: Iterable<[string, Cell[]]>): VersionFigures[] {
  return [...cellsByVersion]
    .sort(([a], [b]) => (a === '-' ? 1 : b === '-' ? -1 : Number(a) - Number(b)))
    .map(([version, cells]) => {
      const samples = Array.from(merge(cells.map((c) => c.latency.samples())));
      const p = (q: number) => (samples.length === 0 ? null : percentile(samples, q));
      return {
        version,
        requests: cells.reduce((s, c) => s + c.requests, 0),
        clientErrors: cells.reduce((s, c) => s + c.clientErrors, 0),
        serverErrors: cells.reduce((s, c) => s + c.serverErrors, 0),
        throttles: cells.reduce((s, c) => s + c.throttles, 0),
        p50Ms: p(0.5),
        p90Ms: p(0.9),
        p99Ms: p(0.99),
      };
    });
}

function merge(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A count metric (one datapoint of 1 per event, as EMF counts are): Sum is the count. */
function countStatistic(statistic: string, count: number, samples: number): number | undefined {
  switch (statistic) {
    case 'Sum':
      return count;
    case 'SampleCount':
      return samples;
    case 'Average':
      return samples === 0 ? undefined : count / samples;
    case 'Maximum':
      return count > 0 ? 1 : 0;
    case 'Minimum':
      return count === samples ? 1 : 0;
    default:
      return undefined;
  }
}

/** A statistic over samples: pNN (nearest rank, as CloudWatch), Average, Maximum, Minimum, Sum, SampleCount. */
export function sampleStatistic(statistic: string, samples: Float64Array): number | undefined {
  if (samples.length === 0) return undefined;
  const p = /^p(\d+(?:\.\d+)?)$/.exec(statistic);
  if (p) return percentile(Array.from(samples), Number(p[1]) / 100);
  switch (statistic) {
    case 'Average':
      return samples.reduce((s, v) => s + v, 0) / samples.length;
    case 'Maximum':
      return samples.reduce((m, v) => Math.max(m, v), -Infinity);
    case 'Minimum':
      return samples.reduce((m, v) => Math.min(m, v), Infinity);
    case 'Sum':
      return samples.reduce((s, v) => s + v, 0);
    case 'SampleCount':
      return samples.length;
    default:
      return undefined;
  }
}
