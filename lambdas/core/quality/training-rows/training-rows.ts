// Labels feed retraining (issue 17.4): over one window of prediction time, the labels of a model are read into
// a map (id, index) -> truth, then the captured requests of the window's hours are read and every captured
// instance with a label becomes a training row, written as ONE CSV file per window under the retrain data
// prefix (training-data/<model>/production-<from>-<to>-labelled.csv), which the retrain gather step reads like
// any other CSV: the card's features in order, then its label column holding the class name (the value for a
// regressor). Captures and labels are read line by line and the file is streamed out (ObjectStore.writeStream),
// so memory holds the label map and a few MiB, never a whole object. Only the sampled share of requests
// (capturePercent) has features, so most labels find no captured row (about 90% at the default 10%): they are
// counted, not an error. Every line that cannot be read is counted with its reason.
//
// SageMaker models: their captures are the endpoint's own lines, which carry the request's id only as
// eventMetadata.inferenceId, set when InvokeEndpoint is called with an InferenceId; a line without it cannot be
// joined and is counted as captured without an id (rowsWithoutId).
import type { ModelCard } from '../../models/model-card';
import { lambdaCaptureHourPrefix, hoursOf, hourPath, sageMakerCaptureHourPrefix } from '../../monitoring/capture/capture-keys';
import { batchOfSageMakerLine, lineProblem, parseLambdaCaptureLine, type CapturedBatch } from '../../monitoring/capture/capture-parse';
import { DEFAULT_MAX_LINE_BYTES, readLines } from '../../storage/line-reader';
import { listAll, type ObjectStore, type StoredObject } from '../../storage/object-store';
import { csvField, labelColumnOf } from '../../retrain/gather';
import { checkHourWindow, productionRowsKey, trainingDataPrefix, type HourWindow } from '../../retrain/production-rows';
import { LAMBDA_CAPTURE_PREFIX } from '../../monitoring/contracts';
import { GROUND_TRUTH_PREFIX } from '../contracts';
import { labelFileFormat, readLabels } from '../feedback/label-reader';
import { feedbackTargetOf } from '../feedback/validate';

/** Bytes of an object read per range: what the join holds of a capture file, and of its rows, at once. */
const RANGE_BYTES = 8 * 1024 * 1024;
/** Output is handed to the store in pieces of about this size. */
const PIECE_BYTES = 1024 * 1024;
/** Rejected lines described in the result (all are counted). */
const MAX_PROBLEMS = 20;

