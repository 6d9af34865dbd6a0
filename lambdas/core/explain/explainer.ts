// Local explanations of a served model's answers, one per request row, in the model's output space:
//   - the built-in logistic regression (family 'logreg', ONNX bytes at hand): exact interventional SHAP of
//     the predicted class's logit, read from the graph's weights and standardisation (linear.ts), with zero
//     model evaluations;
//   - any other model (the MLP, an imported graph, a remote endpoint): permutation SHAP with antithetic
//     permutations over the version's background sample (shapley.ts), of the predicted class's probability
//     (classifiers) or the predicted value (regression), under an evaluation budget and a deadline, with a
//     standard error per feature.
// Every masked row of every explained row in one sampling round goes to the model in ONE predict call: the
// rows of a request are sampled side by side and their rounds meet at a barrier (RoundBatcher).
import type { BatchPrediction } from '../models/inference-session';
import type { ModelCard } from '../models/model-card';
import { createRandom } from '../models/training/random';
import { backgroundMean, linearOutputFromOnnx, linearShapley, linearValue, type LinearOutput } from './linear';
import { ExplainInputError, permutationShapley, type BatchScorer, type PermutationShapleyExplanation } from './shapley';

export interface ExplainBudget {
  /** Absolute time, on `now`'s clock (ms), after which no new sampling round starts. @default none */
  readonly deadline?: number;
  /** The clock the deadline is read on. @default performance.now */
  readonly now?: () => number;
  /**
   * Model rows scored per explained row (the background and the row itself included): the sample size of
   * permutation SHAP. Raised to the two antithetic pairs a standard error needs. @default DEFAULT_MAX_EVALUATIONS
   */
  readonly maxEvaluations?: number;
}

export interface RowExplanation {
  /** The method and the output space, e.g. 'linear-shap: log-odds of the predicted class'. */
  readonly method: string;
  readonly output: 'logit' | 'probability' | 'value';
  /** The class explained (the predicted one), classifiers only. */
  readonly classIndex?: number;
  /** The mean output over the background sample (v of the empty coalition). */
  readonly baseValue: number;
  /** The model's output for the row, in that space. */
  readonly prediction: number;
  /** One per feature, in card feature order. */
  readonly attributions: Float64Array;
  /** Sampling methods: the standard error of each attribution. */
  readonly standardError?: Float64Array;
  /** |baseValue + sum(attributions) - prediction|. */
  readonly additivityError: number;
  /** False when the deadline stopped sampling before the evaluation budget was spent. */
  readonly complete: boolean;
}

export type ExplainPredict = (rows: Float32Array, count: number) => Promise<BatchPrediction>;

/** Model rows per explained row when the caller sets no budget (manifest `explain.maxEvaluations` default). */
export const DEFAULT_MAX_EVALUATIONS = 65_536;
/** Most masked rows in one sampling round of a request: bounds the memory of a round (rows x features x 4 bytes of input). */
export const MAX_ROWS_PER_ROUND = 262_144;
/**
 * Most rows in one predict call: a round larger than this is scored in consecutive calls. onnxruntime's cost
 * per row grows with the batch past the caches (digits' MLP, one thread: 0.55 us a row at 25,200 rows, 1.1 at
 * 100,800, 2.1 at 201,600), so a 16-row request scored in one run was 3.6 times slower than in runs of this size.
 */
export const MAX_ROWS_PER_RUN = 32_768;

