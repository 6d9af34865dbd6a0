// The quality alarms of one model version, judged on the figures of the window (the manifest's
// monitoring.quality.alarms), and the alarm event a person reads: which metric, its value with its 95%
// interval, the threshold, the window with its labels and coverage, the model card's own figure, the most
// confused classes, and what to do. The subject reads like the drift alerts':
// `[ALARM] breast-cancer v1 accuracy 0.52 < 0.9 (dev)`.
import type { ModelCard } from '../../models/model-card';
import type { QualityAlarms } from '../../manifest/schema';
import { alarmName } from '../../monitoring/alarms/readable-alert';
import type { AlarmEvent, AlarmState } from '../../monitoring/contracts';
import type { ClassificationFigures, QualityFigures } from '../metrics/types';

/** The alarm settings a breach is judged against. */
export type QualityAlarmMetric = keyof QualityAlarms;

/** One threshold crossed. */
export interface QualityBreach {
  readonly setting: QualityAlarmMetric;
  /** As a person reads it: 'accuracy', 'macro-F1', 'ROC AUC', 'MAE', 'R²', 'accuracy drop from baseline'. */
  readonly metric: string;
  readonly value: number;
  readonly threshold: number;
  readonly comparison: '<' | '>';
}

/** The reference line: the model card's own evaluation on its held-out split. */
export interface QualityBaseline {
  /** The figure DropFromBaseline is taken on: accuracy for classifiers, R² for regressors. */
  readonly metric: 'accuracy' | 'r2';
  readonly value: number;
  readonly macroF1?: number;
  readonly rocAuc?: number;
  readonly mae?: number;
  /** Rows of the held-out split. */
  readonly rows: number;
}

/** The card's held-out figures, or undefined when it has none (an imported model without an evaluation). */
export function qualityBaseline(card: ModelCard): QualityBaseline | undefined {
  const e = card.evaluation;
  if (!e) return undefined;
  if (card.task === 'regression') {
    if (e.r2 === undefined) return undefined;
    return { metric: 'r2', value: e.r2, ...(e.mae !== undefined ? { mae: e.mae } : {}), rows: e.testSize };
  }
  if (e.accuracy === undefined) return undefined;
  return { metric: 'accuracy', value: e.accuracy, ...(e.macroF1 !== undefined ? { macroF1: e.macroF1 } : {}), ...(e.rocAuc !== undefined ? { rocAuc: e.rocAuc } : {}), rows: e.testSize };
}

/** The figure DropFromBaseline is taken on, live: accuracy or R² (undefined below minLabels, or without one). */
export function liveBaselineFigure(figures: QualityFigures): number | undefined {
  const m = figures.metrics;
  if (figures.verdict !== 'judged' || !m) return undefined;
  return m.task === 'classification' ? m.accuracy.value : m.r2;
}

/** Every threshold crossed, in the order the settings are listed; none below minLabels. */
export function judgeQuality(figures: QualityFigures, alarms: QualityAlarms, baseline: QualityBaseline | undefined): QualityBreach[] {
  const m = figures.metrics;
  if (figures.verdict !== 'judged' || !m) return [];
  const breaches: QualityBreach[] = [];
  const below = (setting: QualityAlarmMetric, metric: string, value: number | undefined) => {
    const threshold = alarms[setting];
    if (threshold !== undefined && value !== undefined && value < threshold) breaches.push({ setting, metric, value, threshold, comparison: '<' });
  };
  const above = (setting: QualityAlarmMetric, metric: string, value: number | undefined) => {
    const threshold = alarms[setting];
    if (threshold !== undefined && value !== undefined && value > threshold) breaches.push({ setting, metric, value, threshold, comparison: '>' });
  };
  if (m.task === 'classification') {
    below('accuracyBelow', 'accuracy', m.accuracy.value);
    below('macroF1Below', 'macro-F1', m.macroF1);
    below('rocAucBelow', 'ROC AUC', m.rocAuc);
  } else {
    above('maeAbove', 'MAE', m.mae);
    below('r2Below', 'R²', m.r2);
  }
  const live = liveBaselineFigure(figures);
  if (baseline && live !== undefined) above('dropFromBaselineAbove', `${baseline.metric === 'r2' ? 'R²' : 'accuracy'} drop from baseline`, baseline.value - live);
  return breaches;
}

