// Lambda entry of the feedback function (bundled by esbuild as CommonJS): settings, logger and clients are made
// once per execution environment (see ./config):
//   CAPTURE_BUCKET    the capture bucket; labels go under ground-truth/<model>/<yyyy>/<MM>/<dd>/<HH>/
//   LEDGER_TABLE      the table of (model, id, index) already labelled, for counting duplicates
//   FEEDBACK_MODELS   JSON [{model, task, labels, maxBatchSize}] of the stage's models
//   MAX_BODY_BYTES    the API's body limit
//   LEDGER_TTL_DAYS   days a ledger entry lives (the capture retention)
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { readFeedbackConfig } from './config';
import { createFeedbackHandler } from './handler';

const logger = new Logger();
const feedback = createFeedbackHandler({ config: readFeedbackConfig(process.env), s3: new S3Client({}), dynamodb: new DynamoDBClient({}), logger });

export const handler = async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
  logger.addContext(context);
  return feedback(event);
};
