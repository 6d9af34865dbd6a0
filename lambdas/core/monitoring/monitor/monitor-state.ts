// What the monitor remembers between runs, per model, in the capture bucket (monitor/state/<model>.json): whether
// the model was drifting. A report goes out when a model goes from not drifting to drifting, so a model that
// drifts all week sends one message, not one per run.
import type { Verdict } from '../drift/drift-report';
import { ObjectNotFoundError, readText, type ObjectStore } from '../../storage/object-store';
import type { MonitorRun } from './drift-monitor';

/** Key prefix of the monitor's state in the capture bucket (its role may write there and nowhere else). */
export const MONITOR_STATE_PREFIX = 'monitor/state/';

export interface MonitorState {
  readonly model: string;
  /** The version the last judged run read. */
  readonly version: string;
  readonly drifting: boolean;
  /** When the current drift began (the run that reported it). */
  readonly driftingSince?: string;
  readonly lastRun: string;
  readonly lastVerdict: Verdict;
  readonly driftingFeatures: readonly string[];
}

export function monitorStateKey(model: string): string {
  return `${MONITOR_STATE_PREFIX}${model}.json`;
}

/** The model's state, or undefined before its first run (or when the file is unreadable: treated as a first run). */
export async function readMonitorState(store: ObjectStore, bucket: string, model: string): Promise<MonitorState | undefined> {
  let text: string;
  try {
    text = await readText(store, bucket, monitorStateKey(model));
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  try {
    const state = JSON.parse(text) as Partial<MonitorState>;
    return typeof state.drifting === 'boolean' && typeof state.version === 'string' ? (state as MonitorState) : undefined;
  } catch {
    return undefined;
  }
}

export async function writeMonitorState(store: ObjectStore, bucket: string, state: MonitorState): Promise<void> {
  await store.write(bucket, monitorStateKey(state.model), `${JSON.stringify(state, null, 2)}\n`, 'application/json');
}

export interface StateChange {
  readonly state: MonitorState;
  /** A report is due: the model went into drift (or a new version drifts). */
  readonly report: boolean;
}

/**
 * The state after a run. "not enough data" judges nothing: the model keeps its drifting flag, so a quiet night
 * between two drifting days sends no second report. A new version that drifts is news: it reports.
 */
export function nextMonitorState(previous: MonitorState | undefined, run: MonitorRun, now: Date): StateChange {
  const verdict = run.report.verdict;
  const base = { model: run.model, lastRun: now.toISOString(), lastVerdict: verdict };
  if (verdict === 'not enough data') {
    const kept = previous ?? { model: run.model, version: run.version, drifting: false, lastRun: '', lastVerdict: verdict, driftingFeatures: [] };
    return { state: { ...kept, ...base }, report: false };
  }
  if (verdict === 'no drift') return { state: { ...base, version: run.version, drifting: false, driftingFeatures: [] }, report: false };
  const already = previous?.drifting === true && previous.version === run.version;
  return {
    state: { ...base, version: run.version, drifting: true, driftingSince: already ? (previous.driftingSince ?? base.lastRun) : base.lastRun, driftingFeatures: run.report.driftingFeatures },
    report: !already,
  };
}
