// The drift monitor's core: one model's captured traffic over a window (both capture formats, read through
// an ObjectStore: S3 in the cloud, .mlship/capture/ locally) against the drift baseline of its model card,
// with the model's drift thresholds from the manifest; the figures as metrics (DRIFT_METRICS), and the alarm
// event a person reads when it drifts. The Lambda handler (lambdas/drift-monitor) and the local monitor timer
// both run this, so a drift alert reads the same everywhere.
import { lambdaCaptureHourPrefix, hoursOf, sageMakerCaptureHourPrefix } from '../capture/capture-keys';
import { parseLambdaCaptures, parseSageMakerCaptures, type CapturedBatch, type ParsedCaptures } from '../capture/capture-parse';
import { NoBaselineError } from '../drift/check-file';
import { DriftAccumulator, evaluateDrift, type DriftReport, type FeatureDrift } from '../drift/drift-report';
import type { DriftThresholds } from '../drift/thresholds';
import type { ModelCard } from '../../models/model-card';
import { DRIFT_METRICS, type AlarmEvent, type AlarmState } from '../contracts';
import { alarmName } from '../alarms/readable-alert';
import { readText, type ObjectStore } from '../../storage/object-store';

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
  readonly window: CaptureWindow;
  readonly report: DriftReport;
  /** Capture lines read in the window's hours. */
  readonly recordsRead: number;
  /** Lines that could not be read (not JSON, wrong shape, unknown label), and the first few reasons. */
  readonly recordsRejected: number;
  readonly problems: string[];
  /** Capture files read. */
  readonly files: number;
  /** What to publish (DriftDetected only when the verdict is drift or no drift). */
  readonly datums: DriftDatum[];
}

/** The capture folders of a model for the window's hours. */
export function capturePrefixes(model: MonitoredModel, window: CaptureWindow): string[] {
  if (model.runtime === 'sagemaker') {
    if (!model.endpointName) throw new RangeError(`${model.name} runs on SageMaker but no endpointName was given to read its captures`);
    return hoursOf(window).map((hour) => sageMakerCaptureHourPrefix(model.endpointName!, hour));
  }
  return hoursOf(window).map((hour) => lambdaCaptureHourPrefix(model.name, model.version, hour));
}

/** Reads the model's captures of the window and compares them with its card's drift baseline. */
export async function monitorModel(store: ObjectStore, bucket: string, model: MonitoredModel, window: CaptureWindow): Promise<MonitorRun> {
  const { card } = model;
  if (!card.driftBaseline) throw new NoBaselineError(`${model.name} v${model.version} has no drift baseline in its model.json; the monitor has nothing to compare with`);
  const accumulator = new DriftAccumulator(card.driftBaseline);
  const regression = card.driftBaseline.predictions.kind === 'values';
  const parse: (text: string, card: ModelCard) => ParsedCaptures = model.runtime === 'sagemaker' ? parseSageMakerCaptures : parseLambdaCaptures;
  const from = window.from.getTime();
  const to = window.to.getTime();
  let recordsRead = 0;
  let recordsRejected = 0;
  let files = 0;
  const problems: string[] = [];
  const add = (batch: CapturedBatch) => {
    const t = batch.time.getTime();
    // An hour's folder holds what arrived in that hour; the window's first and last hours are cut exactly.
    if (!(t >= from && t < to)) return;
    accumulator.addRows(batch.rows, batch.count);
    if (!regression && batch.classIndex) accumulator.addPredictedClasses(batch.classIndex);
    if (regression && batch.values) accumulator.addPredictedValues(batch.values);
  };
  for (const prefix of capturePrefixes(model, window)) {
    for await (const object of store.list(bucket, prefix)) {
      files++;
      const parsed = parse(await readText(store, bucket, object.key), card);
      recordsRead += parsed.lines;
      recordsRejected += parsed.rejected;
      for (const problem of parsed.problems) if (problems.length < 10) problems.push(`${object.key} ${problem}`);
      for (const batch of parsed.batches) {
        try {
          add(batch);
        } catch (error) {
          recordsRejected++;
          if (problems.length < 10) problems.push(`${object.key}: ${(error as Error).message}`);
        }
      }
    }
  }
  const report = evaluateDrift(accumulator, { thresholds: model.drift, labels: card.labels });
  return { model: model.name, version: model.version, window, report, recordsRead, recordsRejected, problems, files, datums: driftDatums(report) };
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
