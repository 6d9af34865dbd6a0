// What the steps of the batch state machine hand each other (through the state input, so every piece
// stays small: rows and outputs live in the data bucket, under the run's work prefix), and the keys of
// the work files. One run's work files: _work/<execution name>/
//   plan.json                  the input files, their headers, row ranges and where their bytes are read
//   ranges.jsonl               Lambda models: the Distributed Map's items, one range of whole rows each:
//                              {"file": i, "start": byte, "end": byte, "firstRow": n, "rows": n}
//   inputs/<file index>        a gzipped input file, unzipped (ranges index bytes, so they need the plain text)
//   rows.jsonl                 SageMaker models: every row, {"row": n, "file": i, "text": "<raw record>"}
//   parts/<first row>.scored.csv and .rejects.jsonl   one pair per scored batch
//   results/<map run id>/...   the Distributed Map's ResultWriter (manifest.json, SUCCEEDED_n, FAILED_n)
//   transform-input/rows.jsonl, transform-output/rows.jsonl.out   SageMaker models: Batch Transform's files
import type { BatchExplainSettings } from '../batch-explain';
import type { BatchFormat } from '../batch-format';

export type BatchRuntime = 'lambda' | 'sagemaker';

/** The plan step's answer: what the scoring and summary steps need. Kept small (the state input). */
export interface BatchPlan {
  readonly model: string;
  readonly version: number;
  readonly runtime: BatchRuntime;
  readonly format: BatchFormat;
  /** Data rows of all the input files (blank lines followed by a row count; trailing ones do not). */
  readonly rowsIn: number;
  /** Input files read. */
  readonly files: number;
  /** The execution input's `input`: an object key, or a prefix ending in '/'. */
  readonly input: string;
  /** Where the outputs go: a prefix ending in '/'. */
  readonly outputPrefix: string;
  /** `_work/<execution name>/`. */
  readonly workPrefix: string;
  /** Lambda models: the row ranges, one JSON object per line (the Distributed Map's ItemReader reads it). */
  readonly itemsKey: string;
  /** Where the Distributed Map's ResultWriter writes (`<work prefix>results`). */
  readonly resultsPrefix: string;
  /** The files (keys, headers, row ranges). */
  readonly planKey: string;
  /** The scored CSV's header line, with its line end (with the explanation columns when the run explains). */
  readonly scoredHeader: string;
  /** Attributions per scored row as columns; 0 or absent: none. */
  readonly explainTopK?: number;
  /** runtime sagemaker: the Batch Transform job. */
  readonly transform?: TransformPlan;
}

export interface TransformPlan {
  /** Unique per execution, within SageMaker's 63 characters. */
  readonly jobName: string;
  /** s3:// prefix of the request lines (one KServe v2 request per row that parsed). */
  readonly inputUri: string;
  /** s3:// prefix Batch Transform writes `<input file>.out` under. */
  readonly outputUri: string;
  /** Requests written: the rows that parsed. */
  readonly rows: number;
}

/** One input file in plan.json. */
export interface PlannedFile {
  readonly key: string;
  /** Row number of the file's first data row; rows are numbered across files, in key order. */
  readonly firstRow: number;
  readonly rows: number;
  /** CSV: the header record (BOM removed). */
  readonly header?: string;
  /** Lambda models: the object whose bytes the ranges of this file index (the input itself, or its unzipped copy). */
  readonly source?: string;
}

export interface PlanFile {
  readonly model: string;
  readonly version: number;
  readonly format: BatchFormat;
  readonly rowsIn: number;
  readonly files: readonly PlannedFile[];
  /** The run's explanation columns (the execution input's explainTopK, else the manifest's); absent: none. */
  readonly explain?: BatchExplainSettings;
}

/** SageMaker models: one row (a line of rows.jsonl). */
export interface RowItem {
  readonly row: number;
  /** Index of the file in plan.json. */
  readonly file: number;
  /** The raw record, without its line end. */
  readonly text: string;
}

/** One item of the Distributed Map (a line of ranges.jsonl): rows firstRow .. firstRow + rows - 1 of a file, its bytes [start, end). */
export interface RangeItem {
  /** Index of the file in plan.json. */
  readonly file: number;
  readonly start: number;
  readonly end: number;
  readonly firstRow: number;
  readonly rows: number;
}

/** BatchInput of each batch. */
export interface BatchInput {
  readonly model: string;
  readonly workPrefix: string;
  readonly format: BatchFormat;
}

/** The event of the batch scorer function: one ItemBatcher batch. */
export interface ScoreBatchEvent {
  readonly Items: readonly RangeItem[];
  readonly BatchInput: BatchInput;
}

/** What a scored batch left in the work prefix: counts and keys only (a child execution's output). */
export interface BatchPartResult {
  readonly firstRow: number;
  readonly lastRow: number;
  readonly rows: number;
  readonly rowsScored: number;
  readonly rowsRejected: number;
  readonly scoredKey: string;
  /** Absent when the batch rejected no row: no empty object is written (a PUT per batch saved). */
  readonly rejectsKey?: string;
}

/** What the summary step gets from the scoring: the Map's ResultWriter manifest, or the parts themselves. */
export interface ScoringResult {
  readonly ResultWriterDetails?: { readonly Bucket: string; readonly Key: string };
  readonly batches?: readonly BatchPartResult[];
}

export interface BatchSummary {
  readonly model: string;
  readonly version: number;
  readonly format: BatchFormat;
  readonly input: string;
  readonly rowsIn: number;
  readonly rowsScored: number;
  readonly rowsRejected: number;
  readonly batches: number;
  readonly batchesFailed: number;
  readonly files: readonly { readonly file: string; readonly firstRow: number; readonly rows: number }[];
  readonly outputs: { readonly scored: string; readonly rejects: string; readonly summary: string };
  /** The run explained: attributions per scored row as columns. Absent when it did not. */
  readonly explainTopK?: number;
}

export const WORK_ROOT = '_work/';

export function workPrefixFor(executionName: string): string {
  return `${WORK_ROOT}${executionName}/`;
}

export const workKeys = (workPrefix: string) => ({
  rows: `${workPrefix}rows.jsonl`,
  items: `${workPrefix}ranges.jsonl`,
  plan: `${workPrefix}plan.json`,
  /** A gzipped input file's unzipped copy. */
  input: (file: number) => `${workPrefix}inputs/${String(file).padStart(6, '0')}`,
  results: `${workPrefix}results`,
  transformInput: `${workPrefix}transform-input/`,
  transformOutput: `${workPrefix}transform-output/`,
  part: (firstRow: number) => {
    const base = `${workPrefix}parts/${String(firstRow).padStart(12, '0')}`;
    return { scored: `${base}.scored.csv`, rejects: `${base}.rejects.jsonl` };
  },
});

/** A run's input or output cannot be used: bad execution input, unknown model, no such object, a file the model cannot read. */
export class BatchRequestError extends Error {
  override readonly name = 'BatchRequestError';
}

/** The outputs do not add up (rows in != scored + rejected): a bug, never passed over. */
export class BatchAccountingError extends Error {
  override readonly name = 'BatchAccountingError';
}
