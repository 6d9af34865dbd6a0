// Triton's model configuration (config.pbtxt, protobuf text format of inference.ModelConfig) for one model
// version, generated from its model card: what the SageMaker GPU path packs next to model.onnx. Pure: no
// file system, no AWS. The model repository is `<model>/config.pbtxt` + `<model>/<version>/model.onnx`,
// so the model's mlship version is Triton's version folder and Triton's answers carry
// `model_version` = the mlship version.
import type { ModelCard } from '../models/model-card';
import type { TensorInfo } from '../models/onnx-inspect';

/**
 * The largest `max_batch_size` generated. Each request reaches Triton as one batch of up to this many
 * rows, and the dynamic batcher never forms a batch above it; a manifest `maxBatchSize` above it is
 * refused for runtime sagemaker (lib/stack/mlship-stack.ts) rather than silently cut.
 */
export const TRITON_MAX_BATCH_SIZE = 1024;

/** How long the dynamic batcher may hold a request to batch it with others, by default: 0.1 ms. */
export const DEFAULT_MAX_QUEUE_DELAY_MICROSECONDS = 100;

/** Where Triton runs the model: a GPU instance family, or a CPU one. */
export type TritonDevice = 'gpu' | 'cpu';

export interface TritonConfigSettings {
  /** Most instances in one request (the manifest entry's maxBatchSize); capped at TRITON_MAX_BATCH_SIZE. */
  readonly maxBatchSize: number;
  /** KIND_GPU or KIND_CPU instance group. */
  readonly device: TritonDevice;
  /**
   * Longest wait of a request in the dynamic batcher's queue, in microseconds.
   * @default 100
   */
  readonly maxQueueDelayMicroseconds?: number;
  /**
   * Model instances per GPU (or on the CPU).
   * @default 1
   */
  readonly instanceCount?: number;
  /**
   * The ONNX graph's input and outputs as `inspectOnnx` reads them. When given, dims come from the graph
   * (so a [N] output becomes dims [ 1 ] with an empty reshape, as Triton requires); when left out, from
   * the card: input shape after the batch dimension, scores [classes] (regression [1]), label [N].
   * @default - dims from the model card
   */
  readonly graph?: { readonly inputs: readonly TensorInfo[]; readonly outputs: readonly TensorInfo[] };
}

/** The files of a model version inside Triton's model repository (and so inside model.tar.gz). */
export function tritonRepositoryPaths(card: Pick<ModelCard, 'name' | 'version'>): { config: string; versionDir: string; onnx: string } {
  return { config: `${card.name}/config.pbtxt`, versionDir: `${card.name}/${card.version}`, onnx: `${card.name}/${card.version}/model.onnx` };
}

/** A dimension as Triton writes it: a fixed size, or -1 for a variable one (an ONNX dim_param or unknown). */
function dim(value: number | string): number {
  return typeof value === 'number' && value > 0 ? value : -1;
}

const isVariable = (value: number | string | undefined): boolean => value === undefined || dim(value) === -1;

/** A protobuf text-format string literal. */
function quote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

const list = (values: readonly number[]): string => (values.length === 0 ? '[ ]' : `[ ${values.join(', ')} ]`);

interface TensorSpec {
  readonly name: string;
  readonly dataType: 'TYPE_FP32' | 'TYPE_INT64';
  readonly dims: readonly number[];
  /** The shape the model itself has, when it differs from dims (a [N] tensor is dims [ 1 ], reshape [ ]). */
  readonly reshape?: readonly number[];
}

function tensorBlock(spec: TensorSpec): string {
  const lines = [`    name: ${quote(spec.name)}`, `    data_type: ${spec.dataType}`, `    dims: ${list(spec.dims)}`];
  if (spec.reshape) lines.push(`    reshape: { shape: ${list(spec.reshape)} }`);
  return `  {\n${lines.join('\n')}\n  }`;
}

/** Dims after the batch dimension; a tensor that is only the batch ([N]) becomes [ 1 ] reshaped to [ ]. */
function batchedSpec(name: string, dataType: TensorSpec['dataType'], fullDims: readonly (number | string)[]): TensorSpec {
  const rest = fullDims.slice(1).map(dim);
  return rest.length === 0 ? { name, dataType, dims: [1], reshape: [] } : { name, dataType, dims: rest };
}

