// The quality monitor's join on a small hand-made set whose every count is known: labels before and after
// their predictions, late ones, duplicates, unknown ids and classes, two versions, a request split over
// lines, a prediction outside the window. Every object is streamed (the store refuses whole reads).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinQualityWindow, labelHoursOf, type JoinModel } from '../../../../../lambdas/core/quality/monitor/quality-join';
import { predictionLines } from '../../../../../lambdas/core/quality/predictions/prediction-record';
import { predictionsHourPrefix } from '../../../../../lambdas/core/quality/predictions/prediction-sink';
import { groundTruthHourPrefix } from '../../../../../lambdas/core/quality/feedback/label-keys';
import { MemoryObjectStore } from '../../../../fixtures/memory-object-store';

const CLASSES = ['malignant', 'benign'];
const MODEL: JoinModel = { name: 'breast-cancer', task: 'classification', labels: CLASSES, versions: ['1', '2'] };
const H = (iso: string) => new Date(`2026-03-02T${iso}Z`);
/** The window: 2 hours ending 10:30, so the whole hours 09:00 and 10:00; labels from 08:00. */
const NOW = H('10:30:00');
const WINDOW = { from: H('08:30:00'), to: NOW };

function predict(store: MemoryObjectStore, version: string, id: string, time: Date, predicted: number[], options: { maxBytes?: number; file?: string } = {}): void {
  const probabilities = new Float32Array(predicted.flatMap((c) => (c === 0 ? [0.8, 0.2] : [0.3, 0.7])));
  const lines = predictionLines({ model: MODEL.name, version, id, time, count: predicted.length, classes: CLASSES, predicted: Int32Array.from(predicted), probabilities }, options.maxBytes);
  store.append(`${predictionsHourPrefix(MODEL.name, version, time)}${options.file ?? 'part-0.jsonl'}`, `${lines.join('\n')}\n`);
}

