// The inference Lambda handler as a factory: it adapts an API Gateway (REST, proxy) event to the
// model API in lambdas/core. index.ts builds it once per container; the local gateway builds the same
// handler per model and calls it with the events it makes from HTTP requests.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { RequestCapture } from '../core/monitoring/capture/capture-sink';
import type { ModelApi, RequestRecord } from '../core/serving/model-api';

export interface InferenceHandlerDependencies {
  readonly api: ModelApi;
  readonly logger: Logger;
  /** Called once per request with what happened and the handler's own latency, for metrics. */
  readonly onRecord?: (record: RequestRecord, latencyMs: number) => void;
  /**
   * Data capture: a sampled share of the scored requests, written to the sink after the answer is built
   * (stdout in the function, files locally; never a network call on the request path).
   * @default - nothing captured
   */
  readonly capture?: RequestCapture;
}

export type InferenceHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

/** Header lookup that ignores case: API Gateway REST passes the caller's own header spelling. */
function header(headers: APIGatewayProxyEvent['headers'] | null, name: string): string | undefined {
  if (!headers) return undefined;
  const exact = headers[name];
  if (exact !== undefined) return exact;
  for (const key in headers) if (key.toLowerCase() === name) return headers[key];
  return undefined;
}

/**
 * The route path: `resource` is the API Gateway resource matched (one per model and route, no stage or
 * custom-domain base path); fall back to `path` for events that carry no resource.
 */
function routePath(event: APIGatewayProxyEvent): string {
  return event.resource && !event.resource.includes('{') ? event.resource : event.path;
}

export function createInferenceHandler({ api, logger, onRecord, capture }: InferenceHandlerDependencies): InferenceHandler {
  const card = api.model.card;
  const model = card.name;
  const version = String(card.version);
  const width = card.input.features.length;
  const regression = card.task === 'regression';
  return async (event) => {
    const started = performance.now();
    const body = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    const { response, record } = await api.handle({
      method: event.httpMethod,
      path: routePath(event),
      contentType: header(event.headers, 'content-type'),
      body,
    });
    if (record.failure !== undefined) {
      logger.error('request failed', { error: record.failure as Error, path: event.path, requestId: event.requestContext?.requestId });
    } else if (record.statusCode >= 400) {
      logger.debug('request rejected', { statusCode: record.statusCode, code: record.errorCode, path: event.path });
    }
    const scored = record.scored;
    if (capture && scored) {
      try {
        const { prediction } = scored;
        capture.offer({
          model,
          // During a SageMaker blue/green shift the answering version may differ; the Lambda handler serves one version.
          version,
          time: new Date(),
          requestId: event.requestContext?.requestId,
          rows: scored.rows,
          count: scored.count,
          width,
          ...(regression ? { values: prediction.scores } : { classIndex: prediction.classIndex, labels: card.labels }),
        });
      } catch (error) {
        // Capture must never cost the caller the answer.
        logger.warn('capture failed', { error: error as Error });
      }
    }
    onRecord?.(record, performance.now() - started);
    return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  };
}
