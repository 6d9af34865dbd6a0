// Lambda entry of the retrain state machine's `Gather data` step (in the pipeline image, which holds the
// live model's card): the labelled CSV rows under the data prefix into the execution's data.csv.
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { gatherEventSchema, parseEvent, type GatherResult } from '../core/retrain/contract';
import { gatherTrainingData } from '../core/retrain/gather';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { liveCard, readImageConfig } from './config';
import { withoutStackTrace } from '../core/pipelines/step-errors';

const logger = new Logger({ serviceName: 'retrain-gather' });
const config = readImageConfig(process.env);
const store = new S3ObjectStore();

export const handler = withoutStackTrace(
  async (event: unknown, context: Context): Promise<GatherResult> => {
    logger.addContext(context);
    const input = parseEvent(gatherEventSchema, event, 'Gather data');
    logger.appendKeys({ model: input.settings.model, execution: input.execution });
    const result = await gatherTrainingData(input, { store, liveCard: liveCard(config.modelsDir, input.settings.model) });
    logger.info('gathered training data', { source: result.source, files: result.files.length, rowsRead: result.rowsRead, rowsAccepted: result.rowsAccepted, rowsRejected: result.rowsRejected });
    return result;
  },
  (error) => logger.error('step failed', { error }),
);
