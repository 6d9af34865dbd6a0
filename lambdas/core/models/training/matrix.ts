// Dense row-major matrices on typed arrays: the only numeric container the trainers use.

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** rows x cols values, row-major. */
  readonly data: Float64Array;
}

export function matrixFromRows(rows: readonly (readonly number[])[], cols?: number): Matrix {
  const width = cols ?? rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * width);
  rows.forEach((row, r) => {
    if (row.length !== width) throw new RangeError(`row ${r} has ${row.length} values, expected ${width}`);
    data.set(row, r * width);
  });
  return { rows: rows.length, cols: width, data };
}

/** The given rows of a matrix, copied, in the given order. */
export function selectRows(x: Matrix, indices: readonly number[]): Matrix {
  const data = new Float64Array(indices.length * x.cols);
  indices.forEach((r, i) => data.set(x.data.subarray(r * x.cols, (r + 1) * x.cols), i * x.cols));
  return { rows: indices.length, cols: x.cols, data };
}

export function rowOf(x: Matrix, r: number): number[] {
  return Array.from(x.data.subarray(r * x.cols, (r + 1) * x.cols));
}
