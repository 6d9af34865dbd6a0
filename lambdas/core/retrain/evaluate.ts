// Step 3 of retraining: the candidate and the live model, each in a real onnxruntime session, on the same
// held-out rows of the gathered data (the split re-made exactly as the live card's evaluation.split says),
// scored with the manifest's metric. The gate that follows (a Choice state) lets the candidate through
// when candidateScore >= threshold = liveScore - tolerance. Figures are rounded to 12 decimals, so that
// 0.95 - 0.01 compares as 0.94 and not 0.9399999999999999.
// Both models are also scored on the newest labelled production window among the gathered files (issue 17.4):
// its rows, as they stand in data.csv, so they are exactly the rows the gather step accepted from that file.
// The gate still decides on the held-out rows: the candidate trained on part of the window's rows, so there it
// would be judged partly on what it learnt; the notification gives both figures for both models.
import { modelCardSchema, type ModelCard } from '../models/model-card';
import { readText, type ObjectStore } from '../storage/object-store';
import { runOnnxRows } from '../models/onnx-run';
import { softmaxRows } from '../common/row-math';
import { parseWithSchema } from '../common/schema-errors';
import { selectRows, type Matrix } from '../models/training/matrix';
import { accuracy, macroF1, rocAuc } from '../models/training/metrics';
import { argmaxRows } from '../models/training/network';
import { BadTrainingData, LiveModelMismatch, type EvaluateEvent, type EvaluationResult, type GatherResult, type HeldOutMetrics, type ProductionEvaluation, type RetrainMetric, workKeys } from './contract';
import { newestProductionRowsKey } from './production-rows';
import { heldOutSplit, liveSplitOf, readGatheredData } from './live-model';
import { rejectedMessage } from './messages';

export interface EvaluateDependencies {
  readonly store: ObjectStore;
  readonly liveCard: ModelCard;
  readonly liveOnnx: Uint8Array;
}

export function round12(value: number): number {
  return Math.round(value * 1e12) / 1e12;
}

/** Class probabilities of every row of x from an ONNX model described by `card`. */
async function probabilities(onnx: Uint8Array, card: ModelCard, x: Matrix): Promise<Matrix> {
  const dims = card.input.image && card.input.shape.length > 2 ? card.input.shape.slice(1) : [x.cols];
  const out = (await runOnnxRows(onnx, x, { inputName: card.input.tensorName, instanceDims: dims, outputs: [card.output.scoresTensor] }))[card.output.scoresTensor]!;
  if (out.width !== card.labels.length) throw new LiveModelMismatch(`${card.name} v${card.version} gives ${out.width} scores per row, its card names ${card.labels.length} classes`);
  const data = Float64Array.from(out.data);
  if (card.output.scoresKind === 'logits') softmaxRows(data, out.width);
  return { rows: x.rows, cols: out.width, data };
}

/** Accuracy and macro F1 always; ROC AUC for two classes when both occur. */
export function heldOutMetrics(p: Matrix, truth: readonly number[]): HeldOutMetrics {
  const predicted = argmaxRows(p);
  const metrics: HeldOutMetrics = { accuracy: accuracy(truth, predicted), macroF1: macroF1(truth, predicted, p.cols) };
  if (p.cols === 2) {
    const auc = rocAuc(truth, Array.from({ length: p.rows }, (_, r) => p.data[r * 2 + 1]!));
    if (auc !== undefined) return { ...metrics, rocAuc: auc };
  }
  return metrics;
}

function pick(metrics: HeldOutMetrics, metric: RetrainMetric, who: string): number {
  const value = metrics[metric];
  if (value === undefined) throw new BadTrainingData(`the ${who}'s ${metric} is undefined on the held-out rows (ROC AUC needs two classes and both classes among the held-out rows)`);
  return round12(value);
}

