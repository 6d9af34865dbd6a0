// One model ready to serve: its card and an onnxruntime session, with batch prediction on raw rows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { ModelUnavailableError } from '../serving/errors';
import type { ModelCard } from './model-card';
import { argmaxRows, softmaxRows } from '../common/row-math';

export interface SessionSettings {
  /**
   * Threads inside one operator. Small tabular models run fastest on one thread (no pool hand-off), and
   * a Lambda function with under 1,769 MB has less than one vCPU anyway.
   * @default 1
   */
  readonly intraOpThreads?: number;
}

/** Predictions for a batch, row-major: `scores` holds `count x width` numbers. */
export interface BatchPrediction {
  readonly count: number;
  /** Probabilities per class (classification, softmax applied to logits) or one value per row (regression). */
  readonly scores: Float32Array;
  /** Columns per row in `scores`: the number of classes, or 1 for regression. */
  readonly width: number;
  /** Index of the most probable class per row; empty for regression. */
  readonly classIndex: Int32Array;
}

/** A model folder whose files passed their checks but whose graph onnxruntime refuses to load. */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

export class ServedModel {
  /** Length of one flattened input row. */
  readonly featureCount: number;
  private readonly inputDims: readonly number[];
  private readonly fetches: readonly string[];

  private constructor(
    readonly card: ModelCard,
    private readonly session: ort.InferenceSession,
  ) {
    this.featureCount = card.input.features.length;
    // Keep the model's own per-instance dims (e.g. [8, 8] for an image model) when they are fixed.
    const perInstance = card.input.shape.slice(1);
    const fixed = perInstance.length > 0 && perInstance.every((d) => d > 0) && perInstance.reduce((a, b) => a * b, 1) === this.featureCount;
    this.inputDims = fixed ? perInstance : [this.featureCount];
    this.fetches = [card.output.scoresTensor];
  }

  get name(): string {
    return this.card.name;
  }

  get version(): number {
    return this.card.version;
  }

  /** Loads model.json and model.onnx from a model folder (models/<name>/<version>/ or /opt/ml/model). */
  static async load(dir: string, settings: SessionSettings = {}): Promise<ServedModel> {
    // Imported here, not at the top: a batch worker thread gets its card already checked (fromBytes), and
    // evaluating zod would add ~70 ms to each worker's start.
    const { modelCardSchema } = await import('./model-card');
    const card = modelCardSchema.parse(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')));
    const onnxPath = join(dir, 'model.onnx');
    try {
      return await ServedModel.fromBytes(card, readFileSync(onnxPath), settings);
    } catch (error) {
      // A graph that parses as ONNX but that onnxruntime refuses (an unknown operator, a type mismatch
      // inside the graph): name the file, keep onnxruntime's first line.
      throw new ModelLoadError(`${onnxPath}: onnxruntime cannot load the model: ${(error as Error).message.split('\n')[0]}`);
    }
  }

  static async fromBytes(card: ModelCard, onnxBytes: Uint8Array, settings: SessionSettings = {}): Promise<ServedModel> {
    const session = await ort.InferenceSession.create(onnxBytes, {
      intraOpNumThreads: settings.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // onnxruntime would also print each failed run to stderr as plain text; the failure reaches the
      // caller as a 503 and the log as one structured line, so keep only its fatal messages.
      logSeverityLevel: 4,
    });
    return new ServedModel(card, session);
  }

  /** Runs the model on `count` rows of `featureCount` raw values each. */
  async predict(rows: Float32Array, count: number): Promise<BatchPrediction> {
    const input = new ort.Tensor('float32', rows, [count, ...this.inputDims]);
    let output: ort.InferenceSession.OnnxValueMapType;
    try {
      output = await this.session.run({ [this.card.input.tensorName]: input }, this.fetches);
    } catch (error) {
      throw new ModelUnavailableError(`model ${this.name} v${this.version} failed to run: ${(error as Error).message.split('\n')[0]}`);
    }
    const tensor = output[this.card.output.scoresTensor] as ort.Tensor;
    const scores = tensor.data as Float32Array;
    const width = count === 0 ? 0 : scores.length / count;
    if (this.card.task === 'regression') return { count, scores, width, classIndex: new Int32Array(0) };
    if (width !== this.card.labels.length) {
      throw new ModelUnavailableError(`model ${this.name} v${this.version} returned ${width} scores per row, model.json lists ${this.card.labels.length} labels`);
    }
    if (this.card.output.scoresKind === 'logits') softmaxRows(scores, width);
    return { count, scores, width, classIndex: argmaxRows(scores, width) };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
