// Lambda entry of the collect step of SageMaker models (Batch Transform's answers to scored rows and
// rejects; in the pipeline image, beside the models' model.json). Settings:
//   DATA_BUCKET   the stage's data bucket (work files)
//   BATCH_MODELS  JSON: model name -> { runtime, ... }; the sagemaker ones are collected here
//   MODELS_DIR    optional: where the models' folders are (default /opt/ml/models)
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { batchEnvSchemas, createCollectHandler, readBatchEnv, readBatchModels, type CollectEvent } from '../core/batch/pipeline/handlers';
import { readModelCardFile } from '../core/models/model-card-file';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { withoutStackTrace } from '../core/pipelines/step-errors';

const logger = new Logger();
const env = readBatchEnv(batchEnvSchemas.collect, process.env);
const cards = new Map(
  Object.entries(readBatchModels(env.BATCH_MODELS))
    .filter(([, m]) => m.runtime === 'sagemaker')
    .map(([name]) => [name, readModelCardFile(join(env.MODELS_DIR, name, 'model.json'), name)]),
);
const collect = createCollectHandler({ store: new S3ObjectStore(), bucket: env.DATA_BUCKET, cards });

export const handler = withoutStackTrace(
  async (event: CollectEvent, context: Context) => {
    logger.addContext(context);
    const result = await collect(event);
    logger.info('transform collected', { model: event.model, batches: result.batches.length });
    return result;
  },
  (error) => logger.error('step failed', { error }),
);
