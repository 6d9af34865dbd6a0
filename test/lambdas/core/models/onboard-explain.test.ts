// What `mlship train` and `mlship import` write for explanations: background.json beside model.json, drawn
// from the training split only (never a held-out row), named in the card with its sha256, and permutation
// importance on the held-out split; an import without labels has a background but no importance, one
// without a baseline has neither and says so. buildTrainedArtifact (shared with retraining) adds it only
// when asked.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import { readCsvFile, toNumericTable } from '../../../../lambdas/core/common/csv';
import { BACKGROUND_FILE, readBackground } from '../../../../lambdas/core/explain/background';
import { sha256Hex } from '../../../../lambdas/core/models/model-artifact';
import { modelCardSchema } from '../../../../lambdas/core/models/model-card';
import { resolveClassLabels } from '../../../../lambdas/core/models/onboard';
import { importModel } from '../../../../lambdas/core/models/onboard-import';
import { buildExplanation } from '../../../../lambdas/core/models/onboard-explain';
import { buildTrainedArtifact, trainModel } from '../../../../lambdas/core/models/onboard-train';
import { stratifiedSplit } from '../../../../lambdas/core/models/training/split';
import { loadModelFolder } from '../../../../lambdas/core/manifest/load';
import { explanationOf } from '../../../../scripts/explain/add-explanation-artifacts';
import { REPO_ROOT } from '../../../fixtures/breast-cancer-split';
import { tempDirMaker } from '../../../fixtures/temp-dirs';
import { matmulModel } from './onnx-fixtures';
import { blobs, blobsCsv, THREE_CLASSES } from './training-fixtures';

const tempDir = tempDirMaker('mlship-onboard-explain-');

/** The rows of a matrix as float32 text keys, to look rows up. */
function keys(data: Float64Array | Float32Array, cols: number, positions: readonly number[]): Set<string> {
  return new Set(positions.map((r) => Array.from(data.subarray(r * cols, (r + 1) * cols), Math.fround).join(',')));
}

