// The drift monitor's fan-out (its state machine, lib/monitoring/drift-monitor.ts): what its steps hand each
// other. The state input stays small; the run's files live in the capture bucket under monitor/runs/<execution>/:
//   plan.json                  the window, and per model its hours (capture prefix, objects found shrunk)
//   ranges.jsonl               the Distributed Map's items: one new byte range of one capture object each,
//                              {"model", "version", "hour", "key", "start", "end"}, [start, end) disjoint
//   partials/<...>.json        one partial summary per range, written by the child that folded it
//   results/<map run id>/...   the Distributed Map's ResultWriter (manifest.json, SUCCEEDED_n, FAILED_n)
// The bucket's lifecycle expires monitor/runs/ after a few days: nothing there is read after its run.
import { createHash } from 'node:crypto';
import { hourPath } from '../capture/capture-keys';
import { MONITOR_PREFIX } from '../summaries/summary-keys';

/** Every run's files: monitor/runs/<execution name>/. */
export const RUNS_PREFIX = `${MONITOR_PREFIX}runs/`;

export const PARTIAL_FORMAT = 'mlship-range-partial/1';

/**
 * New bytes above which a run fans out; also the most one child folds. About 60% of what one run of the
 * 1024 MB monitor function folds in half its 10 minutes at the slower, one-row-per-line rate (docs/monitoring.md
 * "Capacity": 174 core-seconds x 124k lines/s x 323 bytes a line = about 7 GB; batch-64 lines fold 3.5 times
 * more bytes a second).
 */
export const DEFAULT_FAN_OUT_ABOVE_BYTES = 4 * 1024 ** 3;
export const DEFAULT_SHARE_BYTES = 4 * 1024 ** 3;

/** Most ranges one child takes: a batch of items must stay well under Step Functions' 256 KB payload. */
export const MAX_RANGES_PER_SHARE = 500;

/** The plan step's answer (the state input's `plan`). */
export interface MonitorPlan {
  /** The run's time: the window ends there. */
  readonly time: string;
  /** Whether the run fans out (otherwise the single function folds, as it always did). */
  readonly fanOut: boolean;
  /** New bytes found across every model's window, and the ranges they are in. */
  readonly newBytes: number;
  readonly ranges: number;
  /** Children the Distributed Map starts (0 when it does not fan out), and ranges per child. */
  readonly shares: number;
  readonly rangesPerShare: number;
  /** monitor/runs/<execution>/ and its files (written only when fanning out). */
  readonly runPrefix: string;
  readonly planKey: string;
  readonly itemsKey: string;
  readonly resultsPrefix: string;
}

/** One item: the new bytes [start, end) of one capture object of one hour of a model version. */
export interface RangeItem {
  readonly model: string;
  readonly version: string;
  /** The hour's start, ISO 8601. */
  readonly hour: string;
  readonly key: string;
  readonly start: number;
  /** The object's size when planned (it may have grown since: what is past `end` is the next run's). */
  readonly end: number;
  /** Lines of it folded before `start` (problems name lines by their number in the object). */
  readonly lines: number;
}

export interface PlannedHour {
  readonly hour: string;
  /** Its capture prefix, and the capture objects listed there. */
  readonly prefix: string;
  readonly objects: number;
  /** Objects found smaller than folded (replaced): the merge marks them, once. */
  readonly shrank: readonly { readonly key: string; readonly size: number }[];
}

/** plan.json */
export interface PlanFile {
  readonly time: string;
  readonly window: { readonly from: string; readonly to: string };
  readonly models: readonly PlannedModel[];
}

export interface PlannedModel {
  readonly model: string;
  readonly version: string;
  readonly hours: readonly PlannedHour[];
  /** Why the model could not be planned (no baseline, an unreadable prefix): the merge reports it as the model's failure. */
  readonly error?: string;
}

/** A child's event: one ItemBatcher batch. */
export interface FoldShareEvent {
  readonly Items: readonly RangeItem[];
  readonly BatchInput: { readonly runPrefix: string };
}

/** What a child folded (its output: counts only, the states are in the partials). */
export interface FoldShareResult {
  readonly ranges: number;
  readonly bytesRead: number;
  readonly lines: number;
  readonly rows: number;
}

/** One range folded, as a child writes it: the accumulator of its complete lines, and up to where. */
export interface RangePartial {
  readonly format: typeof PARTIAL_FORMAT;
  readonly model: string;
  readonly version: string;
  readonly hour: string;
  readonly key: string;
  readonly start: number;
  readonly end: number;
  /** The byte after its last complete line: the object's folded bytes once merged. */
  readonly next: number;
  readonly fingerprint: string;
  readonly lines: number;
  readonly rows: number;
  readonly rejected: number;
  readonly problems: readonly string[];
  readonly bytesRead: number;
  readonly pendingBytes: number;
  readonly state: unknown;
}

export function runPrefixFor(executionName: string): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(executionName)) throw new RangeError(`executionName must be 1-80 letters, digits, - or _, received '${executionName.slice(0, 100)}'`);
  return `${RUNS_PREFIX}${executionName}/`;
}

export const runKeys = (runPrefix: string) => ({
  plan: `${runPrefix}plan.json`,
  items: `${runPrefix}ranges.jsonl`,
  results: `${runPrefix}results`,
  /** The partial of one range: the same key whoever folds it, so a retried child overwrites its own. */
  partial: (item: RangeItem) =>
    `${runPrefix}partials/model=${item.model}/version=${item.version}/${hourPath(new Date(item.hour))}/${createHash('sha256').update(item.key).digest('hex').slice(0, 32)}-${item.start}-${item.end}.json`,
});

/** The execution's input or a step's event cannot be used. */
export class MonitorPipelineError extends Error {
  override readonly name = 'MonitorPipelineError';
}
