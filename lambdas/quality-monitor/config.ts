// The quality monitor's settings, from the environment the construct (lib/quality/quality-monitor.ts) sets, checked
// once at start-up: a missing or wrong one stops the function at init with its name, not on the first run.
import { z } from 'zod';
import { ConfigError, jsonVariable } from '../core/common/config-error';
import { qualitySettingsSchema } from '../core/manifest/schema';

const monitoredSchema = z.strictObject({
  name: z.string().min(1),
  /** The live version: its card is <MODELS_DIR>/<name>/model.json and must say this version. */
  version: z.string().min(1),
  /** The model's monitoring.quality as the manifest resolved it (window, minLabels, thresholds). */
  quality: qualitySettingsSchema,
  /** Set for a model that retrains: where its captured features are, to write its labelled training rows. */
  trainingRows: z
    .discriminatedUnion('runtime', [z.strictObject({ runtime: z.literal('lambda') }), z.strictObject({ runtime: z.literal('sagemaker'), endpointName: z.string().min(1) })])
    .optional(),
});

export type QualityMonitoredEntry = z.infer<typeof monitoredSchema>;

const envSchema = z.object({
  /** The capture bucket: predictions/ and ground-truth/ to read, the monitor's state under monitor/. */
  CAPTURE_BUCKET: z.string().min(3),
  /** The notifications topic the quality alerts go to. */
  TOPIC_ARN: z.string().startsWith('arn:', 'must be an SNS topic ARN'),
  PROJECT: z.string().min(1),
  STAGE: z.string().min(1),
  /** JSON: the models to judge, with their live version and quality settings. */
  MONITORED_MODELS: jsonVariable(z.array(monitoredSchema).min(1)),
  /** Folder of the models' files in the image: <MODELS_DIR>/<model>/model.json. */
  MODELS_DIR: z.string().startsWith('/', 'must be an absolute path').default('/opt/ml/models'),
  /** The stage's dashboard, linked from every alert. */
  DASHBOARD_URL: z.string().url().optional(),
  /** The retrain data bucket: labelled training rows of the models that retrain go under its training-data/<model>/. */
  TRAINING_DATA_BUCKET: z.string().min(3).optional(),
});

export interface QualityMonitorConfig {
  readonly bucket: string;
  readonly topicArn: string;
  readonly project: string;
  readonly stage: string;
  readonly models: readonly QualityMonitoredEntry[];
  readonly modelsDir: string;
  readonly dashboardUrl?: string;
  /** Where training rows go; set whenever a model has trainingRows. */
  readonly trainingDataBucket?: string;
}

export function readQualityMonitorConfig(env: NodeJS.ProcessEnv): QualityMonitorConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  const e = parsed.data;
  const names = e.MONITORED_MODELS.map((m) => m.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new ConfigError(`MONITORED_MODELS names '${twice}' twice`);
  const retraining = e.MONITORED_MODELS.find((m) => m.trainingRows !== undefined);
  if (retraining && !e.TRAINING_DATA_BUCKET) throw new ConfigError(`TRAINING_DATA_BUCKET is needed: MONITORED_MODELS ${retraining.name} writes training rows`);
  return {
    bucket: e.CAPTURE_BUCKET,
    topicArn: e.TOPIC_ARN,
    project: e.PROJECT,
    stage: e.STAGE,
    models: e.MONITORED_MODELS,
    modelsDir: e.MODELS_DIR,
    ...(e.DASHBOARD_URL ? { dashboardUrl: e.DASHBOARD_URL } : {}),
    ...(e.TRAINING_DATA_BUCKET ? { trainingDataBucket: e.TRAINING_DATA_BUCKET } : {}),
  };
}
