import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ArtifactError, manifestSnippet, nextModelVersion, pickGoldenRows, sha256Hex, writeModelArtifact } from '../../../../lambdas/core/models/model-artifact';
import { modelCardSchema, type ModelCardInput } from '../../../../lambdas/core/models/model-card';
import { OnboardError, parseImageSize, resolveClassLabels } from '../../../../lambdas/core/models/onboard';
import { importModel } from '../../../../lambdas/core/models/onboard-import';
import { loadModelFolder } from '../../../../lambdas/core/manifest/load';
import { int64InputModel, matmulModel } from './onnx-fixtures';
import { tempDirMaker } from '../../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-onboard-');

describe('resolveClassLabels', () => {
  it('names 0/1 classes with --labels, by index', () => {
    assert.deepEqual(resolveClassLabels(['1', '0', '1'], ['malignant', 'benign']), { labels: ['malignant', 'benign'], classIndex: [1, 0, 1] });
  });

  it('orders explicit names as given when the cells are the names', () => {
    assert.deepEqual(resolveClassLabels(['cat', 'dog'], ['dog', 'cat']).classIndex, [1, 0]);
  });

  it('sorts numeric labels numerically (2 before 10) and text labels alphabetically', () => {
    assert.deepEqual(resolveClassLabels(['10', '2', '2.0']).labels, ['2', '10']);
    assert.deepEqual(resolveClassLabels(['10', '2', '2.0']).classIndex, [1, 0, 0]);
    assert.deepEqual(resolveClassLabels(['versicolor', 'setosa']).labels, ['setosa', 'versicolor']);
  });

  it('says which row has a value that fits neither the names nor an index', () => {
    assert.throws(() => resolveClassLabels(['0', '1', '2'], ['a', 'b'], 'diagnosis'), (e: Error) => e instanceof OnboardError && e.message === "row 3, column 'diagnosis': '2' is neither one of the labels a, b nor a class index 0..1");
    assert.throws(() => resolveClassLabels(['0'], ['a', 'a']), /names a class twice/);
  });
});

describe('parseImageSize', () => {
  it('reads HxW and rejects anything else', () => {
    assert.deepEqual(parseImageSize('8x8'), { height: 8, width: 8 });
    assert.deepEqual(parseImageSize('28X14'), { height: 28, width: 14 });
    assert.throws(() => parseImageSize('8'), /--image must look like HEIGHTxWIDTH \(e\.g\. 8x8\), received '8'/);
  });
});

describe('model artifact helpers', () => {
  it('picks the next version after the highest integer folder, ignoring other folders', () => {
    const dir = tempDir();
    assert.equal(nextModelVersion(dir, 'm'), 1);
    for (const sub of ['1', '3', 'data', '02']) mkdirSync(join(dir, 'm', sub), { recursive: true });
    assert.equal(nextModelVersion(dir, 'm'), 4);
  });

  it('picks golden rows class by class so several classes are covered', () => {
    assert.deepEqual(pickGoldenRows([0, 0, 0, 1, 1, 2], 5), [0, 3, 5, 1, 4]);
    assert.deepEqual(pickGoldenRows([1, 1], 5), [0, 1]);
  });

  it('refuses a card that does not validate, naming the field, and never overwrites a version', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const card: ModelCardInput = {
      schemaVersion: 1,
      name: 'tiny',
      version: 1,
      task: 'binary',
      family: 'imported',
      createdAt: '2026-01-01T00:00:00.000Z',
      onnx: { file: 'model.onnx', sha256: sha256Hex(bytes), opset: 17 },
      input: { tensorName: 'x', dtype: 'float32', shape: [-1, 1], features: ['a'] },
      output: { scoresTensor: 'p', scoresKind: 'probabilities' },
      labels: ['no', 'yes'],
      golden: [],
    };
    const dir = tempDir();
    assert.throws(() => writeModelArtifact(dir, bytes, { ...card, labels: ['only'] }), (e: Error) => e instanceof ArtifactError && e.message === 'the model card does not validate: labels needs at least 2 class labels');
    assert.throws(() => writeModelArtifact(dir, new Uint8Array([9]), card), /onnx\.sha256 does not match the ONNX bytes/);
    const written = writeModelArtifact(dir, bytes, card);
    assert.equal(written.card.goldenTolerance, 1e-4, 'defaults filled in');
    assert.throws(() => writeModelArtifact(dir, bytes, card), /tiny\/1 already exists; versions are never overwritten/);
  });

  it('prints the manifest lines', () => {
    assert.equal(manifestSnippet('digits', 2), '  - name: digits\n    version: 2\n    runtime: lambda');
  });
});

