// Local releases for real: the gateway on 127.0.0.1, real ONNX sessions of each version, real HTTP
// traffic from a client running throughout, the release state on disk, and `mlship canary` as a process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { stringify } from 'yaml';
import { loadManifest } from '../../lambdas/core/manifest/load';
import { LocalGateway } from '../../local/serving/gateway';
import type { ReleaseStatus } from '../../local/release/controller';
import type { Alert } from '../../local/release/alerts';
import { buildSoftmaxOnnx, writeModelFolder } from '../fixtures/model-folder';
import { singleRowOnlyOnnx, slowOnnx, writeVersion } from '../fixtures/release-models';
import { tempDirMaker } from '../fixtures/temp-dirs';

const run = promisify(execFile);
const MODEL = { name: 'tumour', features: ['radius', 'texture', 'perimeter', 'area'], labels: ['malignant', 'benign'] };
const INSTANCE = [0.5, -1.2, 2.0, 0.3];

interface Project {
  readonly root: string;
  readonly stateDir: string;
  /** Writes manifest.yaml naming `version` with the given release settings. */
  setManifest(version: number, release: Record<string, unknown>): string;
  alerts(): Alert[];
  state(): { models: Record<string, { live: number; rejected: number[]; deployment?: { id: string; weight: number; to: number }; history: { outcome: string; by: string; reason: string }[] }> };
}

const tempDir = tempDirMaker('mlship-release-');

