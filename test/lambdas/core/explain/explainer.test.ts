import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { readCsvFile, toNumericTable } from '../../../../lambdas/core/common/csv';
import { sampleBackground } from '../../../../lambdas/core/explain/background';
import { Explainer, explanationJson, MAX_ROWS_PER_RUN, topAttributions, type ExplainPredict } from '../../../../lambdas/core/explain/explainer';
import { exactShapley, type BatchScorer } from '../../../../lambdas/core/explain/shapley';
import { ServedModel, type BatchPrediction } from '../../../../lambdas/core/models/inference-session';
import { modelCardSchema, type ModelCard } from '../../../../lambdas/core/models/model-card';
import { buildTrainedArtifact } from '../../../../lambdas/core/models/onboard-train';
import { matrixFromRows } from '../../../../lambdas/core/models/training/matrix';

const { onnx } = onnxProto;
const root = join(import.meta.dirname, '..', '..', '..', '..');

/** Breast-cancer rows (raw features, float32, row-major) with their class index. */
function breastCancer(): { x: Float32Array; rows: number; features: string[]; classIndex: number[] } {
  const table = toNumericTable(readCsvFile(join(root, 'models', 'breast-cancer', 'data', 'breast_cancer.csv')), 'diagnosis');
  const labels = [...new Set(table.labels!)].sort();
  return { x: Float32Array.from(table.x.data), rows: table.x.rows, features: [...table.features], classIndex: table.labels!.map((l) => labels.indexOf(l)) };
}

/** The first `p` columns of row-major rows `width` wide. */
function columns(x: Float32Array, rows: number, width: number, p: number): Float32Array {
  const out = new Float32Array(rows * p);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * width, r * width + p), r * p);
  return out;
}

/** A built-in model trained with the project's trainer on the first `p` breast-cancer features: real ONNX bytes and card. */
async function smallModel(family: 'logreg' | 'mlp', p: number): Promise<{ card: ModelCard; bytes: Uint8Array; model: ServedModel; data: Float32Array; rows: number }> {
  const all = breastCancer();
  const data = columns(all.x, all.rows, all.features.length, p);
  const x = matrixFromRows(Array.from({ length: all.rows }, (_, r) => Array.from(data.subarray(r * p, (r + 1) * p))));
  const artifact = await buildTrainedArtifact({
    name: `small-${family}`,
    version: 1,
    family,
    data: { x, features: all.features.slice(0, p), labelColumn: 'target' },
    classes: { labels: ['0', '1'], classIndex: all.classIndex },
    trainingData: { file: 'breast_cancer.csv', sha256: '0'.repeat(64), rows: all.rows },
    epochs: 20,
    hidden: 8,
    activation: 'tanh',
    l2: 1e-3,
  });
  const card = modelCardSchema.parse(artifact.card);
  return { card, bytes: artifact.onnxBytes, model: await ServedModel.fromBytes(card, artifact.onnxBytes), data, rows: all.rows };
}

/** The graph's logits (the Softmax input) as its output: the space linear SHAP explains, computed by onnxruntime. */
async function logitSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const softmax = graph.node!.find((n) => n.opType === 'Softmax')!;
  const logits = softmax.input![0]!;
  graph.node = graph.node!.filter((n) => n.opType !== 'Softmax' && n.opType !== 'ArgMax');
  graph.output = [{ name: logits, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 2 }] } } } }];
  return ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { intraOpNumThreads: 1, logSeverityLevel: 3 });
}

/** A predict function counting calls and rows. */
function counting(predict: ExplainPredict): ExplainPredict & { calls: number; rows: number; largest: number } {
  const wrapped = Object.assign(
    async (rows: Float32Array, count: number): Promise<BatchPrediction> => {
      wrapped.calls++;
      wrapped.rows += count;
      wrapped.largest = Math.max(wrapped.largest, count);
      return predict(rows, count);
    },
    { calls: 0, rows: 0, largest: 0 },
  );
  return wrapped;
}

