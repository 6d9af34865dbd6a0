// The quality figures against scikit-learn, statsmodels and numpy: test/fixtures/quality-metrics.json, written by
// scripts/reference/quality-metrics.py (library versions and calls noted in it). Every case is fed whole, split
// into parts and merged, and through toJSON/fromJSON; the merged figures must be the very same numbers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { QualityAccumulator, qualityFigures, wilsonInterval } from '../../../../../lambdas/core/quality/metrics/quality-accumulator';
import { ExactSum } from '../../../../../lambdas/core/quality/metrics/exact-sum';
import type { ClassificationFigures, QualityFigures, RegressionFigures } from '../../../../../lambdas/core/quality/metrics/types';

interface Expected {
  readonly labelled: number;
  readonly coverage: number;
  readonly delaySeconds: { p50: number; p95: number };
  readonly verdict: string;
  readonly accuracy?: { value: number; low: number; high: number };
  readonly perClass?: { label: string; support: number; precision: number; recall: number; f1: number }[];
  readonly macroF1?: number;
  readonly confusion?: number[][];
  readonly mostConfused?: { actual: string; predicted: string; count: number }[];
  readonly rocAuc?: number | null;
  readonly logLoss?: number | null;
  readonly mae?: number;
  readonly rmse?: number;
  readonly r2?: number | null;
}

interface Case {
  readonly name: string;
  readonly task: 'classification' | 'regression';
  readonly labels: string[];
  readonly minLabels: number;
  readonly predictions: number;
  readonly truthUint8?: string;
  readonly predictedUint8?: string;
  readonly probabilitiesFloat32?: string | null;
  readonly truthFloat64?: string;
  readonly predictedFloat32?: string;
  readonly delaysFloat32: string;
  readonly expected: Expected;
}

const fixture = JSON.parse(readFileSync(new URL('../../../../fixtures/quality-metrics.json', import.meta.url), 'utf8')) as { cases: Case[]; versions: Record<string, string> };

