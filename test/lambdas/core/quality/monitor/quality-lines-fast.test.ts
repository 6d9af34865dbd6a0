// The join's fast paths give what the JSON parsers give: the scanners of label and prediction lines in their
// writers' field order (against JSON.parse of the same line), the ISO time (against Date.parse), the base64
// decoder (against Buffer), the label table (against a Map), and a whole join whose lines are all read by the
// fast path against the same join with every line in a form only JSON.parse reads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinQualityWindow, LabelTable, type JoinModel, type QualityJoin } from '../../../../../lambdas/core/quality/monitor/quality-join';
import {
  decodeBase64Into,
  idHashesOf,
  isoMillis,
  labelLineClasses,
  predictionLineShape,
  scanLabelLine,
  scannedLabel,
  scannedPrediction,
  scanPredictionLine,
} from '../../../../../lambdas/core/quality/monitor/quality-lines';
import { labelLine, type FeedbackTarget } from '../../../../../lambdas/core/quality/feedback/validate';
import { labelFromJsonLine, type LabelLine } from '../../../../../lambdas/core/quality/feedback/label-reader';
import { groundTruthHourPrefix } from '../../../../../lambdas/core/quality/feedback/label-keys';
import { predictionLines } from '../../../../../lambdas/core/quality/predictions/prediction-record';
import { predictionsHourPrefix } from '../../../../../lambdas/core/quality/predictions/prediction-sink';
import { createRandom } from '../../../../../lambdas/core/models/training/random';
import type { PredictionRecord } from '../../../../../lambdas/core/quality/contracts';
import { MemoryObjectStore } from '../../../../fixtures/memory-object-store';

const CLASSES = ['malignant', 'benign'];

describe('isoMillis', () => {
  it('equals Date.parse on toISOString times, leap days and the ends of months included', () => {
    const { next } = createRandom(5);
    const times = ['2024-02-29T23:59:59.999Z', '2000-02-29T00:00:00.000Z', '1970-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '1000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z', '2026-12-31T12:00:00.001Z'];
    for (let i = 0; i < 5000; i++) times.push(new Date(Date.UTC(1000, 0, 1) + next() * (Date.UTC(9999, 11, 31) - Date.UTC(1000, 0, 1))).toISOString());
    for (const t of times) assert.equal(isoMillis(`x${t}y`, 1, 25), Date.parse(t), t);
  });

  it('is NaN for anything but that exact form with a real date, so that Date.parse decides', () => {
    for (const t of ['2026-02-30T00:00:00.000Z', '2025-02-29T00:00:00.000Z', '2026-02-28T24:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-00-01T00:00:00.000Z', '0099-01-01T00:00:00.000Z', '2026-01-01T00:60:00.000Z', '2026-01-01T00:00:60.000Z', '2026-01-01 00:00:00.000Z', '2026-01-01T00:00:00.000+', '2026-01-01T00:00:00.00xZ', '+02026-01-01T00:00:00.000Z', '2026-01-01T00:00:00Z']) {
      assert.ok(Number.isNaN(isoMillis(t, 0, t.length)), t);
    }
  });

  it('reads times of one hour as Date.parse does whatever it read before (the hour it keeps from the last line)', () => {
    const { next } = createRandom(6);
    const hour = Date.UTC(2026, 2, 1, 5);
    const good: string[] = [];
    for (let i = 0; i < 2000; i++) good.push(new Date(hour + Math.floor(next() * 3_600_000) + (next() < 0.2 ? 3_600_000 : 0)).toISOString());
    // Same hour as the good ones, then broken after it: the kept hour must not make them times.
    const bad = ['2026-03-01T05:60:00.000Z', '2026-03-01T05:00:60.000Z', '2026-03-01T05:00:00.00xZ', '2026-03-01T05:00:00.000+', '2026-03-01T05-00:00.000Z', '2026-03-01T05:00:00,000Z'];
    for (let i = 0; i < good.length; i++) {
      assert.equal(isoMillis(good[i]!, 0, 24), Date.parse(good[i]!), good[i]);
      if (i % 10 === 0) for (const t of bad) assert.ok(Number.isNaN(isoMillis(t, 0, t.length)), t);
    }
  });
});

describe('decodeBase64Into', () => {
  it('decodes canonical base64 as Buffer does, every length and padding', () => {
    const { next } = createRandom(7);
    const out = new Uint8Array(64);
    for (let n = 0; n <= 40; n++) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
      const text = Buffer.from(bytes).toString('base64');
      assert.equal(decodeBase64Into(`"${text}"`, 1, text.length + 1, out), n, text);
      assert.deepEqual(out.subarray(0, n), bytes, text);
    }
  });

  it('answers -1 for what is not canonical base64 (Buffer then decodes it, leniently)', () => {
    const out = new Uint8Array(64);
    for (const text of ['AAA', 'AA=A', 'A===', 'AA-_', 'AA A', 'AAé=', '=AAA']) assert.equal(decodeBase64Into(text, 0, text.length, out), -1, text);
    assert.equal(decodeBase64Into('AAAAAAAA', 0, 8, new Uint8Array(5)), -1, 'more bytes than the output holds');
  });
});

