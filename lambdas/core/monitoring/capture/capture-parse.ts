// Reading captures back, both formats the capture bucket holds:
// - Lambda models: CaptureRecord JSON lines (lambdas/core/monitoring/contracts.ts), one or more per request;
// - SageMaker models: the endpoint's own data capture, one JSON line per request:
//   {"captureData":{"endpointInput":{"observedContentType","mode":"INPUT","data","encoding"},
//    "endpointOutput":{...,"mode":"OUTPUT",...}},"eventMetadata":{"eventId","inferenceTime"},"eventVersion":"0"}
//   where `data` is the body itself (encoding JSON, for content types listed as JSON in the capture config)
//   or its base64 (encoding BASE64); the bodies are Triton v2 JSON (lambdas/core/sagemaker/triton-protocol.ts).
// Both become CapturedBatch: rows as the model saw them and its predictions, for the drift accumulator.
// One line at a time (captureLineParser): the monitor reads objects as streams of lines, never whole. A line
// that cannot be read is counted and described, never fatal: one bad line must not hide a day of traffic.
import type { ModelCard } from '../../models/model-card';
import { float32FromBase64 } from './capture-record';
import { CAPTURE_MARKER, type CaptureRecord } from '../contracts';

/** Rows of one captured request (or part of one), ready for the drift accumulator. */
export interface CapturedBatch {
  /** When the request was answered. */
  readonly time: Date;
  /** The model version that answered, when the capture says. */
  readonly version?: string;
  /** The request's inference id and the index of this batch's first instance in it, when the capture says (Lambda lines since issue 17). */
  readonly id?: string;
  readonly first?: number;
  /** Row-major rows of the card's features, `count` of them. */
  readonly rows: Float32Array;
  readonly count: number;
  /** Predicted class index per row (classifiers), when captured. */
  readonly classIndex?: Int32Array;
  /** Predicted value per row (regressors), when captured. */
  readonly values?: Float32Array;
}

/** Lines of text in memory, read (parseLambdaCaptures, parseSageMakerCaptures). */
export interface ParsedCaptures {
  readonly batches: CapturedBatch[];
  /** Lines read (blank lines aside). */
  readonly lines: number;
  /** Lines that could not be read, and why (the first few). */
  readonly rejected: number;
  readonly problems: string[];
}

const MAX_PROBLEMS = 10;

class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
}