/** The served model's column `column` as a batch scorer (the space permutation SHAP explains). */
function columnScorer(model: ServedModel, column: number): BatchScorer {
  return async (rows, count) => {
    const prediction = await model.predict(rows, count);
    return Float64Array.from({ length: count }, (_, r) => prediction.scores[r * prediction.width + column]!);
  };
}

describe('Explainer, linear: the built-in logistic regression', () => {
  it('equals brute-force exact Shapley of the logit onnxruntime computes (6 features) within 1e-4, with no model run', async () => {
    const p = 6;
    const { card, bytes, model, data, rows } = await smallModel('logreg', p);
    const background = sampleBackground(data, rows, p, 7, 40);
    const predict = counting((r, c) => model.predict(r, c));
    const explainer = Explainer.create({ card, background, predict, onnx: bytes });
    assert.equal(explainer.method, 'linear');
    const session = await logitSession(bytes);
    const explained = [3, 50, 200, 400];
    const x = new Float32Array(explained.length * p);
    explained.forEach((r, k) => x.set(data.subarray(r * p, (r + 1) * p), k * p));
    const answers = await explainer.explain(x, explained.length);
    assert.equal(predict.calls, 0, 'linear SHAP runs the model zero times');
    const served = await model.predict(x, explained.length);
    let classesSeen = new Set<number>();
    for (let k = 0; k < explained.length; k++) {
      const e = answers[k]!;
      assert.equal(e.classIndex, served.classIndex[k], 'the predicted class is explained');
      classesSeen = classesSeen.add(e.classIndex!);
      const other = 1 - e.classIndex!;
      const logOdds: BatchScorer = async (r, c) => {
        const out = await session.run({ input: new ort.Tensor('float32', r, [c, p]) });
        const z = Object.values(out)[0]!.data as Float32Array;
        return Float64Array.from({ length: c }, (_, i) => z[i * 2 + e.classIndex!]! - z[i * 2 + other]!);
      };
      const exact = await exactShapley(logOdds, x.subarray(k * p, (k + 1) * p), background);
      for (let i = 0; i < p; i++) assert.ok(Math.abs(e.attributions[i]! - exact.attributions[i]!) < 1e-4, `row ${k} feature ${i}: ${e.attributions[i]} vs exact ${exact.attributions[i]}`);
      assert.ok(Math.abs(e.baseValue - exact.baseValue) < 1e-4, `base ${e.baseValue} vs ${exact.baseValue}`);
      assert.ok(Math.abs(e.prediction - exact.prediction) < 1e-4, `prediction ${e.prediction} vs ${exact.prediction}`);
      assert.ok(e.additivityError < 1e-9);
      assert.equal(e.output, 'logit');
      assert.equal(e.complete, true);
      assert.equal(e.standardError, undefined);
      assert.ok(Math.max(...e.attributions.map(Math.abs)) > 0.05, 'attributions of the logit size, not a degenerate case');
    }
    assert.equal(classesSeen.size, 2, 'rows of both classes explained');
    await session.release();
    await model.release();
  });

  it('explains models/breast-cancer/1 (30 features): base value + attributions = the log-odds of the served probabilities', async () => {
    const dir = join(root, 'models', 'breast-cancer', '1');
    const model = await ServedModel.load(dir);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(join(dir, 'model.onnx'));
    const all = breastCancer();
    const background = sampleBackground(all.x, all.rows, 30, 1, 100);
    const predict = counting((r, c) => model.predict(r, c));
    const explainer = Explainer.create({ card: model.card, background, predict, onnx: bytes });
    assert.equal(explainer.method, 'linear');
    const x = all.x.subarray(10 * 30, 18 * 30);
    const answers = await explainer.explain(x, 8);
    assert.equal(predict.calls, 0);
    const served = await model.predict(x, 8);
    answers.forEach((e, k) => {
      assert.equal(e.classIndex, served.classIndex[k]);
      const pk = served.scores[k * 2 + e.classIndex!]!;
      const logOdds = Math.log(pk / served.scores[k * 2 + 1 - e.classIndex!]!);
      // float32 probabilities: their log-odds carry a relative error of about 1e-7 / (1 - p).
      const tolerance = 1e-4 + 2e-7 / (1 - pk);
      assert.ok(Math.abs(e.prediction - logOdds) < tolerance, `row ${k}: ${e.prediction} vs log-odds ${logOdds}`);
      const sum = e.baseValue + e.attributions.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - e.prediction) <= e.additivityError + 1e-12);
      assert.ok(e.additivityError < 1e-9);
      assert.match(e.method, /^linear-shap: log-odds of the predicted class$/);
    });
    const json = explanationJson(answers[0]!, model.card);
    assert.deepEqual(Object.keys(json.attributions), model.card.input.features);
    assert.equal(json.standardError, undefined);
    assert.equal(json.label, model.card.labels[answers[0]!.classIndex!]);
    const top = topAttributions(answers[0]!, model.card, 3);
    assert.equal(top.length, 3);
    assert.ok(Math.abs(top[0]!.attribution) >= Math.abs(top[1]!.attribution) && Math.abs(top[1]!.attribution) >= Math.abs(top[2]!.attribution));
    const largest = Math.max(...answers[0]!.attributions.map(Math.abs));
    assert.equal(Math.abs(top[0]!.attribution), largest);
    await model.release();
  });
});

