// mlship quality: the real executable on a temp state folder with the shipped manifest (breast-cancer, minLabels
// 100, accuracyBelow 0.9): 150 predictions recorded this hour as the gateway writes them, 120 labelled (a
// quarter wrong), plus a duplicate and an unknown id: the table, --json's QualityFigures, --html's figures.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { groundTruthHourPrefix } from '../../lambdas/core/quality/feedback/label-keys';
import { predictionLines } from '../../lambdas/core/quality/predictions/prediction-record';
import { predictionsHourPrefix } from '../../lambdas/core/quality/predictions/prediction-sink';
import type { QualityFigures } from '../../lambdas/core/quality/metrics/types';
import { tempDirMaker } from '../fixtures/temp-dirs';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const MLSHIP = join(REPO_ROOT, 'bin', 'mlship.mjs');
const tempDir = tempDirMaker('mlship-quality-cli-');
const CLASSES = ['malignant', 'benign'];

function mlship(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [MLSHIP, ...args], { cwd: REPO_ROOT, env: { ...process.env, MLSHIP_DEBUG: '' } }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

function write(root: string, key: string, text: string): void {
  const path = join(root, 'capture', key);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

/** 150 predictions now; labels for the first 120, the first 30 of them wrong; a duplicate and an unknown id. */
function stateFolder(): string {
  const root = tempDir();
  const now = new Date();
  const predictions: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < 150; i++) {
    const predicted = i % 2;
    predictions.push(...predictionLines({ model: 'breast-cancer', version: '1', id: `q-${i}`, time: now, count: 1, classes: CLASSES, predicted: Int32Array.of(predicted), probabilities: predicted === 0 ? Float32Array.of(0.7, 0.3) : Float32Array.of(0.4, 0.6) }));
    if (i < 120) labels.push(JSON.stringify({ id: `q-${i}`, index: 0, label: CLASSES[i < 30 ? 1 - predicted : predicted], time: now.toISOString() }));
  }
  labels.push(JSON.stringify({ id: 'q-0', index: 0, label: 'benign', time: now.toISOString() }), JSON.stringify({ id: 'nobody', index: 0, label: 'benign', time: now.toISOString() }));
  write(root, `${predictionsHourPrefix('breast-cancer', '1', now)}predictions-0.jsonl`, `${predictions.join('\n')}\n`);
  write(root, `${groundTruthHourPrefix('breast-cancer', now)}feedback-0.jsonl`, `${labels.join('\n')}\n`);
  return root;
}

describe('mlship quality (the real executable)', () => {
  it('prints the figures per version, --json the QualityFigures, --html a report with them', async () => {
    const root = stateFolder();
    const html = join(root, 'quality.html');
    const table = await mlship(['quality', '--model', 'breast-cancer', '--state-dir', root, '--html', html]);
    assert.equal(table.code, 0, table.stderr);
    for (const expected of ['v1: judged · ALARM: accuracy', 'accuracy 0.75 (95% interval 0.666 to 0.819)', '120 labelled of 150 predictions (coverage 80%', 'labels read 122: kept 121, duplicates 1, rejected 0; joined 120, without a prediction in the window 1']) {
      assert.ok(table.stdout.includes(expected), `${expected}\n---\n${table.stdout}`);
    }
    const page = readFileSync(html, 'utf8');
    for (const expected of ['Quality of breast-cancer', '0.75 (0.666 to 0.819), alarm below 0.9', '120 of 150', '80%', '<table class="confusion">', 'threshold 0.9', '<svg']) {
      assert.ok(page.includes(expected), `the report shows ${expected}`);
    }

    const json = await mlship(['quality', '--model', 'breast-cancer', '--state-dir', root, '--json', '--version', '1']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { versions: Record<string, QualityFigures> };
    const v1 = parsed.versions['1']!;
    assert.equal(v1.labelled, 120);
    assert.equal(v1.predictions, 150);
    assert.equal(v1.coverage, 0.8);
    assert.equal(v1.verdict, 'judged');
    assert.equal(v1.metrics?.task, 'classification');
    if (v1.metrics?.task === 'classification') assert.equal(v1.metrics.accuracy.value, 0.75);

    // --version is the subcommand's (the program's own comes before it); --model-version says the same.
    const [alias, missing, own] = await Promise.all([
      mlship(['quality', '--model', 'breast-cancer', '--state-dir', root, '--json', '--model-version', '1']),
      mlship(['quality', '--model', 'breast-cancer', '--state-dir', root, '--version', '7']),
      mlship(['--version']),
    ]);
    assert.equal(alias.code, 0, alias.stderr);
    assert.deepEqual((JSON.parse(alias.stdout) as typeof parsed).versions, parsed.versions);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no version '7' of breast-cancer: its versions are 1/);
    assert.equal(own.code, 0, own.stderr);
    assert.equal(own.stdout.trim(), '0.1.0');
  });

  it('says "not enough labels" below minLabels, and names an unknown model', async () => {
    const root = stateFolder();
    const few = await mlship(['quality', '--model', 'breast-cancer', '--state-dir', join(root, 'empty')]);
    assert.equal(few.code, 0, few.stderr);
    assert.ok(few.stdout.includes('v1: not enough labels (0 of at least 100)'), few.stdout);
    const unknown = await mlship(['quality', '--model', 'nope', '--state-dir', root]);
    assert.notEqual(unknown.code, 0);
    assert.ok(unknown.stderr.includes("no model 'nope'"), unknown.stderr);
  });
});
