// The quality monitor's handler, thin over lambdas/core/quality/monitor: on each scheduled event, join the labels
// under ground-truth/ to the prediction records under predictions/ of the capture bucket for every model and
// version over its window, put the figures with CloudWatch PutMetricData (namespace mlship/quality), and publish
// the readable alert of a model going into ALARM to the notifications topic with SNS Publish. For a model that
// retrains, the window's labelled captured requests become training rows in the retrain data bucket; rows that
// cannot be written are logged as an error and fail nothing else.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { SNSClient } from '@aws-sdk/client-sns';
import { publishAlert, putMetricData } from '../core/monitoring/publish';
import type { ModelCard } from '../core/models/model-card';
import { QUALITY_METRICS_NAMESPACE } from '../core/quality/contracts';
import { qualityCloudWatchData, runQualityMonitor, type QualityMonitoredModel, type QualityOutcome } from '../core/quality/monitor/run-quality-monitor';
import type { ObjectStore } from '../core/storage/object-store';
import type { QualityMonitorConfig } from './config';


export interface QualityMonitorDependencies {
  readonly config: QualityMonitorConfig;
  readonly store: ObjectStore;
  readonly cloudWatch: CloudWatchClient;
  readonly sns: SNSClient;
  readonly logger: Logger;
  /** The card of a model's live version (from the image's model folders). */
  readonly card: (model: string) => ModelCard;
}

/** The EventBridge scheduled event: only its time is read (the window ends there). */
export interface ScheduledEvent {
  readonly time?: string;
}

export interface QualityRunSummary {
  readonly time: string;
  readonly outcomes: readonly QualityOutcome[];
}

/** Some models could not be judged (the others were): the run fails, so the function's Errors metric shows it. */
export class QualityMonitorError extends Error {
  override readonly name = 'QualityMonitorError';
}

export function createQualityMonitorHandler(deps: QualityMonitorDependencies): (event: ScheduledEvent) => Promise<QualityRunSummary> {
  const { config, cloudWatch, sns, logger } = deps;
  const models: QualityMonitoredModel[] = config.models.map((m) => {
    const card = deps.card(m.name);
    // The image holds the version the manifest names; another is a wrong deployment, said at start-up.
    if (String(card.version) !== m.version) throw new QualityMonitorError(`the card of ${m.name} in the image is version ${card.version}, MONITORED_MODELS says ${m.version}`);
    return { name: m.name, card, quality: m.quality, ...(m.trainingRows ? { trainingRows: m.trainingRows } : {}) };
  });
  return async (event) => {
    const now = event?.time && !Number.isNaN(Date.parse(event.time)) ? new Date(event.time) : new Date();
    const outcomes = await runQualityMonitor(
      {
        store: deps.store,
        bucket: config.bucket,
        project: config.project,
        stage: config.stage,
        models,
        ...(config.dashboardUrl ? { dashboardUrl: config.dashboardUrl } : {}),
        ...(config.trainingDataBucket ? { trainingRows: { dataBucket: config.trainingDataBucket } } : {}),
        putMetrics: (model, version, datums, time) => putMetricData(cloudWatch, QUALITY_METRICS_NAMESPACE, qualityCloudWatchData(datums, { stage: config.stage, model, version, time })),
        notify: (alert) => publishAlert(sns, config.topicArn, alert),
      },
      now,
    );
    for (const outcome of outcomes) {
      if (failure(outcome) !== undefined) logger.error('model not judged', { outcome: outcome as unknown as Record<string, unknown> });
      else logger.info('model judged', { outcome: outcome as unknown as Record<string, unknown> });
      const rowsError = (outcome as { trainingRowsError?: string }).trainingRowsError;
      if (rowsError !== undefined) logger.error('training rows not written', { model: modelOf(outcome), error: rowsError });
    }
    const failed = outcomes.map((o) => [modelOf(o), failure(o)] as const).filter(([, error]) => error !== undefined);
    if (failed.length > 0) throw new QualityMonitorError(`${failed.length} of ${outcomes.length} models could not be judged: ${failed.map(([model, error]) => `${model} (${error})`).join('; ')}`);
    return { time: now.toISOString(), outcomes };
  };
}

/** The error of an outcome that failed, as its message; undefined for one judged. */
function failure(outcome: QualityOutcome): string | undefined {
  const error = (outcome as { error?: unknown }).error;
  if (error === undefined) return undefined;
  return error instanceof Error ? error.message : String(error);
}

function modelOf(outcome: QualityOutcome): string {
  return String((outcome as { model?: unknown }).model ?? '?');
}
