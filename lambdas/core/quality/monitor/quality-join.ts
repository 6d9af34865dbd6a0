// The quality monitor's join: labels (ground truth, by the hour they were received) against the prediction
// records of the window (by the hour they were made), per model version, into a QualityAccumulator each.
//
// How: first every label received from an hour before the window's first hour up to now is read into a table
// keyed by (id, index): the first label of a key wins, later ones are counted as duplicates, a label whose
// class the model does not know (or whose value is not a finite number) is rejected with its reason. Then each
// window hour's prediction records of every version are streamed, and each instance that has a label is added
// to its version's accumulator (delay = label time - prediction time, 0 when the label came first).
//
// Memory: bounded by the labels of the window, never by the objects or the predictions. Every object is read as
// a stream of lines (readLines). The label table (LabelTable) holds no object or string per label: 85 bits of
// hash of (id, index), truth and time, about 41 bytes a label (bench/quality/quality-join.ts measures it). A
// million labels take about 40 MB.
//
// Speed: the lines our own writers make (labelLine, predictionLines: fixed field order, no escapes) are read by
// scanners (quality-lines.ts) that take what the join needs from the line's text without JSON.parse, look the
// id up in the label table by the hash they take as they read it, and decode an instance's probabilities only
// when it has a label; any other label line goes through the one label reader (feedback/label-reader.ts), any other
// prediction line through JSON.parse, with the same result (quality-lines-fast.test.ts).
//
// Cost: each run re-joins the whole window: it reads the window's predictions plus its labels. Joins do not
// merge hour by hour the way drift summaries do (a label arriving late changes an hour already judged), so no
// hour summary is written: see docs/quality.md for the rate measured.
import { float32FromBase64 } from '../../monitoring/capture/capture-record';
import { hourStart, wholeHoursOf } from '../../monitoring/summaries/summary-keys';
import { readLines } from '../../storage/line-reader';
import type { ObjectStore, StoredObject } from '../../storage/object-store';
import type { PredictionRecord } from '../contracts';
import { groundTruthHourPrefix } from '../feedback/label-keys';
import { labelFileFormat, readLabels } from '../feedback/label-reader';
import type { FeedbackTarget } from '../feedback/validate';
import { predictionsHourPrefix } from '../predictions/prediction-sink';
import { QualityAccumulator } from '../metrics/quality-accumulator';
import {
  decodeBase64Into,
  idHashesOf,
  type IdHash,
  labelLineClasses,
  parsePredictionLine,
  predictionLineShape,
  scanLabelLine,
  scannedLabel,
  scannedPrediction,
  scanPredictionLine,
  type ScannedPrediction,
} from './quality-lines';

const HOUR_MS = 3_600_000;
/** Most problems (rejected lines with their reasons) kept per run. */
export const MAX_JOIN_PROBLEMS = 20;
/** Bytes of a usual label line (labelLine with a 22-character id), to size the label table from the objects' sizes. */
const LABEL_LINE_BYTES = 90;


/** What the join needs of a model. */
export interface JoinModel {
  readonly name: string;
  /** 'regression', or the class labels every label is checked against (the live card's). */
  readonly task: 'classification' | 'regression';
  readonly labels: readonly string[];
  /** The versions whose predictions are read. */
  readonly versions: readonly string[];
}

export interface JoinWindow {
  readonly from: Date;
  readonly to: Date;
}

/** One hour of a version: predictions made in it, how many were labelled, and what the hour's figure needs. */
export interface HourQuality {
  /** ISO time of the hour's start. */
  readonly hour: string;
  predictions: number;
  labelled: number;
  /** Classifiers: labelled predictions that were right. */
  correct: number;
  /** Regressors: sums of |error| and error². */
  absError: number;
  squaredError: number;
}

export interface JoinedVersion {
  readonly version: string;
  readonly accumulator: QualityAccumulator;
  /** Predictions (instances) made in the window. */
  predictions: number;
  /** Predictions joined with a label (accumulator.count). */
  labelled: number;
  /** Instances whose (id, index) a prediction earlier in the window already took (a caller reusing its id). */
  duplicatePredictions: number;
  /** Prediction record lines that could not be read. */
  rejectedLines: number;
  /** Labels whose class this version's records do not have. */
  unknownClasses: number;
  /** The window's hours, oldest first. */
  readonly hours: HourQuality[];
}

