// The summary step: gathers what the scoring left (the Distributed Map's ResultWriter manifest and result
// files, or the parts a transform collect wrote), turns every row of a batch that failed after its
// retries into a reject (never dropped), merges the parts in row order into <output>scored.csv and
// <output>rejects.jsonl, checks rows in = scored + rejected, and writes <output>summary.json. Nothing
// in the outputs depends on the execution (no names, no times): a rerun writes the same bytes.
import { StringDecoder } from 'node:string_decoder';
import { pMapIterable } from 'p-map';
import { rejectLine } from '../batch-format';
import { createRecordSplitter } from '../record-splitter';
import { readText, type ObjectStore } from '../../storage/object-store';
import { BatchAccountingError, type BatchPartResult, type BatchPlan, type BatchSummary, type PlanFile, type RangeItem, type ScoreBatchEvent, type ScoringResult } from './types';

/** Part files read at once. */
const PART_READS = 16;
const NOTHING = new Uint8Array(0);

export interface SummariseOptions {
  readonly store: ObjectStore;
  readonly bucket: string;
  readonly plan: BatchPlan;
  readonly scoring: ScoringResult;
  /** Deployment stage, for the notification's subject. */
  readonly stage: string;
  /**
   * How an output is named in the summary.
   * @default - s3://<bucket>/<key>
   */
  readonly locate?: (key: string) => string;
}

export interface SummariseResult {
  readonly summary: BatchSummary;
  /** The notification: subject (at most 100 characters, as SNS wants) and text. */
  readonly subject: string;
  readonly message: string;
}

/** A child execution's record in a ResultWriter file (the fields used here). */
interface ChildRecord {
  readonly Status?: string;
  readonly Input?: string;
  readonly Output?: string;
  readonly Error?: string;
  readonly Cause?: string;
}

interface ResultManifest {
  readonly ResultFiles?: { readonly SUCCEEDED?: { Key: string }[]; readonly FAILED?: { Key: string }[]; readonly PENDING?: { Key: string }[] };
}

/** A ResultWriter file: a JSON array (OutputType JSON) or one record per line (JSONL). */
function records(text: string): ChildRecord[] {
  const trimmed = text.trimStart();
  if (trimmed === '') return [];
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as ChildRecord[];
  return trimmed
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ChildRecord);
}

/** The message of a failed Lambda function (the Cause is {errorType, errorMessage, trace}), else the Cause itself. */
function causeText(cause: string | undefined): string {
  if (cause === undefined || cause === '') return 'no cause given';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage.slice(0, 500);
  } catch {
    // not JSON: as it is
  }
  return cause.slice(0, 500);
}

/** A batch in the merge: its scored part and rejects, or the rejects made for a failed batch. */
interface MergedBatch {
  readonly firstRow: number;
  readonly lastRow: number;
  readonly rows: number;
  readonly result?: BatchPartResult;
  /** A batch that failed after its retries: its ranges (in row order) and the reason its rows are rejected. */
  readonly failed?: { readonly items: readonly RangeItem[]; readonly reason: string };
}

/**
 * The records of a failed batch's ranges, read again from the input with the decoder the scorer reads
 * ranges with (so a reject's input is the text scoring saw), numbered; throws when a range does not hold
 * the rows the plan counted.
 */
async function* failedRecords(store: ObjectStore, bucket: string, format: BatchPlan['format'], planFile: PlanFile, items: readonly RangeItem[]): AsyncGenerator<{ row: number; text: string }> {
  for (const item of items) {
    const source = planFile.files[item.file]?.source;
    if (source === undefined) throw new BatchAccountingError(`a failed batch names file ${item.file}, which plan.json does not list: its rows cannot be accounted for`);
    const splitter = createRecordSplitter(format, { range: true });
    const decoder = new StringDecoder('utf8');
    let count = 0;
    const numbered = function* (records: string[]) {
      for (const text of records) yield { row: item.firstRow + count++, text };
    };
    for await (const bytes of store.readStream(bucket, source, { start: item.start, end: item.end - 1 })) yield* numbered(splitter.push(decoder.write(bytes)));
    yield* numbered([...splitter.push(decoder.end()), ...splitter.end()]);
    if (count !== item.rows) throw new BatchAccountingError(`a failed batch's range of s3://${bucket}/${source} from byte ${item.start} holds ${count} rows, the plan counted ${item.rows}`);
  }
}

