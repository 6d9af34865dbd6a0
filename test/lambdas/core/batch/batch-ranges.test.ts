// Range mode of the batch core (what each Distributed Map item of the batch state machine runs): a file's
// bytes cut into ranges of whole rows by createRangeSplitter, without decoding, and each range decoded and
// scored on its own by createRangeScorer, gives byte for byte what scoreText gives for the whole file:
// tricky quoting, quoted line ends, CR / CRLF / LF, blank lines, a BOM (and bytes that only start one),
// bytes that are not UTF-8, non-ASCII whitespace lines, unclosed quotes and bad JSON alike, read in
// pieces of any size, with the real breast-cancer model.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { after, before, describe, it } from 'node:test';
import { scoredHeader, type BatchFormat } from '../../../../lambdas/core/batch/batch-format';
import { createRangeSplitter, type RowRange } from '../../../../lambdas/core/batch/range-splitter';
import { createRecordSplitter } from '../../../../lambdas/core/batch/record-splitter';
import { createRangeScorer, scoreText } from '../../../../lambdas/core/batch/scorers';
import { scoreFile } from '../../../../lambdas/core/batch/score-file';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import { createRandom } from '../../../../lambdas/core/models/training/random';
import { tempDirMaker } from '../../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-ranges-');

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const dataLines = readFileSync(join(repoRoot, 'models', 'breast-cancer', 'data', 'breast_cancer.csv'), 'utf8').trim().split('\n');
const features = dataLines[0]!.split(',').slice(0, 30);
const realRows = dataLines.slice(1).map((line) => line.split(',').slice(0, 30));

let model: ServedModel;
before(async () => {
  model = await ServedModel.load(join(repoRoot, 'models', 'breast-cancer', '1'));
});
after(async () => {
  await model.release();
});

const utf8 = (text: string) => Buffer.from(text, 'utf8');

/** A generated input file as bytes: good rows and every kind of trouble. */
function generated(seed: number, format: BatchFormat): Buffer {
  const { next } = createRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const eol = () => (format === 'csv' ? pick(['\n', '\r\n', '\r']) : pick(['\n', '\r\n']));
  const parts: Buffer[] = [];
  const count = 3 + Math.floor(next() * 30);
  for (let i = 0; i < count; i++) {
    const row = [...pick(realRows)];
    const kind = next();
    if (format === 'csv') {
      const cells: (string | Buffer)[] = [`id-${i}`, ...row];
      if (kind < 0.06) cells[3] = 'abc';
      else if (kind < 0.1) cells.pop();
      else if (kind < 0.14) cells[5] = '';
      else if (kind < 0.2) cells[0] = `"quoted, ""id""\n${i}\r\n"`;
      else if (kind < 0.24) cells[7] = `"${String(cells[7])}"`;
      else if (kind < 0.27) cells[2] = '"1.5"x,';
      else if (kind < 0.3) cells.push('extra');
      else if (kind < 0.36) parts.push(utf8(`${pick(['', ' ', ''])}${eol()}`));
      else if (kind < 0.4) cells[0] = 'émoji 😀 ü';
      else if (kind < 0.44) cells[0] = Buffer.from([0x69, 0xc3, 0x28, 0xff, 0xe2, 0x82]); // not UTF-8
      else if (kind < 0.47) cells[4] = Buffer.from([0xf0, 0x9f]); // a cut 4-byte character in a number
      else if (kind < 0.5) cells[0] = '""';
      parts.push(Buffer.concat(cells.flatMap((c, j) => (j === 0 ? [Buffer.from(c)] : [utf8(','), Buffer.from(c)]))), utf8(eol()));
    } else {
      const object = Object.fromEntries(features.map((f, j) => [f, Number(row[j])]));
      let line: string | Buffer;
      if (kind < 0.08) line = '{"broken": ';
      else if (kind < 0.14) line = pick(['   ', '', '\t', '\u00a0 \u3000', '\ufeff']);
      else if (kind < 0.2) line = JSON.stringify(row.map(Number).slice(1));
      else if (kind < 0.26) line = JSON.stringify({ ...object, id: `x${i} ü` });
      else if (kind < 0.3) line = JSON.stringify({ ...object, [features[0]!]: 'a' });
      else if (kind < 0.34) line = Buffer.from([0x7b, 0xc3, 0x28, 0x20, 0xa0]); // not UTF-8
      else if (kind < 0.37) line = Buffer.from([0x20, 0xc2, 0xa0, 0x20]); // no-break space only: blank
      else line = JSON.stringify(object);
      parts.push(Buffer.from(line), utf8(eol()));
    }
  }
  if (next() < 0.3) parts.push(utf8(format === 'csv' ? '\n\r\n' : '\n \n'));
  let body = Buffer.concat(parts);
  if (next() < 0.3) body = body.subarray(0, body.length - (body.at(-1) === 10 && body.at(-2) === 13 ? 2 : body.at(-1) === 10 || body.at(-1) === 13 ? 1 : 0));
  if (format === 'csv' && next() < 0.2) body = Buffer.concat([body, utf8(`"never closed,${realRows[0]!.join(',')}\n1,2,3\n`)]);
  // Two bytes that only start a BOM spoil a CSV header (tested below); in JSON Lines they spoil a line.
  const start = pick([Buffer.alloc(0), Buffer.alloc(0), Buffer.from([0xef, 0xbb, 0xbf]), format === 'csv' ? Buffer.alloc(0) : Buffer.from([0xef, 0xbb])]);
  const header = format === 'csv' ? utf8(`${['id', ...features].join(',')}${eol()}`) : Buffer.alloc(0);
  return Buffer.concat([start, header, body]);
}

