// The inference Lambda handler as a factory: it adapts an API Gateway (REST, proxy) event to the
// model API in lambdas/core. index.ts builds it once per container; the local gateway builds the same
// handler per model and calls it with the events it makes from HTTP requests.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { ModelApi, RequestRecord } from '../core/model-api';

export interface InferenceHandlerDependencies {
  readonly api: ModelApi;
  readonly logger: Logger;
  /** Called once per request with what happened and the handler's own latency, for metrics. */
  readonly onRecord?: (record: RequestRecord, latencyMs: number) => void;
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

export function createInferenceHandler({ api, logger, onRecord }: InferenceHandlerDependencies): InferenceHandler {
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
    onRecord?.(record, performance.now() - started);
    return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  };
}
