// What needs the kept values in order: ROC AUC (Mann-Whitney U, ties counted half, which is the area sklearn's
// trapezoids give) and numpy's linear percentile. Float32 values are sorted as uint32 keys by a radix sort
// (three passes over 1,000,000 keys instead of a comparison sort's twenty).

/** Sortable key of a float32's bits: unsigned order of keys is numeric order of the values (-0 and 0 must arrive as 0). */
function keyOf(bits: number): number {
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

function valueOfKey(key: number, scratch: Uint32Array, view: Float32Array): number {
  scratch[0] = key & 0x80000000 ? key & 0x7fffffff : ~key;
  return view[0]!;
}

/** Sorts uint32 keys ascending: LSD radix, 11 + 11 + 10 bits, a pass skipped when every key has the same digit there. */
export function radixSortKeys(keys: Uint32Array): Uint32Array {
  const n = keys.length;
  const counts = new Uint32Array(3 * 2048);
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    counts[k & 0x7ff]!++;
    counts[2048 + ((k >>> 11) & 0x7ff)]!++;
    counts[4096 + (k >>> 22)]!++;
  }
  let from: Uint32Array = keys;
  let to: Uint32Array = new Uint32Array(n);
  for (let pass = 0; pass < 3; pass++) {
    const base = pass * 2048;
    const shift = pass * 11;
    let single = false;
    let offset = 0;
    for (let d = 0; d < 2048; d++) {
      const c = counts[base + d]!;
      if (c === n) single = true;
      counts[base + d] = offset;
      offset += c;
    }
    if (single) continue;
    for (let i = 0; i < n; i++) {
      const k = from[i]!;
      to[counts[base + ((k >>> shift) & 0x7ff)]!++] = k;
    }
    [from, to] = [to, from];
  }
  return from;
}

/**
 * Sorts keys[start, end) with the digit counts already taken (3 x 2048: 11, 11 and 10 bits), using
 * scratch[start, end); returns the array that holds the sorted range (keys or scratch). Passes in which every
 * key has the same digit are skipped.
 */
function sortRange(keys: Uint32Array, scratch: Uint32Array, start: number, end: number, counts: Uint32Array): Uint32Array {
  const n = end - start;
  let from = keys;
  let to = scratch;
  for (let pass = 0; pass < 3; pass++) {
    const base = pass * 2048;
    const shift = pass * 11;
    let single = false;
    let offset = start;
    for (let d = 0; d < 2048; d++) {
      const c = counts[base + d]!;
      if (c === n) single = true;
      counts[base + d] = offset;
      offset += c;
    }
    if (single) continue;
    for (let i = start; i < end; i++) {
      const k = from[i]!;
      to[counts[base + ((k >>> shift) & 0x7ff)]!++] = k;
    }
    const t = from;
    from = to;
    to = t;
  }
  return from;
}

/** Buffers for one-vs-rest ROC AUC over many classes: the keys and a scratch of `rows` each, reused class after class. */
export interface RankingScratch {
  keys: Uint32Array;
  scratch: Uint32Array;
  readonly positiveCounts: Uint32Array;
  readonly negativeCounts: Uint32Array;
}

export function rankingScratch(rows: number): RankingScratch {
  return { keys: new Uint32Array(rows), scratch: new Uint32Array(rows), positiveCounts: new Uint32Array(3 * 2048), negativeCounts: new Uint32Array(3 * 2048) };
}

/**
 * ROC AUC of one class against the rest: scores are column `column` of rows of `stride` float32 values (as
 * uint32 bits), positives the rows whose truth is `positive`. Undefined when there is no positive or no
 * negative (sklearn: "Only one class present in y_true"). `buffers`: rankingScratch(rows) to reuse over classes.
 */
export function rocAucOneVsRest(bits: Uint32Array, stride: number, column: number, truth: ArrayLike<number>, rows: number, positive: number, buffers?: RankingScratch): number | undefined {
  let positives = 0;
  for (let i = 0; i < rows; i++) if (truth[i] === positive) positives++;
  const negatives = rows - positives;
  if (positives === 0 || negatives === 0) return undefined;
  const b = buffers !== undefined && buffers.keys.length >= rows ? buffers : rankingScratch(rows);
  const keys = b.keys;
  const pc = b.positiveCounts;
  const nc = b.negativeCounts;
  pc.fill(0);
  nc.fill(0);
  // Positives to [0, positives), negatives to [positives, rows), their digits counted on the way.
  for (let i = 0, p = 0, q = positives, at = column; i < rows; i++, at += stride) {
    const k = keyOf(bits[at]!);
    const counts = truth[i] === positive ? pc : nc;
    if (counts === pc) keys[p++] = k;
    else keys[q++] = k;
    counts[k & 0x7ff]!++;
    counts[2048 + ((k >>> 11) & 0x7ff)]!++;
    counts[4096 + (k >>> 22)]!++;
  }
  const pos = sortRange(keys, b.scratch, 0, positives, pc);
  const neg = sortRange(keys, b.scratch, positives, rows, nc);
  // U: for each positive, the negatives scored below it, plus half those scored equal. Both pointers only move
  // forward: `below` is the first negative not below the key, `notAbove` the first one above it.
  let u = 0;
  let below = positives;
  let notAbove = positives;
  for (let i = 0; i < positives; i++) {
    const key = pos[i]!;
    while (below < rows && neg[below]! < key) below++;
    if (notAbove < below) notAbove = below;
    while (notAbove < rows && neg[notAbove]! <= key) notAbove++;
    u += below - positives + (notAbove - below) / 2;
  }
  // u and positives x negatives are integers (or halves) below 2^53: the quotient is correctly rounded.
  return u / (positives * negatives);
}

/**
 * numpy.percentile(values, q, method='linear') for each q (in percent) of float32 values (as their bits):
 * the virtual index and the lerp as numpy 2 computes them.
 */
export function percentilesOf(bits: Uint32Array, rows: number, percents: readonly number[]): number[] {
  const keys = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) keys[i] = keyOf(bits[i]!);
  const sorted = radixSortKeys(keys);
  const scratch = new Uint32Array(1);
  const view = new Float32Array(scratch.buffer);
  return percents.map((percent) => {
    const q = percent / 100;
    // numpy's 'linear' method: virtual index (n - 1) q, gamma its fractional part
    const virtual = (rows - 1) * q;
    const previous = Math.max(0, Math.min(rows - 1, Math.floor(virtual)));
    const next = Math.min(rows - 1, previous + 1);
    const gamma = virtual - Math.floor(virtual);
    const a = valueOfKey(sorted[previous]!, scratch, view);
    const b = valueOfKey(sorted[next]!, scratch, view);
    // numpy _lerp: a + (b - a) t, or b - (b - a)(1 - t) from t >= 0.5 (exact at both ends)
    const diff = b - a;
    return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
  });
}
