// Explanation columns of the batch core: the shipped breast-cancer logistic regression (exact linear SHAP)
// and digits MLP (permutation SHAP) scored through scoreText with a RowExplainer. The columns' names and
// order, the top k by |attribution|, attributions plus base equal to the logit onnxruntime computes, the
// same answer whatever the chunk a row is scored in, rejects untouched, and a k the model cannot have
// refused when the run is set up.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { explainColumns, explainRowsPerCall, RowExplainer } from '../../../../lambdas/core/batch/batch-explain';
import { EXPLAIN_EVALUATIONS_PER_BATCH, explainedRowsPerBatch, explainTopKProblem } from '../../../../lambdas/core/batch/explain-settings';
import { scoredHeader } from '../../../../lambdas/core/batch/batch-format';
import { scoreText } from '../../../../lambdas/core/batch/scorers';
import { ScoredLineWriter } from '../../../../lambdas/core/batch/scored-writer';
import { parseCsv, toNumericTable } from '../../../../lambdas/core/common/csv';
import { sampleBackground } from '../../../../lambdas/core/explain/background';
import { Explainer, MAX_ROWS_PER_ROUND, topAttributions } from '../../../../lambdas/core/explain/explainer';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import { modelCardSchema, type ModelCard } from '../../../../lambdas/core/models/model-card';
import { createRandom } from '../../../../lambdas/core/models/training/random';

const { onnx } = onnxProto;
const root = join(import.meta.dirname, '..', '..', '..', '..');

interface Shipped {
  readonly card: ModelCard;
  readonly bytes: Uint8Array;
  readonly model: ServedModel;
  /** The data file's rows in the card's feature order. */
  readonly x: Float32Array;
  readonly rows: number;
}

async function shipped(name: 'breast-cancer' | 'digits', dataFile: string): Promise<Shipped> {
  const dir = join(root, 'models', name, '1');
  const card = modelCardSchema.parse(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')));
  const bytes = readFileSync(join(dir, 'model.onnx'));
  let text = readFileSync(join(root, 'models', name, 'data', dataFile));
  if (dataFile.endsWith('.gz')) text = gunzipSync(text);
  const table = toNumericTable(parseCsv(text.toString('utf8')));
  const columns = card.input.features.map((f) => table.features.indexOf(f));
  assert.ok(columns.every((c) => c >= 0), `${dataFile} holds every feature of ${name}`);
  const x = new Float32Array(table.x.rows * columns.length);
  for (let r = 0; r < table.x.rows; r++) columns.forEach((c, j) => (x[r * columns.length + j] = table.x.data[r * table.features.length + c]!));
  return { card, bytes, model: await ServedModel.fromBytes(card, bytes), x, rows: table.x.rows };
}

/** CSV text of rows `from .. from + count - 1`, with an id column. */
function csvOf(s: Shipped, from: number, count: number): string {
  const p = s.card.input.features.length;
  const lines = [`id,${s.card.input.features.join(',')}`];
  for (let r = from; r < from + count; r++) lines.push(`r${r},${Array.from(s.x.subarray(r * p, (r + 1) * p)).join(',')}`);
  return `${lines.join('\n')}\n`;
}

/** The graph's logits (the Softmax input) as its output, computed by onnxruntime: what linear SHAP explains. */
async function logitSession(bytes: Uint8Array, classes: number): Promise<ort.InferenceSession> {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const softmax = graph.node!.find((n) => n.opType === 'Softmax')!;
  graph.node = graph.node!.filter((n) => n.opType !== 'Softmax' && n.opType !== 'ArgMax');
  graph.output = [{ name: softmax.input![0]!, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: classes }] } } } }];
  return ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { intraOpNumThreads: 1, logSeverityLevel: 3 });
}

const split = (text: string) => text.trimEnd().split('\n').map((line) => line.split(','));

