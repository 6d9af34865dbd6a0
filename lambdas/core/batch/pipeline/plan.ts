// The plan step of the batch state machine: checks the execution input, lists the input objects and
// reads each (gzip too). For a Lambda model it cuts every file into ranges of whole rows (the manifest's
// rowsPerBatch each), numbered across files in key order, without parsing a field (RangeSplitter): the
// Distributed Map's items are those ranges, and each scorer call reads only its range's bytes. The
// user's file is never handed to Step Functions' own CSV/JSONL reader: in the cloud it fills missing
// fields with '' and skips extra ones, and one malformed JSON line fails the whole map run; here every
// row reaches the batch core and is scored or rejected with its reason. A gzipped file is unzipped once
// into the work prefix (ranges index plain bytes).
// For a SageMaker model the plan splits and parses every row with the same batch core and writes one
// KServe v2 request per row that parses (Batch Transform's input) and the rows themselves (Collect's).
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import { BatchInputError, scoredHeader, type BatchFormat } from '../batch-format';
import { explainedRowsPerBatch, explainTopKProblem } from '../explain-settings';
import { DEFAULT_MAX_EVALUATIONS } from '../../explain/explainer';
import { createRangeSplitter, type RowRange } from '../range-splitter';
import { createRecordSplitter } from '../record-splitter';
import { createRecordScorer } from '../scorers';
import type { BatchPrediction } from '../../models/inference-session';
import type { Predictor } from '../../serving/model-api';
import type { ModelCard } from '../../models/model-card';
import { ObjectNotFoundError, type ObjectStore } from '../../storage/object-store';
import { tritonRequest } from '../../sagemaker/triton-protocol';
import { BatchRequestError, WORK_ROOT, workKeys, workPrefixFor, type BatchPlan, type BatchRuntime, type PlanFile, type PlannedFile, type RangeItem } from './types';
/** SageMaker's limit on a transform job's name. */
const TRANSFORM_JOB_NAME_MAX = 63;

export interface PlanModel {
  readonly card: ModelCard;
  readonly runtime: BatchRuntime;
  /** runtime lambda: rows per Distributed Map item (the manifest's batch.rowsPerBatch). */
  readonly rowsPerBatch?: number;
  /** runtime sagemaker: transform jobs are named `<prefix>-<hash of the execution name>` (the role allows that prefix). */
  readonly transformJobPrefix?: string;
  /**
   * Attributions per scored row as columns (the manifest's batch.explainTopK); an execution input's explainTopK overrides it.
   * @default 0
   */
  readonly explainTopK?: number;
  /**
   * Permutation SHAP's model rows per explained row (the manifest's explain.maxEvaluations).
   * @default - the Explainer's default
   */
  readonly explainMaxEvaluations?: number;
}

export interface PlanOptions {
  readonly store: ObjectStore;
  /** The stage's data bucket: input, output and work files. */
  readonly bucket: string;
  /** The models the stack scores, by name. */
  readonly models: ReadonlyMap<string, PlanModel>;
  /** The execution's name: the work prefix is `_work/<name>/`. */
  readonly executionName: string;
  /** The execution input, unchecked. */
  readonly request: unknown;
}

export const batchRequestSchema = z.strictObject({
  model: z.string().min(1),
  /** An object key, or a prefix ending in '/', in the data bucket. */
  input: z.string().min(1),
  /** A prefix in the data bucket; '/' is added when missing. */
  output: z.string().min(1),
  format: z.enum(['csv', 'jsonl']).optional(),
  /** Attributions per scored row as columns, overriding the manifest's batch.explainTopK (0: none). */
  explainTopK: z.number().int().min(0).optional(),
});
export type BatchRequest = z.infer<typeof batchRequestSchema>;

/** The format a key's extension names (.csv, .jsonl, .ndjson, each optionally .gz), and whether it is gzipped. */
export function formatOfKey(key: string): { format: BatchFormat | undefined; gzip: boolean } {
  let name = key.toLowerCase();
  const gzip = name.endsWith('.gz');
  if (gzip) name = name.slice(0, -3);
  const format = name.endsWith('.csv') ? 'csv' : name.endsWith('.jsonl') || name.endsWith('.ndjson') ? 'jsonl' : undefined;
  return { format, gzip };
}

