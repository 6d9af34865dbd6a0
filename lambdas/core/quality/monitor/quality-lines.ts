// Reading the two streams the quality monitor joins, one line at a time: prediction records (PredictionRecord
// lines; the parser throws an Error naming what is wrong, so the join can count the line as rejected with its
// reason) and, fast, the label lines the feedback API writes. What a label line means is defined once, by
// feedback/label-reader.ts: the label scanner here only reads a subset of it faster, and must agree with it.
import { MAX_INFERENCE_ID_CHARS, PREDICTION_MARKER, type PredictionRecord } from '../contracts';

/** A prediction record line, checked as far as the join needs it. */
export function parsePredictionLine(line: string): PredictionRecord {
  let record: PredictionRecord;
  try {
    record = JSON.parse(line) as PredictionRecord;
  } catch {
    throw new Error('not JSON');
  }
  if (typeof record !== 'object' || record === null || record[PREDICTION_MARKER] !== 1) throw new Error(`not a prediction record (no "${PREDICTION_MARKER}": 1)`);
  if (typeof record.id !== 'string' || record.id === '') throw new Error('id must be a string');
  if (typeof record.version !== 'string') throw new Error('version must be a string');
  if (!(Number.isSafeInteger(record.first) && record.first >= 0)) throw new Error('first must be a whole number, 0 or more');
  if (!(Number.isSafeInteger(record.count) && record.count >= 1)) throw new Error('count must be a whole number, 1 or more');
  if (typeof record.time !== 'string') throw new Error('time must be an ISO 8601 time');
  if (record.predicted !== undefined) {
    if (!Array.isArray(record.predicted) || record.predicted.length !== record.count) throw new Error(`predicted must hold ${record.count} class indexes`);
    if (!Array.isArray(record.classes)) throw new Error('classes must list the class labels');
  } else if (typeof record.valuesFloat32 !== 'string') {
    throw new Error('has neither predicted nor valuesFloat32');
  }
  return record;
}

// Fast paths. The lines the join reads by the million are written by our own code with the fields in a fixed
// order (predictionLines, labelLine): a scanner that recognises exactly that form, a strict subset of JSON whose
// strings hold no escape (so the text between the quotes is the value), reads them without JSON.parse and
// without an object or a string per line. Anything else (another order, an escape, a space, a field more)
// makes the scanner answer false, and the caller parses the line as above: the result is the same either way.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const DIGIT_0 = 0x30;

/** The digit at text[at], or a large negative number when it is no digit (so that a sum of digits turns negative). */
function digitAt(text: string, at: number): number {
  const c = text.charCodeAt(at) - DIGIT_0;
  return c >= 0 && c <= 9 ? c : -100_000;
}

/** The last `YYYY-MM-DDTHH:` isoMillis read in full, and its epoch ms: the lines of an object mostly share their hour. */
let cachedHourPrefix = '';
let cachedHourMillis = 0;

/** Epoch ms of `YYYY-MM-DDTHH:MM:SS.sssZ` (what toISOString writes, years 1000 to 9999) in text[start, end); NaN when it is not exactly that form with a real date (Date.parse then decides). */
export function isoMillis(text: string, start: number, end: number): number {
  if (end - start !== 24) return NaN;
  if (text.charCodeAt(start + 16) !== 0x3a || text.charCodeAt(start + 19) !== 0x2e || text.charCodeAt(start + 23) !== 0x5a) return NaN;
  const minute = digitAt(text, start + 14) * 10 + digitAt(text, start + 15);
  const second = digitAt(text, start + 17) * 10 + digitAt(text, start + 18);
  const ms = digitAt(text, start + 20) * 100 + digitAt(text, start + 21) * 10 + digitAt(text, start + 22);
  if (minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) return NaN;
  const rest = minute * 60_000 + second * 1000 + ms;
  // The hour as the last line's, when its 14 characters are that (already checked) prefix.
  if (cachedHourPrefix.length === 14 && text.startsWith(cachedHourPrefix, start)) return cachedHourMillis + rest;
  if (text.charCodeAt(start + 4) !== 0x2d || text.charCodeAt(start + 7) !== 0x2d || text.charCodeAt(start + 10) !== 0x54 || text.charCodeAt(start + 13) !== 0x3a) return NaN;
  const year = digitAt(text, start + 0) * 1000 + digitAt(text, start + 1) * 100 + digitAt(text, start + 2) * 10 + digitAt(text, start + 3);
  const month = digitAt(text, start + 5) * 10 + digitAt(text, start + 6);
  const day = digitAt(text, start + 8) * 10 + digitAt(text, start + 9);
  const hour = digitAt(text, start + 11) * 10 + digitAt(text, start + 12);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return NaN;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31)) return NaN;
  // Days from 1970-01-01 of the civil date (H. Hinnant's days_from_civil), exact in doubles.
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  const days = era * 146097 + doe - 719468;
  cachedHourMillis = days * 86_400_000 + hour * 3_600_000;
  cachedHourPrefix = text.slice(start, start + 14);
  return cachedHourMillis + rest;
}

