// The drift monitor's settings, from the environment the construct (lib/monitoring/drift-monitor.ts) sets, checked once
// at start-up: a missing or wrong one stops the function at init with its name, not on the first run.
import { z } from 'zod';
import { ConfigError, jsonVariable } from '../core/common/config-error';
import { resolveThresholds, type DriftThresholds } from '../core/monitoring/drift/thresholds';

/**
 * A model's thresholds as the construct writes them: all six, already resolved from the manifest by
 * resolveDriftThresholds (none is filled in here, so a missing one is a wrong deployment, not a default).
 */
const thresholdsSchema = z
  .strictObject({ psiModerate: z.number(), psiSignificant: z.number(), predictionJs: z.number(), alpha: z.number(), driftShare: z.number(), minSampleSize: z.number() })
  .transform((t, ctx): DriftThresholds => {
    try {
      return resolveThresholds(t);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

const monitoredSchema = z.strictObject({
  name: z.string().min(1),
  version: z.string().min(1),
  runtime: z.enum(['lambda', 'sagemaker']),
  endpointName: z.string().min(1).optional(),
  drift: thresholdsSchema,
});

export type MonitoredEntry = z.infer<typeof monitoredSchema>;

const envSchema = z.object({
  /** The capture bucket: captures under lambda/ and data-capture/, the monitor's state under monitor/state/. */
  CAPTURE_BUCKET: z.string().min(3),
  /** The notifications topic the drift reports go to. */
  TOPIC_ARN: z.string().startsWith('arn:', 'must be an SNS topic ARN'),
  PROJECT: z.string().min(1),
  STAGE: z.string().min(1),
  /** Hours of captures each run reads. */
  WINDOW_HOURS: z.coerce.number().int().min(1).max(168),
  /** JSON: the models to watch, with their live version, runtime, endpoint and drift thresholds. */
  MONITORED_MODELS: jsonVariable(z.array(monitoredSchema).min(1)),
  /** Folder of the models' files in the image: <MODELS_DIR>/<model>/model.json. */
  MODELS_DIR: z.string().startsWith('/', 'must be an absolute path').default('/opt/ml/models'),
  /** The stage's dashboard, linked from every report. */
  DASHBOARD_URL: z.string().url().optional(),
});

/**
 * The settings of the fan-out's plan and fold functions (lib/monitoring/drift-monitor.ts): the monitor's
 * bucket, window and models, and for the plan when to fan out and how big a share is.
 */
const stepEnvSchema = envSchema.pick({ CAPTURE_BUCKET: true, WINDOW_HOURS: true, MONITORED_MODELS: true, MODELS_DIR: true }).extend({
  /** New bytes above which a run fans out. */
  FAN_OUT_ABOVE_BYTES: z.coerce.number().int().min(0).optional(),
  /** Most bytes one child folds. */
  SHARE_BYTES: z.coerce.number().int().min(1).optional(),
});

export interface DriftMonitorStepConfig {
  readonly bucket: string;
  readonly windowHours: number;
  readonly models: readonly MonitoredEntry[];
  readonly modelsDir: string;
  readonly fanOutAboveBytes?: number;
  readonly shareBytes?: number;
}

export function readDriftMonitorStepConfig(env: NodeJS.ProcessEnv): DriftMonitorStepConfig {
  const parsed = stepEnvSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  const e = parsed.data;
  return {
    bucket: e.CAPTURE_BUCKET,
    windowHours: e.WINDOW_HOURS,
    models: e.MONITORED_MODELS,
    modelsDir: e.MODELS_DIR,
    ...(e.FAN_OUT_ABOVE_BYTES === undefined ? {} : { fanOutAboveBytes: e.FAN_OUT_ABOVE_BYTES }),
    ...(e.SHARE_BYTES === undefined ? {} : { shareBytes: e.SHARE_BYTES }),
  };
}

export interface DriftMonitorConfig {
  readonly bucket: string;
  readonly topicArn: string;
  readonly project: string;
  readonly stage: string;
  readonly windowHours: number;
  readonly models: readonly MonitoredEntry[];
  readonly modelsDir: string;
  readonly dashboardUrl?: string;
}

export function readDriftMonitorConfig(env: NodeJS.ProcessEnv): DriftMonitorConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  const e = parsed.data;
  return {
    bucket: e.CAPTURE_BUCKET,
    topicArn: e.TOPIC_ARN,
    project: e.PROJECT,
    stage: e.STAGE,
    windowHours: e.WINDOW_HOURS,
    models: e.MONITORED_MODELS,
    modelsDir: e.MODELS_DIR,
    ...(e.DASHBOARD_URL ? { dashboardUrl: e.DASHBOARD_URL } : {}),
  };
}
