// Reads a CSV file with a header row (plain or gzip-compressed) into numeric feature columns and an
// optional label column. Every error names the file, the data row (and its line) and the column:
// "data.csv: row 17 (line 18), column 'mean radius': 'abc' is not a number".
import { existsSync, readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type { Matrix } from '../models/training/matrix';

export class CsvFormatError extends Error {
  override readonly name = 'CsvFormatError';
}

export interface CsvTable {
  /** File name for messages. */
  readonly file: string;
  readonly header: readonly string[];
  /** Data rows (the header excluded), every one as wide as the header. */
  readonly rows: readonly (readonly string[])[];
  /** File line on which each data row ends, for messages. */
  readonly lines: readonly number[];
}

export interface NumericTable {
  readonly file: string;
  /** Feature column names, in column order. */
  readonly features: readonly string[];
  /** One row per data row, one column per feature. */
  readonly x: Matrix;
  /** The label column's name, when one was asked for. */
  readonly labelColumn?: string;
  /** The label cell of every row, trimmed, when a label column was asked for. */
  readonly labels?: readonly string[];
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Gunzips when the bytes start with the gzip magic number (whatever the file is called). */
export function maybeGunzip(bytes: Uint8Array, file = '<input>'): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) {
    try {
      return gunzipSync(bytes);
    } catch (error) {
      throw new CsvFormatError(`${file}: looks gzip-compressed but cannot be decompressed: ${(error as Error).message}`);
    }
  }
  return bytes;
}

function where(table: Pick<CsvTable, 'lines'>, index: number): string {
  return `row ${index + 1} (line ${table.lines[index]})`;
}

/** Parses CSV text (or bytes, gzip-compressed or not) whose first record is the header. */
export function parseCsv(input: string | Uint8Array, file = '<input>'): CsvTable {
  const text = typeof input === 'string' ? input : Buffer.from(maybeGunzip(input, file)).toString('utf8');
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { info: true, relax_column_count: true, skip_empty_lines: true, bom: true, trim: true }) as unknown as typeof records;
  } catch (error) {
    const e = error as Error & { lines?: number };
    throw new CsvFormatError(`${file}: not valid CSV${e.lines ? ` near line ${e.lines}` : ''}: ${e.message.replace(/^[^:]*: /, '')}`);
  }
  const first = records[0];
  if (!first) throw new CsvFormatError(`${file}: is empty; expected a header row and data rows`);
  const header = first.record;
  header.forEach((name, i) => {
    if (name === '') throw new CsvFormatError(`${file}: the header's column ${i + 1} has no name`);
  });
  if (header.every((name) => isNumber(name))) {
    throw new CsvFormatError(`${file}: the first line looks like data (${header.slice(0, 3).join(',')},...), not a header; add a header row naming the columns`);
  }
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw new CsvFormatError(`${file}: the header names column '${name}' twice`);
    seen.add(name);
  }
  const data = records.slice(1);
  if (data.length === 0) throw new CsvFormatError(`${file}: has a header but no data rows`);
  const lines = data.map((r) => r.info.lines);
  data.forEach((r, i) => {
    if (r.record.length !== header.length) {
      throw new CsvFormatError(`${file}: ${where({ lines }, i)} has ${r.record.length} values, the header has ${header.length} columns`);
    }
  });
  return { file, header, rows: data.map((r) => r.record), lines };
}

/** Reads and parses a CSV file; `.csv.gz` (any gzip content) is decompressed. */
export function readCsvFile(path: string): CsvTable {
  if (!existsSync(path)) throw new CsvFormatError(`${path}: file not found`);
  if (!statSync(path).isFile()) throw new CsvFormatError(`${path}: is not a file`);
  return parseCsv(readFileSync(path), path);
}

function isNumber(cell: string): boolean {
  return cell !== '' && Number.isFinite(Number(cell));
}

/**
 * Turns every column except the label column into float features. `labelColumn` must name a header column
 * when given; without it, every column is a feature.
 */
export function toNumericTable(table: CsvTable, labelColumn?: string): NumericTable {
  const { file, header } = table;
  let labelIndex = -1;
  if (labelColumn !== undefined) {
    labelIndex = header.indexOf(labelColumn);
    if (labelIndex < 0) {
      throw new CsvFormatError(`${file}: no column '${labelColumn}' for the label; the columns are ${describeColumns(header)}`);
    }
  }
  const featureIndices = header.map((_, i) => i).filter((i) => i !== labelIndex);
  if (featureIndices.length === 0) throw new CsvFormatError(`${file}: has no feature columns besides the label column '${labelColumn}'`);
  const cols = featureIndices.length;
  const data = new Float64Array(table.rows.length * cols);
  table.rows.forEach((row, r) => {
    featureIndices.forEach((c, j) => {
      const cell = row[c]!;
      const value = Number(cell);
      if (cell === '' || !Number.isFinite(value)) {
        const what = cell === '' ? 'is empty, expected a number' : `'${cell.length > 40 ? `${cell.slice(0, 37)}...` : cell}' is not a ${Number.isNaN(value) ? '' : 'finite '}number`;
        throw new CsvFormatError(`${file}: ${where(table, r)}, column '${header[c]}': ${what}`);
      }
      data[r * cols + j] = value;
    });
  });
  const features = featureIndices.map((i) => header[i]!);
  const x: Matrix = { rows: table.rows.length, cols, data };
  if (labelIndex < 0) return { file, features, x };
  const labels = table.rows.map((row, r) => {
    const cell = row[labelIndex]!;
    if (cell === '') throw new CsvFormatError(`${file}: ${where(table, r)}, column '${labelColumn}': the label is empty`);
    return cell;
  });
  return { file, features, x, labelColumn: labelColumn!, labels };
}

function describeColumns(header: readonly string[]): string {
  const shown = header.slice(0, 8).map((h) => `'${h}'`);
  return header.length > 8 ? `${shown.join(', ')}, ... (${header.length} in all)` : shown.join(', ');
}