function label(store: MemoryObjectStore, received: Date, lines: object[], file = 'feedback-1.jsonl'): void {
  store.append(`${groundTruthHourPrefix(MODEL.name, received)}${file}`, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

function handMade(): MemoryObjectStore {
  const store = new MemoryObjectStore({ pieceBytes: 97, wholeReadsOnlyUnder: 'monitor/' });
  // v1, hour 09: a (malignant), b: three instances split over lines (benign, benign, malignant), c (benign).
  predict(store, '1', 'a', H('09:05:00'), [0]);
  predict(store, '1', 'b', H('09:10:00'), [1, 1, 0], { maxBytes: 260 });
  predict(store, '1', 'c', H('09:20:00'), [1]);
  // v2, hour 10: d (benign), e (malignant); and a reuses b's id for its instance 0 (a caller reusing an id).
  predict(store, '2', 'd', H('10:01:00'), [1]);
  predict(store, '2', 'e', H('10:02:00'), [0]);
  predict(store, '2', 'b', H('10:03:00'), [0]);
  // Before the window: its label is read but has no prediction in the window.
  predict(store, '1', 'old', H('07:50:00'), [0]);
  // Labels received at 08:40: d's, before its prediction (delay 0), and a bad class.
  label(store, H('08:00:00'), [
    { id: 'd', index: 0, label: 'benign', time: '2026-03-02T08:40:00.000Z' },
    { id: 'x', index: 0, label: 'maybe', time: '2026-03-02T08:41:00.000Z' },
  ]);
  // At 09:30: a right (delay 25 min), b#1 right, b#2 wrong (truth benign), a again (a duplicate, another class), an unknown id, old's label.
  label(store, H('09:00:00'), [
    { id: 'a', index: 0, label: 'malignant', time: '2026-03-02T09:30:00.000Z' },
    { id: 'b', index: 1, label: 'benign', time: '2026-03-02T09:30:00.000Z' },
    { id: 'b', index: 2, label: 'benign', time: '2026-03-02T09:30:00.000Z' },
    { id: 'a', index: 0, label: 'benign', time: '2026-03-02T09:31:00.000Z' },
    { id: 'nobody', index: 0, label: 'benign', time: '2026-03-02T09:32:00.000Z' },
    { id: 'old', index: 0, label: 'malignant', time: '2026-03-02T09:33:00.000Z' },
  ]);
  store.append(`${groundTruthHourPrefix(MODEL.name, H('09:00:00'))}feedback-2.jsonl`, 'not json\n');
  // At 10: a CSV dropped by another system (its lines take the hour's start as their time): e wrong, c right, b#0 right.
  store.append(`${groundTruthHourPrefix(MODEL.name, H('10:00:00'))}bulk.csv`, 'id,index,label\ne,0,benign\nc,0,benign\nb,0,benign\n');
  // A label received before the label window (07:00): not read.
  label(store, H('07:00:00'), [{ id: 'c', index: 0, label: 'malignant', time: '2026-03-02T07:10:00.000Z' }]);
  return store;
}

describe('the quality join', () => {
  it('reads the labels of the window and the hour before it, up to the hour of its end', () => {
    assert.deepEqual(labelHoursOf(WINDOW).map((h) => h.toISOString()), ['2026-03-02T08:00:00.000Z', '2026-03-02T09:00:00.000Z', '2026-03-02T10:00:00.000Z']);
  });

  it('joins a small set exactly: counts, duplicates, early and late labels, unknown ids, two versions, split lines', async () => {
    const store = handMade();
    const v1Lines = store.objects.get(`${predictionsHourPrefix(MODEL.name, '1', H('09:00:00'))}part-0.jsonl`)!.toString().trim().split('\n');
    assert.ok(v1Lines.length >= 4, `b's three instances are split over lines (${v1Lines.length} lines for a, b and c)`);
    const join = await joinQualityWindow(store, 'capture', MODEL, WINDOW);
    assert.equal(join.window.from.toISOString(), '2026-03-02T09:00:00.000Z');
    // Label lines: 2 + 6 + 1 (not JSON) + 3 (csv, header not counted) = 12; rejected: 'maybe' and 'not json'; duplicates: a again.
    assert.deepEqual(
      { read: join.labels.read, kept: join.labels.kept, duplicates: join.labels.duplicates, rejected: join.labels.rejected, joined: join.labels.joined, withoutPrediction: join.labels.withoutPrediction, objects: join.labels.objects },
      { read: 12, kept: 9, duplicates: 1, rejected: 2, joined: 7, withoutPrediction: 2, objects: 4 },
    );
    assert.ok(join.problems.some((p) => p.includes("feedback-1.jsonl line 2: label: 'maybe' is not a class of breast-cancer (malignant, benign)")), join.problems.join('\n'));
    assert.ok(join.problems.some((p) => p.includes('feedback-2.jsonl line 1: is not JSON')), join.problems.join('\n'));

    const [v1, v2] = join.versions;
    // v1: a, b (3 instances), c = 5 predictions; labelled a, b#0, b#1, b#2, c = 5; right: a, b#0, b#1, c (b#2 predicted malignant, truth benign).
    assert.equal(v1!.predictions, 5);
    assert.equal(v1!.labelled, 5);
    assert.equal(v1!.accumulator.count, 5);
    const f1 = v1!.accumulator.figures();
    assert.equal(f1.task, 'classification');
    if (f1.task !== 'classification') return;
    assert.deepEqual(f1.confusion, [
      [1, 0],
      [1, 3],
    ]);
    // v2: d, e, and b reused = 3 predictions; d and e labelled; b#0's label went to v1's earlier prediction.
    assert.equal(v2!.predictions, 3);
    assert.equal(v2!.labelled, 2);
    assert.equal(v2!.duplicatePredictions, 1);
    const f2 = v2!.accumulator.figures();
    if (f2.task !== 'classification') return;
    assert.deepEqual(f2.confusion, [
      [0, 0],
      [1, 1],
    ]);
    // Per hour: v1's labelled predictions were all made in hour 09, v2's in hour 10.
    assert.deepEqual(
      v1!.hours.map((h) => [h.predictions, h.labelled, h.correct]),
      [
        [5, 5, 4],
        [0, 0, 0],
      ],
    );
    assert.deepEqual(
      v2!.hours.map((h) => [h.predictions, h.labelled, h.correct]),
      [
        [0, 0, 0],
        [3, 2, 1],
      ],
    );
    // Delays: v2's d was labelled before its prediction (0); e at 10:00 (the CSV's hour start) before its 10:02 prediction: 0.
    assert.deepEqual(v2!.accumulator.delayPercentiles(), { p50: 0, p95: 0 });
    // v1: a 25 min, b#1 and b#2 20 min, c 40 min (10:00 - 09:20), b#0 50 min (10:00 - 09:10): median 25 min.
    assert.equal(v1!.accumulator.delayPercentiles()!.p50, 25 * 60);
    // Streamed only: no prediction or label object was read whole.
    assert.deepEqual(store.wholeReads, []);
  });

  it('a regressor joins values, rejects labels that are no numbers, and counts a label for an instance past its request', async () => {
    const store = new MemoryObjectStore({ wholeReadsOnlyUnder: 'monitor/' });
    const model: JoinModel = { name: 'house', task: 'regression', labels: [], versions: ['3'] };
    const time = H('09:15:00');
    const lines = predictionLines({ model: 'house', version: '3', id: 'r', time, count: 2, values: Float32Array.of(10, 20) });
    store.put(`${predictionsHourPrefix('house', '3', time)}p.jsonl`, `${lines.join('\n')}\n`);
    store.put(
      `${groundTruthHourPrefix('house', time)}l.jsonl`,
      [
        { id: 'r', index: 0, value: 12, time: '2026-03-02T09:45:00.000Z' },
        { id: 'r', index: 1, value: 17, time: '2026-03-02T10:15:00.000Z' },
        { id: 'r', index: 2, value: 1, time: '2026-03-02T10:15:00.000Z' },
        { id: 'r', index: 3, label: 'big', time: '2026-03-02T10:15:00.000Z' },
      ]
        .map((l) => `${JSON.stringify(l)}\n`)
        .join(''),
    );
    const join = await joinQualityWindow(store, 'capture', model, WINDOW);
    assert.deepEqual([join.labels.kept, join.labels.rejected, join.labels.joined, join.labels.withoutPrediction], [3, 1, 2, 1]);
    const figures = join.versions[0]!.accumulator.figures();
    assert.equal(figures.task, 'regression');
    if (figures.task !== 'regression') return;
    assert.equal(figures.mae, 2.5);
    assert.equal(join.versions[0]!.hours[0]!.absError, 5);
  });
});
