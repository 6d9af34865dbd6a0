// The quality figures of labelled predictions (issue 17.3), per model version, in one streaming pass that
// merges: hour summaries add up to a window, the fan-out's parts add up to an hour, in any order, and the
// figures come out bit for bit as if every row had been added to one accumulator.
//
// What is kept:
// - counts and exact sums (exact-sum.ts), which merge by adding: the confusion matrix (classes x classes
//   numbers), the log loss summed over rows, and for a regressor the sums of |error|, error², truth, truth²
//   and the truth's min and max;
// - per labelled prediction, what ROC AUC and the delay percentiles need in order, in typed arrays that grow
//   by doubling: the label delay as float32 (4 bytes; 0.04 s of resolution at a week's delay), and for a
//   classifier with probabilities its true class (1 byte, 2 past 256 classes) and its probabilities as
//   float32, the precision prediction records carry: the probability of labels[1] alone for two classes (4
//   bytes, all binary ROC AUC reads), the whole row otherwise (4 x classes bytes). Breast-cancer: 9 bytes a
//   row, digits: 45; 1,000,000 rows, 9 MB and 45 MB. A regressor keeps 4 bytes a row.
// toJSON writes the arrays as base64 of their little-endian bytes, the sums as their partials: exact.
import type { ClassFigures, ClassificationFigures, Confusion, Proportion, QualityFigures, RegressionFigures } from './types';
import { ExactSum } from './exact-sum';
import { percentilesOf, rankingScratch, rocAucOneVsRest } from './ranking';

/** statsmodels proportion_confint(alpha=0.05): scipy.stats.norm.isf(0.025). */
export const Z_95 = 1.9599639845400545;

const STATE_FORMAT = 'mlship-quality-accumulator/1';
const FLOAT64_EPSILON = 2 ** -52;
const MOST_CONFUSED = 3;

type TruthArray = Uint8Array | Uint16Array;

export class QualityAccumulator {
  readonly task: 'classification' | 'regression';
  readonly labels: readonly string[];
  private rows = 0;
  private delays = new Float32Array(1024);

  // classification
  private readonly classes: number;
  /** Probabilities kept per row: 1 (the probability of labels[1]) for two classes, else one per class. */
  private readonly width: number;
  private confusion: Float64Array;
  private readonly logLoss = new ExactSum();
  /** Rows that came without probabilities: while any has, ROC AUC and log loss are undefined and no row is kept for them. */
  private withoutProbabilities = 0;
  private truth: TruthArray;
  private probabilities: Float32Array;

  // regression
  private readonly absoluteErrors = new ExactSum();
  private readonly squaredErrors = new ExactSum();
  private readonly truthSum = new ExactSum();
  private readonly truthSquares = new ExactSum();
  private truthMin = Infinity;
  private truthMax = -Infinity;

  private constructor(task: 'classification' | 'regression', labels: readonly string[]) {
    this.task = task;
    this.labels = Object.freeze([...labels]);
    this.classes = labels.length;
    this.width = this.classes === 2 ? 1 : this.classes;
    this.confusion = new Float64Array(this.classes * this.classes);
    this.truth = this.classes > 256 ? new Uint16Array(task === 'classification' ? 1024 : 0) : new Uint8Array(task === 'classification' ? 1024 : 0);
    this.probabilities = new Float32Array(task === 'classification' ? 1024 * this.width : 0);
  }

  static forClassifier(labels: readonly string[]): QualityAccumulator {
    if (labels.length < 2) throw new RangeError(`a classifier needs at least 2 labels, received ${labels.length}`);
    if (labels.length > 65536) throw new RangeError(`at most 65536 labels, received ${labels.length}`);
    const seen = new Set<string>();
    for (const label of labels) {
      if (typeof label !== 'string') throw new TypeError(`labels must be strings, received ${JSON.stringify(label)}`);
      if (seen.has(label)) throw new RangeError(`labels must be distinct: ${JSON.stringify(label)} appears twice`);
      seen.add(label);
    }
    return new QualityAccumulator('classification', labels);
  }

