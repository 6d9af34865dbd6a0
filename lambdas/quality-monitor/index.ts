// Lambda entry of the quality monitor (bundled into the pipeline image as `quality-monitor`, beside the models'
// cards): settings, logger and clients are made once per execution environment; each scheduled event runs the
// monitor once.
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { readModelCardFile } from '../core/models/model-card-file';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { readQualityMonitorConfig } from './config';
import { createQualityMonitorHandler } from './handler';

const config = readQualityMonitorConfig(process.env);
const logger = new Logger({ serviceName: `${config.project}-${config.stage}-quality-monitor` });

export const handler = createQualityMonitorHandler({
  config,
  store: new S3ObjectStore(new S3Client({})),
  cloudWatch: new CloudWatchClient({}),
  sns: new SNSClient({}),
  logger,
  card: (model) => readModelCardFile(join(config.modelsDir, model, 'model.json'), model),
});
