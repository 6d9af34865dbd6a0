// Adds what explanations need (background.json and the card's explanation field) to model versions written
// before `mlship train` wrote them, with the same code as train (lambdas/core/models/onboard-explain.ts),
// WITHOUT touching model.onnx: the training data named in the card (its sha256 checked), the held-out split
// re-made exactly as the card's evaluation.split says (checked against the card's train and test sizes and
// its held-out accuracy, run again), a background sample of the training part and permutation importance on the
// held-out part. Deterministic: running it again writes the same bytes.
//
//   node --import tsx scripts/explain/add-explanation-artifacts.ts [models/<name>/<version> ...]
//   (default: models/breast-cancer/1 models/digits/1)
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readCsvFile, toNumericTable } from '../../lambdas/core/common/csv';
import { BACKGROUND_FILE } from '../../lambdas/core/explain/background';
import { sha256Hex } from '../../lambdas/core/models/model-artifact';
import { modelCardSchema, type ModelCard } from '../../lambdas/core/models/model-card';
import { resolveClassLabels } from '../../lambdas/core/models/onboard';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import { buildExplanation, float32Rows, type BuiltExplanation } from '../../lambdas/core/models/onboard-explain';
import { accuracy } from '../../lambdas/core/models/training/metrics';
import { stratifiedSplit } from '../../lambdas/core/models/training/split';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DEFAULT_DIRS = ['models/breast-cancer/1', 'models/digits/1'];

/** The explanation of a built-in model version folder, from its card and its training data; writes nothing. */
export async function explanationOf(modelDir: string, root = ROOT): Promise<{ card: ModelCard; built: BuiltExplanation }> {
  const card = modelCardSchema.parse(JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')));
  const where = `${card.name} v${card.version}`;
  const onnxBytes = readFileSync(join(modelDir, card.onnx.file));
  if (sha256Hex(onnxBytes) !== card.onnx.sha256) throw new Error(`${where}: model.onnx does not match the card's onnx.sha256`);
  const { trainingData, evaluation } = card;
  if (!trainingData || !evaluation || evaluation.split.strategy !== 'stratified') throw new Error(`${where}: needs trainingData and a stratified evaluation.split to re-make the split`);
  const dataPath = resolve(root, trainingData.file);
  if (sha256Hex(readFileSync(dataPath)) !== trainingData.sha256) throw new Error(`${where}: ${trainingData.file} is not the file the model was trained on (sha256 differs)`);
  const labelColumn = card.training?.labelColumn;
  if (typeof labelColumn !== 'string') throw new Error(`${where}: the card's training.labelColumn is missing`);
  const data = toNumericTable(readCsvFile(dataPath), labelColumn);
  if (data.features.join('\n') !== card.input.features.join('\n')) throw new Error(`${where}: ${trainingData.file}'s feature columns are not the card's features`);
  const { classIndex } = resolveClassLabels(data.labels!, card.labels, labelColumn);
  const { train, test } = stratifiedSplit(classIndex, evaluation.split);
  if (train.length !== evaluation.trainSize || test.length !== evaluation.testSize) {
    throw new Error(`${where}: the re-made split has ${train.length}/${test.length} rows, the card says ${evaluation.trainSize}/${evaluation.testSize}`);
  }
  const built = await buildExplanation({
    card,
    onnxBytes,
    background: { x: data.x, positions: train, source: 'training-split rows' },
    heldOut: { x: data.x, positions: test, truth: { kind: 'classes', classIndex: test.map((r) => classIndex[r]!), classCount: card.labels.length } },
  });
  // The same held-out rows as the card's evaluation: the model's accuracy on them is the card's.
  const model = await ServedModel.fromBytes(card, onnxBytes);
  const predicted = await model.predict(float32Rows(data.x, test), test.length);
  await model.release();
  const heldOutAccuracy = accuracy(
    test.map((r) => classIndex[r]!),
    predicted.classIndex,
  );
  if (heldOutAccuracy !== evaluation.accuracy) throw new Error(`${where}: held-out accuracy ${heldOutAccuracy} is not the card's ${evaluation.accuracy}; not the same held-out rows`);
  return { card, built };
}

/** Writes background.json and the card with its explanation (every other byte of model.json kept). */
export async function addExplanation(modelDir: string, root = ROOT): Promise<BuiltExplanation> {
  const cardPath = join(modelDir, 'model.json');
  const text = readFileSync(cardPath, 'utf8');
  const raw = JSON.parse(text) as Record<string, unknown>;
  delete raw.explanation;
  const { built } = await explanationOf(modelDir, root);
  // Written in the schema's key order, as `mlship train` writes it; the rest of the card must come out unchanged.
  const stringify = (card: unknown): string => `${JSON.stringify(modelCardSchema.parse(card), null, 2)}\n`;
  if (stringify(raw) !== text && !('explanation' in (JSON.parse(text) as object))) throw new Error(`${cardPath}: the card does not round-trip through the schema, so more than the explanation would change`);
  writeFileSync(join(modelDir, BACKGROUND_FILE), built.backgroundText);
  writeFileSync(cardPath, stringify({ ...raw, explanation: built.explanation }));
  return built;
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const dirs = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_DIRS;
  for (const dir of dirs) {
    const built = await addExplanation(resolve(ROOT, dir));
    process.stdout.write(`${dir}: wrote ${BACKGROUND_FILE} and model.json's explanation\n${built.notes.map((n) => `  ${n}\n`).join('')}`);
  }
}
