// What `mlship explain --data FILE` computes: the mean absolute attribution of each feature over a file's
// rows, by the model version's Explainer. The file is read as `mlship batch` reads it (CSV with a header
// naming the features, or JSON Lines; optionally gzipped), streaming through the batch scorer's readers,
// so each row is taken or rejected with the same reason; memory stays at one read buffer plus one chunk
// of rows. Each chunk is explained in one Explainer call, sized so a permutation round of all its rows'
// masked rows is one predict call under MAX_ROWS_PER_ROUND (exact linear SHAP needs no model run at all).
//
// Precision: the mean over the file is exact for linear SHAP. For permutation SHAP each row's attribution
// carries a Monte Carlo standard error se_i; the rows' sampling is independent, and |.| does not stretch
// differences, so the standard error of the mean |attribution| is at most sqrt(sum se_i^2) / n, which is
// what is reported.
import { createReadStream, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { createBatchScorer } from '../../batch/scorers';
import type { BatchFormat, BatchOutputPart } from '../../batch/batch-format';
import type { BatchPrediction } from '../../models/inference-session';
import type { ModelCard } from '../../models/model-card';
import type { Predictor } from '../../serving/model-api';
import { explainRowsPerCall } from '../../batch/batch-explain';
import { type ExplainBudget, type Explainer, type RowExplanation } from '../explainer';

export interface FileAttributionOptions {
  readonly format: BatchFormat;
  /** The file is gzipped. @default false */
  readonly gzip?: boolean;
  /** Model rows per explained row for permutation SHAP. @default the Explainer's DEFAULT_MAX_EVALUATIONS */
  readonly maxEvaluations?: number;
  /** Rows per Explainer call. @default explainChunkRows */
  readonly chunkRows?: number;
  /** Rejected rows kept as examples (all are counted). @default 10 */
  readonly rejectExamples?: number;
}

export interface FeatureAttribution {
  readonly name: string;
  /** Mean |attribution| over the explained rows, in the method's output space. */
  readonly meanAbs: number;
  /** Mean signed attribution: which way the feature pushed the explained output on average. */
  readonly mean: number;
  /** Sampling methods: the standard error of meanAbs (sqrt(sum se_i^2) / n). */
  readonly standardError?: number;
}

export interface FileAttributions {
  /** The Explainer's method, as every row's explanation states it; undefined when no row was explained. */
  readonly method: string | undefined;
  readonly output: RowExplanation['output'] | undefined;
  /** Rows read (data records; CSV without its header), explained, and rejected. */
  readonly rowsIn: number;
  readonly rows: number;
  readonly rejected: number;
  /** The first rejects: the row number and the reason, as `mlship batch` writes them to rejects.jsonl. */
  readonly rejectedExamples: readonly { readonly row: number; readonly reason: string }[];
  /** Rows whose sampling a deadline cut short (complete: false); none without a deadline. */
  readonly incompleteRows: number;
  /** The largest |baseValue + sum(attributions) - prediction| over the rows. */
  readonly maxAdditivityError: number;
  /** Per class label (classifiers): the rows explained for it, their predicted class. */
  readonly explainedClasses?: Readonly<Record<string, number>>;
  /** In the card's feature order. */
  readonly features: readonly FeatureAttribution[];
}

/** Rows per Explainer call: as batch explanations group them (explainRowsPerCall), at most 4096 (linear SHAP takes any number). */
export function explainChunkRows(card: ModelCard, backgroundRows: number, method: Explainer['method']): number {
  return Math.min(4096, explainRowsPerCall(card, backgroundRows, method));
}

/** Sums over explained rows; mergeable, in card feature order. */
export class AttributionSums {
  readonly sumAbs: Float64Array;
  readonly sum: Float64Array;
  readonly sumSquaredError: Float64Array;
  rows = 0;
  incompleteRows = 0;
  maxAdditivityError = 0;
  method: string | undefined;
  output: RowExplanation['output'] | undefined;
  sampled = false;
  readonly classes: Float64Array;

  constructor(private readonly card: ModelCard) {
    const p = card.input.features.length;
    this.sumAbs = new Float64Array(p);
    this.sum = new Float64Array(p);
    this.sumSquaredError = new Float64Array(p);
    this.classes = new Float64Array(card.labels.length);
  }

  add(explanations: readonly RowExplanation[]): void {
    for (const e of explanations) {
      if (this.method === undefined) {
        this.method = e.method;
        this.output = e.output;
      } else if (e.method !== this.method) {
        throw new Error(`rows were explained by two methods: '${this.method}' and '${e.method}'`);
      }
      const a = e.attributions;
      for (let i = 0; i < a.length; i++) {
        this.sumAbs[i]! += Math.abs(a[i]!);
        this.sum[i]! += a[i]!;
      }
      if (e.standardError) {
        this.sampled = true;
        const se = e.standardError;
        for (let i = 0; i < se.length; i++) this.sumSquaredError[i]! += se[i]! * se[i]!;
      }
      if (e.classIndex !== undefined && e.classIndex < this.classes.length) this.classes[e.classIndex]!++;
      if (!e.complete) this.incompleteRows++;
      if (e.additivityError > this.maxAdditivityError) this.maxAdditivityError = e.additivityError;
      this.rows++;
    }
  }

  features(): FeatureAttribution[] {
    const n = this.rows;
    return this.card.input.features.map((name, i) => ({
      name,
      meanAbs: n === 0 ? 0 : this.sumAbs[i]! / n,
      mean: n === 0 ? 0 : this.sum[i]! / n,
      ...(this.sampled && n > 0 ? { standardError: Math.sqrt(this.sumSquaredError[i]!) / n } : {}),
    }));
  }

  explainedClasses(): Record<string, number> | undefined {
    if (this.card.labels.length === 0) return undefined;
    return Object.fromEntries(this.card.labels.map((label, k) => [label, this.classes[k]!]));
  }
}

function inputStream(path: string, gzip: boolean): Readable {
  const file = createReadStream(path);
  if (!gzip) return file;
  const gunzip = createGunzip();
  file.on('error', (error) => gunzip.destroy(error));
  return file.pipe(gunzip);
}

/**
 * Explains every row of the file at `path` with `explainer` (scoring through `predictor`, the same model
 * version) and returns the mean |attribution| per feature. Throws BatchInputError when the file cannot be
 * read at all (a CSV header that does not name the features); a row that cannot be read is counted and
 * rejected, never fatal.
 */
export async function attributionsOfFile(predictor: Predictor, explainer: Explainer, backgroundRows: number, path: string, options: FileAttributionOptions): Promise<FileAttributions> {
  const { card } = predictor;
  try {
    if (!statSync(path).isFile()) throw new Error(`${path} is not a file`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${path}: file not found`);
    throw error;
  }
  const sums = new AttributionSums(card);
  const budget: ExplainBudget = options.maxEvaluations === undefined ? {} : { maxEvaluations: options.maxEvaluations };
  const width = card.input.features.length;
  // The batch scorer fills a chunk of rows and "scores" it through this predictor, which explains the
  // chunk too; the scored lines it writes from the answer are dropped, its rejects are counted.
  const explaining: Predictor = {
    card,
    predict: async (rows: Float32Array, count: number): Promise<BatchPrediction> => {
      const prediction = await predictor.predict(rows, count);
      sums.add(await explainer.explain(rows.subarray(0, count * width), count, budget));
      return prediction;
    },
  };
  const chunkRows = options.chunkRows ?? explainChunkRows(card, backgroundRows, explainer.method);
  const scorer = createBatchScorer(explaining, { format: options.format, chunkRows });
  const maxExamples = options.rejectExamples ?? 10;
  const examples: { row: number; reason: string }[] = [];
  const take = (part: BatchOutputPart) => {
    if (part.rejects.length === 0 || examples.length >= maxExamples) return;
    for (const line of part.rejects.split('\n')) {
      if (line === '' || examples.length >= maxExamples) continue;
      const { row, reason } = JSON.parse(line) as { row: number; reason: string };
      examples.push({ row, reason });
    }
  };
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of inputStream(path, options.gzip ?? false) as AsyncIterable<Buffer>) take(await scorer.push(decoder.write(chunk)));
  } catch (error) {
    // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR) name no file.
    if (/^Z_/.test(String((error as NodeJS.ErrnoException).code))) throw new Error(`${path}: not a readable gzip file (${(error as Error).message})`);
    throw error;
  }
  take(await scorer.push(decoder.end()));
  take(await scorer.end());
  const summary = scorer.summary();
  const classes = sums.explainedClasses();
  return {
    method: sums.method,
    output: sums.output,
    rowsIn: summary.rowsIn,
    rows: sums.rows,
    rejected: summary.rowsRejected,
    rejectedExamples: examples,
    incompleteRows: sums.incompleteRows,
    maxAdditivityError: sums.maxAdditivityError,
    ...(classes ? { explainedClasses: classes } : {}),
    features: sums.features(),
  };
}
