// Data capture of a local run: the gateway's captured requests appended to files under a folder
// (.mlship/capture/ by default) in the capture bucket's key layout, so the drift monitor reads the folder
// through a FolderObjectStore exactly as it reads the bucket:
//   lambda/model=<model>/version=<version>/<yyyy>/<MM>/<dd>/<HH>/local-<pid>-<seq>.jsonl   (CaptureRecord lines)
//   data-capture/<endpoint>/AllTraffic/<yyyy>/<mm>/<dd>/<hh>/local-<pid>-<seq>.jsonl      (SageMaker capture lines)
//   predictions/model=<model>/version=<version>/<yyyy>/<MM>/<dd>/<HH>/local-<pid>-<seq>.jsonl (PredictionRecord lines, every answer)
// A file rolls by the hour (its folder) and by size: past maxFileBytes the next lines go to the next <seq>, as
// Firehose's buffering hints bound each object in the cloud. Writes happen off the request path: lines are
// buffered and appended a moment later, one append per file; lines that cannot be kept (more waiting than
// maxPendingBytes, a failed append) are dropped and counted, never made to wait.
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { lambdaCaptureHourPrefix, sageMakerCaptureHourPrefix } from '../../lambdas/core/monitoring/capture/capture-keys';
import type { CaptureSink } from '../../lambdas/core/monitoring/capture/capture-sink';
import { predictionsHourPrefix, type PredictionSink } from '../../lambdas/core/quality/predictions/prediction-sink';

/** Largest capture file before the next one begins, bytes (Firehose's largest buffer is 128 MiB; the stack sets 64). */
export const DEFAULT_CAPTURE_FILE_BYTES = 64 * 1024 * 1024;
/** Most bytes of lines waiting for their append; past it new lines are dropped and counted. */
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** A file not appended to for this long is no longer being written (its hour is over). */
const IDLE_MS = 2 * 3_600_000;

export interface FolderCaptureSinkOptions {
  /** Longest a captured line waits before it is appended. @default 200 */
  readonly flushMs?: number;
  /** A file past this size rolls to the next one (the line that crosses it is the file's last). @default 64 MiB */
  readonly maxFileBytes?: number;
  /** Most bytes waiting to be appended; lines past it are dropped and counted. @default 64 MiB */
  readonly maxPendingBytes?: number;
  /** Told about a failed append (the lines are dropped and counted; capture never fails a request). @default - ignored */
  readonly onError?: (error: Error, key: string) => void;
}

/** What the sink did since it began (the status page shows it). */
export interface CaptureFileStats {
  readonly linesWritten: number;
  readonly bytesWritten: number;
  /** Files begun (a new hour, or the previous file past maxFileBytes). */
  readonly filesStarted: number;
  /** Lines dropped: more waiting than maxPendingBytes (the disk too slow), or their append failed. */
  readonly linesDropped: number;
  readonly bytesDropped: number;
}

interface OpenFile {
  /** The hour folder's key prefix. */
  readonly prefix: string;
  seq: number;
  /** Bytes in the current file (appended or on their way). */
  bytes: number;
  /** Whether this process made the current file (else it is created exclusively first). */
  created: boolean;
  lastUsed: number;
}

export class FolderCaptureSink implements CaptureSink, PredictionSink {
  readonly folder: string;
  private readonly pending = new Map<string, string[]>();
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly files = new Map<string, OpenFile>();
  private readonly maxFileBytes: number;
  private readonly maxPendingBytes: number;
  private counts = { linesWritten: 0, bytesWritten: 0, filesStarted: 0, linesDropped: 0, bytesDropped: 0 };

  constructor(
    folder: string,
    private readonly options: FolderCaptureSinkOptions = {},
  ) {
    this.folder = resolve(folder);
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_CAPTURE_FILE_BYTES;
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    if (!(this.maxFileBytes > 0)) throw new RangeError(`maxFileBytes must be above 0, received ${this.maxFileBytes}`);
  }

  writeLambda(model: string, version: string, time: Date, lines: readonly string[]): void {
    this.queue(lambdaCaptureHourPrefix(model, version, time), lines);
  }

