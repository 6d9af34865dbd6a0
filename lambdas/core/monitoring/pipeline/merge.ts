// The fan-out's merge: adds the children's partials to the hour summaries, then judges each model on the merge of
// its window's hours, as a run of the single function does (runDriftMonitor with this as its judge: the same
// metrics, state and one report per change). Exactly once: a summary records, per object, the byte it was folded
// up to, in the same PUT as the state. A range's partial is added only when its summary is at the range's first
// byte, and then moves it to the range's end; so a merge retried after it wrote some hours, a child that ran
// twice, or a run planned over the same bytes by an overlapping run adds nothing twice. A range that cannot be
// added (its partial missing, or its object folded elsewhere meanwhile) is said; its bytes stay unrecorded, and
// the next run folds them from its summary's offsets.
import { listAll, ObjectNotFoundError, readText, type ObjectStore, type StoredObject } from '../../storage/object-store';
import { MAX_SUMMARY_PROBLEMS, writeHourSummary } from '../summaries/hour-summary';
import { hourOfSummaryKey, hourSummaryKey, summaryModelPrefix } from '../summaries/summary-keys';
import { addProblem, hourSummaryOf, startingPoint, type HourFigures, type WindowFold } from '../summaries/window-fold';
import { DEFAULT_SUMMARY_MARGIN_HOURS, monitorRunOf, type CaptureWindow, type MonitoredModel, type MonitorRun } from '../monitor/drift-monitor';
import { DRIFT_SUMMARY_KIND, driftFolder, type DriftFold } from '../monitor/drift-fold';
import { MonitorPipelineError, PARTIAL_FORMAT, runKeys, type MonitorPlan, type PlanFile, type RangeItem, type RangePartial } from './types';

const HOUR_MS = 3_600_000;

export interface MergeRequest {
  readonly store: ObjectStore;
  readonly bucket: string;
  /** The plan step's answer. */
  readonly plan: MonitorPlan;
  /** @default DEFAULT_SUMMARY_MARGIN_HOURS */
  readonly summaryMarginHours?: number;
  /** The time written in the summaries. @default now */
  readonly now?: Date;
}

export interface MergeJudge {
  /** The run's window and time, as planned. */
  readonly window: CaptureWindow;
  readonly time: Date;
  /** Merges one model's partials into its hour summaries and judges its window (runDriftMonitor's judge). */
  judge(model: MonitoredModel): Promise<MonitorRun>;
}

