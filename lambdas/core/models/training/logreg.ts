// Logistic regression (binary) and softmax regression (multiclass) with L2, fitted by full-batch Adam on
// standardised features. Deterministic: no randomness at all (weights start at zero).
import { Adam } from './adam';
import type { Matrix } from './matrix';
import type { DenseLayer } from './network';

export interface LogregOptions {
  /** L2 penalty on the weights (not the bias), added to the mean cross-entropy as l2/2 * |W|^2. */
  readonly l2: number;
  /** Full-batch iterations. @default 500 */
  readonly iterations?: number;
  /** @default 0.05 */
  readonly learningRate?: number;
}

export const LOGREG_DEFAULTS = { iterations: 500, learningRate: 0.05 } as const;

/**
 * Fits on standardised x and class indices y. Returns one dense layer with classCount outputs; for two
 * classes the first column is fixed at zero, so softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)].
 */
export function fitLogreg(x: Matrix, y: readonly number[], classCount: number, options: LogregOptions): DenseLayer {
  const { rows: n, cols: f } = x;
  const iterations = options.iterations ?? LOGREG_DEFAULTS.iterations;
  const binary = classCount === 2;
  const k = binary ? 1 : classCount; // free logit columns
  // params: W (f x k) then b (k)
  const params = new Float64Array(f * k + k);
  const grad = new Float64Array(params.length);
  const logits = new Float64Array(k);
  const adam = new Adam(params.length, { learningRate: options.learningRate ?? LOGREG_DEFAULTS.learningRate });
  const bOffset = f * k;
  for (let iter = 0; iter < iterations; iter++) {
    grad.fill(0);
    for (let r = 0; r < n; r++) {
      const row = r * f;
      for (let j = 0; j < k; j++) logits[j] = params[bOffset + j]!;
      for (let i = 0; i < f; i++) {
        const v = x.data[row + i]!;
        const w = i * k;
        for (let j = 0; j < k; j++) logits[j]! += v * params[w + j]!;
      }
      // logits -> dLoss/dlogit = p - onehot(y)
      if (binary) {
        logits[0] = 1 / (1 + Math.exp(-logits[0]!)) - (y[r] === 1 ? 1 : 0);
      } else {
        let max = -Infinity;
        for (let j = 0; j < k; j++) max = Math.max(max, logits[j]!);
        let sum = 0;
        for (let j = 0; j < k; j++) sum += logits[j] = Math.exp(logits[j]! - max);
        for (let j = 0; j < k; j++) logits[j]! /= sum;
        logits[y[r]!]! -= 1;
      }
      for (let i = 0; i < f; i++) {
        const v = x.data[row + i]!;
        if (v === 0) continue;
        const w = i * k;
        for (let j = 0; j < k; j++) grad[w + j]! += v * logits[j]!;
      }
      for (let j = 0; j < k; j++) grad[bOffset + j]! += logits[j]!;
    }
    for (let i = 0; i < grad.length; i++) grad[i]! /= n;
    for (let i = 0; i < bOffset; i++) grad[i]! += options.l2 * params[i]!;
    adam.step(params, grad);
  }
  const weights = new Float32Array(f * classCount);
  const bias = new Float32Array(classCount);
  const offset = binary ? 1 : 0;
  for (let i = 0; i < f; i++) for (let j = 0; j < k; j++) weights[i * classCount + j + offset] = params[i * k + j]!;
  for (let j = 0; j < k; j++) bias[j + offset] = params[bOffset + j]!;
  return { inputs: f, outputs: classCount, weights, bias, activation: 'none' };
}
