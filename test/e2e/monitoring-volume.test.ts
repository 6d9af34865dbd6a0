// Monitoring at production volume, end to end: the gateway keeps answering while a monitor run is held in its
// thread; the state folder stays within its cap with the drop counted on the status page; and npm start's
// bundle runs the monitor's thread from its own bundle, with --state-max-mb.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { stringify } from 'yaml';
import { loadManifest } from '../../lambdas/core/manifest/load';
import { LocalGateway } from '../../local/serving/gateway';
import type { StatusSnapshot } from '../../local/monitoring/status-page';
import { buildLocalGateway } from '../../scripts/build-local';
import { breastCancerHeldOut, REPO_ROOT } from '../fixtures/breast-cancer-split';
import { monitorGate } from '../fixtures/monitor-gate';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-monitoring-volume-');
const GATED_WORKER = new URL('../fixtures/gated-monitor-worker.ts', import.meta.url);
const heldOut = breastCancerHeldOut();

/** A project serving the shipped breast-cancer model, every request captured. */
function project(): string {
  const root = tempDir();
  symlinkSync(join(REPO_ROOT, 'models', 'breast-cancer'), join(root, 'breast-cancer'), 'dir');
  writeFileSync(join(root, 'manifest.yaml'), stringify({ models: [{ name: 'breast-cancer', version: 1, monitoring: { capturePercent: 100 } }] }));
  return root;
}

