// Lambda entry of the retrain state machine's `Register` step (a zip function: it needs neither the
// live model nor onnxruntime): the candidate's files into the registry and its SSM parameter.
import { Logger } from '@aws-lambda-powertools/logger';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { parseEvent, registerEventSchema, type Registered } from '../core/retrain/contract';
import { registerCandidate, type ParameterStore } from '../core/retrain/register';
import { S3ObjectStore } from '../core/storage/s3-object-store';
import { withoutStackTrace } from '../core/pipelines/step-errors';

const logger = new Logger({ serviceName: 'retrain-register' });
const store = new S3ObjectStore();
const ssm = new SSMClient({});

/** The parameter exists (the stack creates it with a placeholder), so this only overwrites its value. */
const parameters: ParameterStore = {
  put: async (name, value) => {
    await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }));
  },
};

export const handler = withoutStackTrace(
  async (event: unknown, context: Context): Promise<Registered> => {
    logger.addContext(context);
    const input = parseEvent(registerEventSchema, event, 'Register');
    logger.appendKeys({ model: input.settings.model, execution: input.execution });
    const registered = await registerCandidate(input, { store, parameters });
    logger.info('registered candidate', { version: registered.version, uri: registered.uri, parameter: registered.parameterName });
    return registered;
  },
  (error) => logger.error('step failed', { error }),
);
