// Shapley attributions of one row's model output, interventional: a feature "absent" from a coalition S
// takes its value from a background row, and v(S) is the mean output over the background sample.
//   exactShapley       - every subset, 2^p * B model evaluations; the reference for small p (p <= 16).
//   permutationShapley - antithetic permutation sampling, bounded by an evaluation budget and a deadline,
//                        with a standard error per feature.
// Both take a batch scorer so a caller can send every masked row of a round to the model in one run.
import { shuffleInPlace, type Random } from '../models/training/random';

/** Scores `count` rows (row-major, `rows.length / count` features each): one output per row, e.g. the logit of the class explained. */
export type BatchScorer = (rows: Float32Array, count: number) => Promise<Float64Array>;

export interface ShapleyExplanation {
  /** How the attributions were computed, e.g. 'exact-shapley', 'permutation-shapley'. */
  readonly method: string;
  /** v(empty set): the mean output over the background sample. */
  readonly baseValue: number;
  /** f(x): the output for the explained row. */
  readonly prediction: number;
  /** One value per feature, in the scorer's output space. */
  readonly attributions: Float64Array;
  /** Standard error of each attribution (sampling methods only). */
  readonly standardError?: Float64Array;
  /** |baseValue + sum(attributions) - prediction|. */
  readonly additivityError: number;
}

/** Brute force over 2^p subsets; past this it is no longer a reference but a hang. */
export const EXACT_SHAPLEY_MAX_FEATURES = 16;
/** Rows per scorer call in the exact method, so memory stays bounded whatever p and B are. */
const EXACT_ROWS_PER_CALL = 65_536;

export class ExplainInputError extends RangeError {
  override readonly name = 'ExplainInputError';
}

function checkInputs(x: Float32Array, background: Float32Array): { p: number; b: number } {
  const p = x.length;
  if (p === 0) throw new ExplainInputError('the row to explain has no features');
  if (background.length === 0 || background.length % p !== 0) {
    throw new ExplainInputError(`background holds ${background.length} values, not a whole number of rows of ${p} features`);
  }
  return { p, b: background.length / p };
}

async function scoreChecked(score: BatchScorer, rows: Float32Array, count: number): Promise<Float64Array> {
  const out = await score(rows, count);
  if (out.length !== count) throw new Error(`the scorer returned ${out.length} outputs for ${count} rows`);
  return out;
}

function mean(values: Float64Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += values[i]!;
  return sum / (to - from);
}

function additivityError(baseValue: number, attributions: Float64Array, prediction: number): number {
  let sum = baseValue;
  for (const a of attributions) sum += a;
  return Math.abs(sum - prediction);
}

/**
 * Exact interventional Shapley values: phi_i = sum over S without i of |S|!(p-|S|-1)!/p! * (v(S+i) - v(S)),
 * with v(S) the mean score of the background rows whose features in S are replaced by x's.
 * Refuses p > 16 (2^p * B rows).
 */