describe('batch explanation columns, exact linear SHAP (breast-cancer logistic regression)', async () => {
  const s = await shipped('breast-cancer', 'breast_cancer.csv');
  const p = s.card.input.features.length;
  const background = sampleBackground(s.x, s.rows, p, 11, 100);
  const explainer = Explainer.create({ card: s.card, background, predict: (r, c) => s.model.predict(r, c), onnx: s.bytes });
  const ROWS = 120;

  it('adds k feature/value pairs in |attribution| order, then the method and the base, to every scored row', async () => {
    const explain = new RowExplainer(explainer, s.card, 100, { topK: 3 });
    const out = await scoreText(s.model, csvOf(s, 0, ROWS), { format: 'csv', chunkRows: 50, explain });
    const lines = split(out.scored);
    const header = lines[0]!;
    assert.deepEqual(header, ['row', 'id', 'label', ...s.card.labels.map((l) => `p_${l}`), 'explain_1_feature', 'explain_1_value', 'explain_2_feature', 'explain_2_value', 'explain_3_feature', 'explain_3_value', 'explain_method', 'explain_base']);
    assert.equal(`${header.join(',')}\n`, scoredHeader(s.card, 3));
    assert.equal(lines.length - 1, ROWS);
    const reference = await explainer.explain(s.x.subarray(0, ROWS * p), ROWS);
    const first = 3 + s.card.labels.length;
    for (const [i, line] of lines.slice(1).entries()) {
      assert.equal(line.length, header.length, `row ${i + 1}: ${line.length} fields`);
      const values = [1, 3, 5].map((j) => Number(line[first + j]));
      for (let j = 1; j < values.length; j++) assert.ok(Math.abs(values[j - 1]!) >= Math.abs(values[j]!), `row ${i + 1}: ordered by |attribution|: ${values.join(', ')}`);
      const top = topAttributions(reference[i]!, s.card, 3);
      assert.deepEqual([0, 2, 4].map((j) => line[first + j]), top.map((t) => t.feature), `row ${i + 1}: the top features`);
      assert.deepEqual(values, top.map((t) => t.attribution), `row ${i + 1}: their attributions, exactly`);
      // No other feature's attribution is larger than the third.
      const third = Math.abs(values[2]!);
      assert.ok(Array.from(reference[i]!.attributions).filter((a) => Math.abs(a) > third).length <= 2);
      assert.equal(line[first + 6], 'linear-shap: log-odds of the predicted class');
      assert.equal(Number(line[first + 7]), reference[i]!.baseValue);
    }
  });

  it('with every feature, attributions plus base equal the log-odds of the predicted class that onnxruntime computes (1e-4)', async () => {
    const explain = new RowExplainer(explainer, s.card, 100, { topK: p });
    const out = await scoreText(s.model, csvOf(s, 200, ROWS), { format: 'csv', explain });
    const lines = split(out.scored).slice(1);
    const session = await logitSession(s.bytes, 2);
    const rows = s.x.slice(200 * p, (200 + ROWS) * p);
    const logits = (await session.run({ [s.card.input.tensorName]: new ort.Tensor('float32', rows, [ROWS, p]) }))[session.outputNames[0]!]!.data as Float32Array;
    const first = 3 + s.card.labels.length;
    let worst = 0;
    for (const [i, line] of lines.entries()) {
      const label = s.card.labels.indexOf(line[2]!);
      const logOdds = logits[i * 2 + label]! - logits[i * 2 + 1 - label]!;
      let sum = Number(line[first + 2 * p + 1]);
      for (let j = 0; j < p; j++) sum += Number(line[first + 2 * j + 1]);
      worst = Math.max(worst, Math.abs(sum - logOdds));
      assert.equal(new Set(Array.from({ length: p }, (_, j) => line[first + 2 * j])).size, p, 'each feature once');
    }
    assert.ok(worst < 1e-4, `largest |base + sum - log-odds|: ${worst}`);
    await session.release();
  });

  it('leaves rejected rows rejected, with their reasons, and explains only the scored ones', async () => {
    const explain = new RowExplainer(explainer, s.card, 100, { topK: 2 });
    const good = csvOf(s, 0, 4).trimEnd().split('\n');
    const text = [good[0], good[1], `bad,${'x,'.repeat(p - 1)}x`, good[2], 'short,1,2', good[3], good[4]].join('\n');
    const out = await scoreText(s.model, text, { format: 'csv', chunkRows: 2, explain });
    assert.deepEqual(out.summary, { rowsIn: 6, rowsScored: 4, rowsRejected: 2 });
    const rejects = out.rejects.trimEnd().split('\n').map((l) => JSON.parse(l) as { row: number; reason: string });
    assert.deepEqual(rejects.map((r) => r.row), [2, 4]);
    assert.match(rejects[0]!.reason, /^row 2: .*not a number/);
    assert.match(rejects[1]!.reason, /^row 4: /);
    const lines = split(out.scored);
    assert.deepEqual(lines.slice(1).map((l) => l[0]), ['1', '3', '5', '6']);
    for (const line of lines) assert.equal(line.length, lines[0]!.length);
  });

  it('refuses a k the model cannot have when the run is set up, naming the setting', async () => {
    assert.throws(() => new RowExplainer(explainer, s.card, 100, { topK: p + 1 }), new RegExp(`explainTopK must be an integer from 1 to ${p} \\(the features of breast-cancer v1\\), received ${p + 1}`));
    assert.throws(() => new RowExplainer(explainer, s.card, 100, { topK: 0 }), /explainTopK must be an integer from 1 to 30/);
    assert.throws(() => new RowExplainer(explainer, s.card, 100, { topK: 1.5 }), /received 1.5/);
    assert.match(explainTopKProblem(p + 1, s.card, 'lambda', 'models[0].batch.explainTopK')!, /^models\[0\]\.batch\.explainTopK is 31, more than the 30 features of breast-cancer v1/);
    assert.match(explainTopKProblem(2, s.card, 'sagemaker', 'models[1].batch.explainTopK')!, /^models\[1\]\.batch\.explainTopK is 2, but breast-cancer runs on SageMaker/);
    const bare: ModelCard = { ...s.card, explanation: undefined };
    assert.match(explainTopKProblem(2, bare, 'lambda', '--explain')!, /^--explain is 2, but breast-cancer v1 has no background sample/);
    assert.equal(explainTopKProblem(0, bare, 'sagemaker', 'x'), undefined, '0 is always fine');
    const withBackground: ModelCard = { ...s.card, explanation: { background: { file: 'background.json', rows: 100, sha256: '0'.repeat(64), seed: 1, source: 'test' } } };
    assert.equal(explainTopKProblem(p, withBackground, 'lambda', 'x'), undefined);
    // A scorer explaining another model than it scores is refused too.
    const other = new RowExplainer(explainer, { ...s.card, version: 2 }, 100, { topK: 1 });
    await assert.rejects(scoreText(s.model, 'x\n', { format: 'csv', explain: other }), /explains model breast-cancer v2, the scorer scores breast-cancer v1/);
  });

  it('picks exactly the features topAttributions picks, in its order, ties and zeros included, for every k', () => {
    const { next } = createRandom(42);
    for (let trial = 0; trial < 400; trial++) {
      // Few distinct magnitudes and both signs: many ties.
      const attributions = Float64Array.from({ length: p }, () => (next() < 0.2 ? 0 : Math.round(next() * 6 - 3) / (trial % 2 === 0 ? 1 : 7)));
      const e = { method: 'm', output: 'logit' as const, baseValue: 0.5, prediction: 0, attributions, additivityError: 0, complete: true };
      for (const k of [1, 2, 3, 7, p]) {
        const expected = topAttributions(e, s.card, k).map((t) => `,${t.feature},${String(t.attribution)}`).join('') + ',m,0.5';
        assert.equal(new RowExplainer(explainer, s.card, 100, { topK: k }).tail(e), expected, `trial ${trial}, k ${k}`);
      }
    }
  });

  it('writes a tail after the probabilities, also on a line kept as text (an id with a lone surrogate)', () => {
    const writer = new ScoredLineWriter(['a', 'b']);
    writer.classLine(7, 'ok', 1, Float32Array.from([0.25, 0.75]), 0, 2, ',f,1.5,"m, n",0');
    writer.classLine(8, 'lone \ud800', 0, Float32Array.from([0.5, 0.5]), 0, 2, ',g,-2,m,0');
    writer.valueLine(9, '', 3.5, ',h,0.25,m,1');
    assert.equal(writer.take(), `7,ok,b,0.25,0.75,f,1.5,"m, n",0\n8,lone \ud800,a,0.5,0.5,g,-2,m,0\n9,,3.5,h,0.25,m,1\n`);
  });
});