  static forRegressor(): QualityAccumulator {
    return new QualityAccumulator('regression', []);
  }

  /** Labelled predictions added. */
  get count(): number {
    return this.rows;
  }

  /** One labelled prediction of a classifier; probabilities: the row of labels.length values, or undefined when the model gives none. */
  addClassified(trueIndex: number, predictedIndex: number, probabilities: ArrayLike<number> | undefined, delaySeconds: number): void {
    if (probabilities !== undefined && probabilities.length !== this.classes) throw new RangeError(`probabilities must hold ${this.classes} values (one per label), received ${probabilities.length}`);
    this.addClassifiedAt(trueIndex, predictedIndex, probabilities, 0, delaySeconds);
  }

  /**
   * addClassified with the row's probabilities at probabilities[offset, offset + labels.length) (a view of a
   * batch's rows without a subarray per row: the join adds millions).
   */
  addClassifiedAt(trueIndex: number, predictedIndex: number, probabilities: ArrayLike<number> | undefined, offset: number, delaySeconds: number): void {
    if (this.task !== 'classification') throw new TypeError('addClassified on a regressor accumulator: use addRegressed');
    const k = this.classes;
    if (!Number.isInteger(trueIndex) || trueIndex < 0 || trueIndex >= k) throw new RangeError(`trueIndex must be an integer from 0 to ${k - 1}, received ${trueIndex}`);
    if (!Number.isInteger(predictedIndex) || predictedIndex < 0 || predictedIndex >= k) throw new RangeError(`predictedIndex must be an integer from 0 to ${k - 1}, received ${predictedIndex}`);
    checkDelay(delaySeconds);
    if (probabilities !== undefined) {
      if (!(Number.isSafeInteger(offset) && offset >= 0 && offset + k <= probabilities.length)) throw new RangeError(`probabilities must hold ${k} values (one per label) from ${offset}, received ${probabilities.length}`);
      for (let c = 0; c < k; c++) {
        const p = probabilities[offset + c]!;
        // sklearn refuses probabilities outside [0, 1] (log_loss) and NaN (roc_auc_score)
        if (!(p >= 0 && p <= 1)) throw new RangeError(`probabilities[${c}] must be a number from 0 to 1, received ${p}`);
      }
    }
    const row = this.rows;
    if (row === this.delays.length) this.grow();
    this.delays[row] = delaySeconds;
    this.confusion[trueIndex * k + predictedIndex]!++;
    if (probabilities === undefined) {
      this.withoutProbabilities++;
    } else if (this.withoutProbabilities === 0) {
      // sklearn log_loss on float64 probabilities: clipped to [eps, 1 - eps], not renormalised
      const p = probabilities[offset + trueIndex]!;
      this.logLoss.add(-Math.log(p < FLOAT64_EPSILON ? FLOAT64_EPSILON : p > 1 - FLOAT64_EPSILON ? 1 - FLOAT64_EPSILON : p));
      this.truth[row] = trueIndex;
      // + 0: -0 is kept as 0, so that it ties with 0 when sorted by its bits
      if (k === 2) this.probabilities[row] = probabilities[offset + 1]! + 0;
      else for (let c = 0, at = row * k; c < k; c++) this.probabilities[at + c] = probabilities[offset + c]! + 0;
    }
    this.rows = row + 1;
  }

  addRegressed(truth: number, predicted: number, delaySeconds: number): void {
    if (this.task !== 'regression') throw new TypeError('addRegressed on a classifier accumulator: use addClassified');
    if (!Number.isFinite(truth)) throw new RangeError(`truth must be a finite number, received ${truth}`);
    if (!Number.isFinite(predicted)) throw new RangeError(`predicted must be a finite number, received ${predicted}`);
    checkDelay(delaySeconds);
    const row = this.rows;
    if (row === this.delays.length) this.grow();
    this.delays[row] = delaySeconds;
    const error = truth - predicted;
    this.absoluteErrors.add(Math.abs(error));
    this.squaredErrors.add(error * error);
    this.truthSum.add(truth);
    this.truthSquares.add(truth * truth);
    if (truth < this.truthMin) this.truthMin = truth;
    if (truth > this.truthMax) this.truthMax = truth;
    this.rows = row + 1;
  }

