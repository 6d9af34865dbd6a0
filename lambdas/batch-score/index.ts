// Lambda entry of a model's batch scorer (the Distributed Map's item processor; in the pipeline image,
// with onnxruntime-node and the model). The model is loaded once per execution environment. Settings:
//   DATA_BUCKET   the stage's data bucket (work files)
//   MODEL_NAME    the model this function scores
//   MODELS_DIR    optional: where the models' folders are (default /opt/ml/models)
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { batchEnvSchemas, createScoreHandler, readBatchEnv } from '../core/batch/pipeline/handlers';
import type { ScoreBatchEvent } from '../core/batch/pipeline/types';
import { ServedModel } from '../core/models/inference-session';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { withoutStackTrace } from '../core/pipelines/step-errors';

const logger = new Logger();
const env = readBatchEnv(batchEnvSchemas.score, process.env);
const store = new S3ObjectStore();
const ready = ServedModel.load(join(env.MODELS_DIR, env.MODEL_NAME)).then((model) => {
  if (model.name !== env.MODEL_NAME) throw new Error(`${env.MODELS_DIR}/${env.MODEL_NAME} holds model '${model.name}'`);
  logger.appendKeys({ model: model.name, modelVersion: model.version });
  return createScoreHandler({ store, bucket: env.DATA_BUCKET, predictor: model });
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