describe('Explainer, permutation: MLPs', () => {
  it('a small MLP (6 features): every attribution lies within 3 standard errors of brute-force exact Shapley of the probability', async () => {
    const p = 6;
    const { card, bytes, model, data, rows } = await smallModel('mlp', p);
    const background = sampleBackground(data, rows, p, 3, 20);
    const explainer = Explainer.create({ card, background, predict: (r, c) => model.predict(r, c), onnx: bytes });
    assert.equal(explainer.method, 'permutation', 'an MLP is not linear: permutation SHAP');
    const explained = [5, 120, 333];
    const x = new Float32Array(explained.length * p);
    explained.forEach((r, k) => x.set(data.subarray(r * p, (r + 1) * p), k * p));
    // 100 antithetic pairs: 2 * (p - 1) * 20 rows each.
    const answers = await explainer.explain(x, explained.length, { maxEvaluations: 21 + 100 * 2 * (p - 1) * 20 });
    const served = await model.predict(x, explained.length);
    let checked = 0;
    for (let k = 0; k < explained.length; k++) {
      const e = answers[k]!;
      assert.equal(e.output, 'probability');
      assert.equal(e.classIndex, served.classIndex[k]);
      assert.ok(Math.abs(e.prediction - served.scores[k * 2 + e.classIndex!]!) < 1e-6, 'prediction = the probability of the predicted class');
      assert.ok(e.standardError, 'standard errors');
      assert.equal(e.complete, true);
      const exact = await exactShapley(columnScorer(model, e.classIndex!), x.subarray(k * p, (k + 1) * p), background);
      assert.ok(Math.abs(e.baseValue - exact.baseValue) < 1e-6);
      for (let i = 0; i < p; i++) {
        const se = e.standardError[i]!;
        assert.ok(Math.abs(e.attributions[i]! - exact.attributions[i]!) <= 3 * se + 1e-7, `row ${k} feature ${i}: ${e.attributions[i]} vs exact ${exact.attributions[i]} (se ${se})`);
        if (se > 0) checked++;
      }
      assert.ok(e.additivityError < 1e-6, `additivity ${e.additivityError}`);
      assert.ok(Math.abs(e.baseValue + e.attributions.reduce((a, b) => a + b, 0) - e.prediction) <= e.additivityError + 1e-12);
    }
    assert.ok(checked >= 12, `the standard errors are not all zero (${checked} checked with se > 0)`);
    await model.release();
  });

  it('models/digits/1 (64 features): the masked rows of a round of every row scored together, in runs of MAX_ROWS_PER_RUN; the same answers as one row at a time', async () => {
    const model = await ServedModel.load(join(root, 'models', 'digits', '1'));
    const table = toNumericTable(readCsvFile(join(root, 'models', 'digits', 'data', 'digits.csv.gz')), 'digit');
    const all = Float32Array.from(table.x.data);
    const p = 64;
    const background = sampleBackground(all, table.x.rows, p, 5, 20);
    const predict = counting((r, c) => model.predict(r, c));
    const explainer = Explainer.create({ card: model.card, background, predict });
    assert.equal(explainer.method, 'permutation');
    const x = all.slice(100 * p, 103 * p);
    const budget = { maxEvaluations: 21 + 6 * 2 * (p - 1) * 20 };
    const together = await explainer.explain(x, 3, budget);
    // 6 pairs each fit one round (MAX_ROWS_PER_ROUND): one call for the classes, then the round's 45,423 rows in full runs.
    const roundRows = 3 * (21 + 6 * 2 * (p - 1) * 20);
    assert.equal(predict.rows, 3 + roundRows, 'every row scored once: the classes, then the budget');
    assert.equal(predict.calls, 1 + Math.ceil(roundRows / MAX_ROWS_PER_RUN), `${predict.calls} predict calls for 3 rows`);
    assert.equal(predict.largest, MAX_ROWS_PER_RUN, 'runs as large as allowed, no larger');
    const served = await model.predict(x, 3);
    for (let k = 0; k < 3; k++) {
      const e = together[k]!;
      const alone = (await explainer.explain(x.slice(k * p, (k + 1) * p), 1, budget))[0]!;
      assert.equal(e.classIndex, served.classIndex[k]);
      assert.ok(e.standardError && e.standardError.some((s) => s > 0));
      assert.ok(e.additivityError < 1e-6);
      for (let i = 0; i < p; i++) assert.ok(Math.abs(e.attributions[i]! - alone.attributions[i]!) < 1e-6, 'a row draws the same permutations in any request');
      const json = explanationJson(e, model.card);
      assert.equal(Object.keys(json.standardError!).length, p);
      assert.equal(json.output, 'probability');
      assert.match(json.method, /^permutation-shap: probability of the predicted class$/);
    }
    await model.release();
  });

  it('keeps the deadline under a slow model: rounds stop, complete=false, standard errors present, additivity holds', async () => {
    const p = 6;
    const { card, model, data, rows } = await smallModel('mlp', p);
    const background = sampleBackground(data, rows, p, 3, 20);
    let clock = 1_000;
    const started: number[] = [];
    // Each predict call takes 100 ms on the fake clock.
    const slow: ExplainPredict = async (r, c) => {
      started.push(clock);
      const out = await model.predict(r, c);
      clock += 100;
      return out;
    };
    const explainer = Explainer.create({ card, background, predict: slow });
    // The classes call takes 1000-1100; a round (2 rows x 655 pairs, 262,042 rows) is 8 runs of MAX_ROWS_PER_RUN,
    // 800 ms: the first 1100-1900, the second 1900-2700; a third would end at 3500, past the deadline, so it never starts.
    const deadline = 2_750;
    const answers = await explainer.explain(data.subarray(0, 2 * p), 2, { deadline, now: () => clock, maxEvaluations: 1e9 });
    assert.equal(started.length, 1 + 2 * 8, `calls started at ${started.join(', ')}`);
    assert.ok(started.every((t) => t < deadline));
    assert.equal(clock, 2_700, 'the last round ended before the deadline');
    for (const e of answers) {
      assert.equal(e.complete, false);
      assert.ok(e.standardError && e.standardError.length === p);
      assert.ok(e.additivityError < 1e-6);
    }
    const json = explanationJson(answers[0]!, card);
    assert.equal(json.complete, false);
    assert.ok(json.standardError);
    await model.release();
  });

  it('refuses rows that are not whole rows of the features, and a background of the wrong width', async () => {
    const p = 6;
    const { card, model, data } = await smallModel('logreg', p);
    assert.throws(() => Explainer.create({ card, background: data.subarray(0, 7), predict: (r, c) => model.predict(r, c) }), /not a whole number of rows of the model's 6 features/);
    const explainer = Explainer.create({ card, background: data.subarray(0, 60), predict: (r, c) => model.predict(r, c) });
    await assert.rejects(explainer.explain(data.subarray(0, 10), 2), /10 values are not 2 rows of the model's 6 features/);
    assert.deepEqual(await explainer.explain(new Float32Array(0), 0), []);
    await model.release();
  });
});