/** The time string starting at `start` (a JSON string's text) and its closing quote, in `scannedTime` and the return value; -1 when it holds an escape or a control character. The fast form is tried first: 24 characters and a quote, read once. */
let scannedTime = 0;
function timeEnd(text: string, start: number): number {
  if (text.charCodeAt(start + 24) === QUOTE) {
    const fast = isoMillis(text, start, start + 24);
    if (!Number.isNaN(fast)) {
      scannedTime = fast;
      return start + 24;
    }
  }
  const end = plainStringEnd(text, start);
  if (end >= 0) scannedTime = Date.parse(text.slice(start, end));
  return end;
}

/** The end (the closing quote) of a JSON string's text starting at `start` when it holds no escape and no control character; -1 otherwise. */
function plainStringEnd(text: string, start: number): number {
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

/**
 * An id's hash in three 32-bit lanes (FNV-1a, a murmur-style lane and a rotate-multiply lane, each with the
 * id's length mixed in at the end), as idHashesOf and the scanners compute it in one pass over the id. The
 * label table keys labels by it with the index (85 bits of it, see LabelTable): no id is kept as text.
 */
export interface IdHash {
  idHash: number;
  idHash2: number;
  idHash3: number;
}

const LANE1_START = 0x811c9dc5 | 0;
const LANE2_START = 0x3c6ef372 | 0;
const LANE3_START = 0x1b873593 | 0;

/** Fills `out` with the IdHash of text[start, end); returns it. */
export function idHashesOf(text: string, start: number, end: number, out: IdHash): IdHash {
  let a = LANE1_START;
  let b = LANE2_START;
  let c3 = LANE3_START;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
    c3 = Math.imul(((c3 << 5) | (c3 >>> 27)) + c, 0x9e3779b1 | 0);
  }
  const length = end - start;
  out.idHash = a ^ length;
  out.idHash2 = Math.imul(b ^ length, 0x85ebca6b | 0);
  out.idHash3 = c3 + Math.imul(length, 0xc2b2ae35 | 0);
  return out;
}

/** The IdHash of the id idEnd last found. */
const scannedId: IdHash = { idHash: 0, idHash2: 0, idHash3: 0 };

/** The end of an inference id's text (visible ASCII, no quote or backslash, 1 to 128 characters) at `start`, at its closing quote; -1 otherwise. Its IdHash is in `scannedId`. */
function idEnd(text: string, start: number): number {
  const last = Math.min(text.length, start + MAX_INFERENCE_ID_CHARS + 1);
  let a = LANE1_START;
  let b = LANE2_START;
  let c3 = LANE3_START;
  for (let i = start; i < last; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (i === start) return -1;
      // idHashesOf's ending, the same lanes.
      const length = i - start;
      scannedId.idHash = a ^ length;
      scannedId.idHash2 = Math.imul(b ^ length, 0x85ebca6b | 0);
      scannedId.idHash3 = c3 + Math.imul(length, 0xc2b2ae35 | 0);
      return i;
    }
    if (c < 0x21 || c > 0x7e || c === BACKSLASH) return -1;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
    c3 = Math.imul(((c3 << 5) | (c3 >>> 27)) + c, 0x9e3779b1 | 0);
  }
  return -1;
}