describe('importModel', () => {
  // Two features; class scores = x1 - x2, x2 - x1, 0 (logits, not probabilities).
  const logits = matmulModel(
    [
      [1, -1, 0],
      [-1, 1, 0],
    ],
    'logits',
  );
  const baselineCsv = 'height,weight,kind\n3,0,a\n0,3,b\n0.1,0,c\n4,1,a\n1,5,b\n0,0.2,c\n';

  it('guesses logits from a baseline whose outputs do not sum to 1 and stores softmaxed golden probabilities', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'm.onnx'), logits);
    writeFileSync(join(dir, 'base.csv'), baselineCsv);
    const result = await importModel({ name: 'scores', onnxFile: join(dir, 'm.onnx'), baseline: join(dir, 'base.csv'), modelsDir: join(dir, 'models') });
    const card = result.card;
    assert.equal(card.task, 'multiclass');
    assert.deepEqual(card.output, { scoresTensor: 'logits', scoresKind: 'logits' });
    assert.deepEqual(card.input.features, ['height', 'weight']);
    assert.deepEqual(card.input.shape, [-1, 2]);
    assert.deepEqual(card.labels, ['a', 'b', 'c']);
    assert.equal(card.golden.length, 5);
    const first = card.golden[0]!; // the first row of class a: (3, 0) -> logits (3, -3, 0)
    assert.deepEqual(first.input, [3, 0]);
    const z = [Math.exp(3), Math.exp(-3), 1];
    const sum = z[0]! + z[1]! + z[2]!;
    first.expected.probabilities!.forEach((p, i) => assert.ok(Math.abs(p - z[i]! / sum) < 1e-6));
    assert.equal(first.expected.label, 'a');
    assert.equal(card.evaluation?.accuracy, 4 / 6, 'the two class-c rows are predicted as a or b');
    assert.equal(card.evaluation?.split.strategy, 'provided');
    assert.deepEqual(card.driftBaseline?.predictions, { kind: 'classes', counts: [3, 3, 0] });
    assert.deepEqual(loadModelFolder(result.dir, 'scores').problems, []);
  });

  it('imports a one-column output as regression, with RMSE against a numeric label column', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'r.onnx'), matmulModel([[2], [1]], 'value'));
    writeFileSync(join(dir, 'base.csv'), 'a,b,target\n1,1,3\n2,0,4\n0,0,1\n');
    const { card } = await importModel({ name: 'price', onnxFile: join(dir, 'r.onnx'), baseline: join(dir, 'base.csv'), label: 'target', modelsDir: join(dir, 'models') });
    assert.equal(card.task, 'regression');
    assert.deepEqual(card.labels, []);
    assert.equal(card.output.scoresKind, 'value');
    assert.deepEqual(card.golden.map((g) => g.expected.value), [3, 4, 0]);
    assert.ok(Math.abs(card.evaluation!.rmse! - Math.sqrt(1 / 3)) < 1e-9);
    assert.equal(card.driftBaseline?.predictions.kind, 'values');
    assert.ok(modelCardSchema.safeParse(card).success);
  });

  it('without a baseline: features f0.., no golden cases, no drift baseline, and Softmax output read as probabilities', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'p.onnx'), matmulModel([[1, -1], [0, 0], [2, 1]], 'prob', { softmax: true }));
    const result = await importModel({ name: 'probs', onnxFile: join(dir, 'p.onnx'), labels: ['no', 'yes'], modelsDir: join(dir, 'models') });
    assert.deepEqual(result.card.input.features, ['f0', 'f1', 'f2']);
    assert.equal(result.card.output.scoresKind, 'probabilities');
    assert.deepEqual(result.card.labels, ['no', 'yes']);
    assert.deepEqual(result.card.golden, []);
    assert.equal(result.card.driftBaseline, undefined);
    assert.ok(result.notes.some((n) => n.startsWith('no --baseline: no drift baseline, no golden cases')));
  });

  it('refuses a non-float input, a baseline of the wrong width and labels of the wrong count', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ints.onnx'), int64InputModel());
    writeFileSync(join(dir, 'm.onnx'), logits);
    writeFileSync(join(dir, 'wide.csv'), 'a,b,c,d,e\n1,2,3,4,5\n');
    const models = join(dir, 'models');
    await assert.rejects(importModel({ name: 'ints', onnxFile: join(dir, 'ints.onnx'), modelsDir: models }), /the model's input 'ids' \(int64 \[N, 2\]\) is not float32/);
    await assert.rejects(importModel({ name: 'mm', onnxFile: join(dir, 'm.onnx'), baseline: join(dir, 'wide.csv'), modelsDir: models }), /the model takes 2 values per instance .* but the baseline .* has 5 feature columns/);
    await assert.rejects(importModel({ name: 'mm', onnxFile: join(dir, 'm.onnx'), labels: ['x', 'y'], modelsDir: models }), /--labels names 2 classes, output 'logits' has 3 columns/);
    await assert.rejects(importModel({ name: 'mm', onnxFile: join(dir, 'm.onnx'), scoresOutput: 'nope', modelsDir: models }), /--scores-output 'nope' is not an output of the model; its outputs are 'logits' \(float \[N, 3\]\)/);
  });
});