/**
 * A batch that failed after its retries: every row of its ranges becomes a reject with the batch's error.
 * Its ranges are read here only to count their rows; the rejects are made as the rejects file is written.
 */
async function failedBatch(store: ObjectStore, bucket: string, record: ChildRecord, plan: BatchPlan, planFile: PlanFile): Promise<MergedBatch> {
  let items: readonly RangeItem[];
  try {
    items = (JSON.parse(record.Input ?? '') as ScoreBatchEvent).Items;
    if (!Array.isArray(items) || items.length === 0) throw new TypeError('no Items');
  } catch {
    throw new BatchAccountingError(`a failed batch's Input is not a batch (${String(record.Input).slice(0, 200)}): its rows cannot be accounted for`);
  }
  const reason = `batch failed after retries: ${record.Error ?? 'Error'}: ${causeText(record.Cause)}`;
  const sorted = [...items].sort((a, b) => a.firstRow - b.firstRow);
  let rows = 0;
  let lastRow = 0;
  for await (const record of failedRecords(store, bucket, plan.format, planFile, sorted)) {
    rows += 1;
    lastRow = record.row;
  }
  return { firstRow: sorted[0]!.firstRow, lastRow, rows, failed: { items: sorted, reason } };
}

async function batchesOf(store: ObjectStore, bucket: string, plan: BatchPlan, planFile: PlanFile, scoring: ScoringResult): Promise<MergedBatch[]> {
  const merged: MergedBatch[] = [];
  const add = (result: BatchPartResult) => merged.push({ firstRow: result.firstRow, lastRow: result.lastRow, rows: result.rows, result });
  if (scoring.batches) scoring.batches.forEach(add);
  const details = scoring.ResultWriterDetails;
  if (details) {
    const manifest = JSON.parse(await readText(store, details.Bucket, details.Key)) as ResultManifest;
    const files = manifest.ResultFiles ?? {};
    if ((files.PENDING ?? []).length > 0) throw new BatchAccountingError(`the map run left ${files.PENDING!.length} result files PENDING: its rows cannot be accounted for`);
    for (const file of files.SUCCEEDED ?? []) {
      for (const record of records(await readText(store, details.Bucket, file.Key))) add(JSON.parse(record.Output ?? 'null') as BatchPartResult);
    }
    for (const file of files.FAILED ?? []) {
      for (const record of records(await readText(store, details.Bucket, file.Key))) merged.push(await failedBatch(store, bucket, record, plan, planFile));
    }
  }
  return merged.sort((a, b) => a.firstRow - b.firstRow);
}

function subjectLine(summary: BatchSummary, stage: string): string {
  const subject = `[batch] ${summary.model} v${summary.version}: ${summary.rowsIn} rows, ${summary.rowsScored} scored, ${summary.rowsRejected} rejected (${stage})`;
  return subject.length <= 100 ? subject : `${subject.slice(0, 97)}...`;
}

function messageText(summary: BatchSummary, stage: string): string {
  return [
    `Batch scoring of ${summary.model} v${summary.version} (${stage}) finished.`,
    '',
    `Input:     ${summary.input} (${summary.files.length} file${summary.files.length === 1 ? '' : 's'}, ${summary.format})`,
    `Rows in:   ${summary.rowsIn}`,
    `Scored:    ${summary.rowsScored}`,
    `Rejected:  ${summary.rowsRejected}${summary.batchesFailed > 0 ? ` (of which the rows of ${summary.batchesFailed} batch${summary.batchesFailed === 1 ? '' : 'es'} that failed after retries)` : ''}`,
    ...(summary.explainTopK ? [`Explained: the top ${summary.explainTopK} attribution${summary.explainTopK === 1 ? '' : 's'} of each scored row (explain_* columns)`] : []),
    '',
    `Scored rows: ${summary.outputs.scored}`,
    `Rejects:     ${summary.outputs.rejects} (each line names its row and the reason)`,
    `Summary:     ${summary.outputs.summary}`,
  ].join('\n');
}

