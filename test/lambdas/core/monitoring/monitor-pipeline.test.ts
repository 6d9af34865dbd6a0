// The drift monitor's fan-out, step by step (plan, children folding shares into partials, merge), through an
// in-memory store: the figures equal one run of the single function on the same captures (and the reference: every
// complete line folded at once), and no byte is folded twice when a child runs twice, the merge dies and is
// retried, two runs plan the same bytes, or the next run comes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lambdaCaptureHourPrefix } from '../../../../lambdas/core/monitoring/capture/capture-keys';
import { monitorModel, type MonitorRun } from '../../../../lambdas/core/monitoring/monitor/drift-monitor';
import { windowEndingAt } from '../../../../lambdas/core/monitoring/monitor/monitor-run';
import { foldShare } from '../../../../lambdas/core/monitoring/pipeline/fold-share';
import { createMergeJudge } from '../../../../lambdas/core/monitoring/pipeline/merge';
import { planMonitorRun } from '../../../../lambdas/core/monitoring/pipeline/plan';
import { runKeys, type MonitorPlan, type RangeItem } from '../../../../lambdas/core/monitoring/pipeline/types';
import { parseHourSummary } from '../../../../lambdas/core/monitoring/summaries/hour-summary';
import { hourSummaryKey, wholeHoursOf } from '../../../../lambdas/core/monitoring/summaries/summary-keys';
import { assertSameReport, captureText, model, referenceRun } from '../../../fixtures/capture-traffic';
import { MemoryObjectStore } from '../../../fixtures/memory-object-store';

const BUCKET = 'captures';
const NOW = new Date('2026-12-07T10:30:00.000Z');
const WINDOW = windowEndingAt(NOW, 3);
const HOURS = wholeHoursOf(WINDOW);
const at = (hour: Date, minutes = 10) => new Date(hour.getTime() + minutes * 60_000);
const key = (hour: Date, file: string) => `${lambdaCaptureHourPrefix('breast-cancer', '1', hour)}${file}`;
const MODELS = new Map([[model.name, model]]);

/** Captures in every hour: `files` files of `requests` requests each; some drifted. Returns the texts. */
function fill(stores: readonly MemoryObjectStore[], files: number, seed: number, name = 'f'): string[] {
  const texts: string[] = [];
  HOURS.forEach((hour, h) => {
    for (let f = 0; f < files; f++) {
      const text = captureText({ requests: 25, seed: seed + 100 * h + f, time: at(hour, 5 + f), ...(f % 2 === 1 ? { shifted: 3, by: 1.5 } : {}) });
      for (const store of stores) store.put(key(hour, `${name}-${f}.jsonl`), text);
      texts.push(text);
    }
  });
  return texts;
}

async function plan(store: MemoryObjectStore, executionName: string, options: { fanOutAboveBytes?: number; shareBytes?: number } = {}): Promise<MonitorPlan> {
  return planMonitorRun({ store, bucket: BUCKET, models: [model], window: WINDOW, executionName, fanOutAboveBytes: options.fanOutAboveBytes ?? 0, shareBytes: options.shareBytes ?? 60_000 });
}

async function itemsOf(store: MemoryObjectStore, p: MonitorPlan): Promise<RangeItem[]> {
  return new TextDecoder().decode(await store.read(BUCKET, p.itemsKey)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as RangeItem);
}

/** The children: each share of rangesPerShare items folded (a share listed in `twice` is folded twice, as a retried child). */
async function fold(store: MemoryObjectStore, p: MonitorPlan, twice: readonly number[] = []): Promise<number> {
  const items = await itemsOf(store, p);
  let shares = 0;
  for (let i = 0; i < items.length; i += p.rangesPerShare) {
    const event = { Items: items.slice(i, i + p.rangesPerShare), BatchInput: { runPrefix: p.runPrefix } };
    await foldShare({ store, bucket: BUCKET, models: MODELS, event });
    if (twice.includes(shares)) await foldShare({ store, bucket: BUCKET, models: MODELS, event });
    shares++;
  }
  return shares;
}

async function merge(store: MemoryObjectStore, p: MonitorPlan): Promise<MonitorRun> {
  return (await createMergeJudge({ store, bucket: BUCKET, plan: p, now: NOW })).judge(model);
}

