// The model-level figures and verdict: synthetic cases whose answers follow from the rules, and the shipped
// breast-cancer model, whose drift baseline was built on the training part of its stratified split.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildDriftBaseline } from '../../../../lambdas/core/monitoring/drift/baseline';
import { DriftAccumulator, evaluateDrift, importanceFigures, IMPORTANT_FEATURES, type DriftReport } from '../../../../lambdas/core/monitoring/drift/drift-report';
import { DEFAULT_DRIFT_THRESHOLDS, describeDriftThresholds, resolveDriftThresholds, resolveThresholds } from '../../../../lambdas/core/monitoring/drift/thresholds';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import type { DriftBaseline } from '../../../../lambdas/core/models/model-card';
import { matrixFromRows } from '../../../../lambdas/core/models/training/matrix';
import { createRandom } from '../../../../lambdas/core/models/training/random';
import { BREAST_CANCER_DIR, breastCancerHeldOut, shiftByOneStd } from '../../../fixtures/breast-cancer-split';

/** A two-feature baseline from 1,000 seeded rows: a ~ N(0, 1), b uniform on [0, 10); predicted classes from a > 0. */
function syntheticBaseline(): DriftBaseline {
  const random = createRandom(5);
  const rows = Array.from({ length: 1000 }, () => [random.normal(), random.next() * 10]);
  return buildDriftBaseline({
    x: matrixFromRows(rows),
    features: ['a', 'b'],
    predictions: { kind: 'classes', classIndex: rows.map((r) => (r[0]! > 0 ? 1 : 0)), classCount: 2 },
  });
}

function evaluate(baseline: DriftBaseline, rows: number[][], classes?: number[], thresholds = {}): DriftReport {
  const accumulator = new DriftAccumulator(baseline);
  accumulator.addRows(Float32Array.from(rows.flat()));
  if (classes) accumulator.addPredictedClasses(classes);
  return evaluateDrift(accumulator, { thresholds, labels: ['low', 'high'] });
}

