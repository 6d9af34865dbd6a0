// What the quality monitor remembers between runs, per model, in the capture bucket
// (monitor/state/quality-<model>.json): per version, whether it is in ALARM. One alert per incident, as the
// drift monitor does: a version going into ALARM reports, staying there does not; a version judged fine again
// after an ALARM reports its recovery once; "not enough labels" judges nothing and keeps the state.
import { MONITOR_STATE_PREFIX } from '../../monitoring/monitor/monitor-state';
import { ObjectNotFoundError, readText, type ObjectStore } from '../../storage/object-store';
import type { QualityAlarmMetric } from './quality-alarms';

export interface VersionQualityState {
  readonly alarm: boolean;
  /** When the current ALARM began (the run that reported it). */
  readonly since?: string;
  /** The settings breached in the last judged run (the first one is the alert's figure). */
  readonly breaches: readonly QualityAlarmMetric[];
  readonly lastVerdict: 'judged' | 'not enough labels';
}

export interface QualityMonitorState {
  readonly model: string;
  readonly lastRun: string;
  readonly versions: Readonly<Record<string, VersionQualityState>>;
}

export function qualityStateKey(model: string): string {
  return `${MONITOR_STATE_PREFIX}quality-${model}.json`;
}

/** The model's state, or undefined before its first run (an unreadable file counts as a first run). */
export async function readQualityState(store: ObjectStore, bucket: string, model: string): Promise<QualityMonitorState | undefined> {
  let text: string;
  try {
    text = await readText(store, bucket, qualityStateKey(model));
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  try {
    const state = JSON.parse(text) as Partial<QualityMonitorState>;
    return typeof state.versions === 'object' && state.versions !== null && typeof state.model === 'string' ? (state as QualityMonitorState) : undefined;
  } catch {
    return undefined;
  }
}

export async function writeQualityState(store: ObjectStore, bucket: string, state: QualityMonitorState): Promise<void> {
  await store.write(bucket, qualityStateKey(state.model), `${JSON.stringify(state, null, 2)}\n`, 'application/json');
}

/** One version's verdict of a run. */
export interface VersionJudgement {
  readonly version: string;
  readonly verdict: 'judged' | 'not enough labels';
  readonly breaches: readonly QualityAlarmMetric[];
}

/** An alert due: a version went into ALARM, or recovered (with the setting that had breached). */
export interface QualityTransition {
  readonly version: string;
  readonly to: 'ALARM' | 'OK';
  /** Recoveries: the setting that had breached. */
  readonly recovered?: QualityAlarmMetric;
}

/** The state after a run, and the alerts due. Versions not judged in this run keep their state. */
export function nextQualityState(previous: QualityMonitorState | undefined, model: string, judged: readonly VersionJudgement[], now: Date): { state: QualityMonitorState; transitions: QualityTransition[] } {
  const versions: Record<string, VersionQualityState> = { ...(previous?.versions ?? {}) };
  const transitions: QualityTransition[] = [];
  const time = now.toISOString();
  for (const j of judged) {
    const before = versions[j.version];
    if (j.verdict === 'not enough labels') {
      versions[j.version] = { alarm: before?.alarm ?? false, ...(before?.since ? { since: before.since } : {}), breaches: before?.breaches ?? [], lastVerdict: j.verdict };
      continue;
    }
    if (j.breaches.length > 0) {
      const already = before?.alarm === true;
      versions[j.version] = { alarm: true, since: already ? (before.since ?? time) : time, breaches: [...j.breaches], lastVerdict: j.verdict };
      if (!already) transitions.push({ version: j.version, to: 'ALARM' });
    } else {
      if (before?.alarm === true) transitions.push({ version: j.version, to: 'OK', ...(before.breaches[0] ? { recovered: before.breaches[0] } : {}) });
      versions[j.version] = { alarm: false, breaches: [], lastVerdict: j.verdict };
    }
  }
  return { state: { model, lastRun: time, versions }, transitions };
}
