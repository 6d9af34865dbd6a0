// Physical names with a length limit (CodeDeploy groups, alarms, SageMaker endpoints and configs).
import { createHash } from 'node:crypto';

/** The first `length` hex digits of the sha256 of `text`. */
export function shortHash(text: string, length = 8): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** A physical name of at most `max` characters: as is when it fits, else cut and suffixed with a hash of the whole. */
export function boundedName(name: string, max: number): string {
  if (name.length <= max) return name;
  return `${name.slice(0, max - 9)}-${shortHash(name)}`;
}

/**
 * The name of a model's drift alarm: `<project>-<stage>-<model>-drift`. The monitoring construct creates
 * the alarm under this name, and the retrain state machine's `onDrift` rule matches its state changes by
 * it, so both must take it from here.
 */
export function driftAlarmName(project: string, stage: string, model: string): string {
  return `${project}-${stage}-${model}-drift`;
}
