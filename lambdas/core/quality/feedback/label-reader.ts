// Reads a label file streamed from an ObjectStore (the capture bucket, the local state folder, a bulk file), in
// memory that does not grow with the file: `.jsonl` files of LabelRecord lines (what the feedback API writes)
// and `.csv` files with a header naming `id`, `label` (or `value` for a regressor) and optionally `index` and
// `time` (what other systems drop under ground-truth/<model>/, and what `mlship feedback --file` takes). Every
// label is checked against the model as the feedback API checks it; a bad line is handed to `rejected` with its
// line number and reason, never dropped silently and never a crash. This is the one definition of what a label
// line means: the quality join (monitor/quality-join.ts, whose fast scanner must agree with it) and the
// training rows (training-rows/training-rows.ts) read labels through readLabels too.
import { parse } from 'csv-parse/sync';
import { DEFAULT_MAX_LINE_BYTES, readLines } from '../../storage/line-reader';
import type { ObjectStore } from '../../storage/object-store';
import type { LabelRecord } from '../contracts';
import { labelFileHour } from './label-keys';
import { labelProblem, type FeedbackTarget, type LabelFields } from './validate';

export interface LabelVisitor {
  /** A good label, from line `line` (1-based) of the file. */
  label(record: LabelRecord, line: number): void;
  /** A line that holds no good label: its number (1-based) and why. */
  rejected(line: number, reason: string): void;
}

export interface ReadLabelsOptions {
  /**
   * When the labels were received, for lines that carry no `time`.
   * @default - the hour the key names (ground-truth/<model>/<yyyy>/<MM>/<dd>/<HH>/); a line without a time in a key outside that layout is rejected
   */
  readonly receivedAt?: Date;
  /** Longest line held; a longer one is rejected with its length. @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
  /**
   * A faster reader of some `.jsonl` lines (the quality join's scanner of labelLine's own form), tried first
   * on each line as it comes: true when it took the line itself (it must read it as labelFromJsonLine does,
   * test/lambdas/core/quality/monitor/quality-lines-fast.test.ts), false to leave the line to this reader.
   * @default - every line read here
   */
  readonly fastLine?: (text: string, line: number) => boolean;
}

export interface LabelsRead {
  readonly lines: number;
  readonly labels: number;
  readonly rejected: number;
  /** Lines a `fastLine` took. */
  readonly fast: number;
  /** Bytes that came from the store. */
  readonly bytesRead: number;
}

/** The file formats a label file may have, by its name. */
export function labelFileFormat(key: string): 'jsonl' | 'csv' | undefined {
  const lower = key.toLowerCase();
  return lower.endsWith('.jsonl') ? 'jsonl' : lower.endsWith('.csv') ? 'csv' : undefined;
}

const JSONL_FIELDS = new Set(['id', 'index', 'label', 'value', 'time']);

/** A time a line may carry: ISO 8601 with a zone, as toISOString writes it. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

function normalTime(text: string): string | undefined {
  if (!ISO_TIME.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * One line read as a label: its fields, checked against the model (labelProblem), and its own time (ISO, as
 * toISOString writes it) when it has one; or why it is no label, as `field: reason`.
 */
export type LabelLine = { readonly fields: LabelFields; readonly time?: string } | { readonly problem: string };

/** One `.jsonl` line (a LabelRecord: id, index, label or value, time), checked against `target`. */
export function labelFromJsonLine(text: string, target: FeedbackTarget): LabelLine {
  return checked(fromJsonLine(text), target);
}

function checked(parsed: LabelLine, target: FeedbackTarget): LabelLine {
  if ('problem' in parsed) return parsed;
  const problem = labelProblem(parsed.fields, target);
  return problem === undefined ? parsed : { problem };
}

