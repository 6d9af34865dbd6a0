// The quality monitor's join and figures over 1,000,000 predictions with 1,000,000 labels (issue 17's goal:
// under 2 s on 2 cores): breast-cancer's prediction record lines (one request, one instance, probabilities:
// the worst case, one line per prediction) spread over the 24 hours of the window, one object per hour, and
// a label for every one of them received half an hour later, as the feedback API writes them, in an in-memory
// ObjectStore; joinQualityWindow + qualityFigures (judgeQualityModel) against the baseline of reading the same
// lines with readLines doing nothing. Also the label table's memory per label (heap growth of 1M labels kept,
// measured when node runs with --expose-gc).
// Run alone: node --expose-gc --import tsx bench/quality/quality-join.ts [--quick]
import { pathToFileURL } from 'node:url';
import type { Row } from '../run';
import { readLines } from '../../lambdas/core/storage/line-reader';
import { listAll } from '../../lambdas/core/storage/object-store';
import { qualitySettingsSchema } from '../../lambdas/core/manifest/schema';
import { modelCardSchema, type ModelCard } from '../../lambdas/core/models/model-card';
import { groundTruthHourPrefix } from '../../lambdas/core/quality/feedback/label-keys';
import { LabelTable } from '../../lambdas/core/quality/monitor/quality-join';
import { judgeQualityModel } from '../../lambdas/core/quality/monitor/run-quality-monitor';
import { newInferenceId } from '../../lambdas/core/quality/predictions/inference-id';
import { predictionLines } from '../../lambdas/core/quality/predictions/prediction-record';
import { predictionsHourPrefix } from '../../lambdas/core/quality/predictions/prediction-sink';
import { createRandom } from '../../lambdas/core/models/training/random';
import { MemoryObjectStore } from '../../test/fixtures/memory-object-store';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const PREDICTIONS = Number(process.env.QUALITY_JOIN_BENCH_PREDICTIONS ?? 1_000_000);
const HOURS = 24;
const TARGET_MS = 2000;
const NOW = new Date('2026-03-02T00:00:00Z');
const BUCKET = 'capture';

export function card(): ModelCard {
  return modelCardSchema.parse(JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'models', 'breast-cancer', '1', 'model.json'), 'utf8')));
}

/** The store with the window's prediction records and their labels; the ids, for the memory figure. */
export function traffic(c: ModelCard): { store: MemoryObjectStore; ids: string[] } {
  const store = new MemoryObjectStore();
  const { next } = createRandom(23);
  const ids: string[] = [];
  const perHour = PREDICTIONS / HOURS;
  for (let h = 0; h < HOURS; h++) {
    const hour = new Date(NOW.getTime() - (HOURS - h) * 3_600_000);
    const predictions: string[] = [];
    const labels: string[] = [];
    const count = h === HOURS - 1 ? PREDICTIONS - ids.length : Math.round(perHour);
    for (let i = 0; i < count; i++) {
      const id = newInferenceId();
      ids.push(id);
      const time = new Date(hour.getTime() + Math.floor((i / count) * 3_600_000));
      const p = next();
      const predicted = p < 0.5 ? 0 : 1;
      predictions.push(...predictionLines({ model: c.name, version: '1', id, time, count: 1, classes: c.labels, predicted: Int32Array.of(predicted), probabilities: Float32Array.of(1 - p, p) }));
      // Right about 9 times in 10.
      const truth = next() < 0.9 ? predicted : 1 - predicted;
      labels.push(JSON.stringify({ id, index: 0, label: c.labels[truth], time: new Date(time.getTime() + 1_800_000).toISOString() }));
    }
    store.put(`${predictionsHourPrefix(c.name, '1', hour)}part-0.jsonl`, `${predictions.join('\n')}\n`);
    // Labels half an hour later, in the next hour's folder (the last hour's in its own: the window ends there); one object per hour, as a bulk drop would be.
    store.put(`${groundTruthHourPrefix(c.name, new Date(hour.getTime() + (h === HOURS - 1 ? 0 : 3_600_000)))}labels-${h}.jsonl`, `${labels.join('\n')}\n`);
  }
  return { store, ids };
}

async function readAll(store: MemoryObjectStore): Promise<number> {
  let lines = 0;
  for (const object of await listAll(store, BUCKET, '')) {
    const read = await readLines(store, BUCKET, object.key, { line: () => undefined, tooLong: () => undefined });
    lines += read.lines;
  }
  return lines;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Heap bytes per label kept in the join's label table (undefined without --expose-gc). */
function bytesPerLabel(ids: readonly string[]): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  gc();
  const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  // Fresh copies of the ids, as the join makes them reading lines (not the generator's strings).
  const copies = ids.map((id) => Buffer.from(id).toString());
  const table = new LabelTable();
  for (let i = 0; i < copies.length; i++) table.add(copies[i]!, 0, i & 1, 1.7e12 + i);
  copies.length = 0;
  gc();
  const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const bytes = (after - before) / table.size;
  return table.size === ids.length ? bytes : undefined;
}

export async function qualityJoinBench(options: { readonly quick?: boolean } = {}): Promise<Row[]> {
  const c = card();
  const { store, ids } = traffic(c);
  const model = { name: c.name, card: c, quality: qualitySettingsSchema.parse({ windowHours: HOURS, minLabels: 100 }) };
  const window = { from: new Date(NOW.getTime() - HOURS * 3_600_000), to: NOW };
  const rounds = options.quick ? 2 : 5;
  const joinTimes: number[] = [];
  const readTimes: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let started = performance.now();
    const lines = await readAll(store);
    readTimes.push(performance.now() - started);
    if (lines !== 2 * PREDICTIONS) throw new Error(`read ${lines} lines, expected ${2 * PREDICTIONS}`);
    started = performance.now();
    const run = await judgeQualityModel(store, BUCKET, model, window);
    joinTimes.push(performance.now() - started);
    const v = run.versions[0]!;
    if (v.figures.labelled !== PREDICTIONS || v.figures.predictions !== PREDICTIONS || v.figures.metrics === undefined) throw new Error(`joined ${v.figures.labelled} of ${v.figures.predictions}: expected every one of ${PREDICTIONS}`);
  }
  const ms = median(joinTimes);
  const raw = median(readTimes);
  const perLabel = bytesPerLabel(ids);
  const rows: Row[] = [
    {
      figure: `quality join + figures, ${PREDICTIONS / 1e6}M predictions (one line each) with ${PREDICTIONS / 1e6}M labels over ${HOURS} h`,
      value: `${ms.toFixed(0)} ms (${((2 * PREDICTIONS) / (ms / 1000) / 1e6).toFixed(2)}M lines/s)`,
      baseline: `${raw.toFixed(0)} ms reading the same lines (readLines, nothing done)`,
      ratio: ms / raw,
      target: `< ${TARGET_MS} ms`,
      ok: ms < TARGET_MS,
    },
  ];
  if (perLabel !== undefined) {
    rows.push({ figure: "quality join's label table: heap per label kept (22-character ids)", value: `${perLabel.toFixed(0)} bytes`, baseline: '22 bytes of id', ratio: perLabel / 22, target: 'bounded by the window\'s labels', ok: undefined });
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await qualityJoinBench({ quick: process.argv.includes('--quick') })) console.log(JSON.stringify(row));
}
