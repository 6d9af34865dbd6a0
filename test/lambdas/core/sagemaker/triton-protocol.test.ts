// The Triton JSON the SageMaker proxy sends and reads: the request for the shipped digits model and for
// image-shaped inputs, then Triton's answer read back (softmax for logits, regression, the version that
// answered) and every way an answer can be malformed, each named.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { modelCardSchema, type ModelCard } from '../../../../lambdas/core/models/model-card';
import { parseTritonResponse, tritonInputDims, tritonRequest } from '../../../../lambdas/core/sagemaker/triton-protocol';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const digits = modelCardSchema.parse(JSON.parse(readFileSync(join(repoRoot, 'models', 'digits', '1', 'model.json'), 'utf8')));

function card(overrides: Omit<Partial<ModelCard>, 'input' | 'output'> & { input?: Partial<ModelCard['input']>; output?: Partial<ModelCard['output']> }): ModelCard {
  return { ...digits, ...overrides, input: { ...digits.input, ...overrides.input }, output: { ...digits.output, ...overrides.output } } as ModelCard;
}

const three = card({ labels: ['a', 'b', 'c'], input: { tensorName: 'x', shape: [-1, 2], features: ['f0', 'f1'] }, output: { scoresTensor: 'scores', scoresKind: 'probabilities' } });
const logits = card({ ...three, output: { scoresTensor: 'scores', scoresKind: 'logits' } });
const regression = card({ task: 'regression', labels: [], input: three.input, output: { scoresTensor: 'value', scoresKind: 'value' } });

function answer(outputs: unknown[], extra: Record<string, unknown> = { model_name: 'digits', model_version: '1' }): string {
  return JSON.stringify({ ...extra, outputs });
}

describe('tritonRequest', () => {
  it('sends one FP32 input named like the model input, shaped [count, features], and asks for the scores output', () => {
    const rows = new Float32Array(2 * 64).map((_, i) => i % 17);
    const request = JSON.parse(tritonRequest(digits, rows, 2).body) as { inputs: { name: string; shape: number[]; datatype: string; data: number[] }[]; outputs: { name: string }[] };
    assert.deepEqual(request.inputs.map((i) => [i.name, i.shape, i.datatype]), [['input', [2, 64], 'FP32']]);
    assert.deepEqual(request.inputs[0]!.data, Array.from(rows));
    assert.deepEqual(request.outputs, [{ name: 'probabilities' }]);
  });

  it("keeps the card's own per-instance dims when they hold the features, else [count, F]", () => {
    const image = card({ input: { shape: [-1, 8, 8] } });
    assert.deepEqual(tritonInputDims(image), [8, 8]);
    assert.deepEqual(JSON.parse(tritonRequest(image, new Float32Array(64), 1).body).inputs[0].shape, [1, 8, 8]);
    assert.deepEqual(tritonInputDims(card({ input: { shape: [-1, -1] } })), [64], 'a dynamic dim: [count, F]');
    assert.deepEqual(tritonInputDims(card({ input: { shape: [-1, 4, 4] } })), [64], 'dims that do not hold 64 features: [count, F]');
  });

  it('sends float32 values exactly (they widen to doubles and narrow back to the same float32)', () => {
    const rows = new Float32Array([0.1, -3.4e38, 1e-7, 12345.678]);
    const sent = JSON.parse(tritonRequest(three, rows, 2).body).inputs[0].data as number[];
    assert.deepEqual(new Float32Array(sent), rows);
  });

  it('refuses rows that do not match the count, and values JSON cannot carry', () => {
    assert.throws(() => tritonRequest(three, new Float32Array(3), 2), /3 values is not 2 rows of 2 features/);
    assert.throws(() => tritonRequest(three, new Float32Array([1, Number.NaN]), 1), /value 1 is NaN/);
  });
});

