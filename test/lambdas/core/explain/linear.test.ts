import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { backgroundMean, linearOutputFromOnnx, linearShapley, linearValue } from '../../../../lambdas/core/explain/linear';
import { exactShapley, ExplainInputError, type BatchScorer } from '../../../../lambdas/core/explain/shapley';
import { exportNetworkToOnnx, INPUT_TENSOR, PROBABILITIES_TENSOR } from '../../../../lambdas/core/models/onnx-export';
import { predictProbabilities, type DenseLayer, type Network } from '../../../../lambdas/core/models/training/network';
import { createRandom, type Random } from '../../../../lambdas/core/models/training/random';

const randomFloats = (random: Random, n: number, scale = 1, offset = 0): Float32Array => Float32Array.from({ length: n }, () => offset + random.normal() * scale);

function layer(random: Random, inputs: number, outputs: number, activation: DenseLayer['activation'], zeroFirstColumn = false): DenseLayer {
  const weights = randomFloats(random, inputs * outputs, 0.8);
  const bias = randomFloats(random, outputs, 0.5);
  if (zeroFirstColumn) {
    for (let i = 0; i < inputs; i++) weights[i * outputs] = 0;
    bias[0] = 0;
  }
  return { inputs, outputs, weights, bias, activation };
}

function network(seed: number, features: number, layers: (random: Random) => DenseLayer[], classCount: number): Network {
  const random = createRandom(seed);
  const standardizer = { mean: randomFloats(random, features, 2, 1), std: Float32Array.from({ length: features }, () => 0.5 + random.next() * 3) };
  return { family: 'logreg', featureCount: features, classCount, standardizer, layers: layers(random) };
}

/** Rows as the float64 matrix the trainer's forward pass takes. */
const matrix = (rows: Float32Array, cols: number) => ({ rows: rows.length / cols, cols, data: Float64Array.from(rows) });

/** The log-odds log(p_k / p_j) of a real onnxruntime session: one run per call. */
async function onnxLogOdds(bytes: Uint8Array, classCount: number, k: number, j: number): Promise<BatchScorer & { runs: number }> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const scorer = Object.assign(
    async (rows: Float32Array, count: number): Promise<Float64Array> => {
      scorer.runs++;
      const out = await session.run({ [INPUT_TENSOR]: new ort.Tensor('float32', rows, [count, rows.length / count]) }, [PROBABILITIES_TENSOR]);
      const p = out[PROBABILITIES_TENSOR]!.data as Float32Array;
      return Float64Array.from({ length: count }, (_, r) => Math.log(p[r * classCount + k]! / p[r * classCount + j]!));
    },
    { runs: 0 },
  );
  return scorer;
}

describe('linearOutputFromOnnx on the built-in logistic regression graph', () => {
  const p = 5;
  const binary = network(31, p, (random) => [layer(random, p, 2, 'none', true)], 2);
  const bytes = exportNetworkToOnnx(binary);
  const random = createRandom(32);
  const background = randomFloats(random, 20 * p, 2, 1);
  const rows = randomFloats(random, 6 * p, 2.5, 1);

  it('reads the weights, bias and standardisation: its value is the log-odds the graph computes', () => {
    const model = linearOutputFromOnnx(bytes, 1);
    assert.ok(model);
    assert.equal(model.output, 'log-odds of class 1');
    assert.deepEqual(model.center, Float64Array.from(binary.standardizer.mean));
    assert.deepEqual(model.scale, Float64Array.from(binary.standardizer.std));
    const probabilities = predictProbabilities(binary, matrix(rows, p));
    for (let r = 0; r < 6; r++) {
      const logOdds = Math.log(probabilities.data[r * 2 + 1]! / probabilities.data[r * 2]!);
      assert.ok(Math.abs(linearValue(model, rows.subarray(r * p, (r + 1) * p)) - logOdds) < 1e-9, `row ${r}`);
    }
    // Class 0 is the same line, negated.
    const zero = linearOutputFromOnnx(bytes, 0)!;
    assert.ok(Math.abs(linearValue(zero, rows.subarray(0, p)) + linearValue(model, rows.subarray(0, p))) < 1e-12);
  });

  it('its exact attributions equal brute-force Shapley values of onnxruntime log-odds (to float32 rounding)', async () => {
    const model = linearOutputFromOnnx(bytes, 1)!;
    const scorer = await onnxLogOdds(bytes, 2, 1, 0);
    for (let r = 0; r < 3; r++) {
      const x = rows.subarray(r * p, (r + 1) * p);
      const exact = await exactShapley(scorer, x, background);
      const linear = linearShapley(model, x, backgroundMean(background, p));
      for (let i = 0; i < p; i++) assert.ok(Math.abs(linear.attributions[i]! - exact.attributions[i]!) < 1e-4, `row ${r} feature ${i}: ${linear.attributions[i]} vs ${exact.attributions[i]}`);
      assert.ok(Math.abs(linear.prediction - exact.prediction) < 1e-4);
      assert.ok(linear.additivityError < 1e-9);
    }
    assert.equal(scorer.runs, 3, 'each brute-force reference is one onnxruntime run (32 subsets x 20 rows)');
  });

  it('for more classes, it is the softmax input: differences between classes are log-odds', () => {
    const three = network(41, p, (random) => [layer(random, p, 3, 'none')], 3);
    const threeBytes = exportNetworkToOnnx(three);
    const outputs = [0, 1, 2].map((k) => linearOutputFromOnnx(threeBytes, k)!);
    assert.equal(outputs[2]!.output, 'softmax input of class 2');
    const probabilities = predictProbabilities(three, matrix(rows, p));
    for (let r = 0; r < 6; r++) {
      const x = rows.subarray(r * p, (r + 1) * p);
      const z = outputs.map((o) => linearValue(o, x));
      assert.ok(Math.abs(z[2]! - z[0]! - Math.log(probabilities.data[r * 3 + 2]! / probabilities.data[r * 3]!)) < 1e-9);
      assert.ok(Math.abs(z[1]! - z[2]! - Math.log(probabilities.data[r * 3 + 1]! / probabilities.data[r * 3 + 2]!)) < 1e-9);
    }
    assert.throws(() => linearOutputFromOnnx(threeBytes, 3), (e: Error) => e instanceof ExplainInputError && /class index 3 is outside the model's 3 classes/.test(e.message));
  });

  it('is undefined for a graph that is not linear (an MLP) or bytes that are not ONNX', () => {
    const mlp = network(51, p, (random) => [layer(random, p, 4, 'tanh'), layer(random, 4, 2, 'none')], 2);
    assert.equal(linearOutputFromOnnx(exportNetworkToOnnx({ ...mlp, family: 'mlp' }), 1), undefined);
    assert.equal(linearOutputFromOnnx(new Uint8Array([1, 2, 3, 4, 5]), 1), undefined);
  });

  it('linearShapley names a row of the wrong width', () => {
    const model = linearOutputFromOnnx(bytes, 1)!;
    assert.throws(() => linearShapley(model, new Float32Array(4), backgroundMean(background, p)), /the row has 4 features, the model takes 5/);
    assert.throws(() => backgroundMean(new Float32Array(7), p), /not a whole number of rows of 5 features/);
  });
});
