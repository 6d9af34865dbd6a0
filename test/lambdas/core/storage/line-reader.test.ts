// readLines: an object read as complete lines in bounded memory, from any byte offset, through the stores the
// monitor reads (in memory with small pieces, a folder, S3 on s3rver, whose body must come in pieces).
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { readLines, type LinesRead } from '../../../../lambdas/core/storage/line-reader';
import type { ObjectStore } from '../../../../lambdas/core/storage/object-store';
import { S3ObjectStore } from '../../../../lambdas/core/storage/s3-object-store';
import { FolderObjectStore } from '../../../../local/storage/folder-object-store';
import { MemoryObjectStore } from '../../../fixtures/memory-object-store';
import { tempDirMaker } from '../../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-lines-');
const BUCKET = 'captures';

interface Seen {
  lines: { text: string; offset: number }[];
  tooLong: { bytes: number; offset: number }[];
  read: LinesRead;
}

async function collect(store: ObjectStore, key: string, options: Parameters<typeof readLines>[4] = {}): Promise<Seen> {
  const lines: Seen['lines'] = [];
  const tooLong: Seen['tooLong'] = [];
  const read = await readLines(store, BUCKET, key, { line: (text, offset) => lines.push({ text, offset }), tooLong: (bytes, offset) => tooLong.push({ bytes, offset }) }, options);
  return { lines, tooLong, read };
}

describe('readLines', () => {
  it('hands on complete lines only, with their offsets, whatever the pieces; an unfinished last line waits', async () => {
    const text = 'alpha\nbé\n\nlonger line here\npartial';
    for (const pieceBytes of [1, 2, 3, 7, 1000]) {
      const store = new MemoryObjectStore({ pieceBytes });
      store.put('k', text);
      const seen = await collect(store, 'k');
      assert.deepEqual(seen.lines.map((l) => l.text), ['alpha', 'bé', '', 'longer line here'], `pieces of ${pieceBytes}`);
      assert.deepEqual(seen.lines.map((l) => l.offset), [0, 6, 10, 11]);
      assert.deepEqual(seen.read, { next: 28, bytesRead: Buffer.byteLength(text), lines: 4, pendingBytes: 7 });
    }
  });

  it('continues from a byte offset up to a given end: a growing object is read once, line by line', async () => {
    const store = new MemoryObjectStore({ pieceBytes: 4 });
    store.put('k', 'one\ntwo\nthr');
    const first = await collect(store, 'k', { start: 0, end: 11 });
    assert.deepEqual(first.lines.map((l) => l.text), ['one', 'two']);
    assert.equal(first.read.next, 8);
    store.append('k', 'ee\nfour\nfi');
    // the listing said 21 bytes; bytes written after it are left for the next read
    store.append('k', 've\n');
    const second = await collect(store, 'k', { start: first.read.next, end: 21 });
    assert.deepEqual(second.lines.map((l) => [l.text, l.offset]), [['three', 8], ['four', 14]]);
    assert.deepEqual(second.read, { next: 19, bytesRead: 13, lines: 2, pendingBytes: 2 });
    const third = await collect(store, 'k', { start: second.read.next, end: 24 });
    assert.deepEqual(third.lines.map((l) => l.text), ['five']);
    assert.equal(third.read.next, 24);
    assert.deepEqual((await collect(store, 'k', { start: 24, end: 24 })).read, { next: 24, bytesRead: 0, lines: 0, pendingBytes: 0 }, 'nothing new: nothing read');
  });

  it('skips a line longer than maxLineBytes as it goes by (never held whole) and reports its length; the lines around it are read', async () => {
    const long = 'x'.repeat(10_000);
    for (const pieceBytes of [3, 100, 64 * 1024]) {
      const store = new MemoryObjectStore({ pieceBytes });
      store.put('k', `short\n${long}\nafter\n${long}`);
      const seen = await collect(store, 'k', { maxLineBytes: 64 });
      assert.deepEqual(seen.lines.map((l) => l.text), ['short', 'after'], `pieces of ${pieceBytes}`);
      assert.deepEqual(seen.tooLong, [{ bytes: 10_000, offset: 6 }]);
      assert.equal(seen.read.next, 10_013, 'the unfinished long line is left for later');
      assert.equal(seen.read.pendingBytes, 10_000);
    }
    const store = new MemoryObjectStore();
    store.put('k', 'abc\nabcd\n');
    assert.deepEqual((await collect(store, 'k', { maxLineBytes: 3 })).tooLong, [{ bytes: 4, offset: 4 }], 'exactly maxLineBytes is allowed, one more is not');
  });

  it('an error thrown by the visitor stops the read; bad arguments are refused, naming them', async () => {
    const store = new MemoryObjectStore({ pieceBytes: 2 });
    store.put('k', 'a\nb\nc\n');
    let seen = 0;
    await assert.rejects(
      readLines(store, BUCKET, 'k', { line: () => { if (++seen === 2) throw new Error('stop here'); }, tooLong: () => undefined }),
      /stop here/,
    );
    assert.equal(seen, 2);
    await assert.rejects(collect(store, 'k', { start: 2 }), /reading k from byte 2 needs its end/);
    await assert.rejects(collect(store, 'k', { maxLineBytes: 0 }), /maxLineBytes must be a whole number of bytes, 1 or more, received 0/);
    await assert.rejects(collect(store, 'missing'), /no object s3:\/\/captures\/missing/);
  });

  it('FolderObjectStore: a local file appended to between reads is continued from its offset', async () => {
    const folder = tempDir();
    mkdirSync(join(folder, 'h'));
    const file = join(folder, 'h', 'local-1.jsonl');
    writeFileSync(file, '{"a":1}\n{"a":2}\n{"a"');
    const store = new FolderObjectStore({ [BUCKET]: folder });
    const first = await collect(store, 'h/local-1.jsonl', { start: 0, end: 20 });
    assert.deepEqual(first.lines.map((l) => JSON.parse(l.text) as unknown), [{ a: 1 }, { a: 2 }]);
    appendFileSync(file, ':3}\n');
    const second = await collect(store, 'h/local-1.jsonl', { start: first.read.next, end: 24 });
    assert.deepEqual(second.lines.map((l) => JSON.parse(l.text) as unknown), [{ a: 3 }]);
    assert.equal(second.read.bytesRead, 8, 'only the bytes from the last complete line on');
  });

  it('S3ObjectStore on s3rver: the object body comes in pieces as the socket delivers it, and ranges continue it', async () => {
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: tempDir() });
    const { port } = (await server.run()) as { port: number };
    const client = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
      const line = `${'y'.repeat(99)}\n`;
      const body = line.repeat(40_000); // 4 MB
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'big.jsonl', Body: body }));
      const store = new S3ObjectStore(client);
      let pieces = 0;
      let largest = 0;
      for await (const piece of store.readStream(BUCKET, 'big.jsonl')) {
        pieces++;
        largest = Math.max(largest, piece.length);
      }
      assert.ok(pieces > 4 && largest < 1024 * 1024, `streamed in ${pieces} pieces of at most ${largest} bytes, never held whole`);
      const whole = await collect(store, 'big.jsonl', { maxLineBytes: 200 });
      assert.equal(whole.lines.length, 40_000);
      assert.equal(whole.read.next, body.length);
      const tail = await collect(store, 'big.jsonl', { start: 100 * 39_998, end: body.length });
      assert.deepEqual([tail.lines.length, tail.read.bytesRead], [2, 200], 'a range read from an offset');
    } finally {
      client.destroy();
      await server.close();
    }
  });
});