describe('parseTritonResponse', () => {
  it('reads the scores output by name among others, argmax for labels, and the version that answered', () => {
    const text = answer([
      { name: 'label', datatype: 'INT64', shape: [2], data: [1, 0] },
      { name: 'scores', datatype: 'FP32', shape: [2, 3], data: [0.1, 0.7, 0.2, 0.5, 0.25, 0.25] },
    ], { model_name: 'x', model_version: '7' });
    const prediction = parseTritonResponse(three, text, 2);
    assert.equal(prediction.count, 2);
    assert.equal(prediction.width, 3);
    assert.deepEqual(Array.from(prediction.classIndex), [1, 0]);
    assert.deepEqual(prediction.scores, new Float32Array([0.1, 0.7, 0.2, 0.5, 0.25, 0.25]));
    assert.equal(prediction.servedVersion, '7');
  });

  it('applies softmax to logits', () => {
    const prediction = parseTritonResponse(logits, answer([{ name: 'scores', datatype: 'FP32', shape: [1, 3], data: [0, Math.log(2), Math.log(5)] }]), 1);
    [0.125, 0.25, 0.625].forEach((p, j) => assert.ok(Math.abs(prediction.scores[j]! - p) < 1e-6, `${prediction.scores[j]} ~ ${p}`));
    assert.deepEqual(Array.from(prediction.classIndex), [2]);
  });

  it('reads a regression value as [N] or [N, 1], with no labels', () => {
    for (const shape of [[2], [2, 1]]) {
      const prediction = parseTritonResponse(regression, answer([{ name: 'value', datatype: 'FP32', shape, data: [1.5, -2] }]), 2);
      assert.deepEqual([prediction.width, Array.from(prediction.scores), prediction.classIndex.length], [1, [1.5, -2], 0]);
    }
  });

  it('has no servedVersion when Triton names none, and takes a numeric one as text', () => {
    const scores = { name: 'scores', datatype: 'FP32', shape: [1, 3], data: [0.2, 0.3, 0.5] };
    assert.equal(parseTritonResponse(three, answer([scores], {}), 1).servedVersion, undefined);
    assert.equal(parseTritonResponse(three, answer([scores], { model_version: 3 }), 1).servedVersion, '3');
  });

  const malformed: [string, string, RegExp][] = [
    ['not JSON', '<html>502 Bad Gateway</html>', /not JSON.*<html>502/],
    ['not an object', '[1,2]', /must be a JSON object with 'outputs', received an array of 2/],
    ["Triton's error answer", JSON.stringify({ error: 'model is not ready' }), /the answer is an error: model is not ready/],
    ['no outputs', JSON.stringify({ model_name: 'x' }), /'outputs' must be an array, received nothing/],
    ['the scores output missing', answer([{ name: 'label', datatype: 'INT64', shape: [1], data: [0] }]), /no output 'scores' \(it has 'label'\)/],
    ['a wrong datatype', answer([{ name: 'scores', datatype: 'FP64', shape: [1, 3], data: [0, 0, 1] }]), /outputs\[0\] \('scores'\)\.datatype must be FP32, received the string "FP64"/],
    ['a shape that is not one', answer([{ name: 'scores', datatype: 'FP32', shape: '1x3', data: [0, 0, 1] }]), /shape must be an array of non-negative integers/],
    ['another row count', answer([{ name: 'scores', datatype: 'FP32', shape: [2, 3], data: [0, 0, 1, 0, 0, 1] }]), /shape \[2,3\] has 2 rows, the request had 1/],
    ['another number of classes', answer([{ name: 'scores', datatype: 'FP32', shape: [1, 2], data: [0, 1] }]), /2 values per row, model.json expects 3 \(one per label\)/],
    ['data that does not fill the shape', answer([{ name: 'scores', datatype: 'FP32', shape: [1, 3], data: [0, 1] }]), /data has 2 values, its shape \[1,3\] says 3/],
    ['a value that is not a number', answer([{ name: 'scores', datatype: 'FP32', shape: [1, 3], data: [0, null, 1] }]), /data\[1\] must be a number, received null/],
    ['nested data', answer([{ name: 'scores', datatype: 'FP32', shape: [1, 3], data: [[0, 0, 1]] }]), /data has 1 values/],
  ];
  for (const [what, text, message] of malformed) {
    it(`names what is wrong: ${what}`, () => {
      assert.throws(() => parseTritonResponse(three, text, 1), message);
    });
  }

  it('names the expected width of a regression answer', () => {
    assert.throws(() => parseTritonResponse(regression, answer([{ name: 'value', datatype: 'FP32', shape: [1, 2], data: [1, 2] }]), 1), /expects 1 \(a regression value\)/);
  });
});
