// Runs an ONNX model over many rows at once with onnxruntime-node: used to compute golden cases and the
// prediction baseline when a model is trained or imported (serving has its own session in inference-*).
import ort from 'onnxruntime-node';
import type { Matrix } from './training/matrix';

export interface OnnxRunOptions {
  readonly inputName: string;
  /** Per-instance dims of the input (e.g. [8, 8] or [1, 8, 8]); their product must be x.cols. @default [x.cols] */
  readonly instanceDims?: readonly number[];
  /** Output tensor names to fetch. */
  readonly outputs: readonly string[];
  /** Rows per session.run call. @default 1024 */
  readonly batchSize?: number;
  /** Run one row at a time (for models whose batch dimension is fixed at 1). @default false */
  readonly oneRowAtATime?: boolean;
}

export interface OnnxOutput {
  /** Values per row (the product of the output's non-batch dims; 1 for [N]). */
  readonly width: number;
  /** rows x width values, row-major, as float64 (int64 outputs converted to numbers). */
  readonly data: Float64Array;
}

export class OnnxRunError extends Error {
  override readonly name = 'OnnxRunError';
}

/** Loads the model once and runs every row of x through it; returns the requested outputs by name. */
export async function runOnnxRows(bytes: Uint8Array, x: Matrix, options: OnnxRunOptions): Promise<Record<string, OnnxOutput>> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  } catch (error) {
    throw new OnnxRunError(`onnxruntime cannot load the model: ${(error as Error).message.split('\n')[0]}`);
  }
  const dims = options.instanceDims ?? [x.cols];
  const step = options.oneRowAtATime ? 1 : (options.batchSize ?? 1024);
  const chunks: Record<string, { width: number; parts: Float64Array[] }> = {};
  try {
    for (let start = 0; start < x.rows; start += step) {
      const n = Math.min(step, x.rows - start);
      const input = new ort.Tensor('float32', Float32Array.from(x.data.subarray(start * x.cols, (start + n) * x.cols)), [n, ...dims]);
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = await session.run({ [options.inputName]: input }, [...options.outputs]);
      } catch (error) {
        throw new OnnxRunError(`onnxruntime failed to run the model: ${(error as Error).message.split('\n')[0]}`);
      }
      for (const name of options.outputs) {
        const tensor = results[name] as ort.Tensor;
        const values = tensor.data as ArrayLike<number | bigint>;
        if (values.length % n !== 0) throw new OnnxRunError(`output '${name}' has ${values.length} values for ${n} rows`);
        const converted = Float64Array.from(values as ArrayLike<number>, (v) => Number(v));
        const entry = (chunks[name] ??= { width: values.length / n, parts: [] });
        entry.parts.push(converted);
      }
    }
  } finally {
    await session.release();
  }
  const out: Record<string, OnnxOutput> = {};
  for (const [name, { width, parts }] of Object.entries(chunks)) {
    const data = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      data.set(p, offset);
      offset += p.length;
    }
    out[name] = { width, data };
  }
  return out;
}