export async function summariseBatch(options: SummariseOptions): Promise<SummariseResult> {
  const { store, bucket, plan, scoring, stage } = options;
  const locate = options.locate ?? ((key: string) => `s3://${bucket}/${key}`);
  const planFile = JSON.parse(await readText(store, bucket, plan.planKey)) as PlanFile;
  const batches = await batchesOf(store, bucket, plan, planFile, scoring);

  let covered = 0;
  let previous = 0;
  let rowsScored = 0;
  let rowsRejected = 0;
  let batchesFailed = 0;
  for (const batch of batches) {
    if (batch.firstRow <= previous) throw new BatchAccountingError(`batches overlap: one starts at row ${batch.firstRow}, the one before ends at row ${previous}`);
    previous = batch.lastRow;
    covered += batch.rows;
    if (batch.result) {
      const { result } = batch;
      if (result.rowsScored + result.rowsRejected !== result.rows) throw new BatchAccountingError(`the batch from row ${result.firstRow} scored ${result.rowsScored} and rejected ${result.rowsRejected} of ${result.rows} rows`);
      if (result.rowsRejected > 0 && result.rejectsKey === undefined) throw new BatchAccountingError(`the batch from row ${result.firstRow} rejected ${result.rowsRejected} rows but names no rejects file`);
      rowsScored += result.rowsScored;
      rowsRejected += result.rowsRejected;
    } else {
      batchesFailed += 1;
      rowsRejected += batch.rows;
    }
  }
  if (covered !== plan.rowsIn || rowsScored + rowsRejected !== plan.rowsIn) {
    throw new BatchAccountingError(`rows do not add up: ${plan.rowsIn} rows in, ${rowsScored} scored + ${rowsRejected} rejected (batches covered ${covered} rows); the outputs were not written`);
  }
  const out = plan.outputPrefix;
  const keys = { scored: `${out}scored.csv`, rejects: `${out}rejects.jsonl`, summary: `${out}summary.json` };
  const summary: BatchSummary = {
    model: plan.model,
    version: plan.version,
    format: plan.format,
    input: locate(plan.input),
    rowsIn: plan.rowsIn,
    rowsScored,
    rowsRejected,
    batches: batches.length,
    batchesFailed,
    files: planFile.files.map((f) => ({ file: locate(f.key), firstRow: f.firstRow, rows: f.rows })),
    outputs: { scored: locate(keys.scored), rejects: locate(keys.rejects), summary: locate(keys.summary) },
    ...(planFile.explain ? { explainTopK: planFile.explain.topK } : {}),
  };
  // Streamed in row order, each part read once, PART_READS of them ahead (one GetObject after another
  // would cost a round trip per batch): memory stays at a few parts and upload parts, whatever the run's size.
  const inOrder = (read: (batch: MergedBatch) => Promise<Uint8Array>) => pMapIterable(batches, read, { concurrency: PART_READS });
  const scoredPieces = async function* () {
    yield Buffer.from(plan.scoredHeader, 'utf8');
    yield* inOrder(async (batch) => (batch.result ? store.read(bucket, batch.result.scoredKey) : NOTHING));
  };
  const rejectPieces = () =>
    inOrder(async (batch) => {
      if (batch.result) return batch.result.rejectsKey === undefined ? NOTHING : store.read(bucket, batch.result.rejectsKey);
      let lines = '';
      for await (const { row, text } of failedRecords(store, bucket, plan.format, planFile, batch.failed!.items)) lines += rejectLine(plan.format, row, batch.failed!.reason, text);
      return Buffer.from(lines, 'utf8');
    });
  await store.writeStream(bucket, keys.scored, scoredPieces(), 'text/csv');
  await store.writeStream(bucket, keys.rejects, rejectPieces(), 'application/x-ndjson');
  // Last: its presence says the other two are complete.
  await store.write(bucket, keys.summary, `${JSON.stringify(summary, null, 2)}\n`, 'application/json');
  return { summary, subject: subjectLine(summary, stage), message: messageText(summary, stage) };
}
