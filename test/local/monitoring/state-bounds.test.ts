// The state folder's bounds: captures past the retention go; past the size cap the oldest captures go first,
// the file being written last, and only captures (release state, alerts and the monitor's state stay); every
// drop is counted by reason, with files and bytes, and told on the log.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { StateFolderBounds } from '../../../local/monitoring/state-bounds';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-state-bounds-');
const DAY = 86_400_000;
const NOW = Date.parse('2026-12-07T20:00:00Z');

/** Writes `bytes` bytes at `path` under `root`, last written `ageMs` before NOW. */
function file(root: string, path: string, bytes: number, ageMs: number): string {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, 'x'.repeat(bytes));
  const t = new Date(NOW - ageMs);
  utimesSync(full, t, t);
  return full;
}

const hour = (h: number) => `capture/lambda/model=m/version=1/2026/12/07/${String(h).padStart(2, '0')}/local-1-0000.jsonl`;

describe('StateFolderBounds', () => {
  it('over the cap: the oldest captures go first, the file being written last, and nothing but captures; counted and told', async () => {
    const root = tempDir();
    const oldest = file(root, hour(10), 400, 10 * 3_600_000);
    const older = file(root, hour(11), 400, 9 * 3_600_000);
    const newer = file(root, hour(12), 400, 8 * 3_600_000);
    const writing = file(root, hour(13), 400, 9.5 * 3_600_000);
    const sageMaker = file(root, 'capture/data-capture/digits-v1/AllTraffic/2026/12/07/19/local-1-0000.jsonl', 100, 3_600_000);
    const kept = [file(root, 'state.json', 300, 20 * 3_600_000), file(root, 'alerts.jsonl', 200, 20 * 3_600_000), file(root, 'capture/monitor/state/m.json', 100, 20 * 3_600_000)];
    const lines: string[] = [];
    const bounds = new StateFolderBounds({ stateDir: root, captureFolder: join(root, 'capture'), maxBytes: 1300, retentionMs: 30 * DAY, inUse: () => new Set([writing]), now: () => NOW, log: (l) => lines.push(l) });

    const status = await bounds.check();
    // 2300 bytes over a 1300 cap: the oldest captures not being written go until it fits (1100 left).
    assert.deepEqual([oldest, older, newer].map(existsSync), [false, false, false], 'the oldest captures went');
    assert.ok(existsSync(writing), 'the file being written stays while anything else can go');
    assert.ok(existsSync(sageMaker), 'the newest capture stays');
    assert.ok(kept.every(existsSync), 'release state, alerts and the monitor state are never dropped');
    assert.ok(!existsSync(dirname(oldest)), 'the emptied hour folder went too');
    assert.deepEqual(status.dropped, { byCap: { files: 3, bytes: 1200 }, byAge: { files: 0, bytes: 0 } });
    assert.deepEqual([status.stateBytes, status.capBytes, status.overCap], [1100, 1300, false]);
    assert.equal(status.lastDrop?.reason, 'cap');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /over its cap of 0\.0 MiB: dropped the 3 oldest capture files \(0\.0 MiB\)$/);

    // Nothing but the file being written is left to go: it goes, rather than the cap being passed.
    file(root, "retrain/big.csv", 1000, 0);
    const next = await bounds.check();
    assert.ok(!existsSync(writing), 'the file being written goes when nothing else can');
    assert.deepEqual(next.dropped.byCap, { files: 5, bytes: 1700 });
    assert.equal(next.overCap, true, 'still over: the rest is not captures, and says so');
  });

  it('leaves room for what arrives before the next check: as much as arrived since the last, at most a quarter of the cap', async () => {
    const root = tempDir();
    const first = file(root, hour(10), 500, 3 * 3_600_000);
    file(root, hour(11), 500, 2 * 3_600_000);
    const bounds = new StateFolderBounds({ stateDir: root, captureFolder: join(root, 'capture'), maxBytes: 2000, retentionMs: 30 * DAY, now: () => NOW, log: () => undefined });
    assert.deepEqual((await bounds.check()).dropped.byCap, { files: 0, bytes: 0 }, '1000 of 2000: nothing to drop');
    file(root, hour(12), 600, 3_600_000);
    // 1600 is within the cap, but 600 arrived since the last check: room for 500 (a quarter of the cap) is kept.
    const status = await bounds.check();
    assert.ok(!existsSync(first), 'the oldest capture went to make room');
    assert.deepEqual([status.dropped.byCap, status.stateBytes, status.overCap], [{ files: 1, bytes: 500 }, 1100, false]);
  });

  it('prediction records and labels are traffic too: past the retention they go like captures; the monitor state stays', async () => {
    const root = tempDir();
    const oldPredictions = file(root, 'capture/predictions/model=m/version=1/2026/11/01/10/local-1-0000.jsonl', 50, 31 * DAY);
    const oldLabels = file(root, 'capture/ground-truth/m/2026/11/01/10/local-1-0000.jsonl', 50, 31 * DAY);
    const youngLabels = file(root, 'capture/ground-truth/m/2026/12/07/10/local-1-0000.jsonl', 50, DAY);
    const monitorState = file(root, 'capture/monitor/state/quality-m.json', 50, 31 * DAY);
    const bounds = new StateFolderBounds({ stateDir: root, captureFolder: join(root, 'capture'), maxBytes: 1 << 30, retentionMs: 30 * DAY, now: () => NOW, log: () => undefined });
    const status = await bounds.check();
    assert.deepEqual([oldPredictions, oldLabels, youngLabels, monitorState].map(existsSync), [false, false, true, true]);
    assert.deepEqual(status.dropped.byAge, { files: 2, bytes: 100 });
  });

  it('captures past the retention go, counted by age; newer ones stay', async () => {
    const root = tempDir();
    const old = file(root, hour(1), 50, 31 * DAY);
    const young = file(root, hour(2), 50, 29 * DAY);
    const lines: string[] = [];
    const bounds = new StateFolderBounds({ stateDir: root, captureFolder: join(root, 'capture'), maxBytes: 1 << 30, retentionMs: 30 * DAY, now: () => NOW, log: (l) => lines.push(l) });
    const status = await bounds.check();
    assert.deepEqual([existsSync(old), existsSync(young)], [false, true]);
    assert.deepEqual(status.dropped, { byAge: { files: 1, bytes: 50 }, byCap: { files: 0, bytes: 0 } });
    assert.equal(status.retentionDays, 30);
    assert.match(lines[0]!, /dropped 1 capture file \(0\.0 MiB\) older than 30 days$/);
  });
});
