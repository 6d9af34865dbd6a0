// The background sample: seeded, at most BACKGROUND_ROWS rows, each one of the rows it was drawn from;
// background.json round-trips exactly; a file that does not fit the card or whose sha256 is not the card's
// is a clear error. (That train and import draw it from the training split only: onboard-explain.test.ts.)
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BACKGROUND_FILE, BACKGROUND_ROWS, backgroundFileText, BackgroundError, parseBackground, readBackground, sampleBackground } from '../../../../lambdas/core/explain/background';
import { modelCardSchema, type ModelCard } from '../../../../lambdas/core/models/model-card';
import { createRandom } from '../../../../lambdas/core/models/training/random';
import { buildModelCard, buildSoftmaxOnnx } from '../../../fixtures/model-folder';
import { tempDirMaker } from '../../../fixtures/temp-dirs';

const newDir = tempDirMaker('mlship-background-');
const FEATURES = ['f0', 'f1', 'f2', 'f3'];

function rowsOf(values: Float32Array, width: number): string[] {
  return Array.from({ length: values.length / width }, (_, r) => Array.from(values.subarray(r * width, (r + 1) * width)).join(','));
}

/** n rows of 4 features, every row distinct (column 0 is the row number). */
function data(n: number, seed = 1): Float32Array {
  const random = createRandom(seed);
  return Float32Array.from({ length: n * 4 }, (_, i) => (i % 4 === 0 ? i / 4 : random.normal() * 3));
}

function card(explanation?: ModelCard['explanation']): ModelCard {
  const input = buildModelCard({ name: 'bg' }, buildSoftmaxOnnx({ width: 4, classes: 2 }));
  return modelCardSchema.parse({ ...input, ...(explanation ? { explanation } : {}) });
}

describe('sampleBackground', () => {
  it('draws BACKGROUND_ROWS distinct rows of the input, in their original order, the same for the same seed', () => {
    const rows = data(455);
    const sample = sampleBackground(rows, 455, 4, 42);
    assert.equal(sample.length, BACKGROUND_ROWS * 4);
    const drawn = rowsOf(sample, 4);
    const all = new Set(rowsOf(rows, 4));
    assert.ok(drawn.every((r) => all.has(r)));
    assert.equal(new Set(drawn).size, BACKGROUND_ROWS);
    const order = drawn.map((r) => Number(r.split(',')[0]));
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    assert.deepEqual(sampleBackground(rows, 455, 4, 42), sample);
    assert.notDeepEqual(sampleBackground(rows, 455, 4, 43), sample);
  });

  it('is not the first rows: the sample spreads over the whole input', () => {
    const order = rowsOf(sampleBackground(data(455), 455, 4, 42), 4).map((r) => Number(r.split(',')[0]));
    assert.ok(order[order.length - 1]! > 400, `last sampled row ${order[order.length - 1]}`);
    assert.ok(order[0]! < 50, `first sampled row ${order[0]}`);
  });

  it('keeps every row when there are no more than the size, and honours a smaller size', () => {
    const rows = data(30);
    assert.deepEqual(sampleBackground(rows, 30, 4, 7), rows);
    assert.equal(sampleBackground(rows, 30, 4, 7, 10).length, 40);
  });

  it('refuses rows that are not count x featureCount', () => {
    assert.throws(() => sampleBackground(new Float32Array(10), 3, 4, 1), /count x featureCount = 3 x 4 values .* received 10/);
    assert.throws(() => sampleBackground(new Float32Array(0), 0, 4, 1), RangeError);
  });
});

