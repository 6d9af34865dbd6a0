// Request decoding and response encoding for the two API forms: the v1 `:predict` form and the
// Open Inference Protocol v2 `infer`. Decoders turn JSON into one float32 row-major batch and name
// the exact field at fault when they cannot; encoders turn a batch prediction into the answer.
import { BadRequestError } from './errors';
import type { BatchPrediction } from '../models/inference-session';
import type { ModelCard } from '../models/model-card';

/** Largest magnitude a float32 holds; bigger JSON numbers would silently become Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;

export interface DecodedBatch {
  readonly rows: Float32Array;
  readonly count: number;
}

export interface DecodeLimits {
  readonly maxBatchSize: number;
}

/** What a decoder needs to know about the model, computed once per model. */
export class InputLayout {
  readonly width: number;
  readonly features: readonly string[];
  readonly featureIndex: ReadonlyMap<string, number>;
  readonly image: { readonly height: number; readonly width: number } | undefined;

  constructor(readonly card: ModelCard) {
    this.features = card.input.features;
    this.width = this.features.length;
    this.featureIndex = new Map(this.features.map((f, i) => [f, i]));
    this.image = card.input.image;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `the string '${value.length > 40 ? `${value.slice(0, 37)}...` : value}'`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'number') return String(value);
  return `${typeof value === 'object' ? 'an object' : `a ${typeof value}`}`;
}

function featureLabel(layout: InputLayout, index: number): string {
  const name = layout.features[index];
  return name === undefined ? '' : ` (${name})`;
}

/** Stores one value, or throws naming the field. Hot path: no allocation when the value is good. */
function put(rows: Float32Array, offset: number, value: unknown, field: () => string): void {
  if (typeof value !== 'number') throw new BadRequestError(`${field()} must be a number, received ${describe(value)}`);
  if (!(value <= FLOAT32_MAX && value >= -FLOAT32_MAX)) throw new BadRequestError(`${field()} must be a finite number within float32 range, received ${value}`);
  rows[offset] = value;
}

/** Rejects an empty batch or one over the limit, before anything is allocated for it. */
function checkBatchSize(field: string, count: number, limits: DecodeLimits): void {
  if (count === 0) throw new BadRequestError(`${field} must not be empty: send at least one instance`);
  if (count > limits.maxBatchSize) {
    throw new BadRequestError(`${field} has ${count} instances, more than the limit of ${limits.maxBatchSize} per request; split the batch`);
  }
}

function checkBatch(field: string, value: unknown, limits: DecodeLimits): unknown[] {
  if (!Array.isArray(value)) throw new BadRequestError(`${field} must be an array of instances, received ${describe(value)}`);
  checkBatchSize(field, value.length, limits);
  return value;
}

function asObject(body: unknown, expected: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError(`request body must be a JSON object with ${expected}, received ${describe(body)}`);
  }
  return body as Record<string, unknown>;
}

