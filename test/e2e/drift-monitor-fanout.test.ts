// The drift monitor's state machine, synthesized from the shipped manifest's stack and run by the local runner
// over capture folders: with a threshold and share size small enough, a run fans out (plan, a Distributed Map of
// several children, one of them retried, the merge) and its figures, reports and hour summaries equal those of the
// single-function path of the same state machine on the same captures; a rerun folds nothing twice.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { lambdaCaptureHourPrefix } from '../../lambdas/core/monitoring/capture/capture-keys';
import type { ByteRange } from '../../lambdas/core/storage/object-store';
import { LOCAL_CAPTURE_BUCKET, runLocalDriftMonitor, type LocalDriftMonitorResult } from '../../local/pipelines/drift-monitor-pipeline';
import type { TaskHandler } from '../../local/pipelines/runner';
import { FolderObjectStore } from '../../local/storage/folder-object-store';
import { captureText } from '../fixtures/capture-traffic';
import { json, loaded } from '../fixtures/shipped-state-machines';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-drift-fanout-');
const stack = { template: json, stage: 'dev' };
const TIME = new Date('2026-12-07T10:20:00.000Z');
const HOURS = [8, 9, 10].map((h) => new Date(Date.UTC(2026, 11, 7, h)));
const SHARE_BYTES = 60_000;

/** A FolderObjectStore that counts the capture bytes streamed (under lambda/). */
class CountingStore extends FolderObjectStore {
  captureBytesRead = 0;
  constructor(folder: string) {
    super({ [LOCAL_CAPTURE_BUCKET]: folder });
  }
  override async *readStream(bucket: string, key: string, range?: ByteRange): AsyncIterable<Uint8Array> {
    for await (const piece of super.readStream(bucket, key, range)) {
      if (key.startsWith('lambda/')) this.captureBytesRead += piece.length;
      yield piece;
    }
  }
}

/** The same captures in each folder: 5 files an hour over 3 hours, some with three features shifted. */
function writeCaptures(folders: readonly string[]): number {
  let bytes = 0;
  HOURS.forEach((hour, h) => {
    for (let f = 0; f < 5; f++) {
      const text = captureText({ requests: 25, seed: 10 * h + f, time: new Date(hour.getTime() + (f + 1) * 60_000), ...(f % 2 === 0 ? { shifted: 3, by: 1.5 } : {}) });
      bytes += text.length;
      for (const folder of folders) {
        const file = join(folder, `${lambdaCaptureHourPrefix('breast-cancer', '1', hour)}local-${f}.jsonl`);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
    }
  });
  return bytes;
}

/** Published figures of breast-cancer, metric (and feature) -> value. */
function figures(result: LocalDriftMonitorResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const call of result.metrics) {
    for (const d of call.MetricData ?? []) {
      const dims = Object.fromEntries((d.Dimensions ?? []).map((x) => [x.Name, x.Value]));
      if (dims.model === 'breast-cancer') out[`${d.MetricName}${dims.feature ? ` ${dims.feature}` : ''}`] = d.Value!;
    }
  }
  return out;
}

/** The hour summaries on disk: per hour, its objects' folded bytes and lines, lines and rows. */
function summaries(folder: string): Record<string, unknown> {
  const root = join(folder, 'monitor', 'summaries', 'drift', 'model=breast-cancer', 'version=1');
  const out: Record<string, unknown> = {};
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const s = JSON.parse(readFileSync(join(entry.parentPath, entry.name), 'utf8')) as { hour: string; objects: unknown; lines: number; rows: number };
    out[s.hour] = { objects: s.objects, lines: s.lines, rows: s.rows };
  }
  return out;
}

/** A child that folds its share, then fails as a throttled invoke would, once: Step Functions retries it. */
function retryFirstChild(): (state: string, handler: TaskHandler) => TaskHandler {
  let failed = false;
  return (state, handler) =>
    state !== 'Fold share'
      ? handler
      : async (input, context) => {
          const result = await handler(input, context);
          if (!failed) {
            failed = true;
            const error = new Error('Rate exceeded');
            error.name = 'Lambda.TooManyRequestsException';
            throw error;
          }
          return result;
        };
}

describe('the drift monitor state machine, run locally', () => {
  it('fans out over captures too many for one share and gives the single-function path\'s figures; a rerun folds nothing twice', async () => {
    const fannedDir = tempDir();
    const singleDir = tempDir();
    const bytes = writeCaptures([fannedDir, singleDir]);
    assert.ok(bytes > 4 * SHARE_BYTES, `${bytes} bytes of captures: several shares of ${SHARE_BYTES}`);
    const fannedStore = new CountingStore(fannedDir);

    const fanned = await runLocalDriftMonitor({ loaded, template: stack, store: fannedStore, time: TIME, fanOutAboveBytes: 0, shareBytes: SHARE_BYTES, executionName: 'run-1', wrapTask: retryFirstChild() });
    assert.equal(fanned.execution.status, 'SUCCEEDED', JSON.stringify(fanned.execution));
    const children = fanned.steps.filter((s) => s === 'Fold share').length - 1;
    assert.ok(children >= 3, `several children (and one retry): ${fanned.steps.join(', ')}`);
    assert.deepEqual([fanned.steps[0], fanned.steps.at(-1), fanned.steps.includes('Monitor')], ['Plan', 'Merge', false]);
    assert.ok(fannedStore.captureBytesRead >= bytes, 'the children read the captures (the retried one twice)');

    const single = await runLocalDriftMonitor({ loaded, template: stack, store: new FolderObjectStore({ [LOCAL_CAPTURE_BUCKET]: singleDir }), time: TIME, executionName: 'run-1' });
    assert.equal(single.execution.status, 'SUCCEEDED', JSON.stringify(single.execution));
    assert.deepEqual(single.steps, ['Plan', 'Monitor'], 'under the template\'s threshold (4 GiB), the function folds alone');

    const fannedFigures = figures(fanned);
    assert.ok(fannedFigures.CapturedRows! > 100 && fannedFigures.DriftDetected === 1, JSON.stringify(fannedFigures));
    assert.deepEqual(fannedFigures, figures(single), 'the same figures, every feature\'s PSI, KS and JS included');
    assert.deepEqual(fanned.notifications.map((n) => n.subject), single.notifications.map((n) => n.subject));
    assert.match(fanned.notifications[0]!.subject, /^\[ALARM\] breast-cancer v1 drift/);
    assert.deepEqual(summaries(fannedDir), summaries(singleDir), 'the same hour summaries: offsets, lines, rows');
    assert.deepEqual(fanned.execution.output && (fanned.execution.output as { result: unknown }).result, single.execution.status === 'SUCCEEDED' && (single.execution.output as { result: unknown }).result, 'the same verdicts');

    const before = summaries(fannedDir);
    fannedStore.captureBytesRead = 0;
    const rerun = await runLocalDriftMonitor({ loaded, template: stack, store: fannedStore, time: TIME, fanOutAboveBytes: 0, shareBytes: SHARE_BYTES, executionName: 'run-2' });
    assert.equal(rerun.execution.status, 'SUCCEEDED', JSON.stringify(rerun.execution));
    assert.deepEqual(rerun.steps, ['Plan', 'Monitor'], 'nothing new: nothing to fan out');
    assert.equal(fannedStore.captureBytesRead, 0, 'no capture read again');
    assert.deepEqual(figures(rerun), fannedFigures, 'every row counted once');
    assert.deepEqual(summaries(fannedDir), before);
    assert.deepEqual(rerun.notifications, [], 'still drifting: no second report');
  });
});