async function predict(url: string, rows: readonly (readonly number[])[]): Promise<number> {
  const res = await fetch(`${url}/v1/models/breast-cancer:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: rows }) });
  await res.arrayBuffer();
  return res.status;
}

async function status(url: string): Promise<StatusSnapshot> {
  return (await (await fetch(`${url}/status.json`)).json()) as StatusSnapshot;
}

/** Asks `probe` until it returns something, at most `timeoutMs`; `between` runs between asks. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, between: () => Promise<unknown> = () => new Promise((r) => setTimeout(r, 50))): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await between();
  }
}

describe('the gateway while a monitor run is held in its thread', () => {
  const gate = monitorGate();
  let gateway: LocalGateway;
  before(async () => {
    const root = project();
    gateway = await LocalGateway.start({
      manifest: loadManifest(join(root, 'manifest.yaml')),
      port: 0,
      stateDir: join(root, '.mlship'),
      monitorIntervalMs: 100,
      monitorTuning: { monitorThread: { entry: GATED_WORKER, workerData: { gate: gate.buffer, mode: 'block' } } },
      alerts: { emit: () => undefined },
      logger: new Logger({ logLevel: 'SILENT' }),
    });
  });
  after(async () => {
    gate.open();
    await gateway?.close();
  });

  it('answers predictions and the status page, counts the timer\'s skipped runs, and the run finishes once let go', async () => {
    assert.ok(await gate.blocked(30_000), 'a run began and is blocked in its thread');
    for (let i = 0; i < 5; i++) assert.equal(await predict(gateway.url, heldOut.rows.slice(i * 8, i * 8 + 8)), 200, 'answered while the run is held');
    const held = await waitFor('a skipped tick', async () => {
      const s = await status(gateway.url);
      return (s.monitor.skipped ?? 0) > 0 ? s : undefined;
    }, 10_000);
    // (A run before the models had loaded had nothing to list, and finished.)
    const before = held.monitor.succeeded ?? 0;
    assert.deepEqual([held.monitor.running, held.monitor.failed], [true, 0], 'the run is going');
    gate.open();
    const done = await waitFor('the held run to finish', async () => {
      const s = await status(gateway.url);
      return (s.monitor.succeeded ?? 0) > before ? s : undefined;
    }, 10_000);
    assert.equal(done.monitor.failed, 0);
    assert.equal(done.monitor.state, 'ok');
  });
});

describe('a monitor whose thread dies', () => {
  it('shows on status.json as failing, with the error, and raises one alert', async () => {
    const root = project();
    const alerts: string[] = [];
    const gateway = await LocalGateway.start({
      manifest: loadManifest(join(root, 'manifest.yaml')),
      port: 0,
      stateDir: join(root, '.mlship'),
      monitorIntervalMs: 100,
      monitorTuning: { monitorThread: { entry: GATED_WORKER, workerData: { gate: monitorGate().buffer, mode: 'exit' } } },
      alerts: { emit: (a) => alerts.push(a.message) },
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    try {
      const failing = await waitFor('two failed runs', async () => {
        const s = await status(gateway.url);
        return (s.monitor.failed ?? 0) >= 2 ? s : undefined;
      }, 20_000);
      assert.equal(failing.monitor.state, 'failing');
      assert.match(failing.monitor.lastError?.message ?? '', /the monitor thread died/);
      // Runs come every 100 ms: the newest may already be under way; every one that ended failed.
      const ended = (failing.monitor.recentRuns ?? []).filter((r) => r.status !== 'running');
      assert.ok(ended.length >= 2 && ended.every((r) => r.status === 'failed'), JSON.stringify(failing.monitor.recentRuns));
      assert.deepEqual(alerts.filter((m) => m.includes('drift monitor')), ['[ALARM] drift monitor run failed (local)'], 'one alert, not one per run');
    } finally {
      await gateway.close();
    }
  });
});

describe('the state folder at its cap', () => {
  it('rolls captures by size, drops the oldest past the cap, and the status page counts what went', async () => {
    const root = project();
    const gateway = await LocalGateway.start({
      manifest: loadManifest(join(root, 'manifest.yaml')),
      port: 0,
      stateDir: join(root, '.mlship'),
      monitorIntervalMs: 3_600_000,
      captureFileMaxBytes: 8 * 1024,
      stateMaxBytes: 48 * 1024,
      monitorTuning: { stateCheckIntervalMs: 50 },
      alerts: { emit: () => undefined },
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    try {
      // Each request of 32 rows captures about 5 KB: 100 of them are ten times the cap.
      const dropped = await waitFor(
        'captures dropped over the cap',
        async () => {
          const s = await status(gateway.url);
          return (s.monitor.storage?.dropped.byCap.files ?? 0) > 0 ? s : undefined;
        },
        30_000,
        async () => {
          for (let i = 0; i < 10; i++) assert.equal(await predict(gateway.url, heldOut.rows.slice(0, 32)), 200);
          await gateway.captureSink!.flush();
        },
      );
      const storage = dropped.monitor.storage!;
      assert.equal(storage.capBytes, 48 * 1024);
      assert.ok(storage.dropped.byCap.bytes > 0, 'bytes dropped are counted');
      assert.ok(dropped.monitor.capture!.filesStarted > 6, `files rolled by size: ${dropped.monitor.capture!.filesStarted}`);
      const checked = await waitFor('a check within the cap', async () => {
        const s = (await status(gateway.url)).monitor.storage!;
        return s.stateBytes !== null && s.stateBytes <= s.capBytes ? s : undefined;
      }, 10_000);
      assert.equal(checked.overCap, false);
    } finally {
      await gateway.close();
    }
  });
});

describe('npm start with the monitor thread bundled', () => {
  let bundle: string;
  before(async () => {
    bundle = await buildLocalGateway();
  });

  it('refuses a --state-max-mb that is not a whole number of MiB, with exit 2', async () => {
    const child = spawn(process.execPath, [bundle, '--state-dir', tempDir(), '--state-max-mb', '0'], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 2, stderr);
    assert.match(stderr, /state-max-mb must be a whole number of MiB from 1 to 1048576, received '0'/);
  });

  it('runs the drift monitor from the bundle\'s own thread, and shows the cap it was given', async () => {
    const root = project();
    const child = spawn(process.execPath, [bundle, '--manifest', join(root, 'manifest.yaml'), '--state-dir', join(root, '.mlship'), '--monitor-interval', '1', '--state-max-mb', '64'], {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const url = await waitFor('the banner', async () => /serving \d+ models? on (http:\/\/\S+)/.exec(stdout)?.[1] ?? (child.exitCode !== null ? assert.fail(`exited: ${stderr}`) : undefined), 30_000);
      assert.match(stdout, /state folder: .*, capped at 64 MiB/, 'the banner names the cap');
      assert.equal(await predict(url, heldOut.rows.slice(0, 16)), 200);
      const ran = await waitFor('a monitor run', async () => {
        const s = await status(url);
        return (s.monitor.succeeded ?? 0) + (s.monitor.failed ?? 0) > 0 ? s : undefined;
      }, 30_000);
      assert.equal(ran.monitor.failed, 0, `no failed run: ${JSON.stringify(ran.monitor.lastError)} ${stderr}`);
      assert.equal(ran.monitor.storage?.capBytes, 64 * 1024 * 1024);
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await once(child, 'exit');
      }
    }
  });
});
