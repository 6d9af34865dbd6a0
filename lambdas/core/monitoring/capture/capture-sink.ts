// Where captured requests go: stdout in the Lambda function (a log subscription takes them to the capture
// bucket), files under .mlship/capture/ locally (local/monitoring/capture-files.ts). A sink must never make
// the request wait: it takes the lines and returns at once.
import type { PredictionSink } from '../../quality/predictions/prediction-sink';
import { captureLines, type CapturedRequest } from './capture-record';
import { CaptureSampler } from './sampling';

export interface CaptureSink {
  /** The CaptureRecord lines (no newline) of one request of a Lambda model version, answered at `time`. */
  writeLambda(model: string, version: string, time: Date, lines: readonly string[]): void;
}

/**
 * The function's sink, for captures and predictions alike: each line on stdout, where the log group's
 * subscription filter picks it up (the markers tell the two apart).
 */
export class StdoutCaptureSink implements CaptureSink, PredictionSink {
  constructor(private readonly out: { write(text: string): unknown } = process.stdout) {}

  writeLambda(_model: string, _version: string, _time: Date, lines: readonly string[]): void {
    // One write per request: the lines stay whole and in order.
    this.out.write(`${lines.join('\n')}\n`);
  }

  writePredictions(_model: string, _version: string, _time: Date, lines: readonly string[], captureLines?: readonly string[]): void {
    // One write per request, its capture lines (when sampled) with its prediction lines.
    this.out.write(captureLines && captureLines.length > 0 ? `${lines.join('\n')}\n${captureLines.join('\n')}\n` : `${lines.join('\n')}\n`);
  }
}

/** What the inference handler captures with: the sampler at the model's share, and the sink. */
export class RequestCapture {
  readonly sampler: CaptureSampler;

  constructor(
    readonly percent: number,
    readonly sink: CaptureSink,
    random?: () => number,
  ) {
    this.sampler = new CaptureSampler(percent, random);
  }

  /** Captures the request when the sampler picks it; returns whether it did. */
  offer(request: Omit<CapturedRequest, 'capturePercent'>): boolean {
    const lines = this.sample(request);
    if (lines) this.sink.writeLambda(request.model, request.version, request.time, lines);
    return lines !== undefined;
  }

  /** The request's capture lines when the sampler picks it (for the caller to write), else undefined. */
  sample(request: Omit<CapturedRequest, 'capturePercent'>): string[] | undefined {
    return this.sampler.take() ? captureLines({ ...request, capturePercent: this.percent }) : undefined;
  }
}
