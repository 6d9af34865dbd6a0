// Row-wise operations on row-major score buffers, shared by serving (float32) and training (float64).

/** Softmax over each row of an n x width buffer, in place, numerically stable. */
export function softmaxRows(values: Float32Array | Float64Array, width: number): void {
  for (let offset = 0; offset < values.length; offset += width) {
    let max = -Infinity;
    for (let j = 0; j < width; j++) max = Math.max(max, values[offset + j]!);
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const e = Math.exp(values[offset + j]! - max);
      values[offset + j] = e;
      sum += e;
    }
    for (let j = 0; j < width; j++) values[offset + j]! /= sum;
  }
}

/** Index of the largest score in each row of an n x width buffer (the first on ties). */
export function argmaxRows(scores: Float32Array, width: number): Int32Array {
  const out = new Int32Array(width === 0 ? 0 : scores.length / width);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let j = 1; j < width; j++) if (scores[i * width + j]! > scores[i * width + best]!) best = j;
    out[i] = best;
  }
  return out;
}
