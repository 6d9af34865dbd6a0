// Splits an input into its records exactly as the batch scorer reads them, without scoring any: the batch
// state machine's plan and summary read files this way, and each record can then be scored alone with
// createRecordScorer (scorers.ts) and get what scoring the whole file gives. CSV records are found with
// the scorer's own field reading (csv-fields.ts), so quoting and line ends are judged the same way.
import type { BatchFormat } from './batch-format';
import { afterLineEnd, COMMA, CR, INCOMPLETE, LF, QUOTE, readTextField } from './csv-fields';

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