/** What a quality alarm means and what to do, in order (the quality alarm's description in the cloud says the same). */
export const QUALITY_RUNBOOK =
  'The model answers worse than it did on its held-out split. 1. Check the label feed first: a broken or shifted feedback source (late, partial, mislabelled, an id that no longer matches) looks exactly like a bad model; read the coverage and the confusion above. 2. Then check drift (npx mlship drift, the drift alert of the same model): a change in the inputs explains most real drops. 3. Then retrain on the labelled window (npx mlship retrain; retrain.onQualityAlarm starts it in the cloud) or roll back to the version before.';

const round = (x: number) => (Math.abs(x) >= 100 ? String(Math.round(x)) : Math.abs(x) >= 0.001 || x === 0 ? String(Math.round(x * 1000) / 1000) : x.toExponential(2));
const percent = (x: number) => `${Math.round(x * 1000) / 10}%`;

function durationText(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 360) / 10} h`;
  return `${Math.round(seconds / 8640) / 10} days`;
}

/** The most confused classes, largest first: `actual benign predicted as malignant: 120`. */
export function confusionLines(m: ClassificationFigures): string[] {
  return m.mostConfused.map((c) => `  actual ${c.actual} predicted as ${c.predicted}: ${c.count}`);
}

/** The lines of a version's figures the alert's body (and `mlship quality`) show, the breached metric first. */
export function qualityDetails(figures: QualityFigures, context: { readonly window: { readonly from: Date; readonly to: Date }; readonly baseline?: QualityBaseline; readonly breaches: readonly QualityBreach[] }): string[] {
  const lines: string[] = [];
  const m = figures.metrics;
  for (const b of context.breaches) {
    const interval = b.setting === 'accuracyBelow' && m?.task === 'classification' ? ` (95% interval ${round(m.accuracy.low)} to ${round(m.accuracy.high)})` : '';
    lines.push(`Metric:     ${b.metric} ${round(b.value)}${interval}, threshold ${b.comparison} ${round(b.threshold)}`);
  }
  const hours = Math.ceil((context.window.to.getTime() - context.window.from.getTime()) / 3_600_000);
  lines.push(
    `Window:     ${hours} h of predictions (whole UTC hours), ${context.window.from.toISOString()} to ${context.window.to.toISOString()}`,
    `Labels:     ${figures.labelled} labelled of ${figures.predictions} predictions (coverage ${percent(figures.coverage)}; at least ${figures.minLabels} to judge)${figures.delaySeconds ? `; label delay p50 ${durationText(figures.delaySeconds.p50)}, p95 ${durationText(figures.delaySeconds.p95)}` : ''}`,
  );
  if (m?.task === 'classification') {
    lines.push(`Figures:    accuracy ${round(m.accuracy.value)} (95% interval ${round(m.accuracy.low)} to ${round(m.accuracy.high)}), macro-F1 ${round(m.macroF1)}${m.rocAuc !== undefined ? `, ROC AUC ${round(m.rocAuc)}` : ''}${m.logLoss !== undefined ? `, log loss ${round(m.logLoss)}` : ''}`);
  } else if (m?.task === 'regression') {
    lines.push(`Figures:    MAE ${round(m.mae)}, RMSE ${round(m.rmse)}${m.r2 !== undefined ? `, R² ${round(m.r2)}` : ''}`);
  }
  const b = context.baseline;
  if (b) {
    const live = liveBaselineFigure(figures);
    const extra = [b.macroF1 !== undefined ? `macro-F1 ${round(b.macroF1)}` : '', b.rocAuc !== undefined ? `ROC AUC ${round(b.rocAuc)}` : '', b.mae !== undefined ? `MAE ${round(b.mae)}` : ''].filter((s) => s !== '').join(', ');
    lines.push(`Baseline:   ${b.metric === 'r2' ? 'R²' : 'accuracy'} ${round(b.value)}${extra ? `, ${extra}` : ''} on the model card's held-out split (${b.rows} rows)${live !== undefined ? `; live is ${round(b.value - live)} below it` : ''}`);
  } else {
    lines.push("Baseline:   the model card has no held-out evaluation to compare with");
  }
  if (m?.task === 'classification') {
    const confused = confusionLines(m);
    lines.push(confused.length > 0 ? 'Most confused classes (actual predicted as, count):' : 'Most confused classes: none, every labelled prediction was right', ...confused);
  }
  return lines;
}

