// The JSON that SageMaker's Triton container speaks (KServe v2 / Open Inference Protocol, as Triton
// implements it): the request the SageMaker proxy sends with InvokeEndpoint, and the reading of Triton's
// answer back into a BatchPrediction. Pure: no onnxruntime, no SDK, so the proxy bundle stays small.
//
// Request:  {"inputs":[{"name":"input","shape":[2,64],"datatype":"FP32","data":[...]}],"outputs":[{"name":"probabilities"}]}
// Answer:   {"model_name":"digits","model_version":"3","outputs":[{"name":"probabilities","datatype":"FP32","shape":[2,10],"data":[...]}]}
// Triton names the version that answered in `model_version`: the repository's version folder, which the
// deployment sets to the model's mlship version (`<model>/<version>/model.onnx`).
import type { BatchPrediction } from '../models/inference-session';
import type { ModelCard } from '../models/model-card';
import { argmaxRows, softmaxRows } from '../common/row-math';

/** A batch prediction read from Triton's answer, with the version Triton says answered. */
export type TritonPrediction = BatchPrediction & { readonly servedVersion?: string };

/**
 * The per-instance dims of the input tensor, without the batch dimension: the card's own fixed dims
 * (e.g. [8, 8]) when they hold exactly the feature count, else [featureCount]. The same rule as the
 * in-process session, so Triton's config.pbtxt `dims` must be card.input.shape without its first entry.
 */
export function tritonInputDims(card: ModelCard): number[] {
  const features = card.input.features.length;
  const perInstance = card.input.shape.slice(1);
  const fixed = perInstance.length > 0 && perInstance.every((d) => d > 0) && perInstance.reduce((a, b) => a * b, 1) === features;
  return fixed ? perInstance : [features];
}

/** The InvokeEndpoint body for `count` rows of raw feature values (row-major, count x features). */
export function tritonRequest(card: ModelCard, rows: Float32Array, count: number): { body: string } {
  const features = card.input.features.length;
  if (rows.length !== count * features) throw new Error(`tritonRequest: ${rows.length} values is not ${count} rows of ${features} features`);
  // Float32 values widen to doubles exactly, and Triton narrows them back to the same float32.
  let data = '';
  for (let k = 0; k < rows.length; k++) {
    const v = rows[k]!;
    // JSON has no NaN or Infinity; the API's decoders never let them through.
    if (!Number.isFinite(v)) throw new Error(`tritonRequest: value ${k} is ${v}, not a finite number`);
    data += k === 0 ? String(v) : `,${v}`;
  }
  const input = `{"name":${JSON.stringify(card.input.tensorName)},"shape":${JSON.stringify([count, ...tritonInputDims(card)])},"datatype":"FP32","data":[${data}]}`;
  return { body: `{"inputs":[${input}],"outputs":[{"name":${JSON.stringify(card.output.scoresTensor)}}]}` };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/**
 * Reads Triton's answer for a request of `count` rows: the scores output by name, checked for datatype,
 * shape and size; softmax for a model whose scores are logits, argmax for the labels. Throws an Error
 * naming what is wrong when the answer is not what the model card says Triton must send.
 */
export function parseTritonResponse(card: ModelCard, text: string, count: number): TritonPrediction {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`the answer is not JSON (${(error as Error).message.slice(0, 100)}): ${JSON.stringify(text.slice(0, 100))}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`the answer must be a JSON object with 'outputs', received ${describe(json)}`);
  const answer = json as Record<string, unknown>;
  if (typeof answer.error === 'string') throw new Error(`the answer is an error: ${answer.error.slice(0, 300)}`);
  const outputs = answer.outputs;
  if (!Array.isArray(outputs)) throw new Error(`the answer's 'outputs' must be an array, received ${describe(outputs)}`);
  const name = card.output.scoresTensor;
  const index = outputs.findIndex((o) => typeof o === 'object' && o !== null && (o as Record<string, unknown>).name === name);
  if (index < 0) {
    const names = outputs.map((o) => (typeof o === 'object' && o !== null ? String((o as Record<string, unknown>).name) : describe(o)));
    throw new Error(`the answer has no output '${name}' (it has ${names.length === 0 ? 'no outputs' : names.map((n) => `'${n}'`).join(', ')})`);
  }
  const output = outputs[index] as Record<string, unknown>;
  const field = `outputs[${index}] ('${name}')`;
  if (output.datatype !== 'FP32') throw new Error(`${field}.datatype must be FP32, received ${describe(output.datatype)}`);
  const shape = output.shape;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${field}.shape must be an array of non-negative integers, received ${describe(shape)}`);
  }
  if (shape[0] !== count) throw new Error(`${field}.shape ${JSON.stringify(shape)} has ${shape[0]} rows, the request had ${count}`);
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  const width = count === 0 ? 0 : size / count;
  const regression = card.task === 'regression';
  if (regression ? width !== 1 : width !== card.labels.length) {
    throw new Error(`${field}.shape ${JSON.stringify(shape)} has ${width} values per row, model.json expects ${regression ? '1 (a regression value)' : `${card.labels.length} (one per label)`}`);
  }
  const data = output.data;
  if (!Array.isArray(data)) throw new Error(`${field}.data must be an array of numbers, received ${describe(data)}`);
  if (data.length !== size) throw new Error(`${field}.data has ${data.length} values, its shape ${JSON.stringify(shape)} says ${size}`);
  const scores = new Float32Array(size);
  for (let k = 0; k < size; k++) {
    const v = data[k];
    if (typeof v !== 'number') throw new Error(`${field}.data[${k}] must be a number, received ${describe(v)}`);
    scores[k] = v;
  }
  const version = answer.model_version;
  const servedVersion = typeof version === 'string' && version !== '' ? version : typeof version === 'number' ? String(version) : undefined;
  const head = servedVersion === undefined ? {} : { servedVersion };
  if (regression) return { count, scores, width, classIndex: new Int32Array(0), ...head };
  if (card.output.scoresKind === 'logits') softmaxRows(scores, width);
  return { count, scores, width, classIndex: argmaxRows(scores, width), ...head };
}