function parseRequest(request: unknown, models: ReadonlyMap<string, PlanModel>): BatchRequest & { output: string } {
  const parsed = batchRequestSchema.safeParse(request);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
    throw new BatchRequestError(`the execution input must be {"model", "input", "output", "format"?, "explainTopK"?}: ${problems.join('; ')}`);
  }
  const { model, input, format, explainTopK } = parsed.data;
  let output = parsed.data.output;
  if (!models.has(model)) throw new BatchRequestError(`unknown model '${model.slice(0, 100)}'; this stack scores: ${[...models.keys()].join(', ')}`);
  if (!output.endsWith('/')) output += '/';
  for (const [name, key] of [['input', input], ['output', output]] as const) {
    if (key.startsWith('/') || key === '/') throw new BatchRequestError(`${name} '${key}' must be a key or prefix in the data bucket, without a leading '/'`);
    if (key.startsWith(WORK_ROOT)) throw new BatchRequestError(`${name} '${key}' is under ${WORK_ROOT}, where the pipelines keep their work files (expired after a while)`);
  }
  if (input.endsWith('/') && output.startsWith(input)) {
    throw new BatchRequestError(`output '${output}' is inside the input prefix '${input}': a second run would read the outputs of the first as input`);
  }
  return { model, input, output, ...(format ? { format } : {}), ...(explainTopK !== undefined ? { explainTopK } : {}) };
}

interface InputFile {
  readonly key: string;
  readonly format: BatchFormat;
  readonly gzip: boolean;
}

async function inputFiles(store: ObjectStore, bucket: string, request: BatchRequest): Promise<InputFile[]> {
  const keys: string[] = [];
  if (request.input.endsWith('/')) {
    // Folder markers the console creates (keys ending in '/') are no files.
    for await (const object of store.list(bucket, request.input)) if (!object.key.endsWith('/')) keys.push(object.key);
    if (keys.length === 0) throw new BatchRequestError(`no objects under s3://${bucket}/${request.input}`);
  } else {
    keys.push(request.input);
  }
  const detected = keys.map((key) => ({ key, ...formatOfKey(key) }));
  if (request.format) return detected.map((f) => ({ ...f, format: request.format! }));
  const unknown = detected.find((f) => f.format === undefined);
  if (unknown) throw new BatchRequestError(`cannot tell the format of s3://${bucket}/${unknown.key} from its name (.csv, .jsonl, .ndjson, optionally .gz); give "format": "csv" or "jsonl"`);
  const formats = new Set(detected.map((f) => f.format));
  if (formats.size > 1) throw new BatchRequestError(`the input mixes CSV and JSON Lines files (${detected.slice(0, 4).map((f) => f.key).join(', ')}${detected.length > 4 ? ', ...' : ''}); give "format" or split the input`);
  return detected.map((f) => ({ ...f, format: f.format! }));
}

/** The bytes of an object, in pieces, gunzipped when .gz. */
async function* readBytes(store: ObjectStore, bucket: string, file: InputFile): AsyncGenerator<Uint8Array> {
  const bytes = store.readStream(bucket, file.key);
  let source: AsyncIterable<Uint8Array> = bytes;
  if (file.gzip) {
    const gunzip = createGunzip();
    pipeline(Readable.from(bytes), gunzip).catch((error: unknown) => gunzip.destroy(error as Error));
    source = gunzip;
  }
  try {
    yield* source;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new BatchRequestError(`no object s3://${bucket}/${file.key}`);
    if (file.gzip && (error as { code?: string }).code?.startsWith('Z_')) throw new BatchRequestError(`s3://${bucket}/${file.key} is not valid gzip: ${(error as Error).message}`);
    throw error;
  }
}

