// Lambda entry point (bundled by esbuild into the container image). Logger, metrics and the model
// session are created once per execution environment, at module scope; each invocation reuses them.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { RequestCapture, StdoutCaptureSink } from '../core/monitoring/capture/capture-sink';
import { ServedModel } from '../core/models/inference-session';
import { ModelApi } from '../core/serving/model-api';
import { explainOptionsFor } from '../core/serving/explain-options';
import { readInferenceConfig } from './config';
import { createInferenceHandler, type InferenceHandler } from './handler';
import { apiLambdaEntry } from './lambda-entry';
import { recordRequestMetrics, recordServerError } from './request-metrics';

const config = readInferenceConfig(process.env);
const logger = new Logger();
const metrics = new Metrics();
// The deployed model and version name the metrics from the start, so failures before the model is
// loaded still count against this version (the release alarms watch these dimensions).
if (config.modelName && config.modelVersion) metrics.setDefaultDimensions({ model: config.modelName, version: config.modelVersion });



const unavailable = (message: string): InferenceHandler => async () => {
  recordServerError(metrics);
  return { statusCode: 503, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code: 'model_unavailable', message } }) };
};

// Loaded during init (outside the billed invocation on a cold start); a model that fails to load
// answers 503 with a message instead of crashing every invocation.
const ready: Promise<InferenceHandler> = ServedModel.load(config.modelDir).then(
  (model) => {
    metrics.setDefaultDimensions({ model: model.name, version: String(model.version) });
    logger.appendKeys({ model: model.name, modelVersion: model.version });
    logger.info('model loaded', { features: model.featureCount, task: model.card.task });
    // Every prediction, and the sampled captured requests, go to stdout as JSON lines (one write per request);
    // the log group's subscription filter sends them to the capture bucket.
    const sink = new StdoutCaptureSink();
    const capture = config.capturePercent > 0 ? new RequestCapture(config.capturePercent, sink) : undefined;
    return createInferenceHandler({
      // :explain reads background.json from the model folder, and model.onnx for a built-in logreg's exact SHAP.
      api: new ModelApi(model, config, explainOptionsFor({ dir: config.modelDir, card: model.card, predict: (rows, count) => model.predict(rows, count) }, config.explain, (message) => logger.warn(message))),
      logger,
      onRecord: (record, latencyMs) => recordRequestMetrics(metrics, record, latencyMs),
      ...(capture ? { capture } : {}),
      predictions: sink,
      onRecordingFailure: (what) => metrics.addMetric(what === 'capture' ? 'CaptureFailures' : 'PredictionRecordFailures', MetricUnit.Count, 1),
    });
  },
  (error: unknown) => {
    logger.critical('model failed to load', { error: error as Error, modelDir: config.modelDir });
    return unavailable(`the model in ${config.modelDir} failed to load; see the function's logs`);
  },
);

export const handler = apiLambdaEntry(logger, metrics, ready);
