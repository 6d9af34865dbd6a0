// Building the captured-request lines (CaptureRecord JSON, lambdas/core/monitoring/contracts.ts) from what
// the model saw and answered, split so no line passes a size limit (CloudWatch Logs drops or cuts events
// over 256 KB; the inference function writes these lines to stdout).
import { CAPTURE_MARKER, type CaptureRecord } from '../monitoring/contracts';

/** Largest line written: under CloudWatch Logs' 256 KB event limit with room for its own overhead. */
export const MAX_CAPTURE_LINE_BYTES = 200_000;

/** One answered request as the capture path gets it: references to the decoded rows and the prediction, no copies. */
export interface CapturedRequest {
  readonly model: string;
  readonly version: string;
  readonly time: Date;
  readonly requestId?: string;
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

/**
 * The shortest decimal text that reads back as the same float32: 17.99 rather than 17.989999771118164.
 * The model saw float32 values, so this is exact, and lines stay about half as long.
 */
export function float32Text(v: number): string {
  if (!Number.isFinite(v)) return 'null';
  const plain = String(v);
  if (plain.length <= 9) return plain;
  for (let digits = 6; digits < 9; digits++) {
    const shorter = Number(v.toPrecision(digits));
    if (Math.fround(shorter) === v) return String(shorter);
  }
  return String(Number(v.toPrecision(9)));
}

function rowText(rows: Float32Array, start: number, width: number): string {
  let text = '[';
  for (let j = 0; j < width; j++) {
    if (j > 0) text += ',';
    text += float32Text(rows[start + j]!);
  }
  return `${text}]`;
}

/**
 * The request as CaptureRecord lines (no newline), each at most `maxBytes` bytes of UTF-8: instances in order,
 * as many per line as fit. Every line repeats the model, version, time, requestId and share.
 */
export function captureLines(request: CapturedRequest, maxBytes = MAX_CAPTURE_LINE_BYTES): string[] {
  const { rows, count, width, classIndex, labels, values } = request;
  if (rows.length < count * width) throw new RangeError(`${rows.length} values do not hold ${count} rows of ${width}`);
  const head =
    `{"${CAPTURE_MARKER}":1,"model":${JSON.stringify(request.model)},"version":${JSON.stringify(request.version)},` +
    `"time":"${request.time.toISOString()}"${request.requestId === undefined ? '' : `,"requestId":${JSON.stringify(request.requestId)}`},` +
    `"capturePercent":${request.capturePercent},"inputs":[`;
  const predictionKey = classIndex && labels ? 'labels' : values ? 'values' : undefined;
  const tail = predictionKey ? `],"${predictionKey}":[` : '';
  const end = ']}';
  const fixed = Buffer.byteLength(head) + tail.length + end.length;
  const lines: string[] = [];
  let inputs: string[] = [];
  let outputs: string[] = [];
  let size = fixed;
  const flush = () => {
    if (inputs.length === 0) return;
    lines.push(`${head}${inputs.join(',')}${tail}${predictionKey ? outputs.join(',') : ''}${end}`);
    inputs = [];
    outputs = [];
    size = fixed;
  };
  for (let i = 0; i < count; i++) {
    const input = rowText(rows, i * width, width);
    const output = predictionKey === 'labels' ? JSON.stringify(labels![classIndex![i]!] ?? String(classIndex![i])) : predictionKey === 'values' ? float32Text(values![i]!) : '';
    // ASCII except for labels, which are measured as UTF-8.
    const own = input.length + (predictionKey === 'labels' ? Buffer.byteLength(output) : output.length);
    if (fixed + own > maxBytes) throw new RangeError(`one instance takes ${fixed + own} bytes, more than a capture line may (${maxBytes})`);
    // a comma before each instance but the first, in both arrays
    if (inputs.length > 0 && size + own + 2 > maxBytes) flush();
    const added = own + (inputs.length > 0 ? 2 : 0);
    inputs.push(input);
    outputs.push(output);
    size += added;
  }
  flush();
  return lines;
}

/** The records of one request, parsed from its lines (tests and readers that want objects). */
export function captureRecordsOf(request: CapturedRequest, maxBytes?: number): CaptureRecord[] {
  return captureLines(request, maxBytes).map((line) => JSON.parse(line) as CaptureRecord);
}
