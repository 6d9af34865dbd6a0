// Writes a trained built-in network as an ONNX model: the graph takes raw float features and does the
// standardisation itself, so a client never needs the training statistics.
//   input float[batch, F] -> Sub(mean) -> Div(std) -> [MatMul, Add, Relu|Tanh] -> MatMul -> Add
//     -> Softmax(axis 1) -> probabilities float[batch, C]  -> ArgMax(axis 1) -> label int64[batch]
// Deterministic: the same network always encodes to the same bytes (no timestamps, fixed field order).
import onnxProto from 'onnx-proto';
import type { Network } from './training/network';

const { onnx } = onnxProto;

/** onnx-proto 8.0.1 knows IR version 8; onnxruntime-node 1.30 runs opset 17 with it. */
export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;
export const INPUT_TENSOR = 'input';
export const PROBABILITIES_TENSOR = 'probabilities';
export const LABEL_TENSOR = 'label';

export interface OnnxExportOptions {
  /** Recorded as the model's producer_version. @default '0.1.0' */
  readonly producerVersion?: string;
  /** Recorded as the graph's name. @default 'mlship' */
  readonly graphName?: string;
}

/** Little-endian float32 bytes, whatever the platform's byte order. */
function float32Bytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

function initializer(name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  if (dims.reduce((a, b) => a * b, 1) !== values.length) throw new RangeError(`initializer ${name}: dims ${JSON.stringify(dims)} do not hold ${values.length} values`);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: float32Bytes(values) };
}

function tensorValue(name: string, elemType: number, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

function intAttribute(name: string, value: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

/** Encodes the network as ONNX ModelProto bytes. */
export function exportNetworkToOnnx(network: Network, options: OnnxExportOptions = {}): Uint8Array {
  const { featureCount, classCount, standardizer, layers } = network;
  if (standardizer.mean.length !== featureCount || standardizer.std.length !== featureCount) {
    throw new RangeError(`standardizer has ${standardizer.mean.length} means for ${featureCount} features`);
  }
  const initializers: onnxProto.onnx.ITensorProto[] = [initializer('feature_mean', [featureCount], standardizer.mean), initializer('feature_std', [featureCount], standardizer.std)];
  const nodes: onnxProto.onnx.INodeProto[] = [
    { name: 'center', opType: 'Sub', input: [INPUT_TENSOR, 'feature_mean'], output: ['centered'] },
    { name: 'scale', opType: 'Div', input: ['centered', 'feature_std'], output: ['standardized'] },
  ];
  let current = 'standardized';
  let width = featureCount;
  layers.forEach((layer, i) => {
    if (layer.inputs !== width) throw new RangeError(`layer ${i} takes ${layer.inputs} inputs, the previous layer gives ${width}`);
    const last = i === layers.length - 1;
    initializers.push(initializer(`dense${i}_weight`, [layer.inputs, layer.outputs], layer.weights), initializer(`dense${i}_bias`, [layer.outputs], layer.bias));
    const product = `dense${i}_matmul`;
    const sum = last ? 'logits' : `dense${i}_preactivation`;
    nodes.push(
      { name: `dense${i}_matmul`, opType: 'MatMul', input: [current, `dense${i}_weight`], output: [product] },
      { name: `dense${i}_add`, opType: 'Add', input: [product, `dense${i}_bias`], output: [sum] },
    );
    current = sum;
    if (layer.activation !== 'none') {
      const activated = `dense${i}_${layer.activation}`;
      nodes.push({ name: activated, opType: layer.activation === 'relu' ? 'Relu' : 'Tanh', input: [sum], output: [activated] });
      current = activated;
    }
    width = layer.outputs;
  });
  if (width !== classCount) throw new RangeError(`the last layer gives ${width} outputs for ${classCount} classes`);
  nodes.push(
    { name: 'softmax', opType: 'Softmax', input: [current], output: [PROBABILITIES_TENSOR], attribute: [intAttribute('axis', 1)] },
    { name: 'argmax', opType: 'ArgMax', input: [PROBABILITIES_TENSOR], output: [LABEL_TENSOR], attribute: [intAttribute('axis', 1), intAttribute('keepdims', 0)] },
  );
  const model: onnxProto.onnx.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'mlship',
    producerVersion: options.producerVersion ?? '0.1.0',
    docString: `mlship ${network.family}: standardisation inside the graph, ${layers.length} dense layer(s), softmax over ${classCount} classes`,
    graph: {
      name: options.graphName ?? 'mlship',
      node: nodes,
      initializer: initializers,
      input: [tensorValue(INPUT_TENSOR, onnx.TensorProto.DataType.FLOAT, ['batch', featureCount])],
      output: [tensorValue(PROBABILITIES_TENSOR, onnx.TensorProto.DataType.FLOAT, ['batch', classCount]), tensorValue(LABEL_TENSOR, onnx.TensorProto.DataType.INT64, ['batch'])],
    },
  };
  const error = onnx.ModelProto.verify(model);
  if (error) throw new Error(`internal error: the ONNX model does not verify: ${error}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