/** Where a JSON whole number 0 or more (no sign, fraction, exponent or leading zero; at most 15 digits, so safe) starting at `at` ends; -1 when there is none. Its value is in `scannedUint`. */
let scannedUint = 0;
function uintEnd(text: string, at: number): number {
  let value = 0;
  let i = at;
  for (; i < text.length && i - at < 16; i++) {
    const c = text.charCodeAt(i) - DIGIT_0;
    if (c < 0 || c > 9) break;
    value = value * 10 + c;
  }
  const digits = i - at;
  if (digits === 0 || digits > 15 || (digits > 1 && text.charCodeAt(at) === DIGIT_0)) return -1;
  scannedUint = value;
  return i;
}

function isDigit(text: string, at: number): boolean {
  const c = text.charCodeAt(at);
  return c >= DIGIT_0 && c <= DIGIT_0 + 9;
}

/** Where a JSON number starting at `at` ends (RFC 8259's grammar); -1 when there is none. */
function jsonNumberEnd(text: string, at: number): number {
  let i = at;
  if (text.charCodeAt(i) === 0x2d) i++;
  if (text.charCodeAt(i) === DIGIT_0) i++;
  else if (isDigit(text, i)) while (isDigit(text, i)) i++;
  else return -1;
  if (text.charCodeAt(i) === 0x2e) {
    i++;
    if (!isDigit(text, i)) return -1;
    while (isDigit(text, i)) i++;
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    i++;
    const sign = text.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) i++;
    if (!isDigit(text, i)) return -1;
    while (isDigit(text, i)) i++;
  }
  return i;
}

/** A label line as scanLabelLine found it: the id's place in the line, the index, the truth (class index or value), the time. Reused line after line. */
export interface ScannedLabel extends IdHash {
  idStart: number;
  idEnd: number;
  index: number;
  truth: number;
  time: number;
}

export function scannedLabel(): ScannedLabel {
  return { idStart: 0, idEnd: 0, idHash: 0, idHash2: 0, idHash3: 0, index: 0, truth: 0, time: 0 };
}

/** The class labels as a label line writes them, `"label":"benign","time":"` (made once per join). */
export interface LabelLineClasses {
  readonly quoted: readonly string[];
  readonly byLabel: ReadonlyMap<string, number>;
}

export function labelLineClasses(labels: readonly string[]): LabelLineClasses {
  return { quoted: labels.map((l) => `"label":${JSON.stringify(l)},"time":"`), byLabel: new Map(labels.map((l, i) => [l, i])) };
}

const LABEL_HEAD = '{"id":"';
const LABEL_INDEX = '","index":';
const LABEL_VALUE = ',"value":';
const LABEL_TIME = ',"time":"';

/**
 * A `.jsonl` label line in labelLine's form `{"id":"…","index":N,"label":"…","time":"…"}` (`"value":N` for a
 * regressor, `classes` undefined; the time as toISOString writes it) whose id, index, class (or finite value)
 * and time labelFromJsonLine (feedback/label-reader.ts) accepts, for a target without a maxBatchSize: true with
 * `out` filled, as labelFromJsonLine reads it. False for anything else, which the caller leaves to readLabels.
 */
export function scanLabelLine(text: string, classes: LabelLineClasses | undefined, out: ScannedLabel): boolean {
  if (!text.startsWith(LABEL_HEAD)) return false;
  const idStart = LABEL_HEAD.length;
  const idStop = idEnd(text, idStart);
  if (idStop < 0 || !text.startsWith(LABEL_INDEX, idStop)) return false;
  const idHash = scannedId.idHash;
  const idHash2 = scannedId.idHash2;
  const idHash3 = scannedId.idHash3;
  let i = uintEnd(text, idStop + LABEL_INDEX.length);
  if (i < 0) return false;
  const index = scannedUint;
  if (text.charCodeAt(i) !== 0x2c) return false;
  i++;
  let truth = -1;
  if (classes === undefined) {
    if (!text.startsWith(LABEL_VALUE, i - 1)) return false;
    const start = i - 1 + LABEL_VALUE.length;
    const end = jsonNumberEnd(text, start);
    if (end < 0 || !text.startsWith(LABEL_TIME, end)) return false;
    truth = Number(text.slice(start, end));
    if (!Number.isFinite(truth)) return false;
    i = end + LABEL_TIME.length;
  } else {
    const quoted = classes.quoted;
    if (quoted.length <= 32) {
      // From the last: a label listed twice maps to its last index, as a Map of the labels does.
      for (let c = quoted.length - 1; c >= 0; c--) {
        if (text.startsWith(quoted[c]!, i)) {
          truth = c;
          i += quoted[c]!.length;
          break;
        }
      }
    } else if (text.startsWith('"label":"', i)) {
      const start = i + 9;
      const end = plainStringEnd(text, start);
      const c = end < 0 ? undefined : classes.byLabel.get(text.slice(start, end));
      if (c !== undefined && text.startsWith(LABEL_TIME, end + 1)) {
        truth = c;
        i = end + 1 + LABEL_TIME.length;
      }
    }
    if (truth < 0) return false;
  }
  // Only toISOString's form: what other forms of a time may be is the label reader's to say.
  if (i + 26 !== text.length || text.charCodeAt(i + 24) !== QUOTE || text.charCodeAt(i + 25) !== 0x7d) return false;
  const time = isoMillis(text, i, i + 24);
  if (Number.isNaN(time)) return false;
  out.idStart = idStart;
  out.idEnd = idStop;
  out.idHash = idHash;
  out.idHash2 = idHash2;
  out.idHash3 = idHash3;
  out.index = index;
  out.truth = truth;
  out.time = time;
  return true;
}