export async function exactShapley(score: BatchScorer, x: Float32Array, background: Float32Array): Promise<ShapleyExplanation> {
  const { p, b } = checkInputs(x, background);
  if (p > EXACT_SHAPLEY_MAX_FEATURES) {
    throw new ExplainInputError(`exact Shapley values enumerate 2^p subsets: ${p} features is over the limit of ${EXACT_SHAPLEY_MAX_FEATURES}; use permutationShapley`);
  }
  const subsets = 2 ** p;
  const value = new Float64Array(subsets);
  const subsetsPerCall = Math.max(1, Math.floor(EXACT_ROWS_PER_CALL / b));
  for (let first = 0; first < subsets; first += subsetsPerCall) {
    const last = Math.min(subsets, first + subsetsPerCall);
    const rows = new Float32Array((last - first) * b * p);
    for (let mask = first; mask < last; mask++) {
      const offset = (mask - first) * b * p;
      rows.set(background, offset);
      for (let r = 0; r < b; r++) for (let i = 0; i < p; i++) if (mask & (1 << i)) rows[offset + r * p + i] = x[i]!;
    }
    const out = await scoreChecked(score, rows, (last - first) * b);
    for (let mask = first; mask < last; mask++) value[mask] = mean(out, (mask - first) * b, (mask - first + 1) * b);
  }
  // weight(s) = s!(p-s-1)!/p! = 1 / (p * C(p-1, s))
  const weight = new Float64Array(p);
  let choose = 1;
  for (let s = 0; s < p; s++) {
    weight[s] = 1 / (p * choose);
    choose = (choose * (p - 1 - s)) / (s + 1);
  }
  const attributions = new Float64Array(p);
  for (let mask = 0; mask < subsets; mask++) {
    let size = 0;
    for (let m = mask; m; m &= m - 1) size++;
    for (let i = 0; i < p; i++) {
      if (mask & (1 << i)) continue;
      attributions[i]! += weight[size]! * (value[mask | (1 << i)]! - value[mask]!);
    }
  }
  const baseValue = value[0]!;
  const prediction = value[subsets - 1]!;
  return { method: 'exact-shapley', baseValue, prediction, attributions, additivityError: additivityError(baseValue, attributions, prediction) };
}

export interface PermutationShapleyOptions {
  /** Draws the permutations; pass createRandom(seed) for reproducible answers. */
  readonly random: Random;
  /** Most rows scored in all, the background and x included. Must allow at least two antithetic pairs. */
  readonly maxEvaluations: number;
  /** Antithetic pairs (a permutation and its reverse) scored per scorer call. @default 4 */
  readonly pairsPerRound?: number;
  /** Stop after this many antithetic pairs even with budget left. @default unlimited */
  readonly maxPairs?: number;
  /** Milliseconds on the `now` clock after which no new round starts. @default none */
  readonly deadline?: number;
  /** The clock the deadline is read on (injected so tests never read the wall clock). @default Date.now */
  readonly now?: () => number;
}

export interface PermutationShapleyExplanation extends ShapleyExplanation {
  readonly standardError: Float64Array;
  /** Permutations walked (twice the antithetic pairs). */
  readonly permutations: number;
  /** Rows scored, the background and x included. */
  readonly evaluations: number;
  /** Scorer calls made. */
  readonly rounds: number;
  /** Why it stopped: the pair limit, the evaluation budget, or the deadline. */
  readonly stoppedBy: 'pairs' | 'budget' | 'deadline';
}

/**
 * Permutation SHAP with antithetic sampling. Each permutation adds x's features one at a time to a
 * background row; a feature's contribution is the change in the mean score over the background. A
 * permutation's contributions telescope to f(x) - v(empty), so additivity holds exactly for any number of
 * permutations: the sampling error lies in how the total is split, which standardError measures (the
 * spread of the per-pair means across pairs, over sqrt(pairs); pairs are independent, a permutation and
 * its reverse are not, hence per pair).
 *
 * The first round always runs (an answer with no permutation says nothing); later rounds start only
 * while the budget allows a round of at least one pair and the last round's duration still fits before
 * the deadline.
 */
