// Where captured requests go: stdout in the Lambda function (a log subscription takes them to the capture
// bucket), files under .mlship/capture/ locally (local/monitoring/capture-files.ts). A sink must never make
// the request wait: it takes the lines and returns at once.
import { captureLines, type CapturedRequest } from './capture-record';
import { CaptureSampler } from './sampling';

export interface CaptureSink {
  /** The CaptureRecord lines (no newline) of one request of a Lambda model version, answered at `time`. */
  writeLambda(model: string, version: string, time: Date, lines: readonly string[]): void;
}

/** The function's sink: each line on stdout, where the log group's subscription filter picks it up. */
export class StdoutCaptureSink implements CaptureSink {
  constructor(private readonly out: { write(text: string): unknown } = process.stdout) {}

  writeLambda(_model: string, _version: string, _time: Date, lines: readonly string[]): void {
    // One write per request: the lines stay whole and in order.
    this.out.write(`${lines.join('\n')}\n`);
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
    if (!this.sampler.take()) return false;
    this.sink.writeLambda(request.model, request.version, request.time, captureLines({ ...request, capturePercent: this.percent }));
    return true;
  }
}
