// Incremental monitoring: a run reads only what arrived since the previous one. Per UTC hour of the window it
// lists the hour's capture objects, reads the hour's summary (what is folded so far, and up to which byte of
// which object), folds the new complete lines of each object into it (a new object, a file that grew, a file
// that arrived late for an hour long past: all the same), and writes the summary back when it changed. The
// window's figures are the merge of its hours' summaries. A run costs one LIST per hour of the window, one
// summary read per hour that has one, the new bytes, and one LIST of the model's summaries (which also finds
// the summaries past retention, deleted here); never the window's volume.
//
// Exactly once: a summary holds the state and the offsets it was folded up to, written in one PUT, so the two
// cannot disagree. A run that dies before the PUT leaves the previous summary (and its offsets); the next run
// folds the same bytes into it once. A run that dies after it has nothing left to do for that hour.
import { readLines, type LinesRead } from '../../storage/line-reader';
import { listAll, ObjectNotFoundError, type ObjectStore, type StoredObject } from '../../storage/object-store';
import { HOUR_SUMMARY_FORMAT, MAX_SUMMARY_PROBLEMS, parseHourSummary, writeHourSummary, type FoldedObject, type HourSummary } from './hour-summary';
import { hourOfSummaryKey, hourSummaryKey, summaryModelPrefix } from './summary-keys';

/** What a monitor folds lines into, and how its partial results are kept and merged. */
export interface LineFolder<A> {
  /** What the state is counted against (a hash of the baseline): a summary with another is folded again from the start. */
  readonly fingerprint: string;
  empty(): A;
  /** The state as JSON, exactly. */
  save(accumulator: A): unknown;
  /** A state written by `save`; throws when it does not fit. */
  load(state: unknown): A;
  /** Adds `from` into `into`. */
  merge(into: A, from: A): void;
  /** Folds one line (never blank) into `accumulator` and returns its rows; throws naming what is wrong, leaving it unchanged. */
  fold(accumulator: A, line: string): number;
}

/** One hour of the window and where its captures are. */
export interface HourSource {
  readonly hour: Date;
  readonly prefix: string;
}

export interface WindowFoldRequest<A> {
  readonly store: ObjectStore;
  readonly bucket: string;
  /** The monitor ('drift'): its summaries are under monitor/summaries/<kind>/. */
  readonly kind: string;
  readonly model: string;
  readonly version: string;
  /** The window's hours, oldest first. */
  readonly hours: readonly HourSource[];
  readonly folder: LineFolder<A>;
  /** Longest capture line read; a longer one is rejected unread. @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
  /** Summaries of the model (any version) for hours before this one are deleted. @default - none deleted */
  readonly deleteBefore?: Date;
  /** The run's time, written in the summaries. @default now */
  readonly now?: Date;
}

export interface HourFigures {
  readonly hour: Date;
  /** Capture objects in the hour, and lines, rows and rejected lines folded from them, all runs together. */
  readonly objects: number;
  readonly lines: number;
  readonly rows: number;
  readonly rejected: number;
  /** Rows folded into it by this run. */
  readonly rowsFolded: number;
  /** Whether this run wrote its summary. */
  readonly written: boolean;
}

export interface WindowFold<A> {
  /** The merge of the window's hour summaries. */
  readonly total: A;
  readonly hours: readonly HourFigures[];
  /** This run: capture objects it read from (new or grown), the bytes it read, lines and rows it folded. */
  readonly objectsRead: number;
  readonly bytesRead: number;
  readonly linesFolded: number;
  readonly rowsFolded: number;
  /** Bytes of unfinished last lines, left for the next run. */
  readonly pendingBytes: number;
  readonly summariesWritten: number;
  readonly summariesDeleted: number;
  /** The window, all runs together: capture objects, lines, rows, rejected lines, and the first problems (newest hour first). */
  readonly objects: number;
  readonly lines: number;
  readonly rows: number;
  readonly rejected: number;
  readonly problems: string[];
}

/** A summary that cannot be a real one (its objects map is bounded by the hour's objects): read no further. */
export const MAX_SUMMARY_BYTES = 64 * 1024 * 1024;

