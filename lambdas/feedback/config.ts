// The feedback function's settings, from the environment the construct (lib/quality/feedback-api.ts) sets, checked
// once at start-up: a missing or wrong one stops the function at init with its name, not on the first request.
import { z } from 'zod';
import { ConfigError, jsonVariable } from '../core/common/config-error';
import { taskSchema } from '../core/models/model-card';
import type { FeedbackTarget } from '../core/quality/feedback/validate';

const targetSchema = z.strictObject({
  model: z.string().min(1),
  task: taskSchema,
  labels: z.array(z.string().min(1)),
  maxBatchSize: z.number().int().min(1).optional(),
});

const envSchema = z.object({
  /** The capture bucket: labels go under ground-truth/. */
  CAPTURE_BUCKET: z.string().min(3),
  /** The DynamoDB table of (model, id, index) already labelled. */
  LEDGER_TABLE: z.string().min(3),
  /** JSON: every model's feedback target (classes, task, maxBatchSize). */
  FEEDBACK_MODELS: jsonVariable(z.array(targetSchema).min(1)),
  /** Longest request body, bytes (the manifest's api.maxBodyBytes). */
  MAX_BODY_BYTES: z.coerce.number().int().min(1),
  /** Days a ledger entry lives (the capture retention: a label older than the predictions it could join is no longer counted). */
  LEDGER_TTL_DAYS: z.coerce.number().int().min(1),
});

export interface FeedbackConfig {
  readonly bucket: string;
  readonly table: string;
  readonly targets: readonly FeedbackTarget[];
  readonly maxBodyBytes: number;
  readonly ledgerTtlDays: number;
}

export function readFeedbackConfig(env: NodeJS.ProcessEnv): FeedbackConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  const e = parsed.data;
  return {
    bucket: e.CAPTURE_BUCKET,
    table: e.LEDGER_TABLE,
    targets: e.FEEDBACK_MODELS.map((t) => ({ model: t.model, task: t.task, labels: t.labels, ...(t.maxBatchSize === undefined ? {} : { maxBatchSize: t.maxBatchSize }) })),
    maxBodyBytes: e.MAX_BODY_BYTES,
    ledgerTtlDays: e.LEDGER_TTL_DAYS,
  };
}
