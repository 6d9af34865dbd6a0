// The quality loop end to end (issue 17, "Proof"): the real local gateway serves breast-cancer from a temp project
// (the shipped manifest's entry, capturePercent 100 so every request's features are captured), 1,000 rows of its
// data set are scored over HTTP (the 569 rows, then the first 431 again, each request with its own id, 1 to 7
// instances a request), and their true labels come back through POST /v1/models/breast-cancer/feedback: half at
// once, half after a first monitor run has judged them, some twice, some for ids nobody predicted. The accuracy
// the quality monitor publishes (status.json) and `mlship quality --json` prints must equal the one this test
// counts from the answers it got; with half the labels flipped, the accuracy alarm must fire naming accuracy and
// 0.9; the labelled captured rows must become retrain rows that the next local retrain gathers.
// Waits are bounded waits on the monitor's published runs and on the alert sink, never sleeps.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { parse, stringify } from 'yaml';
import { loadManifest, type LoadedManifest } from '../../lambdas/core/manifest/load';
import { INFERENCE_ID_HEADER } from '../../lambdas/core/quality/contracts';
import type { QualityFigures } from '../../lambdas/core/quality/metrics/types';
import type { LabelCounts } from '../../lambdas/core/quality/monitor/quality-join';
import { csvField, labelColumnOf } from '../../lambdas/core/retrain/gather';
import { float32Text } from '../../lambdas/core/quality/training-rows/training-rows';
import { LocalAlerts, type Alert, type AlertSink } from '../../local/release/alerts';
import type { QualityStatus } from '../../local/monitoring/status-page';
import { retrainLocally } from '../../local/retrain/run-retrain';
import { LocalGateway } from '../../local/serving/gateway';
import { REPO_ROOT } from '../fixtures/breast-cancer-split';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-quality-loop-');
const MODEL = 'breast-cancer';
const DATA = join(REPO_ROOT, 'models', MODEL, 'data', 'breast_cancer.csv');
const MLSHIP = join(REPO_ROOT, 'bin', 'mlship.mjs');
/** Rows scored: the data set's 569, then its first 431 again (each scored under an id of its own). */
const ROWS = 1000;
/** Instances per request, in turn: single and batched requests, so (id, index) is what names an instance. */
const REQUEST_SIZES = [1, 4, 1, 2, 7, 3];
/** Longest wait for anything the monitor does (a run, an alert): generous for a loaded 2-core machine. */
const WAIT_MS = 90_000;
const HOUR_MS = 3_600_000;

/** The data set: raw feature cells (as the CSV has them) and each row's class name. */
function dataSet(classes: readonly string[]): { rows: number[][]; labels: string[] } {
  const [header, ...lines] = readFileSync(DATA, 'utf8').trim().split('\n');
  const column = header!.split(',').indexOf('diagnosis');
  assert.ok(column >= 0, 'the data set has its diagnosis column');
  const rows: number[][] = [];
  const labels: string[] = [];
  for (const line of lines) {
    const cells = line.split(',');
    rows.push(cells.filter((_, c) => c !== column).map(Number));
    labels.push(classes[Number(cells[column])]!);
  }
  return { rows, labels };
}

/**
 * A project of its own: the shipped manifest's breast-cancer entry alone, capturing every request, and a copy
 * of its v1 folder (a retrain that registers writes v2 beside it, never into the repository).
 */
function project(): { root: string; manifestFile: string; stateDir: string; loaded: LoadedManifest } {
  const root = tempDir();
  const shipped = parse(readFileSync(join(REPO_ROOT, 'models', 'manifest.yaml'), 'utf8')) as { models: { name: string; monitoring?: Record<string, unknown> }[] } & Record<string, unknown>;
  const entry = shipped.models.find((m) => m.name === MODEL);
  assert.ok(entry, `the shipped manifest serves ${MODEL}`);
  const manifestFile = join(root, 'manifest.yaml');
  writeFileSync(manifestFile, stringify({ ...shipped, models: [{ ...entry, monitoring: { ...entry.monitoring, capturePercent: 100 } }] }));
  mkdirSync(join(root, MODEL));
  cpSync(join(REPO_ROOT, 'models', MODEL, '1'), join(root, MODEL, '1'), { recursive: true });
  const loaded = loadManifest(manifestFile);
  const quality = loaded.models[0]!.entry.monitoring.quality;
  // What this test is built on: the shipped thresholds (the proof checks the real ones, not a test's own).
  assert.deepEqual([quality.windowHours, quality.minLabels, quality.alarms.accuracyBelow, quality.alarms.dropFromBaselineAbove], [24, 100, 0.9, 0.05]);
  return { root, manifestFile, stateDir: join(root, '.mlship'), loaded };
}

