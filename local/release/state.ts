// The local release state, kept in .mlship/state.json: which version of each model is live, the
// deployment in progress (so a restart resumes it), and the history of releases. Written atomically
// (temporary file, then rename), so a crash never leaves half a file.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseWithSchema } from '../../lambdas/core/common/schema-errors';

export const deploymentSchema = z.object({
  id: z.string(),
  from: z.number().int().min(1),
  to: z.number().int().min(1),
  strategy: z.enum(['canary', 'linear', 'all-at-once']),
  /** Share of traffic to the new version now, in percent. */
  weight: z.number().min(0).max(100),
  /** Index into the strategy's schedule of weights. */
  step: z.number().int().min(0),
  startedAt: z.iso.datetime(),
  stepStartedAt: z.iso.datetime(),
});
export type Deployment = z.infer<typeof deploymentSchema>;

export const releaseOutcomeSchema = z.object({
  id: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  outcome: z.enum(['promoted', 'rolled-back', 'failed-golden-check']),
  reason: z.string(),
  by: z.enum(['controller', 'manual', 'restart']),
  at: z.iso.datetime(),
});
export type ReleaseOutcome = z.infer<typeof releaseOutcomeSchema>;

export const modelReleaseStateSchema = z.object({
  /** The version that serves all traffic when no deployment is in progress. */
  live: z.number().int().min(1),
  deployment: deploymentSchema.optional(),
  /** Versions rolled back or refused: not deployed again until the manifest names another version. */
  rejected: z.array(z.number().int()).default([]),
  history: z.array(releaseOutcomeSchema).default([]),
});
export type ModelReleaseState = z.infer<typeof modelReleaseStateSchema>;

export const releaseStateSchema = z.object({
  schemaVersion: z.literal(1),
  models: z.record(z.string(), modelReleaseStateSchema),
});
export type ReleaseState = z.infer<typeof releaseStateSchema>;

/** Keeps the newest entries of a model's history. */
export const HISTORY_LIMIT = 50;

export class StateError extends Error {
  override readonly name = 'StateError';
}

export class ReleaseStateStore {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, 'state.json');
  }

  /** The saved state, or an empty one on the first run. A corrupt file is an error, never silently reset. */
  load(): ReleaseState {
    if (!existsSync(this.file)) return { schemaVersion: 1, models: {} };
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (error) {
      throw new StateError(`${this.file} is not valid JSON (${(error as Error).message}); fix or remove it to start over`);
    }
    const parsed = parseWithSchema(releaseStateSchema, raw);
    if (!parsed.ok) throw new StateError(`${this.file} is not a valid release state: ${parsed.errors.join('; ')}; fix or remove it to start over`);
    return parsed.data;
  }

  save(state: ReleaseState): void {
    mkdirSync(this.dir, { recursive: true });
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
    renameSync(temporary, this.file);
  }
}
