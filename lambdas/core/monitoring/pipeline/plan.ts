// The fan-out's plan step: what arrived since the last run, in every model's window, without reading it. Per
// model and hour it lists the captures and reads the hour's summary (as a run does), and finds each object's
// new bytes: [the byte its summary was folded up to, its size now). Those ranges are disjoint from everything
// folded, and from each other. Little new data (at most fanOutAboveBytes): the single function folds it, as it
// always did. More: the ranges are written as the Distributed Map's items, grouped into shares of at most
// shareBytes (or one range, when a range alone is larger).
import { listAll, type ObjectStore, type StoredObject } from '../../storage/object-store';
import type { CaptureWindow, MonitoredModel } from '../monitor/drift-monitor';
import { capturePrefixes } from '../monitor/drift-monitor';
import { DRIFT_SUMMARY_KIND, driftFolder } from '../monitor/drift-fold';
import { hourSummaryKey, summaryModelPrefix, wholeHoursOf } from '../summaries/summary-keys';
import { startingPoint } from '../summaries/window-fold';
import { DEFAULT_FAN_OUT_ABOVE_BYTES, DEFAULT_SHARE_BYTES, MAX_RANGES_PER_SHARE, runKeys, runPrefixFor, type MonitorPlan, type PlanFile, type PlannedHour, type PlannedModel, type RangeItem } from './types';

export interface PlanRequest {
  readonly store: ObjectStore;
  readonly bucket: string;
  readonly models: readonly MonitoredModel[];
  readonly window: CaptureWindow;
  /** `$$.Execution.Name`: names the run's files. */
  readonly executionName: string;
  /** @default DEFAULT_FAN_OUT_ABOVE_BYTES */
  readonly fanOutAboveBytes?: number;
  /** @default DEFAULT_SHARE_BYTES */
  readonly shareBytes?: number;
}

/** Plans a run: the new ranges of every model's window, and whether they fan out. */
export async function planMonitorRun(request: PlanRequest): Promise<MonitorPlan> {
  const { store, bucket, window } = request;
  const fanOutAboveBytes = request.fanOutAboveBytes ?? DEFAULT_FAN_OUT_ABOVE_BYTES;
  const shareBytes = request.shareBytes ?? DEFAULT_SHARE_BYTES;
  if (!(Number.isInteger(fanOutAboveBytes) && fanOutAboveBytes >= 0)) throw new RangeError(`fanOutAboveBytes must be a whole number of bytes, 0 or more, received ${fanOutAboveBytes}`);
  if (!(Number.isInteger(shareBytes) && shareBytes >= 1)) throw new RangeError(`shareBytes must be a whole number of bytes, 1 or more, received ${shareBytes}`);
  const runPrefix = runPrefixFor(request.executionName);
  const keys = runKeys(runPrefix);
  const items: RangeItem[] = [];
  const models: PlannedModel[] = [];
  for (const model of request.models) {
    try {
      models.push(await planModel(store, bucket, model, window, items));
    } catch (error) {
      // The merge reports it as this model's failure, as a run does; the other models go on.
      models.push({ model: model.name, version: model.version, hours: [], error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    }
  }
  const newBytes = items.reduce((sum, item) => sum + (item.end - item.start), 0);
  const fanOut = newBytes > fanOutAboveBytes && items.length > 0;
  const largest = items.reduce((max, item) => Math.max(max, item.end - item.start), 1);
  const rangesPerShare = Math.max(1, Math.min(MAX_RANGES_PER_SHARE, Math.floor(shareBytes / largest)));
  if (fanOut) {
    const file: PlanFile = { time: window.to.toISOString(), window: { from: window.from.toISOString(), to: window.to.toISOString() }, models };
    await store.write(bucket, keys.plan, `${JSON.stringify(file)}\n`, 'application/json');
    await store.write(bucket, keys.items, items.map((item) => `${JSON.stringify(item)}\n`).join(''), 'application/x-ndjson');
  }
  return {
    time: window.to.toISOString(),
    fanOut,
    newBytes,
    ranges: items.length,
    shares: fanOut ? Math.ceil(items.length / rangesPerShare) : 0,
    rangesPerShare,
    runPrefix,
    planKey: keys.plan,
    itemsKey: keys.items,
    resultsPrefix: keys.results,
  };
}

async function planModel(store: ObjectStore, bucket: string, model: MonitoredModel, window: CaptureWindow, items: RangeItem[]): Promise<PlannedModel> {
  const folder = driftFolder(model.runtime, model.card);
  const summaries = new Map<string, StoredObject>((await listAll(store, bucket, summaryModelPrefix(DRIFT_SUMMARY_KIND, model.name))).map((o) => [o.key, o]));
  const prefixes = capturePrefixes(model, window);
  const hours: PlannedHour[] = [];
  for (const [i, hour] of wholeHoursOf(window).entries()) {
    const prefix = prefixes[i]!;
    const listed = await listAll(store, bucket, prefix);
    // What the hour's summary says is folded (nothing, when it is missing or does not fit: the hour is folded again).
    const { state } = await startingPoint(store, bucket, summaries.get(hourSummaryKey(DRIFT_SUMMARY_KIND, model.name, model.version, hour)), folder, prefix);
    const shrank: { key: string; size: number }[] = [];
    for (const object of listed) {
      const done = state.objects[object.key];
      const from = done?.bytes ?? 0;
      if (object.size === from || done?.shrank) continue;
      if (object.size < from) shrank.push({ key: object.key, size: object.size });
      else items.push({ model: model.name, version: model.version, hour: hour.toISOString(), key: object.key, start: from, end: object.size, lines: done?.lines ?? 0 });
    }
    hours.push({ hour: hour.toISOString(), prefix, objects: listed.length, shrank });
  }
  return { model: model.name, version: model.version, hours };
}
