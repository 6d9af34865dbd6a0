// Settings of the alert formatter, read once at start-up with zod; a missing or wrong value is named with
// its variable.
import { z } from 'zod';
import { ConfigError } from '../core/common/config-error';

export interface AlertFormatterConfig {
  /** The notifications topic people subscribe to (e-mails). */
  readonly topicArn: string;
  readonly project: string;
  readonly stage: string;
  /** Every model of the stage and the version it serves. */
  readonly models: Readonly<Record<string, string>>;
  readonly dashboardUrl?: string;
}

const envSchema = z.object({
  NOTIFICATION_TOPIC_ARN: z.string().trim().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/, 'must be an SNS topic ARN'),
  PROJECT: z.string().trim().min(1, 'must be set'),
  STAGE: z.string().trim().min(1, 'must be set'),
  MODELS: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string().min(1), z.string().min(1)).refine((m) => Object.keys(m).length > 0, 'must name at least one model')),
  DASHBOARD_URL: z.url().optional(),
});

export function readAlertFormatterConfig(env: NodeJS.ProcessEnv): AlertFormatterConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'} ${i.message}`).join('; '));
  }
  const { NOTIFICATION_TOPIC_ARN, PROJECT, STAGE, MODELS, DASHBOARD_URL } = parsed.data;
  return { topicArn: NOTIFICATION_TOPIC_ARN, project: PROJECT, stage: STAGE, models: MODELS, ...(DASHBOARD_URL ? { dashboardUrl: DASHBOARD_URL } : {}) };
}
