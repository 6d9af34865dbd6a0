// Record mode of the batch core (what each Distributed Map batch runs): an input split into records by
// createRecordSplitter and scored record by record with createRecordScorer, in batches and with the rows'
// own numbers, gives byte for byte what scoreText gives for the whole input: tricky quoting, line ends,
// blank lines, a BOM, unclosed quotes and bad JSON alike, with the real breast-cancer model.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BatchInputError, scoredHeader, type BatchFormat } from '../../../../lambdas/core/batch/batch-format';
import { createRecordSplitter } from '../../../../lambdas/core/batch/record-splitter';
import { createRecordScorer, scoreText } from '../../../../lambdas/core/batch/scorers';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import { createRandom } from '../../../../lambdas/core/models/training/random';

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

/** Splits `text` in pieces of `piece` characters, scores the records in batches of `batch` rows. */
async function byRecords(text: string, format: BatchFormat, piece: number, batch: number, firstRow = 1) {
  const splitter = createRecordSplitter(format);
  const records: string[] = [];
  for (let i = 0; i < text.length; i += piece) records.push(...splitter.push(text.slice(i, i + piece)));
  records.push(...splitter.end());
  let scored = '';
  let rejects = '';
  let scoredCount = 0;
  let rejectedCount = 0;
  for (let start = 0; start < records.length; start += batch) {
    const scorer = createRecordScorer(model, { format, chunkRows: 7 });
    if (format === 'csv') scorer.header(splitter.header!);
    for (let i = start; i < Math.min(start + batch, records.length); i++) {
      const part = await scorer.record(firstRow + i, records[i]!);
      scored += part.scored;
      rejects += part.rejects;
    }
    const last = await scorer.end();
    scored += last.scored;
    rejects += last.rejects;
    scoredCount += scorer.summary().rowsScored;
    rejectedCount += scorer.summary().rowsRejected;
  }
  return { records, scored, rejects, scoredCount, rejectedCount, header: splitter.header };
}

function generated(seed: number, format: BatchFormat): string {
  const { next } = createRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const eol = () => pick(['\n', '\r\n', '\r']);
  const lines: string[] = [];
  const count = 5 + Math.floor(next() * 40);
  for (let i = 0; i < count; i++) {
    const row = [...pick(realRows)];
    const kind = next();
    if (format === 'csv') {
      const cells = [`id-${i}`, ...row];
      if (kind < 0.08) cells[3] = 'abc';
      else if (kind < 0.14) cells.pop();
      else if (kind < 0.2) cells[5] = '';
      else if (kind < 0.26) cells[0] = `"quoted, ""id""\n${i}"`;
      else if (kind < 0.3) cells[7] = `"${cells[7]}"`;
      else if (kind < 0.33) cells[2] = `"1.5"x`;
      else if (kind < 0.36) cells.push('extra');
      else if (kind < 0.4) {
        lines.push('');
        lines.push(' ');
      } else if (kind < 0.42) cells[9] = '1e40';
      lines.push(cells.join(','));
    } else {
      const object = Object.fromEntries(features.map((f, j) => [f, Number(row[j])]));
      if (kind < 0.1) lines.push('{"broken": ');
      else if (kind < 0.2) lines.push('   ');
      else if (kind < 0.3) lines.push(JSON.stringify(row.map(Number).slice(1)));
      else if (kind < 0.4) lines.push(JSON.stringify({ ...object, id: `x${i}` }));
      else if (kind < 0.45) lines.push(JSON.stringify({ ...object, [features[0]!]: 'a' }));
      else lines.push(JSON.stringify(object));
    }
  }
  const header = format === 'csv' ? ['id', ...features].join(',') : undefined;
  let body = '';
  for (const line of lines) body += line + (format === 'csv' ? eol() : pick(['\n', '\r\n']));
  if (next() < 0.3) body += format === 'csv' ? '\n\r\n' : '\n \n';
  if (next() < 0.3) body = body.replace(/(\r\n|\r|\n)$/, '');
  if (format === 'csv' && next() < 0.2) body += `"never closed,${realRows[0]!.join(',')}\n1,2,3\n`;
  return `${next() < 0.2 ? '\ufeff' : ''}${header === undefined ? '' : header + eol()}${body}`;
}

describe('batch core record mode', () => {
  for (const format of ['csv', 'jsonl'] as const) {
    it(`${format}: split records scored in batches give exactly scoreText's output (60 generated inputs)`, async () => {
      for (let seed = 1; seed <= 60; seed++) {
        const text = generated(seed * 7 + (format === 'csv' ? 0 : 1), format);
        const whole = await scoreText(model, text, { format });
        for (const [piece, batch] of [[text.length + 1, 1000], [3, 4], [17, 1]] as const) {
          const records = await byRecords(text, format, piece, batch);
          const header = scoredHeader(model.card);
          assert.equal(header + records.scored, whole.scored, `seed ${seed}, pieces of ${piece}, batches of ${batch}: scored rows differ`);
          assert.equal(records.rejects, whole.rejects, `seed ${seed}, pieces of ${piece}: rejects differ`);
          assert.equal(records.records.length, whole.summary.rowsIn, `seed ${seed}: one record per row`);
          assert.equal(records.scoredCount + records.rejectedCount, whole.summary.rowsIn, `seed ${seed}: counts add up`);
        }
      }
    });
  }

  it('numbers rows from the given first row, so a second file continues the count', async () => {
    const text = `${features.join(',')}\n${realRows[0]!.join(',')}\nbad\n`;
    const result = await byRecords(text, 'csv', 1000, 10, 101);
    assert.match(result.scored, /^101,,/, 'the scored row carries its global number');
    assert.deepEqual(JSON.parse(result.rejects) as unknown, { row: 102, reason: 'row 102: 1 field, the header has 30', input: 'bad' });
  });

  it('keeps the header apart and refuses a header without the features, as the file scorer does', async () => {
    const splitter = createRecordSplitter('csv');
    assert.deepEqual(splitter.push('\ufeffa,b\r\n1,2'), []);
    assert.equal(splitter.header, 'a,b');
    assert.deepEqual(splitter.end(), ['1,2']);
    const scorer = createRecordScorer(model, { format: 'csv' });
    assert.throws(() => scorer.header('a,b'), (error: unknown) => error instanceof BatchInputError && /unknown columns 'a', 'b'/.test(error.message));
    assert.equal(createRecordSplitter('csv').header, undefined, 'no header before any text');
  });
});
