// One label line as the training-rows join reads it: a `.jsonl` LabelRecord line, or a data line of a `.csv`
// file whose header is `id,index,label` (`id,index,value` for a regressor). Each parser throws an Error
// naming what is wrong, so the caller counts the line as rejected with its reason and goes on.
import type { ModelCard } from '../../models/model-card';
import { INFERENCE_ID_PATTERN, MAX_INFERENCE_ID_CHARS, type LabelRecord } from '../contracts';

/** A label as the join keeps it: the instance it names and its truth (a class index, or a value). */
export interface JoinLabel {
  readonly id: string;
  readonly index: number;
  /** Classifiers: the class index in the card's labels; regressors: the true value. */
  readonly truth: number;
}

const CSV_HEADERS = new Set(['id,index,label', 'id,index,value']);

/** Whether a `.csv` label file's first line is the header it must have. */
export function isLabelCsvHeader(line: string): boolean {
  return CSV_HEADERS.has(line.replace(/^\uFEFF/, '').trim().replace(/\s*,\s*/g, ','));
}

/** Splits one CSV record (fields may be quoted, "" inside quotes is a quote; an id may hold a comma). */
export function csvCells(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  for (;;) {
    if (text[i] === '"') {
      let cell = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) throw new Error('a quoted field is not closed');
        cell += text.slice(i, q);
        if (text[q + 1] === '"') {
          cell += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      cells.push(cell);
      if (i === text.length) return cells;
      if (text[i] !== ',') throw new Error('text after a quoted field');
      i++;
    } else {
      const comma = text.indexOf(',', i);
      if (comma === -1) {
        cells.push(text.slice(i).trim());
        return cells;
      }
      cells.push(text.slice(i, comma).trim());
      i = comma + 1;
    }
  }
}

function checkId(id: unknown): string {
  if (typeof id !== 'string') throw new Error('id is not a string');
  if (!INFERENCE_ID_PATTERN.test(id)) throw new Error(`id must be 1 to ${MAX_INFERENCE_ID_CHARS} visible ASCII characters`);
  return id;
}

function checkIndex(index: unknown): number {
  if (!(typeof index === 'number' && Number.isSafeInteger(index) && index >= 0)) throw new Error(`index must be a whole number, 0 or more, received ${JSON.stringify(index)?.slice(0, 40)}`);
  return index;
}

function truthOf(label: unknown, value: unknown, card: ModelCard): number {
  if (card.task === 'regression') {
    if (!(typeof value === 'number' && Number.isFinite(value))) throw new Error(`value must be a finite number (${card.name} is a regressor), received ${JSON.stringify(value)?.slice(0, 40)}`);
    return value;
  }
  if (typeof label !== 'string') throw new Error(`label must be one of ${card.name}'s classes (${card.labels.join(', ')})`);
  const c = card.labels.indexOf(label);
  if (c < 0) throw new Error(`label '${label.slice(0, 40)}' is not one of ${card.name}'s classes (${card.labels.join(', ')})`);
  return c;
}

/** One `.jsonl` label line (a LabelRecord). */
export function parseLabelJsonLine(line: string, card: ModelCard): JoinLabel {
  let record: Partial<LabelRecord>;
  try {
    record = JSON.parse(line) as Partial<LabelRecord>;
  } catch {
    throw new Error('not JSON');
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) throw new Error('not a JSON object');
  return { id: checkId(record.id), index: checkIndex(record.index ?? 0), truth: truthOf(record.label, record.value, card) };
}

/** One data line of a `.csv` label file (`id,index,label`, or `id,index,value`). */
export function parseLabelCsvLine(line: string, card: ModelCard): JoinLabel {
  const cells = csvCells(line);
  if (cells.length !== 3) throw new Error(`has ${cells.length} fields, the header id,index,label has 3`);
  const [id, indexCell, truth] = cells as [string, string, string];
  const index = indexCell === '' ? 0 : /^\d+$/.test(indexCell) ? Number(indexCell) : NaN;
  if (Number.isNaN(index)) throw new Error(`index must be a whole number, 0 or more, received '${indexCell.slice(0, 40)}'`);
  return {
    id: checkId(id),
    index: checkIndex(index),
    truth: card.task === 'regression' ? truthOf(undefined, truth === '' ? NaN : Number(truth), card) : truthOf(truth, undefined, card),
  };
}
