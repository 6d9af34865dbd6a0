// Where the monitors keep their hour summaries, in the capture bucket (locally: the same keys under the capture
// folder): monitor/summaries/<kind>/model=<model>/version=<version>/<yyyy>/<MM>/<dd>/<HH>.json, one per UTC hour
// of captures of a model version that a monitor of that kind (drift, and the monitors to come) has folded.
import { hourPath } from '../capture/capture-keys';

/** Everything the monitors write lives under this prefix of the capture bucket (their role writes nowhere else). */
export const MONITOR_PREFIX = 'monitor/';

/** The hour summaries (lifecycle: they expire with the captures they were folded from). */
export const SUMMARIES_PREFIX = `${MONITOR_PREFIX}summaries/`;

const HOUR_MS = 3_600_000;

/** `monitor/summaries/<kind>/model=<model>/`: every summary of a model, all versions. */
export function summaryModelPrefix(kind: string, model: string): string {
  return `${SUMMARIES_PREFIX}${kind}/model=${model}/`;
}

/** `monitor/summaries/<kind>/model=<model>/version=<version>/`: a version's hour summaries. */
export function summaryVersionPrefix(kind: string, model: string, version: string): string {
  return `${summaryModelPrefix(kind, model)}version=${version}/`;
}

/** The summary of one hour of a model version. */
export function hourSummaryKey(kind: string, model: string, version: string, hour: Date): string {
  return `${summaryVersionPrefix(kind, model, version)}${hourPath(hour)}.json`;
}

/** The hour a summary key is for (its `<yyyy>/<MM>/<dd>/<HH>.json` ending), or undefined for another key. */
export function hourOfSummaryKey(key: string): Date | undefined {
  const match = /(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\.json$/.exec(key);
  if (!match) return undefined;
  const time = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]), Number(match[4]));
  return Number.isNaN(time) ? undefined : new Date(time);
}

/** The start of the UTC hour holding `time`. */
export function hourStart(time: Date): Date {
  return new Date(Math.floor(time.getTime() / HOUR_MS) * HOUR_MS);
}

/**
 * The whole UTC hours a monitor window covers, oldest first: the hours that start inside [from, to), so a
 * 24-hour window ending now is the current hour (so far) and the 23 before it. A window shorter than an hour
 * (a local run with --time-scale) covers the one or two hours it touches.
 */
export function wholeHoursOf(window: { readonly from: Date; readonly to: Date }): Date[] {
  const from = window.from.getTime();
  const to = window.to.getTime();
  if (!(to > from)) throw new RangeError(`the window must end after it starts, received ${window.from.toISOString()} to ${window.to.toISOString()}`);
  const first = to - from >= HOUR_MS ? Math.ceil(from / HOUR_MS) * HOUR_MS : Math.floor(from / HOUR_MS) * HOUR_MS;
  const hours: Date[] = [];
  for (let t = first; t < to; t += HOUR_MS) hours.push(new Date(t));
  return hours;
}
