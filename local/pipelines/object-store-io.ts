// A Distributed Map's ItemReader and ResultWriter over an ObjectStore, as the cloud reads and writes S3:
// - getObject with ReaderConfig.InputType JSONL (one item per line; a malformed line fails the reader,
//   as in the cloud) or JSON (an array); listObjectsV2 (one item per object, with Key and Size);
// - putObject: `<Prefix>/<map run id>/manifest.json` with the SUCCEEDED_0 / FAILED_0 files it lists,
//   JSON (an array of records) or JSONL (one record per line) as WriterConfig.OutputType says.
// What the cloud would read differently (CSV, MANIFEST, compressed input) is refused with the field.
import type { ObjectStore } from '../../lambdas/core/storage/object-store';
import type { ItemReader, ResultWriter } from './runner';

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

export function objectStoreItemReader(store: ObjectStore): ItemReader {
  return async (request) => {
    const { Bucket, Key, Prefix } = request.parameters;
    if (typeof Bucket !== 'string') throw new Error(`${request.stateName}.ItemReader.Parameters.Bucket must be a string`);
    if (/listObjectsV2$/.test(request.resource)) {
      const items = [];
      for await (const object of store.list(Bucket, typeof Prefix === 'string' ? Prefix : '')) {
        items.push({ Etag: '"local"', Key: object.key, LastModified: 0, Size: object.size, StorageClass: 'STANDARD' });
      }
      return items;
    }
    if (!/getObject$/.test(request.resource)) throw new Error(`${request.stateName}.ItemReader.Resource '${request.resource}' is not emulated locally`);
    if (typeof Key !== 'string') throw new Error(`${request.stateName}.ItemReader.Parameters.Key must be a string`);
    const config = request.readerConfig;
    if (config.CompressionType !== undefined && config.CompressionType !== 'NONE') throw new Error(`${request.stateName}.ItemReader.ReaderConfig.CompressionType '${String(config.CompressionType)}' is not emulated locally`);
    const body = text(await store.read(Bucket, Key));
    switch (config.InputType) {
      case 'JSONL':
        return body
          .split('\n')
          .map((line, i) => [line, i] as const)
          .filter(([line]) => line.trim() !== '')
          .map(([line, i]) => {
            try {
              return JSON.parse(line) as unknown;
            } catch (error) {
              throw new Error(`s3://${Bucket}/${Key} line ${i + 1} is not JSON: ${(error as Error).message}`);
            }
          });
      case 'JSON': {
        const value = JSON.parse(body) as unknown;
        if (!Array.isArray(value)) throw new Error(`s3://${Bucket}/${Key} is not a JSON array`);
        return value;
      }
      default:
        throw new Error(`${request.stateName}.ItemReader.ReaderConfig.InputType '${String(config.InputType)}' is not emulated locally (JSONL and JSON are)`);
    }
  };
}

export function objectStoreResultWriter(store: ObjectStore): ResultWriter {
  return async (request) => {
    const bucket = request.parameters.Bucket;
    if (typeof bucket !== 'string') throw new Error(`${request.stateName}.ResultWriter.Parameters.Bucket must be a string`);
    const jsonl = request.writerConfig?.OutputType === 'JSONL';
    const folder = request.manifestKey.slice(0, -'manifest.json'.length);
    const write = async (name: string, items: readonly unknown[]) => {
      if (items.length === 0) return [];
      const key = `${folder}${name}_0.${jsonl ? 'jsonl' : 'json'}`;
      const body = jsonl ? items.map((item) => `${JSON.stringify(item)}\n`).join('') : JSON.stringify(items);
      await store.write(bucket, key, body);
      return [{ Key: key, Size: Buffer.byteLength(body) }];
    };
    const manifest = {
      DestinationBucket: bucket,
      MapRunArn: request.mapRunArn,
      ResultFiles: { FAILED: await write('FAILED', request.failed), PENDING: [], SUCCEEDED: await write('SUCCEEDED', request.succeeded) },
    };
    await store.write(bucket, request.manifestKey, JSON.stringify(manifest));
  };
}
