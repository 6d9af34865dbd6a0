import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backgroundMean, linearShapley, linearValue, type LinearOutput } from '../../../../lambdas/core/explain/linear';
import { exactShapley, ExplainInputError, permutationShapley, type BatchScorer } from '../../../../lambdas/core/explain/shapley';
import { createRandom, type Random } from '../../../../lambdas/core/models/training/random';

function randomRows(random: Random, rows: number, features: number, scale = 1): Float32Array {
  return Float32Array.from({ length: rows * features }, () => random.normal() * scale);
}

/** A row-at-a-time function as a batch scorer, counting calls and rows. */
function batchScorer(f: (row: Float32Array) => number): BatchScorer & { calls: number; rows: number } {
  const scorer = Object.assign(
    async (rows: Float32Array, count: number): Promise<Float64Array> => {
      scorer.calls++;
      scorer.rows += count;
      const width = rows.length / count;
      return Float64Array.from({ length: count }, (_, r) => f(rows.subarray(r * width, (r + 1) * width)));
    },
    { calls: 0, rows: 0 },
  );
  return scorer;
}

/** A logistic model's logit with standardisation, as the built-in graph computes it. */
function logisticModel(seed: number, features: number): LinearOutput {
  const random = createRandom(seed);
  return {
    output: 'logit',
    weight: Float64Array.from({ length: features }, () => random.normal() * 2),
    bias: random.normal(),
    center: Float64Array.from({ length: features }, () => random.normal()),
    scale: Float64Array.from({ length: features }, () => 0.5 + random.next() * 2),
  };
}

/** A 2-layer tanh network, p -> hidden -> 1, with interactions between every pair of inputs. */
function tanhNetwork(seed: number, features: number, hidden: number): (row: Float32Array) => number {
  const random = createRandom(seed);
  const w1 = Float64Array.from({ length: features * hidden }, () => random.normal());
  const b1 = Float64Array.from({ length: hidden }, () => random.normal() * 0.5);
  const w2 = Float64Array.from({ length: hidden }, () => random.normal());
  const b2 = random.normal();
  return (row) => {
    let out = b2;
    for (let h = 0; h < hidden; h++) {
      let a = b1[h]!;
      for (let i = 0; i < features; i++) a += row[i]! * w1[i * hidden + h]!;
      out += w2[h]! * Math.tanh(a);
    }
    return out;
  };
}

const sum = (values: Float64Array): number => values.reduce((a, b) => a + b, 0);

describe('exactShapley and linearShapley on a logistic model (p = 5, 20 background rows)', () => {
  const p = 5;
  const model = logisticModel(11, p);
  const random = createRandom(12);
  const background = randomRows(random, 20, p, 1.5);
  const rows = randomRows(random, 4, p, 2);

  it('the linear attributions equal the brute-force Shapley values of the logit to 1e-6, with no model evaluation', async () => {
    for (let r = 0; r < 4; r++) {
      const x = rows.subarray(r * p, (r + 1) * p);
      const scorer = batchScorer((row) => linearValue(model, row));
      const exact = await exactShapley(scorer, x, background);
      assert.equal(scorer.rows, 2 ** p * 20, 'every subset, every background row');
      const linear = linearShapley(model, x, backgroundMean(background, p));
      for (let i = 0; i < p; i++) assert.ok(Math.abs(linear.attributions[i]! - exact.attributions[i]!) < 1e-6, `feature ${i}: ${linear.attributions[i]} vs ${exact.attributions[i]}`);
      assert.ok(Math.abs(linear.baseValue - exact.baseValue) < 1e-6);
      assert.ok(Math.abs(linear.prediction - exact.prediction) < 1e-6);
      assert.ok(exact.additivityError < 1e-9, `exact additivity ${exact.additivityError}`);
      assert.ok(linear.additivityError < 1e-9, `linear additivity ${linear.additivityError}`);
      // Not a degenerate case: the attributions are of the logit's size.
      assert.ok(Math.max(...linear.attributions.map(Math.abs)) > 0.1);
      assert.match(linear.method, /linear-exact-shapley \(logit\)/);
    }
  });

  it('refuses more than 16 features for brute force, and a background of partial rows', async () => {
    const scorer = batchScorer(() => 0);
    await assert.rejects(exactShapley(scorer, new Float32Array(17), new Float32Array(17)), (e: Error) => e instanceof ExplainInputError && /17 features is over the limit of 16/.test(e.message));
    await assert.rejects(exactShapley(scorer, new Float32Array(5), new Float32Array(12)), /not a whole number of rows of 5 features/);
    assert.equal(scorer.calls, 0);
  });
});