describe('evaluateDrift on synthetic data', () => {
  const baseline = syntheticBaseline();

  it('the baseline rows themselves: PSI 0, KS 0 with p 1, JS 0, no drift', () => {
    const random = createRandom(5);
    const rows = Array.from({ length: 1000 }, () => [random.normal(), random.next() * 10]);
    const report = evaluate(baseline, rows, rows.map((r) => (r[0]! > 0 ? 1 : 0)));
    assert.equal(report.verdict, 'no drift', report.summary);
    for (const f of report.features) {
      assert.deepEqual([f.psi, f.ks?.statistic, f.ks?.pValue, f.jsDistance, f.drifting], [0, 0, 1, 0, false], `${f.name}: identical distributions`);
      assert.ok(Math.abs(f.meanShiftInStd!) < 1e-6, `${f.name}: mean unchanged`);
    }
    assert.equal(report.predictions?.kind, 'classes');
    if (report.predictions?.kind === 'classes') {
      assert.deepEqual([report.predictions.chiSquare.statistic, report.predictions.chiSquare.pValue, report.predictions.psi], [0, 1, 0]);
      assert.deepEqual(report.predictions.labels, ['low', 'high']);
    }
    assert.equal(report.summary, 'no drift: 0 of 2 features drift; predictions stable (chi-square p 1, JS 0)');
  });

  it('values beyond the baseline\'s range land in its outer bin, and drift', () => {
    // every current value of b is above the top edge: all in the last bin, which holds 10% of the baseline
    const rows = Array.from({ length: 500 }, (_, i) => [0, 20 + i]);
    const report = evaluate(baseline, rows);
    const b = report.features.find((f) => f.name === 'b')!;
    assert.deepEqual(b.histogram.current, [0, 0, 0, 0, 0, 0, 0, 0, 0, 500]);
    assert.ok(b.drifting && b.severity === 'significant', 'b drifts');
    // PSI by hand: nine bins of 10% now empty, (1e-4 - 0.1) ln(1e-4 / 0.1) each, and the last 0.9 ln 10
    const expected = 9 * (1e-4 - 0.1) * Math.log(1e-4 / 0.1) + (1 - 0.1) * Math.log(1 / 0.1);
    assert.ok(Math.abs(b.psi! - expected) < 1e-3, `PSI ${b.psi} vs ${expected} (baseline deciles hold 100 rows each)`);
    // every current value is above every baseline value, so the exact D is 1; at the top percentile edge it reads 0.99
    assert.equal(b.ks!.statistic, 0.99);
    assert.ok(Math.abs(b.ks!.statistic + b.ks!.resolution - 1) < 1e-12, `D + resolution reaches the exact 1: ${b.ks!.resolution}`);
  });

  it('ranks features by PSI and names the drifting ones first; drift needs PSI >= 0.25 and KS p < 0.05', () => {
    const random = createRandom(9);
    // a shifted by one standard deviation, b unchanged
    const rows = Array.from({ length: 400 }, () => [random.normal() + 1, random.next() * 10]);
    const report = evaluate(baseline, rows);
    assert.deepEqual(report.features.map((f) => [f.rank, f.name, f.drifting]), [[1, 'a', true], [2, 'b', false]]);
    assert.deepEqual(report.driftingFeatures, ['a']);
    assert.equal(report.driftShare, 0.5);
    // half the features is not more than half: no model drift, with the drifting feature still named
    assert.equal(report.verdict, 'no drift');
    assert.match(report.summary, /^no drift: 1 of 2 features drift \(a\)$/);
    const a = report.features[0]!;
    assert.ok(a.meanShiftInStd! > 0.85 && a.meanShiftInStd! < 1.15, `mean moved about one std: ${a.meanShiftInStd}`);
    // N(0,1) vs N(1,1): D = 2Φ(0.5) - 1 = 0.383
    assert.ok(Math.abs(a.ks!.statistic - 0.383) < 0.06, `KS statistic near 0.383: ${a.ks!.statistic}`);
    // any drifting feature makes the model drift with driftShare 0
    assert.equal(evaluate(baseline, rows, undefined, { driftShare: 0 }).verdict, 'drift');
    // the same shift with a higher PSI bar is only moderate
    const strict = evaluate(baseline, rows, undefined, { psiSignificant: 5 });
    assert.deepEqual([strict.features[0]!.severity, strict.features[0]!.drifting], ['moderate', false]);
  });

  it('a large PSI without KS evidence is not drift: a feature counted in three bins only, from a tiny sample', () => {
    // 100 rows all in b's first decile: PSI huge, KS p tiny -> drift; the same pattern in 12 rows with minSampleSize 10
    const few = Array.from({ length: 12 }, (_, i) => [0, i * 0.05]);
    const report = evaluate(baseline, few, undefined, { minSampleSize: 10 });
    const b = report.features.find((f) => f.name === 'b')!;
    assert.ok(b.psi! > 0.25 && b.ks!.pValue < 0.05, `12 rows all in one decile are evidence: PSI ${b.psi}, p ${b.ks!.pValue}`);
    const three = Array.from({ length: 12 }, (_, i) => [0, [0.5, 4.5, 9.5][i % 3]!]);
    const spread = evaluate(baseline, three, undefined, { minSampleSize: 10 }).features.find((f) => f.name === 'b')!;
    assert.ok(spread.psi! >= 0.25, `PSI of 12 rows in 3 of 10 bins is large by construction: ${spread.psi}`);
    assert.ok(spread.ks!.pValue >= 0.05 && !spread.drifting, `but the KS test finds no evidence: p ${spread.ks!.pValue}`);
  });

  it('fewer rows than minSampleSize: "not enough data", never drift, figures still given', () => {
    const rows = Array.from({ length: 99 }, () => [50, 50]);
    const report = evaluate(baseline, rows, rows.map(() => 1));
    assert.equal(report.verdict, 'not enough data');
    assert.equal(report.summary, 'not enough data: 99 rows, fewer than the 100 needed to judge drift');
    assert.ok(report.features.every((f) => !f.drifting && f.severity === 'significant'), 'huge shifts, but no drift verdict');
    assert.equal(report.predictions?.drifting, false);
    assert.equal(evaluate(baseline, [...rows, [50, 50]], [...rows.map(() => 1), 1]).verdict, 'drift');
  });

  it('predictions alone make the model drift: the same inputs, the classes flipped', () => {
    const random = createRandom(5);
    const rows = Array.from({ length: 1000 }, () => [random.normal(), random.next() * 10]);
    const report = evaluate(baseline, rows, rows.map((r) => (r[0]! > -0.5 ? 1 : 0)));
    assert.equal(report.driftingFeatures.length, 0);
    assert.equal(report.verdict, 'drift');
    assert.equal(report.predictions?.drifting, true);
    assert.match(report.summary, /^drift: 0 of 2 features drift; predictions drift \(chi-square p [\d.e-]+, JS 0\.\d+\)$/);
  });

  it('predictions whose change is certain but small are stable: about 50/50 -> 40/60 over 10,000 rows, JS distance below 0.1', () => {
    const random = createRandom(5);
    const rows = Array.from({ length: 1000 }, () => [random.normal(), random.next() * 10]);
    const accumulator = new DriftAccumulator(baseline);
    for (let k = 0; k < 10; k++) accumulator.addRows(Float32Array.from(rows.flat()));
    const classes = Array.from({ length: 10_000 }, (_, i) => (i % 5 < 3 ? 1 : 0));
    accumulator.addPredictedClasses(classes);
    const report = evaluateDrift(accumulator);
    assert.equal(report.predictions?.kind, 'classes');
    if (report.predictions?.kind !== 'classes') return;
    assert.ok(report.predictions.chiSquare.pValue < 0.05, `the chi-square test rejects: p ${report.predictions.chiSquare.pValue}`);
    assert.ok(report.predictions.jsDistance < 0.1 && !report.predictions.drifting, `JS ${report.predictions.jsDistance}: not drift`);
    assert.equal(report.verdict, 'no drift');
  });

  it('a feature with no finite values has no figures and does not drift; a constant feature unchanged is stable', () => {
    const constant = buildDriftBaseline({ x: matrixFromRows(Array.from({ length: 200 }, (_, i) => [7, i])), features: ['c', 'i'], predictions: { kind: 'values', values: Array.from({ length: 200 }, (_, i) => i / 2) } });
    const accumulator = new DriftAccumulator(constant);
    accumulator.addRows(Float32Array.from(Array.from({ length: 200 }, (_, i) => [7, i]).flat()));
    accumulator.addPredictedValues(Float32Array.from({ length: 200 }, (_, i) => i / 2));
    const report = evaluateDrift(accumulator);
    const c = report.features.find((f) => f.name === 'c')!;
    assert.deepEqual([c.psi, c.ks!.statistic, c.ks!.pValue, c.jsDistance, c.meanShiftInStd], [0, 0, 1, 0, null]);
    assert.equal(report.predictions?.kind, 'values');
    assert.deepEqual([report.predictions!.psi, report.predictions!.drifting], [0, false]);

    const empty = new DriftAccumulator(constant);
    empty.addRows(Float32Array.from(Array.from({ length: 150 }, (_, i) => [NaN, i]).flat()));
    const none = evaluateDrift(empty).features.find((f) => f.name === 'c')!;
    assert.deepEqual([none.psi, none.ks, none.jsDistance, none.drifting, none.count, none.nonFinite, none.rank], [null, null, null, false, 0, 150, 2]);
  });

  it('reads a card without percentile histograms on its deciles, saying so', () => {
    const old: DriftBaseline = { ...baseline, features: baseline.features.map(({ percentiles: _, ...f }) => f) };
    const random = createRandom(9);
    const report = evaluate(old, Array.from({ length: 400 }, () => [random.normal() + 1, random.next() * 10]));
    assert.deepEqual(report.features.map((f) => f.ks!.bins), ['deciles', 'deciles']);
    assert.ok(report.features[0]!.ks!.resolution > 0.05, 'coarser resolution');
    assert.deepEqual(report.driftingFeatures, ['a']);
  });

  it('refuses bad thresholds, naming them', () => {
    assert.deepEqual(resolveThresholds(), DEFAULT_DRIFT_THRESHOLDS);
    assert.deepEqual(DEFAULT_DRIFT_THRESHOLDS, { psiModerate: 0.1, psiSignificant: 0.25, predictionJs: 0.1, alpha: 0.05, driftShare: 0.5, minSampleSize: 100 });
    assert.throws(() => resolveThresholds({ predictionJs: 0 }), /predictionJs must be above 0 and at most 1, received 0/);
    assert.throws(() => resolveThresholds({ psiModerate: 0.3 }), /psiSignificant must be at least psiModerate \(0\.3\), received 0\.25/);
    assert.throws(() => resolveThresholds({ alpha: 1 }), /alpha must be between 0 and 1, received 1/);
    assert.throws(() => resolveThresholds({ driftShare: 1 }), /driftShare must be at least 0 and below 1, received 1/);
    assert.throws(() => resolveThresholds({ minSampleSize: 0.5, psiModerate: -1 }), /psiModerate must be a positive number, received -1; .*minSampleSize must be a whole number of at least 1, received 0\.5/);
  });

  it('resolveDriftThresholds: a flag over the manifest over the default, each with its source, checked together', () => {
    const none = resolveDriftThresholds();
    assert.deepEqual(none.thresholds, DEFAULT_DRIFT_THRESHOLDS);
    assert.ok(Object.values(none.sources).every((s) => s === 'default') && Object.keys(none.sources).length === 6, JSON.stringify(none.sources));
    // undefined is "not set" at either level, as commander leaves an absent flag and zod a left-out setting
    const both = resolveDriftThresholds({ driftShare: 0, minSampleSize: 200, alpha: undefined }, { driftShare: 0.3, psiModerate: 0.2, minSampleSize: undefined });
    assert.deepEqual(both.thresholds, { ...DEFAULT_DRIFT_THRESHOLDS, driftShare: 0.3, psiModerate: 0.2, minSampleSize: 200 });
    assert.deepEqual(both.sources, { psiModerate: 'flag', psiSignificant: 'default', predictionJs: 'default', alpha: 'default', driftShare: 'flag', minSampleSize: 'manifest' });
    // a flag of 0 is a value, not "left out"
    assert.deepEqual([resolveDriftThresholds({ driftShare: 0.4 }, { driftShare: 0 }).thresholds.driftShare, resolveDriftThresholds({ driftShare: 0.4 }, { driftShare: 0 }).sources.driftShare], [0, 'flag']);
    // checked on the combination: a flag that clashes with the manifest's setting is refused
    assert.throws(() => resolveDriftThresholds({ psiSignificant: 0.3 }, { psiModerate: 0.4 }), /psiSignificant must be at least psiModerate \(0\.4\), received 0\.3/);
    assert.equal(describeDriftThresholds(both.thresholds, both.sources), 'psiModerate 0.2 (flag), psiSignificant 0.25 (default), predictionJs 0.1 (default), alpha 0.05 (default), driftShare 0.3 (flag), minSampleSize 200 (manifest)');
    assert.equal(describeDriftThresholds(DEFAULT_DRIFT_THRESHOLDS), 'psiModerate 0.1, psiSignificant 0.25, predictionJs 0.1, alpha 0.05, driftShare 0.5, minSampleSize 100');
  });

  it('refuses predictions of the wrong kind or outside the classes', () => {
    const accumulator = new DriftAccumulator(baseline);
    assert.throws(() => accumulator.addPredictedClasses([0, 2]), /predicted class 2 is outside \[0, 2\)/);
    assert.throws(() => accumulator.addPredictedValues(Float32Array.of(1)), /holds predicted classes, not values/);
  });
});

