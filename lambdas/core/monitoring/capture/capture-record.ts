// Building the captured-request lines (CaptureRecord JSON, lambdas/core/monitoring/contracts.ts) from what
// the model saw and answered, split so no line passes a size limit (CloudWatch Logs drops or cuts events
// over 256 KB; the inference function writes these lines to stdout).
import { CAPTURE_MARKER, type CaptureRecord } from '../contracts';

/** Largest line written: under CloudWatch Logs' 256 KB event limit with room for its own overhead. */
export const MAX_CAPTURE_LINE_BYTES = 200_000;

/** One answered request as the capture path gets it: references to the decoded rows and the prediction, no copies. */
export interface CapturedRequest {
  readonly model: string;
  readonly version: string;
  readonly time: Date;
  readonly requestId?: string;
  /** The request's inference id: each line then names it and its first instance's index, to join labels to the features. */
  readonly id?: string;
  readonly capturePercent: number;
  /** Row-major rows of `width` values, `count` of them. */
  readonly rows: Float32Array;
  readonly count: number;
  readonly width: number;
  /** Predicted class index per row (classifiers) and the class labels, in class-index order. */
  readonly classIndex?: Int32Array;
  readonly labels?: readonly string[];
  /** Predicted value per row (regressors): the score column when `scoreWidth` is 1. */
  readonly values?: Float32Array;
}

/** `count` float32 values from `start` as little-endian base64 (a copy-free view of the array's bytes). */
export function float32Base64(values: Float32Array, start: number, count: number): string {
  return Buffer.from(values.buffer, values.byteOffset + start * 4, count * 4).toString('base64');
}

/** Whether this machine stores numbers little-endian, as the capture lines do (x64 and arm64 both). */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Reads float32 little-endian base64 back; throws naming what is wrong. */
export function float32FromBase64(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0) throw new RangeError(`${bytes.length} bytes are not whole float32 values`);
  const out = new Float32Array(bytes.length / 4);
  // One copy of the bytes (the monitor reads millions of values: a read per value took 7 times longer).
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes);
  else for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** The labels as JSON strings, and the longest one's bytes: made once per label list (a card's), not per request. */
const quotedLabels = new WeakMap<readonly string[], { readonly quoted: string[]; readonly longest: number }>();

function quote(labels: readonly string[]): { readonly quoted: string[]; readonly longest: number } {
  let q = quotedLabels.get(labels);
  if (!q) {
    const quoted = labels.map((l) => JSON.stringify(l));
    q = { quoted, longest: Math.max(0, ...quoted.map((l) => Buffer.byteLength(l))) };
    quotedLabels.set(labels, q);
  }
  return q;
}

/** base64 length of n bytes. */
const base64Length = (bytes: number) => Math.ceil(bytes / 3) * 4;

/**
 * The request as CaptureRecord lines (no newline), each at most `maxBytes` bytes: instances in order, as many
 * per line as fit. Inputs (and regression values) go as float32 base64: the request pays for no number
 * formatting (a 64-row request of 30 features would spend longer printing its numbers than being scored).
 * Every line repeats the model, version, time, requestId, inference id and share; a named request's lines also
 * say the index of their first instance.
 */
export function captureLines(request: CapturedRequest, maxBytes = MAX_CAPTURE_LINE_BYTES): string[] {
  const { rows, count, width, classIndex, labels, values } = request;
  if (rows.length < count * width) throw new RangeError(`${rows.length} values do not hold ${count} rows of ${width}`);
  const named = request.id !== undefined;
  // A named request's lines say which instances they hold: `"first":<index>,` between the two halves of the head.
  const headStart =
    `{"${CAPTURE_MARKER}":1,"model":${JSON.stringify(request.model)},"version":${JSON.stringify(request.version)},` +
    `"time":"${request.time.toISOString()}"${request.requestId === undefined ? '' : `,"requestId":${JSON.stringify(request.requestId)}`},` +
    `${named ? `"id":${JSON.stringify(request.id)},` : ''}`;
  const headEnd = `"capturePercent":${request.capturePercent},"width":${width},"inputsFloat32":"`;
  const head = headStart + headEnd;
  const firstBytes = named ? '"first":,'.length + 16 : 0;
  const q = classIndex && labels ? quote(labels) : undefined;
  const quoted = q?.quoted;
  const labelOf = (i: number) => quoted![classIndex![i]!] ?? JSON.stringify(String(classIndex![i]));
  const fixed = Buffer.byteLength(head) + firstBytes + (q ? '","labels":[]}'.length : values ? '","valuesFloat32":""}'.length : '"}'.length);
  // Instances per line: the base64 of n rows plus their labels must fit; labels are measured, rows computed.
  const lines: string[] = [];
  let first = 0;
  // The usual case, every instance in one line even with the longest labels, needs no measuring.
  const oneLine = fixed + base64Length(count * width * 4) + (values ? base64Length(count * 4) : 0) + (q ? count * (q.longest + 1) : 0) <= maxBytes;
  while (first < count) {
    let n = oneLine ? count : 0;
    let labelBytes = 0;
    while (first + n < count) {
      const nextLabel = quoted ? Buffer.byteLength(labelOf(first + n)) + (n > 0 ? 1 : 0) : 0;
      const size = fixed + base64Length((n + 1) * width * 4) + (values ? base64Length((n + 1) * 4) : 0) + labelBytes + nextLabel;
      if (size > maxBytes) break;
      labelBytes += nextLabel;
      n++;
    }
    if (n === 0) throw new RangeError(`one instance takes more than a capture line may (${maxBytes} bytes)`);
    let line = `${named ? `${headStart}"first":${first},${headEnd}` : head}${float32Base64(rows, first * width, n * width)}"`;
    if (quoted) {
      let list = '';
      for (let i = first; i < first + n; i++) list += i === first ? labelOf(i) : `,${labelOf(i)}`;
      line += `,"labels":[${list}]`;
    } else if (values) {
      line += `,"valuesFloat32":"${float32Base64(values, first, n)}"`;
    }
    lines.push(`${line}}`);
    first += n;
  }
  return lines;
}

/** The records of one request, parsed from its lines (tests and readers that want objects). */
export function captureRecordsOf(request: CapturedRequest, maxBytes?: number): CaptureRecord[] {
  return captureLines(request, maxBytes).map((line) => JSON.parse(line) as CaptureRecord);
}
