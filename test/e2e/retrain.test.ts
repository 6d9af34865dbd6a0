// Retraining end to end on one machine: the retrain state machine taken from the synthesized stack and run
// by the local runner (local/retrain/run-retrain.ts), with the real trainer, real ONNX sessions for the candidate and
// the live model, and files written as `mlship train` writes them; each test on its own copy of a project.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { readBackground } from '../../lambdas/core/explain/background';
import { trainModel } from '../../lambdas/core/models/onboard-train';
import { createRandom, shuffleInPlace } from '../../lambdas/core/models/training/random';
import { stratifiedSplit } from '../../lambdas/core/models/training/split';
import { loadManifest, loadModelFolder } from '../../lambdas/core/manifest/load';
import { retrainLocally } from '../../local/retrain/run-retrain';
import { writeLocalLabelledTrainingRows } from '../../local/retrain/production-rows';
import { captureLines } from '../../lambdas/core/monitoring/capture/capture-record';
import { lambdaCaptureHourPrefix } from '../../lambdas/core/monitoring/capture/capture-keys';
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

/**
 * Production traffic in the state folder as the gateway and the feedback route leave it: `requests` requests
 * of 4 rows of the data set each, all captured (capturePercent 100) on 2026-12-07 at 05:00, and the true
 * labels of every instance but the last of each request, received at 06:00.
 */
function production(stateDir: string, requests: number): void {
  const card = JSON.parse(readFileSync(join(SHIPPED, '1', 'model.json'), 'utf8')) as { labels: string[] };
  const [header, ...lines] = readFileSync(DATA, 'utf8').trim().split('\n');
  const column = header!.split(',').indexOf(LABEL);
  const captures: string[] = [];
  const labels: string[] = [];
  for (let r = 0; r < requests; r++) {
    const rows = lines.slice(r * 4, r * 4 + 4).map((line) => line.split(',').map(Number));
    const x = Float32Array.from(rows.flatMap((cells) => cells.filter((_, c) => c !== column)));
    captures.push(...captureLines({ model: 'breast-cancer', version: '1', time: new Date('2026-12-07T05:10:00Z'), id: `req-${r}`, capturePercent: 100, rows: x, count: 4, width: 30 }));
    rows.slice(0, 3).forEach((cells, index) => labels.push(JSON.stringify({ id: `req-${r}`, index, label: card.labels[cells[column]!], time: '2026-12-07T06:00:00.000Z' })));
  }
  const captureDir = join(stateDir, 'capture', lambdaCaptureHourPrefix('breast-cancer', '1', new Date('2026-12-07T05:00:00Z')));
  mkdirSync(captureDir, { recursive: true });
  writeFileSync(join(captureDir, 'capture-1.jsonl'), `${captures.join('\n')}\n`);
  const labelDir = join(stateDir, 'capture', 'ground-truth', 'breast-cancer', '2026', '12', '07', '06');
  mkdirSync(labelDir, { recursive: true });
  writeFileSync(join(labelDir, 'feedback-1.jsonl'), `${labels.join('\n')}\n`);
}

