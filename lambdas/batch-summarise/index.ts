// Lambda entry of the batch state machine's summary step (a small zip function: no model needed).
// Settings: DATA_BUCKET (the stage's data bucket), STAGE (named in the notification).
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { batchEnvSchemas, createSummariseHandler, readBatchEnv, type SummariseEvent } from '../core/batch/pipeline/handlers';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { withoutStackTrace } from '../core/pipelines/step-errors';

const logger = new Logger();
const env = readBatchEnv(batchEnvSchemas.summarise, process.env);
const summarise = createSummariseHandler({ store: new S3ObjectStore(), bucket: env.DATA_BUCKET, stage: env.STAGE });

export const handler = withoutStackTrace(
  async (event: SummariseEvent, context: Context) => {
    logger.addContext(context);
    const result = await summarise(event);
    logger.info('batch summarised', { ...result.summary });
    return result;
  },
  (error) => logger.error('step failed', { error }),
);