/**
 * A CSV file with LF line ends and no quote anywhere, so a range scorer's pushRange reads it as bytes:
 * good rows and every number that is not a plain decimal, bad fields, counts and bytes, blank lines.
 */
function plainGenerated(seed: number): Buffer {
  const { next } = createRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const odd = ['1.', '.5', '-.5', '-', '--1', '-0', '00012.50', '1e5', '1E-3', ' 1', '1 ', '+1', '0x10', 'Infinity', 'NaN', '1e39', '-1e39', '', 'abc', '1.2.3', '123456789012345', '1234567890123456', '0.1234567890123456', '9'.repeat(22), '١٢', '1 '];
  const parts: Buffer[] = [utf8(`${['id', ...features].join(',')}
`)];
  const count = 3 + Math.floor(next() * 40);
  for (let i = 0; i < count; i++) {
    const cells: (string | Buffer)[] = [`r${i}`, ...pick(realRows)];
    const kind = next();
    if (kind < 0.3) cells[1 + Math.floor(next() * 30)] = pick(odd);
    else if (kind < 0.36) cells.pop();
    else if (kind < 0.4) cells.push('extra');
    else if (kind < 0.46) parts.push(utf8('\n'));
    else if (kind < 0.5) cells[0] = pick(['émoji 😀 ü', '', 'x'.repeat(200), 'tab	here']);
    else if (kind < 0.54) cells[0] = Buffer.from([0x69, 0xc3, 0x28, 0xff, 0xe2, 0x82]); // not UTF-8
    else if (kind < 0.57) cells[4] = Buffer.from([0xf0, 0x9f]); // a cut 4-byte character in a number
    else if (kind < 0.6) cells.splice(1, 30, ...Array.from({ length: 30 }, () => pick(['0', '-1', '3.14159', '1000000'])));
    parts.push(Buffer.concat(cells.flatMap((c, j) => (j === 0 ? [Buffer.from(c)] : [utf8(','), Buffer.from(c)]))));
    if (i < count - 1 || next() < 0.7) parts.push(utf8('\n'));
  }
  if (next() < 0.3) parts.push(utf8('\n\n'));
  return Buffer.concat(parts);
}

