// A one-hidden-layer perceptron: dense (ReLU or tanh), dense, softmax; cross-entropy with L2 on the
// weights, mini-batch Adam. The seed fixes the initial weights and every epoch's shuffle.
import { Adam } from './adam';
import type { Matrix } from './matrix';
import type { Activation, DenseLayer } from './network';
import { createRandom, shuffleInPlace } from './random';

export interface MlpOptions {
  /** L2 penalty on the weights, added to the mean cross-entropy as l2/2 * |W|^2. */
  readonly l2: number;
  readonly seed: number;
  /** Hidden units. @default 64 */
  readonly hidden?: number;
  /** @default 'relu' */
  readonly activation?: Exclude<Activation, 'none'>;
  /** @default 60 */
  readonly epochs?: number;
  /** @default 32 */
  readonly batchSize?: number;
  /** @default 0.003 */
  readonly learningRate?: number;
}

export const MLP_DEFAULTS = { hidden: 64, activation: 'relu', epochs: 60, batchSize: 32, learningRate: 0.003 } as const;

/** Fits on standardised x and class indices y; returns the hidden and the output layer. */
export function fitMlp(x: Matrix, y: readonly number[], classCount: number, options: MlpOptions): [DenseLayer, DenseLayer] {
  const { rows: n, cols: f } = x;
  const h = options.hidden ?? MLP_DEFAULTS.hidden;
  const c = classCount;
  const activation = options.activation ?? MLP_DEFAULTS.activation;
  const epochs = options.epochs ?? MLP_DEFAULTS.epochs;
  const batchSize = Math.min(options.batchSize ?? MLP_DEFAULTS.batchSize, n);
  const random = createRandom(options.seed);

  // params: W1 (f x h), b1 (h), W2 (h x c), b2 (c)
  const oB1 = f * h;
  const oW2 = oB1 + h;
  const oB2 = oW2 + h * c;
  const size = oB2 + c;
  const params = new Float64Array(size);
  const limit1 = Math.sqrt(6 / (f + h));
  const limit2 = Math.sqrt(6 / (h + c));
  for (let i = 0; i < oB1; i++) params[i] = (2 * random.next() - 1) * limit1;
  for (let i = oW2; i < oB2; i++) params[i] = (2 * random.next() - 1) * limit2;

  const grad = new Float64Array(size);
  const adam = new Adam(size, { learningRate: options.learningRate ?? MLP_DEFAULTS.learningRate });
  const hidden = new Float64Array(batchSize * h);
  const out = new Float64Array(batchSize * c);
  const dHidden = new Float64Array(batchSize * h);
  const order = Array.from({ length: n }, (_, i) => i);

  for (let epoch = 0; epoch < epochs; epoch++) {
    shuffleInPlace(order, random);
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      grad.fill(0);
      // forward
      for (let s = 0; s < b; s++) {
        const row = order[start + s]! * f;
        const ho = s * h;
        for (let j = 0; j < h; j++) hidden[ho + j] = params[oB1 + j]!;
        for (let i = 0; i < f; i++) {
          const v = x.data[row + i]!;
          if (v === 0) continue;
          const w = i * h;
          for (let j = 0; j < h; j++) hidden[ho + j]! += v * params[w + j]!;
        }
        for (let j = 0; j < h; j++) hidden[ho + j] = activation === 'relu' ? Math.max(0, hidden[ho + j]!) : Math.tanh(hidden[ho + j]!);
        const oo = s * c;
        for (let k = 0; k < c; k++) out[oo + k] = params[oB2 + k]!;
        for (let j = 0; j < h; j++) {
          const v = hidden[ho + j]!;
          if (v === 0) continue;
          const w = oW2 + j * c;
          for (let k = 0; k < c; k++) out[oo + k]! += v * params[w + k]!;
        }
        let max = -Infinity;
        for (let k = 0; k < c; k++) max = Math.max(max, out[oo + k]!);
        let sum = 0;
        for (let k = 0; k < c; k++) sum += out[oo + k] = Math.exp(out[oo + k]! - max);
        // dLoss/dlogits = (p - onehot) / b
        for (let k = 0; k < c; k++) out[oo + k] = out[oo + k]! / sum / b;
        out[oo + y[order[start + s]!]!]! -= 1 / b;
      }
      // backward
      for (let s = 0; s < b; s++) {
        const ho = s * h;
        const oo = s * c;
        for (let k = 0; k < c; k++) grad[oB2 + k]! += out[oo + k]!;
        for (let j = 0; j < h; j++) {
          const hv = hidden[ho + j]!;
          const w = oW2 + j * c;
          let back = 0;
          for (let k = 0; k < c; k++) {
            const d = out[oo + k]!;
            grad[w + k]! += hv * d;
            back += d * params[w + k]!;
          }
          dHidden[ho + j] = activation === 'relu' ? (hv > 0 ? back : 0) : back * (1 - hv * hv);
        }
        const row = order[start + s]! * f;
        for (let j = 0; j < h; j++) grad[oB1 + j]! += dHidden[ho + j]!;
        for (let i = 0; i < f; i++) {
          const v = x.data[row + i]!;
          if (v === 0) continue;
          const w = i * h;
          for (let j = 0; j < h; j++) grad[w + j]! += v * dHidden[ho + j]!;
        }
      }
      for (let i = 0; i < oB1; i++) grad[i]! += options.l2 * params[i]!;
      for (let i = oW2; i < oB2; i++) grad[i]! += options.l2 * params[i]!;
      adam.step(params, grad);
    }
  }
  return [
    { inputs: f, outputs: h, weights: Float32Array.from(params.subarray(0, oB1)), bias: Float32Array.from(params.subarray(oB1, oW2)), activation },
    { inputs: h, outputs: c, weights: Float32Array.from(params.subarray(oW2, oB2)), bias: Float32Array.from(params.subarray(oB2, size)), activation: 'none' },
  ];
}
