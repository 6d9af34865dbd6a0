// One run of the drift monitor over every model: fold what arrived since the last run into the window's hour
// summaries, publish the figures, and send one report per model going into drift. The dependencies are injected: the Lambda handler passes CloudWatch and
// SNS clients, the local monitor timer its metrics store and alert sinks.
import type { AlarmEvent, ReadableAlert } from '../contracts';
import { readableAlert } from '../alarms/readable-alert';
import type { ObjectStore } from '../../storage/object-store';
import { driftAlarmEvent, monitorModel, type CaptureWindow, type DriftDatum, type MonitoredModel, type MonitorOptions, type MonitorRun } from './drift-monitor';
import { nextMonitorState, readMonitorState, writeMonitorState, type MonitorState } from './monitor-state';

export interface DriftMonitorDependencies {
  readonly store: ObjectStore;
  /** The capture bucket (captures, monitor/state/ and monitor/summaries/). */
  readonly bucket: string;
  readonly project: string;
  readonly stage: string;
  readonly models: readonly MonitoredModel[];
  /** Publishes one model's figures (CloudWatch PutMetricData in the cloud). */
  putMetrics(model: string, datums: readonly DriftDatum[], time: Date): Promise<void>;
  /** Sends the report of a model going into drift (SNS Publish to the notifications topic in the cloud). */
  notify(alert: ReadableAlert, event: AlarmEvent): Promise<void>;
  readonly dashboardUrl?: string;
  /** How captures are read and summaries kept. @default - monitorModel's defaults */
  readonly monitorOptions?: MonitorOptions;
}

export type ModelOutcome =
  | { readonly model: string; readonly run: MonitorRun; readonly state: MonitorState; readonly reported: boolean }
  | { readonly model: string; readonly error: Error };

/** The window ending at `now`, `hours` long. */
export function windowEndingAt(now: Date, hours: number): CaptureWindow {
  return { from: new Date(now.getTime() - hours * 3_600_000), to: now };
}

/**
 * Runs every model; one model failing (no baseline, unreadable bucket) does not stop the others. The state is
 * written after the report went out, so a failed publish is retried by the next run. `judge` folds and judges
 * a model another way (the fan-out's merge of its children's partial summaries); without it, monitorModel
 * folds the new captures in this run.
 */
export async function runDriftMonitor(deps: DriftMonitorDependencies, window: CaptureWindow, now = new Date(), judge?: (model: MonitoredModel) => Promise<MonitorRun>): Promise<ModelOutcome[]> {
  const outcomes: ModelOutcome[] = [];
  for (const model of deps.models) {
    try {
      const run = judge ? await judge(model) : await monitorModel(deps.store, deps.bucket, model, window, { now, ...deps.monitorOptions });
      await deps.putMetrics(model.name, run.datums, window.to);
      const previous = await readMonitorState(deps.store, deps.bucket, model.name);
      const { state, report } = nextMonitorState(previous, run, now);
      if (report) {
        const event = driftAlarmEvent(run, { project: deps.project, stage: deps.stage, time: now, ...(deps.dashboardUrl ? { dashboardUrl: deps.dashboardUrl } : {}), ...(previous ? { previous } : {}) });
        await deps.notify(readableAlert(event), event);
      }
      await writeMonitorState(deps.store, deps.bucket, state);
      outcomes.push({ model: model.name, run, state, reported: report });
    } catch (error) {
      outcomes.push({ model: model.name, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }
  return outcomes;
}
