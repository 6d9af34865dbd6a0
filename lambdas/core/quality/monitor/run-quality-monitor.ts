// One run of the quality monitor over every model: join the labels received with the predictions of the
// window (quality-join.ts), per version compute the figures (QualityFigures), publish them (QUALITY_METRICS,
// namespace mlship/quality, dimensions stage, model, version), judge the manifest's quality alarms on them and
// send one alert per incident (quality-state.ts). The dependencies are injected: the Lambda handler
// (lambdas/quality-monitor) passes CloudWatch and SNS clients, the local monitor thread its calls back to the
// main thread's metrics store and alert sinks; both run this, so a quality alert reads the same everywhere.
// After a model's figures, for a model that retrains, the window's labelled captured requests are written as
// training rows under the retrain data prefix (issue 17.4, training-rows.ts), in the cloud and locally alike.
import type { ModelCard } from '../../models/model-card';
import type { QualitySettings } from '../../manifest/schema';
import { readableAlert } from '../../monitoring/alarms/readable-alert';
import type { AlarmEvent, ReadableAlert } from '../../monitoring/contracts';
import type { CloudWatchDatum } from '../../monitoring/monitor/drift-monitor';
import type { ObjectStore } from '../../storage/object-store';
import { trainingRowsWindow } from '../../retrain/production-rows';
import { writeLabelledTrainingRows, type TrainingRowsResult } from '../training-rows/training-rows';
import { QUALITY_METRICS, QUALITY_METRICS_NAMESPACE } from '../contracts';
import { qualityFigures } from '../metrics/quality-accumulator';
import type { QualityFigures } from '../metrics/types';
import { judgeQuality, liveBaselineFigure, qualityAlarmEvent, qualityBaseline, type QualityBaseline, type QualityBreach } from './quality-alarms';
import { joinQualityWindow, type HourQuality, type JoinOptions, type LabelCounts, type QualityJoin } from './quality-join';
import { nextQualityState, readQualityState, writeQualityState, type QualityMonitorState, type QualityTransition } from './quality-state';

export { QUALITY_METRICS_NAMESPACE };

/** A model as the quality monitor sees it. */
export interface QualityMonitoredModel {
  readonly name: string;
  /** The live version's card: its labels check every label, its held-out evaluation is the baseline. */
  readonly card: ModelCard;
  /** Cards of other versions whose predictions may be in the window (a canary, the version before), by version. */
  readonly cards?: ReadonlyMap<string, ModelCard>;
  /** The manifest's monitoring.quality. */
  readonly quality: QualitySettings;
  /**
   * Set for a model with a retrain block: after its figures, the labelled captured requests of the window become
   * training rows (writeLabelledTrainingRows). A SageMaker model's captures are its endpoint's.
   * @default - no rows written
   */
  readonly trainingRows?: TrainingRowsSource;
}

/** Where a retraining model's captured features are: the Lambda capture lines, or its endpoint's capture. */
export type TrainingRowsSource = { readonly runtime: 'lambda' } | { readonly runtime: 'sagemaker'; readonly endpointName: string };

/** One published figure: a QUALITY_METRICS name, its value and unit. */
export interface QualityDatum {
  readonly metric: (typeof QUALITY_METRICS)[keyof typeof QUALITY_METRICS];
  readonly value: number;
  readonly unit: 'Count' | 'None' | 'Seconds';
}

