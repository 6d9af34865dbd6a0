// Lambda entry point of the CodeDeploy pre-traffic hook (bundled by esbuild as CommonJS, with the new
// version's model.json copied next to index.js). Logger and AWS SDK clients are created once, at module
// scope; settings come from the environment:
//   TARGET_FUNCTION_ARN  qualified ARN of the version being deployed (fn.currentVersion.functionArn)
//   MODEL_NAME           the model's name; must match model.json
//   MODEL_CARD_PATH      optional: the model card to read instead of model.json next to this file
import { join } from 'node:path';
import { CodeDeployClient, PutLifecycleEventHookExecutionStatusCommand } from '@aws-sdk/client-codedeploy';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { readModelCardFile } from '../core/models/model-card-file';
import { readHookConfig } from './config';
import { createPreTrafficHook, type LifecycleHookEvent, type PreTrafficHook } from './handler';

const logger = new Logger();
const lambda = new LambdaClient({});
const codeDeploy = new CodeDeployClient({});

/**
 * Settings are read and checked here, at start-up. A bad setting is logged as critical at init, but it
 * does not crash the init: a hook that never reports leaves the deployment waiting for its timeout, so
 * each invocation reports Failed at once with the reason instead (and rolls the deployment back).
 */
function build(): PreTrafficHook {
  try {
    // `__dirname` only exists in the CommonJS bundle; MODEL_CARD_PATH (tests, ESM) avoids reading it.
    const config = readHookConfig(process.env, () => join(__dirname, 'model.json'));
    const card = readModelCardFile(config.modelCardPath, config.modelName);
    logger.appendKeys({ model: card.name, modelVersion: card.version });
    logger.info('pre-traffic hook ready', { targetFunctionArn: config.targetFunctionArn, goldenCases: card.golden.length, tolerance: card.goldenTolerance });
    return createPreTrafficHook({ lambda, codeDeploy, card, targetFunctionArn: config.targetFunctionArn, logger });
  } catch (error) {
    const reason = (error as Error).message;
    logger.critical('pre-traffic hook misconfigured; every deployment it gates will fail', { error: error as Error });
    return async (event) => {
      logger.error(`the golden check cannot run: ${reason}`, { deploymentId: event.DeploymentId });
      await codeDeploy.send(
        new PutLifecycleEventHookExecutionStatusCommand({ deploymentId: event.DeploymentId, lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId, status: 'Failed' }),
      );
    };
  }
}

const hook = build();

export const handler = async (event: LifecycleHookEvent, context: Context): Promise<void> => {
  logger.addContext(context);
  await hook(event, context);
};
