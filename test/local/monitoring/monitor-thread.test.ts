// The local drift monitor runs the monitor core in its own thread: figures and reports come back to the main
// thread's metrics store and alert hub; a failed run (the core throws for a model, the thread dies) is counted,
// shown, recorded as a metric and alerted once, and the next good run recovers; a run still going when the
// timer fires is skipped and counted, while the main thread keeps answering. No clock is relied on: the slow run
// is a thread blocked on shared memory until the test lets it go.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import type { MonitoredModel } from '../../../lambdas/core/monitoring/monitor/drift-monitor';
import { DEFAULT_DRIFT_THRESHOLDS } from '../../../lambdas/core/monitoring/drift/thresholds';
import type { Alert } from '../../../local/release/alerts';
import { LocalMetrics, MONITOR_RUN_METRICS, MONITOR_RUNS_NAMESPACE, type MonitorRunStatus } from '../../../local/monitoring/metrics-store';
import { LocalDriftMonitor } from '../../../local/monitoring/monitor-timer';
import type { MonitorThreadOptions } from '../../../local/monitoring/monitor-thread';
import { breastCancerHeldOut } from '../../fixtures/breast-cancer-split';
import { monitorGate } from '../../fixtures/monitor-gate';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-monitor-thread-');
const GATED_WORKER = new URL('../../fixtures/gated-monitor-worker.ts', import.meta.url);
const card = breastCancerHeldOut().card;
const good: MonitoredModel = { name: 'breast-cancer', version: '1', card, runtime: 'lambda', drift: DEFAULT_DRIFT_THRESHOLDS };
/** A card whose baseline the core cannot use: it throws reading it. */
const broken: MonitoredModel = { ...good, card: { ...card, driftBaseline: { features: null, predictions: null } as unknown as NonNullable<typeof card.driftBaseline> } };

function setup(thread?: MonitorThreadOptions) {
  const metrics = new LocalMetrics({ periodMs: () => 60_000, emfNamespace: 'mlship' });
  const alerts: Omit<Alert, 'time'>[] = [];
  const state = { models: [good] as MonitoredModel[] };
  const monitor = new LocalDriftMonitor({
    folder: tempDir(),
    project: 'mlship',
    stage: 'local',
    models: () => state.models,
    windowMs: 3_600_000,
    intervalMs: 3_600_000,
    metrics,
    report: () => undefined,
    alert: (alert) => alerts.push(alert),
    log: () => undefined,
    ...(thread ? { thread } : {}),
  });
  const runs = (status: MonitorRunStatus) => metrics.metric('breast-cancer', { namespace: MONITOR_RUNS_NAMESPACE, metricName: MONITOR_RUN_METRICS[status], statistic: 'Sum', dimensions: {} }, 0, Date.now() + 60_000);
  return { metrics, alerts, state, monitor, runs };
}

const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of stops) await stop();
});

describe('the local drift monitor in its own thread', () => {
  it('publishes through the main thread; a failed run is counted, shown, a metric and one alert; the next good run recovers', async () => {
    const { metrics, alerts, state, monitor, runs } = setup();
    stops.push(() => monitor.stop());
    const [first] = await monitor.runOnce();
    assert.ok(first && 'run' in first, JSON.stringify(first));
    assert.equal(metrics.latestDrift('breast-cancer')?.datums.find((d) => d.metric === 'CapturedRows')?.value, 0, 'the thread\'s figures reached the main thread\'s metrics store');
    assert.equal(monitor.health().state, 'ok');

    state.models = [broken];
    const [failed] = await monitor.runOnce();
    assert.ok(failed && 'error' in failed, 'the model\'s outcome is its error');
    await monitor.runOnce();
    const health = monitor.health();
    assert.deepEqual([health.state, health.succeeded, health.failed, health.consecutiveFailures], ['failing', 1, 2, 2]);
    assert.match(health.lastError?.message ?? '', /^breast-cancer: /, 'the latest error names the model');
    assert.equal(health.recentRuns[0]?.status, 'failed');
    assert.equal(runs('failed'), 2, 'MonitorRunsFailed counts both failed runs');
    assert.deepEqual(alerts.map((a) => [a.level, a.message]), [['critical', '[ALARM] drift monitor run failed (local)']], 'one alert when the monitor starts failing, not one per run');
    assert.match(alerts[0]!.body ?? '', /breast-cancer: /, 'the alert says what failed');

    state.models = [good];
    await monitor.runOnce();
    assert.deepEqual([monitor.health().state, monitor.health().consecutiveFailures], ['ok', 0]);
    assert.equal(alerts.at(-1)?.message, '[OK] drift monitor runs again after 2 failed runs (local)');
    assert.equal(runs('succeeded'), 2);
  });

  it('a thread that dies fails its run, counted; the next run starts a fresh thread', async () => {
    const { monitor, alerts, runs } = setup({ entry: GATED_WORKER, workerData: { gate: monitorGate().buffer, mode: 'exit' } });
    stops.push(() => monitor.stop());
    assert.deepEqual(await monitor.runOnce(), []);
    await monitor.runOnce();
    const health = monitor.health();
    assert.deepEqual([health.state, health.failed], ['failing', 2]);
    assert.match(health.lastError?.message ?? '', /the monitor thread died: .*code 7/);
    assert.equal(runs('failed'), 2);
    assert.equal(alerts.length, 1);
  });

  it('a run still going when the timer fires is skipped and counted, while the main thread answers requests', async () => {
    const gate = monitorGate();
    const { monitor, runs } = setup({ entry: GATED_WORKER, workerData: { gate: gate.buffer, mode: 'block' } });
    stops.push(() => monitor.stop());
    const server = createServer((_req, res) => res.end('answered'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    stops.push(() => new Promise((r) => server.close(() => r())));

    monitor.tick();
    // The run's thread is now blocked in its first listing, in Atomics.wait.
    assert.ok(await gate.blocked(30_000), 'the run is blocked');
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    assert.equal(await res.text(), 'answered', 'the main thread answers while the run is blocked');
    monitor.tick();
    monitor.tick();
    assert.deepEqual([monitor.health().running, monitor.health().skipped], [true, 2], 'the timer found the run going twice');

    gate.open();
    const [outcome] = await monitor.runOnce();
    assert.ok(outcome && 'run' in outcome, JSON.stringify(outcome));
    assert.deepEqual([monitor.health().succeeded, monitor.health().skipped, monitor.health().running], [1, 2, false]);
    assert.equal(runs('skipped'), 2, 'MonitorRunsSkipped');
  });
});
