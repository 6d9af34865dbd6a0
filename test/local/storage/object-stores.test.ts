// The two ObjectStores the pipelines run on: S3ObjectStore (the real SDK v3 client, here against s3rver,
// a local S3-compatible server) and FolderObjectStore (a folder per bucket). The same contract tests run
// on both, so a pipeline that works locally reads and writes S3 the same way.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { listAll, ObjectNotFoundError, parseS3Uri, readText, type ObjectStore } from '../../../lambdas/core/storage/object-store';
import { S3ObjectStore } from '../../../lambdas/core/storage/s3-object-store';
import { FolderObjectStore } from '../../../local/storage/folder-object-store';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-stores-');
const BUCKET = 'data-bucket';

async function collect(stream: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function contract(name: string, open: () => Promise<{ store: ObjectStore; close: () => Promise<void> }>): void {
  describe(name, () => {
    let store: ObjectStore;
    let close: () => Promise<void>;
    before(async () => {
      ({ store, close } = await open());
      await store.write(BUCKET, 'incoming/b.csv', 'x,y\n3,4\n', 'text/csv');
      await store.write(BUCKET, 'incoming/a.csv', 'x,y\n1,2\n');
      await store.write(BUCKET, 'incoming/day-2/c.jsonl', new TextEncoder().encode('{"x":5}\n'));
      await store.write(BUCKET, 'other/d.csv', 'x\n');
    });
    after(async () => close());

    it('lists the objects under a prefix in key order, with their sizes', async () => {
      assert.deepEqual(await listAll(store, BUCKET, 'incoming/'), [
        { key: 'incoming/a.csv', size: 8 },
        { key: 'incoming/b.csv', size: 8 },
        { key: 'incoming/day-2/c.jsonl', size: 8 },
      ]);
      assert.equal((await listAll(store, BUCKET, '')).length, 4);
      assert.deepEqual(await listAll(store, BUCKET, 'nothing-here/'), []);
    });

    it('reads whole objects, streams and byte ranges', async () => {
      assert.equal(await readText(store, BUCKET, 'incoming/a.csv'), 'x,y\n1,2\n');
      assert.equal(await collect(store.readStream(BUCKET, 'incoming/b.csv')), 'x,y\n3,4\n');
      assert.equal(await collect(store.readStream(BUCKET, 'incoming/b.csv', { start: 4, end: 6 })), '3,4');
      assert.equal(await collect(store.readStream(BUCKET, 'incoming/b.csv', { start: 2, end: 2 })), 'y', 'one byte');
      assert.equal(await collect(store.readStream(BUCKET, 'incoming/b.csv', { start: 4, end: 100 })), '3,4\n', 'a range past the end is cut there, as S3 does');
    });

    it('replaces an object on a second write', async () => {
      await store.write(BUCKET, 'out/summary.json', '{"v":1}');
      await store.write(BUCKET, 'out/summary.json', '{"v":2}');
      assert.equal(await readText(store, BUCKET, 'out/summary.json'), '{"v":2}');
    });

    it('writes an object streamed in pieces (several multipart parts on S3); a stream that fails leaves the object as it was', async () => {
      const MiB = 1024 * 1024;
      async function* pieces(count: number, failAt = -1): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < count; i++) {
          if (i === failAt) throw new Error('the source broke');
          yield Buffer.alloc(MiB, 97 + (i % 26));
        }
      }
      await store.writeStream(BUCKET, 'big/streamed.csv', pieces(18), 'text/csv');
      const back = Buffer.from(await store.read(BUCKET, 'big/streamed.csv'));
      assert.equal(back.length, 18 * MiB);
      for (let i = 0; i < 18; i++) assert.equal(back[i * MiB + 123], 97 + (i % 26), `piece ${i} in its place`);
      await assert.rejects(store.writeStream(BUCKET, 'big/failed.csv', pieces(18, 17)), { message: 'the source broke' });
      await assert.rejects(store.read(BUCKET, 'big/failed.csv'), ObjectNotFoundError);
      await store.writeStream(BUCKET, 'big/kept.txt', pieces(1));
      await assert.rejects(store.writeStream(BUCKET, 'big/kept.txt', pieces(3, 2)), { message: 'the source broke' });
      assert.equal(Buffer.from(await store.read(BUCKET, 'big/kept.txt')).length, MiB, 'the old object stays');
      assert.deepEqual((await listAll(store, BUCKET, 'big/')).map((o) => o.key), ['big/kept.txt', 'big/streamed.csv'], 'no partial object listed');
    });

    it('deletes an object (one that is not there is no error), and lists by a prefix that is not a folder', async () => {
      await store.write(BUCKET, 'gone/x.json', '{}');
      await store.write(BUCKET, 'gone/xy.json', '{}');
      assert.deepEqual((await listAll(store, BUCKET, 'gone/x')).map((o) => o.key), ['gone/x.json', 'gone/xy.json']);
      await store.delete(BUCKET, 'gone/x.json');
      await store.delete(BUCKET, 'gone/x.json');
      await store.delete(BUCKET, 'never/was.json');
      assert.deepEqual((await listAll(store, BUCKET, 'gone/')).map((o) => o.key), ['gone/xy.json']);
      await assert.rejects(store.read(BUCKET, 'gone/x.json'), ObjectNotFoundError);
    });

    it('says which object is missing, on read and on stream', async () => {
      await assert.rejects(store.read(BUCKET, 'incoming/none.csv'), (e: unknown) => e instanceof ObjectNotFoundError && e.message === `no object s3://${BUCKET}/incoming/none.csv`);
      await assert.rejects(collect(store.readStream(BUCKET, 'incoming/none.csv')), ObjectNotFoundError);
      await assert.rejects(collect(store.readStream(BUCKET, 'incoming/none.csv', { start: 0, end: 10 })), ObjectNotFoundError);
      // A prefix is no object, read whole or by range.
      await assert.rejects(collect(store.readStream(BUCKET, 'incoming/day-2', { start: 0, end: 10 })), ObjectNotFoundError);
    });
  });
}