describe('evaluateDrift with the card\'s permutation importance', () => {
  const baseline = syntheticBaseline();
  const shiftedRows = () => {
    const random = createRandom(9);
    return Array.from({ length: 600 }, () => [random.normal() + 2, random.next() * 10 + 5]);
  };
  const importance = (a: number, b: number) => ({ metric: 'accuracy', repeats: 5, rows: 200, features: [{ name: 'a', mean: a, std: 0.01 }, { name: 'b', mean: b, std: 0.001 }] });

  function evaluateWith(imp: ReturnType<typeof importance> | undefined): DriftReport {
    const accumulator = new DriftAccumulator(baseline);
    accumulator.addRows(Float32Array.from(shiftedRows().flat()));
    return evaluateDrift(accumulator, { labels: ['low', 'high'], ...(imp ? { importance: imp } : {}) });
  }

  it('puts each feature\'s importance beside its PSI and flags a drifting important feature, not a drifting unimportant one', () => {
    const report = evaluateWith(importance(0.2, 0));
    const a = report.features.find((f) => f.name === 'a')!;
    const b = report.features.find((f) => f.name === 'b')!;
    assert.ok(a.drifting && b.drifting, 'both features drift');
    assert.deepEqual(a.importance, { mean: 0.2, std: 0.01, rank: 1, important: true });
    assert.deepEqual(b.importance, { mean: 0, std: 0.001, rank: 2, important: false }, 'no drop in accuracy: not important');
    assert.deepEqual(report.importance?.driftingImportant, ['a']);
    assert.equal(report.importance?.note, 'drifting important feature: a (importance #1); 1 other drifting feature is less important');
    assert.deepEqual([report.importance?.metric, report.importance?.repeats, report.importance?.rows, report.importance?.top], ['accuracy', 5, 200, IMPORTANT_FEATURES]);
  });

  it('says when no important feature drifts, and changes nothing else', () => {
    const report = evaluateWith(importance(0, 0));
    assert.deepEqual(report.importance?.driftingImportant, []);
    assert.equal(report.importance?.note, "none of the 5 most important features drifts: the 2 drifting features move the model's output little");
    const without = evaluateWith(undefined);
    assert.equal(without.importance, undefined, 'no importance without the card\'s');
    assert.ok(without.features.every((f) => f.importance === undefined));
    const strip = (r: DriftReport) => JSON.parse(JSON.stringify(r, (key, value: unknown) => (key === 'importance' ? undefined : value))) as unknown;
    assert.deepEqual(strip(report), strip(without), 'the verdict, summary and figures are the same');
  });

  it('ranks by mean drop; only the top IMPORTANT_FEATURES with a drop above 0 are important', () => {
    const figures = importanceFigures({ metric: 'r2', repeats: 3, rows: 50, features: [0.05, 0.3, 0.01, 0.2, 0.2, 0.1, 0.02].map((mean, i) => ({ name: `f${i}`, mean, std: 0 })) });
    assert.deepEqual([...figures].map(([name, f]) => [name, f.rank, f.important]), [
      ['f1', 1, true],
      ['f3', 2, true],
      ['f4', 3, true],
      ['f5', 4, true],
      ['f0', 5, true],
      ['f6', 6, false],
      ['f2', 7, false],
    ]);
  });
});

