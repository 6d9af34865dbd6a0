// The drift monitor's core: one model's captured traffic over a window (both capture formats, read through
// an ObjectStore: S3 in the cloud, .mlship/capture/ locally) against the drift baseline of its model card,
// with the model's drift thresholds from the manifest; the figures as metrics (DRIFT_METRICS), and the alarm
// event a person reads when it drifts. The Lambda handler (lambdas/drift-monitor) and the local monitor timer
// both run this, so a drift alert reads the same everywhere. A run reads only what arrived since the last one:
// each hour of the window has a summary that new captures are folded into (lambdas/core/monitoring/summaries/),
// and the verdict is judged on the merge of the window's hour summaries.
import { lambdaCaptureHourPrefix, sageMakerCaptureHourPrefix } from '../capture/capture-keys';
import { NoBaselineError } from '../drift/check-file';
import { evaluateDrift, type DriftReport, type FeatureDrift } from '../drift/drift-report';
import type { DriftThresholds } from '../drift/thresholds';
import type { ModelCard } from '../../models/model-card';
import { DRIFT_METRICS, type AlarmEvent, type AlarmState } from '../contracts';
import { alarmName } from '../alarms/readable-alert';
import type { ObjectStore } from '../../storage/object-store';
import { foldWindow, type HourSource, type WindowFold } from '../summaries/window-fold';
import { wholeHoursOf } from '../summaries/summary-keys';
import { DRIFT_SUMMARY_KIND, driftFolder, type DriftFold } from './drift-fold';

export { NoBaselineError };

/** A model as the monitor sees it: the live version's card (its baseline), where its captures are, its thresholds. */
export interface MonitoredModel {
  readonly name: string;
  /** The version whose captures are read and whose card's baseline they are compared with. */
  readonly version: string;
  readonly card: ModelCard;
  readonly runtime: 'lambda' | 'sagemaker';
  /** runtime sagemaker: the endpoint whose captures are read (data-capture/<endpointName>/...). */
  readonly endpointName?: string;
  /** Its thresholds, resolved from the manifest's monitoring.drift by resolveDriftThresholds. */
  readonly drift: DriftThresholds;
}

export interface CaptureWindow {
  readonly from: Date;
  readonly to: Date;
}

/** One published figure: a DRIFT_METRICS name, its value and unit, and the feature for the Feature* ones. */
export interface DriftDatum {
  readonly metric: (typeof DRIFT_METRICS)[keyof typeof DRIFT_METRICS];
  readonly value: number;
  readonly unit: 'Count' | 'None';
  readonly feature?: string;
}

export interface MonitorRun {
  readonly model: string;
  readonly version: string;
  /** The whole UTC hours judged: from the first one's start to the window's end. */
  readonly window: CaptureWindow;
  readonly report: DriftReport;
  /** Capture lines read in the window's hours (by this run and the ones before). */
  readonly recordsRead: number;
  /** Lines that could not be read (not JSON, wrong shape, unknown label, too long), and the first few reasons, newest hour first. */
  readonly recordsRejected: number;
  readonly problems: string[];
  /** Capture objects in the window's hours. */
  readonly files: number;
  /** This run: capture objects it read (new ones, grown ones), the bytes it read, the rows it folded. */
  readonly objectsRead: number;
  readonly bytesRead: number;
  readonly rowsFolded: number;
  /** Rows the verdict was judged on (the report's rows). */
  readonly rowsInWindow: number;
  /** Hours in the window, hour summaries this run wrote and deleted (past retention). */
  readonly hours: number;
  readonly summariesWritten: number;
  readonly summariesDeleted: number;
  /** What to publish (DriftDetected only when the verdict is drift or no drift). */
  readonly datums: DriftDatum[];
}

export interface MonitorOptions {
  /** Longest capture line read; a longer one is rejected unread. @default DEFAULT_MAX_LINE_BYTES (1 MiB) */
  readonly maxLineBytes?: number;
  /**
   * Hour summaries are kept this many hours past the window's oldest hour, then deleted by the run (in the
   * cloud the bucket's lifecycle rule expires them too).
   * @default 24
   */
  readonly summaryMarginHours?: number;
  /** The run's time, written in the summaries. @default now */
  readonly now?: Date;
}

/** Hour summaries are kept a day past the window: a window widened by up to a day needs no captures read again. */
export const DEFAULT_SUMMARY_MARGIN_HOURS = 24;

const HOUR_MS = 3_600_000;

/** The capture folder of one hour of a model. */
function capturePrefix(model: MonitoredModel, hour: Date): string {
  if (model.runtime === 'sagemaker') {
    if (!model.endpointName) throw new RangeError(`${model.name} runs on SageMaker but no endpointName was given to read its captures`);
    return sageMakerCaptureHourPrefix(model.endpointName, hour);
  }
  return lambdaCaptureHourPrefix(model.name, model.version, hour);
}

