// The real `mlship batch` and `mlship retrain` executables (bin/mlship.mjs): what a person sees, and the
// exit codes their help promises (0 done, 1 the run failed, 2 a command line that cannot run).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import type { EvaluationResult } from '../../lambdas/core/retrain/contract';
import type { LocalRetrainResult } from '../../local/retrain/run-retrain';
import { comparisonLines } from '../../bin/commands/retrain';
import { tempDirMaker } from '../fixtures/temp-dirs';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const MLSHIP = join(REPO_ROOT, 'bin', 'mlship.mjs');
const tempDir = tempDirMaker('mlship-pipeline-cli-');
const features = loadManifest(resolveManifestPath(undefined)).models[0]!.card!.input.features;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function mlship(args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [MLSHIP, ...args], { cwd: REPO_ROOT, env: { ...process.env, MLSHIP_DEBUG: '' } }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('mlship batch (the executable)', () => {
  it('scores a file and prints the run summary; a bad row is a reject, not a failure', async () => {
    const dir = tempDir();
    const input = join(dir, 'rows.csv');
    writeFileSync(input, `${features.join(',')}\n${features.map((_, i) => String(i + 1)).join(',')}\n${features.map(() => 'x').join(',')}\n`);
    const run = await mlship(['batch', '--model', 'breast-cancer', '--input', input, '--output', join(dir, 'out')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^\[batch\] breast-cancer v1: 2 rows, 1 scored, 1 rejected \(dev\)/);
    assert.match(run.stdout, /Rejects: .*rejects\.jsonl \(each line names its row and the reason\)/);
    assert.equal(readFileSync(join(dir, 'out', 'scored.csv'), 'utf8').trimEnd().split('\n').length, 2);
  });

  it('exits 2 naming a missing flag, and 1 naming an unknown model', async () => {
    const missing = await mlship(['batch', '--model', 'breast-cancer', '--input', 'rows.csv']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--output <dir>' not specified/);
    const unknown = await mlship(['batch', '--model', 'nope', '--input', MLSHIP, '--output', tempDir()]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: unknown model 'nope'; .* has: breast-cancer, digits/);
    assert.doesNotMatch(unknown.stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('mlship retrain (the executable)', () => {
  it('refuses a model without a retrain block, naming the manifest entry, and exits 1', async () => {
    const run = await mlship(['retrain', '--model', 'digits', '--data', MLSHIP]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /models\[1\] \(digits\) has no retrain block/);
  });

  it('exits 2 on an unknown flag', async () => {
    const run = await mlship(['retrain', '--model', 'breast-cancer', '--data', 'x.csv', '--bogus']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown option '--bogus'/);
  });

  it('without --data and without labelled production rows, says where either would come from and exits 1', async () => {
    const stateDir = tempDir();
    const run = await mlship(['retrain', '--model', 'breast-cancer', '--state-dir', stateDir]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /no data to retrain breast-cancer on: give a labelled CSV file, or let the quality monitor write labelled production rows to .*retrain-data\/training-data\/breast-cancer/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('mlship retrain: the comparison printed', () => {
  const evaluation = {
    metric: 'accuracy',
    candidateScore: 0.96,
    liveScore: 0.95,
    tolerance: 0.01,
    threshold: 0.94,
    heldOutRows: 143,
    candidateVersion: 2,
    liveVersion: 1,
    candidate: { accuracy: 0.96, macroF1: 0.955, rocAuc: 0.99 },
    live: { accuracy: 0.95, macroF1: 0.945, rocAuc: 0.985 },
    evaluationKey: '_work/retrain/x/evaluation.json',
    production: null,
    rejectedMessage: '',
  } satisfies EvaluationResult;
  const result = (e: EvaluationResult) => ({ status: 'rejected', evaluation: e }) as unknown as LocalRetrainResult;

  it('prints both models on the newest labelled production window beside the held-out comparison', () => {
    const production = { key: 'training-data/breast-cancer/production-20261207T00Z-20261208T00Z-labelled.csv', from: '2026-12-07T00:00:00.000Z', to: '2026-12-08T00:00:00.000Z', rows: 480, trainedOn: 360, candidate: { accuracy: 0.9125, macroF1: 0.9, rocAuc: 0.97 }, live: { accuracy: 0.5, macroF1: 0.49, rocAuc: 0.51 } };
    const lines = comparisonLines(result({ ...evaluation, production }));
    const text = lines.join('\n');
    assert.match(text, /^held-out rows: 143; gate: candidate accuracy >= live 0\.9500 - tolerance 0\.01 = 0\.9400\n/);
    const at = lines.findIndex((l) => l.startsWith('latest labelled production window'));
    assert.ok(at > 0, text);
    assert.equal(lines[at], 'latest labelled production window 2026-12-07 00:00 to 2026-12-08 00:00 UTC: 480 rows from training-data/breast-cancer/production-20261207T00Z-20261208T00Z-labelled.csv (the candidate trained on 360 of them; the gate decides on the held-out rows)');
    assert.deepEqual(lines.slice(at + 2), ['metric         live v1    candidate v2', 'accuracy        0.5000          0.9125', 'macro F1        0.4900          0.9000', 'ROC AUC         0.5100          0.9700']);
    assert.deepEqual(lines.slice(2, 6), ['metric         live v1    candidate v2', 'accuracy        0.9500          0.9600', 'macro F1        0.9450          0.9550', 'ROC AUC         0.9850          0.9900']);
  });

  it('says so when the gathered data held no labelled production rows', () => {
    const lines = comparisonLines(result(evaluation));
    assert.equal(lines.at(-1), 'no labelled production rows among the gathered files: the gate judged on the held-out rows alone');
  });
});
