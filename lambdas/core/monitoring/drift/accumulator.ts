// One streaming pass over rows of features: per column, the counts in the baseline's bins and the moments
// of the current values. Rows arrive as row-major Float32Array chunks (what a model gets, what the batch
// core and the capture path produce), in any number of calls; nothing per row is kept, so 1,000,000 rows
// cost the same memory as 10. Passes over parts of the data (an hour each, a file each) merge exactly: the
// counts add, and the moments are sums and sums of squares around a fixed centre (the baseline's mean), which
// add too; `state()` writes a pass out and `mergeState` adds one back, every number as it was.
import type { Histogram } from '../../models/model-card';

/** What one column is binned against: the baseline's decile histogram and, when it has one, its percentile one. */
export interface ColumnSpec {
  readonly name: string;
  readonly histogram: Histogram;
  readonly percentiles?: Histogram;
  /** A value near the column's centre (the baseline mean): moments are summed around it, which keeps the variance exact for large offsets. */
  readonly center: number;
}

/** What the pass found for one column. */
export interface ColumnCounts {
  readonly name: string;
  /** Counts in the bins of the baseline's `histogram`. */
  readonly histogram: number[];
  /** Counts in the bins of the baseline's `percentiles`, when it has one. */
  readonly percentiles: number[] | undefined;
  /** Finite values counted. */
  readonly count: number;
  /** NaN and ±Infinity values, counted in no bin. */
  readonly nonFinite: number;
  /** Mean, population standard deviation, min and max of the finite values (NaN when there are none). */
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

/** A number as JSON holds it exactly: finite ones as numbers, the rest (and -0) as their names. */
export type ExactNumber = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';

export function toExact(x: number): ExactNumber {
  if (Number.isFinite(x)) return Object.is(x, -0) ? '-0' : x;
  return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
}

export function fromExact(x: unknown): number {
  if (typeof x === 'number') return x;
  if (x === 'NaN') return NaN;
  if (x === 'Infinity') return Infinity;
  if (x === '-Infinity') return -Infinity;
  if (x === '-0') return -0;
  throw new RangeError(`${JSON.stringify(x)?.slice(0, 20)} is not a number`);
}

/** What a pass over some rows found, every number exact: what BinnedColumns.state() writes and mergeState adds. */
export interface BinnedColumnsState {
  /** Counts in the grid's bins (the union of both histograms' edges), column after column. */
  readonly counts: number[];
  /** Per column: the sum of (value - centre) and of its squares over the finite values, their min and max, how many finite and non-finite values. */
  readonly sum: ExactNumber[];
  readonly squares: ExactNumber[];
  readonly min: ExactNumber[];
  readonly max: ExactNumber[];
  readonly finite: number[];
  readonly nonFinite: number[];
}

/** Lookup cells per edge: a value is found in its cell, then by a short forward scan (about one step). */
const CELLS_PER_EDGE = 8;

/** Rows per block of the pass: 2,048 rows of 30 float32 values are 240 KiB, within a core's L2 cache. */
const BLOCK_ROWS = 2048;

/**
 * The bins a column is counted in: the union of both histograms' edges, so each of its bins lies inside one
 * bin of each histogram, and the counts of either are sums of its counts. Edges are rounded to float32,
 * the precision the values arrive in: a value equal to an edge in the data (quantile edges are observed
 * values) then still falls on the edge, in the bin to its left, as it did when the baseline was counted.
 */
interface Grid {
  readonly edges: Float32Array;
  /** For each grid bin, its bin in `histogram`. */
  readonly histogramBin: Int32Array;
  readonly percentileBin: Int32Array | undefined;
}

function checkHistogram(h: Histogram, what: string): void {
  if (h.counts.length !== h.edges.length + 1) throw new RangeError(`${what}: ${h.edges.length} edges need ${h.edges.length + 1} counts, received ${h.counts.length}`);
  for (let i = 1; i < h.edges.length; i++) {
    if (!(h.edges[i]! > h.edges[i - 1]!)) throw new RangeError(`${what}: edges must be ascending, received ${h.edges[i - 1]} then ${h.edges[i]}`);
  }
}

/** Index of the first edge >= v (the bin v falls in), by binary search. */
function binOf(edges: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function buildGrid(spec: ColumnSpec): Grid {
  checkHistogram(spec.histogram, `column '${spec.name}' histogram`);
  if (spec.percentiles) checkHistogram(spec.percentiles, `column '${spec.name}' percentiles`);
  const coarse = Float32Array.from(spec.histogram.edges);
  const fine = spec.percentiles ? Float32Array.from(spec.percentiles.edges) : undefined;
  const edges = Float32Array.from(new Set([...coarse, ...(fine ?? [])])).sort();
  const mapping = (of: Float32Array) => {
    const bins = new Int32Array(edges.length + 1);
    // grid bin j is (g_{j-1}, g_j]; it lies in the histogram bin of its right edge g_j (+inf for the last)
    for (let j = 0; j < edges.length; j++) bins[j] = binOf(of, edges[j]!);
    bins[edges.length] = of.length;
    return bins;
  };
  return { edges, histogramBin: mapping(coarse), percentileBin: fine ? mapping(fine) : undefined };
}

/**
 * Counts row-major rows of `width` values, column c against `columns[c]`. Bins are (-inf, e0], (e0, e1], ...,
 * (e_last, +inf), as in lambdas/core/monitoring/drift/baseline.ts.
 */
export class BinnedColumns {
  readonly width: number;
  private readonly grids: readonly Grid[];
  // Flat per-column layout, so the hot loop touches typed arrays only.
  private readonly edges: Float32Array;
  private readonly edgeStart: Int32Array;
  private readonly edgeCount: Int32Array;
  private readonly binStart: Int32Array;
  private readonly counts: Float64Array;
  private readonly cellStart: Int32Array;
  private readonly low: Float64Array;
  private readonly scale: Float64Array;
  private readonly center: Float64Array;
  private readonly sum: Float64Array;
  private readonly squares: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly finite: Float64Array;
  private readonly nonFinite: Float64Array;
  /** Lookup tables: for cell t of a column, how many of its edges lie in cells before t. */
  private readonly cells: Int32Array;

  constructor(readonly columns: readonly ColumnSpec[]) {
    const width = columns.length;
    if (width === 0) throw new RangeError('no columns to count');
    this.width = width;
    this.grids = columns.map(buildGrid);
    const totalEdges = this.grids.reduce((s, g) => s + g.edges.length, 0);
    this.edges = new Float32Array(totalEdges);
    this.edgeStart = new Int32Array(width);
    this.edgeCount = new Int32Array(width);
    this.binStart = new Int32Array(width);
    this.cellStart = new Int32Array(width);
    this.low = new Float64Array(width);
    this.scale = new Float64Array(width);
    this.center = Float64Array.from(columns, (c) => (Number.isFinite(c.center) ? c.center : 0));
    this.sum = new Float64Array(width);
    this.squares = new Float64Array(width);
    this.min = new Float64Array(width).fill(Infinity);
    this.max = new Float64Array(width).fill(-Infinity);
    this.finite = new Float64Array(width);
    this.nonFinite = new Float64Array(width);
    const tables: Int32Array[] = [];
    let edgeOffset = 0;
    let binOffset = 0;
    let cellOffset = 0;
    this.grids.forEach((grid, c) => {
      const e = grid.edges;
      this.edges.set(e, edgeOffset);
      this.edgeStart[c] = edgeOffset;
      this.edgeCount[c] = e.length;
      this.binStart[c] = binOffset;
      edgeOffset += e.length;
      binOffset += e.length + 1;
      // Values in (e0, e_last] are looked up: cell t = trunc((v - e0) * scale), in [0, cellCount].
      const cellCount = Math.max(1, e.length * CELLS_PER_EDGE);
      const low = e.length > 0 ? e[0]! : 0;
      const span = e.length > 1 ? e[e.length - 1]! - low : 0;
      const scale = span > 0 ? cellCount / span : 0;
      const table = new Int32Array(cellCount + 2);
      // The cell of each edge, computed as a value's will be: cell() never decreases with its argument, so an
      // edge in an earlier cell than v's is below v, and the scan may start after it.
      const perCell = new Int32Array(cellCount + 2);
      for (let i = 0; i < e.length; i++) perCell[((e[i]! - low) * scale) | 0]!++;
      for (let t = 1; t < table.length; t++) table[t] = table[t - 1]! + perCell[t - 1]!;
      this.low[c] = low;
      this.scale[c] = scale;
      this.cellStart[c] = cellOffset;
      cellOffset += table.length;
      tables.push(table);
    });
    this.counts = new Float64Array(binOffset);
    this.cells = new Int32Array(cellOffset);
    tables.forEach((table, c) => this.cells.set(table, this.cellStart[c]!));
  }

  /** Adds `rowCount` rows of `width` values (row-major); rowCount defaults to all of `rows`. */
  add(rows: Float32Array, rowCount = rows.length / this.width): void {
    const width = this.width;
    if (!Number.isInteger(rowCount) || rowCount < 0 || rowCount * width > rows.length) {
      throw new RangeError(`${rows.length} values do not hold ${rowCount} rows of ${width}`);
    }
    // Blocks of rows, one column at a time within a block: the block stays in cache while each column's
    // state stays in registers.
    for (let start = 0; start < rowCount; start += BLOCK_ROWS) this.addBlock(rows, start * width, Math.min(rowCount, start + BLOCK_ROWS) * width);
  }

  private addBlock(rows: Float32Array, from: number, to: number): void {
    const { width, edges, edgeStart, edgeCount, binStart, counts, cells, cellStart, low, scale, center, sum, squares, min, max, finite, nonFinite } = this;
    for (let c = 0; c < width; c++) {
      const e0 = edgeStart[c]!;
      const last = edgeCount[c]! - 1;
      const b0 = binStart[c]!;
      const first = last >= 0 ? edges[e0]! : Infinity;
      const top = last >= 0 ? edges[e0 + last]! : Infinity;
      const lo = low[c]!;
      const sc = scale[c]!;
      const cs = cellStart[c]!;
      const mid = center[c]!;
      let s = 0;
      let sq = 0;
      let mn = min[c]!;
      let mx = max[c]!;
      let n = 0;
      let bad = 0;
      for (let i = from + c; i < to; i += width) {
        const v = rows[i]!;
        if (v - v !== 0) {
          bad++; // NaN or +-Infinity
          continue;
        }
        n++;
        const d = v - mid;
        s += d;
        sq += d * d;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
        let bin: number;
        if (v <= first) bin = 0;
        else if (v > top) bin = last + 1;
        else {
          bin = cells[cs + (((v - lo) * sc) | 0)]!;
          while (edges[e0 + bin]! < v) bin++;
        }
        counts[b0 + bin]!++;
      }
      sum[c] = sum[c]! + s;
      squares[c] = squares[c]! + sq;
      min[c] = mn;
      max[c] = mx;
      finite[c] = finite[c]! + n;
      nonFinite[c] = nonFinite[c]! + bad;
    }
  }

  /** Everything counted so far, exactly (JSON keeps it as it is). */
  state(): BinnedColumnsState {
    const exact = (a: Float64Array) => Array.from(a, toExact);
    return {
      counts: Array.from(this.counts),
      sum: exact(this.sum),
      squares: exact(this.squares),
      min: exact(this.min),
      max: exact(this.max),
      finite: Array.from(this.finite),
      nonFinite: Array.from(this.nonFinite),
    };
  }

  /** Throws, naming what is wrong, when `state` is not a state of these columns' shape. */
  checkState(state: BinnedColumnsState): void {
    this.parseState(state);
  }

  private parseState(state: BinnedColumnsState): Record<keyof BinnedColumnsState, number[]> {
    const of = (name: keyof BinnedColumnsState, length: number): number[] => {
      const got: unknown = state?.[name];
      if (!Array.isArray(got) || got.length !== length) throw new RangeError(`the state's ${name} holds ${Array.isArray(got) ? got.length : 'no'} values, these columns need ${length}`);
      return got.map(fromExact);
    };
    const width = this.width;
    const parsed = { counts: of('counts', this.counts.length), sum: of('sum', width), squares: of('squares', width), min: of('min', width), max: of('max', width), finite: of('finite', width), nonFinite: of('nonFinite', width) };
    const isCount = (x: number) => Number.isSafeInteger(x) && x >= 0;
    if (![...parsed.counts, ...parsed.finite, ...parsed.nonFinite].every(isCount)) throw new RangeError("the state's counts are not all whole numbers, 0 or more");
    return parsed;
  }

  /**
   * Adds what another pass over the same columns counted (its `state()`): counts, sums and sums of squares add,
   * min and max take the extremes. Throws, changing nothing, when the state is not of these columns' shape.
   */
  mergeState(state: BinnedColumnsState): void {
    const { counts, sum, squares, min, max, finite, nonFinite } = this.parseState(state);
    for (let i = 0; i < counts.length; i++) this.counts[i] = this.counts[i]! + counts[i]!;
    for (let c = 0; c < this.width; c++) {
      this.sum[c] = this.sum[c]! + sum[c]!;
      this.squares[c] = this.squares[c]! + squares[c]!;
      if (min[c]! < this.min[c]!) this.min[c] = min[c]!;
      if (max[c]! > this.max[c]!) this.max[c] = max[c]!;
      this.finite[c] = this.finite[c]! + finite[c]!;
      this.nonFinite[c] = this.nonFinite[c]! + nonFinite[c]!;
    }
  }

  /** Adds what another BinnedColumns over the same columns counted. */
  merge(other: BinnedColumns): void {
    this.mergeState(other.state());
  }

  /** Rows added so far, counted as the values seen in the first column (finite or not). */
  get rows(): number {
    return this.finite[0]! + this.nonFinite[0]!;
  }

  /** The counts and moments of column c, in the bins of its baseline histograms. */
  column(c: number): ColumnCounts {
    const grid = this.grids[c];
    if (!grid) throw new RangeError(`column ${c} is outside [0, ${this.width})`);
    const spec = this.columns[c]!;
    const grid0 = this.binStart[c]!;
    const fold = (binOfGrid: Int32Array, bins: number) => {
      const out = new Array<number>(bins).fill(0);
      for (let j = 0; j < binOfGrid.length; j++) out[binOfGrid[j]!]! += this.counts[grid0 + j]!;
      return out;
    };
    const n = this.finite[c]!;
    const meanOffset = n > 0 ? this.sum[c]! / n : NaN;
    const variance = n > 0 ? Math.max(0, this.squares[c]! / n - meanOffset * meanOffset) : NaN;
    return {
      name: spec.name,
      histogram: fold(grid.histogramBin, spec.histogram.counts.length),
      percentiles: grid.percentileBin && spec.percentiles ? fold(grid.percentileBin, spec.percentiles.counts.length) : undefined,
      count: n,
      nonFinite: this.nonFinite[c]!,
      mean: this.center[c]! + meanOffset,
      std: Math.sqrt(variance),
      min: n > 0 ? this.min[c]! : NaN,
      max: n > 0 ? this.max[c]! : NaN,
    };
  }
}
