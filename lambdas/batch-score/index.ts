// Lambda entry of a model's batch scorer (the Distributed Map's item processor; in the pipeline image,
// with onnxruntime-node and the model). The model is loaded once per execution environment; its explainer
// (background.json beside it) the first time a run's plan asks for explanations. Settings:
//   DATA_BUCKET   the stage's data bucket (work files)
//   MODEL_NAME    the model this function scores
//   MODELS_DIR    optional: where the models' folders are (default /opt/ml/models)
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { batchEnvSchemas, createScoreHandler, readBatchEnv } from '../core/batch/pipeline/handlers';
import { modelFolderExplainer } from '../core/batch/pipeline/score';
import type { ScoreBatchEvent } from '../core/batch/pipeline/types';
import { ServedModel } from '../core/models/inference-session';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { withoutStackTrace } from '../core/pipelines/step-errors';

const logger = new Logger();
const env = readBatchEnv(batchEnvSchemas.score, process.env);
const store = new S3ObjectStore();
const modelDir = join(env.MODELS_DIR, env.MODEL_NAME);
const ready = ServedModel.load(modelDir).then((model) => {
  if (model.name !== env.MODEL_NAME) throw new Error(`${env.MODELS_DIR}/${env.MODEL_NAME} holds model '${model.name}'`);
  logger.appendKeys({ model: model.name, modelVersion: model.version });
  return createScoreHandler({ store, bucket: env.DATA_BUCKET, predictor: model, explainer: modelFolderExplainer(modelDir, model) });
});

export const handler = withoutStackTrace(
  async (event: ScoreBatchEvent, context: Context) => {
    logger.addContext(context);
    const result = await (await ready)(event);
    logger.info('batch scored', { ...result });
    return result;
  },
  (error) => logger.error('step failed', { error }),
);
