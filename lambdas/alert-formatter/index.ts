// Lambda entry point of the alert formatter (bundled by esbuild as CommonJS). Logger and AWS SDK clients are
// created once, at module scope; settings come from the environment (see ./config):
//   NOTIFICATION_TOPIC_ARN  the notifications topic (people's e-mails)
//   PROJECT, STAGE          the stack's project and stage (alarm names start with <project>-<stage>-)
//   MODELS                  JSON {"<model>": "<version>"} of the stage's models
//   DASHBOARD_URL           optional: the stage's dashboard, linked in every alert
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SNSClient } from '@aws-sdk/client-sns';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SNSEvent } from 'aws-lambda';
import { readAlertFormatterConfig } from './config';
import { createAlertFormatter } from './handler';

const logger = new Logger();
const formatter = createAlertFormatter({ cloudWatch: new CloudWatchClient({}), sns: new SNSClient({}), config: readAlertFormatterConfig(process.env), logger });

export const handler = async (event: SNSEvent, context: Context): Promise<void> => {
  logger.addContext(context);
  await formatter(event);
};