/** Reads the run's plan and items once; the judge then merges model by model. */
export async function createMergeJudge(request: MergeRequest): Promise<MergeJudge> {
  const { store, bucket, plan } = request;
  if (!plan || typeof plan.planKey !== 'string' || typeof plan.itemsKey !== 'string' || typeof plan.runPrefix !== 'string') throw new MonitorPipelineError('the event must be {"plan": <the plan step\'s answer>}');
  const file = JSON.parse(await readText(store, bucket, plan.planKey)) as PlanFile;
  const items = (await readText(store, bucket, plan.itemsKey))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RangeItem);
  const byHour = new Map<string, RangeItem[]>();
  for (const item of items) {
    const at = `${item.model}\n${item.hour}`;
    byHour.set(at, [...(byHour.get(at) ?? []), item]);
  }
  const window = { from: new Date(file.window.from), to: new Date(file.window.to) };
  const now = request.now ?? new Date();
  const margin = request.summaryMarginHours ?? DEFAULT_SUMMARY_MARGIN_HOURS;
  const keys = runKeys(plan.runPrefix);
  return {
    window,
    time: new Date(file.time),
    judge: async (model) => {
      const planned = file.models.find((m) => m.model === model.name);
      if (!planned) throw new MonitorPipelineError(`${model.name} is not in the run's plan ${plan.planKey}`);
      if (planned.error !== undefined) throw new MonitorPipelineError(`${model.name} could not be planned: ${planned.error}`);
      if (planned.version !== model.version) throw new MonitorPipelineError(`${model.name}: the plan is for version ${planned.version}, the monitor watches ${model.version}`);
      const folder = driftFolder(model.runtime, model.card);
      const first = new Date(planned.hours[0]!.hour);
      const before = first.getTime() - margin * HOUR_MS;
      const existing = new Map<string, StoredObject>();
      let summariesDeleted = 0;
      for (const object of await listAll(store, bucket, summaryModelPrefix(DRIFT_SUMMARY_KIND, model.name))) {
        const hour = hourOfSummaryKey(object.key);
        if (hour !== undefined && hour.getTime() < before) {
          await store.delete(bucket, object.key);
          summariesDeleted++;
        } else {
          existing.set(object.key, object);
        }
      }
      const total = folder.empty();
      const hours: HourFigures[] = [];
      const run = { objectsRead: 0, bytesRead: 0, linesFolded: 0, rowsFolded: 0, pendingBytes: 0, summariesWritten: 0, objects: 0 };
      const problemsByHour: string[][] = [];
      for (const plannedHour of planned.hours) {
        const hour = new Date(plannedHour.hour);
        const key = hourSummaryKey(DRIFT_SUMMARY_KIND, model.name, model.version, hour);
        const { state, notes } = await startingPoint(store, bucket, existing.get(key), folder, plannedHour.prefix);
        let changed = notes.length > 0 && plannedHour.objects > 0;
        for (const note of notes) addProblem(state, `${key}: ${note}`);
        for (const { key: object, size } of plannedHour.shrank) {
          const done = state.objects[object];
          if (!done || done.shrank || size >= done.bytes) continue;
          state.objects[object] = { ...done, shrank: true };
          addProblem(state, `${object}: now ${size} bytes, of which ${done.bytes} were folded before: replaced, its new content is not read`);
          changed = true;
        }
        let hourRows = 0;
        for (const item of byHour.get(`${model.name}\n${plannedHour.hour}`) ?? []) {
          let partial: RangePartial;
          try {
            partial = JSON.parse(await readText(store, bucket, keys.partial(item))) as RangePartial;
          } catch (error) {
            if (!(error instanceof ObjectNotFoundError)) throw error;
            addProblem(state, `${item.key}: bytes ${item.start}-${item.end} were not folded by this run (no partial); the next run folds them`);
            continue;
          }
          if (partial.format !== PARTIAL_FORMAT || partial.key !== item.key || partial.start !== item.start || partial.fingerprint !== folder.fingerprint) {
            addProblem(state, `${item.key}: the partial of bytes ${item.start}-${item.end} is not of this range or baseline; the next run folds them`);
            continue;
          }
          const done = state.objects[item.key];
          const at = done?.bytes ?? 0;
          if (at >= partial.next && partial.next > partial.start) continue; // added by an earlier try of this merge
          if (at !== partial.start) {
            addProblem(state, `${item.key}: folded up to byte ${at} elsewhere meanwhile, not ${partial.start}; this run's partial is left out and the next run folds from there`);
            changed = true;
            continue;
          }
          for (const problem of partial.problems) addProblem(state, problem);
          run.objectsRead++;
          run.bytesRead += partial.bytesRead;
          run.pendingBytes += partial.pendingBytes;
          if (partial.next > partial.start) {
            folder.merge(state.accumulator, folder.load(partial.state));
            state.objects[item.key] = { bytes: partial.next, lines: (done?.lines ?? 0) + partial.lines };
            state.lines += partial.lines;
            state.rows += partial.rows;
            state.rejected += partial.rejected;
            run.linesFolded += partial.lines;
            hourRows += partial.rows;
            changed = true;
          }
        }
        if (changed) {
          await writeHourSummary(store, bucket, key, hourSummaryOf(folder, state, { kind: DRIFT_SUMMARY_KIND, model: model.name, version: model.version, hour, source: plannedHour.prefix }, now));
          run.summariesWritten++;
        }
        folder.merge(total, state.accumulator);
        run.rowsFolded += hourRows;
        run.objects += plannedHour.objects;
        problemsByHour.push(state.problems);
        hours.push({ hour, objects: plannedHour.objects, lines: state.lines, rows: state.rows, rejected: state.rejected, rowsFolded: hourRows, written: changed });
      }
      const fold: WindowFold<DriftFold> = {
        total,
        hours,
        ...run,
        summariesDeleted,
        lines: hours.reduce((s, h) => s + h.lines, 0),
        rows: hours.reduce((s, h) => s + h.rows, 0),
        rejected: hours.reduce((s, h) => s + h.rejected, 0),
        problems: problemsByHour.reverse().flat().slice(0, MAX_SUMMARY_PROBLEMS),
      };
      return monitorRunOf(model, { from: first, to: window.to }, hours.length, fold);
    },
  };
}