export interface QualityMonitorDependencies {
  readonly store: ObjectStore;
  /** The capture bucket (predictions/, ground-truth/, monitor/state/). */
  readonly bucket: string;
  readonly project: string;
  readonly stage: string;
  readonly models: readonly QualityMonitoredModel[];
  /** Publishes one version's figures (CloudWatch PutMetricData in the cloud: qualityCloudWatchData). */
  putMetrics(model: string, version: string, datums: readonly QualityDatum[], time: Date): Promise<void>;
  /** Sends the alert of a version going into ALARM, or recovering (SNS Publish in the cloud). */
  notify(alert: ReadableAlert, event: AlarmEvent): Promise<void>;
  /** The alerts' link to the report: the CloudWatch dashboard in the cloud, the status page locally. */
  readonly dashboardUrl?: string;
  readonly joinOptions?: JoinOptions;
  /**
   * Where the labelled training rows of models with `trainingRows` go: the retrain data bucket (locally the
   * state folder's retrain-data/), read through `store` like the captures.
   * @default - no rows written
   */
  readonly trainingRows?: { readonly dataBucket: string };
}

/** One version's figures of a run. */
export interface VersionQuality {
  readonly version: string;
  readonly figures: QualityFigures;
  /** Its card's held-out figures (the live card's when its own is unknown). */
  readonly baseline?: QualityBaseline;
  readonly breaches: readonly QualityBreach[];
  readonly datums: readonly QualityDatum[];
  /** Per hour of the window: predictions, labelled, and accuracy (or MAE) of the labelled ones. */
  readonly hours: readonly HourFigure[];
  readonly duplicatePredictions: number;
  readonly rejectedLines: number;
  readonly unknownClasses: number;
}

export interface HourFigure {
  readonly hour: string;
  readonly predictions: number;
  readonly labelled: number;
  /** Classifiers: accuracy of the hour's labelled predictions; undefined without any. */
  readonly accuracy?: number;
  /** Regressors: MAE of the hour's labelled predictions. */
  readonly mae?: number;
}

export interface QualityRun {
  readonly model: string;
  readonly window: { readonly from: Date; readonly to: Date };
  readonly task: 'classification' | 'regression';
  readonly labels: LabelCounts;
  readonly versions: readonly VersionQuality[];
  readonly predictionObjects: number;
  readonly bytesRead: number;
  readonly problems: readonly string[];
  /** How long the join and the figures took, ms. */
  readonly ms: number;
}

export type QualityOutcome =
  | {
      readonly model: string;
      readonly run: QualityRun;
      readonly state: QualityMonitorState;
      readonly alerts: readonly QualityTransition[];
      /** The training rows written for a model that retrains. */
      readonly trainingRows?: TrainingRowsResult;
      /** Why they could not be written (the figures and alerts of the run stand). */
      readonly trainingRowsError?: string;
    }
  | { readonly model: string; readonly error: Error };

const HOUR_MS = 3_600_000;

function hourFigure(h: HourQuality, task: 'classification' | 'regression'): HourFigure {
  const base = { hour: h.hour, predictions: h.predictions, labelled: h.labelled };
  if (h.labelled === 0) return base;
  return task === 'classification' ? { ...base, accuracy: h.correct / h.labelled } : { ...base, mae: h.absError / h.labelled };
}

/**
 * The figures as metrics: LabelledPredictions and LabelCoverage always, the rest only from minLabels labelled
 * predictions (below it they are noise, and the alarms see no data). DropFromBaseline is the card's held-out
 * accuracy (R² for regressors) minus the live one.
 */
