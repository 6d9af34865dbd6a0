// mlship drift: the real executable on CSV files made from the breast-cancer held-out split, and the pieces
// it prints with (table, JSON, HTML) on the same files in process. The thresholds are the manifest's (the
// shipped breast-cancer sets driftShare 0), a flag overriding one, and the output names each one's source.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { driftJson, formatDriftTable } from '../../bin/commands/drift';
import { driftOfCsvFile, NoBaselineError, type FileDrift } from '../../lambdas/core/monitoring/drift/check-file';
import { driftRowsFromCsv } from '../../lambdas/core/monitoring/drift/drift-csv';
import { importanceFigures } from '../../lambdas/core/monitoring/drift/drift-report';
import { driftReportHtml, formatFigure } from '../../lambdas/core/monitoring/drift/report-html';
import { parseCsv } from '../../lambdas/core/common/csv';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import { BREAST_CANCER_DIR, breastCancerHeldOut, heldOutCsv, REPO_ROOT, shiftByOneStd } from '../fixtures/breast-cancer-split';
import { runMlship, type MlshipRun as Run } from '../fixtures/run-mlship';
import { tempDirMaker } from '../fixtures/temp-dirs';

const SHIFTED = ['mean smoothness', 'worst area', 'texture error'];
/** Exactly 2 of the 30 features moved: drift under the shipped driftShare 0, not under the default 0.5. */
const TWO_SHIFTED = ['mean smoothness', 'worst area'];

const mlship = runMlship;

const heldOut = breastCancerHeldOut();
const work = tempDirMaker('mlship-drift-')();
const files = {
  heldOut: join(work, 'held-out.csv'),
  shifted: join(work, 'shifted.csv'),
  dirty: join(work, 'dirty.csv'),
  twoShifted: join(work, 'two-shifted.csv'),
};
writeFileSync(files.heldOut, heldOutCsv(heldOut, heldOut.rows));
writeFileSync(files.shifted, heldOutCsv(heldOut, shiftByOneStd(heldOut, SHIFTED)));
writeFileSync(files.twoShifted, heldOutCsv(heldOut, shiftByOneStd(heldOut, TWO_SHIFTED)));
// the shipped breast-cancer model under a manifest that leaves monitoring.drift out
const bare = join(work, 'bare');
mkdirSync(bare);
symlinkSync(join(REPO_ROOT, 'models', 'breast-cancer'), join(bare, 'breast-cancer'));
writeFileSync(join(bare, 'manifest.yaml'), 'models:\n  - name: breast-cancer\n    version: 1\n');
// two rows spoiled: a word and an empty cell
const dirtyLines = heldOutCsv(heldOut, heldOut.rows).split('\n');
dirtyLines[3] = dirtyLines[3]!.replace(/^[^,]*/, 'n/a');
dirtyLines[8] = dirtyLines[8]!.replace(/,[^,]*,/, ',,');
writeFileSync(files.dirty, dirtyLines.join('\n'));