/** Writes one instance: an array of feature values, an image as rows of pixels, or an object keyed by feature name. */
function putInstance(rows: Float32Array, base: number, instance: unknown, field: string, layout: InputLayout): void {
  const width = layout.width;
  if (Array.isArray(instance)) {
    if (instance.length === width && (width !== layout.image?.height || !Array.isArray(instance[0]))) {
      for (let j = 0; j < width; j++) {
        const v = instance[j];
        if (typeof v === 'number' && v <= FLOAT32_MAX && v >= -FLOAT32_MAX) rows[base + j] = v;
        else put(rows, base + j, v, () => `${field}[${j}]${featureLabel(layout, j)}`);
      }
      return;
    }
    const image = layout.image;
    if (image && instance.length === image.height && Array.isArray(instance[0])) {
      for (let r = 0; r < image.height; r++) {
        const line = instance[r];
        if (!Array.isArray(line) || line.length !== image.width) {
          throw new BadRequestError(`${field}[${r}] must be an array of ${image.width} pixel values, received ${describe(line)}`);
        }
        for (let c = 0; c < image.width; c++) put(rows, base + r * image.width + c, line[c], () => `${field}[${r}][${c}]`);
      }
      return;
    }
    const imageHint = image ? ` (or ${image.height} rows of ${image.width} pixels)` : '';
    throw new BadRequestError(`${field} must have ${width} feature values${imageHint}, received ${instance.length}`);
  }
  if (typeof instance === 'object' && instance !== null) {
    const record = instance as Record<string, unknown>;
    let seen = 0;
    for (const key in record) {
      const index = layout.featureIndex.get(key);
      if (index === undefined) throw new BadRequestError(`${field} has unknown feature '${key.slice(0, 100)}'; expected features: ${layout.features.slice(0, 5).join(', ')}${layout.width > 5 ? ', ...' : ''}`);
      put(rows, base + index, record[key], () => `${field}['${key}']`);
      seen++;
    }
    if (seen !== width) {
      const missing = layout.features.filter((f) => !Object.hasOwn(record, f));
      throw new BadRequestError(`${field} is missing feature${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).map((f) => `'${f}'`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
    }
    return;
  }
  throw new BadRequestError(`${field} must be an array of ${width} feature values or an object keyed by feature name, received ${describe(instance)}`);
}

/** v1: `{"instances": [[...], {...}, ...]}`. */
export function decodeV1(body: unknown, layout: InputLayout, limits: DecodeLimits): DecodedBatch {
  const instances = checkBatch('instances', asObject(body, "an 'instances' array").instances, limits);
  const count = instances.length;
  const rows = new Float32Array(count * layout.width);
  for (let i = 0; i < count; i++) putInstance(rows, i * layout.width, instances[i], `instances[${i}]`, layout);
  return { rows, count };
}

const NUMERIC_DATATYPES = new Set(['FP32', 'FP64', 'FP16', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

interface V2Input {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: unknown;
}

function readV2Input(raw: unknown, index: number): V2Input {
  const field = `inputs[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadRequestError(`${field} must be an object with name, shape, datatype and data, received ${describe(raw)}`);
  const input = raw as Record<string, unknown>;
  if (typeof input.name !== 'string' || input.name === '') throw new BadRequestError(`${field}.name must be a non-empty string, received ${describe(input.name)}`);
  if (typeof input.datatype !== 'string' || !NUMERIC_DATATYPES.has(input.datatype)) {
    throw new BadRequestError(`${field}.datatype must be a numeric type such as FP32, received ${describe(input.datatype)}`);
  }
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.length === 0 || shape.length > 8 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new BadRequestError(`${field}.shape must be an array of non-negative integers with the batch size first, received ${describe(shape)}`);
  }
  if (input.data === undefined) throw new BadRequestError(`${field}.data is required`);
  return { name: input.name, shape: shape as number[], data: input.data };
}

/** Copies a flat or nested (row-major) array into `rows`, checking it holds exactly `expected` numbers. */
function putTensorData(rows: Float32Array, data: unknown, expected: number, field: string): void {
  if (!Array.isArray(data)) throw new BadRequestError(`${field} must be an array of numbers, received ${describe(data)}`);
  if (data.length === expected && (expected === 0 || !Array.isArray(data[0]))) {
    for (let k = 0; k < expected; k++) {
      const v = data[k];
      if (typeof v === 'number' && v <= FLOAT32_MAX && v >= -FLOAT32_MAX) rows[k] = v;
      else put(rows, k, v, () => `${field}[${k}]`);
    }
    return;
  }
  // Nested arrays: walk depth-first with an explicit stack (no recursion on hostile nesting).
  let written = 0;
  const stack: { array: unknown[]; next: number; path: string }[] = [{ array: data, next: 0, path: field }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.array.length) {
      stack.pop();
      continue;
    }
    const index = top.next++;
    const value = top.array[index];
    if (Array.isArray(value)) {
      if (stack.length >= 8) throw new BadRequestError(`${top.path}[${index}] is nested too deeply`);
      stack.push({ array: value, next: 0, path: `${top.path}[${index}]` });
      continue;
    }
    if (written >= expected) throw new BadRequestError(`${field} has more values than its shape says (${expected})`);
    put(rows, written++, value, () => `${top.path}[${index}]`);
  }
  if (written !== expected) throw new BadRequestError(`${field} has ${written} values, its shape says ${expected}`);
}

/**
 * v2 `infer`: either one tensor input (the model's input, shape [N, ...features]) or one input per
 * feature, each of shape [N] or [N, 1].
 */
export function decodeV2(body: unknown, layout: InputLayout, limits: DecodeLimits): DecodedBatch & { id: string | undefined } {
  const request = asObject(body, "an 'inputs' array");
  const id = request.id;
  if (id !== undefined && typeof id !== 'string') throw new BadRequestError(`id must be a string, received ${describe(id)}`);
  const rawInputs = request.inputs;
  if (!Array.isArray(rawInputs) || rawInputs.length === 0) {
    throw new BadRequestError(`inputs must be a non-empty array of input tensors, received ${describe(rawInputs)}`);
  }
  const inputs = rawInputs.map(readV2Input);
  const tensorName = layout.card.input.tensorName;
  if (inputs.length === 1 && !layout.featureIndex.has(inputs[0]!.name)) {
    const input = inputs[0]!;
    if (input.name !== tensorName) throw new BadRequestError(`inputs[0].name must be '${tensorName}' (the model's input) or a feature name, received '${input.name.slice(0, 100)}'`);
    const count = input.shape[0]!;
    const perInstance = input.shape.slice(1).reduce((a, b) => a * b, 1);
    if (input.shape.length < 2 || perInstance !== layout.width) {
      throw new BadRequestError(`inputs[0].shape must be [batch, ${layout.width}]${layout.image ? ` or [batch, ${layout.image.height}, ${layout.image.width}]` : ''}, received ${JSON.stringify(input.shape)}`);
    }
    checkBatchSize('inputs[0] batch', count, limits);
    const rows = new Float32Array(count * layout.width);
    putTensorData(rows, input.data, count * layout.width, 'inputs[0].data');
    return { rows, count, id };
  }

  // One input per feature (columns): every feature once, all with the same batch size.
  const count = inputs[0]!.shape[0]!;
  checkBatchSize('inputs[0] batch', count, limits);
  const rows = new Float32Array(count * layout.width);
  const column = new Float32Array(count);
  const seen = new Set<string>();
  inputs.forEach((input, i) => {
    const index = layout.featureIndex.get(input.name);
    if (index === undefined) throw new BadRequestError(`inputs[${i}].name '${input.name.slice(0, 100)}' is not a feature of this model; send one input named '${tensorName}' or one input per feature`);
    if (seen.has(input.name)) throw new BadRequestError(`inputs[${i}].name '${input.name}' appears more than once`);
    seen.add(input.name);
    if (input.shape[0] !== count || input.shape.slice(1).some((d) => d !== 1)) {
      throw new BadRequestError(`inputs[${i}].shape must be [${count}] or [${count}, 1] like inputs[0], received ${JSON.stringify(input.shape)}`);
    }
    putTensorData(column, input.data, count, `inputs[${i}].data`);
    for (let r = 0; r < count; r++) rows[r * layout.width + index] = column[r]!;
  });
  if (seen.size !== layout.width) {
    const missing = layout.features.filter((f) => !seen.has(f));
    throw new BadRequestError(`inputs is missing feature${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).map((f) => `'${f}'`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  }
  return { rows, count, id };
}

/** Probabilities rounded to 7 decimals: float32 noise like 0.98765432119369507 helps no one. */
function roundProbability(p: number): number {
  return Math.round(p * 1e7) / 1e7;
}

/**
 * v1 answer as JSON text: `{"predictions":[{"label":"benign","probabilities":{"malignant":0.01,"benign":0.99}}]}`
 * or `{"predictions":[{"value":1.5}]}`. Written directly rather than through JSON.stringify of
 * per-row objects: on small models this is a visible share of the request's cost.
 */
export function encodeV1(prediction: BatchPrediction, card: ModelCard): string {
  const { count, scores, width, classIndex } = prediction;
  const parts: string[] = new Array(count);
  if (card.task === 'regression') {
    for (let i = 0; i < count; i++) parts[i] = `{"value":${jsonNumber(scores[i]!)}}`;
  } else {
    const labels = card.labels.map((l) => JSON.stringify(l));
    for (let i = 0; i < count; i++) {
      let text = `{"label":${labels[classIndex[i]!]},"probabilities":{`;
      for (let j = 0; j < width; j++) text += `${j === 0 ? '' : ','}${labels[j]}:${roundProbability(scores[i * width + j]!)}`;
      parts[i] = `${text}}}`;
    }
  }
  return `{"predictions":[${parts.join(',')}]}`;
}

/** JSON has no NaN or Infinity: a model that returns them answers null rather than invalid JSON. */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

export interface V2Output {
  readonly name: string;
  readonly datatype: 'BYTES' | 'FP32';
  readonly shape: number[];
  readonly data: (string | number)[];
}

export interface V2Response {
  readonly model_name: string;
  readonly model_version: string;
  readonly id?: string;
  readonly outputs: V2Output[];
}

export function encodeV2(prediction: BatchPrediction, card: ModelCard, id: string | undefined): V2Response {
  const { count, scores, width, classIndex } = prediction;
  const head = { model_name: card.name, model_version: String(card.version), ...(id === undefined ? {} : { id }) };
  if (card.task === 'regression') {
    return { ...head, outputs: [{ name: 'value', datatype: 'FP32', shape: [count], data: Array.from(scores) }] };
  }
  const labels: string[] = new Array(count);
  for (let i = 0; i < count; i++) labels[i] = card.labels[classIndex[i]!]!;
  const probabilities: number[] = new Array(scores.length);
  for (let k = 0; k < scores.length; k++) probabilities[k] = roundProbability(scores[k]!);
  return {
    ...head,
    outputs: [
      { name: 'label', datatype: 'BYTES', shape: [count], data: labels },
      { name: 'probabilities', datatype: 'FP32', shape: [count, width], data: probabilities },
    ],
  };
}

/** v2 model metadata, with the feature names and labels a caller needs to build a request. */
export function modelMetadata(card: ModelCard) {
  const classes = card.labels.length;
  return {
    name: card.name,
    versions: [String(card.version)],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: card.input.tensorName, datatype: 'FP32', shape: [-1, ...(card.input.image ? [card.input.image.height, card.input.image.width] : [card.input.features.length])] }],
    outputs:
      card.task === 'regression'
        ? [{ name: 'value', datatype: 'FP32', shape: [-1] }]
        : [
            { name: 'label', datatype: 'BYTES', shape: [-1] },
            { name: 'probabilities', datatype: 'FP32', shape: [-1, classes] },
          ],
    parameters: { task: card.task, features: card.input.features, labels: card.labels, created_at: card.createdAt },
  };
}
