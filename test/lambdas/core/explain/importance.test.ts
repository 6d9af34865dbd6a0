// Permutation importance against scikit-learn (test/fixtures/permutation-importance.json, written by
// scripts/reference/permutation-importance.py): the same rows and the SAME shuffles on both sides, since
// sklearn.inspection.permutation_importance draws its own from numpy's RNG; the script checks its figures
// with permutation_importance itself fed these shuffles. The classifiers run as ONNX graphs in the serving
// onnxruntime session (ServedModel); the regression through a float32 linear scorer.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  importanceCardEntry,
  importanceFromPermutations,
  importancePermutations,
  permutationImportance,
  type BatchPredict,
  type HeldOutRows,
  type ImportanceMetric,
} from '../../../../lambdas/core/explain/importance';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import { modelCardSchema } from '../../../../lambdas/core/models/model-card';
import { buildModelCard, buildSoftmaxOnnx } from '../../../fixtures/model-folder';

interface MetricFigures {
  baseline: number;
  /** [feature][repeat], scikit-learn's layout. */
  importances: number[][];
  mean: number[];
  std: number[];
}
interface FixtureCase {
  name: string;
  task: 'binary' | 'multiclass' | 'regression';
  classes?: number;
  ignoredFeature: number;
  x: number[][];
  y: number[];
  weights?: number[];
  bias?: number[];
  coef?: number[];
  intercept?: number;
  permutations: number[][][];
  metrics: Record<string, MetricFigures>;
}

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '../../../fixtures/permutation-importance.json'), 'utf8')) as { cases: FixtureCase[] };
const sessions: ServedModel[] = [];
after(async () => {
  for (const s of sessions) await s.release();
});

/** A real onnxruntime session of the case's softmax regression, with a count of its runs. */
async function classifier(c: FixtureCase): Promise<{ predict: BatchPredict; runs: () => number }> {
  const width = c.x[0]!.length;
  const classes = c.classes!;
  const bytes = buildSoftmaxOnnx({ width, classes, weights: c.weights!, bias: c.bias! });
  const card = modelCardSchema.parse(
    buildModelCard({ name: 'reference', features: Array.from({ length: width }, (_, j) => `x${j}`), labels: Array.from({ length: classes }, (_, k) => `c${k}`) }, bytes),
  );
  const model = await ServedModel.fromBytes(card, bytes);
  sessions.push(model);
  let runs = 0;
  return {
    predict: (rows, count) => {
      runs++;
      return model.predict(rows, count);
    },
    runs: () => runs,
  };
}

/** The case's linear regression in float64 on the float32 inputs, its values rounded to float32 as a session's would be. */
function regressor(c: FixtureCase): BatchPredict {
  const coef = c.coef!;
  return async (rows, count) => {
    const scores = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      let value = c.intercept!;
      for (let j = 0; j < coef.length; j++) value += rows[i * coef.length + j]! * coef[j]!;
      scores[i] = value;
    }
    return { count, scores, width: 1, classIndex: new Int32Array(0) };
  };
}

function heldOut(c: FixtureCase): HeldOutRows {
  const featureCount = c.x[0]!.length;
  return {
    rows: Float32Array.from(c.x.flat()),
    count: c.x.length,
    featureCount,
    truth: c.task === 'regression' ? { kind: 'values', values: c.y } : { kind: 'classes', classIndex: c.y, classCount: c.classes! },
  };
}

const permutationsOf = (c: FixtureCase): Int32Array[][] => c.permutations.map((perRepeat) => perRepeat.map((p) => Int32Array.from(p)));

describe('permutation importance equals scikit-learn on the same shuffles', () => {
  for (const c of fixture.cases) {
    for (const [metric, expected] of Object.entries(c.metrics)) {
      it(`${c.name}, ${metric}`, async () => {
        const predict = c.task === 'regression' ? regressor(c) : (await classifier(c)).predict;
        const result = await importanceFromPermutations(predict, heldOut(c), metric as ImportanceMetric, permutationsOf(c));
        // Accuracy, macro F1 and ROC AUC count rows or ranks (exact); log-loss, R2 and MAE read probabilities or
        // values that pass through float32, as a session's do (scikit-learn's side is float64).
        const tolerance = ['logLoss', 'r2', 'mae'].includes(metric) ? 1e-5 : 1e-12;
        const close = (actual: number, wanted: number, what: string): void => assert.ok(Math.abs(actual - wanted) <= tolerance * Math.max(1, Math.abs(wanted)), `${what}: ${actual} vs scikit-learn ${wanted}`);
        close(result.baseline, expected.baseline, 'baseline');
        const featureCount = c.x[0]!.length;
        expected.importances.forEach((perRepeat, j) => perRepeat.forEach((drop, r) => close(result.drops[r * featureCount + j]!, drop, `drop of feature ${j}, repeat ${r}`)));
        expected.mean.forEach((m, j) => close(result.mean[j]!, m, `mean of feature ${j}`));
        expected.std.forEach((s, j) => close(result.std[j]!, s, `std of feature ${j}`));
      });
    }
  }
});