describe('LabelTable', () => {
  it('finds what a Map of (id, index) finds, over many keys, large indexes and ids of one character', () => {
    const { next } = createRandom(11);
    const table = new LabelTable();
    const reference = new Map<string, number>();
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!~';
    for (let i = 0; i < 30_000; i++) {
      const length = 1 + Math.floor(next() * (next() < 0.1 ? 128 : 4));
      let id = '';
      for (let c = 0; c < length; c++) id += alphabet[Math.floor(next() * alphabet.length)];
      const index = next() < 0.8 ? 0 : next() < 0.5 ? Math.floor(next() * 5) : 2 ** 32 + Math.floor(next() * 3);
      const key = `${id}\n${index}`;
      const added = table.add(id, index, i % 3, 1e12 + i);
      assert.equal(added, !reference.has(key), key);
      if (added) reference.set(key, reference.size);
    }
    assert.equal(table.size, reference.size);
    for (const [key, slot] of reference) {
      const [id, index] = key.split('\n') as [string, string];
      assert.equal(table.slotOf(id, Number(index)), slot, key);
      assert.equal(table.findKey(idHashesOf(`"${id}"`, 1, id.length + 1, { idHash: 0, idHash2: 0, idHash3: 0 }), Number(index)), slot, key);
      assert.equal(table.slotOf(id, Number(index) + 1) === -1, !reference.has(`${id}\n${Number(index) + 1}`));
    }
    assert.equal(table.slotOf('not-there', 0), -1);
  });
});

const line = (record: Record<string, unknown>) => JSON.stringify(record);

