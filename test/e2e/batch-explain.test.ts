// Batch explanations end to end (issue 19.3): `mlship batch --explain K` and the manifest's
// batch.explainTopK, run locally through the batch state machine taken from the synthesized stack (Plan,
// the Distributed Map with the scorer in this thread and a worker thread, Summarise), on a temp copy of
// the shipped models with a background sample. Breast-cancer (exact linear SHAP): every scored row has K
// explanation columns, and with all 30 the attributions plus the base equal the log-odds of the predicted
// class that onnxruntime computes from the graph's logits (1e-4). Digits on Lambda (permutation SHAP): the
// columns exist, in a worker thread too. Settings a model cannot have fail before any row is read.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { explainColumns } from '../../lambdas/core/batch/batch-explain';
import { loadManifest, ManifestError, type LoadedManifest } from '../../lambdas/core/manifest/load';
import { LocalBatchError, runLocalBatch } from '../../local/batch/run-batch';
import { synthesizeStackTemplate, type StackTemplate } from '../../local/pipelines/stack-template';
import { tempDirMaker } from '../fixtures/temp-dirs';
import { dataRows, explainedModels } from '../local/batch/explained-models';

const { onnx } = onnxProto;
const tempDir = tempDirMaker('mlship-batch-explain-');
const REPO_ROOT = resolve(import.meta.dirname, '../..');

const split = (text: string) => text.trimEnd().split('\n').map((line) => line.split(','));

