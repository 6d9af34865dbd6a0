// mlship explain: the real executable on the shipped models (their cards' importance and background
// samples) and on model folders made here (the shipped breast-cancer and digits folders copied to a temp
// dir with a background sample from their data and a known importance, a second breast-cancer version, and
// folders without importance or background), against the Explainer run in process.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import { readCsvFile, toNumericTable } from '../../lambdas/core/common/csv';
import { backgroundFileText, readBackground } from '../../lambdas/core/explain/background';
import { Explainer } from '../../lambdas/core/explain/explainer';
import { explainChunkRows } from '../../lambdas/core/explain/report/file-attributions';
import { figure, rankImportance } from '../../lambdas/core/explain/report/explain-report-html';
import { importanceMeasure, metricName } from '../../lambdas/core/explain/report/importance-text';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import { modelCardSchema, type ModelCard } from '../../lambdas/core/models/model-card';
import { REPO_ROOT } from '../fixtures/breast-cancer-split';
import { runMlship, type MlshipRun as Run } from '../fixtures/run-mlship';
import { tempDirMaker } from '../fixtures/temp-dirs';

const SHIPPED = { 'breast-cancer': join(REPO_ROOT, 'models', 'breast-cancer', '1'), digits: join(REPO_ROOT, 'models', 'digits', '1') } as const;

const mlship = runMlship;

const work = tempDirMaker('mlship-explain-')();
const MODELS = join(work, 'models');
const MANIFEST = join(MODELS, 'manifest.yaml');

const cancer = toNumericTable(readCsvFile(join(REPO_ROOT, 'models', 'breast-cancer', 'data', 'breast_cancer.csv')), 'diagnosis');
const digitsCsv = join(work, 'digits.csv');
writeFileSync(digitsCsv, gunzipSync(readFileSync(join(REPO_ROOT, 'models', 'digits', 'data', 'digits.csv.gz'))));
const digits = toNumericTable(readCsvFile(digitsCsv), 'digit');

function rowsOf(table: typeof cancer, from: number, count: number): number[][] {
  const width = table.features.length;
  return Array.from({ length: count }, (_, r) => Array.from(table.x.data.subarray((from + r) * width, (from + r + 1) * width)));
}

/** Importance over the card's features: the named ones first, in that order, the rest small. */
function importanceOf(card: ModelCard, top: readonly string[]) {
  return {
    metric: card.task === 'regression' ? ('r2' as const) : ('accuracy' as const),
    repeats: 5,
    rows: 114,
    seed: 42,
    baseline: 0.965,
    features: card.input.features.map((name) => {
      const at = top.indexOf(name);
      return { name, mean: at >= 0 ? 0.1 / (at + 1) : 0.0001, std: at >= 0 ? 0.004 : 0.0002 };
    }),
  };
}

