// Hand-built ONNX graphs standing in for models made elsewhere (PyTorch, scikit-learn): one MatMul with
// fixed weights, or a graph whose input is not float.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function valueInfo(name: string, elemType: number, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

function encode(graph: onnxProto.onnx.IGraphProto): Uint8Array {
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], producerName: 'test-exporter', graph }).finish();
}

/** x[N, in] * W[in, out] -> output float [N, out] (or [N] when flatten is set and out is 1). */
export function matmulModel(weights: number[][], outputName: string, options: { inputName?: string; softmax?: boolean } = {}): Uint8Array {
  const inputs = weights.length;
  const outputs = weights[0]!.length;
  const inputName = options.inputName ?? 'float_input';
  const nodes: onnxProto.onnx.INodeProto[] = [{ opType: 'MatMul', input: [inputName, 'W'], output: [options.softmax ? 'raw' : outputName] }];
  if (options.softmax) nodes.push({ opType: 'Softmax', input: ['raw'], output: [outputName], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] });
  return encode({
    name: 'test',
    node: nodes,
    initializer: [{ name: 'W', dims: [inputs, outputs], dataType: FLOAT, floatData: weights.flat() }],
    input: [valueInfo(inputName, FLOAT, ['N', inputs])],
    output: [valueInfo(outputName, FLOAT, ['N', outputs])],
  });
}

/** An int64 input cast to float: mlship import must refuse it. */
export function int64InputModel(): Uint8Array {
  return encode({
    name: 'ints',
    node: [{ opType: 'Cast', input: ['ids'], output: ['scores'], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }] }],
    input: [valueInfo('ids', INT64, ['N', 2])],
    output: [valueInfo('scores', FLOAT, ['N', 2])],
  });
}
