// Prediction record lines: what the builder writes reads back exactly (classifiers with and without
// probabilities, regressors), a large request splits into lines under the limit whose instance ranges follow
// each other, and the parser names what is wrong in a bad line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_CAPTURE_LINE_BYTES } from '../../../../../lambdas/core/monitoring/capture/capture-record';
import { PREDICTION_MARKER, type PredictionRecord } from '../../../../../lambdas/core/quality/contracts';
import { parsePredictionLine, predictionLines, PredictionFormatError, type AnsweredRequest, type PredictionBatch } from '../../../../../lambdas/core/quality/predictions/prediction-record';
import { predictionsHourPrefix } from '../../../../../lambdas/core/quality/predictions/prediction-sink';

/** mulberry32: a small seeded uniform source. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const time = new Date('2026-12-08T13:45:06.789Z');
const classes = ['malignant', 'benign'];

/** Seeded probabilities (rows summing to 1) and their argmax. */
function classified(count: number, width: number, seed: number): { predicted: Int32Array; probabilities: Float32Array } {
  const random = seeded(seed);
  const probabilities = new Float32Array(count * width);
  const predicted = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let j = 0; j < width; j++) sum += probabilities[i * width + j] = random();
    let best = 0;
    for (let j = 0; j < width; j++) {
      probabilities[i * width + j]! /= sum;
      if (probabilities[i * width + j]! > probabilities[i * width + best]!) best = j;
    }
    predicted[i] = best;
  }
  return { predicted, probabilities };
}

/** The lines read back and joined into one request again: checks that their ranges follow each other. */
function joined(lines: readonly string[]): { head: Omit<PredictionBatch, 'first' | 'count' | 'predicted' | 'probabilities' | 'values'>; count: number; predicted: number[]; probabilities: number[]; values: number[] } {
  const batches = lines.map(parsePredictionLine);
  let next = 0;
  for (const b of batches) {
    assert.equal(b.first, next, 'each line starts where the last ended');
    next += b.count;
  }
  const { model, version, id, time: t, classes: c } = batches[0]!;
  return {
    head: { model, version, id, time: t, ...(c ? { classes: c } : {}) },
    count: next,
    predicted: batches.flatMap((b) => [...(b.predicted ?? [])]),
    probabilities: batches.flatMap((b) => [...(b.probabilities ?? [])]),
    values: batches.flatMap((b) => [...(b.values ?? [])]),
  };
}