describe('mlship drift (the real executable)', () => {
  let table: Run;
  let json: Run;
  const html = join(work, 'report.html');

  before(async () => {
    [table, json] = await Promise.all([
      mlship(['drift', '--model', 'breast-cancer', '--data', files.shifted, '--html', html]),
      mlship(['drift', '--model', 'breast-cancer', '--data', files.heldOut, '--json']),
    ]);
  });

  it('prints a table, features ranked by PSI, the shifted ones first and marked DRIFT, the thresholds with their sources, and the verdict last', () => {
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.equal(lines[0], 'breast-cancer v1: 113 rows of shifted.csv against the baseline of 456 training rows');
    // The shipped card has permutation importance: its column stands beside PSI.
    assert.match(lines[2]!, /^rank {2}feature +PSI +importance +KS +KS p +JS +shift {2}verdict$/);
    const ranked = lines.slice(3, 33);
    assert.equal(ranked.length, 30);
    assert.deepEqual(new Set(ranked.slice(0, 3).map((l) => l.slice(6, 30).trim())), new Set(SHIFTED));
    assert.ok(ranked.slice(0, 3).every((l) => /DRIFT(, IMPORTANT)?$/.test(l)) && ranked.slice(3).every((l) => !l.includes('DRIFT')), ranked.join('\n'));
    // A shifted feature among the card's 5 most important is marked so; the others only DRIFT.
    const figures = importanceFigures(heldOut.card.explanation!.importance!);
    for (const line of ranked.slice(0, 3)) {
      const name = line.slice(6, 30).trim();
      const f = figures.get(name)!;
      assert.ok(line.includes(`± ${formatFigure(f.std)} (#${f.rank})`), `${name}'s importance beside its PSI: ${line}`);
      assert.equal(line.endsWith('DRIFT, IMPORTANT'), f.important, line);
    }
    assert.ok(SHIFTED.some((name) => figures.get(name)!.important), 'the test shows an important drifting feature (worst area)');
    assert.match(table.stdout, /^predictions: malignant 36% -> \d+%, benign 64% -> \d+%; chi-square [\d.]+ \(1 dof\), p [\d.]+, JS [\d.]+: stable$/m);
    assert.equal(lines[lines.length - 2], 'thresholds: psiModerate 0.1 (default), psiSignificant 0.25 (default), predictionJs 0.1 (default), alpha 0.05 (default), driftShare 0 (manifest), minSampleSize 100 (default)');
    assert.match(lines[lines.length - 1]!, /^drift: 3 of 30 features drift \(.+\), more than 0%; predictions stable \(chi-square p [\d.]+, JS [\d.e-]+\)$/);
    assert.equal(table.stderr, `wrote ${html}\n`);
  });

  it('--json prints the per-feature figures and the verdict', () => {
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as ReturnType<typeof driftJson> & { verdict: string; features: { name: string; psi: number; ks: { statistic: number; pValue: number }; jsDistance: number; drifting: boolean; rank: number }[]; data: { rows: number; used: number; rejected: number; ignoredColumns: string[] } };
    assert.equal(doc.verdict, 'no drift');
    assert.deepEqual([doc.data.rows, doc.data.used, doc.data.rejected, doc.data.ignoredColumns], [113, 113, 0, ['diagnosis']]);
    assert.equal(doc.features.length, 30);
    assert.deepEqual(doc.features.map((f) => f.rank), Array.from({ length: 30 }, (_, i) => i + 1));
    for (const f of doc.features) {
      assert.ok(f.psi >= 0 && f.ks.statistic >= 0 && f.ks.pValue > 0 && f.ks.pValue <= 1 && f.jsDistance >= 0 && f.jsDistance <= 1, `figures of ${f.name} in range: ${JSON.stringify(f)}`);
      assert.equal(f.drifting, false, f.name);
    }
    assert.ok(doc.features.every((f, i) => i === 0 || doc.features[i - 1]!.psi >= f.psi), 'ranked by PSI');
  });

  it('--html writes one self-contained page: a chart per feature, no script, nothing fetched', () => {
    const page = readFileSync(html, 'utf8');
    assert.match(page, /^<!doctype html>/);
    assert.equal((page.match(/<svg /g) ?? []).length, 31, 'one chart per feature and one for the predictions');
    assert.ok(!/<script|<link|src=|url\(|https?:\/\//i.test(page), 'no script and no external asset');
    for (const name of SHIFTED) assert.ok(page.includes(`${name} <span class="tag drift">drift</span>`), `${name} tagged as drifting`);
    assert.match(page, /<p class="verdict drift">drift: 3 of 30 features drift/);
    assert.ok(page.includes('Thresholds and where they came from: psiModerate 0.1 (default), psiSignificant 0.25 (default), predictionJs 0.1 (default), alpha 0.05 (default), driftShare 0 (manifest), minSampleSize 100 (default).'), 'the thresholds with their sources');
  });

  it('reports rows that are not numbers, with row, line, column and value, and uses the rest', async () => {
    const run = await mlship(['drift', '--model', 'breast-cancer', '--data', files.dirty, '--min-rows', '50']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^breast-cancer v1: 111 rows of dirty\.csv/);
    assert.match(run.stdout, /^left out 2 of 113 rows that are not numbers in a feature column:\n {2}row 3 \(line 4\), column 'mean radius' is 'n\/a', not a number\n {2}row 8 \(line 9\), column 'mean texture' is empty$/m);
  });

  describe('thresholds: the manifest\'s, a flag over it, the default without it; each with its source', () => {
    interface DriftDoc {
      verdict: string;
      summary: string;
      driftingFeatures: string[];
      thresholds: Record<string, number>;
      thresholdSources: Record<string, string>;
      predictions: { drifting: boolean };
    }
    const DEFAULTS = { psiModerate: 0.1, psiSignificant: 0.25, predictionJs: 0.1, alpha: 0.05, driftShare: 0.5, minSampleSize: 100 };
    const ALL_DEFAULT = { psiModerate: 'default', psiSignificant: 'default', predictionJs: 'default', alpha: 'default', driftShare: 'default', minSampleSize: 'default' };
    let manifest: Run;
    let flag: Run;
    let none: Run;
    const doc = (run: Run) => {
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout) as DriftDoc;
    };

    before(async () => {
      [manifest, flag, none] = await Promise.all([
        mlship(['drift', '--model', 'breast-cancer', '--data', files.twoShifted, '--json']),
        mlship(['drift', '--model', 'breast-cancer', '--data', files.twoShifted, '--json', '--drift-share', '0.5', '--min-rows', '50']),
        mlship(['drift', '--model', 'breast-cancer', '--data', files.twoShifted, '--json', '--manifest', join(bare, 'manifest.yaml')]),
      ]);
    });

    it('2 of 30 features drifting is drift under the shipped manifest\'s driftShare 0, said to come from the manifest', () => {
      const d = doc(manifest);
      assert.deepEqual(new Set(d.driftingFeatures), new Set(TWO_SHIFTED));
      assert.equal(d.predictions.drifting, false, 'the features decide it, not the predictions');
      assert.equal(d.verdict, 'drift', d.summary);
      assert.match(d.summary, /^drift: 2 of 30 features drift \(.+\), more than 0%/);
      assert.deepEqual(d.thresholds, { ...DEFAULTS, driftShare: 0 });
      assert.deepEqual(d.thresholdSources, { ...ALL_DEFAULT, driftShare: 'manifest' });
    });

    it('a flag overrides the manifest, and says so', () => {
      const d = doc(flag);
      assert.deepEqual(new Set(d.driftingFeatures), new Set(TWO_SHIFTED));
      assert.equal(d.verdict, 'no drift', d.summary);
      assert.deepEqual(d.thresholds, { ...DEFAULTS, driftShare: 0.5, minSampleSize: 50 });
      assert.deepEqual(d.thresholdSources, { ...ALL_DEFAULT, driftShare: 'flag', minSampleSize: 'flag' });
    });

    it('a model whose manifest entry sets no threshold takes the defaults, said to be defaults', () => {
      const d = doc(none);
      assert.deepEqual(new Set(d.driftingFeatures), new Set(TWO_SHIFTED));
      assert.equal(d.verdict, 'no drift', d.summary);
      assert.deepEqual(d.thresholds, DEFAULTS);
      assert.deepEqual(d.thresholdSources, ALL_DEFAULT);
    });

    it('a flag that clashes with the manifest\'s or the default thresholds is refused in one line', async () => {
      const run = await mlship(['drift', '--model', 'breast-cancer', '--data', files.twoShifted, '--psi-moderate', '0.3']);
      assert.equal(run.code, 1);
      assert.equal(run.stderr.trim(), 'error: psiSignificant must be at least psiModerate (0.3), received 0.25');
    });
  });

  it('says what is wrong in one line, exit 1: an unknown model, a missing column, a bad threshold, a missing file', async () => {
    const runs = await Promise.all([
      mlship(['drift', '--model', 'nope', '--data', files.heldOut]),
      mlship(['drift', '--model', 'digits', '--data', files.heldOut]),
      mlship(['drift', '--model', 'breast-cancer', '--data', files.heldOut, '--alpha', '2']),
      mlship(['drift', '--model', 'breast-cancer', '--data', join(work, 'missing.csv')]),
    ]);
    const expected = [
      /^error: no model 'nope' in .*manifest\.yaml; its models are breast-cancer, digits$/,
      /^error: .*held-out\.csv: has no column for 64 of the model's 64 features: 'pixel_0_0', 'pixel_0_1', 'pixel_0_2', 'pixel_0_3', 'pixel_0_4', \.\.\.$/,
      /^error: alpha must be between 0 and 1, received 2$/,
      /^error: .*missing\.csv: file not found$/,
    ];
    runs.forEach((run, i) => {
      assert.equal(run.code, 1, `run ${i}: ${run.stderr}`);
      assert.match(run.stderr.trim(), expected[i]!);
      assert.ok(!/^\s+at /m.test(run.stderr), `no stack trace: ${run.stderr}`);
      assert.equal(run.stdout, '', `run ${i} prints nothing on stdout`);
    });
  });
});

describe('driftOfCsvFile and its output, in process', () => {
  let served: ServedModel;
  let shifted: FileDrift;
  before(async () => {
    served = await ServedModel.load(BREAST_CANCER_DIR);
    shifted = await driftOfCsvFile(served, files.shifted);
  });
  after(async () => served.release());

  it('names the three shifted features first and counts every row', () => {
    assert.deepEqual(new Set(shifted.report.driftingFeatures), new Set(SHIFTED));
    assert.deepEqual([shifted.report.rows, shifted.data.rows, shifted.data.total, shifted.data.rejectedCount], [113, 113, 113, 0]);
    assert.equal(shifted.report.predictions?.kind, 'classes');
  });

  it('predicts in chunks: a file larger than one chunk gives the same report as its rows in one go', async () => {
    const big = join(work, 'big.csv');
    const rows = Array.from({ length: 9000 }, (_, i) => heldOut.rows[i % heldOut.rows.length]!);
    writeFileSync(big, `${heldOut.features.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`);
    const result = await driftOfCsvFile(served, big);
    assert.equal(result.report.rows, 9000);
    const p = result.report.predictions!;
    assert.ok(p.kind === 'classes' && p.current.reduce((s, c) => s + c, 0) === 9000, 'a prediction for every row');
  });

  it('the table has a line per feature, the header, predictions and verdict; the JSON keeps the data summary', () => {
    const lines = formatDriftTable(shifted, { model: 'breast-cancer', version: 1, source: 'shifted.csv' });
    // The card's importance, when it has one, adds its legend and its note.
    assert.equal(lines.length, 3 + 30 + 1 + 2 + 3 + (shifted.report.importance ? 2 : 0));
    assert.equal(lines[lines.length - 2], 'thresholds: psiModerate 0.1, psiSignificant 0.25, predictionJs 0.1, alpha 0.05, driftShare 0.5, minSampleSize 100', 'no sources given, none said');
    const doc = driftJson(shifted, { model: 'breast-cancer', version: 1, source: 'shifted.csv' }) as { model: string; data: { file: string } };
    assert.deepEqual([doc.model, doc.data.file], ['breast-cancer', 'shifted.csv']);
  });

  it('refuses a model whose card has no drift baseline', async () => {
    const card = { ...served.card, driftBaseline: undefined };
    await assert.rejects(driftOfCsvFile({ card, predict: served.predict.bind(served) }, files.heldOut), (e: Error) => e instanceof NoBaselineError && /breast-cancer v1 has no drift baseline/.test(e.message));
  });

  it("puts the card's importance beside PSI, in the table, the JSON and the HTML, and marks the drifting important feature", async () => {
    const features = served.card.input.features.map((name) => ({ name, mean: name === 'worst area' ? 0.08 : name === 'mean smoothness' ? 0 : 0.001, std: 0.002 }));
    const card = { ...served.card, explanation: { background: { file: 'background.json' as const, rows: 1, sha256: '0'.repeat(64), seed: 1, source: 'test' }, importance: { metric: 'accuracy' as const, repeats: 5, rows: 114, seed: 1, baseline: 0.97, features } } };
    const result = await driftOfCsvFile({ card, predict: served.predict.bind(served) }, files.shifted);
    const lines = formatDriftTable(result, { model: 'breast-cancer', version: 1, source: 'shifted.csv' });
    assert.match(lines[2]!, /PSI\s+importance\s+KS/, 'an importance column right after PSI');
    const line = (feature: string) => lines.find((l) => new RegExp(`^\\s*\\d+  ${feature} `).test(l))!;
    assert.match(line('worst area'), /0\.08 ± 0\.002 \(#1\).*DRIFT, IMPORTANT$/, 'the drifting important feature stands out');
    assert.match(line('mean smoothness'), /0 ± 0\.002 \(#\d+\).*DRIFT$/, 'a drifting feature of no importance is only DRIFT');
    assert.ok(lines.includes('importance: drifting important feature: worst area (importance #1); 2 other drifting features are less important'), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('(importance: drop in accuracy on 114 held-out rows when the feature is shuffled')), 'the column is explained');
    const doc = driftJson(result, { model: 'breast-cancer', version: 1, source: 'shifted.csv' }) as { importance: { driftingImportant: string[] }; features: { name: string; importance: { rank: number; important: boolean } }[] };
    assert.deepEqual(doc.importance.driftingImportant, ['worst area']);
    assert.deepEqual(doc.features.find((f) => f.name === 'worst area')!.importance, { mean: 0.08, std: 0.002, rank: 1, important: true });
    const page = driftReportHtml(result.report, { model: 'breast-cancer', version: 1, source: 'shifted.csv', generatedAt: new Date('2026-01-02T03:04:05Z') });
    assert.ok(page.includes('<th>PSI</th><th>importance</th>'), 'an importance column in the HTML table');
    assert.equal(page.match(/<tr class="drift-important">/g)?.length, 1, 'one row marked: the drifting important feature');
    assert.match(page, /<tr class="drift-important"><td>\d+<\/td><td><a href="#f\d+">worst area<\/a><\/td><td>[^<]+<\/td><td class="importance">0\.08 ± 0\.002 \(#1\)<\/td>/);
    assert.ok(page.includes('A drifting feature among the 5 most important is marked'), 'the page says how importance is used');
  });

  it('escapes names in the HTML report and shows rows left out', () => {
    const page = driftReportHtml(shifted.report, { model: '<b>m</b>', version: 2, source: 'a&b.csv', generatedAt: new Date('2026-01-02T03:04:05Z'), rejected: { count: 3, total: 116, examples: ["row 1 (line 2), column 'x' is '<script>', not a number"] } });
    assert.ok(page.includes('Drift report: &lt;b&gt;m&lt;/b&gt; v2') && page.includes('113 rows of a&amp;b.csv'), 'escaped context');
    assert.ok(page.includes('3 of 116 rows are not numbers') && page.includes('&#39;&lt;script&gt;&#39;') && !page.includes('<script>'), 'rejected rows, escaped');
  });
});

describe('driftRowsFromCsv', () => {
  it('takes the feature columns by name in model order, ignores the rest, and keeps the first examples of bad rows', () => {
    const table = parseCsv('id,b,a,label\n1,2,3,x\n2,oops,5,y\n3,1e39,6,z\n4,7,,w\n5,8,9,v\n', 'f.csv');
    const rows = driftRowsFromCsv(table, ['a', 'b'], 2);
    assert.deepEqual(Array.from(rows.x), [3, 2, 9, 8]);
    assert.deepEqual([rows.rows, rows.total, rows.rejectedCount, rows.ignoredColumns], [2, 5, 3, ['id', 'label']]);
    assert.deepEqual(rows.rejected.map((r) => r.message), ["row 2 (line 3), column 'b' is 'oops', not a number", "row 3 (line 4), column 'b' is '1e39', not a finite number within float32 range"]);
    assert.deepEqual(rows.rejectedByColumn, { b: 2, a: 1 });
  });
});

describe('formatFigure', () => {
  it('keeps 3-4 significant digits and uses exponents for the tiny', () => {
    assert.deepEqual([0, 0.123456, 2.664321, 1234.56, 0.00012, 3.96e-19, null, NaN].map(formatFigure), ['0', '0.123', '2.664', '1235', '1.2e-4', '4.0e-19', '-', '-']);
  });
});