describe('scanPredictionLine', () => {
  const shape = predictionLineShape('breast-cancer', '1', 'classification', CLASSES);
  const out = scannedPrediction();

  /** The scanner's reading, in JSON.parse's terms. */
  function asParsed(text: string): Partial<PredictionRecord> & { timeMs: number } {
    const floats = out.floatsStart < 0 ? undefined : text.slice(out.floatsStart, out.floatsEnd);
    return {
      id: text.slice(out.idStart, out.idEnd),
      timeMs: out.time,
      first: out.first,
      count: out.count,
      predicted: Array.from(out.predicted.subarray(0, out.count)),
      ...(floats === undefined ? {} : { probabilitiesFloat32: floats }),
    };
  }
  const fromJson = (text: string) => {
    const r = JSON.parse(text) as PredictionRecord;
    return { id: r.id, timeMs: Date.parse(r.time), first: r.first, count: r.count, predicted: r.predicted, ...(r.probabilitiesFloat32 === undefined ? {} : { probabilitiesFloat32: r.probabilitiesFloat32 }) };
  };

  it("reads the writer's lines as JSON.parse does: one instance or many, split lines, with and without probabilities, any visible ASCII id", () => {
    const { next } = createRandom(3);
    const ids = ['a', 'x-inference_ID.0~!', "id'with{braces}[and]:colons,", 'Z'.repeat(128), 'w1llXrH8dgEGnf_De6dHCg'];
    let lines = 0;
    for (const id of ids) {
      for (const count of [1, 3, 40]) {
        const predicted = Int32Array.from({ length: count }, () => (next() < 0.5 ? 0 : 1));
        const probabilities = Float32Array.from({ length: 2 * count }, () => next());
        for (const withProbabilities of [true, false]) {
          const time = new Date(1.7e12 + Math.floor(next() * 1e10));
          for (const maxBytes of [undefined, 400]) {
            for (const text of predictionLines({ model: 'breast-cancer', version: '1', id, time, count, classes: CLASSES, predicted, ...(withProbabilities ? { probabilities } : {}) }, maxBytes)) {
              assert.ok(scanPredictionLine(text, shape, out), text);
              assert.deepEqual(asParsed(text), fromJson(text), text);
              lines++;
            }
          }
        }
      }
    }
    assert.ok(lines > 60);
  });

  it('reads a regressor\'s lines', () => {
    const regressor = predictionLineShape('house', '3', 'regression', []);
    for (const text of predictionLines({ model: 'house', version: '3', id: 'r-1', time: new Date('2026-03-02T10:00:00.123Z'), count: 3, values: Float32Array.of(1.5, -2, 1e30) })) {
      assert.ok(scanPredictionLine(text, regressor, out), text);
      const r = JSON.parse(text) as PredictionRecord;
      assert.deepEqual({ id: text.slice(out.idStart, out.idEnd), time: out.time, first: out.first, count: out.count, values: text.slice(out.floatsStart, out.floatsEnd) }, { id: r.id, time: Date.parse(r.time), first: r.first, count: r.count, values: r.valuesFloat32 });
    }
    // A classifier's line is not a regressor's, nor the reverse: the parser decides.
    const classified = predictionLines({ model: 'house', version: '3', id: 'c', time: new Date(), count: 1, classes: CLASSES, predicted: Int32Array.of(0) })[0]!;
    assert.equal(scanPredictionLine(classified, regressor, out), false);
  });

  it('leaves every other form to JSON.parse: escapes, another field order, spaces, other classes, version or model, bad numbers', () => {
    const base = { mlshipPrediction: 1, model: 'breast-cancer', version: '1', id: 'abc', time: '2026-03-02T10:00:00.000Z', first: 0, count: 1, classes: CLASSES, predicted: [1], probabilitiesFloat32: 'mpmZPjMzMz8=' };
    assert.ok(scanPredictionLine(line(base), shape, out), 'the base line is the fast form');
    const others = [
      line({ ...base, id: 'with"quote' }),
      line({ ...base, id: 'back\\slash' }),
      line({ ...base, id: 'é' }),
      line({ ...base, id: '' }),
      line({ ...base, id: 'x'.repeat(129) }),
      line({ ...base, id: 'tab\there' }),
      line({ ...base, time: '2026-03-02T10:00:00.000\\u005a' }),
      line({ mlshipPrediction: 1, model: 'breast-cancer', id: 'abc', version: '1', time: base.time, first: 0, count: 1, classes: CLASSES, predicted: [1] }),
      line({ ...base, version: '2' }),
      line({ ...base, model: 'other' }),
      line({ ...base, classes: ['benign', 'malignant'] }),
      line({ ...base, first: 1.5 }),
      line({ ...base, first: -1 }),
      line({ ...base, count: 0 }),
      line({ ...base, count: 2 }),
      line({ ...base, count: 1e20 }),
      line({ ...base, predicted: [1.5] }),
      line({ ...base, predicted: [-1] }),
      line({ ...base, predicted: [] }),
      line({ ...base, extra: true }),
      line({ ...base, valuesFloat32: 'AAAAAA==' }),
      `${line(base)} `,
      `${line(base)}\r`,
      line(base).replace('"first":0', '"first":00'),
      line(base).replace('"first":0', '"first":1e0'),
      line(base).replace('{', '{ '),
      line(base).replace('"predicted":[1]', '"predicted":[ 1]'),
      line(base).slice(0, -1),
      line(base).replace('"mlshipPrediction":1', '"mlshipPrediction":1.0'),
    ];
    for (const text of others) assert.equal(scanPredictionLine(text, shape, out), false, text);
  });

  it('reads the time of a line that is not in the fast form with Date.parse, NaN when it is no time', () => {
    const base = { mlshipPrediction: 1, model: 'breast-cancer', version: '1', id: 'abc', time: '2026-03-02T10:00:00Z', first: 0, count: 1, classes: CLASSES, predicted: [1] };
    assert.ok(scanPredictionLine(line(base), shape, out));
    assert.equal(out.time, Date.parse('2026-03-02T10:00:00Z'));
    assert.ok(scanPredictionLine(line({ ...base, time: '2026-02-30T00:00:00.000Z' }), shape, out));
    assert.equal(out.time, Date.parse('2026-02-30T00:00:00.000Z'));
    assert.ok(scanPredictionLine(line({ ...base, time: 'yesterday' }), shape, out));
    assert.ok(Number.isNaN(out.time));
  });
});