describe('predictionLines and parsePredictionLine', () => {
  it('a classifier with probabilities: one compact line that reads back exactly', () => {
    const { predicted, probabilities } = classified(3, 2, 1);
    const request: AnsweredRequest = { model: 'breast-cancer', version: '3', id: 'order-7', time, count: 3, classes, predicted, probabilities };
    const lines = predictionLines(request);
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]!) as PredictionRecord;
    assert.deepEqual(
      { ...record, probabilitiesFloat32: undefined },
      { [PREDICTION_MARKER]: 1, model: 'breast-cancer', version: '3', id: 'order-7', time: '2026-12-08T13:45:06.789Z', first: 0, count: 3, classes, predicted: [...predicted], probabilitiesFloat32: undefined },
    );
    const back = parsePredictionLine(lines[0]!);
    assert.deepEqual(back, { model: 'breast-cancer', version: '3', id: 'order-7', time, first: 0, count: 3, classes, predicted, probabilities });
    assert.ok(lines[0]!.length < 250, `compact: ${lines[0]!.length} characters for 3 instances`);
  });

  it('a classifier without probabilities, and a regressor, read back exactly', () => {
    const predicted = Int32Array.of(2, 0, 1, 1);
    const labels = ['a', 'b', 'c'];
    const lines = predictionLines({ model: 'm', version: '1', id: 'x', time, count: 4, classes: labels, predicted });
    const back = parsePredictionLine(lines[0]!);
    assert.deepEqual(back, { model: 'm', version: '1', id: 'x', time, first: 0, count: 4, classes: labels, predicted });
    assert.equal(lines[0]!.includes('probabilities'), false);

    const values = Float32Array.of(1.5, -2.25, 3.4028234663852886e38, 1e-30);
    const regressed = predictionLines({ model: 'houses', version: '12', id: 'q', time, count: 4, values });
    const r = parsePredictionLine(regressed[0]!);
    assert.deepEqual(r, { model: 'houses', version: '12', id: 'q', time, first: 0, count: 4, values });
    assert.equal(regressed[0]!.includes('classes'), false);
  });

  it('a 1000-instance request of 10 classes splits into lines under the limit, in order, and joins back to the same answer', () => {
    const width = 10;
    const labels = Array.from({ length: width }, (_, i) => `digit-${i}`);
    const { predicted, probabilities } = classified(1000, width, 5);
    const maxBytes = 8_000;
    const lines = predictionLines({ model: 'digits', version: '1', id: 'big-one', time, count: 1000, classes: labels, predicted, probabilities }, maxBytes);
    assert.ok(lines.length > 1 && lines.length < 40, `${lines.length} lines`);
    for (const line of lines) assert.ok(Buffer.byteLength(line) <= maxBytes, `${Buffer.byteLength(line)} bytes`);
    // Full lines: the split wastes at most a little of each (under a tenth here).
    for (const line of lines.slice(0, -1)) assert.ok(Buffer.byteLength(line) > maxBytes * 0.9, `${Buffer.byteLength(line)} bytes of ${maxBytes}`);
    const all = joined(lines);
    assert.deepEqual(all.head, { model: 'digits', version: '1', id: 'big-one', time, classes: labels });
    assert.equal(all.count, 1000);
    assert.deepEqual(all.predicted, [...predicted]);
    assert.deepEqual(all.probabilities, [...probabilities]);
    // At the real limit, the same request is one line.
    assert.equal(predictionLines({ model: 'digits', version: '1', id: 'big-one', time, count: 1000, classes: labels, predicted, probabilities }).length, 1);
    assert.equal(MAX_CAPTURE_LINE_BYTES, 200_000);
  });

  it('a 1000-instance regressor request splits the same way, every value kept', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => i * 0.37 - 100);
    const lines = predictionLines({ model: 'houses', version: '2', id: 'r', time, count: 1000, values }, 1_000);
    assert.ok(lines.length > 3);
    for (const line of lines) assert.ok(Buffer.byteLength(line) <= 1_000);
    const all = joined(lines);
    assert.equal(all.count, 1000);
    assert.deepEqual(all.values, [...values]);
  });

  it('refuses what it cannot write: no instances, too few answers, a limit no instance fits', () => {
    assert.throws(() => predictionLines({ model: 'm', version: '1', id: 'x', time, count: 0, values: new Float32Array(0) }), /1 or more instances, received 0/);
    assert.throws(() => predictionLines({ model: 'm', version: '1', id: 'x', time, count: 3, classes, predicted: Int32Array.of(1) }), /1 predicted classes for 3 instances/);
    assert.throws(() => predictionLines({ model: 'm', version: '1', id: 'x', time, count: 2, values: Float32Array.of(1) }), /1 values for 2 instances/);
    assert.throws(() => predictionLines({ model: 'm', version: '1', id: 'x', time, count: 1, values: Float32Array.of(1) }, 100), /one instance takes more than a prediction line may \(100 bytes\)/);
  });

  it('names what is wrong in a bad line', () => {
    const good = JSON.parse(predictionLines({ model: 'm', version: '1', id: 'x', time, count: 2, classes, predicted: Int32Array.of(0, 1), probabilities: Float32Array.of(0.9, 0.1, 0.2, 0.8) })[0]!) as Record<string, unknown>;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...good, [PREDICTION_MARKER]: undefined }, /no "mlshipPrediction": 1/],
      [{ ...good, model: 3 }, /"model" is not a string/],
      [{ ...good, id: 'two words' }, /"id" is not an inference id/],
      [{ ...good, time: 'yesterday' }, /"time" is not a date/],
      [{ ...good, first: -1 }, /"first" is not a whole number, 0 or more/],
      [{ ...good, count: 0 }, /"count" is not a whole number, 1 or more/],
      [{ ...good, predicted: [0] }, /"predicted" has 1 classes for 2 instances/],
      [{ ...good, predicted: [0, 2] }, /"predicted"\[1\] is not a class index below 2: 2/],
      [{ ...good, classes: [] }, /"classes" is not a non-empty array of strings/],
      [{ ...good, probabilitiesFloat32: Buffer.from(Float32Array.of(1, 2, 3).buffer).toString('base64') }, /"probabilitiesFloat32" holds 3 values, expected 4/],
      [{ ...good, probabilitiesFloat32: 'AAA' }, /"probabilitiesFloat32": 2 bytes are not whole float32 values/],
      [{ ...good, valuesFloat32: 'AAAAAA==' }, /both "classes" and "valuesFloat32"/],
      [{ ...good, classes: undefined, predicted: undefined, probabilitiesFloat32: undefined }, /neither "classes" .* nor "valuesFloat32"/],
    ];
    for (const [record, message] of cases) assert.throws(() => parsePredictionLine(JSON.stringify(record)), (e: unknown) => e instanceof PredictionFormatError && message.test(e.message), String(message));
    assert.throws(() => parsePredictionLine('[1]'), /not a JSON object/);
    assert.throws(() => parsePredictionLine('{"mlship'), SyntaxError);
  });

  it('lands under predictions/model=<m>/version=<v>/<UTC hour>/', () => {
    assert.equal(predictionsHourPrefix('breast-cancer', '3', time), 'predictions/model=breast-cancer/version=3/2026/12/08/13/');
  });
});
