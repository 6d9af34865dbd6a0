// Lambda entry of the retrain state machine's `Train candidate` step (in the pipeline image: the live
// model's card gives the family and hyper-parameters, onnxruntime computes the candidate's card).
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { parseEvent, trainEventSchema, type Candidate } from '../core/retrain/contract';
import { trainCandidate } from '../core/retrain/train-candidate';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { liveCard, readImageConfig } from './config';
import { withoutStackTrace } from '../core/pipelines/step-errors';

const logger = new Logger({ serviceName: 'retrain-train' });
const config = readImageConfig(process.env);
const store = new S3ObjectStore();

export const handler = withoutStackTrace(
  async (event: unknown, context: Context): Promise<Candidate> => {
    logger.addContext(context);
    const input = parseEvent(trainEventSchema, event, 'Train candidate');
    logger.appendKeys({ model: input.settings.model, execution: input.execution });
    const candidate = await trainCandidate(input, { store, liveCard: liveCard(config.modelsDir, input.settings.model) });
    logger.info('trained candidate', { version: candidate.version, family: candidate.family, trainSize: candidate.trainSize, testSize: candidate.testSize, trainingMs: candidate.trainingMs });
    return candidate;
  },
  (error) => logger.error('step failed', { error }),
);
