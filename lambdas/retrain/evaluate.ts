// Lambda entry of the retrain state machine's `Evaluate` step (in the pipeline image: the live model and
// onnxruntime): the candidate and the live model on the same held-out rows.
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { evaluateEventSchema, parseEvent, type EvaluationResult } from '../core/retrain/contract';
import { evaluateCandidate } from '../core/retrain/evaluate';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { liveCard, liveOnnx, readImageConfig } from './config';
import { withoutStackTrace } from '../core/pipelines/step-errors';

const logger = new Logger({ serviceName: 'retrain-evaluate' });
const config = readImageConfig(process.env);
const store = new S3ObjectStore();

export const handler = withoutStackTrace(
  async (event: unknown, context: Context): Promise<EvaluationResult> => {
    logger.addContext(context);
    const input = parseEvent(evaluateEventSchema, event, 'Evaluate');
    const model = input.settings.model;
    logger.appendKeys({ model, execution: input.execution });
    const result = await evaluateCandidate(input, { store, liveCard: liveCard(config.modelsDir, model), liveOnnx: liveOnnx(config.modelsDir, model) });
    logger.info('evaluated candidate', {
      metric: result.metric,
      candidateScore: result.candidateScore,
      liveScore: result.liveScore,
      threshold: result.threshold,
      heldOutRows: result.heldOutRows,
      passes: result.candidateScore >= result.threshold,
    });
    return result;
  },
  (error) => logger.error('step failed', { error }),
);