/** v1 and v2 are the same good model; v3 has other weights (fails its golden cases); v4 fails on batches; v5 is slow. */
function project(): Project {
  const root = tempDir();
  writeModelFolder(root, { ...MODEL, version: 1 });
  writeModelFolder(root, { ...MODEL, version: 2 });
  writeVersion(root, { ...MODEL, version: 3 }, buildSoftmaxOnnx({ width: 4, classes: 2, weights: [0.9, -0.9, 0.8, -0.8, 0.7, -0.7, 0.6, -0.6] }));
  writeVersion(root, { ...MODEL, version: 4 }, singleRowOnlyOnnx(4, 2));
  writeVersion(root, { ...MODEL, version: 5 }, slowOnnx(4, 2));
  const stateDir = join(root, '.mlship');
  return {
    root,
    stateDir,
    setManifest(version, release) {
      const file = join(root, 'manifest.yaml');
      writeFileSync(file, stringify({ models: [{ name: MODEL.name, version, release }] }));
      return file;
    },
    alerts: () =>
      readFileSync(join(stateDir, 'alerts.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Alert),
    state: () => JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as ReturnType<Project['state']>,
  };
}

const quiet = (line: string) => void line;

async function start(p: Project, version: number, release: Record<string, unknown>, timeScale = 1): Promise<LocalGateway> {
  const manifest = loadManifest(p.setManifest(version, release));
  const { LocalAlerts } = await import('../../local/release/alerts');
  return LocalGateway.start({ manifest, port: 0, stateDir: p.stateDir, timeScale, alerts: new LocalAlerts(p.stateDir, quiet), logger: new Logger({ logLevel: 'SILENT' }) });
}

interface Served {
  status: number;
  version: string | null;
}

async function predict(gateway: LocalGateway, batch = 1): Promise<Served> {
  const res = await fetch(`${gateway.url}/v1/models/${MODEL.name}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: new Array(batch).fill(INSTANCE) }),
  });
  await res.text();
  return { status: res.status, version: res.headers.get('x-model-version') };
}

/** Sends `count` requests over `concurrency` connections; every answer is kept. */
async function traffic(gateway: LocalGateway, count: number, concurrency = 8, batch = 1): Promise<Served[]> {
  const answers: Served[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) answers.push(await predict(gateway, batch));
    }),
  );
  return answers;
}

/** Sends requests until `done()` holds, then `extra` more; every answer is kept. */
async function trafficUntil(gateway: LocalGateway, done: () => boolean, extra: number, batch = 1, timeoutMs = 30_000): Promise<Served[]> {
  const answers: Served[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the release to end');
    answers.push(...(await traffic(gateway, 20, 4, batch)));
  }
  answers.push(...(await traffic(gateway, extra, 4, batch)));
  return answers;
}

function release(gateway: LocalGateway): ReleaseStatus {
  return gateway.releaseManager.get(MODEL.name)!.status();
}

function share(answers: readonly Served[], version: string): number {
  return (100 * answers.filter((a) => a.version === version).length) / answers.length;
}

/** A POST with a Host header of the caller's choosing (fetch always sends the URL's). */
function postWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('local releases', () => {
  it('splits traffic at the configured percent, and promotes by hand with `mlship canary promote`', async () => {
    const p = project();
    await (await start(p, 1, {})).close();
    const gateway = await start(p, 2, { strategy: 'canary', percent: 10, intervalMinutes: 60 });
    try {
      assert.deepEqual(release(gateway).traffic, [{ version: 1, weight: 90 }, { version: 2, weight: 10 }]);
      const answers = await traffic(gateway, 5000);
      assert.equal(answers.length, 5000);
      assert.ok(answers.every((a) => a.status === 200 && (a.version === '1' || a.version === '2')), 'every request answered 200 by v1 or v2');
      const observed = share(answers, '2');
      assert.ok(Math.abs(observed - 10) <= 2, `v2 took ${observed.toFixed(2)}% of 5,000 requests, configured 10%`);

      const cli = await run(process.execPath, ['bin/mlship.mjs', 'canary', 'promote', '--model', MODEL.name, '--admin-url', gateway.adminUrl, '--reason', 'looks good']);
      assert.match(cli.stdout, /tumour: live v2; traffic v2 100%/);
      assert.match(cli.stdout, /v1 -> v2 promoted by manual .*: looks good/);
      const after = await traffic(gateway, 200);
      assert.ok(after.every((a) => a.status === 200 && a.version === '2'));
      assert.equal(p.state().models.tumour!.live, 2);
      assert.deepEqual(p.state().models.tumour!.history.at(-1)?.by, 'manual');
    } finally {
      await gateway.close();
    }
  });

  it('promotes a good version at the end of its schedule while a client runs throughout', async () => {
    const p = project();
    await (await start(p, 1, {})).close();
    // linear 25% per 1-minute step, at 1/200 speed: 300 ms per step.
    const gateway = await start(p, 2, { strategy: 'linear', percent: 25, intervalMinutes: 1 }, 0.005);
    try {
      const answers = await trafficUntil(gateway, () => release(gateway).deployment === undefined, 200);
      assert.ok(answers.every((a) => a.status === 200 && (a.version === '1' || a.version === '2')), 'none lost, none 5xx during the shift');
      assert.ok(answers.slice(-200).every((a) => a.version === '2'), 'all traffic on v2 after promotion');
      assert.equal(release(gateway).live, 2);
      const events = p.alerts().map((a) => a.event);
      assert.deepEqual(events.filter((e) => e !== 'traffic-shifted').slice(-2), ['release-started', 'promoted']);
      assert.ok(events.filter((e) => e === 'traffic-shifted').length >= 1, 'each traffic shift is written as an alert');
    } finally {
      await gateway.close();
    }
  });

  it('never gives traffic to a version that fails its golden check, and says which case failed', async () => {
    const p = project();
    await (await start(p, 1, {})).close();
    const gateway = await start(p, 3, { strategy: 'canary', percent: 50, intervalMinutes: 1 });
    try {
      const status = release(gateway);
      assert.equal(status.deployment, undefined);
      assert.deepEqual(status.rejected, [3]);
      const answers = await traffic(gateway, 300);
      assert.ok(answers.every((a) => a.status === 200 && a.version === '1'), 'v1 keeps every request');
      const alert = p.alerts().find((a) => a.event === 'golden-check-failed');
      assert.ok(alert, 'a golden-check-failed alert');
      assert.match(alert.message, /v3 gets no traffic: .*golden case 0/);
      assert.equal(p.state().models.tumour!.history.at(-1)?.outcome, 'failed-golden-check');
    } finally {
      await gateway.close();
    }
  });

  it('rolls back a version that errors, within one evaluation period of its alarm, and all traffic returns to the old version', async () => {
    const p = project();
    await (await start(p, 1, {})).close();
    // v4 answers one instance but fails on two: the traffic sends two per request.
    const gateway = await start(p, 4, { strategy: 'canary', percent: 30, intervalMinutes: 5, alarms: { errorRatePercent: 5, minRequests: 5 } }, 0.005);
    try {
      const answers = await trafficUntil(gateway, () => release(gateway).deployment === undefined, 300, 2);
      assert.ok(answers.every((a) => a.version === '1' || a.version === '4'), 'every request answered by one of the two versions');
      assert.ok(answers.filter((a) => a.version === '1').every((a) => a.status === 200), 'v1 answers are unaffected by the shift');
      assert.ok(answers.slice(-300).every((a) => a.status === 200 && a.version === '1'), 'after the rollback, 100% on v1');
      const alerts = p.alerts();
      const alarm = alerts.find((a) => a.event === 'alarm')!;
      const rolledBack = alerts.find((a) => a.event === 'rolled-back')!;
      assert.match(alarm.message, /v4 alarm: error rate 100\.0% > 5%/);
      // 5-minute canary at 1/200 speed: periods of 300 ms; the rollback comes with the alarm's evaluation.
      assert.ok(Date.parse(rolledBack.time) - Date.parse(alarm.time) <= 300, 'rolled back within one evaluation period of the alarm');
      const startedAt = Date.parse(alerts.find((a) => a.event === 'release-started')!.time);
      assert.ok(Date.parse(rolledBack.time) - startedAt < 5 * 300, 'rolled back before the canary interval ended');
      assert.deepEqual(release(gateway).rejected, [4]);
    } finally {
      await gateway.close();
    }
  });

  it('rolls back a version that is slow on its p99 latency alarm', async () => {
    const p = project();
    await (await start(p, 1, {})).close();
    const gateway = await start(p, 5, { strategy: 'canary', percent: 50, intervalMinutes: 5, alarms: { p99LatencyMs: 2, minRequests: 5 } }, 0.005);
    try {
      const answers = await trafficUntil(gateway, () => release(gateway).deployment === undefined, 100);
      assert.ok(answers.every((a) => a.status === 200 && (a.version === '1' || a.version === '5')));
      assert.ok(answers.slice(-100).every((a) => a.version === '1'));
      assert.match(p.alerts().find((a) => a.event === 'alarm')!.message, /v5 alarm: p99 latency \d+\.\d ms > 2 ms/);
    } finally {
      await gateway.close();
    }
  });

  it('keeps a deployment across a restart, and records a rollback by hand', async () => {
    const p = project();
    await (await start(p, 1, {})).close();
    let gateway = await start(p, 2, { strategy: 'canary', percent: 20, intervalMinutes: 60 });
    const id = release(gateway).deployment!.id;
    await gateway.close();
    assert.equal(p.state().models.tumour!.deployment?.id, id, 'the deployment in progress is on disk');

    gateway = await start(p, 2, { strategy: 'canary', percent: 20, intervalMinutes: 60 });
    try {
      assert.equal(release(gateway).deployment?.id, id, 'the same deployment resumed');
      assert.equal(p.alerts().at(-1)?.event, 'resumed');
      assert.ok(Math.abs(share(await traffic(gateway, 500), '2') - 20) <= 2);

      // A web page that pointed a name of its own at 127.0.0.1 (DNS rebinding) sends that name as Host.
      const rebound = await postWithHost(`${gateway.adminUrl}/admin/releases/${MODEL.name}/rollback`, `rebound.example:${new URL(gateway.adminUrl).port}`);
      assert.equal(rebound.status, 421);
      assert.match(rebound.body, /"code":"misdirected_request".*only for Host 127\.0\.0\.1:\d+ or localhost:\d+/);
      assert.equal(release(gateway).deployment?.id, id, 'the deployment goes on');

      const res = await fetch(`${gateway.adminUrl}/admin/releases/${MODEL.name}/rollback`, { method: 'POST', body: JSON.stringify({ reason: 'dashboard looks odd' }) });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as ReleaseStatus).traffic, [{ version: 1, weight: 100 }]);
      const last = p.state().models.tumour!.history.at(-1)!;
      assert.deepEqual([last.outcome, last.by, last.reason], ['rolled-back', 'manual', 'dashboard looks odd']);
      const again = await fetch(`${gateway.adminUrl}/admin/releases/${MODEL.name}/rollback`, { method: 'POST' });
      assert.equal(again.status, 409, 'nothing left to roll back');
    } finally {
      await gateway.close();
    }

    // After a restart the rolled-back version stays out until it is retried or another version is named.
    gateway = await start(p, 2, { strategy: 'canary', percent: 20, intervalMinutes: 60 });
    try {
      assert.deepEqual(release(gateway).traffic, [{ version: 1, weight: 100 }]);
      assert.equal(p.alerts().at(-1)?.event, 'rejected');
      const cli = await run(process.execPath, ['bin/mlship.mjs', 'canary', 'retry', '--model', MODEL.name, '--admin-url', gateway.adminUrl]);
      assert.match(cli.stdout, /deployment v1 -> v2 \(canary, step 1 of 1, 20% to v2/);
    } finally {
      await gateway.close();
    }
  });

  it('rolls back a deployment left in progress when the manifest names another version at restart', async () => {
    const p = project();
    await (await start(p, 1, {})).close();
    await (await start(p, 2, { intervalMinutes: 60 })).close();
    const gateway = await start(p, 5, { intervalMinutes: 60 });
    try {
      const history = p.state().models.tumour!.history;
      assert.deepEqual([history.at(-1)?.outcome, history.at(-1)?.by], ['rolled-back', 'restart']);
      assert.equal(release(gateway).deployment?.to, 5, 'a new deployment from v1 to v5');
    } finally {
      await gateway.close();
    }
  });

  it('`mlship canary status` reports a clear error when no gateway runs', async () => {
    const empty = tempDir();
    const failed = await run(process.execPath, ['bin/mlship.mjs', 'canary', 'status', '--state-dir', empty]).then(
      () => assert.fail('expected exit 1'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^error: no running gateway found \(.*gateway\.json does not exist\)/);
  });
});
