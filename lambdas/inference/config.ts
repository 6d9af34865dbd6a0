// Settings from the environment, read once at start-up: a missing or wrong value stops the function
// at init with a message naming the variable, instead of failing on the first request.
import { ConfigError } from '../core/common/config-error';
import { DEFAULT_EXPLAIN_LIMITS, type ExplainLimits } from '../core/serving/explain-limits';

export interface InferenceConfig {
  readonly modelDir: string;
  /** The model and version this function was deployed for (the metric dimensions, even if loading fails). */
  readonly modelName: string | undefined;
  readonly modelVersion: string | undefined;
  readonly maxBodyBytes: number;
  readonly maxBatchSize: number;
  /** Share of scored requests captured to stdout for the drift monitor, percent (CAPTURE_PERCENT; 0: none). */
  readonly capturePercent: number;
  /** :explain's limits (EXPLAIN_MAX_INSTANCES, EXPLAIN_TIMEOUT_MS, EXPLAIN_MAX_EVALUATIONS: the manifest's explain block). */
  readonly explain: ExplainLimits;
}

export { ConfigError };

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer, received '${raw}'`);
  return value;
}

function percent(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value >= 0 && value <= 100)) throw new ConfigError(`${name} must be a number from 0 to 100, received '${raw}'`);
  return value;
}

export function readInferenceConfig(env: NodeJS.ProcessEnv): InferenceConfig {
  return {
    modelDir: env.MODEL_DIR || '/opt/ml/model',
    modelName: env.MODEL_NAME || undefined,
    modelVersion: env.MODEL_VERSION || undefined,
    maxBodyBytes: positiveInteger(env, 'MAX_BODY_BYTES', 1024 * 1024),
    maxBatchSize: positiveInteger(env, 'MAX_BATCH_SIZE', 1000),
    capturePercent: percent(env, 'CAPTURE_PERCENT', 0),
    explain: {
      maxInstances: positiveInteger(env, 'EXPLAIN_MAX_INSTANCES', DEFAULT_EXPLAIN_LIMITS.maxInstances),
      timeoutMs: positiveInteger(env, 'EXPLAIN_TIMEOUT_MS', DEFAULT_EXPLAIN_LIMITS.timeoutMs),
      maxEvaluations: positiveInteger(env, 'EXPLAIN_MAX_EVALUATIONS', DEFAULT_EXPLAIN_LIMITS.maxEvaluations),
    },
  };
}
