// The two ways a model gets into models/: `mlship train` (a built-in family trained here from a CSV,
// onboard-train.ts) and `mlship import` (an ONNX file made elsewhere, onboard-import.ts). Both end in the
// same artifact: model.onnx and a validated model.json with evaluation, drift baseline and golden cases
// computed by running the ONNX file itself. This file holds what both share: the error they report, the
// golden-case settings, class labels from a label column, the --image option, reading the user's files
// and recording their paths, the rows picked for golden cases, and the evaluation line for the terminal.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { WrittenArtifact } from './model-artifact';
import type { Evaluation } from './model-card';
import { rowOf, type Matrix } from './training/matrix';

/** A problem with what the user asked for or gave (bad file, bad option): one line, no stack trace. */
export class OnboardError extends Error {
  override readonly name = 'OnboardError';
}

export const GOLDEN_CASES = 5;
export const GOLDEN_TOLERANCE = 1e-4;
/** A label column with more distinct values than this is not a classification target. */
export const MAX_CLASSES = 100;

export interface ClassLabels {
  /** Class names in score-column order. */
  readonly labels: string[];
  /** The class index of every row. */
  readonly classIndex: number[];
}

export function isNumeric(value: string): boolean {
  return value.trim() !== '' && Number.isFinite(Number(value));
}

/**
 * Maps the label cells to class indices. With `explicit` names, a cell is either one of the names or a
 * class index 0..n-1 (so 0/1 data can be named malignant,benign). Without, the classes are the distinct
 * values, sorted numerically when all are numbers, else alphabetically.
 */
export function resolveClassLabels(cells: readonly string[], explicit?: readonly string[], column = 'label'): ClassLabels {
  if (explicit) {
    if (explicit.length < 2) throw new OnboardError(`--labels needs at least 2 class names, received ${explicit.length}`);
    if (explicit.some((l) => l === '')) throw new OnboardError('--labels has an empty class name');
    if (new Set(explicit).size !== explicit.length) throw new OnboardError(`--labels names a class twice: ${explicit.join(',')}`);
    const byName = new Map(explicit.map((l, i) => [l, i]));
    if (cells.every((c) => byName.has(c))) return { labels: [...explicit], classIndex: cells.map((c) => byName.get(c)!) };
    const bad = cells.findIndex((c) => !(/^\d+$/.test(c) && Number(c) < explicit.length));
    if (bad < 0) return { labels: [...explicit], classIndex: cells.map(Number) };
    throw new OnboardError(
      `row ${bad + 1}, column '${column}': '${cells[bad]}' is neither one of the labels ${explicit.join(', ')} nor a class index 0..${explicit.length - 1}`,
    );
  }
  const numeric = cells.every(isNumeric);
  const keyOf = (c: string): string => (numeric ? String(Number(c)) : c);
  const distinct = [...new Set(cells.map(keyOf))];
  if (distinct.length > MAX_CLASSES) {
    throw new OnboardError(`column '${column}' has ${distinct.length} distinct values; mlship train builds classifiers (at most ${MAX_CLASSES} classes), is this the right label column?`);
  }
  const labels = numeric ? distinct.sort((a, b) => Number(a) - Number(b)) : distinct.sort();
  const index = new Map(labels.map((l, i) => [l, i]));
  return { labels, classIndex: cells.map((c) => index.get(keyOf(c))!) };
}

/** Parses "8x8" (or "8X8", "8,8") into an image size. */
export function parseImageSize(text: string): { height: number; width: number } {
  const match = /^\s*(\d+)\s*[xX,]\s*(\d+)\s*$/.exec(text);
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) throw new OnboardError(`--image must look like HEIGHTxWIDTH (e.g. 8x8), received '${text}'`);
  return { height: Number(match[1]), width: Number(match[2]) };
}

export function checkImage(image: { height: number; width: number } | undefined, featureCount: number): void {
  if (image && image.height * image.width !== featureCount) {
    throw new OnboardError(`--image ${image.height}x${image.width} makes ${image.height * image.width} pixels, but there are ${featureCount} features`);
  }
}

export function readBytes(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new OnboardError(`${what} ${path} not found`);
  if (!statSync(path).isFile()) throw new OnboardError(`${what} ${path} is not a file`);
  return readFileSync(path);
}

/** The data file's path as recorded in model.json: relative to the working folder when inside it. */
export function recordedPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/** The feature rows at `positions` (the golden cases' inputs). */
export function rowsOf(m: Matrix, positions: readonly number[]): number[][] {
  return positions.map((r) => rowOf(m, r));
}

/** The score rows at `positions` of a row-major score matrix `width` wide. */
export function scoreRows(data: Float64Array, width: number, positions: readonly number[]): number[][] {
  return positions.map((r) => Array.from(data.subarray(r * width, (r + 1) * width)));
}

export interface OnboardResult extends WrittenArtifact {
  /** Lines for the person at the terminal: what was computed and what was left out. */
  readonly notes: readonly string[];
}

/** The evaluation as one line for the terminal: its metrics and the rows they were computed on. */
export function describeEvaluation(e: Evaluation): string {
  const parts: string[] = [];
  if (e.accuracy !== undefined) parts.push(`accuracy ${e.accuracy.toFixed(4)}`);
  if (e.rocAuc !== undefined) parts.push(`ROC AUC ${e.rocAuc.toFixed(4)}`);
  if (e.macroF1 !== undefined) parts.push(`macro F1 ${e.macroF1.toFixed(4)}`);
  if (e.rmse !== undefined) parts.push(`RMSE ${e.rmse.toPrecision(4)}`);
  if (e.mae !== undefined) parts.push(`MAE ${e.mae.toPrecision(4)}`);
  if (e.r2 !== undefined) parts.push(`R2 ${e.r2.toFixed(4)}`);
  return `${parts.join(', ')} (${e.testSize} rows)`;
}