/** The rows of data.csv that came from the newest production rows file among the gathered files: [start, end). */
export function productionRowsOf(data: Pick<GatherResult, 'files'>): { key: string; window: { from: Date; to: Date }; start: number; end: number } | undefined {
  const newest = newestProductionRowsKey(data.files.map((f) => f.key));
  if (!newest) return undefined;
  let start = 0;
  for (const file of data.files) {
    if (file.key === newest.key) return { ...newest, start, end: start + file.accepted };
    start += file.accepted;
  }
  return undefined;
}

export async function evaluateCandidate(event: EvaluateEvent, deps: EvaluateDependencies): Promise<EvaluationResult> {
  const { settings, execution, data, candidate } = event;
  const { store, liveCard } = deps;
  const bucket = settings.dataBucket;
  const cardJson: unknown = JSON.parse(await readText(store, bucket, candidate.cardKey));
  const parsed = parseWithSchema(modelCardSchema, cardJson);
  if (!parsed.ok) throw new Error(`${candidate.cardKey} is not a valid model card: ${parsed.errors.join('; ')}`);
  const candidateCard = parsed.data;
  const candidateOnnx = await store.read(bucket, candidate.onnxKey);

  const gathered = await readGatheredData(store, bucket, data.dataKey, liveCard);
  const split = heldOutSplit(liveCard, gathered.classIndex);
  if (split.test.length !== candidate.testSize) {
    throw new Error(`the held-out split has ${split.test.length} rows, the candidate was trained with ${candidate.testSize} held out; the split must be the same`);
  }
  const x = selectRows(gathered.x, split.test);
  const truth = split.test.map((r) => gathered.classIndex[r]!);
  const candidateMetrics = heldOutMetrics(await probabilities(candidateOnnx, candidateCard, x), truth);
  const liveMetrics = heldOutMetrics(await probabilities(deps.liveOnnx, liveCard, x), truth);
  const candidateScore = pick(candidateMetrics, settings.metric, 'candidate');
  const liveScore = pick(liveMetrics, settings.metric, 'live model');
  const threshold = round12(liveScore - settings.tolerance);

  let production: ProductionEvaluation | null = null;
  const window = productionRowsOf(data);
  if (window && window.end > window.start) {
    const rows = Array.from({ length: window.end - window.start }, (_, i) => window.start + i);
    const px = selectRows(gathered.x, rows);
    const ptruth = rows.map((r) => gathered.classIndex[r]!);
    const trained = new Set(split.train);
    production = {
      key: window.key,
      from: window.window.from.toISOString(),
      to: window.window.to.toISOString(),
      rows: rows.length,
      trainedOn: rows.filter((r) => trained.has(r)).length,
      candidate: heldOutMetrics(await probabilities(candidateOnnx, candidateCard, px), ptruth),
      live: heldOutMetrics(await probabilities(deps.liveOnnx, liveCard, px), ptruth),
    };
  }

  const evaluationKey = workKeys(execution).evaluation;
  const result: Omit<EvaluationResult, 'rejectedMessage'> = {
    metric: settings.metric,
    candidateScore,
    liveScore,
    tolerance: settings.tolerance,
    threshold,
    heldOutRows: split.test.length,
    candidateVersion: candidate.version,
    liveVersion: liveCard.version,
    candidate: candidateMetrics,
    live: liveMetrics,
    evaluationKey,
    production,
  };
  const record = {
    model: settings.model,
    execution,
    metric: settings.metric,
    tolerance: settings.tolerance,
    threshold,
    passes: candidateScore >= threshold,
    heldOut: { rows: split.test.length, split: { strategy: 'stratified', ...liveSplitOf(liveCard) } },
    candidate: { version: candidate.version, score: candidateScore, ...candidateMetrics },
    live: { version: liveCard.version, score: liveScore, ...liveMetrics },
    production,
    data: { source: data.source, rowsRead: data.rowsRead, rowsAccepted: data.rowsAccepted, rowsRejected: data.rowsRejected, sha256: data.sha256, trainRows: candidate.trainSize },
  };
  await store.write(bucket, evaluationKey, `${JSON.stringify(record, null, 2)}\n`, 'application/json');
  return { ...result, rejectedMessage: rejectedMessage({ settings, data, trainRows: candidate.trainSize, evaluation: result, execution }) };
}
