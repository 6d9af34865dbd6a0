// What a model version carries for explanations, built the same way by `mlship train`, `mlship import` and
// scripts/explain/add-explanation-artifacts.ts: the background sample (background.json, a seeded sample of
// the training rows) and permutation feature importance on the held-out rows, both computed by running the
// ONNX file in the serving onnxruntime session (ServedModel), and the card's explanation field naming them.
import { BACKGROUND_FILE, BACKGROUND_ROWS, backgroundFileText, sampleBackground } from '../explain/background';
import { higherIsBetter, importanceCardEntry, IMPORTANCE_REPEATS, permutationImportance, type BatchPredict, type ImportanceMetric, type ImportanceTruth } from '../explain/importance';
import { ServedModel } from './inference-session';
import { sha256Hex } from './model-artifact';
import type { Explanation, ModelCard } from './model-card';
import type { Matrix } from './training/matrix';

export interface ExplainSettings {
  /** Rows of the background sample. @default BACKGROUND_ROWS (100) */
  readonly backgroundRows?: number;
  /** Shuffles per feature for permutation importance. @default IMPORTANCE_REPEATS (5) */
  readonly repeats?: number;
  /** Seeds the background sample and the shuffles. @default the card's split seed, else 42 */
  readonly seed?: number;
  /** @default logLoss for classifiers, r2 for regression (importance.ts says why) */
  readonly metric?: ImportanceMetric;
}

export interface ExplanationInput {
  /** The validated card of the model (its explanation, if any, is replaced). */
  readonly card: ModelCard;
  readonly onnxBytes: Uint8Array;
  /** The rows the background is drawn from (the training split), and how to name them in the card. */
  readonly background: { readonly x: Matrix; readonly positions: readonly number[]; readonly source: string };
  /** The held-out rows and their truth; left out, no importance is computed. */
  readonly heldOut?: { readonly x: Matrix; readonly positions: readonly number[]; readonly truth: ImportanceTruth };
  readonly settings?: ExplainSettings;
}

export interface BuiltExplanation {
  readonly explanation: Explanation;
  /** background.json's text. */
  readonly backgroundText: string;
  /** Lines for the terminal. */
  readonly notes: readonly string[];
}

/** The rows at `positions` of a raw-feature matrix, as float32 (what the model takes). */
export function float32Rows(x: Matrix, positions: readonly number[]): Float32Array {
  const out = new Float32Array(positions.length * x.cols);
  positions.forEach((r, i) => out.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), i * x.cols));
  return out;
}

/** The session's batch predict; a model whose batch dimension is fixed at 1 is run one row at a time. */
export function sessionPredict(model: ServedModel): BatchPredict {
  if (model.card.input.shape[0] !== 1) return (rows, count) => model.predict(rows, count);
  return async (rows, count) => {
    const width = model.featureCount;
    const parts: Awaited<ReturnType<ServedModel['predict']>>[] = [];
    for (let i = 0; i < count; i++) parts.push(await model.predict(rows.slice(i * width, (i + 1) * width), 1));
    const scoreWidth = parts[0]?.width ?? 0;
    const scores = new Float32Array(count * scoreWidth);
    const classIndex = new Int32Array(model.card.task === 'regression' ? 0 : count);
    parts.forEach((p, i) => {
      scores.set(p.scores, i * scoreWidth);
      if (classIndex.length > 0) classIndex[i] = p.classIndex[0]!;
    });
    return { count, scores, width: scoreWidth, classIndex };
  };
}

function formatDrop(value: number): string {
  return value.toFixed(4);
}

/** Builds the background sample and, with held-out rows, the permutation importance, for the card. */
export async function buildExplanation(input: ExplanationInput): Promise<BuiltExplanation> {
  const { card, settings = {} } = input;
  const features = card.input.features;
  const seed = settings.seed ?? card.evaluation?.split.seed ?? 42;
  const size = settings.backgroundRows ?? BACKGROUND_ROWS;
  const available = input.background.positions.length;
  if (available === 0) throw new RangeError('the background needs at least one row');
  const background = sampleBackground(float32Rows(input.background.x, input.background.positions), available, features.length, seed, size);
  const rows = background.length / features.length;
  const backgroundText = backgroundFileText(features, background);
  const source = rows === available ? `all ${available} ${input.background.source}` : `${rows} of the ${available} ${input.background.source}, seeded sample`;
  const notes = [`background for explanations: ${source} (${BACKGROUND_FILE})`];
  let importance: Explanation['importance'];
  if (input.heldOut) {
    const model = await ServedModel.fromBytes(card, input.onnxBytes);
    try {
      const { x, positions, truth } = input.heldOut;
      const result = await permutationImportance(
        sessionPredict(model),
        { rows: float32Rows(x, positions), count: positions.length, featureCount: features.length, truth },
        card.task,
        { repeats: settings.repeats ?? IMPORTANCE_REPEATS, seed, ...(settings.metric ? { metric: settings.metric } : {}) },
      );
      importance = importanceCardEntry(result, features);
      const top = [...importance.features].sort((a, b) => b.mean - a.mean).slice(0, 3);
      notes.push(
        `permutation importance (${higherIsBetter(result.metric) ? 'drop' : 'rise'} of ${result.metric} when a feature is shuffled, ${result.repeats} repeats, ${result.rows} held-out rows): ${top.map((f) => `${f.name} ${formatDrop(f.mean)} ± ${formatDrop(f.std)}`).join(', ')}`,
      );
    } finally {
      await model.release();
    }
  }
  const explanation: Explanation = {
    background: { file: BACKGROUND_FILE, rows, sha256: sha256Hex(Buffer.from(backgroundText, 'utf8')), seed, source },
    ...(importance ? { importance } : {}),
  };
  return { explanation, backgroundText, notes };
}
