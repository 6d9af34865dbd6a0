// The outer Lambda handler shared by every function that answers the model API (the inference function
// and the SageMaker proxy): request context in the logs, the cold-start metric, a fixed 500 for anything
// the model API did not handle, and the metrics published once per invocation.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { INTERNAL_ERROR_BODY } from '../core/serving/errors';
import type { InferenceHandler } from './handler';
import { recordServerError } from './request-metrics';

export function apiLambdaEntry(
  logger: Logger,
  metrics: Metrics,
  inner: Promise<InferenceHandler> | InferenceHandler,
): (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult> {
  return async (event, context) => {
    logger.addContext(context);
    // Emitted once per execution environment: cold starts matter for a model loaded at init.
    metrics.captureColdStartMetric(context.functionName);
    try {
      return await (await inner)(event, context);
    } catch (error) {
      logger.error('handler failed', { error: error as Error });
      recordServerError(metrics);
      return { statusCode: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify(INTERNAL_ERROR_BODY) };
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
