// The background sample a model version carries for explanations: at most BACKGROUND_ROWS rows of its
// TRAINING split (never the held-out rows), drawn with a seeded sample, stored as background.json beside
// model.json and named in the card's explanation.background with the file's sha256. The SHAP explainers
// take an absent feature's values from these rows; `mlship train` and `mlship import` write it, the
// serving runtimes read it with readBackground.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelCard } from '../models/model-card';
import { createRandom } from '../models/training/random';

export const BACKGROUND_FILE = 'background.json';
/** Rows kept: enough for a background mean and for permutation SHAP, small enough for an image layer. */
export const BACKGROUND_ROWS = 100;

/** background.json (or the bytes claimed to be it) is not what the card says. */
export class BackgroundError extends Error {
  override readonly name = 'BackgroundError';
}

/**
 * A seeded sample of `size` of the `count` rows (row-major, `featureCount` wide) without replacement, kept
 * in their original order; all rows when there are no more than `size`. Same rows and seed, same sample.
 * The caller passes only training-split rows.
 */
export function sampleBackground(rows: Float32Array, count: number, featureCount: number, seed: number, size: number = BACKGROUND_ROWS): Float32Array {
  if (!Number.isInteger(featureCount) || featureCount < 1) throw new RangeError(`featureCount must be a positive integer, received ${featureCount}`);
  if (!Number.isInteger(count) || count < 1 || rows.length !== count * featureCount) {
    throw new RangeError(`rows must hold count x featureCount = ${count} x ${featureCount} values (count >= 1), received ${rows.length}`);
  }
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, received ${size}`);
  if (count <= size) return rows.slice();
  // Partial Fisher-Yates: the first `size` places of a seeded shuffle of 0..count-1.
  const order = Int32Array.from({ length: count }, (_, i) => i);
  const random = createRandom(seed);
  for (let i = 0; i < size; i++) {
    const j = i + random.int(count - i);
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  const picked = order.subarray(0, size).sort();
  const out = new Float32Array(size * featureCount);
  picked.forEach((r, k) => out.set(rows.subarray(r * featureCount, (r + 1) * featureCount), k * featureCount));
  return out;
}

/** The shortest decimal that reads back as the same float32 (0.1f is written 0.1, not 0.10000000149011612). */
function float32Text(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`background values must be finite, received ${value}`);
  for (let digits = 1; digits < 9; digits++) {
    const text = String(Number(value.toPrecision(digits)));
    if (Math.fround(Number(text)) === value) return text;
  }
  return String(value);
}

/** background.json's text: {"features": [...], "rows": [[...], ...]}, one row a line. */
export function backgroundFileText(features: readonly string[], background: Float32Array): string {
  const width = features.length;
  if (width === 0 || background.length === 0 || background.length % width !== 0) {
    throw new RangeError(`the background must hold whole rows of ${width} features, received ${background.length} values`);
  }
  const lines: string[] = [];
  for (let r = 0; r < background.length / width; r++) {
    lines.push(`    [${Array.from(background.subarray(r * width, (r + 1) * width), float32Text).join(', ')}]`);
  }
  return `{\n  "features": ${JSON.stringify(features)},\n  "rows": [\n${lines.join(',\n')}\n  ]\n}\n`;
}

/** Reads background.json's text for this card: the card's features in order, rows of that width, finite numbers. */
export function parseBackground(text: string, card: ModelCard): Float32Array {
  const where = BACKGROUND_FILE;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new BackgroundError(`${where} is not JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BackgroundError(`${where} must be an object with "features" and "rows"`);
  const { features, rows } = json as { features?: unknown; rows?: unknown };
  const expected = card.input.features;
  if (!Array.isArray(features) || !features.every((f) => typeof f === 'string')) throw new BackgroundError(`${where}: "features" must be an array of feature names`);
  if (features.length !== expected.length) {
    throw new BackgroundError(`${where}: "features" has ${features.length} names, ${card.name} v${card.version} has ${expected.length} features`);
  }
  const mismatch = features.findIndex((f, i) => f !== expected[i]);
  if (mismatch >= 0) {
    throw new BackgroundError(`${where}: "features"[${mismatch}] is '${features[mismatch] as string}', the model's feature ${mismatch} is '${expected[mismatch]}'`);
  }
  if (!Array.isArray(rows) || rows.length === 0) throw new BackgroundError(`${where}: "rows" must be a non-empty array of rows`);
  const claimed = card.explanation?.background.rows;
  if (claimed !== undefined && rows.length !== claimed) throw new BackgroundError(`${where} has ${rows.length} rows, model.json's explanation.background.rows says ${claimed}`);
  const width = expected.length;
  const out = new Float32Array(rows.length * width);
  rows.forEach((row: unknown, r) => {
    if (!Array.isArray(row) || row.length !== width) {
      throw new BackgroundError(`${where}: "rows"[${r}] must have ${width} values (one per feature), has ${Array.isArray(row) ? row.length : 'none (not an array)'}`);
    }
    row.forEach((v: unknown, c) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new BackgroundError(`${where}: "rows"[${r}][${c}] ('${expected[c]}') must be a finite number`);
      out[r * width + c] = v;
    });
  });
  return out;
}

/**
 * The background of the model folder `modelDir`, or undefined when its card names none (a card written
 * before explanations, an import without data). Throws BackgroundError when the named file is missing, its
 * sha256 is not the card's, or it does not fit the card.
 */
export function readBackground(modelDir: string, card: ModelCard): Float32Array | undefined {
  const named = card.explanation?.background;
  if (!named) return undefined;
  const path = join(modelDir, named.file);
  if (!existsSync(path)) throw new BackgroundError(`${path} not found; ${card.name} v${card.version}'s model.json names it in explanation.background`);
  const bytes = readFileSync(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== named.sha256) {
    throw new BackgroundError(`${path} has sha256 ${sha256}, ${card.name} v${card.version}'s model.json says ${named.sha256}; the file was changed after the model was written`);
  }
  try {
    return parseBackground(bytes.toString('utf8'), card);
  } catch (error) {
    if (error instanceof BackgroundError) throw new BackgroundError(`${modelDir}/${error.message}`);
    throw error;
  }
}