describe('batch explanation columns, permutation SHAP (digits MLP)', async () => {
  const s = await shipped('digits', 'digits.csv.gz');
  const p = s.card.input.features.length;
  const B = 8;
  const background = sampleBackground(s.x, s.rows, p, 5, B);
  const explainer = Explainer.create({ card: s.card, background, predict: (r, c) => s.model.predict(r, c) });
  // Two antithetic pairs per row: the least permutation SHAP runs.
  const maxEvaluations = B + 1 + 4 * (p - 1) * B;

  it('explains a chunk in groups whose sampling rounds stay under MAX_ROWS_PER_ROUND', () => {
    assert.equal(explainer.method, 'permutation');
    const perCall = explainRowsPerCall(s.card, B, 'permutation');
    assert.equal(perCall, Math.floor(MAX_ROWS_PER_ROUND / (B + 1 + 4 * (p - 1) * B)));
    assert.ok(perCall * (B + 1 + 4 * (p - 1) * B) <= MAX_ROWS_PER_ROUND);
    assert.equal(explainRowsPerCall(s.card, 100, 'permutation'), 10, '100 background rows of 64 features: 10 rows per call');
    assert.equal(explainRowsPerCall(s.card, 100, 'linear'), Infinity);
  });

  it('cuts a run that explains by permutation into batches of at most 2^25 model rows; the logistic regression keeps rowsPerBatch', async () => {
    assert.equal(explainedRowsPerBatch(s.card, 5000, 65_536), EXPLAIN_EVALUATIONS_PER_BATCH / 65_536);
    assert.equal(explainedRowsPerBatch(s.card, 5000, 65_536), 512);
    assert.equal(explainedRowsPerBatch(s.card, 100, 65_536), 100);
    assert.equal(explainedRowsPerBatch(s.card, 5000, 10_000_000), 3);
    assert.equal(explainedRowsPerBatch(s.card, 5000, 1e9), 1);
    const logreg = modelCardSchema.parse(JSON.parse(readFileSync(join(root, 'models', 'breast-cancer', '1', 'model.json'), 'utf8')));
    assert.equal(explainedRowsPerBatch(logreg, 5000, 65_536), 5000);
  });

  it('adds the columns; all 64 attributions plus the base equal the predicted class\'s probability; a row gets the same answer whatever its chunk', async () => {
    const ROWS = 24;
    const text = csvOf(s, 0, ROWS);
    const all = new RowExplainer(explainer, s.card, B, { topK: p, maxEvaluations });
    const a = await scoreText(s.model, text, { format: 'csv', chunkRows: 1000, explain: all });
    const b = await scoreText(s.model, text, { format: 'csv', chunkRows: 5, explain: all });
    assert.equal(a.scored, b.scored, 'chunks of 5 rows and one chunk of 24 give the same text');
    const lines = split(a.scored);
    assert.deepEqual(lines[0]!.slice(-4), [`explain_${p}_feature`, `explain_${p}_value`, 'explain_method', 'explain_base']);
    assert.equal(lines.length - 1, ROWS);
    const first = 3 + s.card.labels.length;
    for (const line of lines.slice(1)) {
      assert.equal(line.length, lines[0]!.length);
      assert.equal(line[first + 2 * p], 'permutation-shap: probability of the predicted class');
      let sum = Number(line[first + 2 * p + 1]);
      for (let j = 0; j < p; j++) sum += Number(line[first + 2 * j + 1]);
      const probability = Number(line[3 + s.card.labels.indexOf(line[2]!)]);
      // The probability column is rounded to 1e-7; additivity is exact up to float sums.
      assert.ok(Math.abs(sum - probability) < 1e-6, `row ${line[0]}: base + sum ${sum}, probability ${probability}`);
    }
    const top3 = new RowExplainer(explainer, s.card, B, { topK: 3, maxEvaluations });
    const c = split((await scoreText(s.model, text, { format: 'csv', chunkRows: 7, explain: top3 })).scored);
    assert.deepEqual(c[0]!.slice(first), explainColumns(3));
    for (const [i, line] of c.slice(1).entries()) assert.deepEqual(line.slice(first, first + 6), lines[i + 1]!.slice(first, first + 6), 'the top 3 are the first 3 of all 64');
  });
});
