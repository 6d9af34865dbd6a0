// Loads models/manifest.yaml (or .json), validates it and every model it names, and reports every
// problem at once with its manifest path, so a bad manifest fails synth and start the same way.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { modelCardSchema, type ModelCard } from '../models/model-card';
import { inspectOnnx, OnnxFormatError, type OnnxGraphInfo } from '../models/onnx-inspect';
import { parseWithSchema } from '../common/schema-errors';
import { manifestSchema, type Manifest, type ModelEntry } from './schema';
import { batchExplainProblems } from '../batch/explain-settings';

export const DEFAULT_MANIFEST_CANDIDATES = ['models/manifest.yaml', 'models/manifest.yml', 'models/manifest.json'];

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid manifest ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface LoadedModel {
  /** Position in the manifest's models list, for error messages. */
  readonly index: number;
  readonly entry: ModelEntry;
  /** Absolute path of models/<name>/<version>/. */
  readonly dir: string;
  readonly onnxPath: string;
  readonly card: ModelCard;
}

export interface LoadedManifest {
  /** Absolute path of the manifest file. */
  readonly file: string;
  /** Folder holding the manifest; model folders are relative to it. */
  readonly root: string;
  readonly manifest: Manifest;
  readonly models: readonly LoadedModel[];
}

/** Finds the manifest: an explicit path, else the first default candidate under `cwd`. */
export function resolveManifestPath(explicit: string | undefined, cwd = process.cwd()): string {
  if (explicit) return resolve(cwd, explicit);
  const found = DEFAULT_MANIFEST_CANDIDATES.map((c) => resolve(cwd, c)).find((c) => existsSync(c));
  if (!found) throw new ManifestError(resolve(cwd, DEFAULT_MANIFEST_CANDIDATES[0]!), ['file not found (also looked for models/manifest.yml and models/manifest.json)']);
  return found;
}

function readDocument(file: string): unknown {
  if (!existsSync(file)) throw new ManifestError(file, ['file not found']);
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ManifestError(file, [`not valid JSON: ${(error as Error).message}`]);
    }
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ManifestError(file, doc.errors.map((e) => `not valid YAML: ${e.message}`));
  return doc.toJS();
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Problems where the ONNX graph disagrees with the model card. Empty when they agree. */
export function compareGraphWithCard(graph: OnnxGraphInfo, card: ModelCard): string[] {
  const problems: string[] = [];
  const input = graph.inputs.find((i) => i.name === card.input.tensorName);
  if (graph.inputs.length !== 1) {
    problems.push(`the ONNX graph has ${graph.inputs.length} inputs (${graph.inputs.map((i) => i.name).join(', ')}); mlship serves models with exactly one input tensor`);
  }
  if (!input) {
    problems.push(`input.tensorName is '${card.input.tensorName}' but the ONNX graph's inputs are ${graph.inputs.map((i) => `'${i.name}'`).join(', ') || 'none'}`);
  } else {
    if (input.elemType !== 'float') problems.push(`the ONNX input '${input.name}' has element type ${input.elemType}, model.json says float32`);
    const width = card.input.features.length;
    const fixed = input.dims.slice(1).filter((d): d is number => typeof d === 'number' && d > 0);
    const onnxWidth = fixed.reduce((a, b) => a * b, 1);
    if (fixed.length === input.dims.length - 1 && input.dims.length >= 2 && onnxWidth !== width) {
      problems.push(`the ONNX input '${input.name}' takes ${onnxWidth} values per instance (dims ${JSON.stringify(input.dims)}), model.json lists ${width} features`);
    }
  }
  const outputNames = graph.outputs.map((o) => o.name);
  for (const [field, name] of [['output.scoresTensor', card.output.scoresTensor], ['output.labelTensor', card.output.labelTensor]] as const) {
    if (name !== undefined && !outputNames.includes(name)) {
      problems.push(`${field} is '${name}' but the ONNX graph's outputs are ${outputNames.map((n) => `'${n}'`).join(', ')}`);
    }
  }
  return problems;
}

/** Reads and checks one model folder; returns the card or the problems found. */
/** Why `path` cannot be a model file (missing, or a folder or other non-file), or undefined. */
function fileProblem(path: string): string | undefined {
  try {
    return statSync(path).isFile() ? undefined : 'is not a file';
  } catch {
    return 'not found';
  }
}