describe('permutationImportance', () => {
  const three = fixture.cases.find((c) => c.task === 'multiclass')!;

  it('gives a feature the model ignores (zero weights) exactly zero importance, and the used ones more', async () => {
    const { predict } = await classifier(three);
    const result = await permutationImportance(predict, heldOut(three), 'multiclass', { repeats: 5, seed: 3 });
    assert.equal(result.metric, 'logLoss');
    assert.equal(result.mean[three.ignoredFeature], 0);
    assert.equal(result.std[three.ignoredFeature], 0);
    assert.ok(result.mean[0]! > 0.1, `feature 0: ${result.mean[0]}`);
    const accuracy = await permutationImportance(predict, heldOut(three), 'multiclass', { metric: 'accuracy', repeats: 5, seed: 3 });
    assert.equal(accuracy.mean[three.ignoredFeature], 0);
    assert.ok(accuracy.mean[0]! > 0.05, `feature 0: ${accuracy.mean[0]}`);
    const regression = fixture.cases.find((c) => c.task === 'regression')!;
    const r2 = await permutationImportance(regressor(regression), heldOut(regression), 'regression');
    assert.equal(r2.metric, 'r2');
    assert.equal(r2.mean[regression.ignoredFeature], 0);
    assert.ok(r2.mean[1]! > 1);
  });

  it('scores all permuted copies of a repeat in one session run, and gives the same figures in smaller runs', async () => {
    const { predict, runs } = await classifier(three);
    const whole = await permutationImportance(predict, heldOut(three), 'multiclass', { repeats: 3, seed: 9 });
    assert.equal(runs(), 1 + 3, 'one run for the baseline, one per repeat');
    const width = three.x[0]!.length;
    const split = await permutationImportance(predict, heldOut(three), 'multiclass', { repeats: 3, seed: 9, maxValuesPerRun: 2 * three.x.length * width });
    assert.equal(runs(), 4 + 1 + 3 * Math.ceil(width / 2));
    assert.deepEqual(split, whole);
  });

  it('is seeded: the same seed gives the same shuffles, another seed others', () => {
    const a = importancePermutations(20, 3, 2, 5);
    assert.deepEqual(importancePermutations(20, 3, 2, 5), a);
    assert.notDeepEqual(importancePermutations(20, 3, 2, 6), a);
    for (const p of a.flat()) assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
    assert.notDeepEqual(a[0]![0], a[0]![1]);
  });

  it('names a metric that does not fit the task, and rows that do not fit', async () => {
    const { predict } = await classifier(three);
    await assert.rejects(permutationImportance(predict, heldOut(three), 'multiclass', { metric: 'rocAuc' }), /'rocAuc' is for binary classifiers; this model has 3 classes/);
    await assert.rejects(permutationImportance(predict, heldOut(three), 'multiclass', { metric: 'r2' }), /'r2' is for regression/);
    await assert.rejects(permutationImportance(predict, { ...heldOut(three), count: 7 }, 'multiclass'), /rows must hold count x featureCount = 7 x 5 values/);
    await assert.rejects(permutationImportance(predict, heldOut(three), 'multiclass', { repeats: 0 }), /repeats must be a positive integer, received 0/);
  });

  it('makes the card entry in the card feature order', async () => {
    const { predict } = await classifier(three);
    const result = await permutationImportance(predict, heldOut(three), 'multiclass', { repeats: 2, seed: 1 });
    const entry = importanceCardEntry(result, ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(
      entry.features.map((f) => f.name),
      ['a', 'b', 'c', 'd', 'e'],
    );
    assert.deepEqual({ ...entry, features: undefined }, { metric: 'logLoss', repeats: 2, rows: 60, seed: 1, baseline: result.baseline, features: undefined });
    assert.equal(entry.features[1]!.mean, result.mean[1]);
    assert.throws(() => importanceCardEntry(result, ['a']), /1 feature names for 5 importances/);
  });
});