/** The capture folders of a model for the window's whole hours, oldest first. */
export function capturePrefixes(model: MonitoredModel, window: CaptureWindow): string[] {
  return wholeHoursOf(window).map((hour) => capturePrefix(model, hour));
}

/**
 * Folds what arrived in the model's captures since the last run into the window's hour summaries, and
 * compares their merge with its card's drift baseline.
 */
export async function monitorModel(store: ObjectStore, bucket: string, model: MonitoredModel, window: CaptureWindow, options: MonitorOptions = {}): Promise<MonitorRun> {
  const folder = driftFolder(model.runtime, model.card);
  const hours: HourSource[] = wholeHoursOf(window).map((hour) => ({ hour, prefix: capturePrefix(model, hour) }));
  const margin = options.summaryMarginHours ?? DEFAULT_SUMMARY_MARGIN_HOURS;
  if (!(Number.isInteger(margin) && margin >= 0)) throw new RangeError(`summaryMarginHours must be a whole number of hours, 0 or more, received ${margin}`);
  const first = hours[0]!.hour;
  const fold = await foldWindow({
    store,
    bucket,
    kind: DRIFT_SUMMARY_KIND,
    model: model.name,
    version: model.version,
    hours,
    folder,
    deleteBefore: new Date(first.getTime() - margin * HOUR_MS),
    ...(options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes }),
    ...(options.now ? { now: options.now } : {}),
  });
  return monitorRunOf(model, { from: first, to: window.to }, hours.length, fold);
}

/**
 * A run's figures and verdict from the window's hours folded (by foldWindow here, or by the fan-out's merge of
 * its children's partial summaries: lambdas/core/monitoring/pipeline/).
 */
export function monitorRunOf(model: MonitoredModel, window: CaptureWindow, hours: number, fold: WindowFold<DriftFold>): MonitorRun {
  const importance = model.card.explanation?.importance;
  const report = evaluateDrift(fold.total.accumulator, { thresholds: model.drift, labels: model.card.labels, ...(importance ? { importance } : {}) });
  return {
    model: model.name,
    version: model.version,
    window,
    report,
    recordsRead: fold.lines,
    recordsRejected: fold.rejected,
    problems: fold.problems,
    files: fold.objects,
    objectsRead: fold.objectsRead,
    bytesRead: fold.bytesRead,
    rowsFolded: fold.rowsFolded,
    rowsInWindow: report.rows,
    hours,
    summariesWritten: fold.summariesWritten,
    summariesDeleted: fold.summariesDeleted,
    datums: driftDatums(report),
  };
}

/**
 * The figures of a report as metrics: CapturedRows always; the rest only when there were enough rows to judge
 * (below minSampleSize the figures are noise, and DriftDetected stays unpublished so the alarm sees no data).
 */
export function driftDatums(report: DriftReport): DriftDatum[] {
  const datums: DriftDatum[] = [{ metric: DRIFT_METRICS.rows, value: report.rows, unit: 'Count' }];
  if (report.verdict === 'not enough data') return datums;
  datums.push(
    { metric: DRIFT_METRICS.detected, value: report.verdict === 'drift' ? 1 : 0, unit: 'None' },
    { metric: DRIFT_METRICS.share, value: report.driftShare, unit: 'None' },
    { metric: DRIFT_METRICS.maxPsi, value: Math.max(0, ...report.features.map((f) => f.psi ?? 0)), unit: 'None' },
  );
  if (report.predictions) datums.push({ metric: DRIFT_METRICS.predictionJs, value: report.predictions.jsDistance, unit: 'None' });
  for (const f of report.features) {
    if (f.psi === null || f.ks === null || f.jsDistance === null) continue;
    datums.push(
      { metric: DRIFT_METRICS.featurePsi, value: f.psi, unit: 'None', feature: f.name },
      { metric: DRIFT_METRICS.featureKs, value: f.ks.statistic, unit: 'None', feature: f.name },
      { metric: DRIFT_METRICS.featureKsP, value: f.ks.pValue, unit: 'None', feature: f.name },
      { metric: DRIFT_METRICS.featureJs, value: f.jsDistance, unit: 'None', feature: f.name },
    );
  }
  return datums;
}

/** A CloudWatch MetricDatum (the fields PutMetricData takes), without the SDK's types. */
export interface CloudWatchDatum {
  readonly MetricName: string;
  readonly Dimensions: { Name: string; Value: string }[];
  readonly Value: number;
  readonly Unit: 'Count' | 'None';
  readonly Timestamp: Date;
}

/** Datums with their dimensions { stage, model } (and feature for the Feature* metrics). */
export function cloudWatchData(datums: readonly DriftDatum[], context: { readonly stage: string; readonly model: string; readonly time: Date }): CloudWatchDatum[] {
  return datums.map((d) => ({
    MetricName: d.metric,
    Dimensions: [
      { Name: 'stage', Value: context.stage },
      { Name: 'model', Value: context.model },
      ...(d.feature === undefined ? [] : [{ Name: 'feature', Value: d.feature }]),
    ],
    // CloudWatch takes no NaN or infinity (a constant feature's figures can be): send the nearest it takes.
    Value: Number.isFinite(d.value) ? d.value : d.value > 0 ? 1e300 : d.value < 0 ? -1e300 : 0,
    Unit: d.unit,
    Timestamp: context.time,
  }));
}

