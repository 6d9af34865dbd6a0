// The status page in headless Chromium: served by serveStatus over real HTTP on 127.0.0.1 with a snapshot
// whose model, feature and alert texts are hostile HTML. The page must run its one script under its
// Content-Security-Policy, draw everything, show those texts as text, and follow /status.json as it changes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { modelCardSchema, type ModelCard } from '../../../lambdas/core/models/model-card';
import { serveStatus, STATUS_REFRESH_MS, topFeaturesStatus, type StatusSnapshot } from '../../../local/monitoring/status-page';
import { BREAST_CANCER_DIR } from '../../fixtures/breast-cancer-split';
import { launchChromium, type Browser } from '../../fixtures/chromium';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-status-page-');
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

const BREAST_CANCER_CARD = modelCardSchema.parse(JSON.parse(readFileSync(join(BREAST_CANCER_DIR, 'model.json'), 'utf8')));

/** A card (importance over the given features only: the page reads nothing else of it) with permutation importance. */
function cardWithImportance(version: number, features: [string, number, number][]): ModelCard {
  const importance = { metric: 'accuracy' as const, repeats: 5, rows: 114, seed: 7, baseline: 0.97, features: features.map(([name, mean, std]) => ({ name, mean, std })) };
  return { ...BREAST_CANCER_CARD, version, explanation: { background: { file: 'background.json', rows: 100, sha256: '0'.repeat(64), seed: 7, source: 'test' }, importance } };
}

function snapshot(alertCount: number): StatusSnapshot {
  return {
    project: 'mlship',
    stage: 'local',
    time: '2026-11-22T10:00:00.000Z',
    timeScale: 1,
    monitor: { intervalSeconds: 60, windowMinutes: 1440, runs: 3 },
    models: [
      {
        name: 'breast-cancer',
        runtime: 'lambda',
        live: 1,
        traffic: [
          { version: 1, weight: 90 },
          { version: 2, weight: 10 },
        ],
        deployment: { from: 1, to: 2, weight: 10, strategy: 'canary' },
        health: { name: 'mlship-local-breast-cancer-health', state: 'ALARM', since: '2026-11-22T09:58:00.000Z', trigger: 'mlship-local-breast-cancer-api-p99-latency' },
        alarms: [
          { name: 'mlship-local-breast-cancer-api-p99-latency', kind: 'api-p99-latency', model: 'breast-cancer', state: 'ALARM', value: 812.4, threshold: 300, comparison: '>', unit: 'ms', inComposite: true, since: '2026-11-22T09:58:00.000Z' },
          { name: 'mlship-local-breast-cancer-drift', kind: 'drift', model: 'breast-cancer', state: 'OK', threshold: 1, comparison: '>=', unit: '', inComposite: false, since: '2026-11-22T09:00:00.000Z' },
        ],
        recent: {
          minutes: 15,
          versions: [
            { version: '1', requests: 900, clientErrors: 3, serverErrors: 0, throttles: 0, p50Ms: 4.2, p90Ms: 9.75, p99Ms: 812.4 },
            { version: '2', requests: 100, clientErrors: 0, serverErrors: 1, throttles: 0, p50Ms: 5, p90Ms: 11, p99Ms: 30 },
          ],
        },
        sinceStart: [
          { version: '1', requests: 52_345, clientErrors: 7, serverErrors: 0, throttles: 0, p50Ms: 4.1, p90Ms: 9.5, p99Ms: 640 },
          { version: '-', requests: 12, clientErrors: 0, serverErrors: 0, throttles: 12, p50Ms: 0.2, p90Ms: 0.3, p99Ms: 0.4 },
        ],
        drift: {
          state: 'drift',
          lastRun: '2026-11-22T09:59:00.000Z',
          version: '1',
          rows: 450,
          minSampleSize: 100,
          summary: `drift: 1 of 30 features drift (${HOSTILE})`,
          driftingFeatures: [HOSTILE],
          features: [
            { name: HOSTILE, psi: 0.91, ksStatistic: 0.41, ksPValue: 1e-12, jsDistance: 0.3, drifting: true, importance: { rank: 2, mean: 0.03, important: true } },
            { name: 'mean texture', psi: 0.02, ksStatistic: 0.05, ksPValue: 0.6, jsDistance: 0.04, drifting: false, importance: { rank: 4, mean: 0.0101, important: true } },
          ],
          predictions: { drifting: false, jsDistance: 0.02 },
        },
        quality: {
          state: 'alarm',
          lastRun: '2026-11-22T09:59:00.000Z',
          windowHours: 24,
          thresholds: { accuracyBelow: 0.9, dropFromBaselineAbove: 0.05 },
          labelsWithoutPrediction: 4,
          versions: [
            { version: '1', labelled: 412, predictions: 1000, coverage: 0.412, verdict: 'judged', minLabels: 100, accuracy: { value: 0.52, low: 0.4719, high: 0.5677 }, macroF1: 0.51, rocAuc: 0.6, breaches: ['accuracy 0.52 < 0.9'] },
            { version: '2', labelled: 12, predictions: 100, coverage: 0.12, verdict: 'not enough labels', minLabels: 100, breaches: [] },
          ],
        },
        topFeatures: topFeaturesStatus([
          { version: 2, card: cardWithImportance(2, [['worst area', 0.061, 0.004], ['mean texture', 0.0123, 0.002]]) },
          { version: 1, card: cardWithImportance(1, [['mean radius', 0.001, 0.0005], ['worst concave points', 0.0482, 0.0031], [HOSTILE, 0.03, 0.01], ['texture error', 0, 0], ['worst area', 0.02, 0.004], ['mean texture', 0.0101, 0.002], ['area error', 0.005, 0.001]]) },
          { version: 3, card: { ...BREAST_CANCER_CARD, version: 3, explanation: undefined } },
        ]),
      },
    ],
    alerts: Array.from({ length: alertCount }, (_, i) => ({
      time: `2026-11-22T09:5${i}:00.000Z`,
      level: 'critical',
      model: 'breast-cancer',
      event: 'monitoring',
      message: `[ALARM] breast-cancer v1 alert ${i} ${HOSTILE}`,
      body: `Model: breast-cancer\n${HOSTILE}\n`,
    })),
  };
}

