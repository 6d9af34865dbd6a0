import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeV1, decodeV2, encodeV1, encodeV2, InputLayout, modelMetadata } from '../../../../lambdas/core/serving/codecs';
import { BadRequestError } from '../../../../lambdas/core/serving/errors';
import { modelCardSchema, type ModelCard } from '../../../../lambdas/core/models/model-card';
import { buildModelCard, buildSoftmaxOnnx } from '../../../fixtures/model-folder';

const features = ['radius', 'texture', 'perimeter'];
const card: ModelCard = modelCardSchema.parse(buildModelCard({ name: 'tumour', features, labels: ['malignant', 'benign'] }, buildSoftmaxOnnx({ width: 3, classes: 2 })));
const layout = new InputLayout(card);
const pixels = Array.from({ length: 6 }, (_, i) => `px${i}`);
const imageCard: ModelCard = modelCardSchema.parse({
  ...buildModelCard({ name: 'glyphs', features: pixels, labels: ['a', 'b', 'c'] }, buildSoftmaxOnnx({ width: 6, classes: 3 })),
  input: { tensorName: 'input', dtype: 'float32', shape: [-1, 6], features: pixels, image: { height: 2, width: 3 } },
});
const imageLayout = new InputLayout(imageCard);
const limits = { maxBatchSize: 3 };