function fromJsonLine(text: string): LabelLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'is not a JSON object {id, index, label or value, time}' };
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => !JSONL_FIELDS.has(k));
  if (unknown !== undefined) return { problem: `${unknown}: is not a field of a label (id, index, label or value, time)` };
  if (typeof o.id !== 'string') return { problem: `id: ${o.id === undefined ? 'is missing' : 'must be a string'}` };
  if (o.index !== undefined && typeof o.index !== 'number') return { problem: 'index: must be a number' };
  if (o.label !== undefined && typeof o.label !== 'string') return { problem: 'label: must be a string' };
  if (o.value !== undefined && typeof o.value !== 'number') return { problem: 'value: must be a number' };
  let time: string | undefined;
  if (o.time !== undefined) {
    time = typeof o.time === 'string' ? normalTime(o.time) : undefined;
    if (time === undefined) return { problem: `time: ${JSON.stringify(o.time).slice(0, 40)} is not an ISO 8601 time with a zone` };
  }
  const fields: LabelFields = { id: o.id, index: (o.index as number | undefined) ?? 0, ...(o.label === undefined ? {} : { label: o.label as string }), ...(o.value === undefined ? {} : { value: o.value as number }) };
  return time === undefined ? { fields } : { fields, time };
}

/** The columns of a label CSV, by position, as its header names them (labelCsvColumns). */
export interface LabelCsvColumns {
  readonly width: number;
  readonly id: number;
  readonly index: number;
  readonly truth: number;
  readonly truthName: 'label' | 'value';
  readonly time: number;
}

