// The SageMaker proxy's handler: the very inference handler of a Lambda-hosted model (same routes,
// decoding, validation, errors and headers), with a SageMakerPredictor in place of the ONNX session.
// index.ts builds it once per execution environment; tests build it the same way.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { ModelApi, type ApiLimits, type RequestRecord } from '../core/serving/model-api';
import type { ModelCard } from '../core/models/model-card';
import type { PredictionSink } from '../core/quality/predictions/prediction-sink';
import { MAX_SAGEMAKER_INFERENCE_ID_LENGTH, SageMakerPredictor } from '../core/sagemaker/predictor';
import { createInferenceHandler, type InferenceHandler } from '../inference/handler';
import { batchedPredict } from '../core/sagemaker/batched-predict';
import { explainOptionsFor, type ExplainLimits } from '../core/serving/explain-options';

export interface SageMakerProxyDependencies {
  /** A client from createSageMakerRuntimeClient, with the same timeout as `timeoutMs`. */
  readonly client: SageMakerRuntimeClient;
  readonly endpointName: string;
  /** The served model's card: the metadata and ready routes answer from it, requests are decoded with it. */
  readonly card: ModelCard;
  readonly timeoutMs: number;
  readonly limits: ApiLimits;
  readonly logger: Logger;
  readonly onRecord?: (record: RequestRecord, latencyMs: number) => void;
  /**
   * Where every answered prediction is recorded, under the version the endpoint says answered (the endpoint
   * captures the inputs itself, with its DataCaptureConfig).
   * @default - no prediction recorded
   */
  readonly predictions?: PredictionSink;
  /** Told when a prediction record failed (the caller still got its answer). @default - logged only */
  readonly onRecordingFailure?: (what: 'predictions' | 'capture', error: unknown) => void;
  /**
   * :explain: the folder of the card (its background.json beside model.json) and the manifest's explain
   * limits. Permutation SHAP through the endpoint, each round's masked rows one batch sent as invocations of
   * at most limits.maxBatchSize rows. @default - :explain answers 409 explanation_unavailable
   */
  readonly explain?: { readonly dir: string; readonly limits: ExplainLimits };
}

export function createSageMakerProxyHandler({ client, endpointName, card, timeoutMs, limits, logger, onRecord, predictions, onRecordingFailure, explain }: SageMakerProxyDependencies): InferenceHandler {
  const predictor = new SageMakerPredictor({
    client,
    endpointName,
    card,
    timeoutMs,
    // Told at the first and then every tenfold: the caller's id is fine for us, the endpoint's capture cannot carry it.
    onInferenceIdTooLong: (inferenceId, count) => {
      if (Number.isInteger(Math.log10(count))) {
        logger.warn('inference id longer than SageMaker InferenceId takes: not sent, so its captured inputs cannot be joined to labels', { inferenceIdLength: inferenceId.length, maxLength: MAX_SAGEMAKER_INFERENCE_ID_LENGTH, requestsSoFar: count });
      }
    },
  });
  const explainOptions = explain
    ? explainOptionsFor(
        { dir: explain.dir, card, predict: batchedPredict((rows, count) => predictor.predict(rows, count), card.input.features.length, limits.maxBatchSize), onnx: false },
        explain.limits,
        (message) => logger.warn(message),
      )
    : undefined;
  return createInferenceHandler({
    api: new ModelApi(predictor, limits, explainOptions),
    logger,
    ...(onRecord ? { onRecord } : {}),
    ...(predictions ? { predictions } : {}),
    ...(onRecordingFailure ? { onRecordingFailure } : {}),
  });
}
