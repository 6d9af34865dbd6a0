// One hour summary: what a monitor folded from one UTC hour of a model version's captures, and exactly which
// bytes of which objects that was. Both are in the one object, written whole (an S3 PUT; locally written aside
// and renamed), so the summary is its own checkpoint: a run that dies before writing it leaves the previous
// summary, whose offsets say the new bytes were never folded, and the next run folds them once.
import { z } from 'zod';
import type { ObjectStore } from '../../storage/object-store';

export const HOUR_SUMMARY_FORMAT = 'mlship-hour-summary/1';

/** Most problems a summary keeps (the first ones of its hour). */
export const MAX_SUMMARY_PROBLEMS = 10;

/** How much of one capture object has been folded. */
export interface FoldedObject {
  /** Bytes folded from its start: its complete lines up to there. The next run reads from this byte. */
  readonly bytes: number;
  /** Lines folded (too long and unreadable ones included). */
  readonly lines: number;
  /** Found smaller than `bytes` once (replaced, not appended to): said once, never read again. */
  readonly shrank?: true;
}

export interface HourSummary {
  readonly format: typeof HOUR_SUMMARY_FORMAT;
  /** The monitor that folded it ('drift'). */
  readonly kind: string;
  readonly model: string;
  readonly version: string;
  /** The hour's start, ISO 8601. */
  readonly hour: string;
  /** The capture prefix folded. */
  readonly source: string;
  /** What the state is counted against (a hash of the drift baseline): a summary of another is folded again. */
  readonly fingerprint: string;
  /** Per capture object key: what of it is folded. */
  readonly objects: Readonly<Record<string, FoldedObject>>;
  /** Lines folded, rows they held, lines rejected (unreadable, too long, not of the model). */
  readonly lines: number;
  readonly rows: number;
  readonly rejected: number;
  /** The hour's first problems: `<key> line <n>: <why>`. */
  readonly problems: readonly string[];
  /** The monitor's accumulator, exactly (DriftAccumulator.state for drift). */
  readonly state: unknown;
  /** When it was written. */
  readonly updated: string;
}

const count = z.number().int().min(0);

const hourSummarySchema = z.object({
  format: z.literal(HOUR_SUMMARY_FORMAT),
  kind: z.string(),
  model: z.string(),
  version: z.string(),
  hour: z.string(),
  source: z.string(),
  fingerprint: z.string(),
  objects: z.record(z.string(), z.object({ bytes: count, lines: count, shrank: z.literal(true).optional() })),
  lines: count,
  rows: count,
  rejected: count,
  problems: z.array(z.string()),
  state: z.unknown(),
  updated: z.string(),
});

/** The summary's object, as written. */
export function serialiseHourSummary(summary: HourSummary): string {
  return `${JSON.stringify(summary)}\n`;
}

/** A summary read back; throws naming what is wrong when the bytes are not one. */
export function parseHourSummary(bytes: Uint8Array): HourSummary {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new RangeError('not JSON');
  }
  const parsed = hourSummarySchema.safeParse(value);
  if (!parsed.success) throw new RangeError(parsed.error.issues.map((i) => `${i.path.join('.') || 'summary'} ${i.message}`).join('; '));
  return parsed.data as HourSummary;
}

/** Writes a summary in one PUT (FolderObjectStore: written aside, then renamed). */
export async function writeHourSummary(store: ObjectStore, bucket: string, key: string, summary: HourSummary): Promise<void> {
  await store.write(bucket, key, serialiseHourSummary(summary), 'application/json');
}
