// Monitoring locally, end to end: a real gateway on 127.0.0.1 with the real breast-cancer model and a really
// slow ONNX model, real HTTP traffic, captures on disk, the drift monitor on a short timer, the alarm catalog
// judged with periods scaled by --time-scale, alerts in alerts.jsonl, and the status page in headless Chromium.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { stringify } from 'yaml';
import { loadManifest } from '../../lambdas/core/manifest/load';
import { LocalGateway } from '../../local/serving/gateway';
import { LocalAlerts, type Alert } from '../../local/release/alerts';
import { buildLocalGateway } from '../../scripts/build-local';
import { breastCancerHeldOut, REPO_ROOT, shiftByOneStd } from '../fixtures/breast-cancer-split';
import { launchChromium, type Browser } from '../fixtures/chromium';
import { slowOnnx, writeVersion } from '../fixtures/release-models';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-monitoring-');
/** 0.01: a one-minute alarm period lasts 600 ms, the 24-hour drift window 14.4 minutes. */
const TIME_SCALE = 0.01;
const SHIFTED = ['mean radius', 'worst texture', 'mean smoothness'];
const SLOW = { name: 'tumour', features: ['radius', 'texture', 'perimeter', 'area'], labels: ['malignant', 'benign'] };
const SLOW_THRESHOLD_MS = 5;

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number, work?: () => Promise<unknown>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await (work ? work() : new Promise((r) => setTimeout(r, 100)));
  }
}

describe('local monitoring end to end', () => {
  let root: string;
  let stateDir: string;
  let gateway: LocalGateway;
  let browser: Browser | undefined;
  const alerts = (): Alert[] => {
    const file = join(stateDir, 'alerts.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Alert);
  };
  const monitoring = () => alerts().filter((a) => a.event === 'monitoring');
  const posted = new Map<string, number>();
  const post = async (model: string, instances: readonly (readonly number[])[]) => {
    posted.set(model, (posted.get(model) ?? 0) + 1);
    const res = await fetch(`${gateway.url}/v1/models/${model}:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances }) });
    const text = await res.text();
    assert.equal(res.status, 200, `${model} answers: ${text}`);
  };

  before(async () => {
    root = tempDir();
    stateDir = join(root, '.mlship');
    // The shipped breast-cancer model (its card holds the drift baseline) and a real graph that is slow.
    symlinkSync(join(REPO_ROOT, 'models', 'breast-cancer'), join(root, 'breast-cancer'), 'dir');
    writeVersion(root, { ...SLOW, version: 1 }, slowOnnx(4, 2));
    const alarms = { periodMinutes: 1, evaluationPeriods: 2 };
    writeFileSync(
      join(root, 'manifest.yaml'),
      stringify({
        models: [
          { name: 'breast-cancer', version: 1, monitoring: { capturePercent: 100, alarms, drift: { driftShare: 0 } } },
          { name: SLOW.name, version: 1, monitoring: { capturePercent: 100, alarms: { ...alarms, p99LatencyMs: SLOW_THRESHOLD_MS } } },
        ],
      }),
    );
    gateway = await LocalGateway.start({
      manifest: loadManifest(join(root, 'manifest.yaml')),
      port: 0,
      stateDir,
      timeScale: TIME_SCALE,
      monitorIntervalMs: 500,
      alerts: new LocalAlerts(stateDir, () => undefined),
      logger: new Logger({ logLevel: 'SILENT' }),
    });
  });

  after(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('drifted inputs produce one drift alert naming the shifted features first; slow answers produce a latency alert, then OK; the status page shows both', async () => {
    const heldOut = breastCancerHeldOut();
    const drifted = shiftByOneStd(heldOut, SHIFTED);

    // Drifted traffic: every held-out row with three features moved up by one standard deviation, twice.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < drifted.length; i += 20) await post('breast-cancer', drifted.slice(i, i + 20));
    }
    const driftAlert = await waitFor('the drift alert', () => monitoring().find((a) => a.model === 'breast-cancer'), 15_000);
    assert.equal(driftAlert.level, 'critical', 'drift is an ALARM');
    assert.match(driftAlert.message, /^\[ALARM\] breast-cancer v1 drift .* \(local\)$/, `the subject: ${driftAlert.message}`);
    const body = driftAlert.body ?? '';
    const drifting = body.slice(body.indexOf('Drifting features'), body.indexOf('Next highest PSI') === -1 ? undefined : body.indexOf('Next highest PSI'));
    const named = [...drifting.matchAll(/^ {2}(.+?): PSI/gm)].map((m) => m[1]!);
    assert.deepEqual(new Set(named.slice(0, SHIFTED.length)), new Set(SHIFTED), `the shifted features come first:\n${body}`);
    assert.match(body, /Dashboard: +http:\/\/127\.0\.0\.1:\d+\/\n/, 'the link is the status page');

    // The monitor keeps running on the same drifted window: still one drift alert.
    const runsBefore = (await statusJson()).monitor.runs;
    let runs = runsBefore;
    await waitFor('two more monitor runs', () => (runs >= runsBefore + 2 ? true : undefined), 10_000, async () => {
      await new Promise((r) => setTimeout(r, 200));
      runs = (await statusJson()).monitor.runs;
    });
    assert.equal(monitoring().filter((a) => a.model === 'breast-cancer').length, 1, `one drift alert, not one per run: ${monitoring().map((a) => a.message).join(' | ')}`);

    // Slow answers: the slow model's p99 is far over its threshold for two periods in a row.
    const latencyAlert = await waitFor('the latency alert', () => monitoring().find((a) => a.model === SLOW.name), 20_000, () => post(SLOW.name, [[0.5, -1.2, 2.0, 0.3]]));
    assert.match(latencyAlert.message, new RegExp(`^\\[ALARM\\] tumour v1 API p99 latency \\d+(\\.\\d+)? ms > ${SLOW_THRESHOLD_MS} ms \\(local\\)$`), `the subject: ${latencyAlert.message}`);
    assert.ok(Number((latencyAlert.details as { value: number }).value) > SLOW_THRESHOLD_MS, 'the figure is over the threshold');
    // Traffic stops: the next periods have no data (not breaching), and the model recovers with one OK.
    const recovered = await waitFor('the OK alert', () => monitoring().find((a) => a.model === SLOW.name && (a.details as { state: string }).state === 'OK'), 10_000);
    assert.match(recovered.message, /^\[OK\] tumour v1 API p99 latency back to normal/, `the recovery: ${recovered.message}`);
    assert.equal(monitoring().filter((a) => a.model === SLOW.name).length, 2, 'one ALARM and one OK');

    // The status page in headless Chromium.
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${gateway.url}/`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });
    const text = await page.innerText('#status');
    const section = (model: string) => page.locator(`section[data-model="${model}"]`).innerText();
    const cancer = await section('breast-cancer');
    const tumour = await section(SLOW.name);
    assert.ok(text.includes(driftAlert.message) && text.includes(latencyAlert.message), `both alerts are listed:\n${text}`);
    assert.match(cancer, /live v1 \(lambda\) · traffic split: v1 100%/, `versions and split:\n${cancer}`);
    assert.match(tumour, /live v1 \(lambda\) · traffic split: v1 100%/, `versions and split:\n${tumour}`);
    assert.match(cancer, /Drift\s+drift/, `breast-cancer drifts:\n${cancer}`);
    for (const feature of SHIFTED) assert.ok(cancer.includes(feature), `the drift table names ${feature}`);
    // Since start: every request the test sent, and the slow model's p99 over its threshold.
    const sinceStart = (model: string, column: number) => page.locator(`section[data-model="${model}"] table.since-start tr[data-version="1"] td:nth-child(${column})`).innerText();
    assert.equal(Number(await sinceStart('breast-cancer', 2)), posted.get('breast-cancer'), 'breast-cancer requests counted');
    assert.equal(Number(await sinceStart(SLOW.name, 2)), posted.get(SLOW.name), 'tumour requests counted');
    assert.ok(Number.parseFloat(await sinceStart(SLOW.name, 9)) > SLOW_THRESHOLD_MS, `tumour p99 since start over ${SLOW_THRESHOLD_MS} ms: ${await sinceStart(SLOW.name, 9)}`);
    assert.match(tumour, /api-p99-latency\s+(ALARM|OK)\s+\d+(\.\d+)? ms\s+> 5 ms/, `the latency alarm with its figure:\n${tumour}`);
    assert.match(tumour, /no drift baseline/, `a model without a baseline says so:\n${tumour}`);
    assert.deepEqual(problems, [], 'no script error');
    const shot = join(root, 'status.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 1000, `screenshot saved at ${shot}`);
  });

  async function statusJson(): Promise<{ monitor: { runs: number } }> {
    const res = await fetch(`${gateway.url}/status.json`);
    return (await res.json()) as { monitor: { runs: number } };
  }
});