describe('permutationShapley on a tanh network (p = 6, 20 background rows)', () => {
  const p = 6;
  const b = 20;
  const network = tanhNetwork(21, p, 8);
  const random = createRandom(22);
  const background = randomRows(random, b, p);
  const x = randomRows(random, 1, p, 1.5);
  const rowsPerPair = 2 * (p - 1) * b;

  it('lies within 3 standard errors of the brute-force values for every feature; additivity is exact', async () => {
    const exact = await exactShapley(batchScorer(network), x, background);
    const scorer = batchScorer(network);
    const estimate = await permutationShapley(scorer, x, background, { random: createRandom(23), maxEvaluations: 21 + 100 * rowsPerPair, pairsPerRound: 25 });
    assert.equal(estimate.stoppedBy, 'budget');
    assert.equal(estimate.permutations, 200);
    assert.equal(estimate.rounds, 4);
    assert.equal(scorer.calls, 4, 'one scorer call per round');
    assert.equal(estimate.evaluations, scorer.rows);
    assert.ok(Math.abs(estimate.baseValue - exact.baseValue) < 1e-12, 'the base value is the background mean, not an estimate');
    assert.ok(Math.abs(estimate.prediction - exact.prediction) < 1e-12);
    const scale = Math.max(...exact.attributions.map(Math.abs));
    assert.ok(scale > 0.1, `a model whose attributions matter (${scale})`);
    for (let i = 0; i < p; i++) {
      const se = estimate.standardError[i]!;
      const error = Math.abs(estimate.attributions[i]! - exact.attributions[i]!);
      assert.ok(se > 0, `feature ${i} has a standard error`);
      assert.ok(se < 0.1 * scale, `feature ${i}: standard error ${se} is small beside the attributions (${scale})`);
      assert.ok(error <= 3 * se, `feature ${i}: |${estimate.attributions[i]} - ${exact.attributions[i]}| = ${error} > 3 * ${se}`);
    }
    // Each permutation's contributions telescope to f(x) - v(empty): the sum is exact, only its split is estimated.
    assert.ok(estimate.additivityError < 1e-9, `permutation additivity ${estimate.additivityError}`);
    assert.ok(exact.additivityError < 1e-9);
    assert.ok(Math.abs(sum(estimate.attributions) - (exact.prediction - exact.baseValue)) < 1e-9);
  });

  it('the standard error shrinks as the budget grows (about as 1/sqrt(pairs))', async () => {
    const small = await permutationShapley(batchScorer(network), x, background, { random: createRandom(5), maxEvaluations: 21 + 16 * rowsPerPair });
    const large = await permutationShapley(batchScorer(network), x, background, { random: createRandom(5), maxEvaluations: 21 + 256 * rowsPerPair });
    const ratio = sum(small.standardError) / sum(large.standardError);
    assert.ok(ratio > 2.5 && ratio < 6.5, `16 -> 256 pairs should divide the error by about 4, divided it by ${ratio}`);
  });

  it('the same seed gives the same answer', async () => {
    const options = { maxEvaluations: 21 + 10 * rowsPerPair, pairsPerRound: 3 };
    const one = await permutationShapley(batchScorer(network), x, background, { ...options, random: createRandom(9) });
    const two = await permutationShapley(batchScorer(network), x, background, { ...options, random: createRandom(9) });
    assert.deepEqual(one.attributions, two.attributions);
    assert.deepEqual(one.standardError, two.standardError);
  });

  it('stops at the evaluation budget: never scores more rows than allowed, the last round shortened to fit', async () => {
    const scorer = batchScorer(network);
    // First round: background, x and 2 pairs; then 2 pairs; then the 1 pair the budget has left.
    const budget = b + 1 + 5 * rowsPerPair + rowsPerPair - 1;
    const result = await permutationShapley(scorer, x, background, { random: createRandom(1), maxEvaluations: budget, pairsPerRound: 2 });
    assert.equal(result.stoppedBy, 'budget');
    assert.equal(scorer.calls, 3);
    assert.equal(scorer.rows, b + 1 + 5 * rowsPerPair);
    assert.equal(result.evaluations, scorer.rows);
    assert.ok(scorer.rows <= budget);
    assert.equal(result.permutations, 10);
    assert.equal(result.rounds, 3);
    assert.ok(result.additivityError < 1e-9);
  });

  it('stops at maxPairs with budget left', async () => {
    const scorer = batchScorer(network);
    const result = await permutationShapley(scorer, x, background, { random: createRandom(1), maxEvaluations: 1e9, pairsPerRound: 4, maxPairs: 6 });
    assert.equal(result.stoppedBy, 'pairs');
    assert.equal(result.permutations, 12);
    assert.equal(scorer.calls, 2);
  });

  it('refuses a budget too small for two antithetic pairs (no error bar), before scoring anything', async () => {
    const scorer = batchScorer(network);
    await assert.rejects(
      permutationShapley(scorer, x, background, { random: createRandom(1), maxEvaluations: b + 1 + 2 * rowsPerPair - 1 }),
      (e: Error) => e instanceof ExplainInputError && new RegExp(`maxEvaluations ${b + 2 * rowsPerPair} is below ${b + 1 + 2 * rowsPerPair}`).test(e.message),
    );
    assert.equal(scorer.calls, 0);
  });

  it('keeps the injected deadline: no round starts that the last round says would end past it', async () => {
    // A slow model on a fake clock: each scorer call takes 10 ms.
    let clock = 0;
    const slow = batchScorer(network);
    const timed: BatchScorer = async (rows, count) => {
      clock += 10;
      return slow(rows, count);
    };
    const result = await permutationShapley(timed, x, background, { random: createRandom(3), maxEvaluations: 1e9, pairsPerRound: 2, deadline: 35, now: () => clock });
    assert.equal(result.stoppedBy, 'deadline');
    // Rounds end at 10, 20, 30; a fourth would end at 40 > 35.
    assert.equal(result.rounds, 3);
    assert.equal(clock, 30);
    assert.equal(result.permutations, 2 * (2 + 2 + 2));
    assert.ok(result.standardError.every((se) => se > 0 && Number.isFinite(se)));
    assert.ok(result.additivityError < 1e-9);
  });

  it('answers one round even when the deadline has already passed', async () => {
    const scorer = batchScorer(network);
    const result = await permutationShapley(scorer, x, background, { random: createRandom(3), maxEvaluations: 1e9, deadline: 0, now: () => 100 });
    assert.equal(result.stoppedBy, 'deadline');
    assert.equal(scorer.calls, 1);
    assert.equal(result.permutations, 8, 'the default 4 pairs of the first round');
  });

  it('a single feature gets f(x) - v(empty) exactly', async () => {
    const one = new Float32Array([2]);
    const bg = new Float32Array([0, 1, -1]);
    const result = await permutationShapley(batchScorer((row) => row[0]! ** 2), one, bg, { random: createRandom(1), maxEvaluations: 1e9 });
    assert.equal(result.stoppedBy, 'pairs');
    assert.ok(Math.abs(result.attributions[0]! - (4 - 2 / 3)) < 1e-12);
    assert.equal(result.standardError[0], 0);
  });
});