export interface LabelCounts {
  /** Label lines read (header lines of .csv files not counted). */
  readonly read: number;
  /** Distinct (id, index) kept. */
  readonly kept: number;
  /** Labels for an (id, index) already labelled: the first one counts. */
  readonly duplicates: number;
  /** Lines that were no label (bad JSON, unknown class, a value that is not a number, a bad id). */
  readonly rejected: number;
  /** Kept labels joined with a prediction of the window. */
  readonly joined: number;
  /** Kept labels with no prediction in the window: their prediction is older, not recorded, or still to come. */
  readonly withoutPrediction: number;
  /** Label objects and the hours they were read from. */
  readonly objects: number;
  readonly hours: number;
}

export interface QualityJoin {
  readonly model: string;
  /** The whole UTC hours of predictions judged: from the first one's start to the window's end. */
  readonly window: JoinWindow;
  readonly task: 'classification' | 'regression';
  readonly labels: LabelCounts;
  readonly versions: readonly JoinedVersion[];
  /** Prediction objects read, bytes read (labels and predictions). */
  readonly predictionObjects: number;
  readonly bytesRead: number;
  /** The first problems, `<key> line <n>: <why>`. */
  readonly problems: readonly string[];
}

export interface JoinOptions {
  /** Longest line read; a longer one is rejected unread. @default DEFAULT_MAX_LINE_BYTES (1 MiB) */
  readonly maxLineBytes?: number;
}

/**
 * The labels of a window, keyed by (id, index), without an object or a string per label: a million labels
 * made the collector, and then the memory itself (page faults and cache misses), the join's largest cost.
 *
 * A key is 85 bits of hash of (id, index): 32 bits pick and check the bucket (open addressing, linear probing,
 * at most half full; a bucket holds those 32 bits and the slot), 53 more are checked in the slot, beside the
 * label's truth and time (one cache line). The id itself is not kept. Two different keys share all 85 bits
 * with probability about 2^-85 (the lanes are independent 32-bit hashes of the id, finalised with the index):
 * a million labels against a million predictions mis-join with probability about 1e12 x 2.6e-26, 3e-14 a run.
 * The ids are the callers' or 128 random bits (inference-id.ts); a caller who knew another caller's id could
 * label it directly, so a crafted collision gains nothing. Slots are numbered in the order labels were added.
 * 16 bytes of bucket, 24 of slot and 1 of `joined`: about 41 bytes a label (bench/quality/quality-join.ts).
 */
export class LabelTable {
  /** Per bucket: the key's first 32 bits, and its slot + 1 (0 when empty). A power of two of buckets, at least twice the labels. */
  private buckets = new Int32Array(2 * 2048);
  /** Per slot: the key's other 53 bits, the truth (class index or value), the time (epoch ms). */
  private slots = new Float64Array(3 * 1024);
  /** Per slot: 1 once a prediction took the label. */
  joined = new Uint8Array(1024);
  size = 0;
  private readonly scratch: IdHash = { idHash: 0, idHash2: 0, idHash3: 0 };

  /** Adds a label; false when its key already has one. */
  add(id: string, index: number, truth: number, time: number): boolean {
    return this.addKey(idHashesOf(id, 0, id.length, this.scratch), index, truth, time);
  }

  /** Adds the label of the id whose IdHash is `id` (a scanner's); false when its key already has one. */
  addKey(id: IdHash, index: number, truth: number, time: number): boolean {
    const hash = keyHash(id.idHash, index);
    const print = keyPrint(id.idHash2, id.idHash3, index);
    const buckets = this.buckets;
    const mask = (buckets.length >> 1) - 1;
    let b = hash & mask;
    for (let s = buckets[2 * b + 1]!; s !== 0; s = buckets[2 * b + 1]!) {
      if (buckets[2 * b] === hash && this.slots[3 * (s - 1)] === print) return false;
      b = (b + 1) & mask;
    }
    const slot = this.size;
    if (slot === this.joined.length) this.grow(2 * slot);
    const slots = this.slots;
    slots[3 * slot] = print;
    slots[3 * slot + 1] = truth;
    slots[3 * slot + 2] = time;
    buckets[2 * b] = hash;
    buckets[2 * b + 1] = slot + 1;
    this.size = slot + 1;
    if (this.size * 2 > mask + 1) this.rehash();
    return true;
  }

