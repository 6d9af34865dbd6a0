// Reads an ONNX file's graph inputs and outputs (names, element types, dims) without running it,
// so the manifest loader and `mlship import` can check them against a model card.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export interface TensorInfo {
  readonly name: string;
  /** ONNX element type name in lower case: float, double, int64, string... */
  readonly elemType: string;
  /** Fixed sizes as numbers, symbolic or unknown ones as their name or -1. */
  readonly dims: readonly (number | string)[];
}

export interface OnnxGraphInfo {
  readonly irVersion: number;
  readonly opset: number;
  readonly producer: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
}

export class OnnxFormatError extends Error {
  override readonly name = 'OnnxFormatError';
}

function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

function tensorInfo(value: onnxProto.onnx.IValueInfoProto): TensorInfo {
  const tensorType = value.type?.tensorType;
  const elemType = tensorType?.elemType ?? 0;
  const elemName = (onnx.TensorProto.DataType[elemType] ?? 'UNDEFINED').toLowerCase();
  const dims = (tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== null && d.dimValue !== undefined ? toNumber(d.dimValue) : -1));
  return { name: value.name ?? '', elemType: elemName, dims };
}

/** Parses the protobuf; throws OnnxFormatError when the bytes are not an ONNX model. */
export function inspectOnnx(bytes: Uint8Array): OnnxGraphInfo {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new OnnxFormatError(`not a valid ONNX model: ${(error as Error).message}`);
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0) throw new OnnxFormatError('not a valid ONNX model: it has no graph nodes');
  // Older exporters also list initializers (weights) as graph inputs; those are not fed by callers.
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const defaultDomain = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return {
    irVersion: toNumber(model.irVersion),
    opset: toNumber(defaultDomain?.version),
    producer: model.producerName ?? '',
    inputs: (graph.input ?? []).filter((i) => !initializers.has(i.name ?? '')).map(tensorInfo),
    outputs: (graph.output ?? []).map(tensorInfo),
  };
}