contract('S3ObjectStore (SDK v3 client against a local S3 server)', async () => {
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: tempDir() });
  const { port } = (await server.run()) as { port: number };
  const client = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  return {
    store: new S3ObjectStore(client),
    close: async () => {
      client.destroy();
      await server.close();
    },
  };
});

const folder = tempDir();
contract('FolderObjectStore', async () => ({ store: new FolderObjectStore({ [BUCKET]: folder }), close: async () => undefined }));
// What a batch scorer thread uses: ranges and writes with blocking calls, the same answers.
contract('FolderObjectStore (blocking)', async () => ({ store: new FolderObjectStore({ [BUCKET]: tempDir() }, { blocking: true }), close: async () => undefined }));

describe('FolderObjectStore specifics', () => {
  for (const blocking of [false, true]) {
    it(`keeps objects as files under the bucket folder and leaves no partial files behind${blocking ? ' (blocking)' : ''}`, async () => {
      const dir = tempDir();
      const store = new FolderObjectStore({ [BUCKET]: dir }, { blocking });
      await store.write(BUCKET, 'a/b/c.txt', 'hello');
      assert.ok(existsSync(join(dir, 'a/b/c.txt')), 'the key is a path under the folder');
      assert.deepEqual(readdirSync(join(dir, 'a/b')), ['c.txt']);
      // Its folder exists now: the next write goes straight in; one whose folder was removed makes it again.
      await store.write(BUCKET, 'a/b/d.txt', 'again');
      rmSync(join(dir, 'a'), { recursive: true });
      await store.write(BUCKET, 'a/b/e.txt', 'after the folder went');
      assert.deepEqual(readdirSync(join(dir, 'a/b')), ['e.txt']);
    });
  }

  it('refuses keys that leave the folder and buckets it does not know', async () => {
    const store = new FolderObjectStore({ [BUCKET]: tempDir() });
    await assert.rejects(store.write(BUCKET, '../escape.txt', 'x'), { message: "key '../escape.txt' leaves the folder of bucket 'data-bucket'" });
    await assert.rejects(store.read('other-bucket', 'a.txt'), { message: "no local folder for bucket 'other-bucket' (known: data-bucket)" });
  });
});

describe('parseS3Uri', () => {
  it('splits s3:// URIs and refuses anything else', () => {
    assert.deepEqual(parseS3Uri('s3://my-bucket/scored/run-1/scored.csv'), { bucket: 'my-bucket', key: 'scored/run-1/scored.csv' });
    assert.equal(parseS3Uri('https://my-bucket.s3.amazonaws.com/x'), undefined);
    assert.equal(parseS3Uri('s3://UPPER/x'), undefined);
  });
});
