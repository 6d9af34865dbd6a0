// Settings of the pre-traffic hook, read once at start-up. A missing or wrong value is named with the
// variable (or file) at fault.
import { readFileSync } from 'node:fs';
import { modelCardSchema, type ModelCard } from '../core/model-card';
import { parseWithSchema } from '../core/schema-errors';

export interface HookConfig {
  /** The qualified ARN of the version being deployed (arn:aws:lambda:<region>:<account>:function:<name>:<version>). */
  readonly targetFunctionArn: string;
  readonly modelName: string;
  /** Where the new version's model.json is. */
  readonly modelCardPath: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

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
export function loadHookCard(path: string, modelName: string): ModelCard {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the model card ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`the model card ${path} is not JSON: ${(error as Error).message}`);
  }
  const parsed = parseWithSchema(modelCardSchema, json);
  if (!parsed.ok) throw new ConfigError(`the model card ${path} is not valid: ${parsed.errors.slice(0, 5).join('; ')}`);
  if (parsed.data.name !== modelName) throw new ConfigError(`the model card ${path} is for model '${parsed.data.name}', MODEL_NAME is '${modelName}'`);
  return parsed.data;
}