function fail(message: string): never {
  throw new CaptureFormatError(message);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks one parsed Lambda capture line; throws a CaptureFormatError naming what is wrong. */
export function checkCaptureRecord(value: unknown): CaptureRecord {
  if (!isObject(value)) fail('not a JSON object');
  if (value[CAPTURE_MARKER] !== 1) fail(`no "${CAPTURE_MARKER}": 1`);
  for (const key of ['model', 'version', 'time'] as const) if (typeof value[key] !== 'string') fail(`"${key}" is not a string`);
  if (Number.isNaN(Date.parse(value.time as string))) fail(`"time" is not a date: ${String(value.time).slice(0, 40)}`);
  if (typeof value.capturePercent !== 'number') fail('"capturePercent" is not a number');
  if (value.id !== undefined && typeof value.id !== 'string') fail('"id" is not a string');
  if (value.first !== undefined && !(Number.isSafeInteger(value.first) && (value.first as number) >= 0)) fail('"first" is not a whole number, 0 or more');
  if (value.inputsFloat32 !== undefined) {
    if (typeof value.inputsFloat32 !== 'string') fail('"inputsFloat32" is not a string');
    if (!(Number.isSafeInteger(value.width) && (value.width as number) > 0)) fail('"width" is not a positive whole number');
  } else {
    const inputs = value.inputs;
    if (!Array.isArray(inputs) || !inputs.every((row) => Array.isArray(row) && row.every((v) => typeof v === 'number' || v === null))) fail('no "inputsFloat32" and "inputs" is not an array of arrays of numbers');
  }
  if (value.labels !== undefined && !(Array.isArray(value.labels) && value.labels.every((l) => typeof l === 'string'))) fail('"labels" is not an array of strings');
  if (value.values !== undefined && !(Array.isArray(value.values) && value.values.every((v) => typeof v === 'number'))) fail('"values" is not an array of numbers');
  if (value.valuesFloat32 !== undefined && typeof value.valuesFloat32 !== 'string') fail('"valuesFloat32" is not a string');
  return value as unknown as CaptureRecord;
}

/** A Lambda capture record as rows of `card`'s features; labels become class indices in the card's order. */
export function batchOfRecord(record: CaptureRecord, card: ModelCard): CapturedBatch {
  const width = card.input.features.length;
  let rows: Float32Array;
  if (record.inputsFloat32 !== undefined) {
    if (record.width !== width) fail(`instances have ${record.width} values, ${card.name} has ${width} features`);
    rows = float32FromBase64(record.inputsFloat32);
    if (rows.length % width !== 0) fail(`${rows.length} values are not whole instances of ${width}`);
  } else {
    const inputs = record.inputs ?? [];
    rows = new Float32Array(inputs.length * width);
    inputs.forEach((row, i) => {
      if (row.length !== width) fail(`instance ${i} has ${row.length} values, ${card.name} has ${width} features`);
      // null stands for a value JSON cannot hold (NaN, infinity): counted as non-finite, in no bin
      for (let j = 0; j < width; j++) rows[i * width + j] = row[j] ?? NaN;
    });
  }
  const count = rows.length / width;
  let classIndex: Int32Array | undefined;
  if (record.labels) {
    if (record.labels.length !== count) fail(`${record.labels.length} labels for ${count} instances`);
    classIndex = new Int32Array(count);
    record.labels.forEach((label, i) => {
      const c = card.labels.indexOf(label);
      if (c < 0) fail(`label '${label.slice(0, 40)}' is not one of ${card.name}'s (${card.labels.join(', ')})`);
      classIndex![i] = c;
    });
  }
  const values = record.valuesFloat32 !== undefined ? float32FromBase64(record.valuesFloat32) : record.values ? Float32Array.from(record.values) : undefined;
  if (values && values.length !== count) fail(`${values.length} values for ${count} instances`);
  const named = record.id === undefined ? {} : { id: record.id, first: record.first ?? 0 };
  return { time: new Date(record.time), version: record.version, ...named, rows, count, ...(classIndex ? { classIndex } : {}), ...(values ? { values } : {}) };
}

/** Reads one capture line as a batch of a card's rows; throws naming what is wrong (a SyntaxError when it is not JSON). */
export type CaptureLineParser = (line: string) => CapturedBatch;

/** One Lambda capture line (a CaptureRecord) as a batch of `card`'s rows. */
export function parseLambdaCaptureLine(line: string, card: ModelCard): CapturedBatch {
  return batchOfRecord(checkCaptureRecord(JSON.parse(line)), card);
}

/** The line parser of a runtime's capture format: Lambda CaptureRecord lines, or SageMaker's own capture lines. */
export function captureLineParser(runtime: 'lambda' | 'sagemaker', card: ModelCard): CaptureLineParser {
  return runtime === 'sagemaker' ? (line) => parseSageMakerCaptureLine(line, card) : (line) => parseLambdaCaptureLine(line, card);
}

/** Why a line could not be read, as a problem line says it. */
export function lineProblem(error: unknown): string {
  return error instanceof SyntaxError ? 'not JSON' : error instanceof Error ? error.message : String(error);
}

/**
 * Capture lines already in memory (a request's lines, a test's text) as batches; blank lines are skipped.
 * An object in a bucket is read line by line instead (lambdas/core/storage/line-reader.ts), never whole.
 */
function parseLines(text: string, parse: CaptureLineParser): ParsedCaptures {
  const batches: CapturedBatch[] = [];
  let lines = 0;
  let rejected = 0;
  const problems: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    lines++;
    try {
      batches.push(parse(line));
    } catch (error) {
      rejected++;
      if (problems.length < MAX_PROBLEMS) problems.push(`line ${lines}: ${lineProblem(error)}`);
    }
  }
  return { batches, lines, rejected, problems };
}

/** Lambda capture lines (text in memory) as batches of `card`'s rows. */
export function parseLambdaCaptures(text: string, card: ModelCard): ParsedCaptures {
  return parseLines(text, captureLineParser('lambda', card));
}

// ---- SageMaker data capture ----

/** One side of a SageMaker capture line. */
export interface SageMakerCaptureData {
  readonly observedContentType: string;
  readonly mode: 'INPUT' | 'OUTPUT';
  readonly data: string;
  readonly encoding: 'JSON' | 'BASE64' | 'CSV';
}

/** A SageMaker data capture line, as the endpoint writes it. */
export interface SageMakerCaptureLine {
  readonly captureData: { readonly endpointInput: SageMakerCaptureData; readonly endpointOutput: SageMakerCaptureData };
  readonly eventMetadata: { readonly eventId: string; readonly inferenceTime: string; readonly inferenceId?: string };
  readonly eventVersion: string;
}

/**
 * The capture line SageMaker writes for one invocation: bodies listed as JSON content types are kept as text
 * (encoding JSON), others base64-encoded (encoding BASE64). The local endpoint writes these.
 */