/** What a version's prediction lines begin with and, for a classifier, the class list before the predicted classes: made once per version. */
export interface PredictionLineShape {
  readonly head: string;
  /** `,"classes":[…],"predicted":[` for a classifier with the model's classes; undefined for a regressor. */
  readonly classes?: string;
  readonly width: number;
}

export function predictionLineShape(model: string, version: string, task: 'classification' | 'regression', labels: readonly string[]): PredictionLineShape {
  const head = `{"${PREDICTION_MARKER}":1,"model":${JSON.stringify(model)},"version":${JSON.stringify(version)},"id":"`;
  return task === 'regression' ? { head, width: 1 } : { head, classes: `,"classes":${JSON.stringify(labels)},"predicted":[`, width: labels.length };
}

/** A prediction line as scanPredictionLine found it: places in the line and numbers, reused line after line. */
export interface ScannedPrediction extends IdHash {
  idStart: number;
  idEnd: number;
  /** Epoch ms; NaN when the time is no time (the line is then rejected, as parsePredictionLine's caller does). */
  time: number;
  first: number;
  count: number;
  /** Classifiers: the predicted class per instance, the first `count`. */
  predicted: Int32Array;
  /** The base64 of the probabilities (classifiers; -1 without them) or of the values (regressors). */
  floatsStart: number;
  floatsEnd: number;
}

export function scannedPrediction(): ScannedPrediction {
  return { idStart: 0, idEnd: 0, idHash: 0, idHash2: 0, idHash3: 0, time: 0, first: 0, count: 0, predicted: new Int32Array(64), floatsStart: -1, floatsEnd: -1 };
}

const PREDICTION_TIME = '","time":"';
const PREDICTION_FIRST = '","first":';
const PREDICTION_COUNT = ',"count":';
const PREDICTION_PROBABILITIES = ',"probabilitiesFloat32":"';
const PREDICTION_VALUES = ',"valuesFloat32":"';

/**
 * A prediction line in predictionLines' form for this version (its model, version, and the model's classes,
 * or a regressor's values), with a plain id (visible ASCII, no escape): true with `out` filled. False for
 * anything else, which the caller reads with parsePredictionLine. The base64 is not checked here (only an
 * instance with a label needs its numbers).
 */