function rejects(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BadRequestError, `expected a BadRequestError, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

describe('decodeV1', () => {
  it('reads arrays and objects keyed by feature name into one row-major batch', () => {
    const { rows, count } = decodeV1({ instances: [[1, 2, 3], { perimeter: 6, radius: 4, texture: 5 }] }, layout, limits);
    assert.equal(count, 2);
    assert.deepEqual(Array.from(rows), [1, 2, 3, 4, 5, 6]);
  });

  it('reads an image instance as rows of pixels or as a flat array', () => {
    const { rows } = decodeV1({ instances: [[[1, 2, 3], [4, 5, 6]], [6, 5, 4, 3, 2, 1]] }, imageLayout, limits);
    assert.deepEqual(Array.from(rows), [1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1]);
  });

  it('names the field at fault', () => {
    rejects(() => decodeV1([1, 2], layout, limits), /request body must be a JSON object with an 'instances' array, received an array of 2/);
    rejects(() => decodeV1({ rows: [] }, layout, limits), /instances must be an array of instances, received nothing/);
    rejects(() => decodeV1({ instances: [] }, layout, limits), /instances must not be empty/);
    rejects(() => decodeV1({ instances: [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]] }, layout, limits), /instances has 4 instances, more than the limit of 3/);
    rejects(() => decodeV1({ instances: [[1, 2, 3], [1, 2]] }, layout, limits), /instances\[1\] must have 3 feature values, received 2/);
    rejects(() => decodeV1({ instances: [[1, 'x', 3]] }, layout, limits), /instances\[0\]\[1\] \(texture\) must be a number, received the string 'x'/);
    rejects(() => decodeV1({ instances: [[1, null, 3]] }, layout, limits), /instances\[0\]\[1\] \(texture\) must be a number, received null/);
    rejects(() => decodeV1({ instances: [[1, 1e39, 3]] }, layout, limits), /instances\[0\]\[1\] \(texture\) must be a finite number within float32 range/);
    rejects(() => decodeV1({ instances: [{ radius: 1, texture: 2 }] }, layout, limits), /instances\[0\] is missing feature 'perimeter'/);
    rejects(() => decodeV1({ instances: [{ radius: 1, texture: 2, perimeter: 3, colour: 4 }] }, layout, limits), /instances\[0\] has unknown feature 'colour'/);
    rejects(() => decodeV1({ instances: [{ radius: 1, texture: '2', perimeter: 3 }] }, layout, limits), /instances\[0\]\['texture'\] must be a number, received the string '2'/);
    rejects(() => decodeV1({ instances: [42] }, layout, limits), /instances\[0\] must be an array of 3 feature values or an object keyed by feature name, received 42/);
    rejects(() => decodeV1({ instances: [[[1, 2, 3], [4, 5]]] }, imageLayout, limits), /instances\[0\]\[1\] must be an array of 3 pixel values, received an array of 2/);
  });

  it('does not treat inherited object keys as features', () => {
    rejects(() => decodeV1(JSON.parse('{"instances":[{"__proto__":1,"radius":1,"texture":2,"perimeter":3}]}'), layout, limits), /unknown feature '__proto__'/);
  });
});

describe('decodeV2', () => {
  const tensor = (data: unknown, shape: unknown = [2, 3], extra: object = {}) => ({ inputs: [{ name: 'input', shape, datatype: 'FP32', data, ...extra }] });

  it('reads one tensor, flat or nested, and echoes the request id', () => {
    assert.deepEqual(Array.from(decodeV2(tensor([1, 2, 3, 4, 5, 6]), layout, limits).rows), [1, 2, 3, 4, 5, 6]);
    const nested = decodeV2({ id: 'req-1', ...tensor([[1, 2, 3], [4, 5, 6]]) }, layout, limits);
    assert.deepEqual(Array.from(nested.rows), [1, 2, 3, 4, 5, 6]);
    assert.equal(nested.id, 'req-1');
  });

  it('reads an image tensor shaped [batch, height, width]', () => {
    const { rows, count } = decodeV2({ inputs: [{ name: 'input', shape: [1, 2, 3], datatype: 'FP32', data: [[1, 2, 3], [4, 5, 6]] }] }, imageLayout, limits);
    assert.equal(count, 1);
    assert.deepEqual(Array.from(rows), [1, 2, 3, 4, 5, 6]);
  });

  it('reads one input per feature into rows', () => {
    const body = { inputs: features.map((name, f) => ({ name, shape: [2], datatype: 'FP64', data: [f, f + 10] })).reverse() };
    assert.deepEqual(Array.from(decodeV2(body, layout, limits).rows), [0, 1, 2, 10, 11, 12]);
  });

  it('names the field at fault', () => {
    rejects(() => decodeV2({}, layout, limits), /inputs must be a non-empty array of input tensors, received nothing/);
    rejects(() => decodeV2(tensor([1, 2, 3, 4, 5, 6], [2, 3], { datatype: 'BYTES' }), layout, limits), /inputs\[0\]\.datatype must be a numeric type such as FP32, received the string 'BYTES'/);
    rejects(() => decodeV2(tensor([1, 2, 3, 4, 5, 6], [2, 4]), layout, limits), /inputs\[0\]\.shape must be \[batch, 3\], received \[2,4\]/);
    rejects(() => decodeV2(tensor([1, 2, 3, 4, 5]), layout, limits), /inputs\[0\]\.data has 5 values, its shape says 6/);
    rejects(() => decodeV2(tensor([[1, 2, 3], [4, 5, 'six']]), layout, limits), /inputs\[0\]\.data\[1\]\[2\] must be a number, received the string 'six'/);
    rejects(() => decodeV2(tensor([1, 2, 3], [1, 3], { name: 'x' }), layout, limits), /inputs\[0\]\.name must be 'input' \(the model's input\) or a feature name, received 'x'/);
    rejects(() => decodeV2(tensor([], [0, 3]), layout, limits), /must not be empty/);
    rejects(() => decodeV2(tensor(new Array(12).fill(1), [4, 3]), layout, limits), /4 instances, more than the limit of 3/);
    rejects(() => decodeV2(tensor([], [1e15, 3]), layout, limits), /inputs\[0\] batch has 1000000000000000 instances, more than the limit of 3/);
    rejects(() => decodeV2({ inputs: [{ name: 'radius', shape: [1e15], datatype: 'FP32', data: [] }] }, layout, limits), /more than the limit of 3/);
    rejects(() => decodeV2({ id: 7, ...tensor([1, 2, 3], [1, 3]) }, layout, limits), /id must be a string, received 7/);
    const partial = { inputs: [{ name: 'radius', shape: [1], datatype: 'FP32', data: [1] }, { name: 'texture', shape: [1], datatype: 'FP32', data: [2] }] };
    rejects(() => decodeV2(partial, layout, limits), /inputs is missing feature 'perimeter'/);
  });

  it('refuses hostile nesting without recursing', () => {
    let deep: unknown = [1];
    for (let i = 0; i < 10_000; i++) deep = [deep];
    rejects(() => decodeV2(tensor(deep, [1, 3]), layout, limits), /nested too deeply/);
  });
});

describe('encoders', () => {
  const prediction = { count: 2, width: 2, scores: Float32Array.from([0.25, 0.75, 0.9, 0.1]), classIndex: Int32Array.from([1, 0]) };

  it('v1 answers a label and probabilities keyed by label per instance', () => {
    assert.deepEqual(JSON.parse(encodeV1(prediction, card)), {
      predictions: [
        { label: 'benign', probabilities: { malignant: 0.25, benign: 0.75 } },
        { label: 'malignant', probabilities: { malignant: 0.9, benign: 0.1 } },
      ],
    });
  });

  it('v2 answers label and probabilities tensors, with the model version and request id', () => {
    const answer = encodeV2(prediction, card, 'abc');
    assert.equal(answer.model_version, String(card.version));
    assert.equal(answer.id, 'abc');
    assert.deepEqual(answer.outputs, [
      { name: 'label', datatype: 'BYTES', shape: [2], data: ['benign', 'malignant'] },
      { name: 'probabilities', datatype: 'FP32', shape: [2, 2], data: [0.25, 0.75, 0.9, 0.1] },
    ]);
  });

  it('metadata lists the input shape, feature names and labels a caller needs', () => {
    const metadata = modelMetadata(imageCard);
    assert.deepEqual(metadata.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 2, 3] }]);
    assert.deepEqual(metadata.parameters.labels, ['a', 'b', 'c']);
    assert.deepEqual(metadata.parameters.features, pixels);
  });
});
