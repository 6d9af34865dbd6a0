// Numeric fields of batch input, read the way the online API reads numbers: Number() semantics for the
// text, then the same finite-and-within-float32 rule as the request codecs. The fast path below only
// accepts plain decimals it can convert exactly as Number() would; anything else goes to Number().

/** Largest magnitude a float32 holds (as in codecs.ts): bigger values would become Infinity. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Exact powers of ten up to 1e22. A decimal with at most 15 digits is an integer m < 2^53 scaled by
 * 10^-k; with k <= 22 both m and 10^k are exact doubles, so m / 10^k is one correctly rounded IEEE
 * division: the same double Number() returns for that text (Clinger's fast path).
 */
export const POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** Why a field's value cannot be used, or undefined when it can. */
export type FieldProblem = 'empty' | 'not a number' | 'out of range';

/** Checks a value produced by Number(): the same rule as the API's codecs. */
export function valueProblem(value: number): FieldProblem | undefined {
  if (value <= FLOAT32_MAX && value >= -FLOAT32_MAX) return undefined;
  return Number.isNaN(value) ? 'not a number' : 'out of range';
}

/** Number() of a field's text, refusing an empty or whitespace-only field (Number('') is 0). */
export function parseNumberText(text: string): { value: number; problem: FieldProblem | undefined } {
  if (text.trim() === '') return { value: NaN, problem: 'empty' };
  const value = Number(text);
  return { value, problem: valueProblem(value) };
}

/** A field's text as shown in a message: quoted, and cut at 40 characters. */
export function showField(text: string): string {
  return `'${text.length > 40 ? `${text.slice(0, 37)}...` : text}'`;
}

/** The message part for a field problem, e.g. "is 'abc', not a number". */
export function describeProblem(problem: FieldProblem, text: string, quoted: boolean): string {
  const shown = `${showField(text)}${quoted ? ' (quoted)' : ''}`;
  switch (problem) {
    case 'empty':
      return quoted ? `is ${shown}, empty` : 'is empty';
    case 'not a number':
      return `is ${shown}, not a number`;
    case 'out of range':
      return `is ${shown}, not a finite number within float32 range`;
  }
}
