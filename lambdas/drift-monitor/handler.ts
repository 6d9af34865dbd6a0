// The drift monitor's handler, thin over lambdas/core/monitoring/monitor: on each scheduled event, run every model
// over the window ending at the event's time (folding only the captures that arrived since the last run into
// the window's hour summaries), put the figures with CloudWatch PutMetricData, and publish one report per
// model going into drift to the notifications topic with SNS Publish. As the fan-out's merge step (an event
// with the plan), the hours are folded from the children's partials (lambdas/core/monitoring/pipeline/merge.ts)
// and the rest is the same.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { SNSClient } from '@aws-sdk/client-sns';
import { publishAlert, putMetricData } from '../core/monitoring/publish';
import type { ModelCard } from '../core/models/model-card';
import { cloudWatchData, type MonitoredModel, type MonitorRun } from '../core/monitoring/monitor/drift-monitor';
import { createMergeJudge } from '../core/monitoring/pipeline/merge';
import type { MonitorPlan } from '../core/monitoring/pipeline/types';
import { runDriftMonitor, windowEndingAt, type ModelOutcome } from '../core/monitoring/monitor/monitor-run';
import { DRIFT_METRICS_NAMESPACE } from '../core/monitoring/contracts';
import type { ObjectStore } from '../core/storage/object-store';
import type { DriftMonitorConfig } from './config';


export interface DriftMonitorDependencies {
  readonly config: DriftMonitorConfig;
  readonly store: ObjectStore;
  readonly cloudWatch: CloudWatchClient;
  readonly sns: SNSClient;
  readonly logger: Logger;
  /** The card of a model's live version (from the image's model folders). */
  readonly card: (model: string) => ModelCard;
}

/**
 * The EventBridge scheduled event, or the state machine's single-function path: only its time is read (the
 * window ends there). From the state machine's merge step: `plan`, the fan-out's plan, whose children's partials
 * are merged into the hour summaries instead of the run folding the captures itself.
 */
export interface ScheduledEvent {
  readonly time?: string;
  readonly plan?: MonitorPlan;
}

export interface MonitorSummary {
  readonly window: { readonly from: string; readonly to: string };
  readonly models: { model: string; verdict?: string; rows?: number; drifting?: readonly string[]; reported?: boolean; error?: string }[];
}

/** Some models could not be judged (the others were): the run fails, so the function's errors show it. */
export class DriftMonitorError extends Error {
  override readonly name = 'DriftMonitorError';
}

export function createDriftMonitorHandler(deps: DriftMonitorDependencies): (event: ScheduledEvent) => Promise<MonitorSummary> {
  const { config, cloudWatch, sns, logger } = deps;
  const models: MonitoredModel[] = config.models.map((m) => ({
    name: m.name,
    version: m.version,
    runtime: m.runtime,
    ...(m.endpointName ? { endpointName: m.endpointName } : {}),
    drift: m.drift,
    card: deps.card(m.name),
  }));
  return async (event) => {
    let at = event?.time && !Number.isNaN(Date.parse(event.time)) ? new Date(event.time) : new Date();
    let window = windowEndingAt(at, config.windowHours);
    let judge: ((model: MonitoredModel) => Promise<MonitorRun>) | undefined;
    if (event?.plan !== undefined) {
      const merge = await createMergeJudge({ store: deps.store, bucket: config.bucket, plan: event.plan });
      ({ window, judge } = merge);
      at = merge.time;
    }
    const outcomes = await runDriftMonitor(
      {
        store: deps.store,
        bucket: config.bucket,
        project: config.project,
        stage: config.stage,
        models,
        ...(config.dashboardUrl ? { dashboardUrl: config.dashboardUrl } : {}),
        putMetrics: (model, datums, time) => putMetricData(cloudWatch, DRIFT_METRICS_NAMESPACE, cloudWatchData(datums, { stage: config.stage, model, time })),
        notify: (alert) => publishAlert(sns, config.topicArn, alert),
      },
      window,
      at,
      judge,
    );
    const summary: MonitorSummary = { window: { from: window.from.toISOString(), to: window.to.toISOString() }, models: outcomes.map(describe) };
    for (const outcome of outcomes) {
      if ('error' in outcome) logger.error('model not judged', { model: outcome.model, error: outcome.error });
      else {
        const { run } = outcome;
        logger.info('model judged', {
          model: outcome.model,
          version: run.version,
          summary: run.report.summary,
          // what this run read and folded, and what the window holds (a run's cost is the new bytes, not the window's)
          objectsRead: run.objectsRead,
          bytesRead: run.bytesRead,
          rowsFolded: run.rowsFolded,
          rowsInWindow: run.rowsInWindow,
          hours: run.hours,
          summariesWritten: run.summariesWritten,
          summariesDeleted: run.summariesDeleted,
          recordsRead: run.recordsRead,
          recordsRejected: run.recordsRejected,
          problems: run.problems,
          reported: outcome.reported,
        });
      }
    }
    const failed = outcomes.filter((o) => 'error' in o);
    if (failed.length > 0) throw new DriftMonitorError(`${failed.length} of ${outcomes.length} models could not be judged: ${failed.map((o) => `${o.model} (${(o as { error: Error }).error.message})`).join('; ')}`);
    return summary;
  };
}

function describe(outcome: ModelOutcome): MonitorSummary['models'][number] {
  if ('error' in outcome) return { model: outcome.model, error: outcome.error.message };
  return { model: outcome.model, verdict: outcome.run.report.verdict, rows: outcome.run.report.rows, drifting: outcome.run.report.driftingFeatures, reported: outcome.reported };
}
