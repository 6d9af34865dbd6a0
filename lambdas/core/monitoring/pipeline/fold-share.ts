// A child of the fan-out: folds its share of the plan's ranges, each into a partial summary of its own (the
// accumulator of the range's complete lines and the byte after the last one), written at a key that names the
// range. A retried child folds the same bytes into the same partial and overwrites it: nothing is counted twice,
// since only the merge adds partials to the hour summaries, and it adds each range at most once.
import { ObjectNotFoundError, type ObjectStore } from '../../storage/object-store';
import type { MonitoredModel } from '../monitor/drift-monitor';
import { driftFolder, type DriftFold } from '../monitor/drift-fold';
import { foldObject, type HourState, type LineFolder } from '../summaries/window-fold';
import { MonitorPipelineError, PARTIAL_FORMAT, runKeys, type FoldShareEvent, type FoldShareResult, type RangePartial } from './types';

export interface FoldShareRequest {
  readonly store: ObjectStore;
  readonly bucket: string;
  /** The monitored models by name (their live version's card). */
  readonly models: ReadonlyMap<string, MonitoredModel>;
  readonly event: FoldShareEvent;
  /** Longest capture line read. @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
}

export async function foldShare(request: FoldShareRequest): Promise<FoldShareResult> {
  const { store, bucket, event } = request;
  if (!event || !Array.isArray(event.Items) || typeof event.BatchInput?.runPrefix !== 'string') throw new MonitorPipelineError('the event must be {"Items": [...], "BatchInput": {"runPrefix": ...}}');
  const keys = runKeys(event.BatchInput.runPrefix);
  const folders = new Map<string, LineFolder<DriftFold>>();
  const result = { ranges: 0, bytesRead: 0, lines: 0, rows: 0 };
  for (const item of event.Items) {
    const model = request.models.get(item.model);
    if (!model) throw new MonitorPipelineError(`this function folds ${[...request.models.keys()].join(', ')}, not '${item.model}'`);
    if (model.version !== item.version) throw new MonitorPipelineError(`${item.model}: the plan is for version ${item.version}, this function watches ${model.version}`);
    if (!(Number.isInteger(item.start) && Number.isInteger(item.end) && 0 <= item.start && item.start < item.end)) throw new MonitorPipelineError(`${item.key}: bad range [${item.start}, ${item.end})`);
    let folder = folders.get(item.model);
    if (!folder) folders.set(item.model, (folder = driftFolder(model.runtime, model.card)));
    const state: HourState<DriftFold> = { accumulator: folder.empty(), objects: {}, lines: 0, rows: 0, rejected: 0, problems: [] };
    let read = { next: item.start, bytesRead: 0, pendingBytes: 0 };
    try {
      read = await foldObject(store, bucket, { key: item.key, size: item.end }, item.start, item.lines, state, folder, request.maxLineBytes);
    } catch (error) {
      // Listed, then gone before it was read: nothing of it folded, and said.
      if (!(error instanceof ObjectNotFoundError)) throw error;
      state.problems.push(`${item.key}: gone before it was read`);
    }
    const partial: RangePartial = {
      format: PARTIAL_FORMAT,
      model: item.model,
      version: item.version,
      hour: item.hour,
      key: item.key,
      start: item.start,
      end: item.end,
      next: read.next,
      fingerprint: folder.fingerprint,
      lines: state.lines,
      rows: state.rows,
      rejected: state.rejected,
      problems: state.problems,
      bytesRead: read.bytesRead,
      pendingBytes: read.pendingBytes,
      state: folder.save(state.accumulator),
    };
    await store.write(bucket, keys.partial(item), `${JSON.stringify(partial)}\n`, 'application/json');
    result.ranges++;
    result.bytesRead += read.bytesRead;
    result.lines += state.lines;
    result.rows += state.rows;
  }
  return result;
}
