import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportNetworkToOnnx } from '../../../../lambdas/core/models/onnx-export';
import { matrixFromRows } from '../../../../lambdas/core/models/training/matrix';
import { accuracy, macroF1, regressionMetrics, rocAuc } from '../../../../lambdas/core/models/training/metrics';
import { argmaxRows, predictProbabilities } from '../../../../lambdas/core/models/training/network';
import { createRandom, shuffleInPlace } from '../../../../lambdas/core/models/training/random';
import { stratifiedSplit } from '../../../../lambdas/core/models/training/split';
import { fitStandardizer, standardize } from '../../../../lambdas/core/models/training/standardize';
import { trainClassifier } from '../../../../lambdas/core/models/training/train';
import { blobs, THREE_CLASSES, TWO_CLASSES } from './training-fixtures';

describe('createRandom', () => {
  it('gives the same sequence for the same seed, a different one for another seed, all in [0, 1)', () => {
    const a = Array.from({ length: 5 }, createRandom(42).next);
    const b = Array.from({ length: 5 }, createRandom(42).next);
    const c = Array.from({ length: 5 }, createRandom(43).next);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const r = createRandom(1);
    for (let i = 0; i < 10_000; i++) {
      const v = r.next();
      assert.ok(v >= 0 && v < 1);
    }
  });

  it('shuffles into a permutation', () => {
    const shuffled = shuffleInPlace(Array.from({ length: 50 }, (_, i) => i), createRandom(3));
    assert.deepEqual([...shuffled].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
    assert.notDeepEqual(shuffled, Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('stratifiedSplit', () => {
  // 100 of class 0, 40 of class 1, 10 of class 2, interleaved.
  const ordered: number[] = [...Array<number>(100).fill(0), ...Array<number>(40).fill(1), ...Array<number>(10).fill(2)];
  const labels = ordered.map((_, i) => ordered[(i * 7) % ordered.length]!);

  it('keeps each class share in the test part and partitions the rows', () => {
    const { train, test } = stratifiedSplit(labels, { testFraction: 0.2, seed: 42 });
    const count = (rows: number[], c: number): number => rows.filter((r) => labels[r] === c).length;
    for (const c of [0, 1, 2]) {
      const total = labels.filter((l) => l === c).length;
      assert.equal(count(test, c), Math.round(total * 0.2), `class ${c} test count`);
      assert.equal(count(train, c) + count(test, c), total);
    }
    assert.equal(new Set([...train, ...test]).size, labels.length, 'every row exactly once');
  });

  it('is the same for the same seed and different for another seed', () => {
    assert.deepEqual(stratifiedSplit(labels, { seed: 42 }), stratifiedSplit(labels, { seed: 42 }));
    assert.notDeepEqual(stratifiedSplit(labels, { seed: 42 }).test, stratifiedSplit(labels, { seed: 7 }).test);
  });

  it('keeps at least one row of a small class in each part and rejects a bad fraction', () => {
    const { train, test } = stratifiedSplit([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], { testFraction: 0.1 });
    assert.ok(test.some((r) => r >= 8) && train.some((r) => r >= 8));
    assert.throws(() => stratifiedSplit([0, 1], { testFraction: 1 }), /testFraction must be between 0 and 1 \(exclusive\), received 1/);
  });
});

describe('standardisation', () => {
  it('uses the training rows only and maps a constant feature to 0 with std 1', () => {
    const x = matrixFromRows([
      [1, 5],
      [3, 5],
      [100, 5],
    ]);
    const s = fitStandardizer(x, [0, 1]);
    assert.deepEqual(Array.from(s.mean), [2, 5]);
    assert.deepEqual(Array.from(s.std), [1, 1]);
    assert.deepEqual(Array.from(standardize(x, s, [0, 1]).data), [-1, 0, 1, 0]);
  });
});

describe('metrics', () => {
  it('accuracy, ROC AUC with ties, macro F1 and regression errors match hand-computed values', () => {
    assert.equal(accuracy([0, 1, 1, 0], [0, 1, 0, 0]), 0.75);
    assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
    assert.equal(rocAuc([0, 1], [0.5, 0.5]), 0.5);
    assert.equal(rocAuc([1, 1], [0.2, 0.3]), undefined);
    // class 0: tp 1 fp 0 fn 1 -> F1 2/3; class 1: tp 1 fp 1 fn 0 -> 2/3; class 2: tp 1 -> 1
    assert.ok(Math.abs(macroF1([0, 0, 1, 2], [0, 1, 1, 2], 3) - (2 / 3 + 2 / 3 + 1) / 3) < 1e-12);
    const r = regressionMetrics([1, 2, 3], [1, 2, 5]);
    assert.ok(Math.abs(r.rmse - Math.sqrt(4 / 3)) < 1e-12);
    assert.ok(Math.abs(r.mae - 2 / 3) < 1e-12);
    assert.ok(Math.abs(r.r2 - (1 - 4 / 2)) < 1e-12);
  });
});

describe('trainClassifier', () => {
  const binary = blobs(TWO_CLASSES, 60, 0.5);
  const three = blobs(THREE_CLASSES, 40, 0.6);

  it('logreg separates two well-separated blobs', () => {
    const result = trainClassifier(binary.x, binary.y, 2, { family: 'logreg', iterations: 200 });
    assert.equal(result.evaluation.accuracy, 1);
    assert.equal(result.evaluation.rocAuc, 1);
    assert.equal(result.split.test.length, 24);
    assert.equal(result.l2Search.length, 4, 'L2 chosen from the 4-value grid');
    // Binary logreg keeps the first logit at zero: softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)].
    const layer = result.network.layers[0]!;
    assert.equal(layer.bias[0], 0);
    assert.ok(Array.from({ length: layer.inputs }, (_, i) => layer.weights[i * 2]).every((w) => w === 0));
  });

  it('softmax regression and the MLP separate three blobs (macro F1 reported)', () => {
    for (const family of ['logreg', 'mlp'] as const) {
      const result = trainClassifier(three.x, three.y, 3, { family, l2: 1e-3, iterations: 200, epochs: 15 });
      assert.ok(result.evaluation.accuracy >= 0.95, `${family}: accuracy ${result.evaluation.accuracy}`);
      assert.ok(result.evaluation.macroF1! >= 0.95, `${family}: macro F1 ${result.evaluation.macroF1}`);
      assert.equal(result.evaluation.rocAuc, undefined);
    }
  });

  it('the MLP with tanh learns too and its probabilities sum to 1', () => {
    const result = trainClassifier(binary.x, binary.y, 2, { family: 'mlp', activation: 'tanh', l2: 1e-3, epochs: 15 });
    assert.equal(result.evaluation.accuracy, 1);
    const p = predictProbabilities(result.network, binary.x);
    for (let r = 0; r < p.rows; r++) assert.ok(Math.abs(p.data[r * 2]! + p.data[r * 2 + 1]! - 1) < 1e-12);
    assert.deepEqual(argmaxRows(p).slice(0, 4), binary.y.slice(0, 4));
  });

  it('is deterministic: same data and seed give byte-identical ONNX; another seed changes the MLP', () => {
    const options = { family: 'mlp', l2Grid: [1e-4, 1e-2], epochs: 5 } as const;
    const first = exportNetworkToOnnx(trainClassifier(three.x, three.y, 3, { ...options, seed: 42 }).network);
    const again = exportNetworkToOnnx(trainClassifier(three.x, three.y, 3, { ...options, seed: 42 }).network);
    const other = exportNetworkToOnnx(trainClassifier(three.x, three.y, 3, { ...options, seed: 43 }).network);
    assert.ok(Buffer.from(first).equals(Buffer.from(again)), 'same seed, same bytes');
    assert.ok(!Buffer.from(first).equals(Buffer.from(other)), 'another seed, other bytes');
    const logregA = exportNetworkToOnnx(trainClassifier(binary.x, binary.y, 2, { iterations: 50 }).network);
    const logregB = exportNetworkToOnnx(trainClassifier(binary.x, binary.y, 2, { iterations: 50 }).network);
    assert.ok(Buffer.from(logregA).equals(Buffer.from(logregB)));
  });

  it('rejects labels outside the classes and a single class', () => {
    assert.throws(() => trainClassifier(binary.x, binary.y.map((c) => c * 2), 2), /label of row 1 is 2, expected a class index in \[0, 2\)/);
    assert.throws(() => trainClassifier(binary.x, binary.y, 1), /at least 2 classes/);
  });
});
