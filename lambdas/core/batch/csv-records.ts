// The batch scorer's CSV reader: the header record, which maps each column to a feature (or the id), then
// each record read into the scorer's RowChunk or rejected with the reason the v1 API would give. Two
// ways in: text (parseCsvRecord: any CSV, quoted fields and all, as the text arrives), and bytes
// (plainCsvRecord: the CSV byte fast path for a range without quotes or CRs, ~a third faster than
// decoding; any record it does not take is decoded and read as text). These are the hot loops of batch
// scoring: numeric fields are converted while scanning, with no string, closure or allocation per field.
import { BatchInputError } from './batch-format';
import { afterLineEnd, COMMA, CR, INCOMPLETE, LF, QUOTE, readTextField } from './csv-fields';
import { describeProblem, parseNumberText, POW10, type FieldProblem } from './number-field';
import type { RowChunk } from './row-chunk';

const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
/** Column targets besides feature indexes (>= 0). */
const ID_COLUMN = -1;

export class CsvRecordReader {
  private readonly width: number;
  /** Target of each header column (feature index or ID_COLUMN), once the header is read. */
  private columns: Int32Array | undefined;
  private columnNames: readonly string[] = [];
  /** The first problem of the record being read. */
  private problem: string | undefined;
  /** Broken quoting in the record being read, which also explains a wrong field count. */
  private quoteProblem: string | undefined;
  private id = '';

  constructor(
    private readonly rows: RowChunk,
    private readonly features: readonly string[],
    private readonly featureIndex: ReadonlyMap<string, number>,
  ) {
    this.width = features.length;
  }

  /** Whether the header has been read. */
  get hasHeader(): boolean {
    return this.columns !== undefined;
  }

  /** Reads a file's header record (its text without the line end), in place of any before. Throws BatchInputError. */
  setHeader(text: string): void {
    this.columns = undefined;
    this.readHeader(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, true);
  }

  /** Reads the header record; returns the position after it, or INCOMPLETE. Throws BatchInputError. */
  readHeader(buf: string, final: boolean): number {
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
  parseCsvRecord(buf: string, start: number, final: boolean): number {
    const n = buf.length;
    const first = buf.charCodeAt(start);
    if (first === LF || first === CR) {
      const next = afterLineEnd(buf, start, final);
      if (next === INCOMPLETE) return INCOMPLETE;
      this.rows.blankLines.push(++this.rows.rowNumber);
      return next;
    }
    const columns = this.columns!;
    const width = columns.length;
    const rows = this.rows;
    const chunk = rows.chunk;
    const base = rows.count * rows.width;
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
    rows.judgeBlankLines();
    const row = ++rows.rowNumber;
    const fields = col + 1;
    if (this.quoteProblem !== undefined) rows.reject(row, this.quoteProblem, buf.slice(start, p));
    else if (fields !== width) rows.reject(row, `${fields} field${fields === 1 ? '' : 's'}, the header has ${width}`, buf.slice(start, p));
    else if (this.problem !== undefined) rows.reject(row, this.problem, buf.slice(start, p));
    else rows.accept(row, this.id);
    return next;
  }

  /** Reads the record at `start` (it ends at the next LF) into the chunk when it is plain; false, with nothing counted, otherwise. */
  plainCsvRecord(bytes: Buffer, start: number): boolean {
    const columns = this.columns!;
    const width = columns.length;
    const rows = this.rows;
    const chunk = rows.chunk;
    const base = rows.count * rows.width;
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
    rows.judgeBlankLines();
    rows.accept(++rows.rowNumber, id);
    return true;
  }
}
