import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { exportNetworkToOnnx, ONNX_IR_VERSION, ONNX_OPSET } from '../../../../lambdas/core/models/onnx-export';
import { inspectOnnx } from '../../../../lambdas/core/models/onnx-inspect';
import { runOnnxRows } from '../../../../lambdas/core/models/onnx-run';
import { selectRows, type Matrix } from '../../../../lambdas/core/models/training/matrix';
import { argmaxRows, predictProbabilities, type Network } from '../../../../lambdas/core/models/training/network';
import { trainClassifier } from '../../../../lambdas/core/models/training/train';
import { blobs, THREE_CLASSES, TWO_CLASSES } from './training-fixtures';

/** The rows as float32, as onnxruntime receives them. */
function asFloat32(x: Matrix): Matrix {
  return { ...x, data: Float64Array.from(x.data, Math.fround) };
}

async function maxDifference(network: Network, rows: Matrix): Promise<{ diff: number; labelsAgree: boolean }> {
  const out = await runOnnxRows(exportNetworkToOnnx(network), rows, { inputName: 'input', outputs: ['probabilities', 'label'] });
  const mine = predictProbabilities(network, asFloat32(rows));
  const theirs = out.probabilities!;
  assert.equal(theirs.width, network.classCount);
  let diff = 0;
  for (let i = 0; i < mine.data.length; i++) diff = Math.max(diff, Math.abs(mine.data[i]! - theirs.data[i]!));
  const labelsAgree = argmaxRows(mine).every((c, r) => c === out.label!.data[r]);
  return { diff, labelsAgree };
}

describe('exportNetworkToOnnx', () => {
  const binary = blobs(TWO_CLASSES, 50, 0.9);
  const three = blobs(THREE_CLASSES, 30, 1.2);

  it('declares input float [batch, F] and outputs probabilities float [batch, C] and label int64 [batch], opset 17', () => {
    const { network } = trainClassifier(three.x, three.y, 3, { family: 'mlp', l2: 1e-3, epochs: 3 });
    const info = inspectOnnx(exportNetworkToOnnx(network));
    assert.equal(info.irVersion, ONNX_IR_VERSION);
    assert.equal(info.opset, ONNX_OPSET);
    assert.equal(info.producer, 'mlship');
    assert.deepEqual(info.inputs, [{ name: 'input', elemType: 'float', dims: ['batch', 4] }]);
    assert.deepEqual(info.outputs, [
      { name: 'probabilities', elemType: 'float', dims: ['batch', 3] },
      { name: 'label', elemType: 'int64', dims: ['batch'] },
    ]);
  });

  it('round trip: onnxruntime gives the trainer\'s probabilities within 1e-5 on held-out raw rows (logreg, softmax, MLP relu and tanh)', async () => {
    const cases = [
      ['binary logreg', binary, 2, { family: 'logreg', l2: 1e-3, iterations: 100 }],
      ['softmax regression', three, 3, { family: 'logreg', l2: 1e-3, iterations: 100 }],
      ['mlp relu', three, 3, { family: 'mlp', l2: 1e-3, epochs: 5 }],
      ['mlp tanh', binary, 2, { family: 'mlp', activation: 'tanh', l2: 1e-3, epochs: 5 }],
    ] as const;
    for (const [what, data, classes, options] of cases) {
      const result = trainClassifier(data.x, data.y, classes, options);
      const { diff, labelsAgree } = await maxDifference(result.network, selectRows(data.x, result.split.test));
      assert.ok(diff < 1e-5, `${what}: largest difference ${diff}`);
      assert.ok(labelsAgree, `${what}: the label output is the argmax of the probabilities`);
    }
  });

  it('the binary model\'s second column is sigmoid(w.x + b) on standardised features', async () => {
    const { network } = trainClassifier(binary.x, binary.y, 2, { l2: 1e-2, iterations: 100 });
    const row = selectRows(binary.x, [0]);
    const { mean, std } = network.standardizer;
    const layer = network.layers[0]!;
    let z = layer.bias[1]!;
    for (let i = 0; i < row.cols; i++) z += ((Math.fround(row.data[i]!) - mean[i]!) / std[i]!) * layer.weights[i * 2 + 1]!;
    const out = await runOnnxRows(exportNetworkToOnnx(network), row, { inputName: 'input', outputs: ['probabilities'] });
    assert.ok(Math.abs(out.probabilities!.data[1]! - 1 / (1 + Math.exp(-z))) < 1e-6);
    assert.ok(Math.abs(out.probabilities!.data[0]! + out.probabilities!.data[1]! - 1) < 1e-6);
  });

  it('loads with ort.InferenceSession.create and takes any batch size', async () => {
    const { network } = trainClassifier(three.x, three.y, 3, { l2: 1e-3, iterations: 20 });
    const session = await ort.InferenceSession.create(exportNetworkToOnnx(network));
    try {
      for (const n of [1, 7]) {
        const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(n * 4).fill(100), [n, 4]) });
        assert.deepEqual(out.probabilities!.dims, [n, 3]);
        assert.deepEqual(out.label!.dims, [n]);
        assert.equal(out.label!.type, 'int64');
      }
    } finally {
      await session.release();
    }
  });
});
