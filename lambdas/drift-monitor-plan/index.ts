// Lambda entry of the drift monitor's plan step (its state machine; in the pipeline image, beside every model's
// model.json): finds the new bytes of every model's window and whether the run fans out. Settings, checked at
// start-up: CAPTURE_BUCKET, WINDOW_HOURS, MONITORED_MODELS, MODELS_DIR, FAN_OUT_ABOVE_BYTES, SHARE_BYTES.
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { readModelCardFile } from '../core/models/model-card-file';
import { createPlanHandler, type PlanEvent } from '../core/monitoring/pipeline/handlers';
import { withoutStackTrace } from '../core/pipelines/step-errors';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { readDriftMonitorStepConfig } from '../drift-monitor/config';

const logger = new Logger();
const config = readDriftMonitorStepConfig(process.env);
const plan = createPlanHandler({
  store: new S3ObjectStore(),
  bucket: config.bucket,
  windowHours: config.windowHours,
  models: config.models.map((m) => ({ ...m, card: readModelCardFile(join(config.modelsDir, m.name, 'model.json'), m.name) })),
  ...(config.fanOutAboveBytes === undefined ? {} : { fanOutAboveBytes: config.fanOutAboveBytes }),
  ...(config.shareBytes === undefined ? {} : { shareBytes: config.shareBytes }),
});

export const handler = withoutStackTrace(
  async (event: PlanEvent, context: Context) => {
    logger.addContext(context);
    const result = await plan(event);
    logger.info('planned', { ...result });
    return result;
  },
  (error) => logger.error('step failed', { error }),
);
