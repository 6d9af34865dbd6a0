// The ObjectStore of the cloud: S3 through the AWS SDK v3 client.
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ObjectNotFoundError, type ByteRange, type ObjectStore, type StoredObject } from './object-store';

export class S3ObjectStore implements ObjectStore {
  constructor(private readonly client: S3Client = new S3Client({})) {}

  async *list(bucket: string, prefix: string): AsyncIterable<StoredObject> {
    for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: bucket, Prefix: prefix })) {
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) yield { key: object.Key, size: object.Size ?? 0 };
      }
    }
  }

  async read(bucket: string, key: string): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.readStream(bucket, key)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async *readStream(bucket: string, key: string, range?: ByteRange): AsyncIterable<Uint8Array> {
    let body;
    try {
      ({ Body: body } = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) })));
    } catch (error) {
      if (error instanceof NoSuchKey) throw new ObjectNotFoundError(bucket, key);
      throw error;
    }
    if (!body) return;
    // In Node the body is a Readable stream of Buffers, taken piece by piece as the socket delivers them (never
    // transformToString, which holds the whole object); a reader that stops early destroys it.
    for await (const chunk of body as AsyncIterable<Uint8Array>) yield chunk;
  }

  async delete(bucket: string, key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  async write(bucket: string, key: string, body: string | Uint8Array, contentType?: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(contentType ? { ContentType: contentType } : {}) }));
  }

  /**
   * A multipart upload of 8 MiB parts, four in flight (one PutObject when the body is smaller), so memory
   * stays at ~40 MiB whatever the object's size; a failed upload is aborted (leavePartsOnError false).
   */
  async writeStream(bucket: string, key: string, body: AsyncIterable<Uint8Array>, contentType?: string): Promise<void> {
    // The body's own error is what went wrong, not what aborting the upload then said.
    let bodyError: unknown;
    const watched = async function* () {
      try {
        yield* body;
      } catch (error) {
        bodyError = error;
        throw error;
      }
    };
    const upload = new Upload({
      client: this.client,
      params: { Bucket: bucket, Key: key, Body: Readable.from(watched(), { objectMode: false }), ...(contentType ? { ContentType: contentType } : {}) },
      partSize: 8 * 1024 * 1024,
      queueSize: 4,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      throw bodyError ?? error;
    }
  }
}
