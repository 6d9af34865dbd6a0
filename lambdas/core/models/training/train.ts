// Trains a built-in classifier end to end: stratified split, standardisation fitted on the training part,
// the L2 penalty chosen on a validation split carved out of the training part (the held-out test split is
// never looked at until the final evaluation), a final fit on the whole training part, and the held-out
// metrics. Same data and seed, same network, bit for bit.
import { fitLogreg, LOGREG_DEFAULTS } from './logreg';
import { selectRows, type Matrix } from './matrix';
import { accuracy, macroF1, rocAuc } from './metrics';
import { fitMlp, MLP_DEFAULTS } from './mlp';
import { argmaxRows, predictProbabilities, type Activation, type DenseLayer, type Network } from './network';
import { DEFAULT_SEED, DEFAULT_TEST_FRACTION, stratifiedSplit, type Split } from './split';
import { fitStandardizer, standardize, type Standardizer } from './standardize';

export type Family = 'logreg' | 'mlp';

export interface TrainOptions {
  /** @default 'logreg' */
  readonly family?: Family;
  /** Seeds the split, the validation split, the MLP's initial weights and shuffles. @default 42 */
  readonly seed?: number;
  /** @default 0.2 */
  readonly testFraction?: number;
  /** A fixed L2 penalty; left out, it is chosen from `l2Grid` on a validation split of the training part. */
  readonly l2?: number;
  /** @default [1e-4, 1e-3, 1e-2, 1e-1] for logreg, [1e-4, 1e-3, 1e-2] for mlp */
  readonly l2Grid?: readonly number[];
  /** Share of the training part used to choose L2. @default 0.2 */
  readonly validationFraction?: number;
  /** logreg: full-batch iterations. @default 500 */
  readonly iterations?: number;
  /** mlp: epochs. @default 60 */
  readonly epochs?: number;
  /** mlp: hidden units. @default 64 */
  readonly hidden?: number;
  /** mlp: @default 'relu' */
  readonly activation?: Exclude<Activation, 'none'>;
  /** mlp: @default 32 */
  readonly batchSize?: number;
  readonly learningRate?: number;
}

export interface HeldOutEvaluation {
  readonly accuracy: number;
  /** Binary tasks, when both classes occur in the test split. */
  readonly rocAuc?: number;
  /** Multiclass tasks. */
  readonly macroF1?: number;
}

export interface TrainResult {
  readonly network: Network;
  readonly split: Split;
  readonly seed: number;
  readonly testFraction: number;
  /** The L2 penalty used for the final fit. */
  readonly l2: number;
  /** Validation accuracy and log-loss per L2 candidate, when L2 was chosen. */
  readonly l2Search: readonly { l2: number; accuracy: number; logLoss: number }[];
  /** Hyper-parameters, for the model card's `training` record. */
  readonly hyperParameters: Record<string, unknown>;
  /** Metrics on the held-out test split. */
  readonly evaluation: HeldOutEvaluation;
  /** Predicted classes of the test rows, in split.test order. */
  readonly testPredictions: number[];
}

function fitLayers(family: Family, x: Matrix, y: readonly number[], classCount: number, l2: number, seed: number, options: TrainOptions): DenseLayer[] {
  if (family === 'logreg') {
    return [fitLogreg(x, y, classCount, { l2, iterations: options.iterations ?? LOGREG_DEFAULTS.iterations, learningRate: options.learningRate ?? LOGREG_DEFAULTS.learningRate })];
  }
  return fitMlp(x, y, classCount, {
    l2,
    seed,
    hidden: options.hidden ?? MLP_DEFAULTS.hidden,
    activation: options.activation ?? MLP_DEFAULTS.activation,
    epochs: options.epochs ?? MLP_DEFAULTS.epochs,
    batchSize: options.batchSize ?? MLP_DEFAULTS.batchSize,
    learningRate: options.learningRate ?? MLP_DEFAULTS.learningRate,
  });
}

function network(family: Family, standardizer: Standardizer, classCount: number, layers: DenseLayer[]): Network {
  return { family, featureCount: standardizer.mean.length, classCount, standardizer, layers };
}

function logLoss(p: Matrix, y: readonly number[]): number {
  let sum = 0;
  for (let r = 0; r < p.rows; r++) sum -= Math.log(Math.max(p.data[r * p.cols + y[r]!]!, 1e-15));
  return sum / p.rows;
}

