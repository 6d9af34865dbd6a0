// Lambda entry point of the SageMaker proxy (bundled by esbuild as CommonJS, with the model's model.json
// copied next to index.js): API Gateway calls it on the same routes as a Lambda-hosted model, and it
// answers through the model's SageMaker endpoint. Logger, metrics and the SDK client are created once, at
// module scope; settings come from the environment and a bad one stops the init, naming it:
//   ENDPOINT_NAME       the SageMaker endpoint to invoke (needs sagemaker:InvokeEndpoint on it)
//   MODEL_NAME          the model's name; must match model.json
//   INVOKE_TIMEOUT_MS   optional, per attempt (default 2000); a whole call ends within 3 x it + 2 s
//   MAX_BODY_BYTES, MAX_BATCH_SIZE   optional, as for a Lambda-hosted model
//   MODEL_CARD_PATH     optional: the model card to read instead of model.json next to this file
//                       (background.json, for :explain, is read from the card's folder)
//   EXPLAIN_MAX_INSTANCES, EXPLAIN_TIMEOUT_MS, EXPLAIN_MAX_EVALUATIONS   optional: the manifest's explain block
//   AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME or AWS_ENDPOINT_URL   optional: another runtime endpoint (local)
import { dirname, join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { StdoutCaptureSink } from '../core/monitoring/capture/capture-sink';
import { createSageMakerRuntimeClient } from '../core/sagemaker/predictor';
import { loadProxyCard, readProxyConfig } from './config';
import { apiLambdaEntry } from '../inference/lambda-entry';
import { recordRequestMetrics } from '../inference/request-metrics';
import { createSageMakerProxyHandler } from './handler';

// `__dirname` only exists in the CommonJS bundle; MODEL_CARD_PATH (tests, ESM) avoids reading it.
const config = readProxyConfig(process.env, () => join(__dirname, 'model.json'));
const card = loadProxyCard(config);
const logger = new Logger();
const metrics = new Metrics();
// The same metric names and dimensions as a Lambda-hosted model, so dashboards and alarms read the same.
metrics.setDefaultDimensions({ model: card.name, version: String(card.version) });
logger.appendKeys({ model: card.name, modelVersion: card.version, endpointName: config.endpointName });

const proxy = createSageMakerProxyHandler({
  client: createSageMakerRuntimeClient({ timeoutMs: config.invokeTimeoutMs }),
  endpointName: config.endpointName,
  card,
  timeoutMs: config.invokeTimeoutMs,
  limits: config,
  logger,
  onRecord: (record, latencyMs) => recordRequestMetrics(metrics, record, latencyMs),
  // Every prediction on stdout; the log group's subscription filter sends it to the capture bucket's predictions/.
  predictions: new StdoutCaptureSink(),
  onRecordingFailure: () => metrics.addMetric('PredictionRecordFailures', MetricUnit.Count, 1),
  explain: { dir: dirname(config.modelCardPath), limits: config.explain },
});
logger.info('sagemaker proxy ready', { timeoutMs: config.invokeTimeoutMs, features: card.input.features.length });

export const handler = apiLambdaEntry(logger, metrics, proxy);
