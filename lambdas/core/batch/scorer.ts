// The batch scorer behind every factory in scorers.ts: CSV or JSON Lines text in, scored rows (CSV) and
// rejects (JSON Lines) out. Every input row is either scored or rejected with its number and the reason;
// none is dropped. Streaming: push() text as it is read, end() at the end; memory stays at one chunk of
// rows plus the record being read. It cuts the input into records and hands each to its format's reader
// (csv-records.ts, jsonl-records.ts), which parses it straight into the RowChunk (row-chunk.ts); a full
// chunk is scored with one predict(). Besides whole inputs it takes records split beforehand (record
// mode) and ranges of a file, as text or, for CSV without quotes or CRs, as bytes (pushPlainCsv).
import { BatchInputError, type BatchFormat, type BatchOutputPart, type BatchScorer, type BatchSummary } from './batch-format';
import { INCOMPLETE, LF } from './csv-fields';
import { CsvRecordReader } from './csv-records';
import { JsonlRecordReader } from './jsonl-records';
import type { RowExplainer } from './batch-explain';
import { RowChunk } from './row-chunk';
import type { Predictor } from '../serving/model-api';

const NEW_LINE = Buffer.from('\n');

export class Scorer implements BatchScorer {
  private readonly rows: RowChunk;
  private readonly csv: CsvRecordReader;
  private readonly jsonl: JsonlRecordReader;
  private pending = '';
  private started = false;
  private ended = false;

  constructor(
    predictor: Predictor,
    private readonly format: BatchFormat,
    chunkRows: number,
    /** Record mode: rows come one by one with their own numbers (createRecordScorer); no header is written. */
    recordMode = false,
    /** Adds each scored row's explanation columns. */
    explain?: RowExplainer,
  ) {
    const features = predictor.card.input.features;
    const featureIndex = new Map(features.map((f, i) => [f, i]));
    this.rows = new RowChunk(predictor, format, chunkRows, recordMode, explain);
    this.csv = new CsvRecordReader(this.rows, features, featureIndex);
    this.jsonl = new JsonlRecordReader(this.rows, features, featureIndex);
  }

  summary(): BatchSummary {
    return this.rows.summary();
  }

  async push(text: string): Promise<BatchOutputPart> {
    if (this.ended) throw new Error('push() after end()');
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.pending = this.pending.length === 0 ? text : this.pending + text;
    await this.consume(false);
    return this.rows.take();
  }

  async end(): Promise<BatchOutputPart> {
    if (this.ended) throw new Error('end() called twice');
    this.ended = true;
    await this.consume(true);
    if (this.rows.count > 0) await this.rows.flush();
    if (this.format === 'csv' && !this.csv.hasHeader) throw new BatchInputError('the input is empty; expected a header row naming the model features');
    // Blank lines at the very end are no rows.
    this.rows.blankLines = [];
    return this.rows.take();
  }

  private async consume(final: boolean): Promise<void> {
    const buf = this.pending;
    const rows = this.rows;
    let p = 0;
    if (this.format === 'csv') {
      const csv = this.csv;
      if (!csv.hasHeader) {
        if (buf.length === 0) return;
        p = csv.readHeader(buf, final);
        if (p === INCOMPLETE) return;
      }
      while (p < buf.length) {
        const next = csv.parseCsvRecord(buf, p, final);
        if (next === INCOMPLETE) break;
        p = next;
        if (rows.count === rows.chunkRows) await rows.flush();
      }
    } else {
      const jsonl = this.jsonl;
      while (p < buf.length) {
        let eol = buf.indexOf('\n', p);
        if (eol < 0) {
          if (!final) break;
          eol = buf.length;
        }
        jsonl.parseJsonLine(buf, p, eol);
        p = eol + 1;
        if (rows.count === rows.chunkRows) await rows.flush();
      }
    }
    this.pending = p >= buf.length ? '' : buf.slice(p);
  }

  // ---- record mode ----

  /** Reads a file's header record (its text without the line end). Throws BatchInputError. */
  setHeader(text: string): void {
    this.csv.setHeader(text);
  }

  /**
   * Scores one record (its text without the line end, as RecordSplitter gives it) as row `row`: the same
   * checks, reasons and answer as when the record is read inside its file.
   */
  async scoreRecord(row: number, text: string): Promise<void> {
    if (this.ended) throw new Error('scoreRecord() after end()');
    const rows = this.rows;
    if (this.format === 'csv') {
      if (!this.csv.hasHeader) throw new Error('scoreRecord(): a CSV record came before its header (setHeader)');
      // A blank line, followed by a row in its file (RecordSplitter drops trailing ones).
      if (text === '') rows.reject(row, 'empty line', '');
      else {
        rows.rowNumber = row - 1;
        this.csv.parseCsvRecord(text, 0, true);
      }
    } else if (text.trim() === '') {
      rows.reject(row, 'empty line', '');
    } else {
      rows.rowNumber = row - 1;
      this.jsonl.parseJsonLine(text, 0, text.length);
    }
    if (rows.count === rows.chunkRows) await rows.flush();
  }

  /** Record mode: the output of the rows scored since the last take. */
  async takeRecords(final: boolean): Promise<BatchOutputPart> {
    if (final) {
      this.ended = true;
      if (this.rows.count > 0) await this.rows.flush();
    }
    return this.rows.take();
  }

  /** Range mode: the records that follow are rows firstRow, firstRow + 1, ... of a file past its start (no BOM to strip). */
  startRange(firstRow: number): void {
    this.started = true;
    this.rows.rowNumber = firstRow - 1;
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
    const rows = this.rows;
    const csv = this.csv;
    const n = bytes.length;
    let p = 0;
    while (p < n) {
      const eol = bytes.indexOf(LF, p);
      if (eol === p) rows.blankLines.push(++rows.rowNumber);
      else if (!csv.plainCsvRecord(bytes, p)) csv.parseCsvRecord(bytes.toString('utf8', p, eol), 0, true);
      p = eol + 1;
      if (rows.count === rows.chunkRows) await rows.flush();
    }
    return this.rows.take();
  }
}