export interface QualityEventContext {
  readonly project: string;
  readonly stage: string;
  readonly model: string;
  readonly version: string;
  readonly state: Extract<AlarmState, 'ALARM' | 'OK'>;
  readonly previousState?: AlarmState;
  readonly figures: QualityFigures;
  readonly breaches: readonly QualityBreach[];
  readonly baseline?: QualityBaseline;
  /** The thresholds (a recovery names the one that had breached). */
  readonly alarms?: QualityAlarms;
  readonly window: { readonly from: Date; readonly to: Date };
  readonly time: Date;
  readonly dashboardUrl?: string;
}

/**
 * The alarm event of a version going into ALARM (its first breach is the figure, every breach is in the body)
 * or back to OK (the figure is the one that had breached, now on the right side of its threshold).
 */
export function qualityAlarmEvent(c: QualityEventContext, recovered?: QualityAlarmMetric): AlarmEvent {
  const head = c.breaches[0];
  const figure = head
    ? { metric: head.metric, value: head.value, threshold: head.threshold, comparison: head.comparison }
    : recoveredFigure(c, recovered);
  return {
    state: c.state,
    ...(c.previousState ? { previousState: c.previousState } : {}),
    kind: 'quality',
    alarmName: alarmName(c.project, c.stage, c.model, 'quality'),
    project: c.project,
    stage: c.stage,
    model: c.model,
    version: c.version,
    ...figure,
    unit: '',
    time: c.time.toISOString(),
    runbook: QUALITY_RUNBOOK,
    details: qualityDetails(c.figures, { window: c.window, breaches: c.breaches, ...(c.baseline ? { baseline: c.baseline } : {}) }),
    ...(c.dashboardUrl ? { dashboardUrl: c.dashboardUrl } : {}),
  };
}

/** The figure a recovery names: the metric that had breached, with its threshold (accuracy when unknown). */
function recoveredFigure(c: QualityEventContext, setting: QualityAlarmMetric | undefined): { metric?: string; value?: number; threshold?: number; comparison?: string } {
  const m = c.figures.metrics;
  if (!m) return {};
  const live = liveBaselineFigure(c.figures);
  const pick: Partial<Record<QualityAlarmMetric, { metric: string; value: number | undefined }>> =
    m.task === 'classification'
      ? { accuracyBelow: { metric: 'accuracy', value: m.accuracy.value }, macroF1Below: { metric: 'macro-F1', value: m.macroF1 }, rocAucBelow: { metric: 'ROC AUC', value: m.rocAuc } }
      : { maeAbove: { metric: 'MAE', value: m.mae }, r2Below: { metric: 'R²', value: m.r2 } };
  if (c.baseline && live !== undefined) pick.dropFromBaselineAbove = { metric: `${c.baseline.metric === 'r2' ? 'R²' : 'accuracy'} drop from baseline`, value: c.baseline.value - live };
  const key: QualityAlarmMetric = setting && pick[setting] ? setting : m.task === 'classification' ? 'accuracyBelow' : pick.r2Below?.value !== undefined ? 'r2Below' : 'maeAbove';
  const chosen = pick[key];
  if (!chosen || chosen.value === undefined) return {};
  const threshold = c.alarms?.[key];
  return { metric: chosen.metric, value: chosen.value, ...(threshold !== undefined ? { threshold, comparison: key.endsWith('Below') ? '<' : '>' } : {}) };
}