/** An hour's summary while a run (or the fan-out's merge) folds into it. */
export interface HourState<A> {
  accumulator: A;
  objects: Record<string, FoldedObject>;
  lines: number;
  rows: number;
  rejected: number;
  problems: string[];
}

/** Folds what is new in each hour of the window into its summary, and merges the window's summaries. */
export async function foldWindow<A>(request: WindowFoldRequest<A>): Promise<WindowFold<A>> {
  const { store, bucket, kind, model, version, folder } = request;
  const now = request.now ?? new Date();
  // One LIST finds the summaries there are (the window's, and those past retention).
  const existing = new Map<string, StoredObject>();
  let summariesDeleted = 0;
  const before = request.deleteBefore?.getTime();
  for (const object of await listAll(store, bucket, summaryModelPrefix(kind, model))) {
    const hour = hourOfSummaryKey(object.key);
    if (before !== undefined && hour !== undefined && hour.getTime() < before) {
      await store.delete(bucket, object.key);
      summariesDeleted++;
    } else {
      existing.set(object.key, object);
    }
  }

  const total = folder.empty();
  const hours: HourFigures[] = [];
  const run = { objectsRead: 0, bytesRead: 0, linesFolded: 0, rowsFolded: 0, pendingBytes: 0, summariesWritten: 0, objects: 0 };
  const problemsByHour: string[][] = [];
  for (const { hour, prefix } of request.hours) {
    const key = hourSummaryKey(kind, model, version, hour);
    const listed = await listAll(store, bucket, prefix);
    const { state, notes } = await startingPoint(store, bucket, existing.get(key), folder, prefix);
    let changed = notes.length > 0 && listed.length > 0;
    for (const note of notes) addProblem(state, `${key}: ${note}`);
    let hourRows = 0;
    for (const object of listed) {
      const done = state.objects[object.key];
      const from = done?.bytes ?? 0;
      if (object.size === from || done?.shrank) continue;
      if (object.size < from) {
        // Capture objects are only ever appended to: one that shrank was replaced. What was folded of it stays
        // folded, its new content is not read, and that is said once.
        state.objects[object.key] = { ...done!, shrank: true };
        addProblem(state, `${object.key}: now ${object.size} bytes, of which ${from} were folded before: replaced, its new content is not read`);
        changed = true;
        continue;
      }
      let read;
      try {
        read = await foldObject(store, bucket, object, from, done?.lines ?? 0, state, folder, request.maxLineBytes);
      } catch (error) {
        // Listed, then gone before it was read (local retention drops old files): nothing of it was folded.
        if (!(error instanceof ObjectNotFoundError)) throw error;
        addProblem(state, `${object.key}: gone before it was read`);
        continue;
      }
      run.objectsRead++;
      run.bytesRead += read.bytesRead;
      run.pendingBytes += read.pendingBytes;
      if (read.next > from) {
        state.objects[object.key] = { bytes: read.next, lines: (done?.lines ?? 0) + read.lines };
        run.linesFolded += read.lines;
        hourRows += read.rows;
        changed = true;
      }
    }
    if (changed) {
      await writeHourSummary(store, bucket, key, hourSummaryOf(folder, state, { kind, model, version, hour, source: prefix }, now));
      run.summariesWritten++;
    }
    folder.merge(total, state.accumulator);
    run.rowsFolded += hourRows;
    run.objects += listed.length;
    problemsByHour.push(state.problems);
    hours.push({ hour, objects: listed.length, lines: state.lines, rows: state.rows, rejected: state.rejected, rowsFolded: hourRows, written: changed });
  }
  const problems = problemsByHour.reverse().flat().slice(0, MAX_SUMMARY_PROBLEMS);
  return {
    total,
    hours,
    ...run,
    summariesDeleted,
    lines: hours.reduce((s, h) => s + h.lines, 0),
    rows: hours.reduce((s, h) => s + h.rows, 0),
    rejected: hours.reduce((s, h) => s + h.rejected, 0),
    problems,
  };
}

