// Runs the real `mlship` executable (bin/mlship.mjs) in a temporary folder: train on a small CSV, import
// the model it wrote under another name, and check the error paths give one line and exit code 1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { modelCardSchema } from '../../lambdas/core/models/model-card';
import { loadModelFolder } from '../../lambdas/core/manifest/load';
import { int64InputModel } from '../lambdas/core/models/onnx-fixtures';
import { blobs, blobsCsv, THREE_CLASSES } from '../lambdas/core/models/training-fixtures';

const MLSHIP = resolve(import.meta.dirname, '../../bin/mlship.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function mlship(args: string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [MLSHIP, ...args], { cwd, env: { ...process.env, MLSHIP_DEBUG: '' } }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function readCard(dir: string): unknown {
  return JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
}

/** One line on stderr, saying `pattern`, and no stack trace. */
function assertCleanError(run: Run, pattern: RegExp): void {
  assert.equal(run.code, 1, `exit code 1; stderr: ${run.stderr}`);
  const lines = run.stderr.trim().split('\n');
  assert.match(lines[0]!, pattern);
  assert.ok(!/^\s+at /m.test(run.stderr), `no stack trace in: ${run.stderr}`);
  assert.equal(run.stdout, '');
}

describe('mlship train and import (the real executable)', () => {
  const work = mkdtempSync(join(tmpdir(), 'mlship-cli-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  writeFileSync(join(work, 'flowers.csv'), blobsCsv(blobs(THREE_CLASSES, 20, 0.6), ['setosa', 'versicolor', 'virginica']));
  let train: Run;

  before(async () => {
    train = await mlship(['train', '--name', 'flowers', '--data', 'flowers.csv', '--family', 'mlp', '--epochs', '10', '--l2', '0.001'], work);
  });

  it('train writes model.onnx and a valid model.json under models/<name>/1 and prints the manifest lines', () => {
    assert.equal(train.code, 0, train.stderr);
    const dir = join(work, 'models/flowers/1');
    assert.match(train.stdout, /^wrote models\/flowers\/1\/model\.onnx \(\d+\.\d KiB, sha256 [0-9a-f]{12}\.\.\.\)$/m);
    assert.match(train.stdout, /^wrote models\/flowers\/1\/model\.json \(multiclass, labels setosa, versicolor, virginica, 4 features, 5 golden cases, drift baseline\)$/m);
    assert.match(train.stdout, /held-out accuracy 1\.0000, macro F1 1\.0000 \(12 rows\)/);
    assert.ok(train.stdout.endsWith('  - name: flowers\n    version: 1\n    runtime: lambda\n'));
    const card = modelCardSchema.parse(readCard(dir));
    assert.equal(card.family, 'mlp');
    assert.deepEqual(card.input.features, ['f1', 'f2', 'f3', 'f4']);
    assert.equal(card.trainingData?.file, 'flowers.csv');
    assert.equal(card.trainingData?.rows, 60);
    assert.deepEqual(card.evaluation?.split, { strategy: 'stratified', testFraction: 0.2, seed: 42 });
    assert.deepEqual([card.evaluation?.trainSize, card.evaluation?.testSize], [48, 12]);
    assert.deepEqual(card.driftBaseline?.predictions, { kind: 'classes', counts: [16, 16, 16] });
    assert.deepEqual(card.golden.map((g) => g.expected.label), ['setosa', 'versicolor', 'virginica', 'setosa', 'versicolor']);
    assert.deepEqual(loadModelFolder(dir, 'flowers').problems, []);
    // Explanations: the background (all 48 training rows, fewer than 100) and the held-out importance.
    assert.match(train.stdout, /^ {2}background for explanations: all 48 training-split rows \(background\.json\)$/m);
    assert.match(train.stdout, /^ {2}permutation importance \(rise of logLoss when a feature is shuffled, 5 repeats, 12 held-out rows\): f\d -?\d\.\d{4} ± \d\.\d{4}, /m);
    assert.equal(card.explanation?.background.rows, 48);
    assert.ok(existsSync(join(dir, 'background.json')));
    assert.equal(card.explanation?.importance?.rows, 12);
  });

  it('train --background-rows keeps that many background rows', async () => {
    const run = await mlship(['train', '--name', 'flowers-small', '--data', 'flowers.csv', '--iterations', '50', '--l2', '0.001', '--background-rows', '10'], work);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /background for explanations: 10 of the 48 training-split rows, seeded sample/);
    assert.equal(modelCardSchema.parse(readCard(join(work, 'models/flowers-small/1'))).explanation?.background.rows, 10);
  });

  it('train again writes version 2 with the same ONNX bytes (deterministic)', async () => {
    const again = await mlship(['train', '--name', 'flowers', '--data', 'flowers.csv', '--family', 'mlp', '--epochs', '10', '--l2', '0.001'], work);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /version: 2\n/);
    assert.ok(readFileSync(join(work, 'models/flowers/1/model.onnx')).equals(readFileSync(join(work, 'models/flowers/2/model.onnx'))));
  });

  it('import with --baseline: features from the header, labels and evaluation from its label column, golden cases reproduce', async () => {
    const run = await mlship(['import', 'models/flowers/1/model.onnx', '--name', 'flowers-imported', '--baseline', 'flowers.csv', '--label', 'species'], work);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /drift baseline and 5 golden cases from 60 baseline rows/);
    assert.match(run.stdout, /evaluation on the baseline rows: accuracy 1\.0000/);
    assert.ok(run.stdout.endsWith('  - name: flowers-imported\n    version: 1\n    runtime: lambda\n'));
    const dir = join(work, 'models/flowers-imported/1');
    const card = modelCardSchema.parse(readCard(dir));
    assert.equal(card.family, 'imported');
    assert.deepEqual(card.output, { scoresTensor: 'probabilities', scoresKind: 'probabilities', labelTensor: 'label' });
    assert.deepEqual(card.labels, ['setosa', 'versicolor', 'virginica']);
    assert.deepEqual(card.input.features, ['f1', 'f2', 'f3', 'f4']);
    assert.equal(card.driftBaseline?.sampleSize, 60);
    assert.equal(card.golden.length, 5);
    assert.equal(card.evaluation?.testSize, 60);
    // The trained card's golden cases, run through the imported copy, give the same probabilities.
    const trained = modelCardSchema.parse(readCard(join(work, 'models/flowers/1')));
    for (const g of trained.golden) {
      const same = card.golden.find((h) => h.input.every((v, i) => v === g.input[i]));
      if (same) same.expected.probabilities!.forEach((p, i) => assert.ok(Math.abs(p - g.expected.probabilities![i]!) < 1e-6));
    }
    assert.deepEqual(loadModelFolder(dir, 'flowers-imported').problems, []);
    assert.equal(card.explanation?.background.rows, 60);
    assert.equal(card.explanation?.importance?.rows, 60);
  });

  it('import without --baseline says what is missing and still writes a loadable model', async () => {
    const run = await mlship(['import', 'models/flowers/1/model.onnx', '--name', 'flowers-bare', '--labels', 'a,b,c'], work);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /no --baseline: no drift baseline, no golden cases and no evaluation/);
    assert.match(run.stdout, /no --baseline: no background sample, so this version cannot be explained/);
    assert.ok(!existsSync(join(work, 'models/flowers-bare/1/background.json')));
    const card = modelCardSchema.parse(readCard(join(work, 'models/flowers-bare/1')));
    assert.deepEqual(card.input.features, ['f0', 'f1', 'f2', 'f3']);
    assert.deepEqual(card.golden, []);
    assert.equal(card.driftBaseline, undefined);
    assert.deepEqual(loadModelFolder(join(work, 'models/flowers-bare/1'), 'flowers-bare').problems, []);
  });

  it('bad input gives one line on stderr, exit code 1 and no stack trace', async () => {
    writeFileSync(join(work, 'bad.csv'), 'a,b,label\n1,2,x\n3,oops,y\n');
    writeFileSync(join(work, 'ints.onnx'), int64InputModel());
    writeFileSync(join(work, 'junk.onnx'), 'this is not a model');
    const cases: [string[], RegExp][] = [
      [['train', '--name', 'nope', '--data', 'missing.csv'], /^error: data file missing\.csv not found$/],
      [['train', '--name', 'nope', '--data', 'bad.csv'], /^error: bad\.csv: row 2 \(line 3\), column 'b': 'oops' is not a number$/],
      [['train', '--name', 'nope', '--data', 'flowers.csv', '--label', 'colour'], /^error: flowers\.csv: no column 'colour' for the label; the columns are 'f1', 'f2', 'f3', 'f4', 'species'$/],
      [['train', '--name', 'Bad_Name', '--data', 'flowers.csv'], /^error: model name 'Bad_Name' must be 2-48 lower-case letters/],
      [['train', '--name', 'nope', '--data', 'flowers.csv', '--image', '3x3'], /^error: --image 3x3 makes 9 pixels, but there are 4 features$/],
      [['train', '--name', 'nope', '--data', 'flowers.csv', '--family', 'forest'], /^error: option '--family <family>' argument 'forest' is invalid\. Allowed choices are logreg, mlp\.$/],
      [['train', '--name', 'nope'], /^error: required option '--data <file>' not specified$/],
      [['import', 'ints.onnx', '--name', 'ints'], /^error: the model's input 'ids' \(int64 \[N, 2\]\) is not float32; mlship serves models with one float input$/],
      [['import', 'junk.onnx', '--name', 'junk'], /^error: not a valid ONNX model/],
      [['import', 'absent.onnx', '--name', 'absent'], /^error: ONNX file absent\.onnx not found$/],
    ];
    const runs = await Promise.all(cases.map(([args]) => mlship(args, work)));
    runs.forEach((run, i) => assertCleanError(run, cases[i]![1]));
    assert.ok(!existsSync(join(work, 'models/nope')), 'nothing written for a failed command');
  });
});