describe('mlship retrain, locally, from the synthesized state machine', () => {
  it('learns from labelled production rows: the quality loop writes them, the next retrain gathers them and the gate scores both models on them', async () => {
    const { manifest, stateDir } = await project();
    production(stateDir, 50);
    const loaded = loadManifest(manifest);
    const card = loaded.models[0]!.card;
    const written = await writeLocalLabelledTrainingRows(stateDir, { card, window: { from: new Date('2026-12-07T00:00:00Z'), to: new Date('2026-12-08T00:00:00Z') }, labelsUntil: new Date('2026-12-07T07:00:00Z') });
    assert.equal(written.rowsWritten, 150, '3 labelled instances of each of 50 requests');
    assert.equal(written.captures.rowsUnlabelled, 50);
    const productionKey = 'training-data/breast-cancer/production-20261207T00Z-20261208T00Z-labelled.csv';
    assert.equal(written.key, productionKey);
    assert.ok(existsSync(join(stateDir, 'retrain-data', productionKey)));

    const result = await retrainLocally({ loaded, model: 'breast-cancer', dataFile: DATA, stateDir });
    assert.notEqual(result.status, 'failed', JSON.stringify(result.notifications));
    if (result.status === 'failed') return;
    assert.equal(result.data!.rowsAccepted, 569 + 150, 'the data file and the production rows');
    assert.deepEqual(result.data!.files.map((f) => [f.key, f.accepted]), [['training-data/breast-cancer/breast_cancer.csv', 569], [productionKey, 150]]);
    assert.match(result.data!.source, /breast_cancer\.csv and 1 labelled production file in /);
    const p = result.evaluation.production!;
    assert.deepEqual([p.key, p.from, p.to, p.rows], [productionKey, '2026-12-07T00:00:00.000Z', '2026-12-08T00:00:00.000Z', 150]);
    assert.ok(p.trainedOn > 100 && p.trainedOn < 150, `the candidate trained on the training split's share of them: ${p.trainedOn}`);
    const message = result.notifications[0]!.message;
    const shown = (x: number) => String(Number(x.toFixed(4)));
    assert.ok(
      message.includes(`Latest labelled production window (2026-12-07 00:00 to 2026-12-08 00:00 UTC, 150 rows from ${productionKey}; the candidate trained on ${p.trainedOn} of them): candidate v2 accuracy ${shown(p.candidate.accuracy)}`),
      message,
    );
    assert.ok(message.includes(`live v1 accuracy ${shown(p.live.accuracy)}`), message);
    assert.ok(message.includes(`Held out (${result.evaluation.heldOutRows} rows): candidate v2 accuracy ${shown(result.evaluation.candidate.accuracy)}`), message);

    // The production rows alone are data enough.
    const alone = await retrainLocally({ loaded, model: 'breast-cancer', stateDir, executionName: 'production-only' });
    assert.notEqual(alone.status, 'failed', JSON.stringify(alone.notifications));
    assert.equal(alone.data!.rowsAccepted, 150);
  });


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
    // It can be explained: background.json beside model.json, as the card states it, and importance.
    const explanation = written.card!.explanation!;
    assert.ok(explanation, 'the candidate card has an explanation');
    assert.equal(explanation.background.sha256, createHash('sha256').update(readFileSync(join(result.dir, 'background.json'))).digest('hex'), "background.json is the card's");
    assert.equal(readBackground(result.dir, written.card!)!.length, explanation.background.rows * written.card!.input.features.length);
    assert.ok(explanation.background.rows > 0 && explanation.background.rows <= 100);
    assert.deepEqual(explanation.importance!.features.map((f) => f.name), written.card!.input.features, 'permutation importance of every feature');
    assert.deepEqual(readdirSync(result.dir).sort(), ['background.json', 'evaluation.json', 'model.json', 'model.onnx']);
    assert.equal(readFileSync(join(result.workDir, 'candidate', 'background.json'), 'utf8'), readFileSync(join(result.dir, 'background.json'), 'utf8'), 'the work folder keeps the candidate with it');
    const parameters = JSON.parse(readFileSync(join(stateDir, 'parameters.json'), 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(parameters), ['/mlship/e2e/dev/breast-cancer/candidate']);
    assert.equal((JSON.parse(parameters['/mlship/e2e/dev/breast-cancer/candidate']!) as { version: number }).version, 2, 'the parameter names the candidate version');
    assert.deepEqual(result.notifications.map((n) => n.state), ['Notify registered']);
    assert.match(result.notifications[0]!.message, /version: 2/, 'the notification says how to deploy');
    assert.ok(result.notifications[0]!.message.includes(`the files are already in ${result.dir}/`), `names the folder: ${result.notifications[0]!.message}`);
    assert.ok(result.notifications[0]!.message.includes(`(model.onnx, model.json, background.json, evaluation.json)`), `lists the files: ${result.notifications[0]!.message}`);
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
