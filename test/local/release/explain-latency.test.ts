// The local release controller judges the p99 of a canary's scoring requests only: :explain requests (slow by
// design, up to explain.timeoutMs) still count as requests and errors, but never in the p99, as the cloud's
// release alarm reads the handler's HandlerLatency, which only predict and infer publish. The candidate and
// stable versions are real onnxruntime sessions; the requests' figures are recorded as the gateway records
// them (ModelRelease.record with the route's operation), and the controller's own evaluation timer decides.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ServedModel } from '../../../lambdas/core/models/inference-session';
import { releaseSchema } from '../../../lambdas/core/manifest/schema';
import { breachedAlarm, ModelRelease, newDeployment, type VersionHandle } from '../../../local/release/controller';
import type { Alert } from '../../../local/release/alerts';
import type { ModelReleaseState } from '../../../local/release/state';
import { TrafficWindow } from '../../../local/release/window';
import { writeModelFolder } from '../../fixtures/model-folder';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-release-explain-');
/** A one-minute evaluation period becomes 120 ms. */
const TIME_SCALE = 0.002;
/** Longest wait for the controller's verdict: many periods, so a slow machine cannot fail the test. */
const VERDICT_WAIT_MS = 20_000;
const release = releaseSchema.parse({ strategy: 'canary', percent: 10, intervalMinutes: 1, alarms: { p99LatencyMs: 1000, minRequests: 10, errorRatePercent: 1 } });

const loaded: ServedModel[] = [];
let stable: VersionHandle;
let candidate: VersionHandle;

const notCalled = (): never => {
  throw new Error('the controller never calls a handler: the gateway does');
};

before(async () => {
  const root = tempDir();
  const handle = async (version: number): Promise<VersionHandle> => {
    const model = await ServedModel.load(writeModelFolder(root, { name: 'tumour', version }));
    loaded.push(model);
    return { version, model, handler: notCalled };
  };
  stable = await handle(1);
  candidate = await handle(2);
});
after(() => Promise.all(loaded.map((m) => m.release())));

/** A canary of v2 over v1, its alerts, and a promise of its verdict (promoted or rolled back), bounded in time. */
function canary(): { release: ModelRelease; alerts: Alert[]; verdict: Promise<Alert> } {
  const alerts: Alert[] = [];
  let settle: (alert: Alert) => void = () => undefined;
  // The controller's timer is unref'd (it never holds the gateway's process open): this one keeps the test's
  // process alive until the verdict, and fails the test past the bound.
  const verdict = new Promise<Alert>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no verdict in ${VERDICT_WAIT_MS} ms: ${alerts.map((a) => a.event).join(', ')}`)), VERDICT_WAIT_MS);
    settle = (alert) => {
      clearTimeout(timer);
      resolve(alert);
    };
  });
  const state: ModelReleaseState = { live: 1, rejected: [], history: [], deployment: newDeployment(1, 2, release) };
  const model = new ModelRelease({
    name: 'tumour',
    release,
    state,
    stable,
    candidate,
    timeScale: TIME_SCALE,
    persist: () => undefined,
    alerts: {
      emit: (alert) => {
        const full = { time: new Date().toISOString(), ...alert };
        alerts.push(full);
        if (full.event === 'promoted' || full.event === 'rolled-back') settle(full);
      },
    },
  });
  return { release: model, alerts, verdict };
}

/** `count` requests answered by the candidate, recorded as the gateway records them. */
function answer(model: ModelRelease, operation: 'predict' | 'infer' | 'explain', count: number, latencyMs: (i: number) => number, statusCode = 200): void {
  for (let i = 0; i < count; i++) model.record(2, statusCode, latencyMs(i), operation);
}

describe('local canary: :explain requests are not judged for latency', () => {
  it('many slow explanations beside fast scoring requests: no p99 alarm, the canary is promoted', async () => {
    const { release: model, alerts, verdict } = canary();
    try {
      // All in the first evaluation period (synchronous, before its timer can fire): 30 scoring requests of a
      // few ms, 200 explanations of 4.8 s or more (explain.timeoutMs), far over the 1000 ms threshold.
      answer(model, 'predict', 20, (i) => 3 + (i % 5));
      answer(model, 'infer', 10, () => 4);
      answer(model, 'explain', 200, (i) => 4800 + i);
      const outcome = await verdict;
      assert.equal(outcome.event, 'promoted', `the verdict: ${outcome.message}`);
      assert.deepEqual(alerts.filter((a) => a.event === 'alarm'), [], 'no alarm');
      assert.equal(model.status().live, 2);
    } finally {
      model.stop();
    }
  });

  it('the same seconds on scoring requests breach the p99 and roll the canary back', async () => {
    const { release: model, verdict } = canary();
    try {
      answer(model, 'predict', 30, (i) => 4800 + i);
      answer(model, 'explain', 200, () => 5);
      const outcome = await verdict;
      assert.equal(outcome.event, 'rolled-back');
      assert.match(outcome.message, /alarm: p99 latency 4829\.0 ms > 1000 ms \(30 scoring requests of 230\)/);
    } finally {
      model.stop();
    }
  });

  it("an explanation's 5xx is still an error of the candidate: the error-rate alarm rolls it back", async () => {
    const { release: model, verdict } = canary();
    try {
      answer(model, 'predict', 30, () => 4);
      answer(model, 'explain', 20, () => 4900, 500);
      const outcome = await verdict;
      assert.equal(outcome.event, 'rolled-back');
      assert.match(outcome.message, /alarm: error rate 40\.0% > 1% \(20 of 50 requests answered 5xx\)/);
    } finally {
      model.stop();
    }
  });
});

describe('release window', () => {
  it('counts every request for minRequests and the error rate, and only the scoring ones in the p99', () => {
    const window = new TrafficWindow();
    for (let i = 0; i < 12; i++) window.record(200, undefined);
    window.record(503, undefined);
    const onlyExplanations = window.roll();
    assert.deepEqual(onlyExplanations, { requests: 13, serverErrors: 1, throttles: 0, errorRatePercent: 100 / 13, scoringRequests: 0, p99LatencyMs: 0 });
    assert.equal(breachedAlarm({ ...onlyExplanations, serverErrors: 0, errorRatePercent: 0 }, release.alarms), undefined, 'a period of explanations alone breaches no p99');
    assert.equal(window.figures().requests, 0, 'roll starts a fresh period');
  });
});
