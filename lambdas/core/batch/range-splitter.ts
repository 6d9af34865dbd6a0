// Cuts an input file's bytes into ranges of whole rows, with their row numbers, without decoding or
// parsing a single field: the batch state machine's plan hands each range to one scorer call, which reads
// only its bytes. The record structure is the batch scorer's (createBatchScorer, createRecordSplitter):
// CSV quote-aware (a quoted field may hold line ends; a quote never closed runs to the end of the file;
// text after a closing quote runs to the next comma or line end), line ends LF, CRLF or a lone CR; JSON
// Lines on LF. Blank lines count as rows when a row follows them and are dropped at the end of the file.
//
// Why bytes are enough: only ASCII bytes (quote, comma, CR, LF) shape records, UTF-8 never uses them
// inside a multi-byte character, and a decoder that meets a broken sequence still yields the ASCII byte
// after it as itself. So records end at the same places in the bytes as in the decoded text, and a range
// decoded on its own gives exactly its part of the decoded file.

import type { BatchFormat } from './batch-format';

/** Rows `firstRow .. firstRow + rows - 1` of a file are its bytes `start` (inclusive) to `end` (exclusive). */
export interface RowRange {
  readonly start: number;
  readonly end: number;
  readonly firstRow: number;
  readonly rows: number;
}

export interface RangeSplitter {
  /** CSV: the header record, decoded, BOM removed; undefined before it is read, and for an empty file. JSON Lines: undefined. */
  readonly header: string | undefined;
  /** Data rows so far (blank lines not yet followed by a row are not counted). */
  readonly rows: number;
  /** Reads the next bytes of the file; returns the ranges completed so far. */
  push(bytes: Uint8Array): RowRange[];
  /** The end of the file: returns the last range, if it holds a row. */
  end(): RowRange[];
}

export interface RangeSplitterOptions {
  /** Rows per range: a range closes at the first record that starts once it holds this many. */
  readonly rowsPerRange: number;
  /**
   * The number of the file's first data row (files of one input are numbered one after the other).
   * @default 1
   */
  readonly firstRow?: number;
}

const LF = 10;
const CR = 13;
const QUOTE = 34;
const COMMA = 44;

// CSV scanner states.
/** At the start of a record (nothing of it read). */
const START = 0;
/** At the start of a field after a comma. */
const FIELD = 1;
/** Inside an unquoted field, or after a closing quote (both run to a comma or a line end). */
const UNQUOTED = 2;
/** Inside a quoted field. */
const QUOTED = 3;
/** A quote inside a quoted field: a doubled quote or the closing one. */
const QUOTE_SEEN = 4;
/** After a CR: an LF right after it belongs to the same line end. */
const AFTER_CR = 5;

const BOM = [0xef, 0xbb, 0xbf];

/** The position of `byte` in `chunk` from `from`, or `none`. */
function indexOr(chunk: Uint8Array, byte: number, from: number, none: number): number {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? none : at;
}

