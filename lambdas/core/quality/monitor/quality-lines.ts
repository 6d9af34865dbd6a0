// Reading the two streams the quality monitor joins, one line at a time: labels (ground truth, `.jsonl`
// LabelRecord lines or `.csv` lines `id,index,label`) and prediction records (PredictionRecord lines). Each
// parser throws an Error naming what is wrong, so the join can count the line as rejected with its reason.
// The label parser is small and local to the monitor; the feedback API validates labels on the way in, this
// one checks them again on the way out (files dropped by other systems are read here unchecked otherwise).
import { INFERENCE_ID_PATTERN, MAX_INFERENCE_ID_CHARS, PREDICTION_MARKER, type LabelRecord, type PredictionRecord } from '../contracts';

/** A label as the join keeps it: its key, the truth (a class label or a value), the time it was received (epoch ms). */
export interface ParsedLabel {
  readonly id: string;
  readonly index: number;
  readonly label?: string;
  readonly value?: number;
  readonly time: number;
}

/** What a .csv label file's first line must be (columns `id,index,label`; `value` stands for label in a regressor's file). */
const CSV_HEADERS = new Set(['id,index,label', 'id,index,value']);

function checkId(id: unknown): string {
  if (typeof id !== 'string') throw new Error('id must be a string');
  if (!INFERENCE_ID_PATTERN.test(id)) throw new Error(`id must be 1 to ${MAX_INFERENCE_ID_CHARS} visible ASCII characters`);
  return id;
}

function checkIndex(index: unknown): number {
  if (!(typeof index === 'number' && Number.isSafeInteger(index) && index >= 0)) throw new Error(`index must be a whole number, 0 or more, received ${JSON.stringify(index)}`);
  return index;
}

/** One `.jsonl` label line (LabelRecord). */
export function parseLabelJson(line: string): ParsedLabel {
  let record: Partial<LabelRecord>;
  try {
    record = JSON.parse(line) as Partial<LabelRecord>;
  } catch {
    throw new Error('not JSON');
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new Error('not a JSON object');
  const id = checkId(record.id);
  const index = checkIndex(record.index ?? 0);
  const time = typeof record.time === 'string' ? Date.parse(record.time) : NaN;
  if (Number.isNaN(time)) throw new Error('time must be an ISO 8601 time');
  if (record.label !== undefined) {
    if (typeof record.label !== 'string') throw new Error('label must be a string');
    return { id, index, label: record.label, time };
  }
  if (record.value !== undefined) {
    if (!(typeof record.value === 'number' && Number.isFinite(record.value))) throw new Error('value must be a finite number');
    return { id, index, value: record.value, time };
  }
  throw new Error('has neither label nor value');
}

/**
 * One `.csv` label line `id,index,label` (no quoting: ids are visible ASCII without commas by convention, and a
 * label with a comma is rejected). `time` is the file's: the start of the hour it was dropped in, or its own
 * time when the store tells it. Returns undefined for the header line.
 */
export function parseLabelCsv(line: string, time: number, regression: boolean): ParsedLabel | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (CSV_HEADERS.has(text.replace(/\s+/g, '').toLowerCase())) return undefined;
  const cells = text.split(',');
  if (cells.length !== 3) throw new Error(`needs 3 columns id,index,label, found ${cells.length}`);
  const id = checkId(cells[0]!.trim());
  const indexText = cells[1]!.trim();
  const index = checkIndex(indexText === '' ? 0 : Number(indexText));
  const truth = cells[2]!.trim();
  if (truth === '') throw new Error('label is empty');
  if (!regression) return { id, index, label: truth, time };
  const value = Number(truth);
  if (!Number.isFinite(value)) throw new Error(`value must be a finite number, received ${JSON.stringify(truth)}`);
  return { id, index, value, time };
}

/** A prediction record line, checked as far as the join needs it. */
export function parsePredictionLine(line: string): PredictionRecord {
  let record: PredictionRecord;
  try {
    record = JSON.parse(line) as PredictionRecord;
  } catch {
    throw new Error('not JSON');
  }
  if (typeof record !== 'object' || record === null || record[PREDICTION_MARKER] !== 1) throw new Error(`not a prediction record (no "${PREDICTION_MARKER}": 1)`);
  if (typeof record.id !== 'string' || record.id === '') throw new Error('id must be a string');
  if (typeof record.version !== 'string') throw new Error('version must be a string');
  if (!(Number.isSafeInteger(record.first) && record.first >= 0)) throw new Error('first must be a whole number, 0 or more');
  if (!(Number.isSafeInteger(record.count) && record.count >= 1)) throw new Error('count must be a whole number, 1 or more');
  if (typeof record.time !== 'string') throw new Error('time must be an ISO 8601 time');
  if (record.predicted !== undefined) {
    if (!Array.isArray(record.predicted) || record.predicted.length !== record.count) throw new Error(`predicted must hold ${record.count} class indexes`);
    if (!Array.isArray(record.classes)) throw new Error('classes must list the class labels');
  } else if (typeof record.valuesFloat32 !== 'string') {
    throw new Error('has neither predicted nor valuesFloat32');
  }
  return record;
}
