// Writes a model version folder, models/<name>/<version>/{model.onnx, model.json}, after validating the
// card against the schema; picks the next version number; chooses golden cases; prints the manifest lines.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelCardSchema, modelNameSchema, type GoldenCase, type ModelCard, type ModelCardInput } from './model-card';
import { parseWithSchema } from '../common/schema-errors';

export class ArtifactError extends Error {
  override readonly name = 'ArtifactError';
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Throws ArtifactError unless the name is a valid model name. */
export function checkModelName(name: string): void {
  const parsed = modelNameSchema.safeParse(name);
  if (!parsed.success) throw new ArtifactError(`model name '${name}' ${parsed.error.issues[0]?.message ?? 'is not valid'}`);
}

/** Existing integer version folders of a model, ascending. */
export function existingVersions(modelsDir: string, name: string): number[] {
  const dir = join(modelsDir, name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^[1-9]\d*$/.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

/** 1 + the highest existing version folder, or 1 for a new model. */
export function nextModelVersion(modelsDir: string, name: string): number {
  const versions = existingVersions(modelsDir, name);
  return versions.length === 0 ? 1 : versions[versions.length - 1]! + 1;
}

/**
 * Picks up to `count` row positions, taking the rows of each group (class) in turn so several classes are
 * covered: first row of group 0, first of group 1, ..., then the second of each, and so on. Deterministic.
 */
export function pickGoldenRows(groupOfRow: readonly number[], count = 5): number[] {
  const byGroup = new Map<number, number[]>();
  groupOfRow.forEach((g, i) => {
    const rows = byGroup.get(g);
    if (rows) rows.push(i);
    else byGroup.set(g, [i]);
  });
  const queues = [...byGroup.keys()].sort((a, b) => a - b).map((g) => byGroup.get(g)!);
  const picked: number[] = [];
  for (let round = 0; picked.length < count && queues.some((q) => q.length > round); round++) {
    for (const q of queues) {
      if (picked.length >= count) break;
      if (round < q.length) picked.push(q[round]!);
    }
  }
  return picked;
}

/** Golden cases from rows and the scores the exported model gave them (probabilities or values). */
export function goldenCasesFromScores(inputs: readonly (readonly number[])[], scores: readonly (readonly number[])[], labels: readonly string[]): GoldenCase[] {
  return inputs.map((input, i) => {
    const row = scores[i]!;
    if (labels.length === 0) return { input: [...input], expected: { value: row[0]! } };
    let best = 0;
    for (let j = 1; j < row.length; j++) if (row[j]! > row[best]!) best = j;
    return { input: [...input], expected: { label: labels[best]!, probabilities: [...row] } };
  });
}

export interface WrittenArtifact {
  readonly dir: string;
  readonly onnxPath: string;
  readonly cardPath: string;
  readonly card: ModelCard;
}

/**
 * Validates the card (name and version included) and writes model.onnx and model.json into a new folder
 * models/<name>/<version>/, with any `extraFiles` (file name -> text, e.g. background.json) beside them.
 * Refuses to overwrite an existing version folder.
 */
export function writeModelArtifact(modelsDir: string, onnxBytes: Uint8Array, card: ModelCardInput, extraFiles: Readonly<Record<string, string>> = {}): WrittenArtifact {
  const parsed = parseWithSchema(modelCardSchema, card);
  if (!parsed.ok) throw new ArtifactError(`the model card does not validate: ${parsed.errors.join('; ')}`);
  if (parsed.data.onnx.sha256 !== sha256Hex(onnxBytes)) throw new ArtifactError('the model card onnx.sha256 does not match the ONNX bytes');
  const dir = join(modelsDir, card.name, String(card.version));
  mkdirSync(join(modelsDir, card.name), { recursive: true });
  try {
    mkdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new ArtifactError(`${dir} already exists; versions are never overwritten`);
    throw error;
  }
  const onnxPath = join(dir, 'model.onnx');
  const cardPath = join(dir, 'model.json');
  try {
    writeFileSync(onnxPath, onnxBytes);
    writeFileSync(cardPath, `${JSON.stringify(parsed.data, null, 2)}\n`);
    for (const [file, text] of Object.entries(extraFiles)) writeFileSync(join(dir, file), text);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, onnxPath, cardPath, card: parsed.data };
}

/** The lines to add under `models:` in models/manifest.yaml. */
export function manifestSnippet(name: string, version: number, runtime: 'lambda' | 'sagemaker' = 'lambda'): string {
  return `  - name: ${name}\n    version: ${version}\n    runtime: ${runtime}`;
}
