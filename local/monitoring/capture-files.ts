// Data capture of a local run: the gateway's captured requests appended to files under a folder
// (.mlship/capture/ by default) in the capture bucket's key layout, so the drift monitor reads the folder
// through a FolderObjectStore exactly as it reads the bucket:
//   lambda/model=<model>/version=<version>/<yyyy>/<MM>/<dd>/<HH>/local-<pid>.jsonl   (CaptureRecord lines)
//   data-capture/<endpoint>/AllTraffic/<yyyy>/<mm>/<dd>/<hh>/local-<pid>.jsonl      (SageMaker capture lines)
// Writes happen off the request path: lines are buffered and appended a moment later, one append per file.
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { lambdaCaptureHourPrefix, sageMakerCaptureHourPrefix } from '../../lambdas/core/monitoring/capture/capture-keys';
import type { CaptureSink } from '../../lambdas/core/monitoring/capture/capture-sink';

export interface FolderCaptureSinkOptions {
  /** Longest a captured line waits before it is appended. @default 200 */
  readonly flushMs?: number;
  /** Told about a failed append (the lines are dropped; capture never fails a request). @default - ignored */
  readonly onError?: (error: Error, key: string) => void;
}

export class FolderCaptureSink implements CaptureSink {
  readonly folder: string;
  private readonly pending = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly file = `local-${process.pid}.jsonl`;

  constructor(
    folder: string,
    private readonly options: FolderCaptureSinkOptions = {},
  ) {
    this.folder = resolve(folder);
  }

  writeLambda(model: string, version: string, time: Date, lines: readonly string[]): void {
    this.queue(`${lambdaCaptureHourPrefix(model, version, time)}${this.file}`, lines);
  }

  /** One SageMaker data capture line of an endpoint (the local SageMaker endpoint writes these). */
  writeSageMaker(endpointName: string, time: Date, line: string): void {
    this.queue(`${sageMakerCaptureHourPrefix(endpointName, time)}${this.file}`, [line]);
  }

  private queue(key: string, lines: readonly string[]): void {
    const list = this.pending.get(key);
    if (list) list.push(...lines);
    else this.pending.set(key, [...lines]);
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs ?? 200).unref();
  }

  /** Appends everything queued so far; resolves when it is on disk. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    // Appends run one flush after another, so lines of a file stay in the order they were captured.
    this.writing = this.writing.then(() =>
      Promise.all(
        batch.map(async ([key, lines]) => {
          const path = join(this.folder, key);
          try {
            await mkdir(dirname(path), { recursive: true });
            await appendFile(path, `${lines.join('\n')}\n`);
          } catch (error) {
            this.options.onError?.(error as Error, key);
          }
        }),
      ).then(() => undefined),
    );
    return this.writing;
  }

  /** Flushes and stops the timer. */
  async close(): Promise<void> {
    await this.flush();
  }
}