  /** The slot of the label of (id, index), or -1. */
  slotOf(id: string, index: number): number {
    return this.findKey(idHashesOf(id, 0, id.length, this.scratch), index);
  }

  /** The slot of the label of (the id whose IdHash is `id`, index), or -1. */
  findKey(id: IdHash, index: number): number {
    const hash = keyHash(id.idHash, index);
    const buckets = this.buckets;
    const mask = (buckets.length >> 1) - 1;
    let b = hash & mask;
    for (let s = buckets[2 * b + 1]!; s !== 0; s = buckets[2 * b + 1]!) {
      if (buckets[2 * b] === hash && this.slots[3 * (s - 1)] === keyPrint(id.idHash2, id.idHash3, index)) return s - 1;
      b = (b + 1) & mask;
    }
    return -1;
  }

  /** The truth of a slot's label: the class index, or the value of a regressor's. */
  truthOf(slot: number): number {
    return this.slots[3 * slot + 1]!;
  }

  /** The time of a slot's label, epoch ms. */
  timeOf(slot: number): number {
    return this.slots[3 * slot + 2]!;
  }

  /** Room for `labels` labels (a size hint: no copy or rehash until then). */
  reserve(labels: number): void {
    if (!(Number.isSafeInteger(labels) && labels > this.joined.length)) return;
    this.grow(labels);
    if (2 * labels > this.buckets.length >> 1) this.rehash(2 * 2 ** Math.ceil(Math.log2(2 * labels)));
  }

  private grow(labels: number): void {
    this.slots = grown(this.slots, 3 * labels);
    this.joined = grown(this.joined, labels);
  }

  /** Moves the buckets to `length` / 2 buckets (twice as many, by default). */
  private rehash(length = this.buckets.length * 2): void {
    const old = this.buckets;
    const buckets = new Int32Array(length);
    const mask = (buckets.length >> 1) - 1;
    for (let o = 0; o < old.length; o += 2) {
      if (old[o + 1] === 0) continue;
      const hash = old[o]!;
      let b = hash & mask;
      while (buckets[2 * b + 1] !== 0) b = (b + 1) & mask;
      buckets[2 * b] = hash;
      buckets[2 * b + 1] = old[o + 1]!;
    }
    this.buckets = buckets;
  }
}

function grown<T extends Float64Array | Uint8Array>(array: T, length: number): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array);
  return next;
}

/** murmur3's finaliser: every bit of the input moves every bit of the output. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b | 0);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35 | 0);
  return h ^ (h >>> 16);
}

/** The key's first 32 bits: the id's first lane with the index (both 32-bit halves of it). */
function keyHash(idHash: number, index: number): number {
  return fmix(Math.imul(idHash ^ (index >>> 0), 0x01000193) ^ Math.imul(Math.floor(index / 4294967296), 0x27d4eb2d | 0));
}

/** The key's other 53 bits, from the id's two other lanes with the index: a whole number below 2^53, exact in a double. */
function keyPrint(idHash2: number, idHash3: number, index: number): number {
  const low = index >>> 0;
  const high = Math.floor(index / 4294967296);
  const upper = fmix(idHash2 ^ Math.imul(low, 0xcc9e2d51 | 0) ^ high) >>> 0;
  const lower = fmix(idHash3 + Math.imul(low ^ Math.imul(high, 0x1b873593 | 0), 0x1b873593 | 0)) >>> 11;
  return upper * 2097152 + lower;
}

