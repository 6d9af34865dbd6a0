// The notifications of a retraining run, as someone reading them at 3 a.m. needs them: the verdict with
// the figures in the first line (candidate vs live, metric, tolerance, held-out rows), then the data, and
// what to do next. The failure notification is made by the state machine itself (States.Format), since
// no function may be left to write it.
import type { EvaluationResult, GatherResult, RetrainMetric, RetrainSettings } from './contract';

const METRIC_NAMES: Record<RetrainMetric, string> = { accuracy: 'accuracy', macroF1: 'macro F1', rocAuc: 'ROC AUC' };

/** 0.9736842105263158 -> '0.9737'; 0.01 -> '0.01'. */
export function figure(value: number): string {
  return String(Number(value.toFixed(4)));
}

export function metricName(metric: RetrainMetric): string {
  return METRIC_NAMES[metric];
}

/** `accuracy 0.9123 < live v1 0.9737 - 0.01 on 114 held-out rows`. */
export function comparison(e: Pick<EvaluationResult, 'metric' | 'candidateScore' | 'liveScore' | 'tolerance' | 'heldOutRows' | 'liveVersion'>, passed: boolean): string {
  return `${metricName(e.metric)} ${figure(e.candidateScore)} ${passed ? '>=' : '<'} live v${e.liveVersion} ${figure(e.liveScore)} - ${figure(e.tolerance)} on ${e.heldOutRows} held-out rows`;
}

/** The lines describing the gathered data: rows, files, rejects. */
export function dataLines(data: GatherResult, trainRows: number, heldOutRows: number): string[] {
  const lines = [
    `Data: ${data.rowsAccepted} labelled rows from ${data.source} (${data.files.length} file${data.files.length === 1 ? '' : 's'}); trained on ${trainRows}, held out ${heldOutRows}.`,
  ];
  if (data.rowsRejected > 0) {
    lines.push(`Rejected: ${data.rowsRejected} of ${data.rowsRead} rows could not be used (every one with its reason in ${data.rejectsKey}), e.g.`);
    lines.push(...data.firstRejects.map((r) => `  ${r}`));
  } else {
    lines.push(`Rejected: none of the ${data.rowsRead} rows.`);
  }
  if (data.skipped.length > 0) lines.push(`Left out: ${data.skipped.length} objects under the prefix that are not .csv or .csv.gz files.`);
  return lines;
}

const showMetrics = (m: EvaluationResult['candidate']) =>
  [`accuracy ${figure(m.accuracy)}`, `macro F1 ${figure(m.macroF1)}`, ...(m.rocAuc !== undefined ? [`ROC AUC ${figure(m.rocAuc)}`] : [])].join(', ');

function otherMetrics(e: Pick<EvaluationResult, 'candidate' | 'live' | 'candidateVersion' | 'liveVersion' | 'heldOutRows'>): string {
  return `Held out (${e.heldOutRows} rows): candidate v${e.candidateVersion} ${showMetrics(e.candidate)}; live v${e.liveVersion} ${showMetrics(e.live)}.`;
}

/** 2026-12-07T05:00:00.000Z -> '2026-12-07 05:00'. */
const hour = (iso: string) => iso.slice(0, 16).replace('T', ' ');

/** Both models on the newest labelled production window, or that there was none. */
export function productionLine(e: Pick<EvaluationResult, 'production' | 'candidateVersion' | 'liveVersion'>): string {
  const p = e.production;
  if (!p) return 'Production: no labelled production rows among the gathered files, so the gate judged on the held-out rows alone.';
  return (
    `Latest labelled production window (${hour(p.from)} to ${hour(p.to)} UTC, ${p.rows} rows from ${p.key}; the candidate trained on ${p.trainedOn} of them): ` +
    `candidate v${e.candidateVersion} ${showMetrics(p.candidate)}; live v${e.liveVersion} ${showMetrics(p.live)}. The gate decides on the held-out rows, which neither model trained on.`
  );
}

export interface RejectedMessageInput {
  readonly settings: RetrainSettings;
  readonly data: GatherResult;
  readonly trainRows: number;
  readonly evaluation: Omit<EvaluationResult, 'rejectedMessage'>;
  readonly execution: string;
}

/** The notification of a candidate the gate turned away. */
export function rejectedMessage(input: RejectedMessageInput): string {
  const { settings, evaluation: e } = input;
  return [
    `${settings.model}: candidate v${e.candidateVersion} not registered: ${comparison(e, false)}.`,
    '',
    `The gate lets a candidate through when its held-out ${metricName(e.metric)} is at least the live model's minus retrain.tolerance (${figure(e.tolerance)}), both measured on the same held-out rows of the new data. The live model v${e.liveVersion} stays as it is; nothing was registered.`,
    otherMetrics(e),
    productionLine(e),
    ...dataLines(input.data, input.trainRows, e.heldOutRows),
    `Evaluation: ${e.evaluationKey} in the data bucket (kept with the execution's work files).`,
    `Execution: ${input.execution} (${settings.project}-${settings.stage}-retrain).`,
  ].join('\n');
}

export interface RegisteredMessageInput {
  readonly settings: RetrainSettings;
  readonly data: GatherResult;
  readonly trainRows: number;
  readonly evaluation: EvaluationResult;
  readonly execution: string;
  /** Where the version's files are: s3://registry/<model>/<version>/ (locally, the folder). */
  readonly location: string;
  /** The command that puts the files in models/<model>/<version>/, or undefined when they are there already (at `location`). */
  readonly fetchCommand: string | undefined;
  /**
   * The manifest whose entry names the live version.
   * @default 'models/manifest.yaml' (the repository's)
   */
  readonly manifestFile?: string;
  /**
   * The files registered in `location`.
   * @default ['model.onnx', 'model.json', 'evaluation.json']
   */
  readonly files?: readonly string[];
}

/** The notification of a registered candidate, with how to deploy it. */
export function registeredMessage(input: RegisteredMessageInput): string {
  const { settings, evaluation: e } = input;
  const v = e.candidateVersion;
  const steps = [
    ...(input.fetchCommand ? [`  1. ${input.fetchCommand}`] : [`  1. the files are already in ${input.location}`]),
    `  2. set \`version: ${v}\` for ${settings.model} in ${input.manifestFile ?? 'models/manifest.yaml'} and open a pull request;`,
    `  3. once it is reviewed and merged, \`npx cdk deploy\` releases v${v} by canary (rolled back automatically if its golden cases or alarms fail).`,
  ];
  return [
    `${settings.model}: candidate v${v} registered: ${comparison(e, true)}.`,
    '',
    `Files: ${input.location} (${(input.files ?? ['model.onnx', 'model.json', 'evaluation.json']).join(', ')}).`,
    `Parameter: ${settings.candidateParameter} names v${v}.`,
    otherMetrics(e),
    productionLine(e),
    ...dataLines(input.data, input.trainRows, e.heldOutRows),
    '',
    `Nothing is deployed yet; the live model is still v${e.liveVersion}. To deploy v${v}:`,
    ...steps,
    `Execution: ${input.execution} (${settings.project}-${settings.stage}-retrain).`,
  ].join('\n');
}
