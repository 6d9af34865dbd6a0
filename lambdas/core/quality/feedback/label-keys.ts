// Where labels lie in the capture bucket (and under .mlship/capture/ locally):
// ground-truth/<model>/<yyyy>/<MM>/<dd>/<HH>/<file>, by the UTC hour the label was received (contracts.ts).
import { hourPath } from '../../monitoring/capture/capture-keys';
import { GROUND_TRUTH_PREFIX } from '../contracts';

/** `ground-truth/<model>/`: every label of one model, whatever version it judges. */
export function groundTruthModelPrefix(model: string): string {
  return `${GROUND_TRUTH_PREFIX}${model}/`;
}

/** The folder of the labels of one model received in one UTC hour. */
export function groundTruthHourPrefix(model: string, hour: Date): string {
  return `${groundTruthModelPrefix(model)}${hourPath(hour)}/`;
}

/** The key the feedback function writes one request's labels to: `<hour prefix><requestId>.jsonl`. */
export function feedbackObjectKey(model: string, receivedAt: Date, requestId: string): string {
  return `${groundTruthHourPrefix(model, receivedAt)}${requestId}.jsonl`;
}

const HOUR_IN_KEY = /^ground-truth\/[^/]+\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//;

/** The start of the UTC hour a label file's key names, or undefined for a key outside the layout. */
export function labelFileHour(key: string): Date | undefined {
  const match = HOUR_IN_KEY.exec(key);
  if (!match) return undefined;
  const [, y, mo, d, h] = match.map(Number) as [number, number, number, number, number];
  const time = new Date(Date.UTC(y, mo - 1, d, h));
  // Date.UTC rolls 2026/02/31 over into March: such a key names no hour.
  return time.getUTCMonth() === mo - 1 && time.getUTCDate() === d && time.getUTCHours() === h ? time : undefined;
}