function splitCsvLine(text: string): string[] | undefined {
  if (!text.includes('"')) return text.split(',').map((cell) => cell.trim());
  try {
    const records = parse(text, { relax_column_count: true, trim: true }) as string[][];
    return records.length === 1 ? records[0] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The header line of a `.csv` label file: the columns id and label (value for a regressor), index and time
 * optional, in any order; or why it is no header, as `header: reason`.
 */
export function labelCsvColumns(text: string, target: FeedbackTarget): LabelCsvColumns | string {
  const cells = splitCsvLine(text);
  return cells === undefined ? 'header: is not a CSV line' : csvHeader(cells, target);
}

/** One data line of a `.csv` label file with these columns, checked against `target`. */
export function labelFromCsvLine(text: string, columns: LabelCsvColumns, target: FeedbackTarget): LabelLine {
  const cells = splitCsvLine(text);
  return checked(cells === undefined ? { problem: 'is not a CSV line' } : fromCsvCells(cells, columns), target);
}

function csvHeader(cells: readonly string[], target: FeedbackTarget): LabelCsvColumns | string {
  const truthName = target.task === 'regression' ? 'value' : 'label';
  const expected = `id,index,${truthName} (index and time optional)`;
  const known = new Set(['id', 'index', truthName, 'time']);
  const unknown = cells.find((c) => !known.has(c));
  if (unknown !== undefined) return `header: column '${unknown.slice(0, 40)}' is not one of id, index, ${truthName}, time (${target.model} is a ${target.task === 'regression' ? 'regressor' : 'classifier'}); expected ${expected}`;
  const twice = cells.find((c, i) => cells.indexOf(c) !== i);
  if (twice !== undefined) return `header: names column '${twice}' twice`;
  const id = cells.indexOf('id');
  const truth = cells.indexOf(truthName);
  if (id < 0 || truth < 0) return `header: needs the columns id and ${truthName}; expected ${expected}`;
  return { width: cells.length, id, index: cells.indexOf('index'), truth, truthName, time: cells.indexOf('time') };
}

function fromCsvCells(cells: readonly string[], columns: LabelCsvColumns): LabelLine {
  if (cells.length !== columns.width) return { problem: `has ${cells.length} values, the header has ${columns.width} columns` };
  const id = cells[columns.id]!;
  if (id === '') return { problem: 'id: is empty' };
  const indexCell = columns.index < 0 ? '' : cells[columns.index]!;
  if (indexCell !== '' && !/^\d+$/.test(indexCell)) return { problem: `index: '${indexCell.slice(0, 40)}' is not a whole number, 0 or more` };
  const index = indexCell === '' ? 0 : Number(indexCell);
  const truthCell = cells[columns.truth]!;
  if (truthCell === '') return { problem: `${columns.truthName}: is empty` };
  let truth: { label: string } | { value: number };
  if (columns.truthName === 'label') truth = { label: truthCell };
  else {
    const value = Number(truthCell);
    if (!Number.isFinite(value)) return { problem: `value: '${truthCell.slice(0, 40)}' is not a finite number` };
    truth = { value };
  }
  let time: string | undefined;
  const timeCell = columns.time < 0 ? '' : cells[columns.time]!;
  if (timeCell !== '') {
    time = normalTime(timeCell);
    if (time === undefined) return { problem: `time: '${timeCell.slice(0, 40)}' is not an ISO 8601 time with a zone` };
  }
  const fields: LabelFields = { id, index, ...truth };
  return time === undefined ? { fields } : { fields, time };
}

/**
 * Streams the label file `key` of `bucket` (format by its name: .jsonl or .csv), handing each good label and
 * each rejected line to `visitor`, in file order. A file of neither format is one rejected line. An unfinished
 * last line (no newline) is read too: label files are complete when they are read.
 */
export async function readLabels(store: ObjectStore, bucket: string, key: string, target: FeedbackTarget, visitor: LabelVisitor, options: ReadLabelsOptions = {}): Promise<LabelsRead> {
  const format = labelFileFormat(key);
  if (format === undefined) {
    visitor.rejected(1, `the file's name must end in .jsonl (label records) or .csv (id,index,${target.task === 'regression' ? 'value' : 'label'}): ${key.slice(-80)}`);
    return { lines: 0, labels: 0, rejected: 1, fast: 0, bytesRead: 0 };
  }
  const defaultTime = (options.receivedAt ?? labelFileHour(key))?.toISOString();
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let lineNumber = 0;
  let labels = 0;
  let rejected = 0;
  let fast = 0;
  const fastLine = format === 'jsonl' ? options.fastLine : undefined;
  let columns: LabelCsvColumns | string | undefined;
  const reject = (line: number, reason: string) => {
    rejected++;
    visitor.rejected(line, reason);
  };
  const take = (raw: string) => {
    const line = ++lineNumber;
    if (fastLine !== undefined && fastLine(raw, line)) {
      fast++;
      return;
    }
    let text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') return;
    let parsed: LabelLine;
    if (format === 'jsonl') parsed = labelFromJsonLine(text, target);
    else if (columns === undefined) {
      columns = labelCsvColumns(text, target);
      if (typeof columns === 'string') reject(line, columns);
      return;
    } else if (typeof columns === 'string') {
      return reject(line, 'not read: the header (line 1) is not valid');
    } else {
      parsed = labelFromCsvLine(text, columns, target);
    }
    if ('problem' in parsed) return reject(line, parsed.problem);
    const time = parsed.time ?? defaultTime;
    if (time === undefined) return reject(line, 'time: is missing, and the file is not under ground-truth/<model>/<yyyy>/<MM>/<dd>/<HH>/ to take the hour from');
    labels++;
    visitor.label({ ...parsed.fields, time }, line);
  };
  const tooLong = (bytes: number) => {
    const line = ++lineNumber;
    reject(line, `is ${bytes} bytes long, longer than the ${maxLineBytes} a label line may have`);
  };
  const read = await readLines(store, bucket, key, { line: take, tooLong }, { maxLineBytes });
  let bytesRead = read.bytesRead;
  if (read.pendingBytes > 0) {
    // The last line has no newline: read it on its own (it is at most maxLineBytes, or skipped unread).
    if (read.pendingBytes > maxLineBytes) tooLong(read.pendingBytes);
    else {
      const pieces: Uint8Array[] = [];
      for await (const piece of store.readStream(bucket, key, { start: read.next, end: read.next + read.pendingBytes - 1 })) {
        pieces.push(piece);
        bytesRead += piece.byteLength;
      }
      take(Buffer.concat(pieces).toString('utf8'));
    }
  }
  if (format === 'csv' && columns === undefined) reject(1, `is empty; expected a header id,index,${target.task === 'regression' ? 'value' : 'label'} and rows`);
  return { lines: lineNumber, labels, rejected, fast, bytesRead };
}
