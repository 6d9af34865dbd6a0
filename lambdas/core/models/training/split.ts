// Stratified, shuffled train/test split: every class keeps its share in both parts, and the same labels
// and seed always give the same split (the retraining gate re-makes it from the numbers in model.json).
import { createRandom, shuffleInPlace } from './random';

export interface SplitOptions {
  /** Share of rows held out for testing. @default 0.2 */
  readonly testFraction?: number;
  /** @default 42 */
  readonly seed?: number;
}

export interface Split {
  /** Row indices of the training part, in shuffled order. */
  readonly train: number[];
  /** Row indices of the held-out part, in shuffled order. */
  readonly test: number[];
}

export const DEFAULT_TEST_FRACTION = 0.2;
export const DEFAULT_SEED = 42;

/**
 * Splits row indices so each class contributes round(count x testFraction) rows to the test part (at least
 * one when the class has two or more rows, never all of a class's rows).
 */
export function stratifiedSplit(labels: ArrayLike<number>, options: SplitOptions = {}): Split {
  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  const seed = options.seed ?? DEFAULT_SEED;
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError(`testFraction must be between 0 and 1 (exclusive), received ${testFraction}`);
  const random = createRandom(seed);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    const rows = byClass.get(label);
    if (rows) rows.push(i);
    else byClass.set(label, [i]);
  }
  const train: number[] = [];
  const test: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = shuffleInPlace(byClass.get(label)!, random);
    let take = Math.round(rows.length * testFraction);
    if (rows.length >= 2) take = Math.min(Math.max(take, 1), rows.length - 1);
    else take = 0;
    test.push(...rows.slice(0, take));
    train.push(...rows.slice(take));
  }
  if (test.length === 0) throw new RangeError(`a test fraction of ${testFraction} leaves no rows to test on (${labels.length} rows)`);
  return { train: shuffleInPlace(train, random), test: shuffleInPlace(test, random) };
}
