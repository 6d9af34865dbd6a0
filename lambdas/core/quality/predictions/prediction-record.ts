// The prediction record lines (PredictionRecord, lambdas/core/quality/contracts.ts) of one answered request, and
// reading them back. Written for every request a model route answered 200, so they are small: the answer only
// (class index and probabilities, or value), numbers as float32 base64 so the request pays for no number
// formatting, split so no line passes the capture lines' limit (CloudWatch Logs' event limit), each line
// naming its instances [first, first + count). The quality monitor folds them with parsePredictionLine, which
// throws naming what is wrong, so one bad line is counted and described, never fatal.
import { float32Base64, float32FromBase64, MAX_CAPTURE_LINE_BYTES } from '../../monitoring/capture/capture-record';
import { INFERENCE_ID_PATTERN, PREDICTION_MARKER, type PredictionRecord } from '../contracts';

/** One answered request as the recorder gets it: references to the prediction's arrays, no copies. */
export interface AnsweredRequest {
  readonly model: string;
  /** The version that answered. */
  readonly version: string;
  readonly id: string;
  readonly time: Date;
  /** Instances answered. */
  readonly count: number;
  /** Classifiers: the class labels (the card's), the predicted class index per instance, and the probabilities when the model gives them (count x classes, row-major). */
  readonly classes?: readonly string[];
  readonly predicted?: Int32Array;
  readonly probabilities?: Float32Array;
  /** Regressors: the predicted value per instance. */
  readonly values?: Float32Array;
}

/** A prediction line read back: the instances [first, first + count) of request `id`. */
export interface PredictionBatch {
  readonly model: string;
  readonly version: string;
  readonly id: string;
  readonly time: Date;
  readonly first: number;
  readonly count: number;
  readonly classes?: readonly string[];
  readonly predicted?: Int32Array;
  readonly probabilities?: Float32Array;
  readonly values?: Float32Array;
}

/** The class list as JSON, made once per list (a card's), not per request. */
const quotedClasses = new WeakMap<readonly string[], string>();
function classesJson(classes: readonly string[]): string {
  let json = quotedClasses.get(classes);
  if (json === undefined) {
    json = JSON.stringify(classes);
    quotedClasses.set(classes, json);
  }
  return json;
}

/**
 * The request's PredictionRecord lines (no newline), each at most `maxBytes` bytes: instances in order, as many
 * per line as fit (one line for any usual request), every line repeating model, version, id and time.
 */
export function predictionLines(request: AnsweredRequest, maxBytes = MAX_CAPTURE_LINE_BYTES): string[] {
  const { count, classes, predicted, probabilities, values } = request;
  if (!(Number.isSafeInteger(count) && count > 0)) throw new RangeError(`a prediction record needs 1 or more instances, received ${count}`);
  const classifier = classes !== undefined;
  if (classifier) {
    if (!predicted || predicted.length < count) throw new RangeError(`${predicted?.length ?? 0} predicted classes for ${count} instances`);
    if (probabilities && probabilities.length < count * classes.length) throw new RangeError(`${probabilities.length} probabilities do not hold ${count} rows of ${classes.length} classes`);
  } else if (!values || values.length < count) {
    throw new RangeError(`${values?.length ?? 0} values for ${count} instances`);
  }
  const head =
    `{"${PREDICTION_MARKER}":1,"model":${JSON.stringify(request.model)},"version":${JSON.stringify(request.version)},` +
    `"id":${JSON.stringify(request.id)},"time":"${request.time.toISOString()}","first":`;
  const classList = classifier ? `,"classes":${classesJson(classes)},"predicted":[` : '';
  // Bytes per instance, at most: its class index and comma, its probabilities or value as base64 (which rounds up
  // by at most 4 bytes a line); the fixed part allows 48 for `first` and `count` with their key.
  const indexBytes = classifier ? String(Math.max(0, classes.length - 1)).length + 1 : 0;
  const numberBytes = classifier ? (probabilities ? classes.length * 4 : 0) : 4;
  const perInstance = indexBytes + (numberBytes * 4) / 3;
  const tail = 48 + '],"probabilitiesFloat32":""}'.length + 4;
  // A UTF-16 unit is at most 3 bytes of UTF-8: the usual request fits one line without measuring its text.
  const fits = (head.length + classList.length) * 3 + tail + count * perInstance <= maxBytes;
  const perLine = fits ? count : Math.floor((maxBytes - Buffer.byteLength(head) - Buffer.byteLength(classList) - tail) / perInstance);
  if (perLine < 1) throw new RangeError(`one instance takes more than a prediction line may (${maxBytes} bytes)`);
  const lines: string[] = [];
  for (let first = 0; first < count; first += perLine) {
    const n = Math.min(perLine, count - first);
    let line = `${head}${first},"count":${n}`;
    if (classifier) {
      line += `${classList}${predicted!.subarray(first, first + n).join(',')}]`;
      if (probabilities) line += `,"probabilitiesFloat32":"${float32Base64(probabilities, first * classes.length, n * classes.length)}"`;
    } else {
      line += `,"valuesFloat32":"${float32Base64(values!, first, n)}"`;
    }
    lines.push(`${line}}`);
  }
  return lines;
}