export function qualityDatums(figures: QualityFigures, baseline: QualityBaseline | undefined): QualityDatum[] {
  const datums: QualityDatum[] = [
    { metric: QUALITY_METRICS.labelled, value: figures.labelled, unit: 'Count' },
    { metric: QUALITY_METRICS.coverage, value: figures.coverage, unit: 'None' },
  ];
  const m = figures.metrics;
  if (figures.verdict !== 'judged' || !m) return datums;
  if (figures.delaySeconds) datums.push({ metric: QUALITY_METRICS.delayP50, value: figures.delaySeconds.p50, unit: 'Seconds' }, { metric: QUALITY_METRICS.delayP95, value: figures.delaySeconds.p95, unit: 'Seconds' });
  if (m.task === 'classification') {
    datums.push({ metric: QUALITY_METRICS.accuracy, value: m.accuracy.value, unit: 'None' }, { metric: QUALITY_METRICS.macroF1, value: m.macroF1, unit: 'None' });
    if (m.rocAuc !== undefined) datums.push({ metric: QUALITY_METRICS.rocAuc, value: m.rocAuc, unit: 'None' });
    if (m.logLoss !== undefined) datums.push({ metric: QUALITY_METRICS.logLoss, value: m.logLoss, unit: 'None' });
  } else {
    datums.push({ metric: QUALITY_METRICS.mae, value: m.mae, unit: 'None' }, { metric: QUALITY_METRICS.rmse, value: m.rmse, unit: 'None' });
    if (m.r2 !== undefined) datums.push({ metric: QUALITY_METRICS.r2, value: m.r2, unit: 'None' });
  }
  const live = liveBaselineFigure(figures);
  if (baseline && live !== undefined) datums.push({ metric: QUALITY_METRICS.dropFromBaseline, value: baseline.value - live, unit: 'None' });
  return datums;
}

/** A CloudWatch MetricDatum (the fields PutMetricData takes), without the SDK's types; delays are in Seconds. */
export interface QualityCloudWatchDatum extends Omit<CloudWatchDatum, 'Unit'> {
  readonly Unit: QualityDatum['unit'];
}

/** Datums with their dimensions { stage, model, version }, for PutMetricData in namespace QUALITY_METRICS_NAMESPACE. */
export function qualityCloudWatchData(datums: readonly QualityDatum[], context: { readonly stage: string; readonly model: string; readonly version: string; readonly time: Date }): QualityCloudWatchDatum[] {
  return datums.map((d) => ({
    MetricName: d.metric,
    Dimensions: [
      { Name: 'stage', Value: context.stage },
      { Name: 'model', Value: context.model },
      { Name: 'version', Value: context.version },
    ],
    // CloudWatch takes no NaN or infinity (a log loss can be): send the nearest it takes.
    Value: Number.isFinite(d.value) ? d.value : d.value > 0 ? 1e300 : d.value < 0 ? -1e300 : 0,
    Unit: d.unit,
    Timestamp: context.time,
  }));
}

/** The window of a model's quality: `windowHours` ending at `now` (its whole UTC hours are judged). */
export function qualityWindow(model: QualityMonitoredModel, now: Date): { from: Date; to: Date } {
  return { from: new Date(now.getTime() - model.quality.windowHours * HOUR_MS), to: now };
}

/** The versions read: the live one first, then the others whose cards are known. */
export function qualityVersions(model: QualityMonitoredModel): string[] {
  const live = String(model.card.version);
  return [live, ...[...(model.cards?.keys() ?? [])].filter((v) => v !== live)];
}

/**
 * The training rows of a model that retrains, over the last whole tile of its window (trainingRowsWindow: a
 * window under an hour, as --time-scale makes locally, is taken as one hour), with the labels received until
 * `now`. Never rejects: a failure is the outcome's trainingRowsError.
 */
export async function writeQualityTrainingRows(deps: Pick<QualityMonitorDependencies, 'store' | 'bucket' | 'trainingRows'>, model: QualityMonitoredModel, now: Date): Promise<{ trainingRows?: TrainingRowsResult; trainingRowsError?: string }> {
  const source = model.trainingRows;
  if (!source || !deps.trainingRows) return {};
  try {
    const trainingRows = await writeLabelledTrainingRows({
      store: deps.store,
      captureBucket: deps.bucket,
      dataBucket: deps.trainingRows.dataBucket,
      card: model.card,
      window: trainingRowsWindow(now, Math.max(1, Math.ceil(model.quality.windowHours))),
      labelsUntil: now,
      ...(source.runtime === 'sagemaker' ? { runtime: 'sagemaker' as const, endpointName: source.endpointName } : { versions: qualityVersions(model) }),
    });
    return { trainingRows };
  } catch (error) {
    return { trainingRowsError: error instanceof Error ? error.message : String(error) };
  }
}