/** alerts.jsonl as LocalAlerts writes it, and a wait on the first alert that `matches`. */
class WatchedAlerts implements AlertSink {
  readonly received: Alert[] = [];
  private readonly file: LocalAlerts;
  private readonly waiters: { matches: (a: Alert) => boolean; resolve: (a: Alert) => void }[] = [];

  constructor(stateDir: string) {
    this.file = new LocalAlerts(stateDir, () => undefined);
  }

  emit(alert: Omit<Alert, 'time'>): void {
    this.file.emit(alert);
    // The gateway's AlertHub stamps the time before the sinks see it.
    const full: Alert = { time: new Date().toISOString(), ...alert };
    this.received.push(full);
    for (const w of this.waiters.splice(0)) {
      if (w.matches(full)) w.resolve(full);
      else this.waiters.push(w);
    }
  }

  /** The alerts in <stateDir>/alerts.jsonl. */
  inFile(): Alert[] {
    return existsSync(this.file.file) ? readFileSync(this.file.file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert) : [];
  }

  next(what: string, matches: (a: Alert) => boolean): Promise<Alert> {
    const seen = this.received.find(matches);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}; alerts: ${this.received.map((a) => a.message).join(' | ')}`)), WAIT_MS);
      this.waiters.push({ matches, resolve: (a) => (clearTimeout(timer), resolve(a)) });
    });
  }
}

const isQualityAlert = (a: Alert) => a.event === 'monitoring' && (a.details as { kind?: string } | undefined)?.kind === 'quality';

/** One scored instance: the request's id and the instance's index in it, what the gateway answered, and the truth. */
interface Scored {
  readonly ordinal: number;
  readonly id: string;
  readonly index: number;
  readonly predicted: string;
  readonly truth: string;
}

/** Scores ROWS rows over HTTP, 4 requests in flight; even requests name their own id, odd ones get mlship's. */
async function score(gateway: LocalGateway, data: { rows: number[][]; labels: string[] }): Promise<Scored[]> {
  const requests: { first: number; count: number; ownId?: string }[] = [];
  for (let first = 0, r = 0; first < ROWS; r++) {
    const count = Math.min(REQUEST_SIZES[r % REQUEST_SIZES.length]!, ROWS - first);
    requests.push({ first, count, ...(r % 2 === 0 ? { ownId: `loop-${r}` } : {}) });
    first += count;
  }
  const scored: Scored[] = [];
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const { first, count, ownId } = requests[next++]!;
      const ordinals = Array.from({ length: count }, (_, i) => first + i);
      const res = await fetch(`${gateway.url}/v1/models/${MODEL}:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(ownId ? { [INFERENCE_ID_HEADER]: ownId } : {}) },
        body: JSON.stringify({ instances: ordinals.map((o) => data.rows[o % data.rows.length]) }),
      });
      const body = (await res.json()) as { predictions: { label: string }[] };
      assert.equal(res.status, 200, JSON.stringify(body));
      const id = res.headers.get(INFERENCE_ID_HEADER);
      assert.ok(id, 'every answer names its inference id');
      if (ownId) assert.equal(id, ownId, "the caller's own id comes back");
      assert.equal(body.predictions.length, count);
      ordinals.forEach((ordinal, index) => scored.push({ ordinal, id, index, predicted: body.predictions[index]!.label, truth: data.labels[ordinal % data.labels.length]! }));
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  assert.equal(scored.length, ROWS);
  assert.equal(new Set(scored.map((s) => `${s.id} ${s.index}`)).size, ROWS, 'every instance has its own (id, index)');
  return scored.sort((a, b) => a.ordinal - b.ordinal);
}

interface FeedbackItem {
  readonly id: string;
  readonly index: number;
  readonly label: string;
}

