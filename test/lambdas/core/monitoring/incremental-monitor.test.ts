// The drift monitor at production volume: a run folds only what arrived since the last one into per-hour
// summaries (monitor/summaries/drift/...), reading captures as streams of lines, and judges the merge of the
// window's hours. Each test counts what a run read or wrote through an in-memory store (or a real folder),
// and compares the figures with the reference: every line of the window folded at once.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { lambdaCaptureHourPrefix } from '../../../../lambdas/core/monitoring/capture/capture-keys';
import { monitorModel } from '../../../../lambdas/core/monitoring/monitor/drift-monitor';
import { windowEndingAt } from '../../../../lambdas/core/monitoring/monitor/monitor-run';
import { parseHourSummary } from '../../../../lambdas/core/monitoring/summaries/hour-summary';
import { hourSummaryKey, wholeHoursOf } from '../../../../lambdas/core/monitoring/summaries/summary-keys';
import { ObjectNotFoundError } from '../../../../lambdas/core/storage/object-store';
import { FolderObjectStore } from '../../../../local/storage/folder-object-store';
import { assertSameReport, captureText, card, model, referenceRun } from '../../../fixtures/capture-traffic';
import { MemoryObjectStore } from '../../../fixtures/memory-object-store';
import { tempDirMaker } from '../../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-incremental-');
const BUCKET = 'captures';
const HOUR = 3_600_000;
const NOW = new Date('2026-12-07T10:30:00.000Z');
/** Three hours: 08:00, 09:00 and 10:00 (so far). */
const WINDOW = windowEndingAt(NOW, 3);
const [H8, H9, H10] = wholeHoursOf(WINDOW) as [Date, Date, Date];
const at = (hour: Date, minutes = 10) => new Date(hour.getTime() + minutes * 60_000);
const key = (hour: Date, file: string) => `${lambdaCaptureHourPrefix('breast-cancer', '1', hour)}${file}`;
const summaryOf = async (store: MemoryObjectStore, hour: Date) => parseHourSummary(await store.read(BUCKET, hourSummaryKey('drift', 'breast-cancer', '1', hour)));