describe('background.json', () => {
  it('round-trips every float32 exactly, written as short decimals', () => {
    const rows = Float32Array.from([0.1, -2.5, 1e-7, 123456.789, 0, 3.4028234663852886e38, -1.1754943508222875e-38, 17.99]);
    const text = backgroundFileText(FEATURES, rows);
    assert.deepEqual(parseBackground(text, card()), rows);
    assert.match(text, /\[0\.1, -2\.5, 1e-7, 123456\.79\]/);
    assert.deepEqual(JSON.parse(text).features, FEATURES);
  });

  it('names a wrong width, a wrong feature, a non-number and a row count the card does not state', () => {
    const good = backgroundFileText(FEATURES, data(3));
    const json = JSON.parse(good) as { features: string[]; rows: number[][] };
    const variant = (change: (j: typeof json) => void): string => {
      const copy = JSON.parse(good) as typeof json;
      change(copy);
      return JSON.stringify(copy);
    };
    assert.throws(() => parseBackground(variant((j) => j.rows[1]!.pop()), card()), { name: 'BackgroundError', message: 'background.json: "rows"[1] must have 4 values (one per feature), has 3' });
    assert.throws(() => parseBackground(variant((j) => (j.features[2] = 'x')), card()), { message: `background.json: "features"[2] is 'x', the model's feature 2 is 'f2'` });
    assert.throws(() => parseBackground(variant((j) => j.features.pop()), card()), { message: 'background.json: "features" has 3 names, bg v1 has 4 features' });
    assert.throws(() => parseBackground(variant((j) => ((j.rows[0] as unknown[])[3] = 'a')), card()), { message: `background.json: "rows"[0][3] ('f3') must be a finite number` });
    assert.throws(() => parseBackground(variant((j) => (j.rows = [])), card()), /"rows" must be a non-empty array/);
    assert.throws(() => parseBackground('{"features": [', card()), /^BackgroundError: background\.json is not JSON/);
    const stated = card({ background: { file: 'background.json', rows: 5, sha256: '0'.repeat(64), seed: 1, source: 'test' } });
    assert.throws(() => parseBackground(good, stated), { message: "background.json has 3 rows, model.json's explanation.background.rows says 5" });
    assert.equal(json.rows.length, 3);
  });
});

describe('readBackground', () => {
  const text = backgroundFileText(FEATURES, data(12));
  const sha256 = createHash('sha256').update(text).digest('hex');
  const named = card({ background: { file: BACKGROUND_FILE, rows: 12, sha256, seed: 42, source: 'all 12 training-split rows' } });

  it('reads the file the card names, checked by its sha256', () => {
    const dir = newDir();
    writeFileSync(join(dir, BACKGROUND_FILE), text);
    assert.deepEqual(readBackground(dir, named), data(12));
  });

  it('gives undefined for a card without explanation.background (older cards)', () => {
    assert.equal(readBackground(newDir(), card()), undefined);
  });

  it('refuses a changed file (sha256) and names a missing one', () => {
    const dir = newDir();
    writeFileSync(join(dir, BACKGROUND_FILE), text.replace('"rows": [', '"rows": [ '));
    assert.throws(() => readBackground(dir, named), (error: Error) => {
      assert.ok(error instanceof BackgroundError);
      assert.match(error.message, new RegExp(`background\\.json has sha256 [0-9a-f]{64}, bg v1's model\\.json says ${sha256}; the file was changed after the model was written`));
      return true;
    });
    assert.throws(() => readBackground(newDir(), named), /background\.json not found; bg v1's model\.json names it in explanation\.background$/);
  });

  it('names the folder when the file matches its sha256 but not the card (a card edited by hand)', () => {
    const dir = newDir();
    const narrow = backgroundFileText(['f0', 'f1', 'f2'], Float32Array.from([1, 2, 3]));
    writeFileSync(join(dir, BACKGROUND_FILE), narrow);
    const wrong = card({ background: { file: BACKGROUND_FILE, rows: 1, sha256: createHash('sha256').update(narrow).digest('hex'), seed: 1, source: 'x' } });
    assert.throws(() => readBackground(dir, wrong), { message: `${dir}/background.json: "features" has 3 names, bg v1 has 4 features` });
  });
});

describe('the card schema', () => {
  it('parses cards without explanation and refuses importance features that are not the input features', () => {
    assert.equal(card().explanation, undefined);
    const base = buildModelCard({ name: 'bg' }, buildSoftmaxOnnx({ width: 4, classes: 2 }));
    const background = { file: 'background.json', rows: 1, sha256: '0'.repeat(64), seed: 1, source: 'x' };
    const importance = { metric: 'accuracy', repeats: 5, rows: 10, seed: 1, baseline: 0.9, features: FEATURES.map((name) => ({ name, mean: 0.1, std: 0 })) };
    assert.ok(modelCardSchema.safeParse({ ...base, explanation: { background, importance } }).success);
    const swapped = { ...importance, features: [...importance.features].reverse() };
    const result = modelCardSchema.safeParse({ ...base, explanation: { background, importance: swapped } });
    assert.ok(!result.success);
    assert.deepEqual(result.error.issues[0]?.path, ['explanation', 'importance', 'features']);
    assert.ok(!modelCardSchema.safeParse({ ...base, explanation: { background: { ...background, file: 'other.json' } } }).success);
  });
});
