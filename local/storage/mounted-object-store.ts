// One local "bucket" made of folders mounted at key prefixes: a local batch run reads the user's input
// folder as `input/`, writes the output folder as `output/` and keeps its work files in a temp folder as
// `_work/`, all in the one data bucket the state machine names, so the user's files are read and written
// in place. A key under no mount is refused.
import { sep } from 'node:path';
import { type ByteRange, type ObjectStore, type StoredObject } from '../../lambdas/core/storage/object-store';
import { FolderObjectStore, type FolderObjectStoreOptions } from './folder-object-store';

export interface Mount {
  /** Key prefix, ending in '/'. */
  readonly prefix: string;
  readonly folder: string;
}

export class MountedObjectStore implements ObjectStore {
  private readonly folders: FolderObjectStore;
  private readonly mounts: readonly Mount[];

  constructor(
    readonly bucket: string,
    mounts: readonly Mount[],
    options: FolderObjectStoreOptions = {},
  ) {
    for (const mount of mounts) if (!mount.prefix.endsWith('/')) throw new Error(`mount prefix '${mount.prefix}' must end in '/'`);
    // Longest prefix first, so a nested mount wins.
    this.mounts = [...mounts].sort((a, b) => b.prefix.length - a.prefix.length);
    this.folders = new FolderObjectStore(Object.fromEntries(this.mounts.map((m) => [m.prefix, m.folder])), options);
  }

  /** The mounts, for a worker thread to build the same store. */
  get mountList(): readonly Mount[] {
    return this.mounts;
  }

  private resolve(bucket: string, key: string): { mount: Mount; rest: string } {
    if (bucket !== this.bucket) throw new Error(`no local bucket '${bucket}' (the local data bucket is '${this.bucket}')`);
    const mount = this.mounts.find((m) => key.startsWith(m.prefix));
    if (!mount) throw new Error(`key '${key}' is outside the local folders (${this.mounts.map((m) => m.prefix).join(', ')})`);
    return { mount, rest: key.slice(mount.prefix.length) };
  }

  /** The local file of a key. */
  path(key: string): string {
    const { mount, rest } = this.resolve(this.bucket, key);
    return this.folders.path(mount.prefix, rest);
  }

  async *list(bucket: string, prefix: string): AsyncIterable<StoredObject> {
    if (bucket !== this.bucket) throw new Error(`no local bucket '${bucket}' (the local data bucket is '${this.bucket}')`);
    const found: StoredObject[] = [];
    const seen = new Set<string>();
    for (const mount of this.mounts) {
      let inner: string;
      if (prefix.startsWith(mount.prefix)) inner = prefix.slice(mount.prefix.length);
      else if (mount.prefix.startsWith(prefix)) inner = '';
      else continue;
      for await (const object of this.folders.list(mount.prefix, inner)) {
        const key = mount.prefix + object.key;
        // A nested mount's files belong to it, not to the folder it sits in.
        if (seen.has(key) || this.mounts.find((m) => key.startsWith(m.prefix)) !== mount) continue;
        seen.add(key);
        found.push({ key, size: object.size });
      }
    }
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* found;
  }

  read(bucket: string, key: string): Promise<Uint8Array> {
    const { mount, rest } = this.resolve(bucket, key);
    return this.folders.read(mount.prefix, rest);
  }

  readStream(bucket: string, key: string, range?: ByteRange): AsyncIterable<Uint8Array> {
    const { mount, rest } = this.resolve(bucket, key);
    return this.folders.readStream(mount.prefix, rest, range);
  }

  write(bucket: string, key: string, body: string | Uint8Array): Promise<void> {
    const { mount, rest } = this.resolve(bucket, key);
    return this.folders.write(mount.prefix, rest, body);
  }

  writeStream(bucket: string, key: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const { mount, rest } = this.resolve(bucket, key);
    return this.folders.writeStream(mount.prefix, rest, body);
  }

  delete(bucket: string, key: string): Promise<void> {
    const { mount, rest } = this.resolve(bucket, key);
    return this.folders.delete(mount.prefix, rest);
  }
}

/** A folder path as a key suffix ('a/b' on Windows too). */
export function toKeyPath(path: string): string {
  return path.split(sep).join('/');
}
