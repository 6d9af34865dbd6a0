// The scored CSV's lines written as bytes into one reused buffer, then decoded once per chunk: the same
// text as building each line from strings (row,id,label,p_<label>... or row,id,value), without a handful
// of short-lived strings per row. Those strings, and the long concatenation holding them until the chunk
// was done, were most of the batch scorer's garbage (100,000 rows: ~45 ms of GC on a 2-core machine).

const COMMA = 44;
const LF = 10;
const DOT = 46;
const ZERO = 48;
const QUOTE = 34;
const CR = 13;

/** A CSV field written as RFC 4180 wants: quoted only when it must be. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** True when `text` holds a surrogate without its pair (UTF-8 cannot carry it; a string can). */
function hasLoneSurrogate(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    else return true;
  }
  return false;
}

export class ScoredLineWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private n = 0;
  /** Lines that could not go through bytes (an id with a lone surrogate), kept as text after the bytes before them. */
  private text = '';
  /** Each class label as its CSV field's bytes. */
  private readonly labels: readonly Buffer[];

  /** `labels`: the model's class labels (none for regression). */
  constructor(private readonly labelTexts: readonly string[]) {
    this.labels = labelTexts.map((label) => Buffer.from(csvField(label), 'utf8'));
  }

  private ensure(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + extra));
    this.buf.copy(grown, 0, 0, this.n);
    this.buf = grown;
  }

  /** A non-negative integer (a row number), in decimal. */
  private uint(value: number): void {
    // 2^53 has 16 digits; one more byte for the comma that follows.
    this.ensure(17);
    const buf = this.buf;
    let digits = 1;
    for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
    let v = value;
    let i = this.n + digits - 1;
    // Integer arithmetic once the rest fits 31 bits (every row number below 2^31 at once).
    for (; v >= 0x7fffffff; i--) {
      buf[i] = ZERO + (v % 10);
      v = Math.floor(v / 10);
    }
    for (; i >= this.n; i--) {
      const q = (v / 10) | 0;
      buf[i] = ZERO + v - q * 10;
      v = q;
    }
    this.n += digits;
  }

  /** ASCII text (number formatting). */
  private ascii(text: string): void {
    this.ensure(text.length);
    const buf = this.buf;
    for (let i = 0; i < text.length; i++) buf[this.n++] = text.charCodeAt(i);
  }

  /** The id as a CSV field; false when it holds a lone surrogate (the caller writes the line as text). */
  private id(id: string): boolean {
    const length = id.length;
    this.ensure(length);
    const buf = this.buf;
    const start = this.n;
    for (let i = 0; i < length; i++) {
      const c = id.charCodeAt(i);
      if (c === COMMA || c === QUOTE || c === CR || c === LF || c >= 0x80) {
        this.n = start;
        if (c >= 0xd800 && hasLoneSurrogate(id, i)) return false;
        const field = csvField(id);
        this.ensure(field.length * 3);
        this.n += this.buf.write(field, this.n, 'utf8');
        return true;
      }
      buf[start + i] = c;
    }
    this.n = start + length;
    return true;
  }

  /**
   * String(Math.round(p * 1e7) / 1e7), the v1 answer's probability (codecs.ts), written from the integer
   * k = round(p * 1e7): for 10 <= k < 1e7 that text is "0." and k's 7 digits with trailing zeros dropped
   * (k / 1e7 is the double nearest that decimal, and no shorter decimal is as near). Tests compare it with
   * the double's own text for every k.
   */
  probability(p: number): void {
    const k = Math.round(p * 1e7);
    if (k >= 10 && k < 1e7) {
      this.ensure(9);
      const buf = this.buf;
      buf[this.n] = ZERO;
      buf[this.n + 1] = DOT;
      const first = this.n + 2;
      let v = k;
      for (let i = first + 6; i >= first; i--) {
        const q = (v / 10) | 0;
        buf[i] = ZERO + v - q * 10;
        v = q;
      }
      let end = first + 7;
      while (buf[end - 1] === ZERO) end--;
      this.n = end;
      return;
    }
    this.ascii(String(k / 1e7));
  }

  /**
   * row,id,label,p_<label>...: `scores[offset .. offset + width - 1]` are the row's class probabilities;
   * `tail`, CSV text that starts with a comma (the row's explanation columns), ends the line.
   */
  classLine(row: number, id: string, classIndex: number, scores: Float32Array, offset: number, width: number, tail = ''): void {
    const mark = this.n;
    this.uint(row);
    this.buf[this.n++] = COMMA;
    if (id !== '' && !this.id(id)) {
      this.n = mark;
      let line = `${row},${csvField(id)},${csvField(this.labelTexts[classIndex]!)}`;
      for (let j = 0; j < width; j++) line += `,${String(Math.round(scores[offset + j]! * 1e7) / 1e7)}`;
      this.lineAsText(`${line}${tail}\n`);
      return;
    }
    const label = this.labels[classIndex]!;
    this.ensure(label.length + 2);
    this.buf[this.n++] = COMMA;
    label.copy(this.buf, this.n);
    this.n += label.length;
    for (let j = 0; j < width; j++) {
      this.ensure(1);
      this.buf[this.n++] = COMMA;
      this.probability(scores[offset + j]!);
    }
    this.end(tail);
  }

  /** row,id,value (regression); a non-finite value is an empty field, as it is null in the v1 answer. `tail` as in classLine. */
  valueLine(row: number, id: string, value: number, tail = ''): void {
    const mark = this.n;
    this.uint(row);
    this.buf[this.n++] = COMMA;
    if (!this.id(id)) {
      this.n = mark;
      this.lineAsText(`${row},${csvField(id)},${Number.isFinite(value) ? String(value) : ''}${tail}\n`);
      return;
    }
    this.ensure(1);
    this.buf[this.n++] = COMMA;
    if (Number.isFinite(value)) this.ascii(String(value));
    this.end(tail);
  }

  /** The line's tail (CSV text, UTF-8; no lone surrogates: feature names come from a checked card), then its LF. */
  private end(tail: string): void {
    if (tail.length > 0) {
      this.ensure(tail.length * 3);
      this.n += this.buf.write(tail, this.n, 'utf8');
    }
    this.ensure(1);
    this.buf[this.n++] = LF;
  }

  /** A line kept as a string: the bytes before it are decoded first, so the order holds. */
  private lineAsText(line: string): void {
    this.text += this.buf.toString('utf8', 0, this.n) + line;
    this.n = 0;
  }

  /** The lines written since the last take(), as one string. */
  take(): string {
    const out = this.text + this.buf.toString('utf8', 0, this.n);
    this.text = '';
    this.n = 0;
    return out;
  }
}

const shared = new ScoredLineWriter([]);

/** One probability's text, as classLine writes it. */
export function probabilityText(p: number): string {
  shared.probability(p);
  return shared.take();
}
