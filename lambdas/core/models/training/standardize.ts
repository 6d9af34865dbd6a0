// Standardisation fitted on the training rows only: per feature mean and population standard deviation,
// a zero deviation replaced by 1 so a constant feature passes through as 0. Stored as float32 values,
// because the ONNX graph applies exactly these numbers.
import type { Matrix } from './matrix';

export interface Standardizer {
  readonly mean: Float32Array;
  readonly std: Float32Array;
}

export function fitStandardizer(x: Matrix, rows?: readonly number[]): Standardizer {
  const { cols } = x;
  const indices = rows ?? Array.from({ length: x.rows }, (_, i) => i);
  if (indices.length === 0) throw new RangeError('cannot standardise zero rows');
  const mean = new Float64Array(cols);
  for (const r of indices) for (let c = 0; c < cols; c++) mean[c]! += x.data[r * cols + c]!;
  for (let c = 0; c < cols; c++) mean[c]! /= indices.length;
  const variance = new Float64Array(cols);
  for (const r of indices) {
    for (let c = 0; c < cols; c++) {
      const d = x.data[r * cols + c]! - mean[c]!;
      variance[c]! += d * d;
    }
  }
  const std = new Float32Array(cols);
  for (let c = 0; c < cols; c++) {
    const s = Math.fround(Math.sqrt(variance[c]! / indices.length));
    std[c] = s > 0 && Number.isFinite(s) ? s : 1;
  }
  return { mean: Float32Array.from(mean), std };
}

/** Standardised copy of the given rows (all rows when left out), as float64. */
export function standardize(x: Matrix, s: Standardizer, rows?: readonly number[]): Matrix {
  const { cols } = x;
  const indices = rows ?? Array.from({ length: x.rows }, (_, i) => i);
  const data = new Float64Array(indices.length * cols);
  indices.forEach((r, i) => {
    for (let c = 0; c < cols; c++) data[i * cols + c] = (x.data[r * cols + c]! - s.mean[c]!) / s.std[c]!;
  });
  return { rows: indices.length, cols, data };
}