export function scanPredictionLine(text: string, shape: PredictionLineShape, out: ScannedPrediction): boolean {
  if (!text.startsWith(shape.head)) return false;
  const idStart = shape.head.length;
  const idStop = idEnd(text, idStart);
  if (idStop < 0 || !text.startsWith(PREDICTION_TIME, idStop)) return false;
  const idHash = scannedId.idHash;
  const idHash2 = scannedId.idHash2;
  const idHash3 = scannedId.idHash3;
  const timeStop = timeEnd(text, idStop + PREDICTION_TIME.length);
  if (timeStop < 0 || !text.startsWith(PREDICTION_FIRST, timeStop)) return false;
  const time = scannedTime;
  let i = uintEnd(text, timeStop + PREDICTION_FIRST.length);
  if (i < 0 || !text.startsWith(PREDICTION_COUNT, i)) return false;
  const first = scannedUint;
  i = uintEnd(text, i + PREDICTION_COUNT.length);
  if (i < 0 || scannedUint < 1) return false;
  const count = scannedUint;
  let floatsStart = -1;
  let floatsEnd = -1;
  if (shape.classes === undefined) {
    if (!text.startsWith(PREDICTION_VALUES, i)) return false;
    floatsStart = i + PREDICTION_VALUES.length;
    floatsEnd = plainStringEnd(text, floatsStart);
    if (floatsEnd < 0 || floatsEnd + 2 !== text.length || text.charCodeAt(floatsEnd + 1) !== 0x7d) return false;
  } else {
    if (!text.startsWith(shape.classes, i)) return false;
    i += shape.classes.length;
    if (out.predicted.length < count) {
      // More instances than a line usually holds: a bound on them from the line's length (a class index takes at least 2 characters).
      if (count > text.length) return false;
      out.predicted = new Int32Array(Math.max(count, out.predicted.length * 2));
    }
    const predicted = out.predicted;
    for (let k = 0; k < count; k++) {
      if (k > 0) {
        if (text.charCodeAt(i) !== 0x2c) return false;
        i++;
      }
      i = uintEnd(text, i);
      if (i < 0 || scannedUint > 0x7fffffff) return false;
      predicted[k] = scannedUint;
    }
    if (text.charCodeAt(i) !== 0x5d) return false;
    i++;
    if (text.startsWith(PREDICTION_PROBABILITIES, i)) {
      floatsStart = i + PREDICTION_PROBABILITIES.length;
      floatsEnd = plainStringEnd(text, floatsStart);
      if (floatsEnd < 0) return false;
      i = floatsEnd + 1;
    }
    if (i + 1 !== text.length || text.charCodeAt(i) !== 0x7d) return false;
  }
  out.idStart = idStart;
  out.idEnd = idStop;
  out.idHash = idHash;
  out.idHash2 = idHash2;
  out.idHash3 = idHash3;
  out.time = time;
  out.first = first;
  out.count = count;
  out.floatsStart = floatsStart;
  out.floatsEnd = floatsEnd;
  return true;
}

const BASE64_DIGITS = (() => {
  const digits = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < 64; i++) digits[alphabet.charCodeAt(i)] = i;
  return digits;
})();

/**
 * Decodes text[start, end) when it is canonical base64 (standard alphabet, length a multiple of 4, at most two
 * `=` at the end), as Buffer does, into `out` from byte 0: the byte count, or -1 when it is not canonical or
 * does not fit `out` (the caller then lets Buffer decode it).
 */
export function decodeBase64Into(text: string, start: number, end: number, out: Uint8Array): number {
  const length = end - start;
  if (length % 4 !== 0) return -1;
  if (length === 0) return 0;
  let pad = 0;
  if (text.charCodeAt(end - 1) === 0x3d) pad = text.charCodeAt(end - 2) === 0x3d ? 2 : 1;
  const bytes = (length / 4) * 3 - pad;
  if (bytes > out.length) return -1;
  let o = 0;
  const whole = pad === 0 ? end : end - 4;
  for (let i = start; i < whole; i += 4) {
    const a = text.charCodeAt(i);
    const b = text.charCodeAt(i + 1);
    const c = text.charCodeAt(i + 2);
    const d = text.charCodeAt(i + 3);
    if ((a | b | c | d) > 127) return -1;
    const n0 = BASE64_DIGITS[a]!;
    const n1 = BASE64_DIGITS[b]!;
    const n2 = BASE64_DIGITS[c]!;
    const n3 = BASE64_DIGITS[d]!;
    if ((n0 | n1 | n2 | n3) < 0) return -1;
    const n = (n0 << 18) | (n1 << 12) | (n2 << 6) | n3;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (pad > 0) {
    const a = text.charCodeAt(end - 4);
    const b = text.charCodeAt(end - 3);
    const c = text.charCodeAt(end - 2);
    if ((a | b | c) > 127) return -1;
    const n0 = BASE64_DIGITS[a]!;
    const n1 = BASE64_DIGITS[b]!;
    const n2 = pad === 2 ? 0 : BASE64_DIGITS[c]!;
    if ((n0 | n1 | n2) < 0) return -1;
    const n = (n0 << 18) | (n1 << 12) | (n2 << 6);
    out[o++] = n >>> 16;
    if (pad === 1) out[o++] = (n >>> 8) & 0xff;
  }
  return o;
}