export interface TrainingRowsRequest {
  readonly store: ObjectStore;
  /** Where captures (lambda/, data-capture/) and labels (ground-truth/) are: the capture bucket; locally `<stateDir>/capture`. */
  readonly captureBucket: string;
  /** Where the rows go: the retrain data bucket (RetrainSettings.dataBucket); locally `<stateDir>/retrain-data` (local/retrain/production-rows.ts). */
  readonly dataBucket: string;
  /** The live model card: its features (in order), label column (training.labelColumn), task and classes. */
  readonly card: ModelCard;
  /** Prediction time, whole UTC hours [from, to): the captures of these hours are joined (trainingRowsWindow gives a run's). */
  readonly window: HourWindow;
  /**
   * Labels received from window.from up to this time are read (labels come late: pass the run's time).
   * @default window.to
   */
  readonly labelsUntil?: Date;
  /** @default 'lambda' */
  readonly runtime?: 'lambda' | 'sagemaker';
  /** runtime sagemaker: the endpoint whose captures are read (data-capture/<endpointName>/AllTraffic/...). */
  readonly endpointName?: string;
  /** runtime lambda: the versions whose captures are read. @default - every version under lambda/model=<model>/ */
  readonly versions?: readonly string[];
  /** @default `training-data/<model>/` (the retrain state machine's default data prefix) */
  readonly dataPrefix?: string;
  /** @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
}

export interface TrainingRowsResult {
  readonly bucket: string;
  /** The file of this window (written only when rowsWritten > 0). */
  readonly key: string;
  /** Whether the file was (re)written; a window without a labelled captured row leaves any earlier file of it as it was. */
  readonly written: boolean;
  readonly window: { readonly from: string; readonly to: string };
  readonly labelsUntil: string;
  /** Labelled captured instances written as rows. */
  readonly rowsWritten: number;
  readonly labels: {
    readonly files: number;
    readonly lines: number;
    /** Distinct (id, index) labels kept (the first of each). */
    readonly kept: number;
    /** Later labels of an (id, index) already labelled: the first wins. */
    readonly duplicates: number;
    readonly rejected: number;
    /** Kept labels with no captured instance in the window: unsampled requests (capturePercent), or predictions outside the window. */
    readonly withoutCapturedRow: number;
  };
  readonly captures: {
    /** The versions (lambda) or the endpoint (sagemaker) whose captures were read. */
    readonly sources: readonly string[];
    readonly files: number;
    readonly lines: number;
    /** Captured instances read. */
    readonly rows: number;
    /** Captured instances of lines with no inference id (written before issue 17, or SageMaker lines without inferenceId). */
    readonly rowsWithoutId: number;
    /** Captured instances with no label (yet). */
    readonly rowsUnlabelled: number;
    /** Captured instances seen a second time (a capture delivered twice): written once. */
    readonly duplicateRows: number;
    /** Labelled instances not written: a feature that is not a finite number. */
    readonly rowsRejected: number;
    readonly rejectedLines: number;
  };
  /** The first rejected lines and rows, `<key> line <n>: <reason>`. */
  readonly problems: readonly string[];
}

/**
 * A float32 in the fewest digits that read back as the same float32 (what the model saw, and no more). Nine
 * significant digits always do; more digits never read back worse (the p-digit rounding is itself a
 * (p+1)-digit number), so the fewest are found by bisection: 3 or 4 tries instead of up to 9.
 */
export function float32Text(value: number): string {
  if (!Number.isFinite(value) || value === 0) return String(value);
  let lo = 1;
  let hi = 9;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Math.fround(Number(value.toPrecision(mid))) === value) hi = mid;
    else lo = mid + 1;
  }
  return String(Number(value.toPrecision(lo)));
}

/** Ranges of an object read line by line; yields after each range, returns the bytes of an unfinished last line. */
async function* linesOf(store: ObjectStore, bucket: string, object: StoredObject, maxLineBytes: number, line: (text: string) => void, tooLong: (bytes: number) => void): AsyncGenerator<void, number> {
  let start = 0;
  let end = Math.min(object.size, RANGE_BYTES);
  while (start < object.size) {
    const read = await readLines(store, bucket, object.key, { line, tooLong }, { start, end, maxLineBytes });
    if (end >= object.size) return object.size - read.next;
    // No complete line in the range: a long line (a too-long one is skipped once its newline is reached).
    if (read.next === start) {
      end = Math.min(object.size, start + 2 * (end - start));
      continue;
    }
    start = read.next;
    end = Math.min(object.size, start + RANGE_BYTES);
    yield;
  }
  return 0;
}

/** Key of an (id, index): ids have no newline (visible ASCII only). */
const instanceKey = (id: string, index: number) => `${index}\n${id}`;