function outputDims(card: ModelCard, name: string, graph: TritonConfigSettings['graph']): readonly (number | string)[] {
  const fromGraph = graph?.outputs.find((o) => o.name === name);
  if (fromGraph) return fromGraph.dims;
  if (name === card.output.labelTensor) return [-1];
  return [-1, card.task === 'regression' ? 1 : card.labels.length];
}

/** Problems that make a model impossible to describe to Triton; empty when there are none. */
export function tritonConfigProblems(card: ModelCard, settings: TritonConfigSettings): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(settings.maxBatchSize) || settings.maxBatchSize < 1) {
    problems.push(`maxBatchSize must be an integer, 1 or more, received ${settings.maxBatchSize}`);
  }
  const delay = settings.maxQueueDelayMicroseconds ?? DEFAULT_MAX_QUEUE_DELAY_MICROSECONDS;
  if (!Number.isInteger(delay) || delay < 0) problems.push(`maxQueueDelayMicroseconds must be an integer, 0 or more, received ${delay}`);
  const count = settings.instanceCount ?? 1;
  if (!Number.isInteger(count) || count < 1) problems.push(`instanceCount must be an integer, 1 or more, received ${count}`);
  if (settings.device !== 'gpu' && settings.device !== 'cpu') problems.push(`device must be gpu or cpu, received '${String(settings.device)}'`);
  const input = settings.graph?.inputs.find((i) => i.name === card.input.tensorName);
  if (settings.graph && !input) problems.push(`the ONNX graph has no input named '${card.input.tensorName}' (model.json input.tensorName)`);
  const shape = input?.dims ?? card.input.shape;
  if (shape.length < 1) problems.push(`the input '${card.input.tensorName}' has no dimensions; Triton needs at least the batch dimension`);
  for (const name of [card.output.scoresTensor, card.output.labelTensor]) {
    if (name !== undefined && settings.graph && !settings.graph.outputs.some((o) => o.name === name)) {
      problems.push(`the ONNX graph has no output named '${name}'`);
    }
  }
  return problems;
}

/**
 * Triton's config.pbtxt for a model card: `onnxruntime_onnx`, the one float32 input and the outputs with
 * dims after the batch dimension, dynamic batching, one instance group on the GPU (or the CPU), and a
 * version policy serving exactly the card's version. A model whose input has a fixed first dimension
 * cannot be batched: it gets `max_batch_size: 0` and its full dims. Throws on a card it cannot describe.
 */
export function tritonConfig(card: ModelCard, settings: TritonConfigSettings): string {
  const problems = tritonConfigProblems(card, settings);
  if (problems.length > 0) throw new Error(`cannot write Triton's config.pbtxt for ${card.name} v${card.version}: ${problems.join('; ')}`);
  const graph = settings.graph;
  const inputDims = graph?.inputs.find((i) => i.name === card.input.tensorName)?.dims ?? card.input.shape;
  const batching = isVariable(inputDims[0]);
  const maxBatchSize = batching ? Math.min(settings.maxBatchSize, TRITON_MAX_BATCH_SIZE) : 0;

  const spec = (name: string, dataType: TensorSpec['dataType'], dims: readonly (number | string)[]): TensorSpec =>
    batching ? batchedSpec(name, dataType, dims) : { name, dataType, dims: dims.map(dim) };
  const input = spec(card.input.tensorName, 'TYPE_FP32', inputDims);
  const outputs = [spec(card.output.scoresTensor, 'TYPE_FP32', outputDims(card, card.output.scoresTensor, graph))];
  if (card.output.labelTensor !== undefined) outputs.push(spec(card.output.labelTensor, 'TYPE_INT64', outputDims(card, card.output.labelTensor, graph)));

  const sections = [
    `name: ${quote(card.name)}`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${maxBatchSize}`,
    `version_policy: { specific: { versions: [ ${card.version} ] } }`,
    `input [\n${tensorBlock(input)}\n]`,
    `output [\n${outputs.map(tensorBlock).join(',\n')}\n]`,
  ];
  // Dynamic batching needs a batch dimension (max_batch_size > 0).
  if (batching) sections.push(`dynamic_batching {\n  max_queue_delay_microseconds: ${settings.maxQueueDelayMicroseconds ?? DEFAULT_MAX_QUEUE_DELAY_MICROSECONDS}\n}`);
  sections.push(`instance_group [\n  {\n    count: ${settings.instanceCount ?? 1}\n    kind: ${settings.device === 'gpu' ? 'KIND_GPU' : 'KIND_CPU'}\n  }\n]`);
  return `${sections.join('\n')}\n`;
}
