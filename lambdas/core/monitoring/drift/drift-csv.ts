// The rows of a CSV file as model inputs for a drift check: the model's feature columns by name, in the
// model's order, as float32. A row with a cell that is not a number is left out of the figures and
// reported with its row, line, column and value (never dropped silently).
import { describeProblem, parseNumberText, type FieldProblem } from '../../batch/number-field';
import { CsvFormatError, type CsvTable } from '../../common/csv';

export interface RejectedRow {
  /** 1-based data row (the header is not counted) and the file line it ends on. */
  readonly row: number;
  readonly line: number;
  /** The first feature column at fault. */
  readonly column: string;
  readonly value: string;
  readonly problem: FieldProblem;
  /** e.g. "row 5 (line 6), column 'mean radius' is 'abc', not a number" */
  readonly message: string;
}

export interface DriftRows {
  /** Accepted rows, row-major, in the model's feature order. */
  readonly x: Float32Array;
  readonly rows: number;
  /** Data rows in the file. */
  readonly total: number;
  /** How many rows were left out, and the first `maxExamples` of them. */
  readonly rejectedCount: number;
  readonly rejected: RejectedRow[];
  /** Rejected rows per feature column at fault (first fault per row). */
  readonly rejectedByColumn: Record<string, number>;
  /** Columns of the file that are not model features (a label, an id), not used. */
  readonly ignoredColumns: string[];
}

/** How many rejected rows are kept with their details; the rest are only counted. */
export const MAX_REJECTED_EXAMPLES = 20;

export function driftRowsFromCsv(table: CsvTable, features: readonly string[], maxExamples = MAX_REJECTED_EXAMPLES): DriftRows {
  const positions = features.map((f) => table.header.indexOf(f));
  const missing = features.filter((_, i) => positions[i]! < 0);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map((m) => `'${m}'`).join(', ');
    throw new CsvFormatError(`${table.file}: has no column for ${missing.length} of the model's ${features.length} features: ${shown}${missing.length > 5 ? ', ...' : ''}`);
  }
  const width = features.length;
  const x = new Float32Array(table.rows.length * width);
  const rejected: RejectedRow[] = [];
  const rejectedByColumn: Record<string, number> = {};
  let rejectedCount = 0;
  let rows = 0;
  table.rows.forEach((cells, r) => {
    const offset = rows * width;
    for (let j = 0; j < width; j++) {
      const text = cells[positions[j]!]!;
      const { value, problem } = parseNumberText(text);
      if (problem) {
        rejectedCount++;
        rejectedByColumn[features[j]!] = (rejectedByColumn[features[j]!] ?? 0) + 1;
        if (rejected.length < maxExamples) {
          const line = table.lines[r]!;
          rejected.push({ row: r + 1, line, column: features[j]!, value: text, problem, message: `row ${r + 1} (line ${line}), column '${features[j]}' ${describeProblem(problem, text, false)}` });
        }
        return;
      }
      x[offset + j] = value;
    }
    rows++;
  });
  return {
    x: x.subarray(0, rows * width),
    rows,
    total: table.rows.length,
    rejectedCount,
    rejected,
    rejectedByColumn,
    ignoredColumns: table.header.filter((h) => !features.includes(h)),
  };
}