  /** Adds another accumulator of the same task and labels (throws naming the difference otherwise). */
  merge(other: QualityAccumulator): void {
    if (other.task !== this.task) throw new TypeError(`cannot merge a ${other.task} accumulator into a ${this.task} one`);
    if (other.labels.length !== this.labels.length || other.labels.some((label, i) => label !== this.labels[i])) {
      throw new RangeError(`cannot merge accumulators of different labels: ${JSON.stringify(this.labels)} and ${JSON.stringify(other.labels)}`);
    }
    const start = this.rows;
    const rows = start + other.rows;
    this.reserve(rows);
    this.delays.set(other.delays.subarray(0, other.rows), start);
    if (this.task === 'classification') {
      for (let i = 0; i < this.confusion.length; i++) this.confusion[i]! += other.confusion[i]!;
      this.logLoss.addSum(other.logLoss);
      this.withoutProbabilities += other.withoutProbabilities;
      if (this.withoutProbabilities === 0) {
        this.truth.set(other.truth.subarray(0, other.rows), start);
        this.probabilities.set(other.probabilities.subarray(0, other.rows * this.width), start * this.width);
      }
    } else {
      this.absoluteErrors.addSum(other.absoluteErrors);
      this.squaredErrors.addSum(other.squaredErrors);
      this.truthSum.addSum(other.truthSum);
      this.truthSquares.addSum(other.truthSquares);
      this.truthMin = Math.min(this.truthMin, other.truthMin);
      this.truthMax = Math.max(this.truthMax, other.truthMax);
    }
    this.rows = rows;
  }

  /** Exact JSON state (what an hour summary stores). */
  toJSON(): QualityAccumulatorState {
    const delaysFloat32 = base64Of(this.delays.subarray(0, this.rows));
    if (this.task === 'regression') {
      return {
        format: STATE_FORMAT,
        task: 'regression',
        labels: [],
        count: this.rows,
        delaysFloat32,
        absoluteErrors: this.absoluteErrors.state(),
        squaredErrors: this.squaredErrors.state(),
        truthSum: this.truthSum.state(),
        truthSquares: this.truthSquares.state(),
        truthMin: this.rows === 0 ? null : this.truthMin,
        truthMax: this.rows === 0 ? null : this.truthMax,
      };
    }
    const kept = this.withoutProbabilities === 0;
    return {
      format: STATE_FORMAT,
      task: 'classification',
      labels: [...this.labels],
      count: this.rows,
      delaysFloat32,
      confusion: Array.from(this.confusion),
      withoutProbabilities: this.withoutProbabilities,
      logLoss: kept ? this.logLoss.state() : [],
      truth: kept ? base64Of(this.truth.subarray(0, this.rows)) : '',
      probabilitiesFloat32: kept ? base64Of(this.probabilities.subarray(0, this.rows * this.width)) : '',
    };
  }