/** Held-out metrics for predicted probabilities p of rows whose classes are y. */
export function evaluateClassifier(p: Matrix, y: readonly number[], classCount: number): HeldOutEvaluation {
  const predicted = argmaxRows(p);
  const acc = accuracy(y, predicted);
  if (classCount === 2) {
    const auc = rocAuc(y, Array.from({ length: p.rows }, (_, r) => p.data[r * 2 + 1]!));
    return auc === undefined ? { accuracy: acc } : { accuracy: acc, rocAuc: auc };
  }
  return { accuracy: acc, macroF1: macroF1(y, predicted, classCount) };
}

/** x: raw features, one row per example; y: class indices in [0, classCount). */
export function trainClassifier(x: Matrix, y: readonly number[], classCount: number, options: TrainOptions = {}): TrainResult {
  if (x.rows !== y.length) throw new RangeError(`x has ${x.rows} rows but there are ${y.length} labels`);
  if (classCount < 2) throw new RangeError(`a classifier needs at least 2 classes, received ${classCount}`);
  const bad = y.findIndex((c) => !Number.isInteger(c) || c < 0 || c >= classCount);
  if (bad >= 0) throw new RangeError(`label of row ${bad} is ${y[bad]}, expected a class index in [0, ${classCount})`);
  const family = options.family ?? 'logreg';
  const seed = options.seed ?? DEFAULT_SEED;
  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  const split = stratifiedSplit(y, { testFraction, seed });
  const trainY = split.train.map((i) => y[i]!);
  const standardizer = fitStandardizer(x, split.train);
  const trainX = standardize(x, standardizer, split.train);

  let l2 = options.l2;
  const l2Search: { l2: number; accuracy: number; logLoss: number }[] = [];
  if (l2 === undefined) {
    const grid = options.l2Grid ?? (family === 'logreg' ? [1e-4, 1e-3, 1e-2, 1e-1] : [1e-4, 1e-3, 1e-2]);
    // Positions within the training part; a different seed so it is not the same cut as the test split.
    const inner = stratifiedSplit(trainY, { testFraction: options.validationFraction ?? 0.2, seed: seed + 1 });
    const fitX = selectRows(trainX, inner.train);
    const fitY = inner.train.map((i) => trainY[i]!);
    const validationRaw = selectRows(x, inner.test.map((i) => split.train[i]!));
    const validationY = inner.test.map((i) => trainY[i]!);
    let best: { l2: number; accuracy: number; logLoss: number } | undefined;
    for (const candidate of grid) {
      const p = predictProbabilities(network(family, standardizer, classCount, fitLayers(family, fitX, fitY, classCount, candidate, seed, options)), validationRaw);
      const score = { l2: candidate, accuracy: accuracy(validationY, argmaxRows(p)), logLoss: logLoss(p, validationY) };
      l2Search.push(score);
      if (!best || score.accuracy > best.accuracy || (score.accuracy === best.accuracy && score.logLoss < best.logLoss)) best = score;
    }
    l2 = best!.l2;
  }

  const trained = network(family, standardizer, classCount, fitLayers(family, trainX, trainY, classCount, l2, seed, options));
  const testP = predictProbabilities(trained, selectRows(x, split.test));
  const testY = split.test.map((i) => y[i]!);
  const hyperParameters: Record<string, unknown> =
    family === 'logreg'
      ? { family, l2, optimizer: 'adam (full batch)', iterations: options.iterations ?? LOGREG_DEFAULTS.iterations, learningRate: options.learningRate ?? LOGREG_DEFAULTS.learningRate, seed }
      : {
          family,
          l2,
          optimizer: 'adam (mini-batch)',
          hidden: options.hidden ?? MLP_DEFAULTS.hidden,
          activation: options.activation ?? MLP_DEFAULTS.activation,
          epochs: options.epochs ?? MLP_DEFAULTS.epochs,
          batchSize: options.batchSize ?? MLP_DEFAULTS.batchSize,
          learningRate: options.learningRate ?? MLP_DEFAULTS.learningRate,
          seed,
        };
  if (l2Search.length > 0) hyperParameters.l2Search = l2Search;
  return {
    network: trained,
    split,
    seed,
    testFraction,
    l2,
    l2Search,
    hyperParameters,
    evaluation: evaluateClassifier(testP, testY, classCount),
    testPredictions: argmaxRows(testP),
  };
}