export function sageMakerCaptureLine(options: {
  readonly eventId: string;
  readonly time: Date;
  readonly input: { readonly contentType: string; readonly body: string };
  readonly output: { readonly contentType: string; readonly body: string };
  readonly jsonContentTypes?: readonly string[];
}): string {
  const json = options.jsonContentTypes ?? ['application/json'];
  const side = (mode: 'INPUT' | 'OUTPUT', { contentType, body }: { contentType: string; body: string }): SageMakerCaptureData =>
    json.includes(contentType.split(';')[0]!.trim().toLowerCase())
      ? { observedContentType: contentType, mode, data: body, encoding: 'JSON' }
      : { observedContentType: contentType, mode, data: Buffer.from(body, 'utf8').toString('base64'), encoding: 'BASE64' };
  const line: SageMakerCaptureLine = {
    captureData: { endpointInput: side('INPUT', options.input), endpointOutput: side('OUTPUT', options.output) },
    eventMetadata: { eventId: options.eventId, inferenceTime: options.time.toISOString() },
    eventVersion: '0',
  };
  return JSON.stringify(line);
}

function bodyOf(side: unknown, what: string): unknown {
  if (!isObject(side)) fail(`no ${what}`);
  if (typeof side.data !== 'string') fail(`${what}.data is not a string`);
  let text: string;
  if (side.encoding === 'JSON') text = side.data;
  else if (side.encoding === 'BASE64') text = Buffer.from(side.data, 'base64').toString('utf8');
  else fail(`${what}.encoding ${String(side.encoding).slice(0, 20)} is not JSON or BASE64 (a Triton body is JSON)`);
  try {
    return JSON.parse(text);
  } catch {
    fail(`${what}.data is not JSON`);
  }
}

interface Tensor {
  readonly name: string;
  readonly shape: number[];
  readonly data: number[];
}

function tensorsOf(body: unknown, key: 'inputs' | 'outputs', what: string): Tensor[] {
  if (!isObject(body) || !Array.isArray(body[key])) fail(`${what} has no '${key}' array`);
  return (body[key] as unknown[]).map((t, i) => {
    if (!isObject(t) || typeof t.name !== 'string' || !Array.isArray(t.shape) || !Array.isArray(t.data)) fail(`${what} ${key}[${i}] is not a tensor {name, shape, data}`);
    const data = (t.data as unknown[]).flat(Infinity);
    if (!data.every((v) => typeof v === 'number')) fail(`${what} ${key}[${i}] holds values that are not numbers`);
    return { name: t.name, shape: t.shape as number[], data: data as number[] };
  });
}

/** One SageMaker capture line (Triton JSON bodies) as rows of `card`'s features and their predictions. */
export function batchOfSageMakerLine(value: unknown, card: ModelCard): CapturedBatch {
  if (!isObject(value) || !isObject(value.captureData)) fail('no captureData');
  const meta = value.eventMetadata;
  const time = isObject(meta) && typeof meta.inferenceTime === 'string' ? new Date(meta.inferenceTime) : new Date(NaN);
  if (Number.isNaN(time.getTime())) fail('no eventMetadata.inferenceTime');
  const request = bodyOf(value.captureData.endpointInput, 'endpointInput');
  const input = tensorsOf(request, 'inputs', 'endpointInput').find((t) => t.name === card.input.tensorName);
  if (!input) fail(`endpointInput has no input '${card.input.tensorName}'`);
  const width = card.input.features.length;
  const count = input.shape[0] ?? 0;
  if (!(Number.isSafeInteger(count) && count >= 1) || input.data.length !== count * width) fail(`endpointInput '${input.name}' holds ${input.data.length} values, not ${count} rows of ${width}`);
  const rows = Float32Array.from(input.data);
  const answer = bodyOf(value.captureData.endpointOutput, 'endpointOutput');
  const outputs = tensorsOf(answer, 'outputs', 'endpointOutput');
  const version = isObject(answer) && typeof answer.model_version === 'string' ? answer.model_version : undefined;
  const scores = outputs.find((t) => t.name === card.output.scoresTensor);
  const label = card.output.labelTensor ? outputs.find((t) => t.name === card.output.labelTensor) : undefined;
  const base = { time, rows, count, ...(version === undefined ? {} : { version }) };
  if (card.task === 'regression') {
    if (!scores || scores.data.length !== count) fail(`endpointOutput has no '${card.output.scoresTensor}' of ${count} values`);
    return { ...base, values: Float32Array.from(scores.data) };
  }
  if (label && label.data.length === count) return { ...base, classIndex: Int32Array.from(label.data) };
  const classes = card.labels.length;
  if (!scores || scores.data.length !== count * classes) fail(`endpointOutput has no '${card.output.scoresTensor}' of ${count} rows of ${classes} scores`);
  const classIndex = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores.data[i * classes + c]! > scores.data[i * classes + best]!) best = c;
    classIndex[i] = best;
  }
  return { ...base, classIndex };
}

/** One SageMaker capture line as a batch of `card`'s rows. */
export function parseSageMakerCaptureLine(line: string, card: ModelCard): CapturedBatch {
  return batchOfSageMakerLine(JSON.parse(line), card);
}

/** SageMaker capture lines (text in memory) as batches of `card`'s rows. */
export function parseSageMakerCaptures(text: string, card: ModelCard): ParsedCaptures {
  return parseLines(text, captureLineParser('sagemaker', card));
}