export function createRangeSplitter(format: BatchFormat, options: RangeSplitterOptions): RangeSplitter {
  if (format !== 'csv' && format !== 'jsonl') throw new RangeError(`format must be 'csv' or 'jsonl', received ${String(format)}`);
  const { rowsPerRange } = options;
  if (!Number.isInteger(rowsPerRange) || rowsPerRange < 1) throw new RangeError(`rowsPerRange must be a positive integer, received ${rowsPerRange}`);
  const csv = format === 'csv';

  /** Bytes read before the current chunk. */
  let offset = 0;
  /** The first bytes, until the BOM question is settled. */
  let bomBytes = 0;
  let bomChecked = false;
  let headerDone = !csv;
  const headerParts: Uint8Array[] = [];
  let header: string | undefined;

  let state = START;
  /** Blank lines since the last row (rows only if a row follows). */
  let blanks = 0;
  let rows = 0;
  const first = options.firstRow ?? 1;
  let rangeStart = -1;
  let rangeFirstRow = first;
  let rangeRows = 0;
  /** The record being read is a blank line (JSON Lines: whitespace only, so far). */
  let lineBlank = true;
  /** JSON Lines: the bytes of a line that has shown no ASCII other than whitespace, when it has non-ASCII bytes (its blankness needs decoding). */
  let lineHigh: number[] | undefined;

  const out: RowRange[] = [];

  /** A record starts at absolute position `at` (after the header). */
  const recordStarts = (at: number) => {
    if (rangeStart < 0) rangeStart = at;
    else if (rangeRows >= rowsPerRange) {
      out.push({ start: rangeStart, end: at, firstRow: rangeFirstRow, rows: rangeRows });
      rangeStart = at;
      rangeFirstRow = first + rows + blanks;
      rangeRows = 0;
    }
  };
  /** The record that started last has ended (`blank`: an empty line). */
  const recordEnds = (blank: boolean) => {
    if (blank) {
      blanks++;
      return;
    }
    rows += blanks + 1;
    rangeRows += blanks + 1;
    blanks = 0;
  };

  /** CSV: the header ends at `at` (exclusive) of `chunk`, which starts at `from`. */
  const headerEnds = (chunk: Uint8Array, from: number, at: number) => {
    headerParts.push(chunk.subarray(from, at));
    const text = new TextDecoder('utf-8').decode(Buffer.concat(headerParts));
    header = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    headerParts.length = 0;
    headerDone = true;
  };

  const scanCsv = (chunk: Uint8Array, from: number) => {
    const n = chunk.length;
    let i = from;
    let s = state;
    // The next quote and CR in the chunk (n when none): a record with neither before its LF ends at that LF.
    let nextQuote = -1;
    let nextCr = -1;
    while (i < n) {
      const b = chunk[i]!;
      switch (s) {
        case AFTER_CR:
          s = START;
          if (b === LF) {
            i++;
            continue;
          }
          continue; // the byte starts the next record
        case START:
          if (!headerDone) {
            // The header is the first record, whatever it holds.
            s = b === QUOTE ? QUOTED : b === COMMA ? FIELD : b === LF || b === CR ? START : UNQUOTED;
            if (b === LF || b === CR) {
              headerEnds(chunk, from, i);
              s = b === CR ? AFTER_CR : START;
            }
            i++;
            continue;
          }
          recordStarts(offset + i);
          if (b === LF || b === CR) {
            recordEnds(true);
            s = b === CR ? AFTER_CR : START;
          } else {
            s = b === QUOTE ? QUOTED : b === COMMA ? FIELD : UNQUOTED;
          }
          i++;
          continue;
        case FIELD:
        case UNQUOTED:
          if (s === FIELD && b === QUOTE) {
            s = QUOTED;
            i++;
            continue;
          }
          s = UNQUOTED;
          if (headerDone) {
            // The fast path, for the usual record: no quote, no CR, so it ends at the next LF.
            if (nextQuote < i) nextQuote = indexOr(chunk, QUOTE, i, n);
            if (nextCr < i) nextCr = indexOr(chunk, CR, i, n);
            const lf = indexOr(chunk, LF, i, n);
            if (lf < n && lf < nextQuote && lf < nextCr) {
              recordEnds(false);
              s = START;
              i = lf + 1;
              continue;
            }
          }
          // Byte by byte: a quote right after a comma opens a quoted field.
          while (i < n) {
            const c = chunk[i]!;
            if (c === COMMA) {
              i++;
              if (i < n && chunk[i] === QUOTE) {
                s = QUOTED;
                i++;
                break;
              }
              if (i >= n) s = FIELD;
              continue;
            }
            if (c === LF || c === CR) {
              if (!headerDone) headerEnds(chunk, from, i);
              else recordEnds(false);
              s = c === CR ? AFTER_CR : START;
              i++;
              break;
            }
            i++;
          }
          continue;
        case QUOTED: {
          const q = chunk.indexOf(QUOTE, i);
          if (q < 0) {
            i = n;
            continue;
          }
          s = QUOTE_SEEN;
          i = q + 1;
          continue;
        }
        case QUOTE_SEEN:
          if (b === QUOTE) {
            s = QUOTED;
            i++;
            continue;
          }
          s = UNQUOTED;
          if (b === COMMA) s = FIELD;
          else if (b === LF || b === CR) {
            if (!headerDone) headerEnds(chunk, from, i);
            else recordEnds(false);
            s = b === CR ? AFTER_CR : START;
          }
          i++;
          continue;
      }
    }
    if (!headerDone && from < n) headerParts.push(chunk.subarray(from, n));
    state = s;
  };

  const isWhitespaceByte = (b: number) => b === 0x20 || b === 0x09 || b === 0x0b || b === 0x0c || b === CR;

  const scanJsonl = (chunk: Uint8Array, from: number) => {
    const n = chunk.length;
    let i = from;
    while (i < n) {
      if (state === START) {
        recordStarts(offset + i);
        state = UNQUOTED;
        lineBlank = true;
        lineHigh = undefined;
      }
      const eol = chunk.indexOf(LF, i);
      const stop = eol < 0 ? n : eol;
      if (lineBlank) {
        for (let j = i; j < stop; j++) {
          const b = chunk[j]!;
          if (b >= 0x80) (lineHigh ??= []).push(b);
          else if (!isWhitespaceByte(b)) {
            lineBlank = false;
            lineHigh = undefined;
            break;
          } else if (lineHigh) lineHigh.push(b);
        }
      }
      if (eol < 0) return;
      endJsonLine();
      i = eol + 1;
    }
  };

  /** A JSON Lines line ends: blank when its text trims to nothing, as the scorer judges it. */
  const endJsonLine = () => {
    let blank = lineBlank;
    if (blank && lineHigh) blank = new TextDecoder('utf-8').decode(Uint8Array.from(lineHigh)).trim() === '';
    recordEnds(blank);
    state = START;
    lineHigh = undefined;
  };

  const scanBytes = (chunk: Uint8Array, from: number) => (csv ? scanCsv(chunk, from) : scanJsonl(chunk, from));

  /** The first bytes looked like the start of a BOM and are not one: they are text, at the file's start. */
  const notBom = () => {
    bomChecked = true;
    if (bomBytes === 0) return;
    const read = offset;
    offset = 0;
    scanBytes(Uint8Array.from(BOM.slice(0, bomBytes)), 0);
    offset = read;
  };

  const scan = (chunk: Uint8Array) => {
    let from = 0;
    if (!bomChecked) {
      // A BOM at the very start is no part of the first record (the scorer drops it); it may span chunks.
      while (from < chunk.length && bomBytes < 3 && chunk[from] === BOM[bomBytes]) {
        from++;
        bomBytes++;
      }
      if (bomBytes === 3) {
        bomChecked = true;
        if (csv) headerParts.push(Uint8Array.from(BOM));
      } else if (from < chunk.length) {
        // What was read of a BOM is text; the rest of this chunk follows it.
        notBom();
      } else {
        offset += chunk.length;
        return;
      }
    }
    scanBytes(chunk, from);
    offset += chunk.length;
  };

  return {
    get header() {
      return header;
    },
    get rows() {
      return rows;
    },
    push(bytes) {
      scan(bytes);
      return out.splice(0);
    },
    end() {
      // A file that is a piece of a BOM: those bytes are its text.
      if (!bomChecked) notBom();
      const textBytes = offset - (bomBytes === 3 ? 3 : 0);
      if (csv) {
        if (!headerDone) {
          if (textBytes > 0) headerEnds(new Uint8Array(0), 0, 0);
        } else if (state !== START && state !== AFTER_CR) recordEnds(false);
      } else if (state !== START) endJsonLine();
      if (rangeStart >= 0 && rangeRows > 0) out.push({ start: rangeStart, end: offset, firstRow: rangeFirstRow, rows: rangeRows });
      rangeStart = -1;
      return out.splice(0);
    },
  };
}