describe('npm start monitoring options', () => {
  let bundle: string;
  before(async () => {
    bundle = await buildLocalGateway();
  });

  async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [bundle, '--state-dir', tempDir(), ...args], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stderr };
  }

  it('refuses a webhook that is not an http URL and a monitor interval out of range, with exit 2', async () => {
    const ftp = await run(['--alert-webhook', 'ftp://example.invalid/hook']);
    assert.equal(ftp.code, 2, ftp.stderr);
    assert.match(ftp.stderr, /alert-webhook must be an http or https URL \(from --alert-webhook\)/, 'names the option');
    const env = await run([], { MLSHIP_ALERT_WEBHOOK: 'not a url' });
    assert.equal(env.code, 2, env.stderr);
    assert.match(env.stderr, /from MLSHIP_ALERT_WEBHOOK/, 'names the variable');
    const interval = await run(['--monitor-interval', '0']);
    assert.equal(interval.code, 2, interval.stderr);
    assert.match(interval.stderr, /monitor-interval must be a number of seconds from 1 to 86400, received '0'/, 'names the range');
  });

  it('prints where the status page, captures and alerts are, the webhook without its path, and serves the page', async () => {
    const child = spawn(process.execPath, [bundle, '--state-dir', tempDir(), '--monitor-interval', '5'], {
      env: { ...process.env, PORT: '0', MLSHIP_ALERT_WEBHOOK: 'http://127.0.0.1:9/hooks/T0/secret-path' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const deadline = Date.now() + 20_000;
    while (!stdout.includes('Ctrl-C') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    const status = /status: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)?.[1];
    assert.ok(status, `the banner names the status page: ${stdout}`);
    assert.match(stdout, /monitoring: captures in .*capture, drift monitor every 5 s, alerts on stderr, in .*alerts\.jsonl and POSTed to http:\/\/127\.0\.0\.1:9\n/, `the monitoring line: ${stdout}`);
    assert.ok(!stdout.includes('secret-path'), 'the webhook path is not printed');
    const page = await fetch(status);
    assert.equal(page.status, 200, 'the page answers');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/, 'HTML');
    assert.match(await page.text(), /<title>mlship status<\/title>/, 'the status page');
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, 'stops cleanly');
  });
});
