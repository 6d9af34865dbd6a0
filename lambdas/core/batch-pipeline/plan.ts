// The plan step of the batch state machine: checks the execution input, lists the input objects, reads
// each as raw text (gzip too), splits it into records exactly as the batch core reads a file, numbers
// the rows across files (files in key order), and writes them to the run's work prefix as the
// Distributed Map's items. The user's file is never handed to Step Functions' own CSV/JSONL reader: in
// the cloud it fills missing fields with '' and skips extra ones, and one malformed JSON line fails the
// whole map run; here every row reaches the batch core and is scored or rejected with its reason.
// For a SageMaker model the plan also writes one KServe v2 request per row that parses (Batch Transform's
// input), parsing each row with the same batch core.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import { BatchInputError, createRecordScorer, createRecordSplitter, rejectLine, scoredHeader, type BatchFormat } from '../batch-scoring';
import type { BatchPrediction } from '../inference-session';
import type { Predictor } from '../model-api';
import type { ModelCard } from '../model-card';
import { ObjectNotFoundError, type ObjectStore } from '../object-store';
import { tritonRequest } from '../triton-protocol';
import { BatchRequestError, WORK_ROOT, workKeys, workPrefixFor, type BatchPlan, type BatchRuntime, type PlanFile, type PlannedFile } from './types';

/** Largest row item (its JSON line) the plan hands the Distributed Map; see MAX_INPUT_BYTES_PER_BATCH. */
export const MAX_ITEM_BYTES = 100_000;
/** ItemBatcher's MaxInputBytesPerBatch: under Step Functions' 256 KiB, leaving room for BatchInput. */
export const MAX_INPUT_BYTES_PER_BATCH = 200_000;
/** SageMaker's limit on a transform job's name. */
const TRANSFORM_JOB_NAME_MAX = 63;

export interface PlanModel {
  readonly card: ModelCard;
  readonly runtime: BatchRuntime;
  /** runtime sagemaker: transform jobs are named `<prefix>-<hash of the execution name>` (the role allows that prefix). */
  readonly transformJobPrefix?: string;
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
    throw new BatchRequestError(`the execution input must be {"model", "input", "output", "format"?}: ${problems.join('; ')}`);
  }
  const { model, input, format } = parsed.data;
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
  return { model, input, output, ...(format ? { format } : {}) };
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

/** The text of an object, in pieces: UTF-8 decoded (invalid bytes become U+FFFD, as the file scorer reads them), gunzipped when .gz. */
async function* readText(store: ObjectStore, bucket: string, file: InputFile): AsyncGenerator<string> {
  const bytes = store.readStream(bucket, file.key);
  let source: AsyncIterable<Uint8Array> = bytes;
  if (file.gzip) {
    const gunzip = createGunzip();
    pipeline(Readable.from(bytes), gunzip).catch((error: unknown) => gunzip.destroy(error as Error));
    source = gunzip;
  }
  const decoder = new TextDecoder('utf-8');
  try {
    for await (const chunk of source) yield decoder.decode(chunk, { stream: true });
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new BatchRequestError(`no object s3://${bucket}/${file.key}`);
    if (file.gzip && (error as { code?: string }).code?.startsWith('Z_')) throw new BatchRequestError(`s3://${bucket}/${file.key} is not valid gzip: ${(error as Error).message}`);
    throw error;
  }
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

/** Plans one run: writes rows.jsonl, plan.json (and, for SageMaker, Batch Transform's input); returns the plan. */
export async function planBatch(options: PlanOptions): Promise<BatchPlan> {
  const { store, bucket, models, executionName } = options;
  const request = parseRequest(options.request, models);
  const model = models.get(request.model)!;
  const { card } = model;
  const files = await inputFiles(store, bucket, request);
  const format = files[0]!.format;
  const workPrefix = workPrefixFor(executionName);
  const keys = workKeys(workPrefix);
  const sagemaker = model.runtime === 'sagemaker';

  const rowLines: string[] = [];
  let planRejects = '';
  let planRejectCount = 0;
  // Parses rows for Batch Transform (every row), or the rare row too large to be a Map item.
  const requests = new ParseOnly(card, sagemaker);
  const parser = createRecordScorer(requests, { format, chunkRows: sagemaker ? 8192 : 1 });
  const planned: PlannedFile[] = [];
  let row = 0;
  for (const [index, file] of files.entries()) {
    const uri = `s3://${bucket}/${file.key}`;
    const splitter = createRecordSplitter(format);
    const firstRow = row + 1;
    let headerChecked = format !== 'csv';
    const take = async (records: string[]) => {
      if (!headerChecked && splitter.header !== undefined) {
        try {
          parser.header(splitter.header);
        } catch (error) {
          if (error instanceof BatchInputError) throw new BatchRequestError(`${uri}: ${error.message}`);
          throw error;
        }
        headerChecked = true;
      }
      for (const text of records) {
        row += 1;
        const line = JSON.stringify({ row, file: index, text });
        if (sagemaker) {
          await parser.record(row, text);
          rowLines.push(line);
        } else if (Buffer.byteLength(line) > MAX_ITEM_BYTES) {
          // Its reason if the batch core rejects it anyway, else the size.
          const part = await parser.record(row, text);
          planRejects += part.rejects !== '' ? part.rejects : rejectLine(format, row, `the record is ${Buffer.byteLength(text)} bytes; a batch item holds at most ${MAX_ITEM_BYTES} (score a model with rows this large on runtime sagemaker)`, text);
          planRejectCount += 1;
        } else {
          rowLines.push(line);
        }
      }
    };
    for await (const text of readText(store, bucket, file)) await take(splitter.push(text));
    await take(splitter.end());
    if (format === 'csv' && splitter.header === undefined) throw new BatchRequestError(`${uri}: the input is empty; expected a header row naming the model features`);
    planned.push({ key: file.key, firstRow, rows: row - firstRow + 1, ...(splitter.header !== undefined ? { header: splitter.header } : {}) });
  }
  await parser.end();

  const planFile: PlanFile = { model: card.name, version: card.version, format, rowsIn: row, files: planned };
  await store.write(bucket, keys.rows, rowLines.length === 0 ? '' : `${rowLines.join('\n')}\n`, 'application/x-ndjson');
  await store.write(bucket, keys.plan, `${JSON.stringify(planFile)}\n`, 'application/json');
  if (planRejectCount > 0) await store.write(bucket, keys.planRejects, planRejects, 'application/x-ndjson');
  let transform: BatchPlan['transform'];
  if (sagemaker) {
    const inputKey = `${keys.transformInput}rows.jsonl`;
    await store.write(bucket, inputKey, requests.requests.length === 0 ? '' : `${requests.requests.join('\n')}\n`, 'application/json');
    transform = {
      jobName: transformJobName(model.transformJobPrefix ?? card.name, executionName),
      inputUri: `s3://${bucket}/${keys.transformInput}`,
      outputUri: `s3://${bucket}/${keys.transformOutput}`,
      rows: requests.requests.length,
    };
  }
  return {
    model: card.name,
    version: card.version,
    runtime: model.runtime,
    format,
    rowsIn: row,
    files: planned.length,
    input: request.input,
    outputPrefix: request.output,
    workPrefix,
    rowsKey: keys.rows,
    resultsPrefix: keys.results,
    planKey: keys.plan,
    planRejects: planRejectCount,
    planRejectsKey: keys.planRejects,
    scoredHeader: scoredHeader(card),
    ...(transform ? { transform } : {}),
  };
}