/** FNV-1a over a row's bytes: the same row always draws the same permutations, wherever it sits in a request. */
function rowSeed(row: Float32Array): number {
  const bytes = new Uint8Array(row.buffer, row.byteOffset, row.byteLength);
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

/**
 * Lets several permutationShapley runs share one predict call per round: each run's scorer call waits until
 * every run still going has asked, then all their rows are scored together and each gets its own slice,
 * as the output it explains (the column of its class, or the value).
 */
class RoundBatcher {
  private active: number;
  private pending: Array<{ rows: Float32Array; count: number; column: number; resolve: (out: Float64Array) => void; reject: (error: unknown) => void }> = [];

  constructor(
    private readonly predict: ExplainPredict,
    private readonly featureCount: number,
    runs: number,
  ) {
    this.active = runs;
  }

  /** The scorer for one run, reading column `column` of the predictions. */
  scorer(column: number): BatchScorer {
    return (rows, count) =>
      new Promise<Float64Array>((resolve, reject) => {
        this.pending.push({ rows, count, column, resolve, reject });
        this.flushIfAllWaiting();
      });
  }

  /** A run finished (or failed): the others no longer wait for it. */
  done(): void {
    this.active--;
    this.flushIfAllWaiting();
  }

  private flushIfAllWaiting(): void {
    if (this.pending.length === 0 || this.pending.length < this.active) return;
    const batch = this.pending;
    this.pending = [];
    void this.score(batch);
  }

  private async score(batch: RoundBatcher['pending']): Promise<void> {
    try {
      let total = 0;
      const starts: number[] = [];
      for (const request of batch) {
        starts.push(total);
        total += request.count;
      }
      // The round's rows, all requests one after the other, in runs of at most MAX_ROWS_PER_RUN; each request
      // reads its slice. A run inside one request's rows is a view of them; only a run across requests is copied.
      const outs = batch.map((request) => new Float64Array(request.count));
      const width = this.featureCount;
      const runRows = (first: number, n: number): Float32Array => {
        let k = 0;
        while (first >= starts[k]! + batch[k]!.count) k++;
        if (first + n <= starts[k]! + batch[k]!.count) return batch[k]!.rows.subarray((first - starts[k]!) * width, (first - starts[k]! + n) * width);
        const rows = new Float32Array(n * width);
        for (let at = 0; at < n; k++) {
          const from = first + at - starts[k]!;
          const take = Math.min(n - at, batch[k]!.count - from);
          rows.set(batch[k]!.rows.subarray(from * width, (from + take) * width), at * width);
          at += take;
        }
        return rows;
      };
      let owner = 0;
      let ownerStart = 0;
      for (let first = 0; first < total; first += MAX_ROWS_PER_RUN) {
        const n = Math.min(MAX_ROWS_PER_RUN, total - first);
        const prediction = await this.predict(runRows(first, n), n);
        if (prediction.count !== n || prediction.scores.length !== n * prediction.width) {
          throw new Error(`the model returned ${prediction.scores.length} scores for ${n} rows`);
        }
        for (let r = 0; r < n; r++) {
          const row = first + r;
          while (row >= ownerStart + batch[owner]!.count) ownerStart += batch[owner++]!.count;
          outs[owner]![row - ownerStart] = prediction.scores[r * prediction.width + batch[owner]!.column]!;
        }
      }
      batch.forEach((request, i) => request.resolve(outs[i]!));
    } catch (error) {
      for (const request of batch) request.reject(error);
    }
  }
}

export class Explainer {
  private readonly featureCount: number;
  private readonly backgroundRows: number;
  /** Per class, the linear output of the built-in logistic regression; undefined when permutation SHAP explains. */
  private readonly linear: readonly LinearOutput[] | undefined;
  private readonly meanOfBackground: Float64Array;

  private constructor(
    private readonly card: ModelCard,
    private readonly background: Float32Array,
    private readonly predict: ExplainPredict,
    linear: readonly LinearOutput[] | undefined,
  ) {
    this.featureCount = card.input.features.length;
    this.backgroundRows = background.length / this.featureCount;
    this.linear = linear;
    this.meanOfBackground = backgroundMean(background, this.featureCount);
  }

  /**
   * An explainer for one model version. With the ONNX bytes of a built-in logistic regression the answers
   * are exact linear SHAP of the logit; otherwise permutation SHAP through `predict`.
   */
  static create(options: { card: ModelCard; background: Float32Array; predict: ExplainPredict; onnx?: Uint8Array }): Explainer {
    const { card, background } = options;
    const p = card.input.features.length;
    if (background.length === 0 || background.length % p !== 0) {
      throw new ExplainInputError(`the background sample holds ${background.length} values, not a whole number of rows of the model's ${p} features`);
    }
    let linear: LinearOutput[] | undefined;
    if (card.family === 'logreg' && card.task !== 'regression' && options.onnx) {
      const outputs = card.labels.map((_, k) => linearOutputFromOnnx(options.onnx!, k));
      if (outputs.every((o): o is LinearOutput => o !== undefined && o.weight.length === p)) linear = outputs;
    }
    return new Explainer(card, background, options.predict, linear);
  }

  get method(): 'linear' | 'permutation' {
    return this.linear ? 'linear' : 'permutation';
  }

  /** Explains `count` rows (row-major, raw feature values), each for its predicted class or value. */
  async explain(rows: Float32Array, count: number, budget: ExplainBudget = {}): Promise<RowExplanation[]> {
    const p = this.featureCount;
    if (!Number.isInteger(count) || count < 0 || rows.length !== count * p) {
      throw new ExplainInputError(`${rows.length} values are not ${count} rows of the model's ${p} features`);
    }
    if (count === 0) return [];
    return this.linear ? this.explainLinear(this.linear, rows, count) : this.explainByPermutation(rows, count, budget);
  }

  private explainLinear(linear: readonly LinearOutput[], rows: Float32Array, count: number): RowExplanation[] {
    const p = this.featureCount;
    const binary = linear.length === 2;
    const answers: RowExplanation[] = [];
    for (let r = 0; r < count; r++) {
      const x = rows.subarray(r * p, (r + 1) * p);
      // The predicted class from the logits themselves: softmax keeps their order, and two classes compare
      // by the sign of the log-odds of class 1.
      let classIndex = 0;
      if (binary) {
        classIndex = linearValue(linear[1]!, x) > 0 ? 1 : 0;
      } else {
        let best = -Infinity;
        linear.forEach((output, k) => {
          let z = output.bias;
          for (let i = 0; i < p; i++) z += (output.weight[i]! * (x[i]! - output.center[i]!)) / output.scale[i]!;
          if (z > best) {
            best = z;
            classIndex = k;
          }
        });
      }
      const shap = linearShapley(linear[classIndex]!, x, this.meanOfBackground);
      answers.push({
        method: binary ? 'linear-shap: log-odds of the predicted class' : 'linear-shap: logit (softmax input) of the predicted class',
        output: 'logit',
        classIndex,
        baseValue: shap.baseValue,
        prediction: shap.prediction,
        attributions: shap.attributions,
        additivityError: shap.additivityError,
        complete: true,
      });
    }
    return answers;
  }

  private async explainByPermutation(rows: Float32Array, count: number, budget: ExplainBudget): Promise<RowExplanation[]> {
    const p = this.featureCount;
    const b = this.backgroundRows;
    const regression = this.card.task === 'regression';
    // The class each row is explained for: one run of the rows themselves.
    const classes = regression ? undefined : (await this.predict(rows, count)).classIndex;
    const rowsPerPair = 2 * Math.max(1, p - 1) * b;
    const minimum = b + 1 + 2 * rowsPerPair;
    const maxEvaluations = Math.max(minimum, Math.floor(budget.maxEvaluations ?? DEFAULT_MAX_EVALUATIONS));
    const pairsPerRound = Math.max(1, Math.floor(MAX_ROWS_PER_ROUND / (count * rowsPerPair)));
    const now = budget.now ?? (() => performance.now());
    const batcher = new RoundBatcher(this.predict, p, count);
    const runs: Array<Promise<PermutationShapleyExplanation>> = [];
    for (let r = 0; r < count; r++) {
      const x = rows.subarray(r * p, (r + 1) * p);
      const run = permutationShapley(batcher.scorer(classes ? classes[r]! : 0), x, this.background, {
        random: createRandom(rowSeed(x)),
        maxEvaluations,
        pairsPerRound,
        now,
        ...(budget.deadline === undefined ? {} : { deadline: budget.deadline }),
      });
      runs.push(run.finally(() => batcher.done()));
    }
    const results = await Promise.all(runs);
    return results.map((shap, r) => ({
      method: regression ? 'permutation-shap: predicted value' : 'permutation-shap: probability of the predicted class',
      output: regression ? 'value' : 'probability',
      ...(classes ? { classIndex: classes[r]! } : {}),
      baseValue: shap.baseValue,
      prediction: shap.prediction,
      attributions: shap.attributions,
      standardError: shap.standardError,
      additivityError: shap.additivityError,
      complete: shap.stoppedBy !== 'deadline',
    }));
  }
}

const byFeature = (values: Float64Array, features: readonly string[]): Record<string, number> => Object.fromEntries(features.map((f, i) => [f, values[i]!]));

/** The JSON of one explanation as the :explain route answers it: attributions keyed by feature name. */
export function explanationJson(
  e: RowExplanation,
  card: ModelCard,
): { method: string; output: RowExplanation['output']; label?: string; baseValue: number; prediction: number; attributions: Record<string, number>; standardError?: Record<string, number>; additivityError: number; complete: boolean } {
  const features = card.input.features;
  const label = e.classIndex === undefined ? undefined : card.labels[e.classIndex];
  return {
    method: e.method,
    output: e.output,
    ...(label === undefined ? {} : { label }),
    baseValue: e.baseValue,
    prediction: e.prediction,
    attributions: byFeature(e.attributions, features),
    ...(e.standardError ? { standardError: byFeature(e.standardError, features) } : {}),
    additivityError: e.additivityError,
    complete: e.complete,
  };
}

/** The k features with the largest |attribution|, largest first (ties in feature order). */
export function topAttributions(e: RowExplanation, card: ModelCard, k: number): Array<{ feature: string; attribution: number }> {
  const features = card.input.features;
  const order = Array.from(e.attributions.keys()).sort((a, b) => Math.abs(e.attributions[b]!) - Math.abs(e.attributions[a]!) || a - b);
  return order.slice(0, Math.max(0, Math.floor(k))).map((i) => ({ feature: features[i]!, attribution: e.attributions[i]! }));
}