/** Scratch for decoding a line's float32 base64 without an allocation per line (the join reads millions). */
let scratch = Buffer.alloc(64 * 1024);
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A line's float32 values, valid until the next call (a view of the scratch). */
function floatsOf(base64: string): Float32Array {
  if (!LITTLE_ENDIAN) return float32FromBase64(base64);
  const most = Math.ceil((base64.length * 3) / 4);
  if (most > scratch.length) scratch = Buffer.alloc(2 ** Math.ceil(Math.log2(most)));
  const bytes = scratch.write(base64, 0, 'base64');
  if (bytes % 4 !== 0) throw new RangeError(`${bytes} bytes are not whole float32 values`);
  return new Float32Array(scratch.buffer, scratch.byteOffset, bytes / 4);
}

/** The hours whose labels a window reads: from an hour before its first hour up to the hour of its end. */
export function labelHoursOf(window: JoinWindow): Date[] {
  const hours = wholeHoursOf(window);
  const hours0 = hours[0]!.getTime() - HOUR_MS;
  const last = hourStart(new Date(window.to.getTime() - 1)).getTime();
  const out: Date[] = [];
  for (let t = hours0; t <= last; t += HOUR_MS) out.push(new Date(t));
  return out;
}

/** Whether two class lists are the same, in the same order. */
function sameClasses(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Joins the labels of a model with its versions' predictions made in the window's whole UTC hours. Streams
 * every object; holds the window's labels (about 41 bytes each) and one accumulator per version.
 */
export async function joinQualityWindow(store: ObjectStore, bucket: string, model: JoinModel, window: JoinWindow, options: JoinOptions = {}): Promise<QualityJoin> {
  const regression = model.task === 'regression';
  const classIndex = new Map(model.labels.map((l, i) => [l, i]));
  const problems: string[] = [];
  const problem = (key: string, line: number, why: string) => {
    if (problems.length < MAX_JOIN_PROBLEMS) problems.push(`${key} line ${line}: ${why}`);
  };
  const readOptions = options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes };
  let bytesRead = 0;

  // 1. The labels.
  const table = new LabelTable();
  const lineClasses = regression ? undefined : labelLineClasses(model.labels);
  // The reader tells only a regressor from a classifier apart; a classifier's binary or multiclass does not matter to it.
  const target: FeedbackTarget = { model: model.name, task: regression ? 'regression' : 'multiclass', labels: regression ? [] : model.labels };
  const scanned = scannedLabel();
  let read = 0;
  let duplicates = 0;
  let rejected = 0;
  let labelObjects = 0;
  const labelHours = labelHoursOf(window);
  const labelFiles: { readonly hour: Date; readonly object: StoredObject }[] = [];
  let labelBytes = 0;
  for (const hour of labelHours) {
    for await (const object of store.list(bucket, groundTruthHourPrefix(model.name, hour))) {
      labelFiles.push({ hour, object });
      labelBytes += object.size;
    }
  }
  // A label line of the feedback API with a 22-character id takes about 92 bytes: room for that many labels.
  table.reserve(Math.floor(labelBytes / LABEL_LINE_BYTES));
  for (const { object } of labelFiles) {
    // Files of neither label format are not labels (label-store.ts skips them too).
    if (labelFileFormat(object.key) === undefined) continue;
    labelObjects++;
    // Our own writer's lines go through the scanner; every other line through the one label reader, whose
    // time (the line's own, or the hour of the file's key) and checks are the feedback API's.
    const result = await readLabels(
      store,
      bucket,
      object.key,
      target,
      {
        label: (record) => {
          // The reader checked the label against these classes (or that a regressor's value is a finite number).
          const truth = regression ? record.value! : classIndex.get(record.label!)!;
          if (!table.add(record.id, record.index, truth, Date.parse(record.time))) duplicates++;
        },
        rejected: (line, why) => problem(object.key, line, why),
      },
      {
        ...readOptions,
        fastLine: (text) => {
          if (!scanLabelLine(text, lineClasses, scanned)) return false;
          if (!table.addKey(scanned, scanned.index, scanned.truth, scanned.time)) duplicates++;
          return true;
        },
      },
    );
    read += result.labels + result.rejected + result.fast;
    rejected += result.rejected;
    bytesRead += result.bytesRead;
  }

  // 2. The predictions of every version, hour by hour, joined as they stream by.
  const hours = wholeHoursOf(window);
  const versions: JoinedVersion[] = [];
  let predictionObjects = 0;
  let joined = 0;
  const prediction = scannedPrediction();
  for (const version of model.versions) {
    const v: JoinedVersion = {
      version,
      accumulator: regression ? QualityAccumulator.forRegressor() : QualityAccumulator.forClassifier(model.labels),
      predictions: 0,
      labelled: 0,
      duplicatePredictions: 0,
      rejectedLines: 0,
      unknownClasses: 0,
      hours: hours.map((h) => ({ hour: h.toISOString(), predictions: 0, labelled: 0, correct: 0, absError: 0, squaredError: 0 })),
    };
    versions.push(v);
    // The live version's rows are most of the labels: room for them at once, not by doubling.
    if (versions.length === 1) v.accumulator.reserve(table.size);
    const shape = predictionLineShape(model.name, version, model.task, model.labels);
    for (let h = 0; h < hours.length; h++) {
      const hourFigures = v.hours[h]!;
      for await (const object of store.list(bucket, predictionsHourPrefix(model.name, version, hours[h]!))) {
        predictionObjects++;
        let n = 0;
        const result = await readLines(
          store,
          bucket,
          object.key,
          {
            line: (text) => {
              n++;
              if (scanPredictionLine(text, shape, prediction)) {
                if (Number.isNaN(prediction.time)) {
                  v.rejectedLines++;
                  problem(object.key, n, 'time must be an ISO 8601 time');
                  return;
                }
                joined += joinScanned(text, prediction, v, hourFigures, table, regression, shape.width);
                return;
              }
              if (text.trim() === '') return;
              let record: PredictionRecord;
              let time: number;
              try {
                record = parsePredictionLine(text);
                time = Date.parse(record.time);
                if (Number.isNaN(time)) throw new Error('time must be an ISO 8601 time');
                if (record.version !== version) throw new Error(`version ${record.version} under version=${version}`);
                if (regression ? record.valuesFloat32 === undefined : record.predicted === undefined) throw new Error(regression ? 'a regressor record needs valuesFloat32' : 'a classifier record needs predicted');
              } catch (error) {
                v.rejectedLines++;
                problem(object.key, n, (error as Error).message);
                return;
              }
              joined += joinRecord(record, time, v, hourFigures, table, model.labels, regression);
            },
            tooLong: (bytes) => {
              n++;
              v.rejectedLines++;
              problem(object.key, n, `line of ${bytes} bytes is too long`);
            },
          },
          readOptions,
        );
        bytesRead += result.bytesRead;
      }
    }
  }
  const first = hours[0]!;
  return {
    model: model.name,
    window: { from: first, to: window.to },
    task: model.task,
    labels: { read, kept: table.size, duplicates, rejected, joined, withoutPrediction: table.size - joined, objects: labelObjects, hours: labelHours.length },
    versions,
    predictionObjects,
    bytesRead,
    problems,
  };
}