  /** Back from toJSON's state; throws naming what is wrong. */
  static fromJSON(state: unknown): QualityAccumulator {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new TypeError('quality accumulator state must be an object');
    const s = state as Record<string, unknown>;
    if (s.format !== STATE_FORMAT) throw new TypeError(`quality accumulator state: format must be ${JSON.stringify(STATE_FORMAT)}, received ${JSON.stringify(s.format)}`);
    const count = s.count;
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) throw new TypeError(`quality accumulator state: count must be a whole number, received ${JSON.stringify(count)}`);
    let acc: QualityAccumulator;
    if (s.task === 'classification') {
      if (!Array.isArray(s.labels)) throw new TypeError('quality accumulator state: labels must be an array of strings');
      acc = QualityAccumulator.forClassifier(s.labels as string[]);
    } else if (s.task === 'regression') {
      acc = QualityAccumulator.forRegressor();
    } else {
      throw new TypeError(`quality accumulator state: task must be "classification" or "regression", received ${JSON.stringify(s.task)}`);
    }
    acc.reserve(count);
    acc.delays.set(fromBase64(s.delaysFloat32, 'delaysFloat32', Float32Array, count));
    if (acc.task === 'regression') {
      acc.absoluteErrors.addSum(ExactSum.fromState(s.absoluteErrors, 'absoluteErrors'));
      acc.squaredErrors.addSum(ExactSum.fromState(s.squaredErrors, 'squaredErrors'));
      acc.truthSum.addSum(ExactSum.fromState(s.truthSum, 'truthSum'));
      acc.truthSquares.addSum(ExactSum.fromState(s.truthSquares, 'truthSquares'));
      const bound = (value: unknown, field: string): number | null => {
        if (count === 0 ? value !== null : typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`quality accumulator state: ${field} must be ${count === 0 ? 'null without rows' : 'a finite number'}, received ${JSON.stringify(value)}`);
        return value as number | null;
      };
      acc.truthMin = bound(s.truthMin, 'truthMin') ?? Infinity;
      acc.truthMax = bound(s.truthMax, 'truthMax') ?? -Infinity;
    } else {
      const k = acc.classes;
      const confusion = s.confusion;
      if (!Array.isArray(confusion) || confusion.length !== k * k || !confusion.every((c) => Number.isSafeInteger(c) && (c as number) >= 0)) {
        throw new TypeError(`quality accumulator state: confusion must be ${k * k} whole numbers (labels x labels)`);
      }
      if (confusion.reduce((a: number, c: number) => a + c, 0) !== count) throw new TypeError(`quality accumulator state: confusion adds up to ${confusion.reduce((a: number, c: number) => a + c, 0)}, not count ${count}`);
      acc.confusion.set(confusion as number[]);
      const without = s.withoutProbabilities;
      if (typeof without !== 'number' || !Number.isSafeInteger(without) || without < 0 || without > count) throw new TypeError(`quality accumulator state: withoutProbabilities must be a whole number from 0 to count, received ${JSON.stringify(without)}`);
      acc.withoutProbabilities = without;
      if (without === 0) {
        acc.logLoss.addSum(ExactSum.fromState(s.logLoss, 'logLoss'));
        const truth: TruthArray = k > 256 ? fromBase64(s.truth, 'truth', Uint16Array, count) : fromBase64(s.truth, 'truth', Uint8Array, count);
        for (let i = 0; i < count; i++) if (truth[i]! >= k) throw new TypeError(`quality accumulator state: truth[${i}] is ${truth[i]}, past the ${k} labels`);
        acc.truth.set(truth);
        const probabilities = fromBase64(s.probabilitiesFloat32, 'probabilitiesFloat32', Float32Array, count * acc.width);
        for (let i = 0; i < probabilities.length; i++) if (!(probabilities[i]! >= 0 && probabilities[i]! <= 1)) throw new TypeError(`quality accumulator state: probabilitiesFloat32[${i}] is ${probabilities[i]}, not a probability`);
        acc.probabilities.set(probabilities);
      }
    }
    acc.rows = count;
    return acc;
  }

  /** Figures of what was added; see qualityFigures. */
  figures(): ClassificationFigures | RegressionFigures {
    return this.task === 'classification' ? this.classificationFigures() : this.regressionFigures();
  }

  /** Label delay p50 and p95 (numpy percentile, linear), undefined without rows. */
  delayPercentiles(): { p50: number; p95: number } | undefined {
    if (this.rows === 0) return undefined;
    const [p50, p95] = percentilesOf(new Uint32Array(this.delays.buffer, 0, this.rows), this.rows, [50, 95]);
    return { p50: p50!, p95: p95! };
  }

  private classificationFigures(): ClassificationFigures {
    const k = this.classes;
    const n = this.rows;
    const confusion = this.confusion;
    const rowSums = new Float64Array(k);
    const columnSums = new Float64Array(k);
    let correct = 0;
    for (let a = 0; a < k; a++) {
      for (let p = 0; p < k; p++) {
        const c = confusion[a * k + p]!;
        rowSums[a]! += c;
        columnSums[p]! += c;
      }
      correct += confusion[a * k + a]!;
    }
    let f1Sum = 0;
    const perClass: ClassFigures[] = this.labels.map((label, c) => {
      const tp = confusion[c * k + c]!;
      // sklearn precision_recall_fscore_support(zero_division=0); F1 = 2 tp / (support + predicted)
      const precision = columnSums[c]! === 0 ? 0 : tp / columnSums[c]!;
      const recall = rowSums[c]! === 0 ? 0 : tp / rowSums[c]!;
      const denominator = rowSums[c]! + columnSums[c]!;
      const f1 = denominator === 0 ? 0 : (2 * tp) / denominator;
      f1Sum += f1;
      return { label, support: rowSums[c]!, precision, recall, f1 };
    });
    const mostConfused: Confusion[] = [];
    // Largest off-diagonal cells first; ties in row-major order (actual, then predicted, in labels order).
    const cells: { a: number; p: number; count: number }[] = [];
    for (let a = 0; a < k; a++) for (let p = 0; p < k; p++) if (a !== p && confusion[a * k + p]! > 0) cells.push({ a, p, count: confusion[a * k + p]! });
    cells.sort((x, y) => y.count - x.count || x.a - y.a || x.p - y.p);
    for (const cell of cells.slice(0, MOST_CONFUSED)) mostConfused.push({ actual: this.labels[cell.a]!, predicted: this.labels[cell.p]!, count: cell.count });
    const matrix = this.labels.map((_, a) => Array.from(confusion.subarray(a * k, (a + 1) * k)));
    const figures: ClassificationFigures = {
      task: 'classification',
      labels: this.labels,
      accuracy: wilsonInterval(correct, n),
      perClass,
      macroF1: f1Sum / k,
      confusion: matrix,
      mostConfused,
    };
    if (this.withoutProbabilities > 0 || n === 0) return figures;
    return { ...figures, rocAuc: this.rocAuc(), logLoss: this.logLoss.value / n };
  }

  /** Binary: roc_auc_score on the probability of labels[1]; more classes: one-vs-rest, macro (undefined when a class has no positive). */
  private rocAuc(): number | undefined {
    const bits = new Uint32Array(this.probabilities.buffer, 0, this.rows * this.width);
    if (this.classes === 2) return rocAucOneVsRest(bits, 1, 0, this.truth, this.rows, 1);
    let sum = 0;
    const buffers = rankingScratch(this.rows);
    for (let c = 0; c < this.classes; c++) {
      const auc = rocAucOneVsRest(bits, this.classes, c, this.truth, this.rows, c, buffers);
      if (auc === undefined) return undefined;
      sum += auc;
    }
    return sum / this.classes;
  }

  private regressionFigures(): RegressionFigures {
    const n = this.rows;
    const mae = this.absoluteErrors.value / n;
    const rmse = Math.sqrt(this.squaredErrors.value / n);
    if (n === 0 || this.truthMin === this.truthMax) return { task: 'regression', mae, rmse };
    const total = this.truthSum.value;
    // Sum of squares around the mean from exact sums; exact to about 1e-16 (mean / std)² relative.
    const spread = this.truthSquares.value - (total * total) / n;
    return { task: 'regression', mae, rmse, r2: 1 - this.squaredErrors.value / spread };
  }

  private grow(): void {
    this.reserve(this.delays.length * 2);
  }

  /** Room for `rows` rows (a size hint: rows added up to it cost no copy), at least doubling what is there. */
  reserve(rows: number): void {
    if (rows <= this.delays.length) return;
    const capacity = Math.max(rows, this.delays.length * 2);
    this.delays = grown(this.delays, capacity);
    if (this.task === 'classification') {
      this.truth = grown(this.truth, capacity);
      this.probabilities = grown(this.probabilities, capacity * this.width);
    }
  }
}