/** Copies the shipped `from` folder as <name>/<version>, with a background sample of `rows` and, optionally, an importance. */
function modelFolder(name: string, version: number, rows: number[][] | undefined, top: readonly string[] | undefined, from = name): string {
  const dir = join(MODELS, name, String(version));
  mkdirSync(dir, { recursive: true });
  const shipped = join(REPO_ROOT, 'models', from, '1');
  copyFileSync(join(shipped, 'model.onnx'), join(dir, 'model.onnx'));
  const card = modelCardSchema.parse(JSON.parse(readFileSync(join(shipped, 'model.json'), 'utf8')));
  const out: Record<string, unknown> = { ...card, name, version };
  delete out.explanation;
  if (rows) {
    const text = backgroundFileText(card.input.features, Float32Array.from(rows.flat()));
    writeFileSync(join(dir, 'background.json'), text);
    out.explanation = {
      background: { file: 'background.json', rows: rows.length, sha256: createHash('sha256').update(text).digest('hex'), seed: 1, source: `${rows.length} rows of the data set (test)` },
      ...(top ? { importance: importanceOf(card, top) } : {}),
    };
  }
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(out, null, 2)}\n`);
  return dir;
}

const CANCER_TOP = ['worst concave points', 'worst area', 'mean texture'];
const CANCER_V2_TOP = ['worst radius', 'mean smoothness'];
const DIGITS_TOP = ['pixel_4_4', 'pixel_2_5'];
modelFolder('breast-cancer', 1, rowsOf(cancer, 0, 60), CANCER_TOP);
modelFolder('breast-cancer', 2, rowsOf(cancer, 60, 60), CANCER_V2_TOP);
modelFolder('digits', 1, rowsOf(digits, 0, 20), DIGITS_TOP);
// breast-cancer again: without an explanation at all, and with a background but no importance.
modelFolder('plain', 1, undefined, undefined, 'breast-cancer');
modelFolder('unranked', 1, rowsOf(cancer, 0, 10), undefined, 'breast-cancer');
writeFileSync(
  MANIFEST,
  ['models:', ...['breast-cancer', 'digits', 'plain', 'unranked'].flatMap((name) => [`  - name: ${name}`, '    version: 1'])].join('\n') + '\n',
);

// The data files: 12 breast-cancer rows with an id and one bad row; 4 digits rows as JSON Lines and a bad line.
const cancerRows = rowsOf(cancer, 200, 12);
const cancerData = join(work, 'cancer.csv');
writeFileSync(cancerData, `id,${cancer.features.join(',')}\n${cancerRows.map((r, i) => `r${i},${r.join(',')}`).join('\n')}\nbad,${cancerRows[0]!.map((v, i) => (i === 3 ? 'oops' : String(v))).join(',')}\n`);
const digitRows = rowsOf(digits, 500, 4);
const digitsData = join(work, 'digits.jsonl');
writeFileSync(digitsData, `${digitRows.map((r) => JSON.stringify(r)).join('\n')}\n{"pixel_0_0": 1}\n`);

interface ExplainDoc {
  model: string;
  version: number;
  importance: { metric: string; repeats: number; features: { name: string; mean: number; std: number; rank: number }[] } | null;
  attributions?: {
    file: string;
    method: string;
    rows: number;
    rowsIn: number;
    rejected: number;
    rejectedExamples: { row: number; reason: string }[];
    maxAdditivityError: number;
    features: { name: string; meanAbs: number; standardError?: number }[];
  };
}

/** The mean |attribution| per feature of `rows`, from the Explainer in process, `chunk` rows per call (as the command does). */
async function meanAbsolute(dir: string, rows: number[][], maxEvaluations?: number): Promise<{ method: string; meanAbs: number[] }> {
  const served = await ServedModel.load(dir);
  try {
    const card = served.card;
    const background = readBackground(dir, card)!;
    const predict = served.predict.bind(served);
    const explainer = Explainer.create({ card, background, predict, onnx: readFileSync(join(dir, 'model.onnx')) });
    const chunk = explainChunkRows(card, background.length / card.input.features.length, explainer.method);
    const sums = new Float64Array(card.input.features.length);
    let method = '';
    for (let start = 0; start < rows.length; start += chunk) {
      const part = rows.slice(start, start + chunk);
      for (const e of await explainer.explain(Float32Array.from(part.flat()), part.length, maxEvaluations === undefined ? {} : { maxEvaluations })) {
        method = e.method;
        e.attributions.forEach((a, i) => (sums[i] = sums[i]! + Math.abs(a)));
      }
    }
    return { method, meanAbs: Array.from(sums, (s) => s / rows.length) };
  } finally {
    await served.release();
  }
}

describe('mlship explain', () => {
  const html = join(work, 'report.html');
  let runs: Record<string, Run>;
  before(async () => {
    // The shipped models (models/manifest.yaml) for the tables and the JSON; the temp folders for versions, the report and errors.
    const [shippedCancer, shippedDigits, table, json, digitsJson, page, v2] = await Promise.all([
      mlship(['explain', '--model', 'breast-cancer']),
      mlship(['explain', '--model', 'digits']),
      mlship(['explain', '--model', 'breast-cancer', '--manifest', MANIFEST]),
      mlship(['explain', '--model', 'breast-cancer', '--data', cancerData, '--json']),
      mlship(['explain', '--model', 'digits', '--data', digitsData, '--json', '--max-evaluations', '30000']),
      mlship(['explain', '--model', 'breast-cancer', '--manifest', MANIFEST, '--data', cancerData, '--html', html]),
      mlship(['explain', '--model', 'breast-cancer', '--manifest', MANIFEST, '--version', '2']),
    ]);
    runs = { shippedCancer: shippedCancer!, shippedDigits: shippedDigits!, table: table!, json: json!, digitsJson: digitsJson!, page: page!, v2: v2! };
  });

  it('on the shipped models: names their most important features first, as their cards rank them', () => {
    for (const [name, run] of [['breast-cancer', runs.shippedCancer!], ['digits', runs.shippedDigits!]] as const) {
      assert.equal(run.code, 0, run.stderr);
      const card = modelCardSchema.parse(JSON.parse(readFileSync(join(SHIPPED[name], 'model.json'), 'utf8')));
      const importance = card.explanation!.importance!;
      const lines = run.stdout.split('\n');
      assert.match(lines[0]!, new RegExp(`^${name} v1: permutation importance, ${importanceMeasure(importance.metric)} on ${importance.rows} held-out rows \\(${metricName(importance.metric)} [\\d.e+-]+ unshuffled\\) when the feature is shuffled, mean ± std over ${importance.repeats} shuffles$`));
      const top = rankImportance(importance).slice(0, 5);
      assert.ok(top[0]!.mean > top[4]!.mean, `${name}: a real ranking`);
      top.forEach((f, i) => assert.ok(lines[3 + i]!.startsWith(`${String(i + 1).padStart(4)}  ${f.name} `) && lines[3 + i]!.includes(`${figure(f.mean)} ± ${figure(f.std)}`), `${name} #${i + 1} is ${f.name}: ${lines[3 + i]}`));
      assert.equal(lines.filter((l) => /^ +\d+ {2}/.test(l)).length, card.input.features.length, 'every feature');
    }
  });

  it('prints the global importance with its figures, and --version picks the version', () => {
    const { code, stdout, stderr } = runs.table!;
    assert.equal(code, 0, stderr);
    const lines = stdout.split('\n');
    assert.equal(lines[0], 'breast-cancer v1: permutation importance, drop in accuracy on 114 held-out rows (accuracy 0.965 unshuffled) when the feature is shuffled, mean ± std over 5 shuffles');
    assert.match(lines[2]!, /^rank {2}feature +importance$/);
    CANCER_TOP.forEach((name, i) => assert.match(lines[3 + i]!, new RegExp(`^ +${i + 1} {2}${name} +${[0.1, 0.05, 0.0333][i]} ± 0\\.004 +#+$`), lines[3 + i]));
    assert.equal(lines.filter((l) => /^ +\d+ {2}/.test(l)).length, 30, 'every feature');
    const v2 = runs.v2!.stdout.split('\n');
    assert.match(v2[0]!, /^breast-cancer v2: /, '--version picks the version');
    assert.match(v2[3]!, /^ +1 {2}worst radius /, "v2's own importance");
  });

  it('--data --json: the mean |attribution| per feature equals the Explainer\'s on the same rows (exact linear SHAP), rejects counted', async () => {
    const { code, stdout, stderr } = runs.json!;
    assert.equal(code, 0, stderr);
    const doc = JSON.parse(stdout) as ExplainDoc;
    const shipped = modelCardSchema.parse(JSON.parse(readFileSync(join(SHIPPED['breast-cancer'], 'model.json'), 'utf8')));
    assert.deepEqual([doc.model, doc.version, doc.importance?.metric], ['breast-cancer', 1, shipped.explanation!.importance!.metric]);
    assert.deepEqual(doc.importance?.features, rankImportance(shipped.explanation!.importance!), 'the card\'s importance, ranked');
    const a = doc.attributions!;
    assert.deepEqual([a.file, a.rowsIn, a.rows, a.rejected], ['cancer.csv', 13, 12, 1]);
    assert.match(a.rejectedExamples[0]!.reason, /^row 13: column 'mean area' is 'oops', not a number/);
    assert.match(a.method, /^linear-shap: /);
    assert.ok(a.maxAdditivityError < 1e-6, `additive: ${a.maxAdditivityError}`);
    const expected = await meanAbsolute(SHIPPED['breast-cancer'], cancerRows);
    assert.equal(a.method, expected.method);
    const byName = new Map(a.features.map((f) => [f.name, f]));
    cancer.features.forEach((name, i) => {
      assert.ok(Math.abs(byName.get(name)!.meanAbs - expected.meanAbs[i]!) <= 1e-12 * Math.max(1, expected.meanAbs[i]!), `${name}: ${byName.get(name)!.meanAbs} vs ${expected.meanAbs[i]}`);
      assert.equal(byName.get(name)!.standardError, undefined, 'exact: no standard error');
    });
    assert.ok(a.features.every((f, i) => i === 0 || a.features[i - 1]!.meanAbs >= f.meanAbs), 'largest first');
  });

  it('--data on the MLP: permutation SHAP with a standard error per feature, equal to the Explainer\'s on the same rows', async () => {
    const { code, stdout, stderr } = runs.digitsJson!;
    assert.equal(code, 0, stderr);
    const a = (JSON.parse(stdout) as ExplainDoc).attributions!;
    assert.deepEqual([a.rowsIn, a.rows, a.rejected], [5, 4, 1]);
    assert.match(a.rejectedExamples[0]!.reason, /^line 5: missing features 'pixel_0_1'/);
    assert.equal(a.method, 'permutation-shap: probability of the predicted class');
    assert.ok(a.features.every((f) => f.standardError !== undefined && f.standardError >= 0), 'a standard error for every feature');
    assert.ok(a.features.some((f) => f.standardError! > 0), 'sampling shows');
    const expected = await meanAbsolute(SHIPPED.digits, digitRows, 30000);
    const byName = new Map(a.features.map((f) => [f.name, f]));
    digits.features.forEach((name, i) => {
      assert.ok(Math.abs(byName.get(name)!.meanAbs - expected.meanAbs[i]!) <= 1e-12, `${name}: ${byName.get(name)!.meanAbs} vs ${expected.meanAbs[i]}`);
    });
  });

  it('--html writes a self-contained report: the file\'s attributions and the importance of every local version', () => {
    const { code, stdout, stderr } = runs.page!;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /mean \|attribution\| over 12 rows of cancer\.csv \(13 read, 1 rejected\)/);
    assert.match(stdout, /method: linear-shap: log-odds of the predicted class; exact/);
    assert.ok(existsSync(html), stderr);
    const page = readFileSync(html, 'utf8');
    assert.ok(page.includes('<h1>Explanations: breast-cancer v1</h1>'));
    assert.ok(page.includes('Mean |attribution| over cancer.csv'));
    for (const name of [...CANCER_TOP, ...CANCER_V2_TOP]) assert.ok(page.includes(`data-feature="${name}"`), `the page shows ${name}`);
    assert.ok(page.includes('<section class="version" data-version="2">') && page.includes('<section class="version" data-version="1">'), 'both versions');
    assert.ok(page.includes('1. worst concave points') && page.includes('1. worst radius'), 'each version ranked by its own importance');
    assert.ok(!/<script|<link|src="http|href="http/.test(page), 'no script, no external asset');
  });

  it('a model without importance or background, an unknown version or model, and a bad file: a clear error, exit 1, no stack trace', async () => {
    const bad = join(work, 'bad.csv');
    writeFileSync(bad, 'not,a,header\n1,2,3\n');
    const badGzip = join(work, 'bad.csv.gz');
    writeFileSync(badGzip, 'id,not gzipped\n');
    const cases: [string[], RegExp][] = [
      [['--model', 'plain'], /^error: plain v1 has no permutation importance in its model\.json \(explanation\.importance\): mlship train records it; mlship import records it with a --baseline file that has a label column/],
      [['--model', 'plain', '--data', cancerData], /^error: plain v1 has no background sample for explanations \(model\.json explanation\.background, background\.json\): mlship train writes one; mlship import writes one with --baseline FILE$/],
      [['--model', 'unranked'], /^error: unranked v1 has no permutation importance/],
      [['--model', 'breast-cancer', '--version', '7'], /^error: no version '7' of breast-cancer in .*: its versions are 1, 2$/],
      [['--model', 'nope'], /^error: no model 'nope' in .*manifest\.yaml; its models are breast-cancer, digits, plain, unranked$/],
      [['--model', 'breast-cancer', '--data', join(work, 'missing.csv')], /^error: .*missing\.csv: file not found$/],
      [['--model', 'breast-cancer', '--data', bad], /^error: the header has unknown columns 'not', 'a', 'header'/],
      [['--model', 'breast-cancer', '--data', join(work, 'rows.txt')], /^error: .*rows\.txt: cannot tell the format from the name/],
      [['--model', 'breast-cancer', '--data', badGzip], /^error: .*bad\.csv\.gz: not a readable gzip file \(incorrect header check\)$/],
    ];
    const results = await Promise.all(cases.map(([args]) => mlship(['explain', '--manifest', MANIFEST, ...args])));
    results.forEach((run, i) => {
      assert.equal(run.code, 1, `case ${i}: ${run.stderr}`);
      assert.match(run.stderr.trim(), cases[i]![1]);
      assert.ok(!/^\s+at /m.test(run.stderr), `no stack trace: ${run.stderr}`);
      assert.equal(run.stdout, '', `case ${i} prints nothing on stdout`);
    });
    // --data on a model with a background and no importance still explains, and says what is missing.
    const unrankedData = await mlship(['explain', '--manifest', MANIFEST, '--model', 'unranked', '--data', cancerData]);
    assert.equal(unrankedData.code, 0, unrankedData.stderr);
    assert.match(unrankedData.stdout, /^unranked v1 has no permutation importance in its model\.json \(explanation\.importance\)\.\n/);
    assert.match(unrankedData.stdout, /mean \|attribution\| over 12 rows/);
    // A gzipped file is read as the plain one.
    const gzipped = join(work, 'cancer.csv.gz');
    writeFileSync(gzipped, gzipSync(readFileSync(cancerData)));
    const [plain, unzipped] = await Promise.all([cancerData, gzipped].map((file) => mlship(['explain', '--manifest', MANIFEST, '--model', 'breast-cancer', '--data', file, '--json'])));
    const attributions = (run: Run) => (JSON.parse(run.stdout) as ExplainDoc).attributions!;
    assert.deepEqual(attributions(unzipped!).features, attributions(plain!).features, 'the same attributions from the .gz');
  });
});
