// Lambda entry of a child of the drift monitor's Distributed Map (in the pipeline image, beside every model's
// model.json): folds its share of the new capture ranges into partial summaries. Settings, checked at start-up:
// CAPTURE_BUCKET, WINDOW_HOURS, MONITORED_MODELS, MODELS_DIR.
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { readModelCardFile } from '../core/models/model-card-file';
import { createFoldHandler } from '../core/monitoring/pipeline/handlers';
import type { FoldShareEvent } from '../core/monitoring/pipeline/types';
import { withoutStackTrace } from '../core/pipelines/step-errors';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { readDriftMonitorStepConfig } from '../drift-monitor/config';

const logger = new Logger();
const config = readDriftMonitorStepConfig(process.env);
const fold = createFoldHandler({
  store: new S3ObjectStore(),
  bucket: config.bucket,
  models: config.models.map((m) => ({ ...m, card: readModelCardFile(join(config.modelsDir, m.name, 'model.json'), m.name) })),
});

export const handler = withoutStackTrace(
  async (event: FoldShareEvent, context: Context) => {
    logger.addContext(context);
    const result = await fold(event);
    logger.info('share folded', { ...result });
    return result;
  },
  (error) => logger.error('step failed', { error }),
);
