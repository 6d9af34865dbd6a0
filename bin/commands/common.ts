// What every mlship subcommand shares: option parsers, the one-line error report, and the summary of a
// written model version.
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { manifestSnippet } from '../../lambdas/core/models/model-artifact';
import type { OnboardResult } from '../../lambdas/core/models/onboard';
import { loadModelFolder } from '../../lambdas/core/manifest/load';

/** Exit status for a command line that cannot be run as written (an unknown flag, a missing value). */
export const USAGE_EXIT_CODE = 2;

export function parseInteger(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('must be an integer.');
  return Number(value);
}

export function parsePositiveInteger(value: string): number {
  const n = parseInteger(value);
  if (n < 1) throw new InvalidArgumentError('must be at least 1.');
  return n;
}

export function parseNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number.');
  return n;
}

export function parseList(value: string): string[] {
  return value.split(',').map((s) => s.trim());
}

/**
 * Runs a command action; any error becomes one line on stderr and exit code 1 (the stack trace only with
 * MLSHIP_DEBUG=1), so bad input never shows a trace.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      process.stderr.write(`error: ${e.message.split('\n').join(' ')}\n`);
      if (process.env.MLSHIP_DEBUG === '1' && e.stack) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 1;
    }
  };
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

function size(path: string): string {
  const bytes = statSync(path).size;
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Checks the written folder as synth and the local server will, then prints what was written and the manifest lines. */
export function reportArtifact(result: OnboardResult): void {
  const { card } = result;
  const check = loadModelFolder(result.dir, `${card.name} v${card.version}`, { name: card.name, version: card.version });
  if (check.problems.length > 0) throw new Error(`the written model does not load: ${check.problems.join('; ')}`);
  const lines = [
    `wrote ${shown(result.onnxPath)} (${size(result.onnxPath)}, sha256 ${card.onnx.sha256.slice(0, 12)}...)`,
    `wrote ${shown(result.cardPath)} (${card.task}, ${card.labels.length > 0 ? `labels ${card.labels.join(', ')}, ` : ''}${card.input.features.length} features, ${card.golden.length} golden cases${card.driftBaseline ? ', drift baseline' : ''})`,
    ...result.notes.map((n) => `  ${n}`),
    '',
    'add to models/manifest.yaml under "models:":',
    manifestSnippet(card.name, card.version),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