async function summaries(store: MemoryObjectStore): Promise<{ objects: unknown; lines: number; rows: number }[]> {
  const out = [];
  for (const hour of HOURS) {
    const s = parseHourSummary(await store.read(BUCKET, hourSummaryKey('drift', 'breast-cancer', '1', hour)));
    out.push({ objects: s.objects, lines: s.lines, rows: s.rows });
  }
  return out;
}

describe('the drift monitor fan-out (plan, fold shares, merge)', () => {
  it('plans the new bytes of every hour as disjoint ranges, in shares of at most shareBytes; under fanOutAboveBytes it does not fan out and writes nothing', async () => {
    const store = new MemoryObjectStore();
    fill([store], 4, 1);
    const small = await plan(store, 'run-small', { fanOutAboveBytes: 10 ** 9 });
    assert.equal(small.fanOut, false);
    assert.equal(small.ranges, 12);
    assert.equal(small.shares, 0);
    assert.deepEqual(store.written, [], 'the single function folds it: no run files');
    const big = await plan(store, 'run-big');
    const items = await itemsOf(store, big);
    assert.equal(big.fanOut, true);
    assert.deepEqual([big.ranges, items.length], [12, 12]);
    assert.ok(items.every((item) => item.start === 0 && item.end === store.objects.get(item.key)!.length), 'each object from its first byte to its size');
    const largest = Math.max(...items.map((i) => i.end - i.start));
    assert.equal(big.rangesPerShare, Math.max(1, Math.floor(60_000 / largest)));
    assert.ok(big.rangesPerShare >= 2 && big.rangesPerShare * largest <= 60_000, `a share holds ${big.rangesPerShare} ranges of at most ${largest} bytes`);
    assert.ok(big.shares >= 3, `several shares: ${big.shares}`);
    assert.equal(big.newBytes, [...store.objects.entries()].filter(([k]) => k.startsWith('lambda/')).reduce((s, [, b]) => s + b.length, 0));
  });

  it('gives the same figures, summaries and verdict as one run of the single function on the same captures', async () => {
    const fanned = new MemoryObjectStore();
    const single = new MemoryObjectStore();
    const texts = fill([fanned, single], 4, 2);
    const p = await plan(fanned, 'run-1');
    assert.ok((await fold(fanned, p)) >= 3);
    const run = await merge(fanned, p);
    const reference = await monitorModel(single, BUCKET, model, WINDOW, { now: NOW });
    assertSameReport(run.report, reference.report, 'fan-out vs single');
    assertSameReport(run.report, referenceRun(texts).report, 'fan-out vs reference');
    assert.equal(run.report.verdict, 'drift');
    assert.deepEqual(
      [run.recordsRead, run.recordsRejected, run.files, run.objectsRead, run.bytesRead, run.rowsFolded, run.rowsInWindow, run.hours, run.summariesWritten],
      [reference.recordsRead, reference.recordsRejected, reference.files, reference.objectsRead, reference.bytesRead, reference.rowsFolded, reference.rowsInWindow, reference.hours, reference.summariesWritten],
    );
    assert.deepEqual(await summaries(fanned), await summaries(single), 'the same offsets, lines and rows in every hour summary');
  });

  it('a rerun folds nothing twice: a new plan finds only what arrived since (nothing, then the new file) and the single function agrees', async () => {
    const store = new MemoryObjectStore();
    const texts = fill([store], 3, 3);
    const first = await plan(store, 'run-1');
    await fold(store, first);
    await merge(store, first);
    const again = await plan(store, 'run-2');
    assert.deepEqual([again.ranges, again.newBytes, again.fanOut], [0, 0, false], 'nothing new');
    const inline = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assert.deepEqual([inline.objectsRead, inline.rowsFolded, inline.summariesWritten], [0, 0, 0], 'the single function has nothing to fold either');
    const late = captureText({ requests: 20, seed: 77, time: at(HOURS[0]!, 59) });
    store.put(key(HOURS[0]!, 'late.jsonl'), late);
    const third = await plan(store, 'run-3');
    assert.deepEqual((await itemsOf(store, third)).map((i) => [i.key, i.start, i.end]), [[key(HOURS[0]!, 'late.jsonl'), 0, late.length]]);
    await fold(store, third);
    const run = await merge(store, third);
    assert.equal(run.rowsFolded, referenceRun([late]).report.rows);
    assertSameReport(run.report, referenceRun([...texts, late]).report, 'after the late file');
  });

  it('a child that runs twice (a retry) overwrites its own partials: every row once', async () => {
    const store = new MemoryObjectStore();
    const texts = fill([store], 4, 4);
    const p = await plan(store, 'run-1');
    await fold(store, p, [0, 1]);
    const run = await merge(store, p);
    const reference = referenceRun(texts);
    assert.equal(run.recordsRead, reference.lines);
    assertSameReport(run.report, reference.report, 'child retried');
  });

  it('a merge that dies at any of its summary writes, then is retried, adds every range once (the hours written before are left as they are)', async () => {
    for (let failAt = 1; failAt <= 3; failAt++) {
      const store = new MemoryObjectStore();
      const texts = fill([store], 2, 5);
      const p = await plan(store, 'run-1');
      await fold(store, p);
      store.failOnWrite(failAt);
      await assert.rejects(merge(store, p), /the run dies here/);
      const retried = await merge(store, p);
      const reference = referenceRun(texts);
      assert.equal(retried.summariesWritten, 3 - (failAt - 1), `died at write ${failAt}: the hours it wrote are not merged again`);
      assert.equal(retried.recordsRead, reference.lines, `died at write ${failAt}: every line once`);
      assertSameReport(retried.report, reference.report, `died at write ${failAt}`);
      // and a run dead for good leaves the next one (planned afresh from the summaries' offsets) to fold the rest once
      const next = await plan(store, 'run-2');
      assert.equal(next.ranges, 0);
    }
  });

  it('a run that dies after its children, never merged, leaves its bytes to the next run, which folds them once', async () => {
    const store = new MemoryObjectStore();
    const texts = fill([store], 2, 6);
    const dead = await plan(store, 'run-dead');
    await fold(store, dead);
    const next = await plan(store, 'run-next');
    assert.equal(next.ranges, dead.ranges, 'the same bytes planned again: nothing was recorded');
    await fold(store, next);
    const run = await merge(store, next);
    assertSameReport(run.report, referenceRun(texts).report, 'after the dead run');
    // the dead run's merge, late (an overlapping execution): its ranges are already recorded, nothing is added
    const late = await merge(store, dead);
    assert.equal(late.summariesWritten, 0);
    assertSameReport(late.report, referenceRun(texts).report, 'the late merge adds nothing');
  });

  it('a file that grew after the plan: the run folds up to the planned end, and the next run the rest, once', async () => {
    const store = new MemoryObjectStore();
    const texts = fill([store], 2, 7);
    const p = await plan(store, 'run-1');
    const grown = key(HOURS[2]!, 'f-0.jsonl');
    const more = captureText({ requests: 10, seed: 99, time: at(HOURS[2]!, 40) });
    store.append(grown, `${more}{"partial line`);
    await fold(store, p);
    const first = await merge(store, p);
    assertSameReport(first.report, referenceRun(texts).report, 'the planned bytes only');
    const p2 = await plan(store, 'run-2');
    assert.deepEqual((await itemsOf(store, p2)).map((i) => i.key), [grown]);
    await fold(store, p2);
    const second = await merge(store, p2);
    assertSameReport(second.report, referenceRun([...texts, more]).report, 'the rest, once; the unfinished line left');
  });

  it('a missing partial (a child that failed for good) is said, and its bytes are folded by the next run', async () => {
    const store = new MemoryObjectStore();
    const texts = fill([store], 2, 8);
    const p = await plan(store, 'run-1');
    await fold(store, p);
    const [first] = await itemsOf(store, p);
    await store.delete(BUCKET, runKeys(p.runPrefix).partial(first!));
    const run = await merge(store, p);
    assert.ok(run.problems.some((problem) => problem.includes('were not folded by this run (no partial)')), run.problems.join('\n'));
    const next = await plan(store, 'run-2');
    assert.deepEqual((await itemsOf(store, next)).map((i) => [i.key, i.start]), [[first!.key, 0]]);
    await fold(store, next);
    assertSameReport((await merge(store, next)).report, referenceRun(texts).report, 'after the next run');
  });
});