/** What toJSON writes. */
export type QualityAccumulatorState =
  | {
      readonly format: typeof STATE_FORMAT;
      readonly task: 'classification';
      readonly labels: string[];
      readonly count: number;
      /** Label delays in seconds, float32 little-endian, base64. */
      readonly delaysFloat32: string;
      /** confusion[actual * labels + predicted]. */
      readonly confusion: number[];
      readonly withoutProbabilities: number;
      /** Partials of the exact sum of the per-row log losses ([] while withoutProbabilities > 0). */
      readonly logLoss: number[];
      /** True class per row, uint8 (uint16 past 256 labels), base64 ('' while withoutProbabilities > 0). */
      readonly truth: string;
      /** Per row the probability of labels[1] (two labels) or all probabilities, float32 little-endian, base64. */
      readonly probabilitiesFloat32: string;
    }
  | {
      readonly format: typeof STATE_FORMAT;
      readonly task: 'regression';
      readonly labels: [];
      readonly count: number;
      readonly delaysFloat32: string;
      readonly absoluteErrors: number[];
      readonly squaredErrors: number[];
      readonly truthSum: number[];
      readonly truthSquares: number[];
      readonly truthMin: number | null;
      readonly truthMax: number | null;
    };

function checkDelay(delaySeconds: number): void {
  // A label may arrive "before" its prediction by clock skew: negative delays are kept as they are.
  if (!Number.isFinite(delaySeconds)) throw new RangeError(`delaySeconds must be a finite number, received ${delaySeconds}`);
}