describe('trainModel writes the explanation', async () => {
  const dir = tempDir();
  const csv = join(dir, 'flowers.csv');
  writeFileSync(csv, blobsCsv(blobs(THREE_CLASSES, 150), ['setosa', 'versicolor', 'virginica']));
  const result = await trainModel({ name: 'flowers', data: csv, l2: 0.001, modelsDir: join(dir, 'models') });
  const card = result.card;

  it('writes background.json beside model.json, named in the card with its sha256, and the folder loads', () => {
    const path = join(result.dir, BACKGROUND_FILE);
    assert.ok(existsSync(path));
    const background = card.explanation!.background;
    assert.deepEqual({ ...background, sha256: undefined }, { file: 'background.json', rows: 100, sha256: undefined, seed: 42, source: '100 of the 360 training-split rows, seeded sample' });
    assert.equal(background.sha256, sha256Hex(readFileSync(path)));
    assert.equal(readBackground(result.dir, card)!.length, 100 * 4);
    assert.deepEqual(loadModelFolder(result.dir, 'flowers').problems, []);
    assert.ok(result.notes.includes('background for explanations: 100 of the 360 training-split rows, seeded sample (background.json)'));
  });

  it('draws the background from the training split only: every row is a training row, none a held-out row', () => {
    const data = toNumericTable(readCsvFile(csv), 'species');
    const { classIndex } = resolveClassLabels(data.labels!, card.labels, 'species');
    const { train, test } = stratifiedSplit(classIndex, card.evaluation!.split);
    const trainRows = keys(data.x.data, 4, train);
    const testRows = keys(data.x.data, 4, test);
    assert.equal(trainRows.size + testRows.size, 450, 'all rows distinct');
    const background = readBackground(result.dir, card)!;
    const drawn = [...keys(background, 4, Array.from({ length: 100 }, (_, i) => i))];
    assert.equal(drawn.length, 100);
    assert.ok(drawn.every((row) => trainRows.has(row) && !testRows.has(row)));
  });

  it('records permutation importance on the held-out split, in the card feature order', () => {
    const importance = card.explanation!.importance!;
    assert.equal(importance.metric, 'logLoss');
    assert.equal(importance.repeats, 5);
    assert.equal(importance.rows, card.evaluation!.testSize);
    assert.ok(importance.baseline > 0 && importance.baseline < 0.5, `held-out log-loss ${importance.baseline}`);
    assert.deepEqual(
      importance.features.map((f) => f.name),
      card.input.features,
    );
    // f1 and f2 separate the classes; f3 and f4 move by one spread unit at most.
    const [f1, f2, f3, f4] = importance.features.map((f) => f.mean) as [number, number, number, number];
    assert.ok(f1 > 0.3 && f2 > 0.3, `f1 ${f1}, f2 ${f2}`);
    assert.ok(f3 < f1 && f4 < f2, `f3 ${f3}, f4 ${f4}`);
    assert.ok(result.notes.some((n) => /^permutation importance \(rise of logLoss when a feature is shuffled, 5 repeats, 90 held-out rows\): f[12] \d\.\d{4} ± \d\.\d{4}, f[12]/.test(n)));
  });

  it('records accuracy drops when asked, equal to the card accuracy unpermuted', async () => {
    const data = toNumericTable(readCsvFile(csv), 'species');
    const { classIndex } = resolveClassLabels(data.labels!, card.labels, 'species');
    const { train, test } = stratifiedSplit(classIndex, card.evaluation!.split);
    const built = await buildExplanation({
      card,
      onnxBytes: readFileSync(join(result.dir, 'model.onnx')),
      background: { x: data.x, positions: train, source: 'training-split rows' },
      heldOut: { x: data.x, positions: test, truth: { kind: 'classes', classIndex: test.map((r) => classIndex[r]!), classCount: 3 } },
      settings: { metric: 'accuracy', repeats: 2 },
    });
    assert.equal(built.explanation.importance!.baseline, card.evaluation!.accuracy);
    assert.equal(built.explanation.importance!.repeats, 2);
    assert.equal(built.backgroundText, readFileSync(join(result.dir, BACKGROUND_FILE), 'utf8'), 'the same background as train wrote');
  });

  it('honours backgroundRows, and is deterministic', async () => {
    const again = await trainModel({ name: 'flowers', data: csv, l2: 0.001, backgroundRows: 20, modelsDir: join(dir, 'models') });
    assert.equal(again.card.explanation!.background.rows, 20);
    assert.deepEqual(again.card.explanation!.importance, card.explanation!.importance);
  });

  it('buildTrainedArtifact adds no explanation unless asked', async () => {
    const data = blobs(THREE_CLASSES, 20);
    const built = await buildTrainedArtifact({
      name: 'flowers',
      version: 1,
      family: 'logreg',
      l2: 0.001,
      data: { x: data.x, features: ['a', 'b', 'c', 'd'], labelColumn: 'species' },
      classes: { labels: ['x', 'y', 'z'], classIndex: data.y },
      trainingData: { file: 'x.csv', sha256: '0'.repeat(64), rows: data.x.rows },
    });
    assert.equal(built.card.explanation, undefined);
    assert.equal(built.backgroundText, undefined);
  });
});