  /** The prediction lines of one answered request (and its capture lines, when it was captured). */
  writePredictions(model: string, version: string, time: Date, lines: readonly string[], captureLines?: readonly string[]): void {
    this.queue(predictionsHourPrefix(model, version, time), lines);
    if (captureLines && captureLines.length > 0) this.writeLambda(model, version, time, captureLines);
  }

  /** One SageMaker data capture line of an endpoint (the local SageMaker endpoint writes these). */
  writeSageMaker(endpointName: string, time: Date, line: string): void {
    this.queue(sageMakerCaptureHourPrefix(endpointName, time), [line]);
  }

  /** The file name of a sequence number: local-<pid>-<seq>.jsonl, the number padded so keys list in order. */
  static fileName(seq: number, pid = process.pid): string {
    return `local-${pid}-${String(seq).padStart(4, '0')}.jsonl`;
  }

  private queue(prefix: string, lines: readonly string[]): void {
    let bytes = 0;
    for (const line of lines) bytes += line.length + 1;
    if (this.pendingBytes + bytes > this.maxPendingBytes) {
      this.counts.linesDropped += lines.length;
      this.counts.bytesDropped += bytes;
      return;
    }
    this.pendingBytes += bytes;
    const list = this.pending.get(prefix);
    if (list) list.push(...lines);
    else this.pending.set(prefix, [...lines]);
    this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs ?? 200).unref();
  }

  /** Appends everything queued so far; resolves when it is on disk. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    this.pendingBytes = 0;
    // Appends run one flush after another, so lines of a file stay in the order they were captured.
    this.writing = this.writing.then(async () => {
      const now = Date.now();
      for (const [prefix, open] of this.files) if (now - open.lastUsed > IDLE_MS) this.files.delete(prefix);
      await Promise.all(batch.map(([prefix, lines]) => this.append(prefix, lines, now)));
    });
    return this.writing;
  }

  /** Appends a prefix's lines to its current file, rolling to the next one where the file would pass maxFileBytes. */
  private async append(prefix: string, lines: readonly string[], now: number): Promise<void> {
    let open = this.files.get(prefix);
    if (!open) {
      open = { prefix, seq: 0, bytes: 0, created: false, lastUsed: now };
      this.files.set(prefix, open);
    }
    open.lastUsed = now;
    let piece: string[] = [];
    let bytes = 0;
    for (const line of lines) {
      // Characters, not bytes: capture lines are ASCII JSON.
      const size = line.length + 1;
      if (open.bytes + bytes > 0 && open.bytes + bytes + size > this.maxFileBytes) {
        if (piece.length > 0) await this.write(open, piece, bytes);
        open.seq++;
        open.bytes = 0;
        open.created = false;
        piece = [];
        bytes = 0;
      }
      piece.push(line);
      bytes += size;
    }
    if (piece.length > 0) await this.write(open, piece, bytes);
  }

  private async write(open: OpenFile, lines: readonly string[], bytes: number): Promise<void> {
    const text = `${lines.join('\n')}\n`;
    for (;;) {
      const key = `${open.prefix}${FolderCaptureSink.fileName(open.seq)}`;
      const path = join(this.folder, key);
      try {
        if (open.created) {
          await appendFile(path, text);
        } else {
          await mkdir(dirname(path), { recursive: true });
          // A file left by an earlier process with the same pid is never appended to: the next number is.
          await appendFile(path, text, { flag: 'wx' });
          open.created = true;
          this.counts.filesStarted++;
        }
        open.bytes += bytes;
        this.counts.linesWritten += lines.length;
        this.counts.bytesWritten += bytes;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          open.seq++;
          continue;
        }
        this.counts.linesDropped += lines.length;
        this.counts.bytesDropped += bytes;
        this.options.onError?.(error as Error, key);
        return;
      }
    }
  }

  /** The files being appended to now (absolute paths): the state folder's bounds leave them for last. */
  currentFiles(): Set<string> {
    return new Set([...this.files.values()].map((open) => join(this.folder, `${open.prefix}${FolderCaptureSink.fileName(open.seq)}`)));
  }

  stats(): CaptureFileStats {
    return { ...this.counts };
  }

  /** Flushes and stops the timer. */
  async close(): Promise<void> {
    await this.flush();
  }
}