describe('evaluateDrift on the breast-cancer model', () => {
  const heldOut = breastCancerHeldOut();
  const baseline = heldOut.card.driftBaseline!;
  let served: ServedModel;

  before(async () => {
    served = await ServedModel.load(BREAST_CANCER_DIR);
  });
  after(async () => served.release());

  async function report(rows: number[][]): Promise<DriftReport> {
    const x = Float32Array.from(rows.flat());
    const accumulator = new DriftAccumulator(baseline);
    accumulator.addRows(x);
    accumulator.addPredictedClasses((await served.predict(x, rows.length)).classIndex);
    return evaluateDrift(accumulator, { labels: heldOut.card.labels });
  }

  it('the baseline carries percentile histograms for every feature', () => {
    assert.deepEqual(heldOut.features, heldOut.card.input.features);
    assert.ok(baseline.features.every((f) => f.percentiles && f.percentiles.edges.length >= 90), 'percentiles with about 99 edges');
  });

  it('a held-out slice of the training distribution (113 rows) does not drift', async () => {
    const r = await report(heldOut.rows);
    assert.equal(r.rows, 113);
    assert.equal(r.verdict, 'no drift', r.summary);
    assert.deepEqual(r.driftingFeatures, []);
    assert.equal(r.predictions?.drifting, false);
    // sampling noise alone: PSI about (10 - 1)(1/456 + 1/113) = 0.1 on average over ten bins
    const meanPsi = r.features.reduce((s, f) => s + f.psi!, 0) / r.features.length;
    assert.ok(meanPsi > 0.04 && meanPsi < 0.16, `mean PSI ${meanPsi} near its no-drift expectation of 0.1`);
  });

  it('the same rows with three features shifted by one standard deviation: those three drift, named first', async () => {
    const shifted = ['mean smoothness', 'worst area', 'texture error'];
    const r = await report(shiftByOneStd(heldOut, shifted));
    assert.deepEqual(new Set(r.features.slice(0, 3).map((f) => f.name)), new Set(shifted), `ranked first by PSI: ${r.features.slice(0, 4).map((f) => `${f.name} ${f.psi}`).join(', ')}`);
    assert.deepEqual(new Set(r.driftingFeatures), new Set(shifted));
    for (const f of r.features.slice(0, 3)) {
      assert.ok(f.psi! > 1 && f.ks!.pValue < 1e-6, `${f.name}: PSI ${f.psi}, KS p ${f.ks!.pValue}`);
      assert.ok(Math.abs(f.meanShiftInStd! - 1) < 0.35, `${f.name}: mean moved about one std (${f.meanShiftInStd})`);
    }
    assert.match(r.summary, /3 of 30 features drift \((mean smoothness|worst area|texture error), (mean smoothness|worst area|texture error), (mean smoothness|worst area|texture error)\)/);
    // three of thirty is not more than half of the features, and this logistic regression's answers barely
    // move: no model drift by default (see the next test for driftShare 0)
    assert.equal(r.predictions?.drifting, false);
    assert.equal(r.verdict, 'no drift');
  });

  it('with driftShare 0 the shifted rows make the model drift, and with every feature shifted it drifts by default', async () => {
    const accumulator = new DriftAccumulator(baseline);
    accumulator.addRows(Float32Array.from(shiftByOneStd(heldOut, ['mean smoothness', 'worst area', 'texture error']).flat()));
    assert.equal(evaluateDrift(accumulator, { thresholds: { driftShare: 0 } }).verdict, 'drift');
    const all = await report(shiftByOneStd(heldOut, heldOut.features));
    assert.equal(all.verdict, 'drift', all.summary);
    assert.ok(all.driftShare > 0.5, `share ${all.driftShare}`);
  });
});
