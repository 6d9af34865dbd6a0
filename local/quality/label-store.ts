// The labels of a local run (issue 17.2): what the feedback route and `mlship feedback` accept, appended to
// files under the state folder's capture folder in the capture bucket's key layout, so the quality monitor reads
// them through a FolderObjectStore as it reads the bucket:
//   ground-truth/<model>/<yyyy>/<MM>/<dd>/<HH>/local-<pid>-<seq>.jsonl   (LabelRecord lines, by the hour received)
// A label is acknowledged (the 202) only once its line is on disk: the file is fsynced (and its folder, for a
// new file) before `store` resolves. Requests arriving meanwhile share the next append and fsync (group
// commit), so throughput does not hang on one fsync per request. A file rolls by the hour (its folder) and by
// size, like the capture files. Which (model, id, index) already have a label is kept in memory, rebuilt at
// start by streaming the label files that are there (what the state folder's retention kept), so a label sent
// twice is counted as a duplicate and written once.
import { mkdir, open as openFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { GROUND_TRUTH_PREFIX, type LabelRecord } from '../../lambdas/core/quality/contracts';
import type { LabelSink } from '../../lambdas/core/quality/feedback/feedback-api';
import { groundTruthHourPrefix, groundTruthModelPrefix } from '../../lambdas/core/quality/feedback/label-keys';
import { labelFileFormat, readLabels } from '../../lambdas/core/quality/feedback/label-reader';
import { instanceKey, labelLine, type FeedbackTarget } from '../../lambdas/core/quality/feedback/validate';
import { FolderObjectStore } from '../storage/folder-object-store';

/** The bucket name the capture folder goes by in the FolderObjectStore the index is rebuilt through. */
const LABEL_BUCKET = 'capture';

/** Largest label file before the next one begins, bytes. */
export const DEFAULT_LABEL_FILE_BYTES = 64 * 1024 * 1024;

export interface LabelStoreOptions {
  /** A file past this size rolls to the next one. @default DEFAULT_LABEL_FILE_BYTES */
  readonly maxFileBytes?: number;
  /** Told about each line of an existing label file that held no good label, while the index is rebuilt. @default - ignored */
  readonly onRejected?: (key: string, line: number, reason: string) => void;
}

/** What the index rebuild found at start. */
export interface LabelIndexStats {
  readonly files: number;
  readonly labels: number;
  readonly rejected: number;
}

/** One append and fsync, shared by the requests that arrived while the previous one ran. */
interface Batch {
  /** Lines by hour prefix. */
  readonly lines: Map<string, string[]>;
  /** The (model, `<id> <index>`) pairs it makes durable. */
  readonly keys: [string, string][];
  done: Promise<void>;
}

interface OpenFile {
  readonly prefix: string;
  seq: number;
  bytes: number;
  handle: FileHandle | undefined;
}

export class LabelStore implements LabelSink {
  readonly folder: string;
  /** Per model: the `<id> <index>` keys with a label on disk. */
  private readonly durable = new Map<string, Set<string>>();
  /** Per model: keys accepted but not yet on disk, with the batch that writes them. */
  private readonly pending = new Map<string, Map<string, Batch>>();
  /** The file each model appends to now. */
  private readonly files = new Map<string, OpenFile>();
  private readonly maxFileBytes: number;
  private next: Batch | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    folder: string,
    private readonly targets: ReadonlyMap<string, FeedbackTarget>,
    options: LabelStoreOptions,
  ) {
    this.folder = resolve(folder);
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_LABEL_FILE_BYTES;
    if (!(this.maxFileBytes > 0)) throw new RangeError(`maxFileBytes must be above 0, received ${this.maxFileBytes}`);
  }

  /**
   * Opens the store over `captureFolder` (`<stateDir>/capture`) for the models of `targets`, rebuilding the
   * index of labels already there (a model's label files not of these models are left alone).
   */
  static async open(captureFolder: string, targets: readonly FeedbackTarget[], options: LabelStoreOptions = {}): Promise<{ store: LabelStore; stats: LabelIndexStats }> {
    const store = new LabelStore(captureFolder, new Map(targets.map((t) => [t.model, t])), options);
    const stats = await store.rebuild(options.onRejected);
    return { store, stats };
  }

  private async rebuild(onRejected: LabelStoreOptions['onRejected']): Promise<LabelIndexStats> {
    // The folder is the bucket: keys are its paths.
    const objects = new FolderObjectStore({ [LABEL_BUCKET]: this.folder });
    let files = 0;
    let labels = 0;
    let rejected = 0;
    for (const target of this.targets.values()) {
      const seen = this.keysOf(target.model);
      for await (const object of objects.list(LABEL_BUCKET, groundTruthModelPrefix(target.model))) {
        if (labelFileFormat(object.key) === undefined) continue;
        files++;
        const read = await readLabels(objects, LABEL_BUCKET, object.key, target, {
          label: (record) => void seen.add(instanceKey(record.id, record.index)),
          rejected: (line, reason) => onRejected?.(object.key, line, reason),
        });
        labels += read.labels;
        rejected += read.rejected;
      }
    }
    return { files, labels, rejected };
  }

  private keysOf(model: string): Set<string> {
    let keys = this.durable.get(model);
    if (!keys) {
      keys = new Set();
      this.durable.set(model, keys);
    }
    return keys;
  }

  /** Whether the model has a label (on disk or on its way) for the instance `index` of the request `id`. */
  has(model: string, id: string, index: number): boolean {
    const key = instanceKey(id, index);
    return this.durable.get(model)?.has(key) === true || this.pending.get(model)?.has(key) === true;
  }

  /** Labels known per model. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.durable].map(([model, keys]) => [model, keys.size + (this.pending.get(model)?.size ?? 0)]));
  }

  /**
   * Keeps the labels whose (id, index) the model has no label for yet, resolving once they are on disk; the
   * others are duplicates, written nowhere. A duplicate of a label still on its way waits for it, so a 202 never
   * counts on a label that then fails to be written. Rejects when the append fails (nothing of it is counted).
   */
  async store(model: string, labels: readonly LabelRecord[], receivedAt: Date): Promise<{ duplicates: number }> {
    if (this.closed) throw new Error('the label store is closed');
    const durable = this.keysOf(model);
    let pending = this.pending.get(model);
    if (!pending) {
      pending = new Map();
      this.pending.set(model, pending);
    }
    const waits = new Set<Promise<void>>();
    let duplicates = 0;
    let batch: Batch | undefined;
    const prefix = groundTruthHourPrefix(model, receivedAt);
    for (const record of labels) {
      const key = instanceKey(record.id, record.index);
      if (durable.has(key)) {
        duplicates++;
        continue;
      }
      const writing = pending.get(key);
      if (writing) {
        duplicates++;
        waits.add(writing.done);
        continue;
      }
      batch ??= this.nextBatch();
      pending.set(key, batch);
      batch.keys.push([model, key]);
      const lines = batch.lines.get(prefix);
      if (lines) lines.push(labelLine(record));
      else batch.lines.set(prefix, [labelLine(record)]);
    }
    if (batch) waits.add(batch.done);
    await Promise.all(waits);
    return { duplicates };
  }

  /** The batch new lines join: it starts once the one being written is done. */
  private nextBatch(): Batch {
    if (this.next) return this.next;
    const batch: Batch = { lines: new Map(), keys: [], done: Promise.resolve() };
    this.next = batch;
    batch.done = this.writing.then(async () => {
      // From here on, new lines go to the batch after this one.
      this.next = undefined;
      await this.write(batch);
    });
    // The chain goes on whatever this batch's fate: its waiters get its error.
    this.writing = batch.done.catch(() => undefined);
    return batch;
  }

  private async write(batch: Batch): Promise<void> {
    try {
      for (const [prefix, lines] of batch.lines) await this.append(prefix, lines);
      for (const [model, key] of batch.keys) this.keysOf(model).add(key);
    } finally {
      // Written or not, they are no longer on their way: a failed label may be sent again.
      for (const [model, key] of batch.keys) this.pending.get(model)?.delete(key);
    }
  }

  /** Appends a prefix's lines to its current file and fsyncs it, rolling to the next file past maxFileBytes. */
  private async append(prefix: string, lines: readonly string[]): Promise<void> {
    // One file per model at a time: a new hour closes the previous hour's file.
    const model = prefix.slice(GROUND_TRUTH_PREFIX.length, prefix.indexOf('/', GROUND_TRUTH_PREFIX.length));
    let file = this.files.get(model);
    if (file?.prefix !== prefix) {
      await file?.handle?.close();
      file = { prefix, seq: 0, bytes: 0, handle: undefined };
      this.files.set(model, file);
    }
    const current = file;
    const nextFile = async () => {
      await current.handle?.close().catch(() => undefined);
      current.handle = undefined;
      current.seq++;
      current.bytes = 0;
    };
    let piece: string[] = [];
    let bytes = 0;
    const flush = async () => {
      if (piece.length === 0) return;
      const handle = await this.handleOf(current);
      try {
        await handle.appendFile(`${piece.join('\n')}\n`);
        await handle.datasync();
      } catch (error) {
        // Part of the text may be in the file: the next lines go to a new file, never after a broken line.
        await nextFile();
        throw error;
      }
      current.bytes += bytes;
      piece = [];
      bytes = 0;
    };
    for (const line of lines) {
      const size = Buffer.byteLength(line) + 1;
      if (current.bytes + bytes > 0 && current.bytes + bytes + size > this.maxFileBytes) {
        await flush();
        await nextFile();
      }
      piece.push(line);
      bytes += size;
    }
    await flush();
  }

  /** The file `file` appends to, created exclusively (a file left by an earlier process is never appended to). */
  private async handleOf(file: OpenFile): Promise<FileHandle> {
    if (file.handle) return file.handle;
    const dir = join(this.folder, file.prefix);
    await mkdir(dir, { recursive: true });
    let handle: FileHandle;
    for (;;) {
      try {
        handle = await openFile(join(dir, LabelStore.fileName(file.seq)), 'ax');
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        file.seq++;
      }
    }
    file.handle = handle;
    // A new file's name is durable once its folder is synced, and a new folder's once its parent is.
    for (let at = dir; at.length >= this.folder.length; at = dirname(at)) await syncFolder(at);
    return handle;
  }

  /** A label file's name: local-<pid>-<seq>.jsonl, the number padded so keys list in order. */
  static fileName(seq: number, pid = process.pid): string {
    return `local-${pid}-${String(seq).padStart(4, '0')}.jsonl`;
  }

  /** Waits for the labels on their way, then closes the files. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
    for (const file of this.files.values()) await file.handle?.close();
    this.files.clear();
  }
}

async function syncFolder(dir: string): Promise<void> {
  const handle = await openFile(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