/** Cuts `bytes` read in pieces of `piece` into ranges of `rowsPerRange`, scores each range on its own. */
async function byRanges(bytes: Buffer, format: BatchFormat, piece: number, rowsPerRange: number, firstRow = 1, whole = false) {
  const splitter = createRangeSplitter(format, { rowsPerRange, firstRow });
  const ranges: RowRange[] = [];
  for (let i = 0; i < bytes.length; i += piece) ranges.push(...splitter.push(bytes.subarray(i, i + piece)));
  ranges.push(...splitter.end());
  let scored = '';
  let rejects = '';
  for (const range of ranges) {
    const scorer = createRangeScorer(model, { format, chunkRows: 3, firstRow: range.firstRow, ...(format === 'csv' ? { header: splitter.header! } : {}) });
    const text = bytes.subarray(range.start, range.end);
    if (whole) {
      // The range's bytes at once, as the batch scorer hands them (read as bytes when plain).
      const a = await scorer.pushRange(text);
      const b = await scorer.end();
      scored += a.scored + b.scored;
      rejects += a.rejects + b.rejects;
    } else {
      // The range's own bytes, decoded in two pieces as a stream would give them.
      const decoder = new StringDecoder('utf8');
      const cut = Math.floor(text.length / 2);
      const a = await scorer.push(decoder.write(text.subarray(0, cut)));
      const b = await scorer.push(decoder.write(text.subarray(cut)) + decoder.end());
      const c = await scorer.end();
      scored += a.scored + b.scored + c.scored;
      rejects += a.rejects + b.rejects + c.rejects;
    }
    assert.equal(scorer.summary().rowsIn, range.rows, `the range from byte ${range.start} holds the ${range.rows} rows the splitter counted`);
  }
  return { ranges, scored, rejects, rows: splitter.rows, header: splitter.header };
}