/** Joins and judges one model: its figures per version, without publishing or alerting. */
export async function judgeQualityModel(store: ObjectStore, bucket: string, model: QualityMonitoredModel, window: { from: Date; to: Date }, options: JoinOptions = {}): Promise<QualityRun> {
  const started = performance.now();
  const task = model.card.task === 'regression' ? 'regression' : 'classification';
  const join: QualityJoin = await joinQualityWindow(store, bucket, { name: model.name, task, labels: model.card.labels, versions: qualityVersions(model) }, window, options);
  const liveBaseline = qualityBaseline(model.card);
  const versions = join.versions.map((v): VersionQuality => {
    const figures = qualityFigures(v.accumulator, { minLabels: model.quality.minLabels, predictions: v.predictions });
    const card = model.cards?.get(v.version);
    const baseline = (card ? qualityBaseline(card) : undefined) ?? liveBaseline;
    const breaches = judgeQuality(figures, model.quality.alarms, baseline);
    return {
      version: v.version,
      figures,
      ...(baseline ? { baseline } : {}),
      breaches,
      datums: qualityDatums(figures, baseline),
      hours: v.hours.map((h) => hourFigure(h, task)),
      duplicatePredictions: v.duplicatePredictions,
      rejectedLines: v.rejectedLines,
      unknownClasses: v.unknownClasses,
    };
  });
  return {
    model: model.name,
    window: join.window,
    task,
    labels: join.labels,
    versions,
    predictionObjects: join.predictionObjects,
    bytesRead: join.bytesRead,
    problems: join.problems,
    ms: performance.now() - started,
  };
}

/**
 * Runs every model; one model failing (an unreadable bucket) does not stop the others. Per version: figures
 * published, alarms judged, an alert for a version going into ALARM or recovering. The state is written after
 * the alerts went out, so a failed publish is retried by the next run.
 */
export async function runQualityMonitor(deps: QualityMonitorDependencies, now = new Date()): Promise<QualityOutcome[]> {
  const outcomes: QualityOutcome[] = [];
  for (const model of deps.models) {
    try {
      const run = await judgeQualityModel(deps.store, deps.bucket, model, qualityWindow(model, now), deps.joinOptions);
      // Only versions with predictions in the window are published (a version long gone would report zeros forever).
      const seen = run.versions.filter((v) => v.figures.predictions > 0 || v.figures.labelled > 0 || v.version === String(model.card.version));
      for (const v of seen) await deps.putMetrics(model.name, v.version, v.datums, now);
      const previous = await readQualityState(deps.store, deps.bucket, model.name);
      const { state, transitions } = nextQualityState(
        previous,
        model.name,
        seen.map((v) => ({ version: v.version, verdict: v.figures.verdict, breaches: v.breaches.map((b) => b.setting) })),
        now,
      );
      for (const t of transitions) {
        const v = seen.find((x) => x.version === t.version)!;
        const event = qualityAlarmEvent(
          {
            project: deps.project,
            stage: deps.stage,
            model: model.name,
            version: v.version,
            state: t.to,
            previousState: t.to === 'ALARM' ? 'OK' : 'ALARM',
            figures: v.figures,
            breaches: v.breaches,
            ...(v.baseline ? { baseline: v.baseline } : {}),
            alarms: model.quality.alarms,
            window: run.window,
            time: now,
            ...(deps.dashboardUrl ? { dashboardUrl: deps.dashboardUrl } : {}),
          },
          t.recovered,
        );
        await deps.notify(readableAlert(event), event);
      }
      await writeQualityState(deps.store, deps.bucket, state);
      // After the figures and alerts are out: rows that cannot be written cost the run nothing else.
      outcomes.push({ model: model.name, run, state, alerts: transitions, ...(await writeQualityTrainingRows(deps, model, now)) });
    } catch (error) {
      outcomes.push({ model: model.name, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }
  return outcomes;
}
