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
