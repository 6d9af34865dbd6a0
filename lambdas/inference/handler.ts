// The inference Lambda handler as a factory: it adapts an API Gateway (REST, proxy) event to the
// model API in lambdas/core. index.ts builds it once per container; the local gateway builds the same
// handler per model and calls it with the events it makes from HTTP requests.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { RequestCapture } from '../core/monitoring/capture/capture-sink';
import { INFERENCE_ID_HEADER } from '../core/quality/contracts';
import { predictionLines } from '../core/quality/predictions/prediction-record';
import type { PredictionSink } from '../core/quality/predictions/prediction-sink';
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
  /**
   * Where every answered prediction is recorded (not sampled: the quality monitor joins each label to its
   * prediction), after the answer is built; a captured request's capture lines go with them when `capture`
   * writes to this same sink.
   * @default - no prediction recorded
   */
  readonly predictions?: PredictionSink;
  /** Told when recording a request (its prediction or capture lines) failed; the caller still got its answer. @default - logged only */
  readonly onRecordingFailure?: (what: 'predictions' | 'capture', error: unknown) => void;
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

export function createInferenceHandler({ api, logger, onRecord, capture, predictions, onRecordingFailure }: InferenceHandlerDependencies): InferenceHandler {
  const card = api.model.card;
  const model = card.name;
  const version = String(card.version);
  const width = card.input.features.length;
  const regression = card.task === 'regression';
  const classes = regression ? undefined : card.labels;
  const failed = (what: 'predictions' | 'capture', error: unknown) => {
    // Recording must never cost the caller the answer.
    logger.warn(`${what === 'capture' ? 'capture' : 'prediction record'} failed`, { error: error as Error });
    onRecordingFailure?.(what, error);
  };
  return async (event) => {
    const started = performance.now();
    const body = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    const { response, record } = await api.handle({
      method: event.httpMethod,
      path: routePath(event),
      contentType: header(event.headers, 'content-type'),
      body,
      inferenceId: header(event.headers, INFERENCE_ID_HEADER),
    });
    if (record.failure !== undefined) {
      logger.error('request failed', { error: record.failure as Error, path: event.path, requestId: event.requestContext?.requestId });
    } else if (record.statusCode >= 400) {
      logger.debug('request rejected', { statusCode: record.statusCode, code: record.errorCode, path: event.path });
    }
    const scored = record.scored;
    if (scored && (capture || predictions)) {
      const { prediction } = scored;
      const id = record.inferenceId;
      // During a SageMaker blue/green shift the endpoint names the version that answered.
      const answered = prediction.servedVersion ?? version;
      const time = new Date();
      let lines: string[] | undefined;
      if (predictions && id !== undefined) {
        try {
          lines = predictionLines({
            model,
            version: answered,
            id,
            time,
            count: scored.count,
            ...(classes
              ? { classes, predicted: prediction.classIndex, ...(prediction.width === classes.length && prediction.scores.length >= scored.count * classes.length ? { probabilities: prediction.scores } : {}) }
              : { values: prediction.scores }),
          });
        } catch (error) {
          failed('predictions', error);
        }
      }
      let captured: string[] | undefined;
      try {
        captured = capture?.sample({
          model,
          version: answered,
          time,
          requestId: event.requestContext?.requestId,
          ...(id === undefined ? {} : { id }),
          rows: scored.rows,
          count: scored.count,
          width,
          ...(regression ? { values: prediction.scores } : { classIndex: prediction.classIndex, labels: card.labels }),
        });
      } catch (error) {
        failed('capture', error);
      }
      try {
        // One hand-over per request when both go to the same sink (stdout: one write).
        if (lines && captured && (capture!.sink as unknown) === predictions) predictions!.writePredictions(model, answered, time, lines, captured);
        else {
          if (lines) predictions!.writePredictions(model, answered, time, lines);
          if (captured) capture!.sink.writeLambda(model, answered, time, captured);
        }
      } catch (error) {
        failed(lines ? 'predictions' : 'capture', error);
      }
    }
    onRecord?.(record, performance.now() - started);
    return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  };
}
