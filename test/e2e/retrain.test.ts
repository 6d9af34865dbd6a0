// Retraining end to end on one machine: the retrain state machine taken from the synthesized stack and run
// by the local runner (local/retrain/run-retrain.ts), with the real trainer, real ONNX sessions for the candidate and
// the live model, and files written as `mlship train` writes them; each test on its own copy of a project.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { trainModel } from '../../lambdas/core/models/onboard-train';
import { createRandom, shuffleInPlace } from '../../lambdas/core/models/training/random';
import { stratifiedSplit } from '../../lambdas/core/models/training/split';
import { loadManifest, loadModelFolder } from '../../lambdas/core/manifest/load';
import { retrainLocally } from '../../local/retrain/run-retrain';
import { tempDirMaker } from '../fixtures/temp-dirs';

const SHIPPED = join(import.meta.dirname, '..', '..', 'models', 'breast-cancer');
const DATA = join(SHIPPED, 'data', 'breast_cancer.csv');
const LABEL = 'diagnosis';
const tempDir = tempDirMaker('mlship-retrain-e2e-');

/** The data set with a share of its labels flipped (seeded), as a CSV file in `dir`. */
function withFlippedLabels(dir: string, share: number, seed: number, rows?: number): string {
  const [header, ...lines] = readFileSync(DATA, 'utf8').trim().split('\n');
  const column = header!.split(',').indexOf(LABEL);
  const { next } = createRandom(seed);
  const out = (rows ? lines.slice(0, rows) : lines).map((line) => {
    const cells = line.split(',');
    if (next() < share) cells[column] = cells[column] === '0' ? '1' : '0';
    return cells.join(',');
  });
  const file = join(dir, `flipped-${share}-${seed}.csv`);
  writeFileSync(file, `${[header, ...out].join('\n')}\n`);
  return file;
}

/**
 * The data set as a join bug would leave it: the feature values of the rows the candidate trains on shuffled
 * among those rows, their labels in place; the held-out rows (the live card's split, which depends on the
 * labels only) untouched. The candidate learns nothing; the gate must catch it.
 */
function withMisalignedTrainingRows(dir: string): string {
  const [header, ...lines] = readFileSync(DATA, 'utf8').trim().split('\n');
  const column = header!.split(',').indexOf(LABEL);
  const card = JSON.parse(readFileSync(join(SHIPPED, '1', 'model.json'), 'utf8')) as { evaluation: { split: { testFraction: number; seed: number } } };
  const cells = lines.map((line) => line.split(','));
  const { train } = stratifiedSplit(
    cells.map((row) => Number(row[column])),
    card.evaluation.split,
  );
  const features = train.map((i) => cells[i]!.filter((_, c) => c !== column));
  shuffleInPlace(features, createRandom(5));
  train.forEach((row, k) => {
    const shuffled = [...features[k]!];
    shuffled.splice(column, 0, cells[row]![column]!);
    cells[row] = shuffled;
  });
  const file = join(dir, 'misaligned.csv');
  writeFileSync(file, `${[header, ...cells.map((row) => row.join(','))].join('\n')}\n`);
  return file;
}

/** A project folder: a manifest retraining breast-cancer, and its live v1 (the shipped one, or `live`). */
async function project(live?: { data: string }): Promise<{ root: string; manifest: string; stateDir: string }> {
  const root = tempDir();
  const modelsDir = join(root, 'models');
  mkdirSync(join(modelsDir, 'breast-cancer'), { recursive: true });
  if (live) {
    await trainModel({ name: 'breast-cancer', data: live.data, label: LABEL, labels: ['malignant', 'benign'], family: 'logreg', modelsDir, now: new Date('2026-01-01T00:00:00Z') });
  } else {
    cpSync(join(SHIPPED, '1'), join(modelsDir, 'breast-cancer', '1'), { recursive: true });
  }
  const manifest = join(modelsDir, 'manifest.yaml');
  writeFileSync(manifest, stringify({ project: 'e2e', stage: 'dev', models: [{ name: 'breast-cancer', version: 1, retrain: { tolerance: 0.01, minRows: 100 } }] }));
  return { root, manifest, stateDir: join(root, '.mlship') };
}

function alerts(stateDir: string): { level: string; event: string; message: string }[] {
  const file = join(stateDir, 'alerts.jsonl');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { level: string; event: string; message: string }) : [];
}

