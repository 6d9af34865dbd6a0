// Object storage as the pipelines see it: S3 in the cloud (lambdas/core/storage/s3-object-store.ts), a folder per
// bucket locally (local/storage/folder-object-store.ts). Pipeline code takes an ObjectStore, so the same
// code reads and writes both.

export interface StoredObject {
  readonly key: string;
  /** Bytes. */
  readonly size: number;
}

export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number;
  /** Last byte, inclusive (as in an HTTP Range header). */
  readonly end: number;
}

export interface ObjectStore {
  /** Objects under `prefix` ('' for all), in key order (the order S3 lists them). */
  list(bucket: string, prefix: string): AsyncIterable<StoredObject>;
  /** Reads a whole object. Throws ObjectNotFoundError when there is none. */
  read(bucket: string, key: string): Promise<Uint8Array>;
  /** Streams an object (or a byte range of it) in pieces. Throws ObjectNotFoundError when there is none. */
  readStream(bucket: string, key: string, range?: ByteRange): AsyncIterable<Uint8Array>;
  /** Writes (replaces) an object. */
  write(bucket: string, key: string, body: string | Uint8Array, contentType?: string): Promise<void>;
  /**
   * Writes (replaces) an object from pieces as they come, holding only a few of them at a time (S3: a
   * multipart upload). Should `body` throw, the error comes back and the object is as it was before.
   */
  writeStream(bucket: string, key: string, body: AsyncIterable<Uint8Array>, contentType?: string): Promise<void>;
  /** Deletes an object; deleting one that is not there is no error (as S3 DeleteObject). */
  delete(bucket: string, key: string): Promise<void>;
}

/** No object at that bucket and key. */
export class ObjectNotFoundError extends Error {
  override readonly name = 'ObjectNotFoundError';
  constructor(
    readonly bucket: string,
    readonly key: string,
  ) {
    super(`no object s3://${bucket}/${key}`);
  }
}

/** Reads a whole object as UTF-8 text: for small objects only (a JSON state, a plan); stream anything that grows with traffic (lambdas/core/storage/line-reader.ts). */
export async function readText(store: ObjectStore, bucket: string, key: string): Promise<string> {
  return new TextDecoder().decode(await store.read(bucket, key));
}

/** Every object under a prefix, collected. */
export async function listAll(store: ObjectStore, bucket: string, prefix: string): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  for await (const object of store.list(bucket, prefix)) objects.push(object);
  return objects;
}

/** `s3://bucket/key` -> { bucket, key }; undefined for anything else. */
export function parseS3Uri(uri: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(uri);
  return match ? { bucket: match[1]!, key: match[2]! } : undefined;
}