/** A prediction line that cannot be read; the message names the field. */
export class PredictionFormatError extends Error {
  override readonly name = 'PredictionFormatError';
}

function fail(message: string): never {
  throw new PredictionFormatError(message);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown, min: number): v is number => Number.isSafeInteger(v) && (v as number) >= min;

function floats(value: unknown, field: string, expected: number): Float32Array {
  if (typeof value !== 'string') fail(`"${field}" is not a string`);
  let out: Float32Array;
  try {
    out = float32FromBase64(value);
  } catch (error) {
    fail(`"${field}": ${(error as Error).message}`);
  }
  if (out.length !== expected) fail(`"${field}" holds ${out.length} values, expected ${expected}`);
  return out;
}

/** Checks one parsed prediction line; throws a PredictionFormatError naming what is wrong. */
export function checkPredictionRecord(value: unknown): PredictionBatch {
  if (!isObject(value)) fail('not a JSON object');
  if (value[PREDICTION_MARKER] !== 1) fail(`no "${PREDICTION_MARKER}": 1`);
  for (const key of ['model', 'version', 'id', 'time'] as const) if (typeof value[key] !== 'string') fail(`"${key}" is not a string`);
  const record = value as unknown as PredictionRecord;
  if (!INFERENCE_ID_PATTERN.test(record.id)) fail(`"id" is not an inference id: ${JSON.stringify(record.id.slice(0, 40))}`);
  const time = new Date(record.time);
  if (Number.isNaN(time.getTime())) fail(`"time" is not a date: ${record.time.slice(0, 40)}`);
  if (!isCount(record.first, 0)) fail('"first" is not a whole number, 0 or more');
  if (!isCount(record.count, 1)) fail('"count" is not a whole number, 1 or more');
  const { count } = record;
  const head = { model: record.model, version: record.version, id: record.id, time, first: record.first, count };
  if (record.classes !== undefined) {
    if (record.valuesFloat32 !== undefined) fail('both "classes" and "valuesFloat32": a line is a classifier\'s or a regressor\'s');
    const classes = record.classes as unknown;
    if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string')) fail('"classes" is not a non-empty array of strings');
    const raw = record.predicted as unknown;
    if (!Array.isArray(raw)) fail('"predicted" is not an array');
    if (raw.length !== count) fail(`"predicted" has ${raw.length} classes for ${count} instances`);
    const predicted = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const c = raw[i] as unknown;
      if (!(Number.isInteger(c) && (c as number) >= 0 && (c as number) < classes.length)) fail(`"predicted"[${i}] is not a class index below ${classes.length}: ${JSON.stringify(c)}`);
      predicted[i] = c as number;
    }
    const probabilities = record.probabilitiesFloat32 === undefined ? undefined : floats(record.probabilitiesFloat32, 'probabilitiesFloat32', count * classes.length);
    return { ...head, classes: classes as string[], predicted, ...(probabilities ? { probabilities } : {}) };
  }
  if (record.valuesFloat32 === undefined) fail('neither "classes" (a classifier\'s) nor "valuesFloat32" (a regressor\'s)');
  return { ...head, values: floats(record.valuesFloat32, 'valuesFloat32', count) };
}

/** Reads one prediction line; throws naming what is wrong (a SyntaxError when it is not JSON). */
export function parsePredictionLine(line: string): PredictionBatch {
  return checkPredictionRecord(JSON.parse(line));
}