describe('mlship retrain, locally, from the synthesized state machine', () => {
  it('registers a new version when the data makes a better model', async () => {
    // The live model learnt from 150 rows with 40% of their labels wrong; the new data is clean.
    const scratch = tempDir();
    const { manifest, root, stateDir } = await project({ data: withFlippedLabels(scratch, 0.4, 7, 150) });
    const result = await retrainLocally({ loaded: loadManifest(manifest), model: 'breast-cancer', dataFile: DATA, stateDir });

    assert.equal(result.status, 'registered', JSON.stringify(result.notifications));
    if (result.status !== 'registered') return;
    const { evaluation } = result;
    assert.ok(evaluation.candidateScore > evaluation.liveScore, `candidate ${evaluation.candidateScore} beats live ${evaluation.liveScore}`);
    assert.equal(evaluation.heldOutRows, result.candidate!.testSize, 'both judged on the same held-out rows');
    assert.equal(result.registered.version, 2);
    assert.equal(result.dir, join(root, 'models', 'breast-cancer', '2'));
    const written = loadModelFolder(result.dir, 'candidate', { name: 'breast-cancer', version: 2 });
    assert.deepEqual(written.problems, [], 'the candidate loads as the manifest loader checks it (sha256, graph, card)');
    assert.ok(written.card!.golden.length > 0, 'the candidate has golden cases for its canary');
    const parameters = JSON.parse(readFileSync(join(stateDir, 'parameters.json'), 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(parameters), ['/mlship/e2e/dev/breast-cancer/candidate']);
    assert.equal((JSON.parse(parameters['/mlship/e2e/dev/breast-cancer/candidate']!) as { version: number }).version, 2, 'the parameter names the candidate version');
    assert.deepEqual(result.notifications.map((n) => n.state), ['Notify registered']);
    assert.match(result.notifications[0]!.message, /version: 2/, 'the notification says how to deploy');
    assert.ok(result.notifications[0]!.message.includes(`the files are already in ${result.dir}/`), `names the folder: ${result.notifications[0]!.message}`);
    assert.ok(result.notifications[0]!.message.includes(`for breast-cancer in ${manifest} and open a pull request`), 'names the manifest it ran with');
    assert.deepEqual(alerts(stateDir).map((a) => a.event), ['retrain-registered']);
  });

  it('leaves the live model alone when the data would make it worse, and says why', async () => {
    const scratch = tempDir();
    const { manifest, root, stateDir } = await project();
    const result = await retrainLocally({ loaded: loadManifest(manifest), model: 'breast-cancer', dataFile: withMisalignedTrainingRows(scratch), stateDir });

    assert.equal(result.status, 'rejected', JSON.stringify(result.notifications));
    if (result.status !== 'rejected') return;
    const { evaluation } = result;
    assert.ok(evaluation.candidateScore < evaluation.threshold, `candidate ${evaluation.candidateScore} under ${evaluation.threshold}`);
    assert.deepEqual(readdirSync(join(root, 'models', 'breast-cancer')), ['1'], 'no new version folder');
    assert.equal(existsSync(join(stateDir, 'parameters.json')), false, 'no candidate parameter');
    assert.deepEqual(result.notifications.map((n) => n.state), ['Notify rejected']);
    const message = result.notifications[0]!.message;
    const shown = (x: number) => String(Number(x.toFixed(4)));
    assert.ok(message.includes(`accuracy ${shown(evaluation.candidateScore)} < live v1 ${shown(evaluation.liveScore)}`), `the figures: ${message}`);
    assert.match(evaluation.rejectedMessage, /accuracy/, 'the reason names the metric');
  });

  it('sends the failure notification naming the step when a step fails', async () => {
    const scratch = tempDir();
    const { manifest, root, stateDir } = await project();
    const result = await retrainLocally({ loaded: loadManifest(manifest), model: 'breast-cancer', dataFile: withFlippedLabels(scratch, 0, 1, 20), stateDir });

    assert.equal(result.status, 'failed');
    if (result.status !== 'failed') return;
    assert.equal(result.step, 'Gather data');
    assert.deepEqual(result.notifications.map((n) => n.state), ['Notify failure']);
    assert.match(result.notifications[0]!.message, /20 labelled rows .*retrain\.minRows is 100/);
    assert.doesNotMatch(result.notifications[0]!.message, /\bat .*\.(ts|js|mjs):\d+/, 'no stack trace in what on-call reads');
    assert.deepEqual(readdirSync(join(root, 'models', 'breast-cancer')), ['1']);
    assert.deepEqual(alerts(stateDir).map((a) => [a.level, a.event]), [['critical', 'retrain-failed']]);
  });
});
