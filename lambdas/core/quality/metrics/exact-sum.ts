// A sum of doubles kept exactly, as Python's math.fsum keeps it (Shewchuk's non-overlapping partials): the
// value is the exact sum correctly rounded, whatever the order the terms came in. Hour summaries merge in
// any order (an hour, then a day of them; or the fan-out's parts), and the figures must not depend on it.

export class ExactSum {
  /** Non-overlapping partials, smallest magnitude first; their exact sum is the exact sum of the terms. */
  private partials = new Float64Array(4);
  private used = 0;

  add(value: number): void {
    let x = value + 0; // -0 becomes 0: JSON has no -0
    let kept = 0;
    const partials = this.partials;
    for (let j = 0; j < this.used; j++) {
      let y = partials[j]!;
      if (Math.abs(x) < Math.abs(y)) {
        const larger = y;
        y = x;
        x = larger;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[kept++] = lo;
      x = hi;
    }
    if (kept === partials.length) {
      const grown = new Float64Array(partials.length * 2);
      grown.set(partials);
      this.partials = grown;
    }
    this.partials[kept] = x;
    this.used = kept + 1;
  }

  /** Adds another sum exactly. */
  addSum(other: ExactSum): void {
    if (this.used === 0) {
      this.partials = other.partials.slice();
      this.used = other.used;
      return;
    }
    for (const p of other.state()) this.add(p);
  }

  /** The exact sum, correctly rounded to the nearest double (ties to even), as math.fsum returns it. */
  get value(): number {
    const partials = this.partials;
    let n = this.used;
    if (n === 0) return 0;
    n--;
    let hi = partials[n]!;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      n--;
      const y = partials[n]!;
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // Half-way case: the rest of the partials decide which way the rounding of hi + lo goes.
    if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }

  /** The partials, exact as JSON numbers (all finite). */
  state(): number[] {
    return Array.from(this.partials.subarray(0, this.used));
  }

  static fromState(partials: unknown, field: string): ExactSum {
    if (!Array.isArray(partials) || !partials.every((p) => typeof p === 'number' && Number.isFinite(p))) {
      throw new TypeError(`${field} must be an array of finite numbers (the partials of an exact sum)`);
    }
    // Kept as written (a state round-trips to itself); adding them instead would give the same value.
    const sum = new ExactSum();
    sum.partials = Float64Array.from(partials as number[], (p) => p + 0);
    if (sum.partials.length === 0) sum.partials = new Float64Array(4);
    sum.used = partials.length;
    return sum;
  }
}
