// The scored CSV's lines written as bytes (ScoredLineWriter) against the same lines built from strings,
// the way the batch scorer built them before: ids that need quoting, non-ASCII and lone surrogates
// (which UTF-8 cannot carry, so those lines stay text), the largest row numbers, every kind of score.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvField, ScoredLineWriter } from '../../../../lambdas/core/batch/scored-writer';
import { createRandom } from '../../../../lambdas/core/models/training/random';

const asText = (p: number) => String(Math.round(p * 1e7) / 1e7);
const IDS = ['', 'r1', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', 'café', 'naïve,"x"', '😀 emoji', 'lone \ud800 high', 'lone \udc00 low', 'pair \ud83d\ude00 ok', '\ud800', 'x'.repeat(3000)];
const ROWS = [1, 9, 10, 99, 100, 123456789, 2 ** 31, 2 ** 53];

describe('ScoredLineWriter', () => {
  it('writes class lines exactly as string building does', () => {
    const labels = ['malignant', 'benign, or not', 'with "quotes"'];
    const writer = new ScoredLineWriter(labels);
    const { next } = createRandom(3);
    let expected = '';
    for (const id of IDS) {
      for (const row of ROWS) {
        const scores = Float32Array.from([next(), next() * 1e-6, 1 - next() * 1e-9, 0, 1, 4e-8, 5e-8, 0.99999995].slice(0, 3 + (row % 5)));
        const width = scores.length;
        const label = row % labels.length;
        writer.classLine(row, id, label, scores, 0, width);
        expected += `${row},${id === '' ? '' : csvField(id)},${csvField(labels[label]!)}${[...scores].map((p) => `,${asText(p)}`).join('')}\n`;
      }
    }
    const written = writer.take();
    assert.equal(written.length, expected.length);
    assert.ok(written === expected, 'the same text, character for character');
    assert.equal(writer.take(), '', 'take() empties the writer');
  });

  it('writes regression lines exactly as string building does, a non-finite value as an empty field', () => {
    const writer = new ScoredLineWriter([]);
    let expected = '';
    const values = [0, -0, 1.5, -3.25e-7, 1e21, 123456.789, Number.NaN, Infinity, -Infinity, Math.fround(0.1)];
    for (const id of IDS) {
      for (const [i, value] of values.entries()) {
        const row = ROWS[i % ROWS.length]!;
        writer.valueLine(row, id, value);
        expected += `${row},${csvField(id)},${Number.isFinite(value) ? String(value) : ''}\n`;
      }
    }
    assert.ok(writer.take() === expected);
  });

  it('keeps its order across a take() and many rows that outgrow its first buffer', () => {
    const writer = new ScoredLineWriter(['a', 'b']);
    const scores = Float32Array.from([0.25, 0.75]);
    let expected = '';
    for (let row = 1; row <= 5000; row++) {
      const id = row % 997 === 0 ? `lone\ud800${row}` : `id-${row}`;
      writer.classLine(row, id, 1, scores, 0, 2);
      expected += `${row},${csvField(id)},b,0.25,0.75\n`;
    }
    assert.ok(writer.take() === expected);
  });
});
