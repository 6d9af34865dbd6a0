// The golden-prediction check: on real ONNX sessions (fixture models, the shipped models) and on the
// v1 answers of the real model API, then each failure branch of the pure comparison.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answersFromV1, checkGoldenCases, goldenPredictFromModel, type GoldenAnswer } from '../../../../lambdas/core/release/golden-check';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import { ModelApi } from '../../../../lambdas/core/serving/model-api';
import { modelCardSchema, type ModelCard, type ModelCardInput } from '../../../../lambdas/core/models/model-card';
import { buildSoftmaxOnnx, createFixtureProject, softmaxRegression, type FixtureProject } from '../../../fixtures/model-folder';
import { matmulModel } from '../models/onnx-fixtures';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const features = ['radius', 'texture', 'perimeter', 'area'];
const labels = ['malignant', 'benign'];
/** The fixture graph's default weights, row-major [4 features, 2 classes]. */
const defaultWeights = Array.from({ length: 8 }, (_, i) => (((i * 7) % 11) - 5) / 10);

/** Three golden cases; only the third has a non-zero 'area', so weights changed on 'area' fail only case 2. */
const goldenInputs = [
  [0.1, 0.2, 0.3, 0],
  [-1, 0.5, 2, 0],
  [0.1, 0.2, 0.3, 0.4],
];

function addGoldenCases(card: ModelCardInput): ModelCardInput {
  return {
    ...card,
    golden: goldenInputs.map((input) => {
      const probabilities = softmaxRegression(input, 4, 2);
      return { input, expected: { label: labels[probabilities[1]! > probabilities[0]! ? 1 : 0], probabilities } };
    }),
  };
}

