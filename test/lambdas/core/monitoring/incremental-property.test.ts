// Property: whatever way captures arrive, the incremental monitor judges what a full-window computation judges.
// Random traffic (seeded) around the breast-cancer baseline, some hours shifted, some unreadable lines, is
// split at random into hours (one before the window, never to count), files per hour, and runs; a file
// appears at a random run (late, for an hour long past), grows at random cut points (the last line often
// unfinished), and runs die at random writes and are run again. After every run the figures must equal the
// reference: every complete line of the window's hours visible at that moment, folded in one accumulator.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lambdaCaptureHourPrefix } from '../../../../lambdas/core/monitoring/capture/capture-keys';
import { monitorModel } from '../../../../lambdas/core/monitoring/monitor/drift-monitor';
import { windowEndingAt } from '../../../../lambdas/core/monitoring/monitor/monitor-run';
import { wholeHoursOf } from '../../../../lambdas/core/monitoring/summaries/summary-keys';
import { createRandom } from '../../../../lambdas/core/models/training/random';
import { assertSameReport, captureText, model, referenceRun } from '../../../fixtures/capture-traffic';
import { MemoryObjectStore } from '../../../fixtures/memory-object-store';

const BUCKET = 'captures';
const HOUR = 3_600_000;
const TRIALS = 60;

interface CaptureFile {
  readonly key: string;
  readonly text: string;
  readonly inWindow: boolean;
  /** The run it first appears in. */
  readonly appears: number;
  visible: number;
}

/** Lines that cannot be read, as they turn up in real files. */
const BAD_LINES = ['not json', '{"mlshipCapture":1,"model":"breast-cancer","version":"1","time":"2026-12-07T10:00:00.000Z","capturePercent":10,"inputs":[[1,2,3]]}', '{"mlshipCapture":1}', '   '];

describe('incremental drift monitoring, property over random data', () => {
  it(`equals the full-window computation after every run (${TRIALS} seeded trials of random hours, files, runs, cut points and crashes)`, async () => {
    const random = createRandom(2026_12_07);
    const verdicts = new Map<string, number>();
    for (let trial = 0; trial < TRIALS; trial++) {
      const now = new Date(Date.UTC(2026, 11, 7, 10, random.int(60), random.int(60)));
      const window = windowEndingAt(now, 1 + random.int(4));
      const hours = wholeHoursOf(window);
      const runs = 1 + random.int(4);
      const files: CaptureFile[] = [];
      for (const hour of [new Date(hours[0]!.getTime() - HOUR), ...hours]) {
        const shifted = random.next() < 0.4;
        for (let f = 0, count = 1 + random.int(3); f < count; f++) {
          let text = captureText({ requests: random.int(30), seed: random.int(1e9), shifted: shifted ? 3 : 0, by: 0.5 + random.next(), time: new Date(hour.getTime() + random.int(HOUR)) });
          if (random.next() < 0.3) {
            // an unreadable line somewhere among the others
            const lines = text.split('\n');
            lines.splice(random.int(lines.length), 0, BAD_LINES[random.int(BAD_LINES.length)]!);
            text = lines.join('\n');
          }
          files.push({ key: `${lambdaCaptureHourPrefix('breast-cancer', '1', hour)}f${f}.jsonl`, text, inWindow: hour >= hours[0]!, appears: random.int(runs), visible: 0 });
        }
      }
      const store = new MemoryObjectStore({ pieceBytes: 1 + random.int(3000) });
      for (let r = 0; r < runs; r++) {
        for (const file of files) {
          if (file.appears > r) continue;
          // grows to a random point past what was there (the whole file by the last run)
          file.visible = r === runs - 1 ? file.text.length : file.visible + random.int(file.text.length - file.visible + 1);
          store.put(file.key, file.text.slice(0, file.visible));
        }
        const context = `trial ${trial} (${hours.length} h, ${files.length} files, pieces of ${store.pieceBytes}), run ${r + 1} of ${runs}`;
        if (random.next() < 0.3) {
          store.failOnWrite(1 + random.int(3));
          // dies at a write, or (writing fewer summaries than that) does not; then runs again
          await monitorModel(store, BUCKET, model, window, { now }).catch((error: Error) => assert.match(error.message, /the run dies here/));
          store.clearFailure();
        }
        const run = await monitorModel(store, BUCKET, model, window, { now });
        const reference = referenceRun(files.filter((f) => f.inWindow).map((f) => f.text.slice(0, f.visible)));
        assertSameReport(run.report, reference.report, context);
        assert.deepEqual([run.recordsRead, run.recordsRejected, run.rowsInWindow], [reference.lines, reference.rejected, reference.report.rows], context);
        verdicts.set(run.report.verdict, (verdicts.get(run.report.verdict) ?? 0) + 1);
      }
    }
    // the trials judged every kind of verdict, so the comparison covered them all
    assert.deepEqual([...verdicts.keys()].sort(), ['drift', 'no drift', 'not enough data'], JSON.stringify([...verdicts]));
  });
});
