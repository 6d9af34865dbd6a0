// What batch scoring reads and writes, shared by every scorer (scorers.ts) and the batch state machine's
// functions: the input formats and options, the output parts and summary, the error for an input that
// cannot be read at all, and the two kinds of output line besides a scored row: a reject line
// ({row, reason, input}, one per row that is not scored) and the scored CSV's header line.
import { explainColumns, type RowExplainer } from './batch-explain';
import { csvField } from './scored-writer';
import type { Predictor } from '../serving/model-api';

export type BatchFormat = 'csv' | 'jsonl';

export interface BatchScorerOptions {
  /** CSV with a header row naming the model's features (any order, optionally an `id` column), or JSON Lines. */
  readonly format: BatchFormat;
  /**
   * Rows scored per predict() call (one Float32Array of chunkRows x features).
   * @default 8192
   */
  readonly chunkRows?: number;
  /**
   * Adds each scored row's top attributions as columns (batch-explain.ts), computed on the chunk's rows.
   * @default - no explanation columns
   */
  readonly explain?: RowExplainer;
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

/**
 * The scored CSV's header line (with its line end) for a model: row,id,label,p_<label>... or row,id,value,
 * then, with explainTopK > 0, the explanation columns (explainColumns).
 */
export function scoredHeader(card: Predictor['card'], explainTopK = 0): string {
  const names = card.task === 'regression' ? ['row', 'id', 'value'] : ['row', 'id', 'label', ...card.labels.map((l) => `p_${l}`)];
  if (explainTopK > 0) names.push(...explainColumns(explainTopK));
  return `${names.map(csvField).join(',')}\n`;
}

/** options.chunkRows, checked; DEFAULT_CHUNK_ROWS when left out. */
export function checkChunkRows(value: number | undefined): number {
  if (value === undefined) return DEFAULT_CHUNK_ROWS;
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000) {
    throw new RangeError(`chunkRows must be an integer between 1 and 1000000, received ${value}`);
  }
  return value;
}