/** The graph's logits (the Softmax input), by onnxruntime. */
async function logits(onnxPath: string, tensorName: string, x: Float32Array, count: number, classes: number): Promise<Float32Array> {
  const model = onnx.ModelProto.decode(readFileSync(onnxPath));
  const graph = model.graph!;
  const softmax = graph.node!.find((n) => n.opType === 'Softmax')!;
  graph.node = graph.node!.filter((n) => n.opType !== 'Softmax' && n.opType !== 'ArgMax');
  graph.output = [{ name: softmax.input![0]!, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: classes }] } } } }];
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { intraOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const out = await session.run({ [tensorName]: new ort.Tensor('float32', x, [count, x.length / count]) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** CSV of rows `from .. from + count - 1` of the data, the card's features as the header. */
function inputCsv(features: readonly string[], x: Float32Array, from: number, count: number): string {
  const p = features.length;
  const lines = [features.join(',')];
  for (let r = from; r < from + count; r++) lines.push(Array.from(x.subarray(r * p, (r + 1) * p)).join(','));
  return `${lines.join('\n')}\n`;
}

describe('mlship batch --explain: breast-cancer (exact linear SHAP) and digits on Lambda (permutation SHAP)', () => {
  const dir = tempDir();
  let loaded: LoadedManifest;
  let template: StackTemplate;
  const ROWS = 300;

  before(() => {
    // Digits in batches of 2 rows: the worker thread scores (and explains) some of them.
    loaded = loadManifest(explainedModels(dir, { digitsRuntime: 'lambda', rowsPerBatch: { digits: 2 } }));
    template = synthesizeStackTemplate(loaded);
  });

  it('--explain 3: every scored row has 3 feature/value pairs, the method and the base; a bad row stays a reject', async () => {
    const model = loaded.models.find((m) => m.entry.name === 'breast-cancer')!;
    const { x } = dataRows('breast-cancer', model.card);
    const input = join(dir, 'bc.csv');
    const good = inputCsv(model.card.input.features, x, 0, ROWS);
    writeFileSync(input, `${good}${model.card.input.features.map(() => 'oops').join(',')}\n`);
    const result = await runLocalBatch({ loaded, template, model: 'breast-cancer', input, output: join(dir, 'bc-3'), explainTopK: 3, workerThreads: 1 });
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.deepEqual([result.summary!.rowsIn, result.summary!.rowsScored, result.summary!.rowsRejected, result.summary!.explainTopK], [ROWS + 1, ROWS, 1, 3]);
    assert.match(result.notifications.at(-1)!.message, /^Explained: the top 3 attributions of each scored row \(explain_\* columns\)$/m);
    const lines = split(readFileSync(join(dir, 'bc-3', 'scored.csv'), 'utf8'));
    assert.deepEqual(lines[0], ['row', 'id', 'label', ...model.card.labels.map((l) => `p_${l}`), ...explainColumns(3)]);
    assert.equal(lines.length - 1, ROWS);
    const first = 3 + model.card.labels.length;
    for (const line of lines.slice(1)) {
      assert.equal(line.length, lines[0]!.length, `row ${line[0]}`);
      const features = [0, 2, 4].map((j) => line[first + j]!);
      assert.ok(features.every((f) => model.card.input.features.includes(f)) && new Set(features).size === 3, `row ${line[0]}: ${features.join(', ')}`);
      const values = [1, 3, 5].map((j) => Math.abs(Number(line[first + j])));
      assert.ok(values[0]! >= values[1]! && values[1]! >= values[2]!, `row ${line[0]}: largest |attribution| first`);
      assert.equal(line[first + 6], 'linear-shap: log-odds of the predicted class');
      assert.ok(Number.isFinite(Number(line[first + 7])));
    }
    const rejects = readFileSync(join(dir, 'bc-3', 'rejects.jsonl'), 'utf8').trimEnd().split('\n');
    assert.equal(rejects.length, 1);
    assert.match((JSON.parse(rejects[0]!) as { reason: string }).reason, new RegExp(`^row ${ROWS + 1}: .*'oops', not a number`));
  });

  it('--explain 30: attributions plus base equal the log-odds of the predicted class (onnxruntime, 1e-4); the first 3 are --explain 3\'s', async () => {
    const model = loaded.models.find((m) => m.entry.name === 'breast-cancer')!;
    const p = model.card.input.features.length;
    const { x } = dataRows('breast-cancer', model.card);
    const result = await runLocalBatch({ loaded, template, model: 'breast-cancer', input: join(dir, 'bc.csv'), output: join(dir, 'bc-30'), explainTopK: p });
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const lines = split(readFileSync(join(dir, 'bc-30', 'scored.csv'), 'utf8')).slice(1);
    const z = await logits(model.onnxPath, model.card.input.tensorName, x.slice(0, ROWS * p), ROWS, 2);
    const first = 3 + model.card.labels.length;
    let worst = 0;
    for (const [i, line] of lines.entries()) {
      const label = model.card.labels.indexOf(line[2]!);
      let sum = Number(line[first + 2 * p + 1]);
      for (let j = 0; j < p; j++) sum += Number(line[first + 2 * j + 1]);
      worst = Math.max(worst, Math.abs(sum - (z[i * 2 + label]! - z[i * 2 + 1 - label]!)));
    }
    assert.ok(worst < 1e-4, `largest |base + sum of attributions - log-odds|: ${worst}`);
    const top3 = split(readFileSync(join(dir, 'bc-3', 'scored.csv'), 'utf8')).slice(1);
    for (const [i, line] of lines.entries()) assert.deepEqual(line.slice(first, first + 6), top3[i]!.slice(first, first + 6));
  });

  it('digits on Lambda, --explain 3 with JSON Lines input: the columns exist (permutation SHAP, in a worker thread too)', async () => {
    const model = loaded.models.find((m) => m.entry.name === 'digits')!;
    const p = model.card.input.features.length;
    const { x } = dataRows('digits', model.card);
    const input = join(dir, 'digits.jsonl');
    const count = 6;
    writeFileSync(input, Array.from({ length: count }, (_, r) => `${JSON.stringify(Array.from(x.subarray(r * p, (r + 1) * p)))}\n`).join(''));
    const result = await runLocalBatch({ loaded, template, model: 'digits', input, output: join(dir, 'digits-3'), explainTopK: 3, workerThreads: 1 });
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.equal(result.summary!.rowsScored, count);
    assert.ok(result.scoredBy.workers >= 1, `batches scored by the worker thread: ${JSON.stringify(result.scoredBy)}`);
    const lines = split(readFileSync(join(dir, 'digits-3', 'scored.csv'), 'utf8'));
    assert.deepEqual(lines[0]!.slice(-8), explainColumns(3));
    assert.equal(lines.length - 1, count);
    for (const line of lines.slice(1)) {
      assert.equal(line.length, lines[0]!.length);
      assert.equal(line.at(-2), 'permutation-shap: probability of the predicted class');
      assert.ok(/^pixel_\d_\d$/.test(line.at(-8)!), line.at(-8));
    }
  });

  it('refuses --explain over the feature count, and for a model without a background sample, before reading any row', async () => {
    await assert.rejects(
      runLocalBatch({ loaded, template, model: 'breast-cancer', input: join(dir, 'bc.csv'), output: join(dir, 'never'), explainTopK: 31 }),
      (error: unknown) => error instanceof LocalBatchError && /^--explain is 31, more than the 30 features of breast-cancer v1$/.test(error.message),
    );
    const bare = loadManifest(explainedModels(tempDir(), { digitsRuntime: 'lambda', withoutBackground: ['breast-cancer'] }));
    await assert.rejects(runLocalBatch({ loaded: bare, model: 'breast-cancer', input: join(dir, 'bc.csv'), output: join(dir, 'never'), explainTopK: 2 }), /^LocalBatchError: --explain is 2, but breast-cancer v1 has no background sample/);
  });
});

describe('batch.explainTopK in the manifest: the state machine from the synthesized template writes the columns', () => {
  it('runs with the manifest\'s explainTopK (no flag), and --explain 0 turns it off', async () => {
    const dir = tempDir();
    const loaded = loadManifest(explainedModels(dir, { explainTopK: { 'breast-cancer': 2 } }));
    const model = loaded.models[0]!;
    const { x } = dataRows('breast-cancer', model.card);
    const input = join(dir, 'rows.csv');
    writeFileSync(input, inputCsv(model.card.input.features, x, 0, 50));
    const template = synthesizeStackTemplate(loaded);
    const on = await runLocalBatch({ loaded, template, model: 'breast-cancer', input, output: join(dir, 'on') });
    assert.equal(on.status, 'SUCCEEDED', `${on.error}: ${on.cause}`);
    const header = readFileSync(join(dir, 'on', 'scored.csv'), 'utf8').split('\n')[0]!;
    assert.equal(header, `row,id,label,${model.card.labels.map((l) => `p_${l}`).join(',')},${explainColumns(2).join(',')}`);
    const off = await runLocalBatch({ loaded, template, model: 'breast-cancer', input, output: join(dir, 'off'), explainTopK: 0 });
    assert.equal(off.status, 'SUCCEEDED');
    assert.equal(readFileSync(join(dir, 'off', 'scored.csv'), 'utf8').split('\n')[0], `row,id,label,${model.card.labels.map((l) => `p_${l}`).join(',')}`);
    assert.equal(off.summary!.explainTopK, undefined);
    assert.doesNotMatch(off.notifications.at(-1)!.message, /Explained/);
  });

  it('is a manifest error naming its path for a SageMaker model, over the feature count, or without a background sample', () => {
    const problems = (options: Parameters<typeof explainedModels>[1]) => {
      try {
        loadManifest(explainedModels(tempDir(), options));
      } catch (error) {
        if (error instanceof ManifestError) return error.problems;
        throw error;
      }
      return [];
    };
    assert.deepEqual(problems({ explainTopK: { digits: 3 } }), ['models[1].batch.explainTopK is 3, but digits runs on SageMaker, whose batch scoring (a Batch Transform job) adds no explanations; set it to 0 or run the model on lambda']);
    assert.deepEqual(problems({ explainTopK: { 'breast-cancer': 31 } }), ['models[0].batch.explainTopK is 31, more than the 30 features of breast-cancer v1']);
    assert.match(problems({ explainTopK: { 'breast-cancer': 1 }, withoutBackground: ['breast-cancer'] }).join('\n'), /^models\[0\]\.batch\.explainTopK is 1, but breast-cancer v1 has no background sample/);
    assert.deepEqual(problems({ explainTopK: { 'breast-cancer': 30 }, digitsRuntime: 'lambda' }), []);
  });
});

describe('mlship batch --explain (the executable)', () => {
  it('adds the columns, and exits 1 naming --explain when k is over the feature count', async () => {
    const dir = tempDir();
    const manifest = explainedModels(dir);
    const loaded = loadManifest(manifest);
    const model = loaded.models[0]!;
    const input = join(dir, 'rows.csv');
    writeFileSync(input, inputCsv(model.card.input.features, dataRows('breast-cancer', model.card).x, 0, 5));
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        execFile(process.execPath, [join(REPO_ROOT, 'bin', 'mlship.mjs'), 'batch', '--manifest', manifest, '--model', 'breast-cancer', '--input', input, ...args], { cwd: REPO_ROOT, env: { ...process.env, MLSHIP_DEBUG: '' } }, (error, stdout, stderr) =>
          done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      });
    const ok = await run(['--output', join(dir, 'out'), '--explain', '3']);
    assert.equal(ok.code, 0, ok.stderr);
    const lines = split(readFileSync(join(dir, 'out', 'scored.csv'), 'utf8'));
    assert.deepEqual(lines[0]!.slice(-8), explainColumns(3));
    assert.equal(lines.length, 6);
    const over = await run(['--output', join(dir, 'never'), '--explain', '31']);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /^error: --explain is 31, more than the 30 features of breast-cancer v1/);
    const negative = await run(['--output', join(dir, 'never'), '--explain', '-1']);
    assert.equal(negative.code, 2);
    assert.match(negative.stderr, /--explain <k>.*must be 0 or more/);
  });
});