export function loadModelFolder(dir: string, label: string, expected?: { name: string; version: number }): { card?: ModelCard; problems: string[] } {
  const cardPath = join(dir, 'model.json');
  const onnxPath = join(dir, 'model.onnx');
  const problems: string[] = [];
  if (!existsSync(dir)) return { problems: [`${label}: model folder ${dir} not found`] };
  for (const path of [cardPath, onnxPath]) {
    const problem = fileProblem(path);
    if (problem) problems.push(`${label}: ${path} ${problem}`);
  }
  if (problems.length > 0) return { problems };

  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cardPath, 'utf8'));
  } catch (error) {
    return { problems: [`${label}: ${cardPath} is not valid JSON: ${(error as Error).message}`] };
  }
  const parsed = parseWithSchema(modelCardSchema, raw);
  if (!parsed.ok) return { problems: parsed.errors.map((e) => `${label}: ${cardPath}: ${e}`) };
  const card = parsed.data;
  if (expected && (card.name !== expected.name || card.version !== expected.version)) {
    problems.push(`${label}: ${cardPath} describes ${card.name} v${card.version}, the manifest names ${expected.name} v${expected.version}`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(onnxPath);
  } catch (error) {
    return { card, problems: [...problems, `${label}: ${onnxPath} cannot be read: ${(error as Error).message}`] };
  }
  if (sha256(bytes) !== card.onnx.sha256) problems.push(`${label}: ${onnxPath} does not match onnx.sha256 in model.json (the file changed after the card was written)`);
  try {
    problems.push(...compareGraphWithCard(inspectOnnx(bytes), card).map((p) => `${label}: ${onnxPath}: ${p}`));
  } catch (error) {
    if (!(error instanceof OnnxFormatError)) throw error;
    problems.push(`${label}: ${onnxPath}: ${error.message}`);
  }
  return { card, problems };
}

/** The quality thresholds of each task: a classifier's figures are not a regressor's. */
const QUALITY_ALARMS_OF_TASK = {
  classification: ['accuracyBelow', 'macroF1Below', 'rocAucBelow', 'dropFromBaselineAbove'],
  regression: ['maeAbove', 'r2Below', 'dropFromBaselineAbove'],
} as const;

/** A quality threshold that the model's task has no figure for (accuracy of a regressor), named by its manifest path. */
function qualityAlarmProblems(entry: ModelEntry, card: ModelCard, index: number): string[] {
  const kind = card.task === 'regression' ? 'regression' : 'classification';
  const allowed: readonly string[] = QUALITY_ALARMS_OF_TASK[kind];
  return Object.entries(entry.monitoring.quality.alarms)
    .filter(([key, value]) => value !== undefined && !allowed.includes(key))
    .map(([key]) => `models[${index}].monitoring.quality.alarms.${key}: ${entry.name} is a ${card.task} model, which has no such figure; its thresholds are ${allowed.join(', ')}`);
}

/** Loads and validates the manifest and every model it names. Throws ManifestError listing all problems. */
export function loadManifest(manifestFile: string): LoadedManifest {
  const file = resolve(manifestFile);
  const root = dirname(file);
  const parsed = parseWithSchema(manifestSchema, readDocument(file));
  if (!parsed.ok) throw new ManifestError(file, parsed.errors);
  const manifest = parsed.data;

  const problems: string[] = [];
  const models: LoadedModel[] = [];
  manifest.models.forEach((entry, index) => {
    const dir = join(root, entry.name, String(entry.version));
    const label = `models[${index}] (${entry.name} v${entry.version})`;
    const { card, problems: found } = loadModelFolder(dir, label, entry);
    problems.push(...found.map((p) => p.replace(`${root}/`, `${relative(process.cwd(), root) || '.'}/`)));
    if (card && found.length === 0) {
      problems.push(...qualityAlarmProblems(entry, card, index));
      problems.push(...batchExplainProblems(entry, card, index));
      models.push({ index, entry, dir, onnxPath: join(dir, 'model.onnx'), card });
    }
  });
  if (problems.length > 0) throw new ManifestError(file, problems);
  return { file, root, manifest, models };
}