const figure = (x: number) => (x === 0 ? '0' : Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toFixed(2).replace(/\.?0+$/, '') : x.toExponential(1));

function featureLine(f: FeatureDrift): string {
  const shift = f.meanShiftInStd === null ? '' : `, mean moved ${f.meanShiftInStd >= 0 ? '+' : ''}${figure(f.meanShiftInStd)} std`;
  return `  ${f.name}: PSI ${figure(f.psi ?? NaN)}, KS ${figure(f.ks?.statistic ?? NaN)} (p ${figure(f.ks?.pValue ?? NaN)}), JS ${figure(f.jsDistance ?? NaN)}${shift}`;
}

/** What a drift state means and what to do first (the drift alarm's runbook says the same). */
export const DRIFT_RUNBOOK =
  'Live inputs or predictions no longer look like the training data. First read the features named here: a broken upstream feed (units, missing values, a new source) is fixed upstream; a real change in the population calls for retraining (npx mlship drift --model NAME --data FILE.csv --html report.html shows the histograms).';

/** The previous monitor state of a model, as the transition into drift is judged against. */
export interface PreviousDriftState {
  readonly drifting: boolean;
}

/**
 * The alarm event of a monitor run: ALARM for drift, OK for no drift, INSUFFICIENT_DATA below the minimum
 * sample. The figure is the share of drifting features (or the predictions' JS distance when only they
 * drift); the details name the drifting features first, highest PSI first, with PSI, KS, p and JS.
 */
export function driftAlarmEvent(
  run: MonitorRun,
  context: { readonly project: string; readonly stage: string; readonly dashboardUrl?: string; readonly previous?: PreviousDriftState; readonly time?: Date },
): AlarmEvent {
  const { report } = run;
  const t = report.thresholds;
  const state: AlarmState = report.verdict === 'drift' ? 'ALARM' : report.verdict === 'no drift' ? 'OK' : 'INSUFFICIENT_DATA';
  const predictionsOnly = report.verdict === 'drift' && !(report.driftShare > t.driftShare) && report.predictions?.drifting === true;
  const drifting = report.features.filter((f) => f.drifting);
  const others = report.features.filter((f) => !f.drifting && f.psi !== null).slice(0, 3);
  const details: string[] = [];
  if (drifting.length > 0) {
    details.push(`Drifting features (PSI >= ${figure(t.psiSignificant)} and KS p < ${figure(t.alpha)}), highest PSI first:`, ...drifting.map(featureLine));
  } else {
    details.push('No feature drifts.');
  }
  if (others.length > 0) details.push('Next highest PSI:', ...others.map(featureLine));
  const p = report.predictions;
  if (p?.kind === 'classes') {
    details.push(`Predictions: ${p.drifting ? 'drift' : 'stable'} (chi-square p ${figure(p.chiSquare.pValue)}, JS ${figure(p.jsDistance)}); share per class ${p.labels.map((l, i) => `${l} ${figure((100 * p.baseline[i]!) / Math.max(1, p.baseline.reduce((s, c) => s + c, 0)))}% -> ${figure((100 * p.current[i]!) / Math.max(1, p.current.reduce((s, c) => s + c, 0)))}%`).join(', ')}`);
  } else if (p?.kind === 'values') {
    details.push(`Predictions: ${p.drifting ? 'drift' : 'stable'} (KS p ${figure(p.ks.pValue)}, JS ${figure(p.jsDistance)})`);
  }
  details.push(
    `Rows: ${report.rows} captured between ${run.window.from.toISOString()} and ${run.window.to.toISOString()} (baseline ${report.baselineRows} rows)${run.recordsRejected > 0 ? `; ${run.recordsRejected} capture lines could not be read` : ''}`,
    `Verdict: ${report.summary}`,
  );
  const figureAndThreshold = predictionsOnly
    ? { value: p!.jsDistance, threshold: t.predictionJs, comparison: '>=', unit: '' }
    : { value: report.driftShare * 100, threshold: t.driftShare * 100, comparison: '>', unit: '%' };
  return {
    state,
    ...(context.previous ? { previousState: context.previous.drifting ? 'ALARM' : 'OK' } : {}),
    kind: 'drift',
    alarmName: alarmName(context.project, context.stage, run.model, 'drift'),
    project: context.project,
    stage: context.stage,
    model: run.model,
    version: run.version,
    ...(state === 'INSUFFICIENT_DATA' ? { unit: '' } : figureAndThreshold),
    time: (context.time ?? run.window.to).toISOString(),
    runbook: DRIFT_RUNBOOK,
    details,
    ...(context.dashboardUrl ? { dashboardUrl: context.dashboardUrl } : {}),
  };
}