function readCard(dir: string): ModelCard {
  return modelCardSchema.parse(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')));
}

describe('golden check on real ONNX sessions', () => {
  let project: FixtureProject;
  let card: ModelCard;
  const sessions: ServedModel[] = [];
  const load = async (bytes: Uint8Array, which: ModelCard = card) => {
    const model = await ServedModel.fromBytes(which, bytes);
    sessions.push(model);
    return model;
  };

  before(() => {
    project = createFixtureProject({ models: [{ name: 'tumour', version: 2, features, labels, card: addGoldenCases }] });
    card = readCard(join(project.root, 'tumour', '2'));
  });
  after(async () => {
    await Promise.all(sessions.map((s) => s.release()));
    project.cleanup();
  });

  it('passes a version whose ONNX file reproduces its golden cases', async () => {
    const model = await ServedModel.load(join(project.root, 'tumour', '2'));
    sessions.push(model);
    const result = await checkGoldenCases(card, goldenPredictFromModel(model));
    assert.equal(result.passed, true, result.message);
    assert.deepEqual(result.cases.map((c) => c.ok), [true, true, true]);
    assert.ok(result.cases.every((c) => c.maxDifference < 1e-6), 'float32 noise only');
    assert.match(result.message, /^tumour v2 reproduces all 3 golden cases \(largest difference \d\.\d\de-\d+, tolerance 0\.0001\)$/);
  });

  it('fails the same card on an ONNX file with other weights, naming the first case that differs', async () => {
    // Only the weights of 'area' change: cases 0 and 1 have area 0 and still match, case 2 does not.
    const weights = [...defaultWeights];
    weights[6] = weights[6]! + 0.05;
    const model = await load(buildSoftmaxOnnx({ width: 4, classes: 2, weights }));
    const result = await checkGoldenCases(card, goldenPredictFromModel(model));
    assert.equal(result.passed, false);
    assert.deepEqual(result.cases.map((c) => c.ok), [true, true, false]);
    // A 0.05 weight on area 0.4 moves the malignant logit by 0.02: its probability 0.51500 by about 0.005.
    assert.equal(result.message, "tumour v2 fails golden case 2: probability of 'malignant' is 0.51999, expected 0.51500 (tolerance 0.0001)");
    assert.ok(Math.abs(result.cases[2]!.maxDifference - 0.004994) < 1e-5, String(result.cases[2]!.maxDifference));
  });

  it('reports a different label before the probabilities', async () => {
    // The two class columns swapped: every answer's probabilities swap, and every label flips.
    const flipped = defaultWeights.map((_, i) => defaultWeights[i ^ 1]!);
    const model = await load(buildSoftmaxOnnx({ width: 4, classes: 2, weights: flipped, bias: [0.01, 0] }));
    const result = await checkGoldenCases(card, goldenPredictFromModel(model));
    assert.equal(result.passed, false);
    assert.match(result.message, /^tumour v2 fails golden case 0: label 'malignant', expected 'benign' \(and 2 more failing cases\)$/);
  });

  it('checks a regression model by its value', async () => {
    const regression: ModelCard = {
      ...card,
      task: 'regression',
      labels: [],
      output: { scoresTensor: 'value', scoresKind: 'value' },
      golden: [
        { input: [1, 2, 3, 4], expected: { value: 1 * 0.5 + 2 * -1 + 3 * 0.25 + 4 * 2 } },
        { input: [0, 0, 0, 1], expected: { value: 2.001 } },
      ],
    };
    const model = await load(matmulModel([[0.5], [-1], [0.25], [2]], 'value', { inputName: 'input' }), regression);
    const result = await checkGoldenCases(regression, goldenPredictFromModel(model));
    assert.equal(result.passed, false);
    assert.equal(result.cases[0]!.ok, true);
    assert.equal(result.message, 'tumour v2 fails golden case 1: value is 2.00000, expected 2.00100 (tolerance 0.0001)');
  });

  it('gives the same verdict from the v1 answer of the model API as from the session', async () => {
    const model = await ServedModel.load(join(project.root, 'tumour', '2'));
    sessions.push(model);
    const api = new ModelApi(model, { maxBodyBytes: 1 << 20, maxBatchSize: 100 });
    const predict = async (inputs: readonly (readonly number[])[]) => {
      const { response } = await api.handle({ method: 'POST', path: '/v1/models/tumour:predict', contentType: 'application/json', body: JSON.stringify({ instances: inputs }) });
      assert.equal(response.statusCode, 200, response.body);
      return answersFromV1(response.body, card);
    };
    const result = await checkGoldenCases(card, predict);
    assert.equal(result.passed, true, result.message);
  });
});

describe('the shipped models reproduce their own golden cases', () => {
  for (const dir of ['models/breast-cancer/1', 'models/digits/1']) {
    it(dir, async () => {
      const model = await ServedModel.load(join(repoRoot, dir));
      try {
        assert.ok(model.card.golden.length >= 5, 'the card has golden cases to check');
        const result = await checkGoldenCases(model.card, goldenPredictFromModel(model));
        assert.equal(result.passed, true, result.message);
        assert.match(result.message, new RegExp(`^${model.name} v1 reproduces all ${model.card.golden.length} golden cases`));
      } finally {
        await model.release();
      }
    });
  }
});

describe('golden check failures', () => {
  const card: ModelCard = modelCardSchema.parse({
    schemaVersion: 1,
    name: 'breast-cancer',
    version: 2,
    task: 'binary',
    family: 'logreg',
    createdAt: '2025-01-01T00:00:00.000Z',
    onnx: { file: 'model.onnx', sha256: '0'.repeat(64), opset: 13 },
    input: { tensorName: 'input', dtype: 'float32', shape: [-1, 2], features: ['a', 'b'] },
    output: { scoresTensor: 'probabilities', scoresKind: 'probabilities' },
    labels: ['malignant', 'benign'],
    golden: [
      { input: [1, 2], expected: { label: 'benign', probabilities: [0.1, 0.9] } },
      { input: [3, 4], expected: { label: 'malignant', probabilities: [0.8, 0.2] } },
    ],
  });
  const good: GoldenAnswer[] = [
    { label: 'benign', probabilities: [0.10004, 0.89996] },
    { label: 'malignant', probabilities: [0.8, 0.2] },
  ];
  const answering = (answers: readonly GoldenAnswer[]) => async () => answers;

  it('passes answers within the tolerance (1e-4 by default), and sends every input once, in order', async () => {
    const seen: (readonly number[])[][] = [];
    const result = await checkGoldenCases(card, async (inputs) => (seen.push([...inputs]), good));
    assert.equal(result.passed, true, result.message);
    assert.deepEqual(seen, [[[1, 2], [3, 4]]]);
    assert.ok(Math.abs(result.cases[0]!.maxDifference - 4e-5) < 1e-9, String(result.cases[0]!.maxDifference));
  });

  const failures: [string, readonly GoldenAnswer[], RegExp][] = [
    ['a probability beyond the tolerance', [good[0]!, { label: 'malignant', probabilities: [0.79985, 0.20015] }], /^breast-cancer v2 fails golden case 1: probability of 'malignant' is 0\.79985, expected 0\.80000 \(tolerance 0\.0001\)$/],
    ['another label', [{ label: 'malignant', probabilities: [0.1, 0.9] }, good[1]!], /^breast-cancer v2 fails golden case 0: label 'malignant', expected 'benign'$/],
    ['a missing label', [{ probabilities: [0.1, 0.9] }, good[1]!], /golden case 0: label missing, expected 'benign'/],
    ['a missing answer', [good[0]!], /^breast-cancer v2 fails golden case 1: no answer for this case; 1 answers came back for 2 golden cases$/],
    ['too many answers', [...good, good[0]!], /^breast-cancer v2 fails the golden check: 3 answers came back for 2 golden cases$/],
    ['the wrong number of probabilities', [good[0]!, { label: 'malignant', probabilities: [0.8, 0.2, 0] }], /golden case 1: the answer has 3 probabilities, expected 2 \(one per label: malignant, benign\)/],
    ['no probabilities', [{ label: 'benign' }, good[1]!], /golden case 0: the answer has no probabilities/],
    ['a NaN probability', [{ label: 'benign', probabilities: [Number.NaN, 0.9] }, good[1]!], /golden case 0: probability of 'malignant' is NaN, expected 0\.10000/],
  ];
  for (const [what, answers, message] of failures) {
    it(`fails on ${what}`, async () => {
      const result = await checkGoldenCases(card, answering(answers));
      assert.equal(result.passed, false);
      assert.match(result.message, message);
      const failing = result.cases.filter((c) => !c.ok);
      assert.ok(failing.every((c) => c.problem !== undefined), 'a failing case says what is wrong');
    });
  }

  it('counts every failing case, and a case that cannot be compared has an infinite difference', async () => {
    const result = await checkGoldenCases(card, answering([{ label: 'malignant', probabilities: [0.9, 0.1] }]));
    assert.match(result.message, /golden case 0: label 'malignant', expected 'benign' \(and 1 more failing case\)/);
    assert.equal(result.cases[1]!.maxDifference, Number.POSITIVE_INFINITY);
  });

  it('fails every case, with the reason, when predict throws', async () => {
    const result = await checkGoldenCases(card, async () => {
      throw new Error('model breast-cancer v2 failed to run: bad input');
    });
    assert.equal(result.passed, false);
    assert.equal(result.message, 'breast-cancer v2 fails the golden check: predicting the golden cases failed: model breast-cancer v2 failed to run: bad input');
    assert.deepEqual(result.cases.map((c) => c.ok), [false, false]);
  });

  it('does not pass a card with no golden cases, and does not call predict', async () => {
    let called = false;
    const result = await checkGoldenCases({ ...card, golden: [] }, async () => ((called = true), []));
    assert.equal(result.passed, false);
    assert.equal(result.message, 'breast-cancer v2 has no golden cases; a version cannot be checked before it gets traffic');
    assert.equal(called, false);
  });

  it('accepts another label only when the expected probabilities are a tie within the tolerance', async () => {
    const tied: ModelCard = { ...card, golden: [{ input: [1, 2], expected: { label: 'benign', probabilities: [0.49996, 0.50004] } }] };
    const flippedByNoise = await checkGoldenCases(tied, answering([{ label: 'malignant', probabilities: [0.50001, 0.49999] }]));
    assert.equal(flippedByNoise.passed, true, flippedByNoise.message);
    const clear: ModelCard = { ...card, golden: [{ input: [1, 2], expected: { label: 'benign', probabilities: [0.4997, 0.5003] } }] };
    assert.equal((await checkGoldenCases(clear, answering([{ label: 'malignant', probabilities: [0.4997, 0.5003] }]))).passed, false);
  });

  it('fails a card whose case expects nothing, or the wrong number of probabilities', async () => {
    const nothing = await checkGoldenCases({ ...card, golden: [{ input: [1, 2], expected: {} }] }, answering([good[0]!]));
    assert.match(nothing.message, /golden case 0: the model card gives neither an expected label nor expected probabilities/);
    const three = await checkGoldenCases({ ...card, golden: [{ input: [1, 2], expected: { probabilities: [0.1, 0.8, 0.1] } }] }, answering([good[0]!]));
    assert.match(three.message, /golden case 0: the model card expects 3 probabilities, but the model has 2 labels/);
  });

  it('uses the card tolerance, and shows enough decimals for it', async () => {
    const loose: ModelCard = { ...card, goldenTolerance: 0.01 };
    assert.equal((await checkGoldenCases(loose, answering([good[0]!, { label: 'malignant', probabilities: [0.795, 0.205] }]))).passed, true);
    const strict: ModelCard = { ...card, goldenTolerance: 1e-6 };
    const result = await checkGoldenCases(strict, answering(good));
    assert.equal(result.message, "breast-cancer v2 fails golden case 0: probability of 'malignant' is 0.1000400, expected 0.1000000 (tolerance 0.000001)");
  });

  it('fails a regression answer without a value, or with NaN', async () => {
    const regression: ModelCard = { ...card, task: 'regression', labels: [], output: { scoresTensor: 'value', scoresKind: 'value' }, golden: [{ input: [1, 2], expected: { value: 3.5 } }] };
    assert.match((await checkGoldenCases(regression, answering([{}]))).message, /golden case 0: the answer has no value/);
    const nan = await checkGoldenCases(regression, answering([{ value: Number.NaN }]));
    assert.match(nan.message, /golden case 0: value is NaN, expected 3\.50000/);
    assert.equal(nan.cases[0]!.maxDifference, Number.POSITIVE_INFINITY);
    assert.equal((await checkGoldenCases(regression, answering([{ value: 3.50001 }]))).passed, true);
  });
});

describe('answersFromV1', () => {
  const card = modelCardSchema.parse({
    schemaVersion: 1,
    name: 'iris',
    version: 1,
    task: 'multiclass',
    family: 'logreg',
    createdAt: '2025-01-01T00:00:00.000Z',
    onnx: { file: 'model.onnx', sha256: '0'.repeat(64), opset: 13 },
    input: { tensorName: 'input', dtype: 'float32', shape: [-1, 1], features: ['x'] },
    output: { scoresTensor: 'probabilities', scoresKind: 'probabilities' },
    labels: ['setosa', 'versicolor', 'virginica'],
    golden: [],
  });

  it('puts the probabilities in card.labels order, whatever the key order of the answer', () => {
    const body = '{"predictions":[{"label":"virginica","probabilities":{"virginica":0.7,"setosa":0.1,"versicolor":0.2}},{"label":"setosa","probabilities":{"setosa":1,"versicolor":0,"virginica":0}}]}';
    assert.deepEqual(answersFromV1(body, card), [
      { label: 'virginica', probabilities: [0.1, 0.2, 0.7] },
      { label: 'setosa', probabilities: [1, 0, 0] },
    ]);
  });

  it('reads regression values, and a null value (a non-finite result) as NaN', () => {
    const regression: ModelCard = { ...card, task: 'regression', labels: [] };
    assert.deepEqual(answersFromV1('{"predictions":[{"value":1.5},{"value":null}]}', regression), [{ value: 1.5 }, { value: Number.NaN }]);
  });

  const malformed: [string, string, RegExp][] = [
    ['not JSON', '<html>502 Bad Gateway</html>', /^Error: the v1 answer is not JSON: .*; it begins "<html>502 Bad Gateway<\/html>"$/],
    ['an error answer', '{"error":{"code":"invalid_request","message":"x"}}', /must be an object with a 'predictions' array, received an object/],
    ['predictions not an array', '{"predictions":{"label":"setosa"}}', /must be an object with a 'predictions' array, received an object/],
    ['a prediction not an object', '{"predictions":[3]}', /^Error: predictions\[0\] must be an object, received 3$/],
    ['no label', '{"predictions":[{"probabilities":{"setosa":1,"versicolor":0,"virginica":0}}]}', /^Error: predictions\[0\]\.label must be a string, received nothing$/],
    ['probabilities as an array', '{"predictions":[{"label":"setosa","probabilities":[1,0,0]}]}', /^Error: predictions\[0\]\.probabilities must be an object keyed by label, received an array of 3$/],
    ['a missing label key', '{"predictions":[{"label":"setosa","probabilities":{"setosa":1,"versicolor":0}}]}', /^Error: predictions\[0\]\.probabilities\['virginica'\] must be a number, received nothing$/],
    ['an unknown label key', '{"predictions":[{"label":"setosa","probabilities":{"setosa":1,"versicolor":0,"virginica":0,"rose":0}}]}', /^Error: predictions\[0\]\.probabilities has label 'rose', which is not one of setosa, versicolor, virginica$/],
    ['a string probability', '{"predictions":[{"label":"setosa","probabilities":{"setosa":"1","versicolor":0,"virginica":0}}]}', /^Error: predictions\[0\]\.probabilities\['setosa'\] must be a number, received the string '1'$/],
  ];
  for (const [what, body, message] of malformed) {
    it(`throws a clear error for ${what}`, () => {
      assert.throws(() => answersFromV1(body, card), message);
    });
  }

  it('throws for a regression prediction without a number', () => {
    assert.throws(() => answersFromV1('{"predictions":[{"value":"1"}]}', { ...card, task: 'regression', labels: [] }), /^Error: predictions\[0\]\.value must be a number, received the string '1'$/);
  });
});