/** The pieces of `source`, each handed to `scan` before it goes on (a throw from scan ends the stream with it). */
async function* scanned(source: AsyncIterable<Uint8Array>, scan: (bytes: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  for await (const bytes of source) {
    scan(bytes);
    yield bytes;
  }
}

/** The text of an object, in pieces: UTF-8 decoded (invalid bytes become U+FFFD, as the file scorer reads them). */
async function* readText(store: ObjectStore, bucket: string, file: InputFile): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of readBytes(store, bucket, file)) yield decoder.decode(chunk, { stream: true });
  yield decoder.decode();
}

/** A Predictor that runs nothing: the plan only parses rows (the header check, a reject's reason, Batch Transform's requests). */
class ParseOnly implements Predictor {
  /** KServe v2 request lines of the rows that parsed, in order (when collecting). */
  readonly requests: string[] = [];
  constructor(
    readonly card: ModelCard,
    private readonly collect: boolean,
  ) {}

  async predict(rows: Float32Array, count: number): Promise<BatchPrediction> {
    const width = this.card.input.features.length;
    if (this.collect) for (let i = 0; i < count; i++) this.requests.push(tritonRequest(this.card, rows.subarray(i * width, (i + 1) * width), 1).body);
    const classes = this.card.task === 'regression' ? 1 : this.card.labels.length;
    return { count, scores: new Float32Array(count * classes), width: classes, classIndex: new Int32Array(this.card.task === 'regression' ? 0 : count) };
  }
}

function transformJobName(prefix: string, executionName: string): string {
  const hash = createHash('sha256').update(executionName).digest('hex').slice(0, 12);
  return `${prefix.slice(0, TRANSFORM_JOB_NAME_MAX - hash.length - 1)}-${hash}`;
}

