// The ObjectStore of a local run: each bucket is a folder, each key a file path under it ('a/b.csv' ->
// <folder>/a/b.csv). Keys that would leave the bucket's folder are refused.
import { closeSync, createReadStream, createWriteStream, mkdirSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ObjectNotFoundError, type ByteRange, type ObjectStore, type StoredObject } from '../../lambdas/core/storage/object-store';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' || (error as NodeJS.ErrnoException | undefined)?.code === 'ENOTDIR';
}

/** A range up to this size is read with one read() call, not a stream (a batch scorer reads one per batch). */
const RANGE_READ_AT_ONCE = 16 * 1024 * 1024;

export interface FolderObjectStoreOptions {
  /**
   * Read byte ranges and write objects with blocking calls, not through libuv's thread pool: for a batch
   * scorer thread, which does one batch's reads and writes at a time and has nothing to do meanwhile
   * (the pool's round trips and threads cost it more CPU than the calls: 100 batches 30% faster). Never
   * for a thread that serves requests.
   * @default false
   */
  readonly blocking?: boolean;
}

/** readRange with blocking calls. */
function readRangeBlocking(bucket: string, key: string, file: string, range: ByteRange): Uint8Array | undefined {
  let fd;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if (isMissing(error)) throw new ObjectNotFoundError(bucket, key);
    throw error;
  }
  try {
    const buffer = Buffer.allocUnsafe(range.end - range.start + 1);
    // One call: a read of a regular file returns every byte asked for up to the file's end (Linux caps
    // one read at 2 GiB; a range read at once is at most RANGE_READ_AT_ONCE).
    const got = readSync(fd, buffer, 0, buffer.length, range.start);
    return got > 0 ? buffer.subarray(0, got) : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') throw new ObjectNotFoundError(bucket, key);
    throw error;
  } finally {
    closeSync(fd);
  }
}

/** The bytes of `range` (its end inclusive, cut at the end of the file, as S3 does), in one read. */
async function* readRange(bucket: string, key: string, file: string, range: ByteRange): AsyncIterable<Uint8Array> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (isMissing(error)) throw new ObjectNotFoundError(bucket, key);
    throw error;
  }
  try {
    const wanted = range.end - range.start + 1;
    const buffer = Buffer.allocUnsafe(wanted);
    let got = 0;
    while (got < wanted) {
      const { bytesRead } = await handle.read(buffer, got, wanted - got, range.start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got > 0) yield buffer.subarray(0, got);
  } catch (error) {
    // A folder opens on Linux; reading it is what fails. It is no object.
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') throw new ObjectNotFoundError(bucket, key);
    throw error;
  } finally {
    await handle.close();
  }
}

/** The calls write() makes: through libuv's thread pool, or blocking (the `blocking` option). */
interface WriteCalls {
  writeFile(path: string, body: string | Uint8Array): Promise<void>;
  mkdir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}
const POOLED_WRITES: WriteCalls = {
  writeFile: (path, body) => writeFile(path, body),
  mkdir: async (path) => {
    await mkdir(path, { recursive: true });
  },
  rename: (from, to) => rename(from, to),
};
const BLOCKING_WRITES: WriteCalls = {
  writeFile: async (path, body) => writeFileSync(path, body),
  mkdir: async (path) => {
    mkdirSync(path, { recursive: true });
  },
  rename: async (from, to) => renameSync(from, to),
};

/** Where an object's file is written before it is renamed into place. */
function partialPath(file: string): string {
  return join(dirname(file), `.mlship-partial-${process.pid}-${Math.random().toString(36).slice(2)}`);
}

export class FolderObjectStore implements ObjectStore {
  private readonly folders: ReadonlyMap<string, string>;

  private readonly blocking: boolean;

  /** `buckets`: bucket name -> local folder. */
  constructor(buckets: Readonly<Record<string, string>>, options: FolderObjectStoreOptions = {}) {
    this.folders = new Map(Object.entries(buckets).map(([bucket, folder]) => [bucket, resolve(folder)]));
    this.blocking = options.blocking ?? false;
  }

  /** The local file of a bucket and key. */
  path(bucket: string, key: string): string {
    const folder = this.folders.get(bucket);
    if (folder === undefined) throw new Error(`no local folder for bucket '${bucket}' (known: ${[...this.folders.keys()].join(', ') || 'none'})`);
    const file = resolve(folder, key);
    if (file !== folder && !file.startsWith(folder + sep)) throw new Error(`key '${key}' leaves the folder of bucket '${bucket}'`);
    return file;
  }

  async *list(bucket: string, prefix: string): AsyncIterable<StoredObject> {
    const folder = this.path(bucket, '');
    // Only the prefix's deepest folder is walked (an hour's captures, not the whole capture tree).
    const slash = prefix.lastIndexOf('/');
    const top = slash < 0 ? folder : resolve(folder, prefix.slice(0, slash));
    // A prefix that leaves the folder names no object.
    if (top !== folder && !top.startsWith(folder + sep)) return;
    const keys: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return;
        throw error;
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile()) {
          const key = relative(folder, full).split(sep).join('/');
          // Files being written (see write) are not objects yet.
          if (key.startsWith(prefix) && !entry.name.startsWith('.mlship-partial-')) keys.push({ key, size: (await stat(full)).size });
        }
      }
    };
    await walk(top);
    keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* keys;
  }

  async read(bucket: string, key: string): Promise<Uint8Array> {
    try {
      return await readFile(this.path(bucket, key));
    } catch (error) {
      if (isMissing(error)) throw new ObjectNotFoundError(bucket, key);
      throw error;
    }
  }

  async *readStream(bucket: string, key: string, range?: ByteRange): AsyncIterable<Uint8Array> {
    const file = this.path(bucket, key);
    if (range && range.end - range.start < RANGE_READ_AT_ONCE) {
      if (this.blocking) {
        const bytes = readRangeBlocking(bucket, key, file, range);
        if (bytes) yield bytes;
      } else {
        yield* readRange(bucket, key, file, range);
      }
      return;
    }
    try {
      if (!(await stat(file)).isFile()) throw new ObjectNotFoundError(bucket, key);
    } catch (error) {
      if (isMissing(error)) throw new ObjectNotFoundError(bucket, key);
      throw error;
    }
    yield* createReadStream(file, { highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) }) as AsyncIterable<Uint8Array>;
  }

  async delete(bucket: string, key: string): Promise<void> {
    const file = this.path(bucket, key);
    try {
      if ((await stat(file)).isFile()) await rm(file, { force: true });
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  /** Written aside, then renamed into place: the object appears whole, or (should `body` throw) not at all. */
  async writeStream(bucket: string, key: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const file = this.path(bucket, key);
    const partial = partialPath(file);
    await mkdir(dirname(file), { recursive: true });
    try {
      await pipeline(Readable.from(body, { objectMode: false }), createWriteStream(partial));
      await rename(partial, file);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async write(bucket: string, key: string, body: string | Uint8Array): Promise<void> {
    const file = this.path(bucket, key);
    // Like a PUT, an object appears whole or not at all: write aside, then rename.
    const partial = partialPath(file);
    const io = this.blocking ? BLOCKING_WRITES : POOLED_WRITES;
    try {
      await io.writeFile(partial, body);
    } catch (error) {
      // The folder is made only when missing: a batch run writes hundreds of parts into one folder.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await io.mkdir(dirname(file));
      await io.writeFile(partial, body);
    }
    await io.rename(partial, file);
  }
}