describe('batch core range mode', () => {
  for (const format of ['csv', 'jsonl'] as const) {
    it(`${format}: byte ranges scored on their own give exactly scoreText's output (80 generated files, any piece size)`, async () => {
      for (let seed = 1; seed <= 80; seed++) {
        const bytes = generated(seed * 11 + (format === 'csv' ? 0 : 5), format);
        // As scoreFile reads a file: Node's UTF-8 decoding (the scorer drops the BOM).
        const text = bytes.toString('utf8');
        const whole = await scoreText(model, text, { format });
        const splitter = createRecordSplitter(format);
        splitter.push(text);
        splitter.end();
        for (const [piece, rowsPerRange] of [[bytes.length + 1, 1000], [1, 1], [2, 3], [7, 2], [64, 5]] as const) {
          const got = await byRanges(bytes, format, piece, rowsPerRange);
          const where = `seed ${seed}, pieces of ${piece} bytes, ${rowsPerRange} rows a range`;
          assert.equal(got.header, splitter.header, `${where}: the header`);
          assert.equal(got.rows, whole.summary.rowsIn, `${where}: rows counted`);
          assert.equal(scoredHeader(model.card) + got.scored, whole.scored, `${where}: scored rows`);
          assert.equal(got.rejects, whole.rejects, `${where}: rejects`);
          let expectedStart = -1;
          for (const range of got.ranges) {
            assert.ok(range.rows >= 1 && (range.rows >= rowsPerRange || range === got.ranges.at(-1)), `${where}: only the last range holds fewer than ${rowsPerRange} rows`);
            assert.ok(expectedStart < 0 || range.start === expectedStart, `${where}: ranges follow each other`);
            expectedStart = range.end;
          }
          assert.equal(got.ranges.reduce((n, r) => n + r.rows, 0), whole.summary.rowsIn, `${where}: the ranges hold every row`);
        }
      }
    });
  }

  for (const generator of ['generated', 'plain'] as const) {
    it(`csv: whole ranges handed over as bytes (pushRange) give exactly scoreText's output (${generator} files: 80)`, async () => {
      let scored = 0;
      let rejected = 0;
      for (let seed = 1; seed <= 80; seed++) {
        const bytes = generator === 'plain' ? plainGenerated(seed * 7) : generated(seed * 11, 'csv');
        if (generator === 'plain') assert.ok(!bytes.includes(0x22) && !bytes.includes(0x0d), 'a plain file has no quote and no CR');
        const whole = await scoreText(model, bytes.toString('utf8'), { format: 'csv' });
        for (const rowsPerRange of [1, 2, 5, 1000]) {
          const got = await byRanges(bytes, 'csv', 64, rowsPerRange, 1, true);
          const where = `seed ${seed}, ${rowsPerRange} rows a range`;
          assert.equal(scoredHeader(model.card) + got.scored, whole.scored, `${where}: scored rows`);
          assert.equal(got.rejects, whole.rejects, `${where}: rejects`);
        }
        scored += whole.summary.rowsScored;
        rejected += whole.summary.rowsRejected;
      }
      assert.ok(scored > 1000 && rejected > 200, `the files hold both scored rows (${scored}) and rejects (${rejected})`);
    });
  }

  it("scoreFile, which hands the scorer pieces cut after a LF, gives scoreText's output at any read size (40 generated files each)", async () => {
    const dir = tempDir();
    for (const format of ['csv', 'jsonl'] as const) {
      for (let seed = 1; seed <= 40; seed++) {
        const bytes = generated(seed * 13 + (format === 'csv' ? 1 : 6), format);
        const whole = await scoreText(model, bytes.toString('utf8'), { format });
        const input = join(dir, `in.${format}`);
        writeFileSync(input, bytes);
        // Reads of one byte (every character cut) on a few files: they take a stream event each.
        for (const readBytes of [...(seed <= 6 ? [1] : []), 5, 64, bytes.length + 1]) {
          const outputs = { format, scoredPath: join(dir, 'scored.csv'), rejectsPath: join(dir, 'rejects.jsonl'), readBytes };
          const summary = await scoreFile(model, input, outputs);
          const where = `${format} seed ${seed}, reads of ${readBytes} bytes`;
          assert.deepEqual(summary, whole.summary, `${where}: summary`);
          assert.equal(readFileSync(outputs.scoredPath, 'utf8'), whole.scored, `${where}: scored rows`);
          assert.equal(readFileSync(outputs.rejectsPath, 'utf8'), whole.rejects, `${where}: rejects`);
        }
      }
    }
    // One record longer than scoreFile carries between reads (4 MiB): handed on in pieces, the same answer.
    const huge = Buffer.from(`${['id', ...features].join(',')}\n${'x'.repeat(5 * 1024 * 1024)},${realRows[0]!.join(',')}\n2,${realRows[1]!.join(',')}\n`);
    const input = join(dir, 'huge.csv');
    writeFileSync(input, huge);
    const whole = await scoreText(model, huge.toString('utf8'), { format: 'csv' });
    const summary = await scoreFile(model, input, { format: 'csv', scoredPath: join(dir, 'scored.csv'), rejectsPath: join(dir, 'rejects.jsonl'), readBytes: 64 * 1024 });
    assert.deepEqual(summary, { rowsIn: 2, rowsScored: 2, rowsRejected: 0 });
    assert.equal(readFileSync(join(dir, 'scored.csv'), 'utf8'), whole.scored);
  });

  it('numbers rows from the given first row, so a second file continues the count', async () => {
    const got = await byRanges(utf8(`${features.join(',')}\n${realRows[0]!.join(',')}\nbad\n`), 'csv', 1000, 1, 101);
    assert.deepEqual(got.ranges.map((r) => [r.firstRow, r.rows]), [[101, 1], [102, 1]], 'one range per row, numbered from 101');
    assert.match(got.scored, /^101,,/, 'the scored row carries its global number');
    assert.deepEqual(JSON.parse(got.rejects) as unknown, { row: 102, reason: 'row 102: 1 field, the header has 30', input: 'bad' });
  });

  it('reads the header of a file without rows, and of an empty or BOM-only file none', () => {
    for (const [bytes, header] of [[utf8('a,b\r\n'), 'a,b'], [utf8('\ufeffa,"b\nc"'), 'a,"b\nc"'], [Buffer.alloc(0), undefined], [Buffer.from([0xef, 0xbb, 0xbf]), undefined], [utf8('\n1,2\n'), ''], [Buffer.from([0xef, 0xbb, 0x61, 0x0a]), '\ufffda']] as const) {
      const splitter = createRangeSplitter('csv', { rowsPerRange: 10 });
      splitter.push(bytes);
      const ranges = splitter.end();
      const reference = createRecordSplitter('csv');
      reference.push(new TextDecoder().decode(bytes));
      reference.end();
      assert.equal(splitter.header, header, `header of ${JSON.stringify(bytes.toString())}`);
      assert.equal(reference.header, header, `the record splitter agrees on ${JSON.stringify(bytes.toString())}`);
      assert.equal(ranges.reduce((n, r) => n + r.rows, 0), splitter.rows, 'ranges hold the rows counted');
    }
  });
});