export async function permutationShapley(score: BatchScorer, x: Float32Array, background: Float32Array, options: PermutationShapleyOptions): Promise<PermutationShapleyExplanation> {
  const { p, b } = checkInputs(x, background);
  const pairsPerRound = options.pairsPerRound ?? 4;
  if (!Number.isInteger(pairsPerRound) || pairsPerRound < 1) throw new ExplainInputError(`pairsPerRound must be a positive integer, received ${pairsPerRound}`);
  // One feature: every permutation gives f(x) - v(empty), so two pairs are all there is to learn.
  const maxPairs = x.length === 1 ? 2 : (options.maxPairs ?? Infinity);
  if (!(maxPairs >= 2)) throw new ExplainInputError(`maxPairs must be at least 2 (a standard error needs two pairs), received ${maxPairs}`);
  const now = options.now ?? Date.now;
  // A permutation scores the p - 1 coalitions strictly between empty and full, B rows each; v(empty) and
  // v(full) = f(x) are scored once, in the first round.
  const rowsPerPair = 2 * (p - 1) * b;
  const fixedRows = b + 1;
  const minimum = fixedRows + 2 * rowsPerPair;
  if (!(options.maxEvaluations >= minimum)) {
    throw new ExplainInputError(`maxEvaluations ${options.maxEvaluations} is below ${minimum}, the rows two antithetic pairs need with ${p} features and ${b} background rows`);
  }

  const runningMean = new Float64Array(p);
  const runningM2 = new Float64Array(p); // Welford: sum of squared deviations of the per-pair means
  const pairMean = new Float64Array(p);
  const contribution = new Float64Array(p);
  let baseValue = NaN;
  let prediction = NaN;
  let pairs = 0;
  let evaluations = 0;
  let rounds = 0;
  let lastRoundMs = 0;
  let stoppedBy: PermutationShapleyExplanation['stoppedBy'] = 'pairs';

  for (;;) {
    const first = rounds === 0;
    const budgetPairs = Math.floor((options.maxEvaluations - evaluations - (first ? fixedRows : 0)) / rowsPerPair);
    // The first round takes two pairs at least, so there is always a standard error.
    const roundPairs = Math.min(first ? Math.max(2, pairsPerRound) : pairsPerRound, budgetPairs, maxPairs - pairs);
    if (!first) {
      if (pairs >= maxPairs) break;
      if (roundPairs < 1) {
        stoppedBy = 'budget';
        break;
      }
      if (options.deadline !== undefined && now() + lastRoundMs > options.deadline) {
        stoppedBy = 'deadline';
        break;
      }
    }
    const started = now();
    const permutations: number[][] = [];
    for (let k = 0; k < roundPairs; k++) {
      const order = shuffleInPlace(Array.from({ length: p }, (_, i) => i), options.random);
      permutations.push(order, [...order].reverse());
    }
    const head = first ? fixedRows : 0;
    const count = head + roundPairs * rowsPerPair;
    const rows = new Float32Array(count * p);
    if (first) {
      rows.set(background, 0);
      rows.set(x, b * p);
    }
    let offset = head * p;
    for (const order of permutations) {
      // Coalitions {order[0]}, {order[0], order[1]}, ..., all but the last feature: B rows each.
      for (let k = 1; k < p; k++) {
        rows.set(background, offset);
        for (let r = 0; r < b; r++) {
          for (let j = 0; j < k; j++) rows[offset + r * p + order[j]!] = x[order[j]!]!;
        }
        offset += b * p;
      }
    }
    const out = await scoreChecked(score, rows, count);
    if (first) {
      baseValue = mean(out, 0, b);
      prediction = out[b]!;
    }
    let at = head;
    for (let k = 0; k < roundPairs; k++) {
      pairMean.fill(0);
      for (let side = 0; side < 2; side++) {
        const order = permutations[2 * k + side]!;
        let previous = baseValue;
        for (let step = 0; step < p; step++) {
          const next = step === p - 1 ? prediction : mean(out, at, at + b);
          if (step < p - 1) at += b;
          contribution[order[step]!] = next - previous;
          previous = next;
        }
        for (let i = 0; i < p; i++) pairMean[i]! += contribution[i]! / 2;
      }
      pairs++;
      for (let i = 0; i < p; i++) {
        const delta = pairMean[i]! - runningMean[i]!;
        runningMean[i]! += delta / pairs;
        runningM2[i]! += delta * (pairMean[i]! - runningMean[i]!);
      }
    }
    evaluations += count;
    rounds++;
    lastRoundMs = Math.max(0, now() - started);
  }

  const standardError = new Float64Array(p);
  for (let i = 0; i < p; i++) standardError[i] = Math.sqrt(runningM2[i]! / (pairs - 1) / pairs);
  const attributions = Float64Array.from(runningMean);
  return {
    method: 'permutation-shapley',
    baseValue,
    prediction,
    attributions,
    standardError,
    additivityError: additivityError(baseValue, attributions, prediction),
    permutations: 2 * pairs,
    evaluations,
    rounds,
    stoppedBy,
  };
}
