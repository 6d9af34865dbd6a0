// foldWindow, the plane every monitor folds on (drift now; quality and data-quality monitors next): any
// LineFolder gets the same hour summaries under its own kind, the same exactly-once offsets, and the same
// rejected-line accounting. A small folder that counts and sums numbers stands in for a monitor here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldWindow, type HourSource, type LineFolder } from '../../../../lambdas/core/monitoring/summaries/window-fold';
import { parseHourSummary } from '../../../../lambdas/core/monitoring/summaries/hour-summary';
import { hourSummaryKey, summaryModelPrefix } from '../../../../lambdas/core/monitoring/summaries/summary-keys';
import { listAll } from '../../../../lambdas/core/storage/object-store';
import { MemoryObjectStore } from '../../../fixtures/memory-object-store';

interface Tally {
  count: number;
  sum: number;
}

/** Folds lines `{"x": <number>}`: how many, and their sum. */
const tally: LineFolder<Tally> = {
  fingerprint: 'tally/1',
  empty: () => ({ count: 0, sum: 0 }),
  save: (t) => ({ ...t }),
  load: (state) => ({ ...(state as Tally) }),
  merge: (into, from) => {
    into.count += from.count;
    into.sum += from.sum;
  },
  fold: (t, line) => {
    const x = (JSON.parse(line) as { x?: unknown }).x;
    if (typeof x !== 'number') throw new RangeError('"x" is not a number');
    t.count++;
    t.sum += x;
    return 1;
  },
};

const H0 = new Date('2026-12-07T08:00:00.000Z');
const H1 = new Date('2026-12-07T09:00:00.000Z');
const hours: HourSource[] = [
  { hour: H0, prefix: 'in/08/' },
  { hour: H1, prefix: 'in/09/' },
];
const request = (store: MemoryObjectStore, kind = 'tally') => ({ store, bucket: 'b', kind, model: 'm', version: '1', hours, folder: tally });

describe('foldWindow with any LineFolder', () => {
  it('keeps each kind of monitor in its own summaries, counts and says unreadable lines, and folds only what is new', async () => {
    const store = new MemoryObjectStore();
    store.put('in/08/a.jsonl', '{"x":1}\n{"x":2}\nnope\n{"y":3}\n');
    store.put('in/09/a.jsonl', '{"x":10}\n{"x":');
    const first = await foldWindow(request(store));
    assert.deepEqual(first.total, { count: 3, sum: 13 });
    assert.deepEqual([first.lines, first.rows, first.rejected, first.objectsRead, first.summariesWritten, first.pendingBytes], [5, 3, 2, 2, 2, 5]);
    assert.deepEqual(first.problems, ['in/08/a.jsonl line 3: not JSON', 'in/08/a.jsonl line 4: "x" is not a number']);
    const other = await foldWindow(request(store, 'other'));
    assert.deepEqual(other.total, first.total, 'another kind folds the same captures apart');
    assert.deepEqual((await listAll(store, 'b', 'monitor/summaries/')).map((o) => o.key), [
      hourSummaryKey('other', 'm', '1', H0),
      hourSummaryKey('other', 'm', '1', H1),
      hourSummaryKey('tally', 'm', '1', H0),
      hourSummaryKey('tally', 'm', '1', H1),
    ]);
    assert.equal(summaryModelPrefix('tally', 'm'), 'monitor/summaries/tally/model=m/');

    store.append('in/09/a.jsonl', '20}\n');
    store.resetCounts();
    const second = await foldWindow(request(store));
    assert.deepEqual(second.total, { count: 4, sum: 33 });
    assert.deepEqual([second.objectsRead, second.bytesRead, second.rowsFolded, second.summariesWritten], [1, 9, 1, 1], 'the unfinished line, whole now, and nothing else');
    const h1 = parseHourSummary(await store.read('b', hourSummaryKey('tally', 'm', '1', H1)));
    assert.deepEqual([h1.objects['in/09/a.jsonl'], h1.state], [{ bytes: 18, lines: 2 }, { count: 2, sum: 30 }]);
  });

  it('a run that dies at its second summary write, then a rerun: every line once', async () => {
    const store = new MemoryObjectStore();
    store.put('in/08/a.jsonl', '{"x":1}\n');
    store.put('in/09/a.jsonl', '{"x":2}\n');
    await foldWindow(request(store));
    store.put('in/08/b.jsonl', '{"x":4}\n');
    store.append('in/09/a.jsonl', '{"x":8}\n');
    store.failOnWrite(2);
    await assert.rejects(foldWindow(request(store)), /the run dies here/);
    const rerun = await foldWindow(request(store));
    assert.deepEqual([rerun.total, rerun.summariesWritten], [{ count: 4, sum: 15 }, 1]);
  });
});
