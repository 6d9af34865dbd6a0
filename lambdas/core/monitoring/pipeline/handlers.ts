// The fan-out's plan and fold steps as plain functions of their event, given their dependencies: the Lambda
// entries (lambdas/drift-monitor-plan, lambdas/drift-monitor-fold) give them S3 and the image's cards, the local
// runner (local/pipelines/drift-monitor-pipeline.ts) folders. The merge is the drift monitor function's own
// handler (lambdas/drift-monitor/handler.ts) given the plan: it publishes and reports as a run always did.
import type { ObjectStore } from '../../storage/object-store';
import type { MonitoredModel } from '../monitor/drift-monitor';
import { windowEndingAt } from '../monitor/monitor-run';
import { foldShare } from './fold-share';
import { planMonitorRun } from './plan';
import { MonitorPipelineError, type FoldShareEvent, type FoldShareResult, type MonitorPlan } from './types';

/** The plan function's event (its Payload in the state machine). */
export interface PlanEvent {
  /** The execution input: the scheduled event (its `time` ends the window) or `{}` (now). */
  readonly input: unknown;
  /** `$$.Execution.Name`: names the run's files. */
  readonly executionName: string;
}

export interface PlanDependencies {
  readonly store: ObjectStore;
  readonly bucket: string;
  readonly models: readonly MonitoredModel[];
  readonly windowHours: number;
  readonly fanOutAboveBytes?: number;
  readonly shareBytes?: number;
  /** The time when the execution input has none. @default now */
  readonly now?: () => Date;
}

/** The window's end: the input's `time` (EventBridge's scheduled time), else now. */
function runTime(input: unknown, now: () => Date): Date {
  const time = input !== null && typeof input === 'object' ? (input as { time?: unknown }).time : undefined;
  if (time === undefined) return now();
  if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) throw new MonitorPipelineError(`the execution input's time must be an ISO 8601 time, received ${JSON.stringify(time)?.slice(0, 100)}`);
  return new Date(time);
}

export function createPlanHandler(deps: PlanDependencies): (event: PlanEvent) => Promise<MonitorPlan> {
  return async (event) => {
    if (typeof event?.executionName !== 'string') throw new MonitorPipelineError('the event must be {"input": ..., "executionName": ...}');
    const time = runTime(event.input, deps.now ?? (() => new Date()));
    return planMonitorRun({
      store: deps.store,
      bucket: deps.bucket,
      models: deps.models,
      window: windowEndingAt(time, deps.windowHours),
      executionName: event.executionName,
      ...(deps.fanOutAboveBytes === undefined ? {} : { fanOutAboveBytes: deps.fanOutAboveBytes }),
      ...(deps.shareBytes === undefined ? {} : { shareBytes: deps.shareBytes }),
    });
  };
}

export function createFoldHandler(deps: { readonly store: ObjectStore; readonly bucket: string; readonly models: readonly MonitoredModel[]; readonly maxLineBytes?: number }): (event: FoldShareEvent) => Promise<FoldShareResult> {
  const models = new Map(deps.models.map((m) => [m.name, m]));
  return async (event) => foldShare({ store: deps.store, bucket: deps.bucket, models, event, ...(deps.maxLineBytes === undefined ? {} : { maxLineBytes: deps.maxLineBytes }) });
}
