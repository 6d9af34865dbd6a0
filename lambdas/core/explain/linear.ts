// Exact interventional SHAP for a linear output z(x) = bias + sum_i weight_i * (x_i - center_i) / scale_i,
// with zero extra model evaluations: a linear function's Shapley value for feature i is its own term's
// distance from the background mean, phi_i = weight_i / scale_i * (x_i - backgroundMean_i).
//
// The built-in logistic regression (onnx-export.ts) is exactly this shape in its logit space:
//   input -> Sub(feature_mean) -> Div(feature_std) -> MatMul(dense0_weight [F, C]) -> Add(dense0_bias [C]) -> Softmax
// so center = feature_mean, scale = feature_std, and for class k:
//   two classes: the log-odds log(p_k / p_other) = z_k - z_other, weight = W[:, k] - W[:, other] (fitLogreg
//                fixes column 0 at zero, so for class 1 it is W[:, 1]);
//   more classes: the softmax input z_k (log p_k up to the row's log-sum-exp, which is not linear), weight = W[:, k].
// The model card does not hold the weights; linearOutputFromOnnx reads them from the graph's initializers.
import onnxProto from 'onnx-proto';
import { ExplainInputError, type ShapleyExplanation } from './shapley';

const { onnx } = onnxProto;

export interface LinearOutput {
  /** Which output this is, for the explanation's method, e.g. 'log-odds of class 1'. */
  readonly output: string;
  /** Per feature, applied to the standardised feature. */
  readonly weight: Float64Array;
  readonly bias: number;
  /** Standardisation inside the model: (x - center) / scale. */
  readonly center: Float64Array;
  readonly scale: Float64Array;
}

/** Per-feature mean of the background rows (row-major, featureCount wide). */
export function backgroundMean(background: Float32Array, featureCount: number): Float64Array {
  if (featureCount < 1 || background.length === 0 || background.length % featureCount !== 0) {
    throw new ExplainInputError(`background holds ${background.length} values, not a whole number of rows of ${featureCount} features`);
  }
  const rows = background.length / featureCount;
  const sum = new Float64Array(featureCount);
  for (let r = 0; r < rows; r++) for (let i = 0; i < featureCount; i++) sum[i]! += background[r * featureCount + i]!;
  return sum.map((s) => s / rows);
}

/** z(x) in float64 (onnxruntime computes the same in float32, so they agree to float32 rounding). */
export function linearValue(model: LinearOutput, x: ArrayLike<number>): number {
  let z = model.bias;
  for (let i = 0; i < model.weight.length; i++) z += (model.weight[i]! * (x[i]! - model.center[i]!)) / model.scale[i]!;
  return z;
}

/** Exact interventional SHAP of z for row x against a background with per-feature means `meanOfBackground`. */
export function linearShapley(model: LinearOutput, x: Float32Array, meanOfBackground: Float64Array): ShapleyExplanation {
  const p = model.weight.length;
  if (model.center.length !== p || model.scale.length !== p) throw new ExplainInputError(`the linear model has ${p} weights but ${model.center.length} centers and ${model.scale.length} scales`);
  if (x.length !== p) throw new ExplainInputError(`the row has ${x.length} features, the model takes ${p}`);
  if (meanOfBackground.length !== p) throw new ExplainInputError(`the background mean has ${meanOfBackground.length} features, the model takes ${p}`);
  const attributions = new Float64Array(p);
  for (let i = 0; i < p; i++) attributions[i] = (model.weight[i]! / model.scale[i]!) * (x[i]! - meanOfBackground[i]!);
  // z is linear, so v(empty) = mean of z over the background = z(background mean).
  const baseValue = linearValue(model, meanOfBackground);
  const prediction = linearValue(model, x);
  let sum = baseValue;
  for (const a of attributions) sum += a;
  return { method: `linear-exact-shapley (${model.output})`, baseValue, prediction, attributions, additivityError: Math.abs(sum - prediction) };
}

function floats(tensor: onnxProto.onnx.ITensorProto): Float64Array | undefined {
  if (tensor.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
  if (tensor.floatData && tensor.floatData.length > 0) return Float64Array.from(tensor.floatData);
  const raw = tensor.rawData;
  if (!raw || raw.length % 4 !== 0) return undefined;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Float64Array.from({ length: raw.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/**
 * The linear output for `classIndex` of an ONNX graph shaped like the built-in logistic regression
 * (Sub, Div, MatMul, Add, Softmax on the graph input, constants as initializers); undefined for any other
 * graph (an MLP, an imported model), which permutation SHAP explains instead.
 */
export function linearOutputFromOnnx(bytes: Uint8Array, classIndex: number): LinearOutput | undefined {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    return undefined;
  }
  const graph = model.graph;
  const inputName = graph?.input?.[0]?.name;
  if (!graph || !inputName) return undefined;
  const nodes = graph.node ?? [];
  const constants = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  // Walk the single chain from the input: each step consumes the previous output and one initializer.
  const chain = ['Sub', 'Div', 'MatMul', 'Add'];
  const operands: Float64Array[] = [];
  const dims: number[][] = [];
  let current = inputName;
  for (const opType of chain) {
    const users = nodes.filter((n) => (n.input ?? []).includes(current));
    const node = users[0];
    if (users.length !== 1 || !node || node.opType !== opType || node.input?.length !== 2 || node.input[0] !== current || node.output?.length !== 1) return undefined;
    const constant = constants.get(node.input[1]!);
    const values = constant ? floats(constant) : undefined;
    if (!constant || !values) return undefined;
    operands.push(values);
    dims.push((constant.dims ?? []).map(Number));
    current = node.output[0]!;
  }
  const softmaxUsers = nodes.filter((n) => (n.input ?? []).includes(current));
  if (softmaxUsers.length !== 1 || softmaxUsers[0]!.opType !== 'Softmax') return undefined;
  const [center, scale, weights, bias] = operands as [Float64Array, Float64Array, Float64Array, Float64Array];
  const [, , weightDims] = dims;
  if (weightDims?.length !== 2) return undefined;
  const [featureCount, classCount] = weightDims as [number, number];
  if (center.length !== featureCount || scale.length !== featureCount || bias.length !== classCount || weights.length !== featureCount * classCount) return undefined;
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= classCount) {
    throw new ExplainInputError(`class index ${classIndex} is outside the model's ${classCount} classes`);
  }
  const other = classCount === 2 ? 1 - classIndex : undefined;
  const weight = new Float64Array(featureCount);
  for (let i = 0; i < featureCount; i++) weight[i] = weights[i * classCount + classIndex]! - (other === undefined ? 0 : weights[i * classCount + other]!);
  return {
    output: other === undefined ? `softmax input of class ${classIndex}` : `log-odds of class ${classIndex}`,
    weight,
    bias: bias[classIndex]! - (other === undefined ? 0 : bias[other]!),
    center,
    scale,
  };
}
