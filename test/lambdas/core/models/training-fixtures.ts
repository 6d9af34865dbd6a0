// Small synthetic data sets for the training, export and CLI tests: Gaussian blobs around fixed centres,
// generated with the project's seeded PRNG so every run sees the same rows.
import type { Matrix } from '../../../../lambdas/core/models/training/matrix';
import { createRandom } from '../../../../lambdas/core/models/training/random';

export interface Blobs {
  readonly x: Matrix;
  readonly y: number[];
}

/**
 * `perClass` rows for each centre; every feature gets noise of the given spread. Features are also
 * shifted and scaled (offset 100, x10 on the first feature) so standardisation has real work to do.
 */
export function blobs(centres: readonly (readonly number[])[], perClass: number, spread = 0.5, seed = 7): Blobs {
  const random = createRandom(seed);
  const cols = centres[0]!.length;
  const rows: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < perClass; i++) {
    centres.forEach((centre, c) => {
      rows.push(centre.map((v, j) => (v + spread * random.normal()) * (j === 0 ? 10 : 1) + 100));
      y.push(c);
    });
  }
  const data = new Float64Array(rows.length * cols);
  rows.forEach((r, i) => data.set(r, i * cols));
  return { x: { rows: rows.length, cols, data }, y };
}

export const TWO_CLASSES = [
  [0, 0, 0],
  [3, 3, 0],
];

export const THREE_CLASSES = [
  [0, 0, 0, 0],
  [4, 0, 1, 0],
  [0, 4, 0, 1],
];

/** A CSV text with header f1..fn plus a label column, from blobs, labels named by `names`. */
export function blobsCsv(data: Blobs, names: readonly string[], labelColumn = 'species'): string {
  const header = [...Array.from({ length: data.x.cols }, (_, j) => `f${j + 1}`), labelColumn].join(',');
  const lines = [header];
  for (let r = 0; r < data.x.rows; r++) {
    const row = Array.from(data.x.data.subarray(r * data.x.cols, (r + 1) * data.x.cols), (v) => v.toFixed(4));
    lines.push([...row, names[data.y[r]!]!].join(','));
  }
  return `${lines.join('\n')}\n`;
}
