// Settings of the SageMaker proxy, read once at start-up; a missing or wrong value stops the function at
// init with a message naming the variable (or the file) at fault.
import type { ModelCard } from '../core/models/model-card';
import { ConfigError, readInferenceConfig } from '../inference/config';
import type { ExplainLimits } from '../core/serving/explain-limits';
import { readModelCardFile } from '../core/models/model-card-file';

export { ConfigError };

export interface ProxyConfig {
  /** The SageMaker endpoint to invoke (ENDPOINT_NAME). */
  readonly endpointName: string;
  /** The model this proxy serves (MODEL_NAME); model.json must be its card. */
  readonly modelName: string;
  /** Per-attempt limit of InvokeEndpoint (INVOKE_TIMEOUT_MS). */
  readonly invokeTimeoutMs: number;
  /** Where the model card is: model.json next to the bundle, or MODEL_CARD_PATH. */
  readonly modelCardPath: string;
  readonly maxBodyBytes: number;
  readonly maxBatchSize: number;
  /** :explain's limits, as for a Lambda-hosted model. */
  readonly explain: ExplainLimits;
}

/** @default 2000: a model on a GPU answers in tens of milliseconds; the API should fail fast, not hang. */
export const DEFAULT_INVOKE_TIMEOUT_MS = 2000;

/**
 * How the proxy calls the endpoint (lambdas/sagemaker-proxy/index.ts): up to 3 attempts of
 * INVOKE_TIMEOUT_MS each (retries on throttling), and the whole call ends within 3 x it + 2 s.
 */
export const PROXY_INVOKE_ATTEMPTS = 3;
export const PROXY_OVERHEAD_MS = 2000;

/** The proxy's timeout for an invoke timeout: the longest call it can make, plus a second. */
export function proxyTimeoutSeconds(invokeTimeoutMs: number): number {
  return Math.ceil((PROXY_INVOKE_ATTEMPTS * invokeTimeoutMs + PROXY_OVERHEAD_MS) / 1000) + 1;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} must be set`);
  return value;
}

/** SageMaker endpoint names: 1-63 letters, digits and dashes, starting with a letter or digit. */
const ENDPOINT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

/** `defaultCardPath` is model.json next to the bundled handler; MODEL_CARD_PATH overrides it. */
export function readProxyConfig(env: NodeJS.ProcessEnv, defaultCardPath: () => string): ProxyConfig {
  const endpointName = required(env, 'ENDPOINT_NAME');
  if (!ENDPOINT_NAME.test(endpointName)) {
    throw new ConfigError(`ENDPOINT_NAME must be a SageMaker endpoint name (1-63 letters, digits or dashes), received '${endpointName.slice(0, 100)}'`);
  }
  const modelName = required(env, 'MODEL_NAME');
  const rawTimeout = env.INVOKE_TIMEOUT_MS?.trim();
  const invokeTimeoutMs = rawTimeout ? Number(rawTimeout) : DEFAULT_INVOKE_TIMEOUT_MS;
  if (!Number.isSafeInteger(invokeTimeoutMs) || invokeTimeoutMs < 1 || invokeTimeoutMs > 60_000) {
    throw new ConfigError(`INVOKE_TIMEOUT_MS must be a whole number of milliseconds from 1 to 60000 (SageMaker's own limit), received '${rawTimeout}'`);
  }
  // The same limits, variables and defaults as the Lambda-hosted model.
  const { maxBodyBytes, maxBatchSize, explain } = readInferenceConfig(env);
  return { endpointName, modelName, invokeTimeoutMs, modelCardPath: env.MODEL_CARD_PATH?.trim() || defaultCardPath(), maxBodyBytes, maxBatchSize, explain };
}

/** Reads and validates model.json and checks it is the card of MODEL_NAME. */
export function loadProxyCard(config: ProxyConfig): ModelCard {
  try {
    return readModelCardFile(config.modelCardPath, config.modelName);
  } catch (error) {
    // The pre-traffic hook's loader, with its own ConfigError: one error class for this function's settings.
    throw new ConfigError((error as Error).message, { cause: error });
  }
}