async function sendFeedback(gateway: LocalGateway, feedback: readonly FeedbackItem[]): Promise<{ accepted: number; duplicates: number }> {
  const res = await fetch(`${gateway.url}/v1/models/${MODEL}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ feedback }) });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  return JSON.parse(text) as { accepted: number; duplicates: number };
}

/** Accuracy as this test counts it: answers equal to the label of each (id, index). */
function accuracyOf(scored: readonly Scored[], label: (s: Scored) => string): { correct: number; accuracy: number } {
  const correct = scored.filter((s) => s.predicted === label(s)).length;
  return { correct, accuracy: correct / scored.length };
}

/**
 * The quality status of the first monitor run that started after `since` (epoch ms) and so read everything on disk
 * by then, as the status page publishes it. Polls /status.json until that run has finished (bounded).
 */
async function qualityRunAfter(gateway: LocalGateway, since: number): Promise<QualityStatus> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const status = (await (await fetch(`${gateway.url}/status.json`)).json()) as { models: { name: string; quality?: QualityStatus }[] };
    const quality = status.models.find((m) => m.name === MODEL)?.quality;
    assert.ok(quality, 'the status page has a quality panel');
    if (quality.state === 'error') assert.fail(`the quality run failed: ${quality.error}`);
    if (quality.lastRun !== undefined && Date.parse(quality.lastRun) > since) return quality;
    if (Date.now() > deadline) assert.fail(`timed out after ${WAIT_MS} ms waiting for a quality run after ${new Date(since).toISOString()}: ${JSON.stringify(quality)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function mlship(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [MLSHIP, ...args], { cwd: REPO_ROOT, env: { ...process.env, MLSHIP_DEBUG: '' } }, (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

/** As the alert's subject rounds a figure. */
const shown = (x: number) => String(Math.round(x * 1000) / 1000);

async function serve(stateDir: string, loaded: LoadedManifest): Promise<{ gateway: LocalGateway; alerts: WatchedAlerts }> {
  const alerts = new WatchedAlerts(stateDir);
  // Runs back to back (the monitor skips a tick while a run goes on); the test reads whichever run starts after its labels.
  const gateway = await LocalGateway.start({ manifest: loaded, port: 0, stateDir, capturePercent: 100, monitorIntervalMs: 200, alerts, logger: new Logger({ logLevel: 'SILENT' }) });
  return { gateway, alerts };
}

describe('the quality loop through the local gateway', () => {
  const gateways: LocalGateway[] = [];
  after(async () => {
    for (const g of gateways) await g.close();
  });

  it('reports the accuracy of the answers against their labels (half late, some twice, some unknown), and the labelled rows feed the next retrain', async () => {
    const { manifestFile, stateDir, loaded } = project();
    const card = loaded.models[0]!.card;
    const data = dataSet(card.labels);
    assert.equal(data.rows.length, 569);
    const { gateway, alerts } = await serve(stateDir, loaded);
    gateways.push(gateway);

    const scoringFrom = Date.now();
    const scored = await score(gateway, data);
    // Prediction records are on disk once the sink is flushed.
    await gateway.captureSink!.flush();
    const scoringTo = Date.now();
    const early = scored.filter((s) => s.ordinal % 2 === 0);
    const late = scored.filter((s) => s.ordinal % 2 === 1);
    const item = (s: Scored, label = s.truth): FeedbackItem => ({ id: s.id, index: s.index, label });
    const wrong = (label: string) => card.labels.find((l) => l !== label)!;

    // Half the labels now, in two requests.
    assert.deepEqual(await sendFeedback(gateway, early.slice(0, 250).map((s) => item(s))), { accepted: 250, duplicates: 0 });
    assert.deepEqual(await sendFeedback(gateway, early.slice(250).map((s) => item(s))), { accepted: 250, duplicates: 0 });
    const first = await qualityRunAfter(gateway, Date.now());
    const expectedEarly = accuracyOf(early, (s) => s.truth);
    const [v1] = first.versions;
    assert.equal(first.versions.length, 1, JSON.stringify(first.versions));
    assert.deepEqual([v1!.version, v1!.verdict, v1!.labelled, v1!.predictions, v1!.coverage], ['1', 'judged', 500, ROWS, 0.5]);
    assert.equal(v1!.accuracy?.value, expectedEarly.accuracy, `${expectedEarly.correct} of 500 early answers right`);
    assert.equal(first.labelsWithoutPrediction, 0);

    // The other half late, after that run judged: with it 40 early labels again, each now saying the wrong class
    // (the first label stays: they are duplicates), 10 items twice in one request, and 30 ids nobody predicted.
    const resent = early.slice(0, 40).map((s) => item(s, wrong(s.truth)));
    assert.deepEqual(await sendFeedback(gateway, [...late.slice(0, 250).map((s) => item(s)), ...resent]), { accepted: 250, duplicates: 40 });
    const unknown = Array.from({ length: 30 }, (_, i): FeedbackItem => ({ id: `nobody-predicted-${i}`, index: i % 3, label: card.labels[i % 2]! }));
    const twice = late.slice(250, 260).map((s) => item(s));
    assert.deepEqual(await sendFeedback(gateway, [...late.slice(250).map((s) => item(s)), ...twice, ...unknown]), { accepted: 250 + 30, duplicates: 10 });
    const second = await qualityRunAfter(gateway, Date.now());

    const expected = accuracyOf(scored, (s) => s.truth);
    const labelledKnown = new Set([...early, ...late].map((s) => `${s.id} ${s.index}`)).size;
    assert.equal(labelledKnown, ROWS);
    const [v] = second.versions;
    assert.deepEqual([v!.version, v!.verdict, v!.labelled, v!.predictions, v!.coverage], ['1', 'judged', labelledKnown, ROWS, 1], 'the late half joined, the duplicates and unknown ids not counted');
    assert.equal(v!.accuracy?.value, expected.accuracy, `${expected.correct} of ${ROWS} answers right`);
    assert.ok(expected.accuracy > 0.9, `the shipped model on its own data set: ${expected.accuracy}`);
    assert.deepEqual(v!.breaches, []);
    assert.equal(second.state, 'ok');
    assert.equal(second.labelsWithoutPrediction, 30, 'the unknown ids are kept, not joined');
    assert.deepEqual(alerts.received.filter(isQualityAlert), [], 'no quality alert on right labels');
    // The rest reads the state folder only: the gateway's monitor need not load the machine meanwhile.
    await gateway.close();

    // `mlship quality --json` over the same state folder: the same figures.
    const cli = await mlship(['quality', '--model', MODEL, '--manifest', manifestFile, '--state-dir', stateDir, '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const report = JSON.parse(cli.stdout) as { labels: LabelCounts; versions: Record<string, QualityFigures> };
    const figures = report.versions['1']!;
    assert.deepEqual([figures.labelled, figures.predictions, figures.coverage, figures.verdict], [labelledKnown, ROWS, 1, 'judged']);
    assert.equal(figures.metrics?.task, 'classification');
    if (figures.metrics?.task !== 'classification') return;
    assert.equal(figures.metrics.accuracy.value, expected.accuracy);
    assert.deepEqual(
      { kept: report.labels.kept, duplicates: report.labels.duplicates, joined: report.labels.joined, withoutPrediction: report.labels.withoutPrediction },
      { kept: ROWS + 30, duplicates: 0, joined: ROWS, withoutPrediction: 30 },
      'each label written once: the duplicates never reached the files',
    );
    const confusion = card.labels.map((actual) => card.labels.map((predicted) => scored.filter((s) => s.truth === actual && s.predicted === predicted).length));
    assert.deepEqual(figures.metrics.confusion, confusion, 'the confusion matrix of the answers');

    // Labels feed retraining: the monitor writes every labelled captured instance as a row of its window's file,
    // once the window (a whole tile of windowHours, 24) has ended. Run it at the end of each tile the scoring
    // touched (two when this test runs across midnight UTC).
    const TILE_MS = 24 * HOUR_MS;
    for (let end = Math.ceil(scoringFrom / TILE_MS) * TILE_MS; end < scoringTo + TILE_MS; end += TILE_MS) await gateway.runMonitorsAt(new Date(end + 60_000));
    const folder = join(stateDir, 'retrain-data', 'training-data', MODEL);
    const files = readdirSync(folder).sort();
    assert.ok(files.length >= 1 && files.every((f) => /^production-\d{8}T\d{2}Z-\d{8}T\d{2}Z-labelled\.csv$/.test(f)), `the monitor's files: ${files.join(', ')}`);
    const written = files.map((f) => readFileSync(join(folder, f), 'utf8').trim().split('\n'));
    const header = written[0]![0];
    const lines = written.flatMap((w) => w.slice(1));
    assert.ok(written.every((w) => w[0] === header));
    assert.equal(lines.length, labelledKnown, 'one row per labelled captured instance');
    assert.equal(header, [...card.input.features, labelColumnOf(card)].map(csvField).join(','), "the card's features in order, then its label column");
    // Each row: the features the model saw (float32, as captured) and the first label sent, the true one.
    const expectedLines = scored.map((s) => [...data.rows[s.ordinal % data.rows.length]!.map((x) => float32Text(Math.fround(x))), s.truth].join(','));
    assert.deepEqual([...lines].sort(), expectedLines.sort(), 'the rows are the scored instances with their true labels');

    const retrain = await retrainLocally({ loaded, model: MODEL, dataFile: DATA, stateDir });
    assert.notEqual(retrain.status, 'failed', JSON.stringify(retrain.notifications));
    assert.equal(retrain.data?.rowsAccepted, data.rows.length + labelledKnown, 'the data file and the production rows');
    assert.deepEqual(
      retrain.data?.files.map((f) => [f.key, f.accepted]),
      [[`training-data/${MODEL}/breast_cancer.csv`, data.rows.length], ...files.map((f, i) => [`training-data/${MODEL}/${f}`, written[i]!.length - 1])],
    );
  });

  it('fires the accuracy alarm when half the labels say the answer was wrong, naming accuracy and 0.9', async () => {
    const { stateDir, loaded } = project();
    const card = loaded.models[0]!.card;
    const { gateway, alerts } = await serve(stateDir, loaded);
    gateways.push(gateway);
    const scored = await score(gateway, dataSet(card.labels));
    await gateway.captureSink!.flush();
    // Every other instance's label flipped: exactly 500 of 1,000.
    const flipped = (s: Scored) => (s.ordinal % 2 === 1 ? card.labels.find((l) => l !== s.truth)! : s.truth);
    assert.deepEqual(await sendFeedback(gateway, scored.map((s) => ({ id: s.id, index: s.index, label: flipped(s) }))), { accepted: ROWS, duplicates: 0 });
    const expected = accuracyOf(scored, flipped);
    assert.ok(expected.accuracy < 0.9, `${expected.accuracy}`);

    const alert = await alerts.next('the quality alarm', (a) => isQualityAlert(a) && (a.details as { state: string }).state === 'ALARM');
    assert.equal(alert.level, 'critical');
    assert.equal(alert.model, MODEL);
    assert.equal(alert.message, `[ALARM] ${MODEL} v1 accuracy ${shown(expected.accuracy)} < 0.9 (local)`);
    const details = alert.details as { value: number; threshold: number; comparison: string; version: string };
    assert.deepEqual([details.value, details.threshold, details.comparison, details.version], [expected.accuracy, 0.9, '<', '1']);
    const body = alert.body ?? '';
    assert.match(body, new RegExp(`^Metric: +accuracy ${shown(expected.accuracy).replace('.', '\\.')} \\(95% interval [\\d.]+ to [\\d.]+\\), threshold < 0\\.9$`, 'm'), body);
    assert.match(body, /^Metric: +accuracy drop from baseline [\d.]+, threshold > 0\.05$/m, `the drop from the card's figure too:\n${body}`);
    assert.match(body, new RegExp(`^Labels: +${ROWS} labelled of ${ROWS} predictions \\(coverage 100%`, 'm'), body);
    assert.deepEqual(alerts.inFile().filter(isQualityAlert).map((a) => a.message), [alert.message], 'in alerts.jsonl');

    // The status page says the same; the next runs (the same incident) send no second alert.
    const status = await qualityRunAfter(gateway, Date.parse(alert.time));
    assert.equal(status.state, 'alarm');
    assert.equal(status.versions[0]!.accuracy?.value, expected.accuracy);
    assert.ok(status.versions[0]!.breaches.includes(`accuracy ${shown(expected.accuracy)} < 0.9`), JSON.stringify(status.versions[0]!.breaches));
    assert.equal(alerts.received.filter(isQualityAlert).length, 1, alerts.received.map((a) => a.message).join(' | '));
  });
});