/** The summary that records an hour's state: its accumulator and what it has folded of each object. */
export function hourSummaryOf<A>(folder: LineFolder<A>, state: HourState<A>, hour: { readonly kind: string; readonly model: string; readonly version: string; readonly hour: Date; readonly source: string }, now: Date): HourSummary {
  return {
    format: HOUR_SUMMARY_FORMAT,
    kind: hour.kind,
    model: hour.model,
    version: hour.version,
    hour: hour.hour.toISOString(),
    source: hour.source,
    fingerprint: folder.fingerprint,
    objects: state.objects,
    lines: state.lines,
    rows: state.rows,
    rejected: state.rejected,
    problems: state.problems,
    state: folder.save(state.accumulator),
    updated: now.toISOString(),
  };
}

export function addProblem(state: HourState<unknown>, problem: string): void {
  if (state.problems.length < MAX_SUMMARY_PROBLEMS) state.problems.push(problem);
}

/** The hour's summary as the run starts from: the stored one, or an empty one (first run, or a stored one that does not fit, said in `notes`). */
export async function startingPoint<A>(store: ObjectStore, bucket: string, stored: StoredObject | undefined, folder: LineFolder<A>, prefix: string): Promise<{ state: HourState<A>; notes: string[] }> {
  const empty = (): HourState<A> => ({ accumulator: folder.empty(), objects: {}, lines: 0, rows: 0, rejected: 0, problems: [] });
  if (!stored) return { state: empty(), notes: [] };
  let why: string;
  if (stored.size > MAX_SUMMARY_BYTES) {
    why = `${stored.size} bytes, more than a summary can be`;
  } else {
    try {
      const summary = parseHourSummary(await store.read(bucket, stored.key));
      if (summary.fingerprint !== folder.fingerprint) why = 'counted against another baseline';
      else if (summary.source !== prefix) why = `folded from ${summary.source}, not ${prefix}`;
      else {
        return {
          state: { accumulator: folder.load(summary.state), objects: { ...summary.objects }, lines: summary.lines, rows: summary.rows, rejected: summary.rejected, problems: [...summary.problems] },
          notes: [],
        };
      }
    } catch (error) {
      why = `unreadable (${(error as Error).message.slice(0, 200)})`;
    }
  }
  return { state: empty(), notes: [`summary ${why}: the hour is folded again from its captures`] };
}

/** Folds the complete lines of `object` from byte `from` into the hour's state. */
export async function foldObject<A>(
  store: ObjectStore,
  bucket: string,
  object: StoredObject,
  from: number,
  linesBefore: number,
  state: HourState<A>,
  folder: LineFolder<A>,
  maxLineBytes: number | undefined,
): Promise<LinesRead & { rows: number }> {
  // The lines go into a fresh accumulator, merged into the hour's once the read is done: a read that fails
  // halfway (the object went, the network broke) leaves the hour as it was.
  const part = folder.empty();
  let lineNumber = linesBefore;
  let rows = 0;
  let lines = 0;
  let rejected = 0;
  const problems: string[] = [];
  const reject = (why: string) => {
    rejected++;
    if (problems.length < MAX_SUMMARY_PROBLEMS) problems.push(`${object.key} line ${lineNumber}: ${why}`);
  };
  const read = await readLines(
    store,
    bucket,
    object.key,
    {
      line: (text) => {
        lineNumber++;
        const line = text.trim();
        if (line === '') return;
        lines++;
        try {
          rows += folder.fold(part, line);
        } catch (error) {
          reject(error instanceof SyntaxError ? 'not JSON' : error instanceof Error ? error.message : String(error));
        }
      },
      tooLong: (bytes) => {
        lineNumber++;
        lines++;
        reject(`${bytes} bytes, longer than a capture line may be (${maxLineBytes ?? 'the default'}); skipped unread`);
      },
    },
    { start: from, end: object.size, ...(maxLineBytes === undefined ? {} : { maxLineBytes }) },
  );
  folder.merge(state.accumulator, part);
  state.lines += lines;
  state.rows += rows;
  state.rejected += rejected;
  for (const problem of problems) addProblem(state, problem);
  return { ...read, rows };
}
