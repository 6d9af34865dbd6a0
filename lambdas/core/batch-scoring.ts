// Batch scoring over any Predictor: CSV or JSON Lines text in, scored rows (CSV) and rejects (JSON Lines)
// out. Every input row is either scored or rejected with its number and the reason; none is dropped.
// Streaming: push() text as it is read, end() at the end; memory stays at one chunk of rows plus the
// record being read. Rows are parsed straight into one Float32Array per chunk, scored with one
// predict() per chunk, and answered with the same labels and rounding as the API's v1 answer.
import { StringDecoder } from 'node:string_decoder';
import { describeProblem, FLOAT32_MAX, parseNumberText, POW10, showField, type FieldProblem } from './batch/number-field';
import { csvField, ScoredLineWriter } from './batch/scored-writer';
import type { BatchPrediction } from './inference-session';
import type { Predictor } from './model-api';

export type BatchFormat = 'csv' | 'jsonl';
export { csvField, probabilityText } from './batch/scored-writer';

export interface BatchScorerOptions {
  /** CSV with a header row naming the model's features (any order, optionally an `id` column), or JSON Lines. */
  readonly format: BatchFormat;
  /**
   * Rows scored per predict() call (one Float32Array of chunkRows x features).
   * @default 8192
   */
  readonly chunkRows?: number;
}

/** Output text produced by one push() or end(): append `scored` to the scored CSV, `rejects` to the rejects JSONL. */
export interface BatchOutputPart {
  readonly scored: string;
  readonly rejects: string;
}

export interface BatchSummary {
  /** Data rows read (CSV: records after the header; JSONL: lines), not counting trailing blank lines. */
  readonly rowsIn: number;
  readonly rowsScored: number;
  readonly rowsRejected: number;
}

export interface BatchScorer {
  /** Reads more input text; returns the output of the rows completed so far. */
  push(text: string): Promise<BatchOutputPart>;
  /** Reads the last record (which may lack its line end) and scores what is left. */
  end(): Promise<BatchOutputPart>;
  summary(): BatchSummary;
}

/** The input cannot be read at all (a CSV header that does not name the model's features); no row is scored. */
export class BatchInputError extends Error {
  override readonly name = 'BatchInputError';
}

export const DEFAULT_CHUNK_ROWS = 8192;
/** Rejects carry the raw input, cut to this many characters. */
export const REJECT_INPUT_MAX = 1024;

const COMMA = 44;
const LF = 10;
const CR = 13;
const QUOTE = 34;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
/** Column targets besides feature indexes (>= 0). */
const ID_COLUMN = -1;
/** parseCsvRecord's answer when the buffer ends before the record does. */
const INCOMPLETE = -1;

/** One line of the rejects file: {row, reason: "row <n>: <reason>" ("line <n>" for JSON Lines), input}. */
export function rejectLine(format: BatchFormat, row: number, reason: string, input: string): string {
  return `${JSON.stringify({ row, reason: `${format === 'csv' ? 'row' : 'line'} ${row}: ${reason}`, input: truncateInput(input) })}\n`;
}