describe('the incremental drift monitor', () => {
  it('covers whole UTC hours: a 24-hour window is the current hour and the 23 before; a shorter-than-an-hour window the hours it touches', () => {
    const day = wholeHoursOf(windowEndingAt(NOW, 24));
    assert.equal(day.length, 24);
    assert.deepEqual([day[0]!.toISOString(), day[23]!.toISOString()], ['2026-12-06T11:00:00.000Z', '2026-12-07T10:00:00.000Z']);
    assert.deepEqual(wholeHoursOf({ from: new Date('2026-12-07T09:00:00Z'), to: new Date('2026-12-07T10:00:00Z') }).map((h) => h.toISOString()), ['2026-12-07T09:00:00.000Z'], 'an hour that just ended');
    assert.deepEqual(wholeHoursOf({ from: new Date('2026-12-07T09:55:00Z'), to: new Date('2026-12-07T10:05:00Z') }).map((h) => h.toISOString()), ['2026-12-07T09:00:00.000Z', '2026-12-07T10:00:00.000Z'], 'a time-scaled local window');
    assert.throws(() => wholeHoursOf({ from: NOW, to: NOW }), /the window must end after it starts/);
  });

  it('folds a capture file many times larger than the longest line it may hold, from small pieces, never reading it whole; a longer line is rejected with its length', async () => {
    const store = new MemoryObjectStore({ pieceBytes: 1000, wholeReadsOnlyUnder: 'monitor/' });
    const text = captureText({ requests: 300, seed: 1, time: at(H10) });
    const long = captureText({ requests: 1, maxRows: 1, seed: 2, time: at(H10) }).replace('"capturePercent"', `"padding":"${'p'.repeat(5000)}","capturePercent"`);
    const body = text + long + captureText({ requests: 20, seed: 3, time: at(H10) });
    store.put(key(H10, 'big.jsonl'), body);
    assert.ok(body.length > 100 * 2048, `the file (${body.length} bytes) is over 100 times the line limit`);
    const run = await monitorModel(store, BUCKET, model, WINDOW, { maxLineBytes: 2048, now: NOW });
    const reference = referenceRun([text, captureText({ requests: 20, seed: 3, time: at(H10) })]);
    assertSameReport(run.report, reference.report, 'big file');
    assert.equal(run.recordsRead, reference.lines + 1);
    assert.equal(run.recordsRejected, 1);
    assert.match(run.problems[0]!, /big\.jsonl line \d+: 5\d{3} bytes, longer than a capture line may be \(2048\); skipped unread/);
    assert.deepEqual([run.objectsRead, run.bytesRead, run.rowsFolded], [1, body.length, reference.report.rows]);
  });

  it('a second run reads only the new object (one summary per hour besides); a third with nothing new reads no capture', async () => {
    const store = new MemoryObjectStore();
    const texts = [captureText({ requests: 40, seed: 4, time: at(H8) }), captureText({ requests: 40, seed: 5, time: at(H9) }), captureText({ requests: 40, seed: 6, time: at(H10) })];
    [H8, H9, H10].forEach((h, i) => store.put(key(h, 'a.jsonl'), texts[i]!));
    const first = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assert.deepEqual([first.objectsRead, first.bytesRead, first.summariesWritten, first.hours], [3, texts.join('').length, 3, 3]);
    assertSameReport(first.report, referenceRun(texts).report, 'first run');

    store.resetCounts();
    const added = captureText({ requests: 25, seed: 7, time: at(H10, 40) });
    store.put(key(H10, 'b.jsonl'), added);
    const second = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assert.deepEqual(store.readsUnder('lambda/').keys, [key(H10, 'b.jsonl')], 'only the new object streamed');
    assert.deepEqual([second.objectsRead, second.bytesRead, second.summariesWritten, second.files], [1, added.length, 1, 4]);
    assert.deepEqual(store.written, [hourSummaryKey('drift', 'breast-cancer', '1', H10)]);
    assert.equal(store.wholeReads.filter((k) => k.startsWith('monitor/summaries/')).length, 3, 'one summary read per hour of the window');
    const all = referenceRun([...texts, added]);
    assert.equal(second.rowsFolded, referenceRun([added]).report.rows);
    assert.equal(second.rowsInWindow, all.report.rows);
    assertSameReport(second.report, all.report, 'second run');

    store.resetCounts();
    const third = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assert.deepEqual([third.objectsRead, third.bytesRead, third.summariesWritten, store.readsUnder('lambda/').streams], [0, 0, 0, 0]);
    assertSameReport(third.report, all.report, 'third run');
  });

  it('a run that dies at any of its writes, then a rerun, count every row exactly once', async () => {
    for (let failAt = 1; failAt <= 3; failAt++) {
      const store = new MemoryObjectStore();
      const texts = [captureText({ requests: 30, seed: 8, time: at(H8) }), captureText({ requests: 30, seed: 9, time: at(H9) }), captureText({ requests: 30, seed: 10, time: at(H10) })];
      [H8, H9, H10].forEach((h, i) => store.put(key(h, 'a.jsonl'), texts[i]!));
      await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
      // new captures in every hour, then a run that dies when it writes its failAt-th summary
      const more = [H8, H9, H10].map((h, i) => captureText({ requests: 20, seed: 20 + i, shifted: 3, by: 1.5, time: at(h, 50) }));
      [H8, H9, H10].forEach((h, i) => store.put(key(h, 'b.jsonl'), more[i]!));
      store.failOnWrite(failAt);
      await assert.rejects(monitorModel(store, BUCKET, model, WINDOW, { now: NOW }), /the run dies here/);
      const rerun = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
      const all = referenceRun([...texts, ...more]);
      assert.equal(rerun.summariesWritten, 3 - (failAt - 1), `died at write ${failAt}: the hours written before it are not folded again`);
      assert.equal(rerun.recordsRead, all.lines, `died at write ${failAt}: every line once`);
      assertSameReport(rerun.report, all.report, `died at write ${failAt}`);
      assert.equal(rerun.report.verdict, 'drift');
    }
  });

  it('a file that arrives late for a past hour is folded into that hour', async () => {
    const store = new MemoryObjectStore();
    const texts = [captureText({ requests: 30, seed: 11, time: at(H8) }), captureText({ requests: 30, seed: 12, time: at(H10) })];
    store.put(key(H8, 'a.jsonl'), texts[0]!);
    store.put(key(H10, 'a.jsonl'), texts[1]!);
    await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    const rowsBefore = (await summaryOf(store, H8)).rows;
    const late = captureText({ requests: 15, seed: 13, time: at(H8, 59) });
    store.put(key(H8, 'late.jsonl'), late);
    store.resetCounts();
    const run = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assert.deepEqual([run.objectsRead, run.bytesRead], [1, late.length]);
    assert.deepEqual(store.written, [hourSummaryKey('drift', 'breast-cancer', '1', H8)], 'only the 08:00 summary changed');
    const h8 = await summaryOf(store, H8);
    assert.equal(h8.rows, rowsBefore + referenceRun([late]).report.rows);
    assert.deepEqual(Object.keys(h8.objects), [key(H8, 'a.jsonl'), key(H8, 'late.jsonl')]);
    assertSameReport(run.report, referenceRun([...texts, late]).report, 'late file');
  });

  it('a local capture file that grows between runs is continued from the byte its last complete line ended (FolderObjectStore)', async () => {
    const folder = tempDir();
    const file = join(folder, key(H10, 'local-1.jsonl'));
    mkdirSync(dirname(file), { recursive: true });
    const text = captureText({ requests: 60, seed: 14, time: at(H10) });
    const cut = Math.floor(text.length * 0.6);
    writeFileSync(file, text.slice(0, cut));
    const store = new FolderObjectStore({ [BUCKET]: folder });
    const first = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assertSameReport(first.report, referenceRun([text.slice(0, cut)]).report, 'the complete lines so far');
    const folded = text.lastIndexOf('\n', cut - 1) + 1;
    assert.equal(first.bytesRead, cut);
    appendFileSync(file, text.slice(cut));
    const more = captureText({ requests: 10, seed: 15, time: at(H10, 20) });
    appendFileSync(file, more);
    const second = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assert.equal(second.bytesRead, statSync(file).size - folded, 'read from the offset it stopped at');
    assert.equal(second.objectsRead, 1);
    assertSameReport(second.report, referenceRun([text, more]).report, 'grown file');
    assert.equal(second.rowsFolded + first.rowsFolded, second.rowsInWindow);
  });

  it('an object listed but gone before it is read (local retention dropped it) is said and skipped; the others are folded', async () => {
    const store = new MemoryObjectStore();
    const text = captureText({ requests: 30, seed: 19, time: at(H10) });
    store.put(key(H10, 'a.jsonl'), text);
    store.put(key(H10, 'b.jsonl'), captureText({ requests: 5, seed: 20, time: at(H10) }));
    const stream = store.readStream.bind(store);
    store.readStream = (bucket, k, range) => (k.endsWith('b.jsonl') ? { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new ObjectNotFoundError(bucket, k)) }) } : stream(bucket, k, range));
    const run = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assert.match(run.problems.join('\n'), /b\.jsonl: gone before it was read/);
    assert.equal(run.objectsRead, 1);
    assertSameReport(run.report, referenceRun([text]).report, 'without the file that went');
  });

  it('deletes summaries past the window and its margin; a summary that does not fit (unreadable, another baseline) is folded again, and says so', async () => {
    const store = new MemoryObjectStore();
    const oldHour = new Date(H8.getTime() - 30 * HOUR);
    store.put(key(oldHour, 'a.jsonl'), captureText({ requests: 5, seed: 16, time: at(oldHour) }));
    await monitorModel(store, BUCKET, model, windowEndingAt(at(oldHour, 30), 1), { now: NOW });
    const oldKey = hourSummaryKey('drift', 'breast-cancer', '1', oldHour);
    assert.ok(store.objects.has(oldKey));
    const texts = [captureText({ requests: 30, seed: 17, time: at(H9) }), captureText({ requests: 30, seed: 18, time: at(H10) })];
    store.put(key(H9, 'a.jsonl'), texts[0]!);
    store.put(key(H10, 'a.jsonl'), texts[1]!);
    const kept = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW, summaryMarginHours: 48 });
    assert.equal(kept.summariesDeleted, 0, 'within a 48-hour margin');
    const run = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assert.deepEqual([run.summariesDeleted, store.deleted], [1, [oldKey]], 'past the 24-hour margin');

    store.put(hourSummaryKey('drift', 'breast-cancer', '1', H9), 'not a summary');
    const refolded = await monitorModel(store, BUCKET, model, WINDOW, { now: NOW });
    assert.match(refolded.problems.join('\n'), /09\.json: summary unreadable \(not JSON\): the hour is folded again from its captures/);
    assert.equal(refolded.objectsRead, 1);
    assertSameReport(refolded.report, referenceRun(texts).report, 'refolded hour');

    const other = { ...model, card: { ...card, driftBaseline: { ...card.driftBaseline!, sampleSize: card.driftBaseline!.sampleSize + 1 } } };
    const rebased = await monitorModel(store, BUCKET, other, WINDOW, { now: NOW });
    assert.equal(rebased.objectsRead, 2, 'every hour folded again against the new baseline');
    assert.match(rebased.problems.join('\n'), /summary counted against another baseline/);
    assert.equal(rebased.rowsInWindow, referenceRun(texts).report.rows);
  });
});