/** Joins one record's instances with their labels; returns how many labels it took. */
function joinRecord(record: PredictionRecord, time: number, v: JoinedVersion, hour: HourQuality, table: LabelTable, labels: readonly string[], regression: boolean): number {
  const { id, first, count } = record;
  v.predictions += count;
  hour.predictions += count;
  let taken = 0;
  let values: Float32Array | undefined;
  let probabilities: Float32Array | undefined;
  let width = 0;
  let toLive: Int32Array | undefined;
  for (let k = 0; k < count; k++) {
    const slot = table.slotOf(id, first + k);
    if (slot < 0) continue;
    if (table.joined[slot] === 1) {
      v.duplicatePredictions++;
      continue;
    }
    const delaySeconds = Math.max(0, (table.timeOf(slot) - time) / 1000);
    const truth = table.truthOf(slot);
    if (regression) {
      values ??= floatsOf(record.valuesFloat32!);
      const predicted = values[k];
      if (predicted === undefined) continue;
      v.accumulator.addRegressed(truth, predicted, delaySeconds);
      const error = predicted - truth;
      hour.absError += Math.abs(error);
      hour.squaredError += error * error;
    } else {
      const classes = record.classes!;
      if (toLive === undefined) {
        // The record's class order against the model's (the same, but for a version that reordered them).
        toLive = new Int32Array(classes.length);
        const same = sameClasses(classes, labels);
        for (let c = 0; c < classes.length; c++) toLive[c] = same ? c : labels.indexOf(classes[c]!);
        width = classes.length;
        if (record.probabilitiesFloat32 !== undefined) {
          const raw = floatsOf(record.probabilitiesFloat32);
          if (raw.length === count * width) {
            if (same) probabilities = raw;
            else {
              probabilities = new Float32Array(count * labels.length);
              for (let i = 0; i < count; i++) for (let c = 0; c < width; c++) if (toLive[c]! >= 0) probabilities[i * labels.length + toLive[c]!] = raw[i * width + c]!;
            }
          }
        }
      }
      const predicted = toLive[record.predicted![k]!];
      if (predicted === undefined || predicted < 0) {
        v.unknownClasses++;
        continue;
      }
      const p = probabilities?.subarray(k * labels.length, (k + 1) * labels.length);
      v.accumulator.addClassified(truth, predicted, p, delaySeconds);
      if (truth === predicted) hour.correct++;
    }
    table.joined[slot] = 1;
    taken++;
    v.labelled++;
    hour.labelled++;
  }
  return taken;
}

