// `mlship train`: a built-in family (training/) trained here on a CSV, exported to ONNX, and judged by
// running the exported model with onnxruntime: the held-out evaluation, the drift baseline and the golden
// cases all come from the ONNX file, not from the trainer; so do the background sample and the permutation
// importance for explanations (onboard-explain.ts), asked for with `explain`. buildTrainedArtifact is shared
// with the retraining pipeline (retrain/train-candidate.ts), which writes the result elsewhere.
import { readCsvFile, toNumericTable, type NumericTable } from '../common/csv';
import { buildDriftBaseline } from '../monitoring/drift/baseline';
import { checkModelName, goldenCasesFromScores, nextModelVersion, pickGoldenRows, sha256Hex, writeModelArtifact } from './model-artifact';
import { modelCardSchema, type Evaluation, type ModelCardInput } from './model-card';
import { checkImage, describeEvaluation, GOLDEN_CASES, GOLDEN_TOLERANCE, OnboardError, readBytes, recordedPath, resolveClassLabels, rowsOf, scoreRows, type ClassLabels, type OnboardResult } from './onboard';
import { BACKGROUND_FILE } from '../explain/background';
import { buildExplanation, type ExplainSettings } from './onboard-explain';
import { exportNetworkToOnnx, INPUT_TENSOR, LABEL_TENSOR, ONNX_OPSET, PROBABILITIES_TENSOR } from './onnx-export';
import { runOnnxRows } from './onnx-run';
import { selectRows } from './training/matrix';
import { argmaxRows } from './training/network';
import { evaluateClassifier, trainClassifier, type Family, type TrainOptions } from './training/train';

export interface TrainModelOptions extends Omit<TrainOptions, 'family'> {
  readonly name: string;
  /** CSV file with a header row, plain or gzip-compressed. */
  readonly data: string;
  /** Label column. @default the last column */
  readonly label?: string;
  /** @default 'logreg' */
  readonly family?: Family;
  /** Class names in class-index order. @default the distinct label values */
  readonly labels?: readonly string[];
  readonly image?: { height: number; width: number };
  /** @default 'models' */
  readonly modelsDir?: string;
  /** createdAt. @default now */
  readonly now?: Date;
  /** Rows of the background sample written for explanations. @default 100 */
  readonly backgroundRows?: number;
}

export interface TrainedArtifactInput extends Omit<TrainOptions, 'family'> {
  readonly name: string;
  /** The version the card states. */
  readonly version: number;
  readonly family: Family;
  /** The training data: raw features (one row per example) and the label column's name. */
  readonly data: Pick<NumericTable, 'x' | 'features'> & { readonly labelColumn: string };
  /** Class names in score-column order, and the class index of every row. */
  readonly classes: ClassLabels;
  /** The card's record of the data (file or source, sha256 of its bytes, rows). */
  readonly trainingData: { readonly file: string; readonly sha256: string; readonly rows: number };
  readonly image?: { height: number; width: number };
  /** createdAt. @default now */
  readonly now?: Date;
  /**
   * Build the explanation: a background sample of the training split and permutation importance on the
   * held-out split, in the card, with background.json's text in `backgroundText`.
   * @default - none (the card has no explanation)
   */
  readonly explain?: ExplainSettings;
}

export interface TrainedArtifact {
  readonly onnxBytes: Uint8Array;
  /** The card, not yet validated (writeModelArtifact validates it). */
  readonly card: ModelCardInput;
  /** Held-out metrics, as onnxruntime computed them from the exported model. */
  readonly evaluation: Evaluation;
  readonly trainingMs: number;
  /** background.json's text, when `explain` was asked for; write it beside model.json. */
  readonly backgroundText?: string;
  readonly notes: readonly string[];
}

/**
 * Trains a built-in family and builds what `mlship train` writes: the ONNX bytes and the card (held-out
 * evaluation, drift baseline and golden cases from the exported model run by onnxruntime). Writes nothing:
 * `trainModel` writes it to models/, the retraining pipeline to its work folder and registry.
 */
