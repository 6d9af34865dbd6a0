// Settings of the pre-traffic hook, read once at start-up. A missing or wrong value is named with the
// variable (or file) at fault.
import { ConfigError } from '../core/common/config-error';

export interface HookConfig {
  /** The qualified ARN of the version being deployed (arn:aws:lambda:<region>:<account>:function:<name>:<version>). */
  readonly targetFunctionArn: string;
  readonly modelName: string;
  /** Where the new version's model.json is. */
  readonly modelCardPath: string;
}

export { ConfigError };

/** A qualified function ARN: the unqualified one would invoke $LATEST, not the version being deployed. */
const QUALIFIED_FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_$-]{1,128}$/;

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new ConfigError(`${name} must be set`);
  return value.trim();
}

/** `defaultCardPath` is model.json next to the bundled handler; MODEL_CARD_PATH overrides it. */
export function readHookConfig(env: NodeJS.ProcessEnv, defaultCardPath: () => string): HookConfig {
  const targetFunctionArn = required(env, 'TARGET_FUNCTION_ARN');
  if (!QUALIFIED_FUNCTION_ARN.test(targetFunctionArn)) {
    throw new ConfigError(`TARGET_FUNCTION_ARN must be the qualified ARN of the new version (arn:aws:lambda:<region>:<account>:function:<name>:<version>), received '${targetFunctionArn.slice(0, 200)}'`);
  }
  return { targetFunctionArn, modelName: required(env, 'MODEL_NAME'), modelCardPath: env.MODEL_CARD_PATH?.trim() || defaultCardPath() };
}

/** Reads and validates the model card, and checks it is the card of `modelName`. */
