// The real `mlship batch` and `mlship retrain` executables (bin/mlship.mjs): what a person sees, and the
// exit codes their help promises (0 done, 1 the run failed, 2 a command line that cannot run).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
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
});