function decode<T>(base64: string, type: new (buffer: ArrayBuffer) => T): T {
  const bytes = Buffer.from(base64, 'base64');
  return new type(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
}

/** Adds rows [from, to) of a case to an accumulator. */
function feed(c: Case, acc: QualityAccumulator, from: number, to: number): void {
  const delays = decode(c.delaysFloat32, Float32Array);
  if (c.task === 'classification') {
    const truth = decode(c.truthUint8!, Uint8Array);
    const predicted = decode(c.predictedUint8!, Uint8Array);
    const probabilities = c.probabilitiesFloat32 ? decode(c.probabilitiesFloat32, Float32Array) : undefined;
    const k = c.labels.length;
    for (let i = from; i < to; i++) acc.addClassified(truth[i]!, predicted[i]!, probabilities?.subarray(i * k, (i + 1) * k), delays[i]!);
  } else {
    const truth = decode(c.truthFloat64!, Float64Array);
    const predicted = decode(c.predictedFloat32!, Float32Array);
    for (let i = from; i < to; i++) acc.addRegressed(truth[i]!, predicted[i]!, delays[i]!);
  }
}

const rowsOf = (c: Case) => c.expected.labelled;
const fresh = (c: Case) => (c.task === 'classification' ? QualityAccumulator.forClassifier(c.labels) : QualityAccumulator.forRegressor());

function close(actual: number | undefined, expected: number | null | undefined, what: string, relative = 1e-12): void {
  if (expected === null || expected === undefined) {
    assert.equal(actual, undefined, `${what}: expected undefined, got ${actual}`);
    return;
  }
  assert.ok(actual !== undefined, `${what}: undefined, expected ${expected}`);
  assert.ok(Math.abs(actual - expected) <= relative * Math.max(1, Math.abs(expected)), `${what}: ${actual}, expected ${expected}`);
}

/** The figures of every row, judged whatever minLabels says (so that small cases are compared too). */
function judged(acc: QualityAccumulator, c: Case): QualityFigures {
  return qualityFigures(acc, { minLabels: 0, predictions: c.predictions });
}

function compare(figures: QualityFigures, c: Case): void {
  const e = c.expected;
  assert.equal(figures.labelled, e.labelled);
  assert.equal(figures.predictions, c.predictions);
  close(figures.coverage, e.coverage, 'coverage', 1e-15);
  close(figures.delaySeconds?.p50, e.delaySeconds.p50, 'delay p50', 1e-15);
  close(figures.delaySeconds?.p95, e.delaySeconds.p95, 'delay p95', 1e-15);
  assert.equal(figures.verdict, 'judged');
  if (c.task === 'classification') {
    const m = figures.metrics as ClassificationFigures;
    assert.equal(m.task, 'classification');
    assert.deepEqual(m.labels, c.labels);
    close(m.accuracy.value, e.accuracy!.value, 'accuracy', 1e-15);
    close(m.accuracy.low, e.accuracy!.low, 'accuracy low');
    close(m.accuracy.high, e.accuracy!.high, 'accuracy high');
    assert.equal(m.perClass.length, c.labels.length);
    m.perClass.forEach((f, i) => {
      const x = e.perClass![i]!;
      assert.equal(f.label, x.label);
      assert.equal(f.support, x.support, `support of ${x.label}`);
      close(f.precision, x.precision, `precision of ${x.label}`, 1e-15);
      close(f.recall, x.recall, `recall of ${x.label}`, 1e-15);
      close(f.f1, x.f1, `F1 of ${x.label}`, 1e-15);
    });
    close(m.macroF1, e.macroF1, 'macro-F1', 1e-15);
    assert.deepEqual(m.confusion, e.confusion);
    assert.deepEqual(m.mostConfused, e.mostConfused);
    close(m.rocAuc, e.rocAuc, 'ROC AUC');
    close(m.logLoss, e.logLoss, 'log loss');
  } else {
    const m = figures.metrics as RegressionFigures;
    assert.equal(m.task, 'regression');
    close(m.mae, e.mae, 'MAE');
    close(m.rmse, e.rmse, 'RMSE');
    close(m.r2, e.r2, 'R²', 1e-10);
  }
}

describe('QualityAccumulator against scikit-learn, statsmodels and numpy', () => {
  it(`reads the fixture of ${fixture.cases.length} cases (${Object.entries(fixture.versions).map(([k, v]) => `${k} ${v}`).join(', ')})`, () => {
    assert.ok(fixture.cases.length >= 13);
  });

  for (const c of fixture.cases) {
    describe(c.name, () => {
      it('every figure, all rows in one accumulator', () => {
        const acc = fresh(c);
        feed(c, acc, 0, rowsOf(c));
        assert.equal(acc.count, rowsOf(c));
        compare(judged(acc, c), c);
        // minLabels as the case gives it: below it, no metrics, the rest still there
        const figures = qualityFigures(acc, { minLabels: c.minLabels, predictions: c.predictions });
        assert.equal(figures.verdict, c.expected.verdict);
        assert.equal(figures.metrics === undefined, c.expected.verdict === 'not enough labels');
        assert.equal(figures.labelled, rowsOf(c));
        assert.ok(figures.delaySeconds !== undefined);
      });

      it('split in three, merged, and through toJSON/fromJSON: the very same figures', () => {
        const n = rowsOf(c);
        const cuts = [0, Math.floor(n / 5), Math.floor((2 * n) / 3), n];
        const whole = fresh(c);
        feed(c, whole, 0, n);
        const parts = cuts.slice(1).map((end, i) => {
          const part = fresh(c);
          feed(c, part, cuts[i]!, end);
          return part;
        });
        // merged in another order than the rows came in: the figures may not depend on it
        const merged = fresh(c);
        merged.merge(parts[2]!);
        merged.merge(parts[0]!);
        merged.merge(parts[1]!);
        const viaJson = QualityAccumulator.fromJSON(JSON.parse(JSON.stringify(parts[0]!.toJSON())));
        viaJson.merge(QualityAccumulator.fromJSON(JSON.parse(JSON.stringify(parts[1]!.toJSON()))));
        viaJson.merge(QualityAccumulator.fromJSON(JSON.parse(JSON.stringify(parts[2]!.toJSON()))));
        const expected = judged(whole, c);
        assert.deepEqual(judged(merged, c), expected);
        assert.deepEqual(judged(viaJson, c), expected);
        compare(judged(viaJson, c), c);
        // the state of the whole round-trips to itself
        assert.deepEqual(QualityAccumulator.fromJSON(JSON.parse(JSON.stringify(whole.toJSON()))).toJSON(), whole.toJSON());
      });
    });
  }
});

describe('wilsonInterval', () => {
  it('statsmodels proportion_confint(8, 10, method="wilson") = (0.4901625, 0.9433178), clipped to [0, 1] at the ends', () => {
    // statsmodels 0.15.0
    const w = wilsonInterval(8, 10);
    close(w.value, 0.8, 'value');
    close(w.low, 0.49016247153664183, 'low', 1e-15);
    close(w.high, 0.9433178485456247, 'high', 1e-15);
    assert.equal(wilsonInterval(10, 10).high, 1);
    assert.equal(wilsonInterval(0, 10).low, 0);
  });
});

describe('qualityFigures', () => {
  it('below minLabels: "not enough labels", no metrics, but labelled, predictions, coverage and delays', () => {
    const acc = QualityAccumulator.forClassifier(['no', 'yes']);
    for (let i = 0; i < 99; i++) acc.addClassified(i % 2, 1, [0.3, 0.7], i);
    const figures = qualityFigures(acc, { minLabels: 100, predictions: 396 });
    assert.deepEqual(figures, { labelled: 99, predictions: 396, coverage: 0.25, delaySeconds: { p50: 49, p95: 93.1 }, verdict: 'not enough labels', minLabels: 100 });
    acc.addClassified(0, 0, [0.9, 0.1], 99);
    assert.equal(qualityFigures(acc, { minLabels: 100, predictions: 400 }).verdict, 'judged');
  });

  it('no labels at all: not judged, even with minLabels 0; no delays; coverage 0 without predictions', () => {
    const figures = qualityFigures(QualityAccumulator.forRegressor(), { minLabels: 0, predictions: 0 });
    assert.deepEqual(figures, { labelled: 0, predictions: 0, coverage: 0, verdict: 'not enough labels', minLabels: 0 });
  });

  it('a classifier without probabilities on some rows has no ROC AUC or log loss, and merges so', () => {
    const a = QualityAccumulator.forClassifier(['x', 'y']);
    a.addClassified(0, 0, [0.8, 0.2], 1);
    a.addClassified(1, 1, [0.4, 0.6], 1);
    const b = QualityAccumulator.forClassifier(['x', 'y']);
    b.addClassified(1, 0, undefined, 1);
    a.merge(b);
    const m = qualityFigures(a, { minLabels: 1, predictions: 3 }).metrics as ClassificationFigures;
    assert.equal(m.rocAuc, undefined);
    assert.equal(m.logLoss, undefined);
    close(m.accuracy.value, 2 / 3, 'accuracy');
    const back = QualityAccumulator.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    assert.deepEqual(qualityFigures(back, { minLabels: 1, predictions: 3 }), qualityFigures(a, { minLabels: 1, predictions: 3 }));
  });
});

describe('bad input is refused, naming what is wrong', () => {
  it('labels, indices, probabilities, values and delays', () => {
    assert.throws(() => QualityAccumulator.forClassifier(['only']), /at least 2 labels/);
    assert.throws(() => QualityAccumulator.forClassifier(['a', 'a']), /"a" appears twice/);
    const acc = QualityAccumulator.forClassifier(['a', 'b', 'c']);
    assert.throws(() => acc.addClassified(3, 0, undefined, 0), /trueIndex must be an integer from 0 to 2, received 3/);
    assert.throws(() => acc.addClassified(0, 1.5, undefined, 0), /predictedIndex/);
    assert.throws(() => acc.addClassified(0, 0, [0.5, 0.5], 0), /probabilities must hold 3 values/);
    assert.throws(() => acc.addClassified(0, 0, [0.5, NaN, 0.5], 0), /probabilities\[1\] must be a number from 0 to 1, received NaN/);
    assert.throws(() => acc.addClassified(0, 0, [1.5, 0, 0], 0), /probabilities\[0\]/);
    assert.throws(() => acc.addClassified(0, 0, undefined, Infinity), /delaySeconds must be a finite number/);
    assert.throws(() => acc.addRegressed(1, 1, 0), /addRegressed on a classifier/);
    assert.equal(acc.count, 0);
    const reg = QualityAccumulator.forRegressor();
    assert.throws(() => reg.addRegressed(NaN, 1, 0), /truth must be a finite number/);
    assert.throws(() => reg.addRegressed(1, Infinity, 0), /predicted must be a finite number/);
  });

  it('merge of another task or other labels', () => {
    const acc = QualityAccumulator.forClassifier(['a', 'b']);
    assert.throws(() => acc.merge(QualityAccumulator.forRegressor()), /cannot merge a regression accumulator into a classification one/);
    assert.throws(() => acc.merge(QualityAccumulator.forClassifier(['a', 'c'])), /different labels: \["a","b"\] and \["a","c"\]/);
    assert.throws(() => acc.merge(QualityAccumulator.forClassifier(['b', 'a'])), /different labels/);
  });

  it('fromJSON names the field', () => {
    const acc = QualityAccumulator.forClassifier(['a', 'b']);
    acc.addClassified(0, 1, [0.4, 0.6], 2);
    const state = acc.toJSON() as Record<string, unknown>;
    assert.throws(() => QualityAccumulator.fromJSON(null), /must be an object/);
    assert.throws(() => QualityAccumulator.fromJSON({ ...state, format: 'x' }), /format must be/);
    assert.throws(() => QualityAccumulator.fromJSON({ ...state, task: 'ranking' }), /task must be/);
    assert.throws(() => QualityAccumulator.fromJSON({ ...state, count: 2 }), /delaysFloat32 holds 4 bytes, expected 8 \(2 values\)/);
    assert.throws(() => QualityAccumulator.fromJSON({ ...state, count: 2, delaysFloat32: 'AAAAAAAAAAA=' }), /confusion adds up to 1, not count 2/);
    assert.throws(() => QualityAccumulator.fromJSON({ ...state, confusion: [0, 1, 0] }), /confusion must be 4 whole numbers/);
    assert.throws(() => QualityAccumulator.fromJSON({ ...state, probabilitiesFloat32: '!!' }), /probabilitiesFloat32 must be a base64 string/);
    assert.throws(() => QualityAccumulator.fromJSON({ ...state, truth: Buffer.from([2]).toString('base64') }), /truth\[0\] is 2, past the 2 labels/);
    assert.throws(() => QualityAccumulator.fromJSON({ ...state, logLoss: ['1'] }), /logLoss must be an array of finite numbers/);
  });
});

describe('ExactSum', () => {
  it('is math.fsum: exact whatever the order ([1e100, 1, -1e100, 1e-100] sums to 1 + 1e-100 = 1)', () => {
    const sum = (xs: number[]) => {
      const s = new ExactSum();
      for (const x of xs) s.add(x);
      return s.value;
    };
    assert.equal(sum([1e100, 1, -1e100, 1e-100]), 1);
    assert.equal(sum([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]), 1); // math.fsum([0.1] * 10) == 1.0
    assert.equal(sum([1, 1e-16, 1e-16]), 1.0000000000000002); // math.fsum: the halfway case rounds up with the rest
    const parts = [new ExactSum(), new ExactSum()];
    [0.1, 0.7, 1e16, 3, -1e16, 0.2].forEach((x, i) => parts[i % 2]!.add(x));
    parts[0]!.addSum(parts[1]!);
    assert.equal(parts[0]!.value, sum([0.1, 0.7, 3, 0.2, 1e16, -1e16]));
  });
});