describe('importModel writes the explanation from its baseline', () => {
  // value = 2a + 0b: the model ignores b.
  const model = matmulModel([[2], [0]], 'value');

  it('with a label column: background from the baseline rows, importance on them, zero for the ignored feature', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'r.onnx'), model);
    const rows = Array.from({ length: 40 }, (_, i) => `${i % 7},${(i * 3) % 5},${2 * (i % 7) + (i % 2) / 10}`);
    writeFileSync(join(dir, 'base.csv'), `a,b,target\n${rows.join('\n')}\n`);
    const result = await importModel({ name: 'price', onnxFile: join(dir, 'r.onnx'), baseline: join(dir, 'base.csv'), label: 'target', modelsDir: join(dir, 'models') });
    const explanation = result.card.explanation!;
    assert.equal(explanation.background.rows, 40);
    assert.match(explanation.background.source, /^all 40 baseline rows \(.*base\.csv\)$/);
    assert.equal(readBackground(result.dir, result.card)!.length, 80);
    const importance = explanation.importance!;
    assert.equal(importance.metric, 'r2');
    assert.equal(importance.rows, 40);
    assert.ok(Math.abs(importance.baseline - result.card.evaluation!.r2!) < 1e-6);
    assert.deepEqual(importance.features[1], { name: 'b', mean: 0, std: 0 });
    assert.ok(importance.features[0]!.mean > 1, `a: ${importance.features[0]!.mean}`);
    assert.ok(modelCardSchema.safeParse(result.card).success);
  });

  it('runs a model whose batch dimension is fixed at 1 one row at a time', async () => {
    const { onnx } = onnxProto;
    const FLOAT = onnx.TensorProto.DataType.FLOAT;
    const dims = (d: number[]) => ({ tensorType: { elemType: FLOAT, shape: { dim: d.map((dimValue) => ({ dimValue })) } } });
    const single = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'single',
        node: [{ opType: 'MatMul', input: ['x', 'W'], output: ['value'] }],
        initializer: [{ name: 'W', dims: [2, 1], dataType: FLOAT, floatData: [2, 0] }],
        input: [{ name: 'x', type: dims([1, 2]) }],
        output: [{ name: 'value', type: dims([1, 1]) }],
      },
    }).finish();
    const dir = tempDir();
    writeFileSync(join(dir, 'one.onnx'), single);
    writeFileSync(join(dir, 'base.csv'), `a,b,target\n${Array.from({ length: 12 }, (_, i) => `${i},${i % 3},${2 * i}`).join('\n')}\n`);
    const result = await importModel({ name: 'single', onnxFile: join(dir, 'one.onnx'), baseline: join(dir, 'base.csv'), label: 'target', modelsDir: join(dir, 'models') });
    const importance = result.card.explanation!.importance!;
    assert.equal(importance.baseline, 1);
    assert.deepEqual(importance.features[1], { name: 'b', mean: 0, std: 0 });
    assert.ok(importance.features[0]!.mean > 1);
  });

  it('without a label column: a background, no importance, and the note says why', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'r.onnx'), model);
    writeFileSync(join(dir, 'base.csv'), 'a,b\n1,1\n2,0\n0,0\n');
    const result = await importModel({ name: 'price', onnxFile: join(dir, 'r.onnx'), baseline: join(dir, 'base.csv'), modelsDir: join(dir, 'models') });
    assert.equal(result.card.explanation!.background.rows, 3);
    assert.equal(result.card.explanation!.importance, undefined);
    assert.ok(result.notes.includes('no label column in the baseline: no permutation importance'));
  });

  it('without a baseline: no background.json, no explanation, and the note says explanations will be refused', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'r.onnx'), model);
    const result = await importModel({ name: 'price', onnxFile: join(dir, 'r.onnx'), scoresKind: 'value', modelsDir: join(dir, 'models') });
    assert.equal(result.card.explanation, undefined);
    assert.ok(!existsSync(join(result.dir, BACKGROUND_FILE)));
    assert.ok(result.notes.some((n) => n.startsWith('no --baseline: no background sample, so this version cannot be explained')));
  });
});

describe('the shipped model versions carry their explanation', () => {
  for (const name of ['breast-cancer', 'digits']) {
    it(`${name}/1: background.json and the card's explanation are what the script computes today, and model.onnx is the card's`, async () => {
      const dir = join(REPO_ROOT, 'models', name, '1');
      const { card, built } = await explanationOf(dir);
      assert.equal(sha256Hex(readFileSync(join(dir, 'model.onnx'))), card.onnx.sha256);
      assert.deepEqual(card.explanation, built.explanation, 'run scripts/explain/add-explanation-artifacts.ts again');
      assert.equal(readFileSync(join(dir, BACKGROUND_FILE), 'utf8'), built.backgroundText);
      assert.equal(readBackground(dir, card)!.length, 100 * card.input.features.length);
      assert.equal(card.explanation!.importance!.rows, card.evaluation!.testSize);
      assert.deepEqual(loadModelFolder(dir, name).problems, []);
    });
  }
});