/** Plans one run: writes plan.json and the scoring's input (ranges.jsonl; for SageMaker rows.jsonl and Batch Transform's requests); returns the plan. */
export async function planBatch(options: PlanOptions): Promise<BatchPlan> {
  const { store, bucket, models, executionName } = options;
  const request = parseRequest(options.request, models);
  const model = models.get(request.model)!;
  const { card } = model;
  // The run's explanations, checked before any input is read.
  const explainTopK = request.explainTopK ?? model.explainTopK ?? 0;
  const explainProblem = explainTopKProblem(explainTopK, card, model.runtime, request.explainTopK !== undefined ? 'explainTopK' : `the manifest's batch.explainTopK of ${card.name}`);
  if (explainProblem) throw new BatchRequestError(explainProblem);
  const explain = explainTopK > 0 ? { topK: explainTopK, ...(model.explainMaxEvaluations !== undefined ? { maxEvaluations: model.explainMaxEvaluations } : {}) } : undefined;
  const files = await inputFiles(store, bucket, request);
  const format = files[0]!.format;
  const workPrefix = workPrefixFor(executionName);
  const keys = workKeys(workPrefix);
  const sagemaker = model.runtime === 'sagemaker';
  const checker = createRecordScorer(new ParseOnly(card, false), { format, chunkRows: 1 });
  const checkHeader = (uri: string, header: string | undefined) => {
    if (format !== 'csv') return;
    if (header === undefined) throw new BatchRequestError(`${uri}: the input is empty; expected a header row naming the model features`);
    try {
      checker.header(header);
    } catch (error) {
      if (error instanceof BatchInputError) throw new BatchRequestError(`${uri}: ${error.message}`);
      throw error;
    }
  };

  const planned: PlannedFile[] = [];
  let rowsIn = 0;
  let transform: BatchPlan['transform'];
  if (sagemaker) {
    // Every row parsed here: Batch Transform gets one request per row that parses, Collect the rows.
    const requests = new ParseOnly(card, true);
    const parser = createRecordScorer(requests, { format, chunkRows: 8192 });
    const rowLines: string[] = [];
    for (const [index, file] of files.entries()) {
      const uri = `s3://${bucket}/${file.key}`;
      const splitter = createRecordSplitter(format);
      const firstRow = rowsIn + 1;
      let headerChecked = format !== 'csv';
      const take = async (records: string[]) => {
        if (!headerChecked && splitter.header !== undefined) {
          checkHeader(uri, splitter.header);
          parser.header(splitter.header);
          headerChecked = true;
        }
        for (const text of records) {
          rowsIn += 1;
          await parser.record(rowsIn, text);
          rowLines.push(JSON.stringify({ row: rowsIn, file: index, text }));
        }
      };
      for await (const text of readText(store, bucket, file)) await take(splitter.push(text));
      await take(splitter.end());
      checkHeader(uri, splitter.header);
      planned.push({ key: file.key, firstRow, rows: rowsIn - firstRow + 1, ...(splitter.header !== undefined ? { header: splitter.header } : {}) });
    }
    await parser.end();
    await store.write(bucket, keys.rows, rowLines.length === 0 ? '' : `${rowLines.join('\n')}\n`, 'application/x-ndjson');
    const inputKey = `${keys.transformInput}rows.jsonl`;
    await store.write(bucket, inputKey, requests.requests.length === 0 ? '' : `${requests.requests.join('\n')}\n`, 'application/json');
    transform = {
      jobName: transformJobName(model.transformJobPrefix ?? card.name, executionName),
      inputUri: `s3://${bucket}/${keys.transformInput}`,
      outputUri: `s3://${bucket}/${keys.transformOutput}`,
      rows: requests.requests.length,
    };
  } else {
    const manifestRows = model.rowsPerBatch;
    if (manifestRows === undefined || !Number.isInteger(manifestRows) || manifestRows < 1) throw new TypeError(`model '${card.name}' has no rowsPerBatch for its batches (received ${String(manifestRows)})`);
    // Permutation SHAP runs the model maxEvaluations times a row: smaller batches keep each call short.
    const rowsPerBatch = explain ? explainedRowsPerBatch(card, manifestRows, explain.maxEvaluations ?? DEFAULT_MAX_EVALUATIONS) : manifestRows;
    const items: string[] = [];
    for (const [index, file] of files.entries()) {
      const uri = `s3://${bucket}/${file.key}`;
      const splitter = createRangeSplitter(format, { rowsPerRange: rowsPerBatch, firstRow: rowsIn + 1 });
      const take = (ranges: RowRange[]) => {
        for (const range of ranges) items.push(JSON.stringify({ file: index, ...range } satisfies RangeItem));
      };
      let headerChecked = false;
      const scan = (bytes: Uint8Array) => {
        take(splitter.push(bytes));
        // Fail early on a header the model cannot read, before reading the whole file.
        if (!headerChecked && splitter.header !== undefined) {
          checkHeader(uri, splitter.header);
          headerChecked = true;
        }
      };
      let source = file.key;
      if (file.gzip) {
        // Kept unzipped, streamed as it is read: the scorers read byte ranges of it.
        source = keys.input(index);
        await store.writeStream(bucket, source, scanned(readBytes(store, bucket, file), scan), 'application/octet-stream');
      } else {
        for await (const bytes of readBytes(store, bucket, file)) scan(bytes);
      }
      take(splitter.end());
      checkHeader(uri, splitter.header);
      planned.push({ key: file.key, firstRow: rowsIn + 1, rows: splitter.rows, source, ...(splitter.header !== undefined ? { header: splitter.header } : {}) });
      rowsIn += splitter.rows;
    }
    await store.write(bucket, keys.items, items.length === 0 ? '' : `${items.join('\n')}\n`, 'application/x-ndjson');
  }

  const planFile: PlanFile = { model: card.name, version: card.version, format, rowsIn, files: planned, ...(explain ? { explain } : {}) };
  await store.write(bucket, keys.plan, `${JSON.stringify(planFile)}\n`, 'application/json');
  return {
    model: card.name,
    version: card.version,
    runtime: model.runtime,
    format,
    rowsIn,
    files: planned.length,
    input: request.input,
    outputPrefix: request.output,
    workPrefix,
    itemsKey: keys.items,
    resultsPrefix: keys.results,
    planKey: keys.plan,
    scoredHeader: scoredHeader(card, explainTopK),
    explainTopK,
    ...(transform ? { transform } : {}),
  };
}