export async function buildTrainedArtifact(input: TrainedArtifactInput): Promise<TrainedArtifact> {
  const { data, family } = input;
  const { labels, classIndex } = input.classes;
  const present = new Set(classIndex).size;
  const started = Date.now();
  const trained = trainClassifier(data.x, classIndex, labels.length, { ...input, family });
  const trainingMs = Date.now() - started;
  const onnxBytes = exportNetworkToOnnx(trained.network);

  // Everything below comes from the exported model as onnxruntime runs it, not from the trainer.
  const run = await runOnnxRows(onnxBytes, data.x, { inputName: INPUT_TENSOR, outputs: [PROBABILITIES_TENSOR] });
  const probabilities = run[PROBABILITIES_TENSOR]!;
  const predicted = argmaxRows({ rows: data.x.rows, cols: probabilities.width, data: probabilities.data });
  const { train, test } = trained.split;
  const testScores = scoreRows(probabilities.data, probabilities.width, test);
  const heldOut = evaluateClassifier(
    { rows: test.length, cols: probabilities.width, data: Float64Array.from(testScores.flat()) },
    test.map((r) => classIndex[r]!),
    labels.length,
  );
  const evaluation: Evaluation = {
    split: { strategy: 'stratified', testFraction: trained.testFraction, seed: trained.seed },
    trainSize: train.length,
    testSize: test.length,
    ...heldOut,
  };
  const driftBaseline = buildDriftBaseline({
    x: selectRows(data.x, train),
    features: data.features,
    predictions: { kind: 'classes', classIndex: train.map((r) => predicted[r]!), classCount: labels.length },
  });
  const goldenPositions = pickGoldenRows(test.map((r) => classIndex[r]!), GOLDEN_CASES).map((i) => test[i]!);
  const golden = goldenCasesFromScores(rowsOf(data.x, goldenPositions), scoreRows(probabilities.data, probabilities.width, goldenPositions), labels);

  const card: ModelCardInput = {
    schemaVersion: 1,
    name: input.name,
    version: input.version,
    task: labels.length === 2 ? 'binary' : 'multiclass',
    family,
    createdAt: (input.now ?? new Date()).toISOString(),
    onnx: { file: 'model.onnx', sha256: sha256Hex(onnxBytes), opset: ONNX_OPSET },
    trainingData: { ...input.trainingData },
    input: {
      tensorName: INPUT_TENSOR,
      dtype: 'float32',
      shape: [-1, data.features.length],
      features: [...data.features],
      ...(input.image ? { image: input.image } : {}),
    },
    output: { scoresTensor: PROBABILITIES_TENSOR, scoresKind: 'probabilities', labelTensor: LABEL_TENSOR },
    labels: [...labels],
    training: { ...trained.hyperParameters, labelColumn: data.labelColumn, trainingMs },
    evaluation,
    driftBaseline,
    golden,
    goldenTolerance: GOLDEN_TOLERANCE,
  };
  const notes = [
    `trained ${family} on ${train.length} rows in ${(trainingMs / 1000).toFixed(1)} s (L2 ${trained.l2}), held out ${test.length} rows`,
    `held-out ${describeEvaluation(evaluation)}`,
  ];
  if (present < labels.length) notes.push(`warning: only ${present} of the ${labels.length} classes occur in the data`);
  if (!input.explain) return { onnxBytes, card, evaluation, trainingMs, notes };
  const explained = await buildExplanation({
    card: modelCardSchema.parse(card),
    onnxBytes,
    background: { x: data.x, positions: train, source: 'training-split rows' },
    heldOut: { x: data.x, positions: test, truth: { kind: 'classes', classIndex: test.map((r) => classIndex[r]!), classCount: labels.length } },
    settings: input.explain,
  });
  return { onnxBytes, card: { ...card, explanation: explained.explanation }, evaluation, trainingMs, backgroundText: explained.backgroundText, notes: [...notes, ...explained.notes] };
}

/** Trains a built-in family on a CSV and writes models/<name>/<next version>/. */
export async function trainModel(options: TrainModelOptions): Promise<OnboardResult> {
  checkModelName(options.name);
  const modelsDir = options.modelsDir ?? 'models';
  const dataBytes = readBytes(options.data, 'data file');
  const table = readCsvFile(options.data);
  const labelColumn = options.label ?? table.header[table.header.length - 1]!;
  const data = toNumericTable(table, labelColumn);
  const classes = resolveClassLabels(data.labels!, options.labels, labelColumn);
  const present = new Set(classes.classIndex).size;
  if (present < 2) throw new OnboardError(`column '${labelColumn}' has only one class (${classes.labels[classes.classIndex[0]!]}); a classifier needs at least two`);
  checkImage(options.image, data.features.length);

  const built = await buildTrainedArtifact({
    ...options,
    version: nextModelVersion(modelsDir, options.name),
    family: options.family ?? 'logreg',
    data: { x: data.x, features: data.features, labelColumn },
    classes,
    trainingData: { file: recordedPath(options.data), sha256: sha256Hex(dataBytes), rows: data.x.rows },
    explain: { ...(options.backgroundRows !== undefined ? { backgroundRows: options.backgroundRows } : {}) },
  });
  const written = writeModelArtifact(modelsDir, built.onnxBytes, built.card, built.backgroundText !== undefined ? { [BACKGROUND_FILE]: built.backgroundText } : {});
  return { ...written, notes: built.notes };
}
