// The trained model as the ONNX graph will run it: standardisation, then dense layers, then softmax.
// Parameters are float32, so the trainer's forward pass and onnxruntime's agree to float32 rounding.
import type { Matrix } from './matrix';
import type { Standardizer } from './standardize';
import { softmaxRows } from '../../common/row-math';

export type Activation = 'relu' | 'tanh' | 'none';

export interface DenseLayer {
  readonly inputs: number;
  readonly outputs: number;
  /** inputs x outputs, row-major (the ONNX MatMul layout: x[N, inputs] * W[inputs, outputs]). */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  /** Applied after this layer; the last layer has 'none' (softmax follows). */
  readonly activation: Activation;
}

export interface Network {
  readonly family: 'logreg' | 'mlp';
  readonly featureCount: number;
  readonly classCount: number;
  readonly standardizer: Standardizer;
  readonly layers: readonly DenseLayer[];
}

function activate(values: Float64Array, activation: Activation): void {
  if (activation === 'relu') for (let i = 0; i < values.length; i++) values[i] = Math.max(0, values[i]!);
  else if (activation === 'tanh') for (let i = 0; i < values.length; i++) values[i] = Math.tanh(values[i]!);
}

/** Class probabilities (rows x classCount) for raw, unstandardised features. */
export function predictProbabilities(network: Network, x: Matrix): Matrix {
  if (x.cols !== network.featureCount) throw new RangeError(`expected ${network.featureCount} features, received ${x.cols}`);
  const { mean, std } = network.standardizer;
  let current = new Float64Array(x.rows * x.cols);
  for (let r = 0; r < x.rows; r++) {
    for (let c = 0; c < x.cols; c++) current[r * x.cols + c] = (x.data[r * x.cols + c]! - mean[c]!) / std[c]!;
  }
  let width = x.cols;
  for (const layer of network.layers) {
    const out = new Float64Array(x.rows * layer.outputs);
    for (let r = 0; r < x.rows; r++) {
      const o = r * layer.outputs;
      for (let j = 0; j < layer.outputs; j++) out[o + j] = layer.bias[j]!;
      for (let i = 0; i < width; i++) {
        const v = current[r * width + i]!;
        if (v === 0) continue;
        const w = i * layer.outputs;
        for (let j = 0; j < layer.outputs; j++) out[o + j]! += v * layer.weights[w + j]!;
      }
    }
    activate(out, layer.activation);
    current = out;
    width = layer.outputs;
  }
  softmaxRows(current, width);
  return { rows: x.rows, cols: width, data: current };
}

/** Index of the largest value in each row (the first one on ties, as ONNX ArgMax does). */
export function argmaxRows(p: Matrix): number[] {
  const out: number[] = [];
  for (let r = 0; r < p.rows; r++) {
    let best = 0;
    for (let j = 1; j < p.cols; j++) if (p.data[r * p.cols + j]! > p.data[r * p.cols + best]!) best = j;
    out.push(best);
  }
  return out;
}