/** Writes the window's labelled captured rows as one CSV file; see the file's header. */
export async function writeLabelledTrainingRows(request: TrainingRowsRequest): Promise<TrainingRowsResult> {
  const { store, card, window } = request;
  checkHourWindow(window);
  const runtime = request.runtime ?? 'lambda';
  if (runtime === 'sagemaker' && !request.endpointName) throw new RangeError(`${card.name} runs on SageMaker: endpointName is needed to read its captures`);
  const labelsUntil = request.labelsUntil ?? window.to;
  if (Number.isNaN(labelsUntil.getTime())) throw new RangeError('labelsUntil is not a date');
  const maxLineBytes = request.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const features = card.input.features;
  const width = features.length;
  const labelColumn = labelColumnOf(card);
  const prefix = request.dataPrefix ?? trainingDataPrefix(card.name);
  const key = productionRowsKey(prefix, window);
  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(text);
  };

  // 1. Labels received in [window.from, labelsUntil), the first of each (id, index) kept.
  const slotOf = new Map<string, number>();
  const truths: number[] = [];
  const used: boolean[] = [];
  const labels = { files: 0, lines: 0, kept: 0, duplicates: 0, rejected: 0 };
  const target = feedbackTargetOf(card);
  const classIndex = new Map(card.labels.map((label, i) => [label, i]));
  const keep = (id: string, index: number, truth: number) => {
    const k = instanceKey(id, index);
    if (slotOf.has(k)) {
      labels.duplicates++;
      return;
    }
    slotOf.set(k, truths.length);
    truths.push(truth);
    used.push(false);
    labels.kept++;
  };
  const labelHours = hoursOf({ from: window.from, to: new Date(Math.max(labelsUntil.getTime(), window.from.getTime() + 1)) });
  for (const hour of labelHours) {
    for (const object of await listAll(store, request.captureBucket, `${GROUND_TRUTH_PREFIX}${card.name}/${hourPath(hour)}/`)) {
      if (labelFileFormat(object.key) === undefined) continue;
      labels.files++;
      // The one label reader: a label line means here what it means to the feedback API and the quality join.
      const read = await readLabels(
        store,
        request.captureBucket,
        object.key,
        target,
        {
          label: (record) => keep(record.id, record.index, card.task === 'regression' ? record.value! : classIndex.get(record.label!)!),
          rejected: (line, why) => problem(`${object.key} line ${line}: ${why}`),
        },
        { maxLineBytes },
      );
      labels.lines += read.labels + read.rejected;
      labels.rejected += read.rejected;
    }
  }

  // 2. The captures of the window's hours, joined, as CSV text in pieces.
  const captures = { files: 0, lines: 0, rows: 0, rowsWithoutId: 0, rowsUnlabelled: 0, duplicateRows: 0, rowsRejected: 0, rejectedLines: 0 };
  let sources: string[];
  if (runtime === 'sagemaker') {
    sources = [request.endpointName!];
  } else if (request.versions) {
    sources = [...request.versions];
  } else {
    const found = new Set<string>();
    const modelPrefix = `${LAMBDA_CAPTURE_PREFIX}model=${card.name}/`;
    for (const { key: k } of await listAll(store, request.captureBucket, modelPrefix)) {
      const match = /^version=([^/]+)\//.exec(k.slice(modelPrefix.length));
      if (match) found.add(match[1]!);
    }
    sources = [...found].sort();
  }
  let rowsWritten = 0;
  let pending: string[] = [];
  let pendingBytes = 0;
  const add = (batch: CapturedBatch, id: string | undefined, first: number, where: string) => {
    captures.rows += batch.count;
    if (id === undefined) {
      captures.rowsWithoutId += batch.count;
      return;
    }
    for (let i = 0; i < batch.count; i++) {
      const slot = slotOf.get(instanceKey(id, first + i));
      if (slot === undefined) {
        captures.rowsUnlabelled++;
        continue;
      }
      if (used[slot]) {
        captures.duplicateRows++;
        continue;
      }
      used[slot] = true;
      const cells: string[] = [];
      let bad = -1;
      for (let j = 0; j < width; j++) {
        const v = batch.rows[i * width + j]!;
        if (!Number.isFinite(v)) {
          bad = j;
          break;
        }
        cells.push(float32Text(v));
      }
      if (bad >= 0) {
        captures.rowsRejected++;
        problem(`${where}: instance ${first + i} of ${id}: feature '${features[bad]}' is not a finite number, the row cannot be trained on`);
        continue;
      }
      const truth = truths[slot]!;
      cells.push(card.task === 'regression' ? String(truth) : csvField(card.labels[truth]!));
      const row = `${cells.join(',')}\n`;
      pending.push(row);
      pendingBytes += row.length;
      rowsWritten++;
    }
  };
  const parse = (text: string): { batch: CapturedBatch; id: string | undefined; first: number } => {
    if (runtime === 'sagemaker') {
      const value = JSON.parse(text) as { eventMetadata?: { inferenceId?: unknown } };
      const batch = batchOfSageMakerLine(value, card);
      const inferenceId = value.eventMetadata?.inferenceId;
      return { batch, id: typeof inferenceId === 'string' && inferenceId !== '' ? inferenceId : undefined, first: 0 };
    }
    const batch = parseLambdaCaptureLine(text, card);
    return { batch, id: batch.id, first: batch.first ?? 0 };
  };

  async function* rows(): AsyncGenerator<string> {
    let started = false;
    const flush = function* (force: boolean): Generator<string> {
      if (pending.length === 0 || (!force && pendingBytes < PIECE_BYTES)) return;
      const body = pending.join('');
      pending = [];
      pendingBytes = 0;
      if (!started) {
        started = true;
        yield `${[...features, labelColumn].map(csvField).join(',')}\n${body}`;
      } else {
        yield body;
      }
    };
    for (const source of sources) {
      for (const hour of hoursOf(window)) {
        const hourPrefix = runtime === 'sagemaker' ? sageMakerCaptureHourPrefix(source, hour) : lambdaCaptureHourPrefix(card.name, source, hour);
        for (const object of await listAll(store, request.captureBucket, hourPrefix)) {
          captures.files++;
          let lineNo = 0;
          const line = (text: string) => {
            lineNo++;
            if (text.trim() === '') return;
            captures.lines++;
            try {
              const { batch, id, first } = parse(text);
              add(batch, id, first, `${object.key} line ${lineNo}`);
            } catch (error) {
              captures.rejectedLines++;
              problem(`${object.key} line ${lineNo}: ${lineProblem(error)}`);
            }
          };
          const tooLong = (bytes: number) => {
            lineNo++;
            captures.lines++;
            captures.rejectedLines++;
            problem(`${object.key} line ${lineNo}: ${bytes} bytes, longer than ${maxLineBytes}`);
          };
          const reading = linesOf(store, request.captureBucket, object, maxLineBytes, line, tooLong);
          let step = await reading.next();
          while (!step.done) {
            yield* flush(false);
            step = await reading.next();
          }
          if (step.value > 0) {
            captures.lines++;
            captures.rejectedLines++;
            problem(`${object.key} line ${lineNo + 1}: unfinished (${step.value} bytes and no newline: a write cut short)`);
          }
          yield* flush(false);
        }
      }
    }
    yield* flush(true);
  }

  // Nothing is written until the first row exists: a window without one leaves an earlier file as it was
  // (its captures may have expired since it was written).
  const out = rows();
  const firstPiece = await out.next();
  let written = false;
  if (!firstPiece.done) {
    const encoder = new TextEncoder();
    await store.writeStream(
      request.dataBucket,
      key,
      (async function* () {
        yield encoder.encode(firstPiece.value);
        for (let piece = await out.next(); !piece.done; piece = await out.next()) yield encoder.encode(piece.value);
      })(),
      'text/csv',
    );
    written = true;
  }
  return {
    bucket: request.dataBucket,
    key,
    written,
    window: { from: window.from.toISOString(), to: window.to.toISOString() },
    labelsUntil: labelsUntil.toISOString(),
    rowsWritten,
    labels: { ...labels, withoutCapturedRow: used.reduce((n, u) => (u ? n : n + 1), 0) },
    captures: { sources, ...captures },
    problems,
  };
}
