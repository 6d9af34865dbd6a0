// `mlship import`: an ONNX model made elsewhere (PyTorch, scikit-learn, ...) read as it is: its one float
// input and its scores output found in the graph (or named by the user), what its scores are (values,
// probabilities or logits) told from a run on the baseline CSV or from the graph, and, with a baseline,
// the drift baseline, golden cases and evaluation computed by running the model itself on those rows; so are
// the background sample for explanations (drawn from the baseline rows) and, with a label column, the
// permutation importance on them (the rows the evaluation used). Without a baseline there is neither, and
// the model version cannot be explained.
import onnxProto from 'onnx-proto';
import { readCsvFile, toNumericTable, type NumericTable } from '../common/csv';
import { buildDriftBaseline } from '../monitoring/drift/baseline';
import { checkModelName, goldenCasesFromScores, nextModelVersion, pickGoldenRows, sha256Hex, writeModelArtifact } from './model-artifact';
import { modelCardSchema, type DriftBaseline, type Evaluation, type GoldenCase, type ModelCardInput, type OutputContract, type Task } from './model-card';
import { BACKGROUND_FILE } from '../explain/background';
import type { ImportanceTruth } from '../explain/importance';
import { buildExplanation } from './onboard-explain';
import { checkImage, describeEvaluation, GOLDEN_CASES, GOLDEN_TOLERANCE, isNumeric, OnboardError, readBytes, recordedPath, resolveClassLabels, rowsOf, scoreRows, type OnboardResult } from './onboard';
import { inspectOnnx, type TensorInfo } from './onnx-inspect';
import { runOnnxRows } from './onnx-run';
import { softmaxRows } from '../common/row-math';
import { regressionMetrics } from './training/metrics';
import { argmaxRows } from './training/network';
import { evaluateClassifier } from './training/train';

const { onnx } = onnxProto;

export type ScoresKind = OutputContract['scoresKind'];

export interface ImportModelOptions {
  readonly name: string;
  /** The ONNX file to import. */
  readonly onnxFile: string;
  /** A CSV of representative inputs (with a header row): drift baseline, golden cases and, with a label column, an evaluation. */
  readonly baseline?: string;
  /** Label column of the baseline CSV. @default the last column, when the CSV has one column more than the model has features */
  readonly label?: string;
  readonly labels?: readonly string[];
  /** Output tensor with the scores. @default the only float output of shape [N, C] */
  readonly scoresOutput?: string;
  /** @default guessed: 'value' for one column, else from the graph and the baseline's outputs */
  readonly scoresKind?: ScoresKind;
  readonly image?: { height: number; width: number };
  /** @default 'models' */
  readonly modelsDir?: string;
  readonly now?: Date;
  /** Rows of the background sample written for explanations (from the baseline). @default 100 */
  readonly backgroundRows?: number;
}

function describeTensor(t: TensorInfo): string {
  return `'${t.name}' (${t.elemType} [${t.dims.map((d) => (typeof d === 'number' && d >= 0 ? String(d) : typeof d === 'string' ? d : '?')).join(', ')}])`;
}

function fixedDim(d: number | string | undefined): number | undefined {
  return typeof d === 'number' && d > 0 ? d : undefined;
}

/** The op type of the node producing a graph output, e.g. 'Softmax'. */
function producerOp(bytes: Uint8Array, output: string): string | undefined {
  const model = onnx.ModelProto.decode(bytes);
  return (model.graph?.node ?? []).find((n) => (n.output ?? []).includes(output))?.opType ?? undefined;
}

function pickScoresOutput(outputs: readonly TensorInfo[], wanted: string | undefined): TensorInfo {
  if (wanted !== undefined) {
    const found = outputs.find((o) => o.name === wanted);
    if (!found) throw new OnboardError(`--scores-output '${wanted}' is not an output of the model; its outputs are ${outputs.map(describeTensor).join(', ')}`);
    if (found.elemType !== 'float') throw new OnboardError(`--scores-output ${describeTensor(found)} is not a float tensor`);
    return found;
  }
  const floats = outputs.filter((o) => o.elemType === 'float' && (o.dims.length === 2 || o.dims.length === 1));
  const matrices = floats.filter((o) => o.dims.length === 2);
  const candidates = matrices.length > 0 ? matrices : floats;
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) {
    const hint = outputs.some((o) => o.elemType === 'undefined') ? " (a scikit-learn export with ZipMap gives maps, not tensors: export with options={'zipmap': False})" : '';
    throw new OnboardError(`the model has no float output of shape [N, C] or [N] for the scores; its outputs are ${outputs.map(describeTensor).join(', ')}${hint}`);
  }
  const probable = candidates.filter((o) => /prob/i.test(o.name));
  if (probable.length === 1) return probable[0]!;
  throw new OnboardError(`the model has several float outputs (${candidates.map(describeTensor).join(', ')}); choose one with --scores-output`);
}