/** A reject's `input`: the raw record, cut to REJECT_INPUT_MAX characters (never inside a surrogate pair). */
export function truncateInput(text: string): string {
  if (text.length <= REJECT_INPUT_MAX) return text;
  // Do not cut a surrogate pair in half: JSON would carry a lone surrogate.
  const end = (text.charCodeAt(REJECT_INPUT_MAX - 1) & 0xfc00) === 0xd800 ? REJECT_INPUT_MAX - 1 : REJECT_INPUT_MAX;
  return text.slice(0, end);
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${showField(value)}`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function checkChunkRows(value: number | undefined): number {
  if (value === undefined) return DEFAULT_CHUNK_ROWS;
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000) {
    throw new RangeError(`chunkRows must be an integer between 1 and 1000000, received ${value}`);
  }
  return value;
}

class Scorer implements BatchScorer {
  private readonly features: readonly string[];
  private readonly featureIndex: ReadonlyMap<string, number>;
  private readonly width: number;
  private readonly chunkRows: number;
  private readonly chunk: Float32Array;
  /** Input row number and id of each row in the chunk. */
  private readonly rowNumbers: Float64Array;
  private readonly ids: string[];
  private count = 0;
  /** Writes the scored lines (labels as CSV fields; none for regression). */
  private readonly lines: ScoredLineWriter;
  private readonly regression: boolean;

  private pending = '';
  private started = false;
  private ended = false;
  private headerWritten = false;
  /** CSV: target of each header column (feature index or ID_COLUMN), once the header is read. */
  private columns: Int32Array | undefined;
  private columnNames: readonly string[] = [];
  private rowNumber = 0;
  /** Blank lines seen and not yet judged: rejected when a row follows, ignored at the end of the input. */
  private blankLines: number[] = [];
  private rowsScored = 0;
  private rowsRejected = 0;

  private scoredOut = '';
  private rejectsOut = '';
  /** CSV: the first problem of the record being read. */
  private problem: string | undefined;
  /** CSV: broken quoting in the record being read, which also explains a wrong field count. */
  private quoteProblem: string | undefined;
  private id = '';

  constructor(
    private readonly predictor: Predictor,
    private readonly format: BatchFormat,
    chunkRows: number,
    /** Record mode: rows come one by one with their own numbers (createRecordScorer); no header is written. */
    recordMode = false,
  ) {
    this.headerWritten = recordMode;
    const card = predictor.card;
    this.features = card.input.features;
    this.width = this.features.length;
    this.featureIndex = new Map(this.features.map((f, i) => [f, i]));
    this.chunkRows = chunkRows;
    this.chunk = new Float32Array(chunkRows * this.width);
    this.rowNumbers = new Float64Array(chunkRows);
    this.ids = new Array<string>(chunkRows).fill('');
    this.regression = card.task === 'regression';
    this.lines = new ScoredLineWriter(card.labels);
  }

  /** The scored CSV's header: row,id,label,p_<label>... (or row,id,value for regression). */
  scoredHeader(): string {
    return scoredHeader(this.predictor.card);
  }

  summary(): BatchSummary {
    return { rowsIn: this.rowsScored + this.rowsRejected, rowsScored: this.rowsScored, rowsRejected: this.rowsRejected };
  }

  async push(text: string): Promise<BatchOutputPart> {
    if (this.ended) throw new Error('push() after end()');
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.pending = this.pending.length === 0 ? text : this.pending + text;
    await this.consume(false);
    return this.take();
  }

  async end(): Promise<BatchOutputPart> {
    if (this.ended) throw new Error('end() called twice');
    this.ended = true;
    await this.consume(true);
    if (this.count > 0) await this.flush();
    if (this.format === 'csv' && this.columns === undefined) throw new BatchInputError('the input is empty; expected a header row naming the model features');
    // Blank lines at the very end are no rows.
    this.blankLines = [];
    return this.take();
  }

  private take(): BatchOutputPart {
    let scored = this.scoredOut;
    if (!this.headerWritten) {
      this.headerWritten = true;
      scored = this.scoredHeader() + scored;
    }
    const part = { scored, rejects: this.rejectsOut };
    this.scoredOut = '';
    this.rejectsOut = '';
    return part;
  }

  private reject(row: number, reason: string, input: string): void {
    this.rejectsOut += rejectLine(this.format, row, reason, input);
    this.rowsRejected++;
  }

  /** A row (not blank) follows: the blank lines before it were rows too, empty ones. */
  private judgeBlankLines(): void {
    for (const row of this.blankLines) this.reject(row, 'empty line', '');
    this.blankLines = [];
  }

  private async consume(final: boolean): Promise<void> {
    const buf = this.pending;
    let p = 0;
    if (this.format === 'csv') {
      if (this.columns === undefined) {
        if (buf.length === 0) return;
        p = this.readHeader(buf, final);
        if (p === INCOMPLETE) return;
      }
      while (p < buf.length) {
        const next = this.parseCsvRecord(buf, p, final);
        if (next === INCOMPLETE) break;
        p = next;
        if (this.count === this.chunkRows) await this.flush();
      }
    } else {
      while (p < buf.length) {
        let eol = buf.indexOf('\n', p);
        if (eol < 0) {
          if (!final) break;
          eol = buf.length;
        }
        this.parseJsonLine(buf, p, eol);
        p = eol + 1;
        if (this.count === this.chunkRows) await this.flush();
      }
    }
    this.pending = p >= buf.length ? '' : buf.slice(p);
  }

  // ---- record mode ----

  /** Reads a file's header record (its text without the line end). Throws BatchInputError. */
  setHeader(text: string): void {
    this.columns = undefined;
    this.readHeader(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, true);
  }

  /**
   * Scores one record (its text without the line end, as RecordSplitter gives it) as row `row`: the same
   * checks, reasons and answer as when the record is read inside its file.
   */
  async scoreRecord(row: number, text: string): Promise<void> {
    if (this.ended) throw new Error('scoreRecord() after end()');
    if (this.format === 'csv') {
      if (this.columns === undefined) throw new Error('scoreRecord(): a CSV record came before its header (setHeader)');
      // A blank line, followed by a row in its file (RecordSplitter drops trailing ones).
      if (text === '') this.reject(row, 'empty line', '');
      else {
        this.rowNumber = row - 1;
        this.parseCsvRecord(text, 0, true);
      }
    } else if (text.trim() === '') {
      this.reject(row, 'empty line', '');
    } else {
      this.rowNumber = row - 1;
      this.parseJsonLine(text, 0, text.length);
    }
    if (this.count === this.chunkRows) await this.flush();
  }

  /** Range mode: the records that follow are rows firstRow, firstRow + 1, ... of a file past its start (no BOM to strip). */
  startRange(firstRow: number): void {
    this.started = true;
    this.rowNumber = firstRow - 1;
  }

  /**
   * Range mode, CSV, bytes without a quote or a CR (the caller checks): every record ends at a LF or at
   * the end. A plain record (the header's field count, every feature a plain decimal) is read straight
   * from the bytes, a third faster than decoding them and reading the string; any other record is
   * decoded alone and read by parseCsvRecord, so it gets the same value or reject. Decoding a record or
   * a field alone gives its part of the decoded range: both end at ASCII bytes, which UTF-8 never uses
   * inside a character.
   */
  async pushPlainCsv(bytes: Buffer): Promise<BatchOutputPart> {
    if (this.ended) throw new Error('push() after end()');
    // Every record ends at a LF (one is added after a last record without it): plainCsvRecord's loops
    // stop there, with no bounds check per byte.
    if (bytes.length > 0 && bytes[bytes.length - 1] !== LF) bytes = Buffer.concat([bytes, NEW_LINE]);
    const n = bytes.length;
    let p = 0;
    while (p < n) {
      const eol = bytes.indexOf(LF, p);
      if (eol === p) this.blankLines.push(++this.rowNumber);
      else if (!this.plainCsvRecord(bytes, p)) this.parseCsvRecord(bytes.toString('utf8', p, eol), 0, true);
      p = eol + 1;
      if (this.count === this.chunkRows) await this.flush();
    }
    return this.take();
  }

  /** Reads the record at `start` (it ends at the next LF) into the chunk when it is plain; false, with nothing counted, otherwise. */
  private plainCsvRecord(bytes: Buffer, start: number): boolean {
    const columns = this.columns!;
    const width = columns.length;
    const chunk = this.chunk;
    const base = this.count * this.width;
    let id = '';
    let col = 0;
    let p = start;
    for (;;) {
      if (col >= width) return false;
      const target = columns[col]!;
      let c = bytes[p]!;
      if (target >= 0) {
        // As parseCsvRecord's unquoted numeric field: -?digits[.digits], at most 15 digits.
        let negative = false;
        if (c === MINUS) {
          negative = true;
          c = bytes[++p]!;
        }
        let mantissa = 0;
        const integerStart = p;
        while (c >= ZERO && c <= NINE) {
          mantissa = mantissa * 10 + (c - ZERO);
          c = bytes[++p]!;
        }
        let digits = p - integerStart;
        let decimals = 0;
        if (c === DOT) {
          const fractionStart = ++p;
          c = bytes[p]!;
          while (c >= ZERO && c <= NINE) {
            mantissa = mantissa * 10 + (c - ZERO);
            c = bytes[++p]!;
          }
          decimals = p - fractionStart;
          digits += decimals;
        }
        if ((c !== COMMA && c !== LF) || digits === 0 || digits > 15) return false;
        const value = mantissa / POW10[decimals]!;
        chunk[base + target] = negative ? -value : value;
      } else {
        // The header's id column (the only column that is no feature).
        const fieldStart = p;
        let high = 0;
        while (c !== COMMA && c !== LF) {
          high |= c;
          c = bytes[++p]!;
        }
        id = bytes.toString(high < 0x80 ? 'latin1' : 'utf8', fieldStart, p);
      }
      if (c === COMMA) {
        p++;
        col++;
        continue;
      }
      break;
    }
    if (col + 1 !== width) return false;
    this.judgeBlankLines();
    this.accept(++this.rowNumber, id);
    return true;
  }

  /** Record mode: the output of the rows scored since the last take. */
  async takeRecords(final: boolean): Promise<BatchOutputPart> {
    if (final) {
      this.ended = true;
      if (this.count > 0) await this.flush();
    }
    return this.take();
  }

  // ---- CSV ----

  /** Reads the header record; returns the position after it, or INCOMPLETE. Throws BatchInputError. */
  private readHeader(buf: string, final: boolean): number {
    const fields: string[] = [];
    let p = 0;
    for (;;) {
      const field = readTextField(buf, p, final);
      if (field === undefined) return INCOMPLETE;
      if (field.malformed) throw new BatchInputError(`the header's column ${fields.length + 1} ${field.malformed}`);
      fields.push(field.text.trim());
      p = field.end;
      const c = p < buf.length ? buf.charCodeAt(p) : -1;
      if (c === COMMA) {
        p++;
        continue;
      }
      p = afterLineEnd(buf, p, final);
      if (p === INCOMPLETE) return INCOMPLETE;
      break;
    }
    if (fields.length === 1 && fields[0] === '') throw new BatchInputError('the first line is empty; expected a header row naming the model features');
    const columns = new Int32Array(fields.length);
    const seen = new Set<string>();
    const unknown: string[] = [];
    const idIsColumn = !this.featureIndex.has('id');
    fields.forEach((name, i) => {
      if (name === '') throw new BatchInputError(`the header's column ${i + 1} has no name`);
      if (seen.has(name)) throw new BatchInputError(`the header names column '${name.slice(0, 100)}' twice`);
      seen.add(name);
      const index = this.featureIndex.get(name);
      if (index !== undefined) columns[i] = index;
      else if (idIsColumn && name === 'id') columns[i] = ID_COLUMN;
      else unknown.push(name);
    });
    if (unknown.length > 0) {
      const list = unknown.slice(0, 5).map((n) => `'${n.slice(0, 100)}'`).join(', ');
      throw new BatchInputError(`the header has unknown column${unknown.length > 1 ? 's' : ''} ${list}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}; expected the model's features${idIsColumn ? " and optionally 'id'" : ''}: ${this.features.slice(0, 5).join(', ')}${this.width > 5 ? ', ...' : ''}`);
    }
    const missing = this.features.filter((f) => !seen.has(f));
    if (missing.length > 0) {
      throw new BatchInputError(`the header is missing feature${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).map((f) => `'${f}'`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
    }
    this.columns = columns;
    this.columnNames = fields;
    return p;
  }

  private fieldProblem(col: number, problem: FieldProblem, text: string, quoted: boolean): void {
    if (this.problem === undefined) this.problem = `column '${this.columnNames[col]}' ${describeProblem(problem, text, quoted)}`;
  }

  /**
   * Reads one record starting at `start` into the chunk; returns the position after its line end, or
   * INCOMPLETE when the buffer ends first (and more input may come). The hot path: unquoted numeric
   * fields are converted while scanning, with no string made for them.
   */
  private parseCsvRecord(buf: string, start: number, final: boolean): number {
    const n = buf.length;
    const first = buf.charCodeAt(start);
    if (first === LF || first === CR) {
      const next = afterLineEnd(buf, start, final);
      if (next === INCOMPLETE) return INCOMPLETE;
      this.blankLines.push(++this.rowNumber);
      return next;
    }
    const columns = this.columns!;
    const width = columns.length;
    const chunk = this.chunk;
    const base = this.count * this.width;
    this.problem = undefined;
    this.quoteProblem = undefined;
    this.id = '';
    let col = 0;
    let p = start;
    for (;;) {
      const target = col < width ? columns[col]! : ID_COLUMN;
      let c = p < n ? buf.charCodeAt(p) : -1;
      if (target >= 0 && c !== QUOTE) {
        // Unquoted numeric field: -?digits[.digits], converted exactly (see POW10), else Number().
        const fieldStart = p;
        let negative = false;
        if (c === MINUS) {
          negative = true;
          c = ++p < n ? buf.charCodeAt(p) : -1;
        }
        // Digits, then at most one dot and more digits; the counts come from positions, not per character.
        let mantissa = 0;
        const integerStart = p;
        while (c >= ZERO && c <= NINE) {
          mantissa = mantissa * 10 + (c - ZERO);
          c = ++p < n ? buf.charCodeAt(p) : -1;
        }
        let digits = p - integerStart;
        let decimals = 0;
        if (c === DOT) {
          const fractionStart = ++p;
          c = p < n ? buf.charCodeAt(p) : -1;
          while (c >= ZERO && c <= NINE) {
            mantissa = mantissa * 10 + (c - ZERO);
            c = ++p < n ? buf.charCodeAt(p) : -1;
          }
          decimals = p - fractionStart;
          digits += decimals;
        }
        let simple = true;
        if (c !== COMMA && c !== LF && c !== CR && c !== -1) {
          simple = false;
          while (p < n && (c = buf.charCodeAt(p)) !== COMMA && c !== LF && c !== CR) p++;
          if (p >= n) c = -1;
        }
        if (c === -1 && !final) return INCOMPLETE;
        if (simple && digits > 0 && digits <= 15) {
          const value = mantissa / POW10[decimals]!;
          chunk[base + target] = negative ? -value : value;
        } else if (p === fieldStart) {
          this.fieldProblem(col, 'empty', '', false);
        } else {
          const text = buf.slice(fieldStart, p);
          const { value, problem } = parseNumberText(text);
          if (problem === undefined) chunk[base + target] = value;
          else this.fieldProblem(col, problem, text, false);
        }
      } else if (c !== QUOTE) {
        // Unquoted text: the id, or a field past the header's (read for the count only).
        const fieldStart = p;
        while (p < n && (c = buf.charCodeAt(p)) !== COMMA && c !== LF && c !== CR) p++;
        if (p >= n) {
          if (!final) return INCOMPLETE;
          c = -1;
        }
        if (col < width) this.id = buf.slice(fieldStart, p);
      } else {
        const field = readTextField(buf, p, final);
        if (field === undefined) return INCOMPLETE;
        p = field.end;
        c = p < n ? buf.charCodeAt(p) : -1;
        if (field.malformed) {
          this.quoteProblem ??= `column ${col < width ? `'${this.columnNames[col]}'` : col + 1} ${field.malformed}`;
        } else if (target >= 0) {
          const { value, problem } = parseNumberText(field.text);
          if (problem === undefined) chunk[base + target] = value;
          else this.fieldProblem(col, problem, field.text, field.quoted);
        } else if (col < width) {
          this.id = field.text;
        }
      }
      if (c === COMMA) {
        p++;
        col++;
        continue;
      }
      break;
    }
    const next = afterLineEnd(buf, p, final);
    if (next === INCOMPLETE) return INCOMPLETE;
    this.judgeBlankLines();
    const row = ++this.rowNumber;
    const fields = col + 1;
    if (this.quoteProblem !== undefined) this.reject(row, this.quoteProblem, buf.slice(start, p));
    else if (fields !== width) this.reject(row, `${fields} field${fields === 1 ? '' : 's'}, the header has ${width}`, buf.slice(start, p));
    else if (this.problem !== undefined) this.reject(row, this.problem, buf.slice(start, p));
    else this.accept(row, this.id);
    return next;
  }

  // ---- JSON Lines ----

  private parseJsonLine(buf: string, start: number, eol: number): void {
    const end = eol > start && buf.charCodeAt(eol - 1) === CR ? eol - 1 : eol;
    const line = buf.slice(start, end);
    const row = ++this.rowNumber;
    if (line.trim() === '') {
      this.blankLines.push(row);
      return;
    }
    this.judgeBlankLines();
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      this.reject(row, `not valid JSON: ${(error as Error).message.slice(0, 200)}`, line);
      return;
    }
    const problem = this.putJson(value);
    if (problem === undefined) this.accept(row, this.id);
    else this.reject(row, problem, line);
  }

  /** Writes one JSON instance into the chunk as the v1 API would; returns the problem, if any. */
  private putJson(instance: unknown): string | undefined {
    const chunk = this.chunk;
    const base = this.count * this.width;
    this.id = '';
    if (Array.isArray(instance)) {
      if (instance.length !== this.width) return `${instance.length} value${instance.length === 1 ? '' : 's'}, the model has ${this.width} features`;
      for (let j = 0; j < this.width; j++) {
        const v: unknown = instance[j];
        if (typeof v === 'number' && v <= FLOAT32_MAX && v >= -FLOAT32_MAX) chunk[base + j] = v;
        else return `value ${j + 1} ('${this.features[j]}') ${jsonValueProblem(v)}`;
      }
      return undefined;
    }
    if (typeof instance === 'object' && instance !== null) {
      const record = instance as Record<string, unknown>;
      const idIsKey = !this.featureIndex.has('id');
      let seen = 0;
      for (const key in record) {
        const v = record[key];
        const index = this.featureIndex.get(key);
        if (index === undefined) {
          if (idIsKey && key === 'id') {
            if (typeof v === 'string') this.id = v;
            else if (typeof v === 'number' && Number.isFinite(v)) this.id = String(v);
            else return `'id' must be a string or a number, received ${describeJson(v)}`;
            continue;
          }
          return `unknown feature '${key.slice(0, 100)}'; expected features: ${this.features.slice(0, 5).join(', ')}${this.width > 5 ? ', ...' : ''}`;
        }
        if (typeof v === 'number' && v <= FLOAT32_MAX && v >= -FLOAT32_MAX) chunk[base + index] = v;
        else return `'${key}' ${jsonValueProblem(v)}`;
        seen++;
      }
      if (seen !== this.width) {
        const missing = this.features.filter((f) => !Object.hasOwn(record, f));
        return `missing feature${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).map((f) => `'${f}'`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`;
      }
      return undefined;
    }
    return `expected an array of ${this.width} feature values or an object keyed by feature name, received ${describeJson(instance)}`;
  }

  // ---- scoring ----

  private accept(row: number, id: string): void {
    this.rowNumbers[this.count] = row;
    this.ids[this.count] = id;
    this.count++;
  }

  private async flush(): Promise<void> {
    const count = this.count;
    // A part-filled last chunk is copied: the tensor must be exactly count x features.
    const rows = count === this.chunkRows ? this.chunk : this.chunk.slice(0, count * this.width);
    const prediction = await this.predictor.predict(rows, count);
    this.scoredOut += this.regression ? this.formatValues(prediction) : this.formatClasses(prediction);
    this.rowsScored += count;
    this.count = 0;
  }

  private formatClasses(prediction: BatchPrediction): string {
    const { scores, width, classIndex } = prediction;
    const ids = this.ids;
    for (let i = 0; i < prediction.count; i++) {
      this.lines.classLine(this.rowNumbers[i]!, ids[i]!, classIndex[i]!, scores, i * width, width);
      ids[i] = '';
    }
    return this.lines.take();
  }

  private formatValues(prediction: BatchPrediction): string {
    const ids = this.ids;
    for (let i = 0; i < prediction.count; i++) {
      this.lines.valueLine(this.rowNumbers[i]!, ids[i]!, prediction.scores[i]!);
      ids[i] = '';
    }
    return this.lines.take();
  }
}

function jsonValueProblem(v: unknown): string {
  if (typeof v === 'number') return `is ${v}, not a finite number within float32 range`;
  return `must be a number, received ${describeJson(v)}`;
}

interface TextField {
  readonly text: string;
  readonly quoted: boolean;
  /** Position of the character after the field (a comma, a line end, or the buffer's end). */
  readonly end: number;
  /** What is wrong with the quoting, if anything. */
  readonly malformed?: string;
}

/** Reads one field as text (quoted or not); undefined when the buffer ends first and more may come. */
function readTextField(buf: string, start: number, final: boolean): TextField | undefined {
  const n = buf.length;
  if (start < n && buf.charCodeAt(start) === QUOTE) {
    let text = '';
    let segment = start + 1;
    for (;;) {
      const q = buf.indexOf('"', segment);
      if (q < 0) {
        if (!final) return undefined;
        return { text: text + buf.slice(segment), quoted: true, end: n, malformed: 'has a quote that is never closed' };
      }
      if (q + 1 >= n && !final) return undefined;
      if (buf.charCodeAt(q + 1) === QUOTE) {
        text += buf.slice(segment, q + 1);
        segment = q + 2;
        continue;
      }
      text += buf.slice(segment, q);
      let p = q + 1;
      let c = p < n ? buf.charCodeAt(p) : -1;
      if (c === COMMA || c === LF || c === CR || c === -1) return { text, quoted: true, end: p };
      while (p < n && (c = buf.charCodeAt(p)) !== COMMA && c !== LF && c !== CR) p++;
      if (p >= n && !final) return undefined;
      return { text, quoted: true, end: p, malformed: 'has text after its closing quote' };
    }
  }
  let p = start;
  let c = 0;
  while (p < n && (c = buf.charCodeAt(p)) !== COMMA && c !== LF && c !== CR) p++;
  if (p >= n && !final) return undefined;
  return { text: buf.slice(start, p), quoted: false, end: p };
}

/** Position after the line end at `p` (LF, CRLF or a lone CR), or INCOMPLETE when a CR ends the buffer. */
function afterLineEnd(buf: string, p: number, final: boolean): number {
  const n = buf.length;
  if (p >= n) return n;
  const c = buf.charCodeAt(p);
  if (c === LF) return p + 1;
  if (c === CR) {
    if (p + 1 >= n) return final ? n : INCOMPLETE;
    return buf.charCodeAt(p + 1) === LF ? p + 2 : p + 1;
  }
  return p;
}

/** A scorer for one input: push() its text in pieces, then end(). */
export function createBatchScorer(predictor: Predictor, options: BatchScorerOptions): BatchScorer {
  if (options.format !== 'csv' && options.format !== 'jsonl') throw new RangeError(`format must be 'csv' or 'jsonl', received ${String(options.format)}`);
  return new Scorer(predictor, options.format, checkChunkRows(options.chunkRows));
}

export interface BatchResult {
  /** The scored CSV, header included. */
  readonly scored: string;
  /** The rejects, one JSON object per line. */
  readonly rejects: string;
  readonly summary: BatchSummary;
}

/** Scores a whole input held in memory. */
export async function scoreText(predictor: Predictor, text: string, options: BatchScorerOptions): Promise<BatchResult> {
  const scorer = createBatchScorer(predictor, options);
  const a = await scorer.push(text);
  const b = await scorer.end();
  return { scored: a.scored + b.scored, rejects: a.rejects + b.rejects, summary: scorer.summary() };
}

/** The scored CSV's header line (with its line end) for a model: row,id,label,p_<label>... or row,id,value. */
export function scoredHeader(card: Predictor['card']): string {
  const names = card.task === 'regression' ? ['row', 'id', 'value'] : ['row', 'id', 'label', ...card.labels.map((l) => `p_${l}`)];
  return `${names.map(csvField).join(',')}\n`;
}

/**
 * Scores rows that were split from their files beforehand (RecordSplitter), each with its own row number,
 * e.g. one batch of a Distributed Map: every row gets exactly the answer or reject reason it would get
 * inside its file from createBatchScorer. The scored output has no header line (see scoredHeader).
 */
export interface RecordScorer {
  /** CSV: the header record of the file the next records come from. Throws BatchInputError. */
  header(text: string): void;
  /** Scores one record (text without its line end) as row `row`; returns the output completed so far. */
  record(row: number, text: string): Promise<BatchOutputPart>;
  /** Scores what is left; returns the rest of the output. */
  end(): Promise<BatchOutputPart>;
  summary(): BatchSummary;
}

export function createRecordScorer(predictor: Predictor, options: BatchScorerOptions): RecordScorer {
  if (options.format !== 'csv' && options.format !== 'jsonl') throw new RangeError(`format must be 'csv' or 'jsonl', received ${String(options.format)}`);
  const scorer = new Scorer(predictor, options.format, checkChunkRows(options.chunkRows), true);
  return {
    header: (text) => scorer.setHeader(text),
    record: async (row, text) => {
      await scorer.scoreRecord(row, text);
      return scorer.takeRecords(false);
    },
    end: () => scorer.takeRecords(true),
    summary: () => scorer.summary(),
  };
}

export interface RangeScorerOptions extends BatchScorerOptions {
  /** CSV: the header record of the file the range comes from (BOM removed). */
  readonly header?: string;
  /** The number of the range's first row in its file's numbering. */
  readonly firstRow: number;
}

/** A range's scorer: push() its text, or pushRange() its bytes whole; then end(). */
export interface RangeScorer extends BatchScorer {
  /** The range's bytes, all of them (UTF-8, decoded as a StringDecoder decodes them). */
  pushRange(bytes: Uint8Array): Promise<BatchOutputPart>;
}

const QUOTE_BYTE = 0x22;
const CR_BYTE = 0x0d;
const NEW_LINE = Buffer.from('\n');

/**
 * Scores a range of a file that RangeSplitter cut (its text pushed as read, or its bytes whole with
 * pushRange, then end()): the rows get the numbers, answers and reject reasons they get when the whole
 * file is scored with createBatchScorer. The scored output has no header line (see scoredHeader).
 */
export function createRangeScorer(predictor: Predictor, options: RangeScorerOptions): RangeScorer {
  if (options.format !== 'csv' && options.format !== 'jsonl') throw new RangeError(`format must be 'csv' or 'jsonl', received ${String(options.format)}`);
  if (!Number.isInteger(options.firstRow) || options.firstRow < 1) throw new RangeError(`firstRow must be a positive integer, received ${options.firstRow}`);
  const scorer = new Scorer(predictor, options.format, checkChunkRows(options.chunkRows), true);
  if (options.format === 'csv') {
    if (options.header === undefined) throw new RangeError('a CSV range needs its file\'s header');
    scorer.setHeader(options.header);
  }
  scorer.startRange(options.firstRow);
  const csv = options.format === 'csv';
  return {
    push: (text) => scorer.push(text),
    end: () => scorer.end(),
    summary: () => scorer.summary(),
    pushRange: (bytes) => {
      const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      // Without quotes and CRs every record ends at a LF: the bytes can be read as they are.
      if (csv && buffer.indexOf(QUOTE_BYTE) < 0 && buffer.indexOf(CR_BYTE) < 0) return scorer.pushPlainCsv(buffer);
      const decoder = new StringDecoder('utf8');
      return scorer.push(decoder.write(buffer) + decoder.end());
    },
  };
}

/** Where each record of an input ends, exactly as the batch scorer reads it. */
export interface RecordSplitter {
  /**
   * CSV: the header record's text (BOM removed), once read; undefined before, and for an empty input.
   * JSON Lines: always undefined.
   */
  readonly header: string | undefined;
  /** Reads more text; returns the data records completed so far (text without line ends). */
  push(text: string): string[];
  /** Reads the last record; returns the records left. */
  end(): string[];
}

/**
 * Splits an input into its records the way createBatchScorer reads them: CSV quote-aware (a quoted field
 * may hold line ends; a quote never closed runs to the end of the input), line ends LF, CRLF or a lone
 * CR; JSON Lines on LF. Blank lines followed by a row come out as records (the scorer rejects them as
 * empty lines); blank lines at the end of the input are no rows and are dropped. So the n-th record is
 * row n of the file, and scoring each with createRecordScorer gives what scoring the file gives.
 * With `range`, the text is a range RangeSplitter cut after the header: no BOM, no header, data records only.
 */
export function createRecordSplitter(format: BatchFormat, options: { readonly range?: boolean } = {}): RecordSplitter {
  if (format !== 'csv' && format !== 'jsonl') throw new RangeError(`format must be 'csv' or 'jsonl', received ${String(format)}`);
  let pending = '';
  // A range of a file (RangeSplitter): no BOM, no header, its records are data rows.
  let started = options.range === true;
  let header: string | undefined;
  let headerRead = format !== 'csv' || options.range === true;
  let blanks: string[] = [];
  const consume = (final: boolean): string[] => {
    const buf = pending;
    const out: string[] = [];
    const emit = (text: string, blank: boolean) => {
      if (blank) {
        blanks.push(text);
        return;
      }
      if (blanks.length > 0) {
        for (const b of blanks) out.push(b);
        blanks = [];
      }
      out.push(text);
    };
    let p = 0;
    while (p < buf.length) {
      if (format === 'jsonl') {
        let eol = buf.indexOf('\n', p);
        if (eol < 0) {
          if (!final) break;
          eol = buf.length;
        }
        const line = buf.slice(p, eol);
        emit(line, line.trim() === '');
        p = eol + 1;
        continue;
      }
      const first = buf.charCodeAt(p);
      if (headerRead && (first === LF || first === CR)) {
        const next = afterLineEnd(buf, p, final);
        if (next === INCOMPLETE) break;
        emit('', true);
        p = next;
        continue;
      }
      const end = scanCsvRecord(buf, p, final);
      if (end === INCOMPLETE) break;
      const next = afterLineEnd(buf, end, final);
      if (next === INCOMPLETE) break;
      const text = buf.slice(p, end);
      if (headerRead) emit(text, false);
      else {
        header = text;
        headerRead = true;
      }
      p = next;
    }
    pending = p >= buf.length ? '' : buf.slice(p);
    return out;
  };
  return {
    get header() {
      return header;
    },
    push(text) {
      if (!started && text.length > 0) {
        started = true;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      pending = pending.length === 0 ? text : pending + text;
      return consume(false);
    },
    end() {
      const out = consume(true);
      blanks = [];
      return out;
    },
  };
}

/** The end of the CSV record starting at `start` (before its line end), or INCOMPLETE. */
function scanCsvRecord(buf: string, start: number, final: boolean): number {
  const n = buf.length;
  let p = start;
  for (;;) {
    if (p < n && buf.charCodeAt(p) === QUOTE) {
      const field = readTextField(buf, p, final);
      if (field === undefined) return INCOMPLETE;
      p = field.end;
    } else {
      let c = 0;
      while (p < n && (c = buf.charCodeAt(p)) !== COMMA && c !== LF && c !== CR) p++;
      if (p >= n && !final) return INCOMPLETE;
    }
    if (p < n && buf.charCodeAt(p) === COMMA) {
      p++;
      continue;
    }
    return p;
  }
}