/** Float32 values decoded from a line's base64 without an allocation per line; `floatScratchBytes` is an aligned view of the same memory. */
let floatScratch = new Float32Array(16 * 1024);
let floatScratchBytes = new Uint8Array(floatScratch.buffer);

/** Decodes text[start, end) (float32 base64) into floatScratch; the number of values. Throws as floatsOf does. */
function floatsInto(text: string, start: number, end: number): number {
  const most = Math.ceil(((end - start) * 3) / 4);
  if (most > floatScratchBytes.length) {
    floatScratch = new Float32Array(2 ** Math.ceil(Math.log2(most / 4 + 1)));
    floatScratchBytes = new Uint8Array(floatScratch.buffer);
  }
  const bytes = LITTLE_ENDIAN ? decodeBase64Into(text, start, end, floatScratchBytes) : -1;
  if (bytes >= 0 && bytes % 4 === 0) return bytes / 4;
  // Not canonical base64 (or not whole float32s): Buffer's decoding, its errors included, as the line parser's path does.
  const values = floatsOf(text.slice(start, end));
  floatScratch.set(values);
  return values.length;
}

/** joinRecord for a line scanPredictionLine read: the same counts and rows, from the line's text. */
function joinScanned(text: string, p: ScannedPrediction, v: JoinedVersion, hour: HourQuality, table: LabelTable, regression: boolean, width: number): number {
  const { first, count, time } = p;
  v.predictions += count;
  hour.predictions += count;
  let taken = 0;
  // The numbers are decoded at the first instance with a label: -1 until then.
  let floats = -1;
  let withProbabilities = false;
  for (let k = 0; k < count; k++) {
    const slot = table.findKey(p, first + k);
    if (slot < 0) continue;
    if (table.joined[slot] === 1) {
      v.duplicatePredictions++;
      continue;
    }
    const delaySeconds = Math.max(0, (table.timeOf(slot) - time) / 1000);
    const truth = table.truthOf(slot);
    if (regression) {
      if (floats < 0) floats = floatsInto(text, p.floatsStart, p.floatsEnd);
      if (k >= floats) continue;
      const predicted = floatScratch[k]!;
      v.accumulator.addRegressed(truth, predicted, delaySeconds);
      const error = predicted - truth;
      hour.absError += Math.abs(error);
      hour.squaredError += error * error;
    } else {
      if (floats < 0) {
        floats = p.floatsStart < 0 ? 0 : floatsInto(text, p.floatsStart, p.floatsEnd);
        withProbabilities = p.floatsStart >= 0 && floats === count * width;
      }
      const predicted = p.predicted[k]!;
      if (predicted >= width) {
        v.unknownClasses++;
        continue;
      }
      v.accumulator.addClassifiedAt(truth, predicted, withProbabilities ? floatScratch : undefined, k * width, delaySeconds);
      if (truth === predicted) hour.correct++;
    }
    table.joined[slot] = 1;
    taken++;
    v.labelled++;
    hour.labelled++;
  }
  return taken;
}
