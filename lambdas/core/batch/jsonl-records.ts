// The batch scorer's JSON Lines reader: each line is one instance, as in the v1 API's request body (an
// array of the features' values in the model's order, or an object keyed by feature name, optionally with
// an `id`), written into the scorer's RowChunk or rejected with the reason the API would give.
import { FLOAT32_MAX, showField } from './number-field';
import type { RowChunk } from './row-chunk';

const CR = 13;

export class JsonlRecordReader {
  private readonly width: number;
  /** The id of the line being read. */
  private id = '';

  constructor(
    private readonly rows: RowChunk,
    private readonly features: readonly string[],
    private readonly featureIndex: ReadonlyMap<string, number>,
  ) {
    this.width = features.length;
  }

  /** Reads the line from `start` to `eol` (its LF, or the end; a CR before it is no part of it) as the next row. */
  parseJsonLine(buf: string, start: number, eol: number): void {
    const end = eol > start && buf.charCodeAt(eol - 1) === CR ? eol - 1 : eol;
    const line = buf.slice(start, end);
    const rows = this.rows;
    const row = ++rows.rowNumber;
    if (line.trim() === '') {
      rows.blankLines.push(row);
      return;
    }
    rows.judgeBlankLines();
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      rows.reject(row, `not valid JSON: ${(error as Error).message.slice(0, 200)}`, line);
      return;
    }
    const problem = this.putJson(value);
    if (problem === undefined) rows.accept(row, this.id);
    else rows.reject(row, problem, line);
  }

  /** Writes one JSON instance into the chunk as the v1 API would; returns the problem, if any. */
  private putJson(instance: unknown): string | undefined {
    const chunk = this.rows.chunk;
    const base = this.rows.count * this.width;
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
}

function jsonValueProblem(v: unknown): string {
  if (typeof v === 'number') return `is ${v}, not a finite number within float32 range`;
  return `must be a number, received ${describeJson(v)}`;
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${showField(value)}`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}