describe('status page in headless Chromium', () => {
  let browser: Browser;
  let url: string;
  let alertCount = 1;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!serveStatus(req, res, path, () => snapshot(alertCount))) res.writeHead(404).end();
  });

  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    server.closeAllConnections();
    server.close();
  });

  it('draws models, versions, split, latency, alarms, drift and alerts, with every text shown as text', async () => {
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    const response = await page.goto(url);
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'sha256-/, 'only the hashed script may run');
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
    const text = await page.innerText('#status');
    for (const expected of ['breast-cancer', 'v1 90% + v2 10%', 'deploying v1 → v2 (canary, 10%)', 'Last 15 min', 'Since start', '52345', 'before routing', '640 ms', '812 ms', '9.8 ms', 'api-p99-latency', 'ALARM', '> 300 ms', 'drift (not in health)', '450 captured rows', 'mean texture', '0.910', 'alert 0', 'Quality', 'alarms: accuracyBelow 0.9, dropFromBaselineAbove 0.05', '412 of 1000', '41.2%', '0.520 (0.472 to 0.568)', 'ALARM: accuracy 0.52 < 0.9', 'not enough labels (12 of at least 100)', '4 labels without a prediction']) {
      assert.ok(text.includes(expected), `page shows '${expected}':\n${text}`);
    }
    assert.ok(text.includes(HOSTILE), 'the hostile feature name and alert text are shown literally');
    // Page functions run in the browser; this project compiles without the DOM types, hence globalThis.
    assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined, 'no injected handler ran');
    assert.equal(await page.locator('#status img').count(), 0, 'no element was made from the texts');
    assert.equal(await page.locator('tr.drifting').count(), 1, 'the drifting feature is marked');
    assert.equal(await page.locator('tr.quality-alarm').count(), 1, 'the version in quality ALARM is marked');
    // The drift table: each feature's importance rank beside its PSI, the drifting important one said so.
    assert.deepEqual(await page.locator('table.features tr.drifting td').allInnerTexts(), [HOSTILE, '0.910', '#2 (0.0300)', '0.410', '1.0e-12', '0.300', 'drifting, important']);
    assert.ok(text.includes('a drifting feature among the 5 most important moves the model\u2019s output'), 'the column is explained');
    // Top features per version by the card's permutation importance: the 5 largest of v1, both of v2, none for v3.
    assert.ok(text.includes('Top features'), text);
    assert.ok(text.includes('v1: importance = drop in accuracy on 114 held-out rows when the feature is shuffled (mean ± std over 5 shuffles)'), text);
    assert.deepEqual(await page.locator('tr[data-top-feature="1"] td:nth-child(2)').allInnerTexts(), ['worst concave points', HOSTILE, 'worst area', 'mean texture', 'area error']);
    assert.deepEqual(await page.locator('tr[data-top-feature="1"] td:nth-child(3)').first().innerText(), '0.0482 ± 0.0031');
    assert.deepEqual(await page.locator('tr[data-top-feature="2"] td:nth-child(2)').allInnerTexts(), ['worst area', 'mean texture']);
    assert.equal(await page.locator('tr[data-top-feature="3"]').count(), 0, 'a version without importance shows none');
    assert.deepEqual(problems, [], 'no script error and no CSP violation');
    const shot = join(tempDir(), 'status.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot) && statSync(shot).size > 1000, 'a screenshot was written');

    // The page follows /status.json without a reload.
    alertCount = 3;
    await page.locator('li.alert').nth(2).waitFor({ timeout: STATUS_REFRESH_MS * 3 });
    assert.equal(await page.locator('li.alert').count(), 3, 'new alerts appear');
    await page.close();
  });

  it('/status.json is the snapshot; other methods get 405', async () => {
    const json = await fetch(`${url}status.json`);
    assert.equal(json.headers.get('content-type'), 'application/json', 'JSON');
    assert.deepEqual(await json.json(), JSON.parse(JSON.stringify(snapshot(alertCount))), 'the snapshot as it is');
    const post = await fetch(url, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405, 'POST / refused');
    assert.equal(post.headers.get('allow'), 'GET, HEAD', 'names the methods');
  });
});