/** Imports an ONNX model made elsewhere and writes models/<name>/<next version>/. */
export async function importModel(options: ImportModelOptions): Promise<OnboardResult> {
  checkModelName(options.name);
  const modelsDir = options.modelsDir ?? 'models';
  const onnxBytes = readBytes(options.onnxFile, 'ONNX file');
  const graph = inspectOnnx(onnxBytes);
  const notes: string[] = [];

  if (graph.inputs.length !== 1) {
    throw new OnboardError(`the model has ${graph.inputs.length} inputs (${graph.inputs.map(describeTensor).join(', ')}); mlship serves models with exactly one float input`);
  }
  const input = graph.inputs[0]!;
  if (input.elemType !== 'float') throw new OnboardError(`the model's input ${describeTensor(input)} is not float32; mlship serves models with one float input`);
  const instanceDims = input.dims.slice(1);
  const fixedInstance = instanceDims.length > 0 && instanceDims.every((d) => fixedDim(d) !== undefined) ? (instanceDims as number[]) : undefined;
  const graphWidth = fixedInstance?.reduce((a, b) => a * b, 1);
  const batchFixedAtOne = input.dims[0] === 1;

  // The baseline CSV: features, optional labels.
  let baseline: NumericTable | undefined;
  let baselineBytes: Uint8Array | undefined;
  if (options.baseline !== undefined) {
    baselineBytes = readBytes(options.baseline, 'baseline file');
    const table = readCsvFile(options.baseline);
    let labelColumn = options.label;
    if (labelColumn === undefined && graphWidth !== undefined && table.header.length === graphWidth + 1) {
      labelColumn = table.header[table.header.length - 1]!;
      notes.push(`using the baseline's last column '${labelColumn}' as the label column (the model takes ${graphWidth} features)`);
    }
    baseline = toNumericTable(table, labelColumn);
    if (graphWidth !== undefined && baseline.features.length !== graphWidth) {
      throw new OnboardError(`the model takes ${graphWidth} values per instance (input ${describeTensor(input)}), but the baseline ${options.baseline} has ${baseline.features.length} feature columns`);
    }
  } else if (options.label !== undefined) {
    throw new OnboardError('--label names a column of the baseline CSV; pass --baseline too');
  }
  const featureCount = baseline?.features.length ?? graphWidth;
  if (featureCount === undefined) {
    throw new OnboardError(`the model's input ${describeTensor(input)} does not fix how many values an instance has; pass --baseline FILE.csv so the features can be read from its header`);
  }
  const features = baseline ? [...baseline.features] : Array.from({ length: featureCount }, (_, i) => `f${i}`);
  if (!baseline) notes.push(`no --baseline: features are named f0..f${featureCount - 1}`);

  let image = options.image;
  if (!image && fixedInstance && fixedInstance.length >= 2 && fixedInstance.length <= 3 && (fixedInstance.length === 2 || fixedInstance[0] === 1)) {
    const [height, width] = fixedInstance.slice(-2) as [number, number];
    if (height > 1 && width > 1) {
      image = { height, width };
      notes.push(`input ${describeTensor(input)} looks like an image: accepting ${height}x${width} nested arrays`);
    }
  }
  checkImage(image, featureCount);

  // The scores output and what its numbers are.
  const scores = pickScoresOutput(graph.outputs, options.scoresOutput);
  const runDims = fixedInstance ?? [featureCount];
  let baselineOutput: { width: number; data: Float64Array } | undefined;
  if (baseline) {
    const run = await runOnnxRows(onnxBytes, baseline.x, { inputName: input.name, instanceDims: runDims, outputs: [scores.name], oneRowAtATime: batchFixedAtOne });
    baselineOutput = run[scores.name]!;
  } else {
    // Load it once anyway: a model onnxruntime cannot run must not get a version folder.
    await runOnnxRows(onnxBytes, { rows: 0, cols: featureCount, data: new Float64Array(0) }, { inputName: input.name, instanceDims: runDims, outputs: [scores.name] });
  }
  const width = baselineOutput?.width ?? (scores.dims.length === 1 ? 1 : fixedDim(scores.dims[1])) ?? options.labels?.length;
  if (width === undefined) {
    throw new OnboardError(`cannot tell how many classes output ${describeTensor(scores)} has; pass --baseline (to run the model) or --labels`);
  }
  let scoresKind = options.scoresKind;
  if (scoresKind === undefined) {
    if (width === 1) scoresKind = 'value';
    else if (baselineOutput) {
      const d = baselineOutput.data;
      let sumsToOne = true;
      for (let r = 0; r < d.length / width && sumsToOne; r++) {
        let sum = 0;
        for (let j = 0; j < width; j++) {
          const v = d[r * width + j]!;
          if (v < -1e-6 || v > 1 + 1e-6) sumsToOne = false;
          sum += v;
        }
        if (Math.abs(sum - 1) > 1e-3) sumsToOne = false;
      }
      scoresKind = sumsToOne ? 'probabilities' : 'logits';
    } else {
      const op = producerOp(onnxBytes, scores.name);
      scoresKind = op === 'Softmax' ? 'probabilities' : 'logits';
      notes.push(`scores kind '${scoresKind}' guessed from the graph (output '${scores.name}' is made by ${op ?? 'no node'}); pass --scores-kind to say otherwise`);
    }
  }
  if (scoresKind === 'value' && width !== 1) throw new OnboardError(`--scores-kind value needs one value per instance, output '${scores.name}' has ${width}`);
  if (scoresKind !== 'value' && width < 2) {
    throw new OnboardError(`output '${scores.name}' has ${width} column per instance; ${scoresKind} need one column per class (at least 2). Use --scores-kind value for a regression model`);
  }
  const task: Task = scoresKind === 'value' ? 'regression' : width === 2 ? 'binary' : 'multiclass';

  // Class labels.
  let labels: string[] = [];
  let truth: number[] | undefined;
  let truthValues: number[] | undefined;
  if (task !== 'regression') {
    if (options.labels && options.labels.length !== width) {
      throw new OnboardError(`--labels names ${options.labels.length} classes, output '${scores.name}' has ${width} columns`);
    }
    if (baseline?.labels) {
      const resolved = resolveClassLabels(baseline.labels, options.labels, baseline.labelColumn);
      if (resolved.labels.length !== width) {
        throw new OnboardError(`column '${baseline.labelColumn}' has ${resolved.labels.length} classes (${resolved.labels.join(', ')}), output '${scores.name}' has ${width} columns; pass --labels with ${width} names`);
      }
      labels = resolved.labels;
      truth = resolved.classIndex;
    } else {
      labels = options.labels ? [...options.labels] : Array.from({ length: width }, (_, i) => String(i));
      if (!options.labels) notes.push(`no --labels: classes are named ${labels[0]}..${labels[labels.length - 1]}`);
    }
  } else {
    if (options.labels) throw new OnboardError('--labels does not apply to a regression model (scores kind value)');
    if (baseline?.labels) {
      const bad = baseline.labels.findIndex((c) => !isNumeric(c));
      if (bad >= 0) throw new OnboardError(`${options.baseline}: row ${bad + 1}, column '${baseline.labelColumn}': '${baseline.labels[bad]}' is not a number (regression target)`);
      truthValues = baseline.labels.map(Number);
    }
  }

  // Drift baseline, golden cases and evaluation, from the model's own outputs on the baseline.
  let driftBaseline: DriftBaseline | undefined;
  let golden: GoldenCase[] = [];
  let evaluation: Evaluation | undefined;
  if (baseline && baselineOutput) {
    const n = baseline.x.rows;
    const served = Float64Array.from(baselineOutput.data);
    if (scoresKind === 'logits') softmaxRows(served, width);
    if (task === 'regression') {
      const values = Array.from(served);
      driftBaseline = buildDriftBaseline({ x: baseline.x, features, predictions: { kind: 'values', values } });
      const positions = pickGoldenRows(values.map(() => 0), GOLDEN_CASES);
      golden = goldenCasesFromScores(rowsOf(baseline.x, positions), scoreRows(served, 1, positions), []);
      if (truthValues) evaluation = { split: { strategy: 'provided', testFraction: 1, seed: 0 }, trainSize: 0, testSize: n, ...regressionMetrics(truthValues, values) };
    } else {
      const predicted = argmaxRows({ rows: n, cols: width, data: served });
      driftBaseline = buildDriftBaseline({ x: baseline.x, features, predictions: { kind: 'classes', classIndex: predicted, classCount: width } });
      const positions = pickGoldenRows(truth ?? predicted, GOLDEN_CASES);
      golden = goldenCasesFromScores(rowsOf(baseline.x, positions), scoreRows(served, width, positions), labels);
      if (truth) evaluation = { split: { strategy: 'provided', testFraction: 1, seed: 0 }, trainSize: 0, testSize: n, ...evaluateClassifier({ rows: n, cols: width, data: served }, truth, width) };
    }
    notes.push(`drift baseline and ${golden.length} golden cases from ${n} baseline rows`);
    notes.push(evaluation ? `evaluation on the baseline rows: ${describeEvaluation(evaluation)}` : 'no label column in the baseline: no evaluation');
  } else {
    notes.push('no --baseline: no drift baseline, no golden cases and no evaluation (drift monitoring and the golden-case release check will have nothing to compare with)');
  }

  const others = graph.outputs.filter((o) => o.name !== scores.name && o.elemType === 'int64' && (o.dims.length === 1 || (o.dims.length === 2 && o.dims[1] === 1)));
  const output: OutputContract = { scoresTensor: scores.name, scoresKind, ...(task !== 'regression' && others.length === 1 ? { labelTensor: others[0]!.name } : {}) };
  const version = nextModelVersion(modelsDir, options.name);
  const card: ModelCardInput = {
    schemaVersion: 1,
    name: options.name,
    version,
    task,
    family: 'imported',
    createdAt: (options.now ?? new Date()).toISOString(),
    onnx: { file: 'model.onnx', sha256: sha256Hex(onnxBytes), opset: graph.opset },
    ...(baseline && baselineBytes ? { trainingData: { file: recordedPath(options.baseline!), sha256: sha256Hex(baselineBytes), rows: baseline.x.rows } } : {}),
    input: {
      tensorName: input.name,
      dtype: 'float32',
      shape: input.dims.map((d) => (typeof d === 'number' && d > 0 ? d : -1)),
      features,
      ...(image ? { image } : {}),
    },
    output,
    labels,
    training: {
      source: recordedPath(options.onnxFile),
      producer: graph.producer || 'unknown',
      irVersion: graph.irVersion,
      ...(baseline ? { baseline: recordedPath(options.baseline!), labelColumn: baseline.labelColumn ?? null } : {}),
    },
    ...(evaluation ? { evaluation } : {}),
    ...(driftBaseline ? { driftBaseline } : {}),
    golden,
    goldenTolerance: GOLDEN_TOLERANCE,
  };
  let extraFiles: Record<string, string> = {};
  if (baseline) {
    const all = Array.from({ length: baseline.x.rows }, (_, i) => i);
    const known: ImportanceTruth | undefined = truth
      ? { kind: 'classes', classIndex: truth, classCount: width }
      : truthValues
        ? { kind: 'values', values: truthValues }
        : undefined;
    const explained = await buildExplanation({
      card: modelCardSchema.parse(card),
      onnxBytes,
      background: { x: baseline.x, positions: all, source: `baseline rows (${recordedPath(options.baseline!)})` },
      ...(known ? { heldOut: { x: baseline.x, positions: all, truth: known } } : {}),
      settings: { seed: 42, ...(options.backgroundRows !== undefined ? { backgroundRows: options.backgroundRows } : {}) },
    });
    card.explanation = explained.explanation;
    extraFiles = { [BACKGROUND_FILE]: explained.backgroundText };
    notes.push(...explained.notes);
    if (!known) notes.push('no label column in the baseline: no permutation importance');
  } else {
    notes.push('no --baseline: no background sample, so this version cannot be explained (explain requests get a 4xx); import again with --baseline to have one');
  }
  const written = writeModelArtifact(modelsDir, onnxBytes, card, extraFiles);
  return { ...written, notes };
}