describe('scanLabelLine', () => {
  const classes = labelLineClasses(CLASSES);
  const out = scannedLabel();
  const classifier: FeedbackTarget = { model: 'm', task: 'binary', labels: CLASSES };
  const regressor: FeedbackTarget = { model: 'r', task: 'regression', labels: [] };
  /** The canonical reading of a line (feedback/label-reader.ts): its fields and time, or a failed assertion. */
  const canonical = (text: string, target: FeedbackTarget) => {
    const read: LabelLine = labelFromJsonLine(text, target);
    assert.ok(!('problem' in read), `${text}: ${'problem' in read ? read.problem : ''}`);
    return { ...read.fields, time: Date.parse(read.time!) };
  };

  it("reads labelLine's lines as the label reader (labelFromJsonLine) does", () => {
    const { next } = createRandom(9);
    for (let i = 0; i < 500; i++) {
      const id = i % 7 === 0 ? "odd'id:{x},[y]" : `id-${Math.floor(next() * 1e9)}`;
      const record = { id, index: i % 5 === 0 ? Math.floor(next() * 1e6) : 0, label: CLASSES[i % 2]!, time: new Date(1.7e12 + Math.floor(next() * 1e10)).toISOString() };
      const text = labelLine(record);
      assert.ok(scanLabelLine(text, classes, out), text);
      const parsed = canonical(text, classifier);
      assert.deepEqual({ id: text.slice(out.idStart, out.idEnd), index: out.index, label: CLASSES[out.truth], time: out.time }, { id: parsed.id, index: parsed.index, label: parsed.label, time: parsed.time });
      const expected = idHashesOf(parsed.id, 0, parsed.id.length, { idHash: 0, idHash2: 0, idHash3: 0 });
      assert.deepEqual([out.idHash, out.idHash2, out.idHash3], [expected.idHash, expected.idHash2, expected.idHash3]);
    }
  });

  it("reads a regressor's values as JSON.parse does, and only finite ones", () => {
    for (const value of [0, -0, 1.5, -2.25e-7, 1e308, 123456789012345680000, 5e-324]) {
      const text = labelLine({ id: 'r', index: 2, value, time: '2026-03-02T10:00:00.000Z' });
      assert.ok(scanLabelLine(text, undefined, out), text);
      assert.ok(Object.is(out.truth, canonical(text, regressor).value), text);
    }
    assert.equal(scanLabelLine('{"id":"r","index":0,"value":1e999,"time":"2026-03-02T10:00:00.000Z"}', undefined, out), false);
    assert.equal(scanLabelLine('{"id":"r","index":0,"value":1.,"time":"2026-03-02T10:00:00.000Z"}', undefined, out), false);
    assert.equal(scanLabelLine('{"id":"r","index":0,"value":01,"time":"2026-03-02T10:00:00.000Z"}', undefined, out), false);
    assert.equal(scanLabelLine('{"id":"r","index":0,"label":"benign","time":"2026-03-02T10:00:00.000Z"}', undefined, out), false, "a class for a regressor: the parser's error");
  });

  it('leaves every other form to the label reader: another order, escapes, an unknown class, no time, spaces, a time not in toISOString form', () => {
    const base = { id: 'abc', index: 0, label: 'benign', time: '2026-03-02T10:00:00.000Z' };
    assert.ok(scanLabelLine(line(base), classes, out));
    const others = [
      line({ index: 0, id: 'abc', label: 'benign', time: base.time }),
      line({ ...base, id: 'q"uote' }),
      line({ ...base, id: 'x'.repeat(129) }),
      line({ ...base, label: 'maybe' }),
      line({ ...base, label: 'benign\u0000' }),
      line({ ...base, index: -1 }),
      line({ ...base, index: 0.5 }),
      line({ ...base, time: 'later' }),
      line({ ...base, time: '2026-03-02' }),
      line({ ...base, time: '2026-03-02T10:00:00Z' }),
      line({ ...base, time: 'Mon, 02 Mar 2026 10:00:00 GMT' }),
      line({ id: 'abc', index: 0, label: 'benign' }),
      line({ ...base, extra: 1 }),
      line(base).replace('"benign"', '"\\u0062enign"'),
      `${line(base)} `,
      line(base).replace(':0,', ':00,'),
    ];
    for (const text of others) assert.equal(scanLabelLine(text, classes, out), false, text);
  });

  it('maps a label listed twice to its last index, as a Map of the labels does', () => {
    const twice = labelLineClasses(['a', 'b', 'a']);
    assert.ok(scanLabelLine(line({ id: 'x', index: 0, label: 'a', time: '2026-03-02T10:00:00.000Z' }), twice, out));
    assert.equal(out.truth, 2);
  });

  it('finds a class among many (past 32, by its text) as among few', () => {
    const many = Array.from({ length: 100 }, (_, i) => `class ${i}`);
    const manyClasses = labelLineClasses(many);
    for (const c of [0, 31, 32, 99]) {
      assert.ok(scanLabelLine(line({ id: 'x', index: 0, label: many[c], time: '2026-03-02T10:00:00.000Z' }), manyClasses, out));
      assert.equal(out.truth, c);
    }
    assert.equal(scanLabelLine(line({ id: 'x', index: 0, label: 'class 100', time: '2026-03-02T10:00:00.000Z' }), manyClasses, out), false);
  });
});

