// Lambda entry of the batch state machine's plan step (in the pipeline image, beside every model's
// model.json). Settings, checked at start-up:
//   DATA_BUCKET   the stage's data bucket (input, output, work files)
//   BATCH_MODELS  JSON: model name -> { runtime, rowsPerBatch? (lambda), transformJobPrefix? (sagemaker), explainTopK?, explainMaxEvaluations? }
//   MODELS_DIR    optional: where the models' folders are (default /opt/ml/models)
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { batchEnvSchemas, createPlanHandler, readBatchEnv, readBatchModels, type PlanEvent } from '../core/batch/pipeline/handlers';
import type { PlanModel } from '../core/batch/pipeline/plan';
import { readModelCardFile } from '../core/models/model-card-file';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { withoutStackTrace } from '../core/pipelines/step-errors';

const logger = new Logger();
const env = readBatchEnv(batchEnvSchemas.plan, process.env);
const models = new Map<string, PlanModel>(
  Object.entries(readBatchModels(env.BATCH_MODELS)).map(([name, m]) => [
    name,
    {
      card: readModelCardFile(join(env.MODELS_DIR, name, 'model.json'), name),
      runtime: m.runtime,
      ...(m.rowsPerBatch ? { rowsPerBatch: m.rowsPerBatch } : {}),
      ...(m.transformJobPrefix ? { transformJobPrefix: m.transformJobPrefix } : {}),
      ...(m.explainTopK ? { explainTopK: m.explainTopK } : {}),
      ...(m.explainMaxEvaluations ? { explainMaxEvaluations: m.explainMaxEvaluations } : {}),
    },
  ]),
);
const plan = createPlanHandler({ store: new S3ObjectStore(), bucket: env.DATA_BUCKET, models });

export const handler = withoutStackTrace(
  async (event: PlanEvent, context: Context) => {
    logger.addContext(context);
    const result = await plan(event);
    logger.info('planned', { model: result.model, rowsIn: result.rowsIn, files: result.files, workPrefix: result.workPrefix });
    return result;
  },
  (error) => logger.error('step failed', { error }),
);