function grown<T extends Float32Array | Uint8Array | Uint16Array>(array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array);
  return next;
}

function base64Of(array: Float32Array | Uint8Array | Uint16Array): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

function fromBase64<T extends Float32Array | Uint8Array | Uint16Array>(
  value: unknown,
  field: string,
  type: { new (buffer: ArrayBuffer, offset: number, length: number): T; readonly BYTES_PER_ELEMENT: number },
  length: number,
): T {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new TypeError(`quality accumulator state: ${field} must be a base64 string`);
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length !== length * type.BYTES_PER_ELEMENT) {
    throw new TypeError(`quality accumulator state: ${field} holds ${bytes.length} bytes, expected ${length * type.BYTES_PER_ELEMENT} (${length} values)`);
  }
  // Copied into a buffer of its own: Buffer's pool offset need not be aligned for the typed array.
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return new type(copy, 0, length);
}

/** The 95% Wilson score interval of successes out of n (statsmodels proportion_confint(method='wilson')). */
export function wilsonInterval(successes: number, n: number, z = Z_95): Proportion {
  if (!(n > 0)) return { value: NaN, low: NaN, high: NaN };
  const q = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (q + z2 / (2 * n)) / denominator;
  const distance = (z * Math.sqrt((q * (1 - q)) / n + z2 / (4 * n ** 2))) / denominator;
  const clip = (x: number) => Math.min(1, Math.max(0, x));
  return { value: q, low: clip(centre - distance), high: clip(centre + distance) };
}

/**
 * The figures of a version's labelled predictions in a window. `predictions`: every prediction made in the
 * window, labelled or not. Below minLabels (and always without a labelled prediction) the verdict is
 * 'not enough labels' and there are no metrics; counts, coverage and delays are given either way.
 */
export function qualityFigures(acc: QualityAccumulator, options: { readonly minLabels: number; readonly predictions: number }): QualityFigures {
  const { minLabels, predictions } = options;
  if (!Number.isSafeInteger(minLabels) || minLabels < 0) throw new RangeError(`minLabels must be a whole number, received ${minLabels}`);
  if (!Number.isSafeInteger(predictions) || predictions < 0) throw new RangeError(`predictions must be a whole number, received ${predictions}`);
  const labelled = acc.count;
  const delaySeconds = acc.delayPercentiles();
  const judged = labelled > 0 && labelled >= minLabels;
  return {
    labelled,
    predictions,
    coverage: predictions === 0 ? 0 : labelled / predictions,
    ...(delaySeconds === undefined ? {} : { delaySeconds }),
    verdict: judged ? 'judged' : 'not enough labels',
    minLabels,
    ...(judged ? { metrics: acc.figures() } : {}),
  };
}
