// The pieces of `mlship explain` in process: the sums behind the mean |attribution| (and its standard error
// from the rows' own), the ranking of the card's importance, how importance is worded, and the HTML report
// with hostile names.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RowExplanation } from '../../../../../lambdas/core/explain/explainer';
import { explainReportHtml, rankImportance } from '../../../../../lambdas/core/explain/report/explain-report-html';
import { AttributionSums, type FileAttributions } from '../../../../../lambdas/core/explain/report/file-attributions';
import { importanceMeasure } from '../../../../../lambdas/core/explain/report/importance-text';
import { modelCardSchema, type ModelCard } from '../../../../../lambdas/core/models/model-card';
import { BREAST_CANCER_DIR } from '../../../../fixtures/breast-cancer-split';

const HOSTILE = '<img src=x onerror="alert(1)">';
const shipped = modelCardSchema.parse(JSON.parse(readFileSync(join(BREAST_CANCER_DIR, 'model.json'), 'utf8')));

/** A three-feature binary card (the shipped card with its features renamed), with an importance. */
function card(): ModelCard {
  const features = ['a', HOSTILE, 'c'];
  return {
    ...shipped,
    input: { ...shipped.input, features },
    explanation: {
      background: { file: 'background.json', rows: 2, sha256: '0'.repeat(64), seed: 1, source: 'test' },
      importance: { metric: 'logLoss', repeats: 5, rows: 40, seed: 3, baseline: 0.2, features: [{ name: 'a', mean: 0.01, std: 0.002 }, { name: HOSTILE, mean: 0.3, std: 0.05 }, { name: 'c', mean: 0.01, std: 0 }] },
    },
  };
}

function row(attributions: number[], standardError?: number[], classIndex = 0): RowExplanation {
  return {
    method: 'permutation-shap: probability of the predicted class',
    output: 'probability',
    classIndex,
    baseValue: 0.5,
    prediction: 0.5 + attributions.reduce((s, a) => s + a, 0),
    attributions: Float64Array.from(attributions),
    ...(standardError ? { standardError: Float64Array.from(standardError) } : {}),
    additivityError: 1e-9,
    complete: classIndex === 0,
  };
}

describe('AttributionSums', () => {
  it('mean |attribution|, the signed mean, and the standard error sqrt(sum se^2) / n per feature', () => {
    const sums = new AttributionSums(card());
    sums.add([row([0.2, -0.4, 0], [0.03, 0.04, 0]), row([-0.1, -0.2, 0.05], [0.04, 0.03, 0.01], 1)]);
    const f = sums.features();
    assert.deepEqual(f.map((x) => x.name), ['a', HOSTILE, 'c'], "the card's order");
    const close = (x: number, y: number) => assert.ok(Math.abs(x - y) < 1e-15, `${x} vs ${y}`);
    close(f[0]!.meanAbs, 0.15);
    close(f[0]!.mean, 0.05);
    close(f[1]!.meanAbs, 0.3);
    close(f[0]!.standardError!, Math.sqrt(0.03 ** 2 + 0.04 ** 2) / 2);
    close(f[2]!.standardError!, 0.01 / 2);
    assert.deepEqual([sums.rows, sums.incompleteRows, sums.maxAdditivityError], [2, 1, 1e-9]);
    assert.deepEqual(sums.explainedClasses(), { malignant: 1, benign: 1 });
  });

  it('exact methods have no standard error; two methods in one file are refused', () => {
    const sums = new AttributionSums(card());
    sums.add([row([1, 2, 3])]);
    assert.equal(sums.features()[0]!.standardError, undefined);
    assert.throws(() => sums.add([{ ...row([1, 2, 3]), method: 'linear-shap: log-odds of the predicted class' }]), /two methods/);
  });
});

describe('importance as the views say it', () => {
  it('ranks by mean, ties in the card\'s order; a loss rises, a score drops', () => {
    assert.deepEqual(rankImportance(card().explanation!.importance!).map((f) => [f.name, f.rank]), [[HOSTILE, 1], ['a', 2], ['c', 3]]);
    assert.deepEqual(['logLoss', 'accuracy', 'mae', 'r2'].map(importanceMeasure), ['rise in log loss', 'drop in accuracy', 'rise in MAE', 'drop in R²']);
  });
});

describe('explainReportHtml', () => {
  it('shows every version\'s importance and the file\'s attributions with texts escaped, no script, nothing external', () => {
    const v1 = card();
    const v2: ModelCard = { ...v1, version: 2, explanation: undefined };
    const attributions: FileAttributions = {
      method: 'permutation-shap: probability of the predicted class',
      output: 'probability',
      rowsIn: 3,
      rows: 2,
      rejected: 1,
      rejectedExamples: [{ row: 3, reason: `row 3: column '${HOSTILE}' is 'x', not a number` }],
      incompleteRows: 1,
      maxAdditivityError: 1e-9,
      explainedClasses: { malignant: 2, benign: 0 },
      features: [{ name: 'a', meanAbs: 0.15, mean: 0.05, standardError: 0.025 }, { name: HOSTILE, meanAbs: 0.3, mean: -0.3, standardError: 0.025 }, { name: 'c', meanAbs: 0.025, mean: 0.025, standardError: 0.005 }],
    };
    const page = explainReportHtml({ model: 'm<b>', version: 1, versions: [{ version: 1, card: v1 }, { version: 2, card: v2 }], data: { file: 'a&b.csv', attributions }, generatedAt: new Date('2026-12-08T00:00:00Z') });
    assert.ok(!page.includes('<img') && !page.includes('<b>') && !/<script|src="http|href="http/.test(page), 'escaped, no script, nothing fetched');
    assert.ok(page.includes('Explanations: m&#60;b&#62; v1') && page.includes('Mean |attribution| over a&#38;b.csv'));
    assert.ok(page.includes('rise in log loss on 40 held-out rows (log loss 0.2 unshuffled)'), 'what the importance is');
    assert.ok(page.includes('1. &#60;img'), 'the most important feature first, escaped');
    assert.ok(page.includes('No permutation importance in this version&#39;s model.json') || page.includes("No permutation importance in this version's model.json"), 'v2 says what is missing');
    assert.ok(page.includes('0.3 ± 0.025') && page.includes('standard error of the mean |attribution|') && page.includes('1 row stopped sampling at the deadline'), 'precision said');
    assert.ok(page.includes('malignant: 2 rows') && !page.includes('benign: 0'), 'classes explained, none shown at 0');
    assert.ok(page.indexOf('data-version="2"') < page.indexOf('data-version="1"'), 'newest version first');
  });
});
