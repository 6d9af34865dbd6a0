// Lambda entry of the drift monitor (bundled into the pipeline image as `drift-monitor`): settings, logger and
// clients are made once per execution environment; each scheduled event runs the monitor once.
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { readModelCardFile } from '../core/models/model-card-file';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { readDriftMonitorConfig } from './config';
import { createDriftMonitorHandler } from './handler';

const config = readDriftMonitorConfig(process.env);
const logger = new Logger({ serviceName: `${config.project}-${config.stage}-drift-monitor` });

export const handler = createDriftMonitorHandler({
  config,
  store: new S3ObjectStore(new S3Client({})),
  cloudWatch: new CloudWatchClient({}),
  sns: new SNSClient({}),
  logger,
  card: (model) => readModelCardFile(join(config.modelsDir, model, 'model.json'), model),
});