describe('the join through the fast path and through JSON.parse', () => {
  const MODEL: JoinModel = { name: 'breast-cancer', task: 'classification', labels: CLASSES, versions: ['1', '2'] };
  const H = (h: number, m = 0) => new Date(Date.UTC(2026, 2, 2, h, m));
  const WINDOW = { from: H(6, 30), to: H(10, 30) };

  /** A window of predictions and labels of every kind; `slow` writes every line in a form only JSON.parse reads (a space after `{`). */
  function store(slow: boolean): MemoryObjectStore {
    const s = new MemoryObjectStore({ pieceBytes: 301 });
    const { next } = createRandom(13);
    const form = (text: string) => (slow && text.startsWith('{') ? `{ ${text.slice(1)}` : text);
    for (const version of ['1', '2']) {
      for (let h = 6; h <= 10; h++) {
        const lines: string[] = [];
        for (let r = 0; r < 60; r++) {
          const count = r % 10 === 0 ? 5 : 1;
          const id = r % 13 === 0 ? `esc"aped\\${h}-${r}` : `${version === '2' && r % 4 === 0 ? 'v1-' : `v${version}-`}${h}-${r}`;
          const predicted = Int32Array.from({ length: count }, () => (next() < 0.5 ? 0 : 1));
          const probabilities = Float32Array.from({ length: 2 * count }, () => next());
          lines.push(...predictionLines({ model: MODEL.name, version, id, time: H(h, r % 60), count, classes: CLASSES, predicted, ...(r % 7 === 0 ? {} : { probabilities }) }, r % 10 === 0 ? 400 : undefined).map(form));
        }
        // Lines the join rejects or counts apart: bad JSON, a bad time, another version, an unknown class index, a line without classes.
        lines.push('not json', form(line({ mlshipPrediction: 1, model: MODEL.name, version, id: `bad-time-${h}`, time: 'soon', first: 0, count: 1, classes: CLASSES, predicted: [0] })));
        lines.push(form(line({ mlshipPrediction: 1, model: MODEL.name, version: '9', id: `v9-${h}`, time: H(h).toISOString(), first: 0, count: 1, classes: CLASSES, predicted: [0] })));
        lines.push(form(line({ mlshipPrediction: 1, model: MODEL.name, version, id: `v${version}-${h}-66`, time: H(h, 1).toISOString(), first: 0, count: 1, classes: CLASSES, predicted: [7] })));
        lines.push('', form(line({ mlshipPrediction: 1, model: MODEL.name, version, id: `noclass-${h}`, time: H(h).toISOString(), first: 0, count: 1 })));
        s.put(`${predictionsHourPrefix(MODEL.name, version, H(h))}part-0.jsonl`, `${lines.join('\n')}\n`);
      }
    }
    for (let h = 5; h <= 10; h++) {
      const labels: string[] = [];
      for (let r = 0; r < 70; r++) {
        for (const version of ['1', '2']) {
          const id = r % 13 === 0 ? `esc"aped\\${h}-${r}` : `v${version}-${h}-${r}`;
          for (let index = 0; index < (r % 10 === 0 ? 6 : 1); index++) {
            if (next() < 0.2) continue;
            const time = new Date(H(h, r % 60).getTime() + Math.floor((next() - 0.1) * 3_600_000));
            labels.push(form(labelLine({ id, index, label: CLASSES[next() < 0.5 ? 0 : 1]!, time: time.toISOString() })));
            if (next() < 0.1) labels.push(form(labelLine({ id, index, label: CLASSES[0]!, time: time.toISOString() })));
          }
        }
      }
      labels.push(form(line({ id: 'x', index: 0, label: 'maybe', time: H(h).toISOString() })), form(line({ id: 'y', index: 0, value: 1, time: H(h).toISOString() })), 'nope', '');
      s.put(`${groundTruthHourPrefix(MODEL.name, H(h))}labels.jsonl`, `${labels.join('\n')}\n`);
    }
    s.put(`${groundTruthHourPrefix(MODEL.name, H(9))}bulk.csv`, 'id,index,label\nv1-9-3,0,benign\nv1-9-5,0,malignant\n');
    return s;
  }

  const comparable = (join: QualityJoin) => ({
    ...join,
    bytesRead: 0,
    versions: join.versions.map((v) => ({ ...v, accumulator: v.accumulator.toJSON(), figures: v.accumulator.count > 0 ? v.accumulator.figures() : undefined })),
  });

  it('gives the same join, counts, problems, rows and figures', async () => {
    const fast = await joinQualityWindow(store(false), 'capture', MODEL, WINDOW);
    const slow = await joinQualityWindow(store(true), 'capture', MODEL, WINDOW);
    assert.ok(fast.versions[0]!.labelled > 100 && fast.versions[1]!.labelled > 50, `labelled ${fast.versions.map((v) => v.labelled).join(', ')}`);
    assert.ok(fast.labels.duplicates > 0 && fast.labels.rejected > 0 && fast.versions[0]!.rejectedLines > 0 && fast.versions[0]!.unknownClasses > 0 && fast.versions[1]!.duplicatePredictions > 0, JSON.stringify({ labels: fast.labels, v: fast.versions.map((v) => [v.rejectedLines, v.unknownClasses, v.duplicatePredictions]) }));
    assert.deepEqual(comparable(fast), comparable(slow));
  });
});

describe('LabelTable.reserve', () => {
  it('keeps every label findable when sized before, after and past what it holds', () => {
    const table = new LabelTable();
    for (let i = 0; i < 3000; i++) table.add(`before-${i}`, i % 3, i, i);
    table.reserve(100_000);
    for (let i = 0; i < 3000; i++) table.add(`after-${i}`, 0, i, i);
    table.reserve(10);
    assert.equal(table.size, 6000);
    for (let i = 0; i < 3000; i++) {
      assert.equal(table.slotOf(`before-${i}`, i % 3), i);
      assert.equal(table.slotOf(`after-${i}`, 0), 3000 + i);
      assert.equal(table.truthOf(3000 + i), i);
    }
    assert.equal(table.add('before-7', 1, 0, 0), false);
  });
});
