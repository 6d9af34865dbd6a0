// The ways to score a batch (all over one Scorer, scorer.ts): a whole input pushed as it is read
// (createBatchScorer, or scoreText for text held in memory); records split from their files beforehand
// (createRecordScorer, e.g. one batch of the state machine's Distributed Map); and a range of a file cut
// by RangeSplitter (createRangeScorer), as text or as bytes. Each row gets the same number, answer or
// reject reason whichever way it is scored.
import { StringDecoder } from 'node:string_decoder';
import { checkChunkRows, type BatchOutputPart, type BatchScorer, type BatchScorerOptions, type BatchSummary } from './batch-format';
import type { RowExplainer } from './batch-explain';
import { Scorer } from './scorer';
import type { Predictor } from '../serving/model-api';

/** options.explain, which must explain the model that scores. */
function checkExplain(predictor: Predictor, explain: RowExplainer | undefined): RowExplainer | undefined {
  if (explain && (explain.card.name !== predictor.card.name || explain.card.version !== predictor.card.version)) throw new RangeError(`explain explains model ${explain.card.name} v${explain.card.version}, the scorer scores ${predictor.card.name} v${predictor.card.version}`);
  return explain;
}

/** A scorer for one input: push() its text in pieces, then end(). */
export function createBatchScorer(predictor: Predictor, options: BatchScorerOptions): BatchScorer {
  if (options.format !== 'csv' && options.format !== 'jsonl') throw new RangeError(`format must be 'csv' or 'jsonl', received ${String(options.format)}`);
  return new Scorer(predictor, options.format, checkChunkRows(options.chunkRows), false, checkExplain(predictor, options.explain));
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
  const scorer = new Scorer(predictor, options.format, checkChunkRows(options.chunkRows), true, checkExplain(predictor, options.explain));
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

/**
 * Scores a range of a file that RangeSplitter cut (its text pushed as read, or its bytes whole with
 * pushRange, then end()): the rows get the numbers, answers and reject reasons they get when the whole
 * file is scored with createBatchScorer. The scored output has no header line (see scoredHeader).
 */
export function createRangeScorer(predictor: Predictor, options: RangeScorerOptions): RangeScorer {
  if (options.format !== 'csv' && options.format !== 'jsonl') throw new RangeError(`format must be 'csv' or 'jsonl', received ${String(options.format)}`);
  if (!Number.isInteger(options.firstRow) || options.firstRow < 1) throw new RangeError(`firstRow must be a positive integer, received ${options.firstRow}`);
  const scorer = new Scorer(predictor, options.format, checkChunkRows(options.chunkRows), true, checkExplain(predictor, options.explain));
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
