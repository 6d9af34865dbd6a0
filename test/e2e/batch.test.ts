// Batch scoring end to end on one machine: `mlship batch`'s runner takes the batch state machine from the
// synthesized stack and runs it locally (Plan, the Distributed Map over ranges of rows with the real scorer
// in this thread and worker threads, Summarise), over 100,000 rows resampled from the breast-cancer data with 1% bad rows.
// Every scored row is checked against the online API's answer for the same input.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import { ModelApi } from '../../lambdas/core/serving/model-api';
import { createRandom } from '../../lambdas/core/models/training/random';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { runLocalBatch, type LocalBatchResult } from '../../local/batch/run-batch';
import { synthesizeStackTemplate, type StackTemplate } from '../../local/pipelines/stack-template';
import { tempDirMaker } from '../fixtures/temp-dirs';

const ROWS = 100_000;
const loaded = loadManifest(resolveManifestPath(undefined));
const model = loaded.models.find((m) => m.entry.name === 'breast-cancer')!;
const features = model.card!.input.features;
const labels = model.card!.labels;
const tempDir = tempDirMaker('mlship-batch-e2e-');

interface Reject {
  readonly row: number;
  readonly reason: string;
  readonly input: string;
}

/** 100,000 real rows resampled with small seeded noise; 1% made bad in four ways, each with the reason expected. */
function generate(): { text: string; lines: string[]; bad: Map<number, RegExp> } {
  const raw = readFileSync(join(model.dir, '..', 'data', 'breast_cancer.csv'), 'utf8').trim().split('\n');
  const header = raw[0]!.split(',');
  const columns = features.map((f) => header.indexOf(f));
  const real = raw.slice(1).map((line) => {
    const cells = line.split(',');
    return columns.map((c) => Number(cells[c]));
  });
  const { next } = createRandom(2026);
  const bad = new Map<number, RegExp>();
  const lines: string[] = [];
  for (let i = 1; i <= ROWS; i++) {
    const row = real[Math.floor(next() * real.length)]!.map((v) => String(Number((v * (1 + (next() - 0.5) * 0.04)).toPrecision(6))));
    if (next() < 0.01) {
      const kind = bad.size % 4;
      if (kind === 0) row[Math.floor(next() * row.length)] = 'n/a';
      else if (kind === 1) row[Math.floor(next() * row.length)] = '';
      else if (kind === 2) row.pop();
      else row.push('7');
      bad.set(i, [/'n\/a', not a number/, /is empty/, /29 fields, the header has 30/, /31 fields, the header has 30/][kind]!);
    }
    lines.push(row.join(','));
  }
  return { text: `${features.join(',')}\n${lines.join('\n')}\n`, lines, bad };
}

describe('mlship batch, locally, from the synthesized state machine: 100,000 rows with 1% bad', () => {
  const data = generate();
  const dir = tempDir();
  const input = join(dir, 'rows.csv');
  writeFileSync(input, data.text);
  let template: StackTemplate;
  let first: LocalBatchResult;
  let outputs: { scored: string; rejects: string; summary: string };

  const read = (out: string) => ({
    scored: readFileSync(join(out, 'scored.csv'), 'utf8'),
    rejects: readFileSync(join(out, 'rejects.jsonl'), 'utf8'),
    summary: readFileSync(join(out, 'summary.json'), 'utf8'),
  });

  before(async () => {
    template = synthesizeStackTemplate(loaded);
    // A worker as well as this thread, whatever the input's size: the worker's bundle scores too.
    first = await runLocalBatch({ loaded, template, model: 'breast-cancer', input, output: join(dir, 'out1'), workerThreads: 1 });
    outputs = read(join(dir, 'out1'));
  });

  it('accounts for every row: rows in = scored + rejected', () => {
    assert.equal(first.status, 'SUCCEEDED', `${first.error}: ${first.cause}`);
    const summary = first.summary!;
    assert.ok(data.bad.size > 800 && data.bad.size < 1200, `about 1% bad rows: ${data.bad.size}`);
    assert.deepEqual([summary.rowsIn, summary.rowsScored, summary.rowsRejected], [ROWS, ROWS - data.bad.size, data.bad.size]);
    assert.ok(summary.batches >= ROWS / model.entry.batch.rowsPerBatch, `batches of at most rowsPerBatch rows: ${summary.batches}`);
    assert.equal(summary.batchesFailed, 0);
    assert.deepEqual(JSON.parse(outputs.summary), summary, 'summary.json is the summary the run returns');
    assert.equal(outputs.scored.trimEnd().split('\n').length - 1, summary.rowsScored);
    assert.equal(outputs.rejects.trimEnd().split('\n').length, summary.rowsRejected);
  });

  it('names the row and the reason of every reject, with its input', () => {
    const rejects = outputs.rejects.trimEnd().split('\n').map((line) => JSON.parse(line) as Reject);
    assert.deepEqual(rejects.map((r) => r.row), [...data.bad.keys()], 'exactly the bad rows, in row order');
    for (const reject of rejects) {
      assert.match(reject.reason, new RegExp(`^row ${reject.row}: `));
      assert.match(reject.reason, data.bad.get(reject.row)!);
      assert.equal(reject.input, data.lines[reject.row - 1]);
    }
  });

  it('scores every other row exactly as the online API answers the same input', async () => {
    const served = await ServedModel.load(model.dir);
    try {
      const api = new ModelApi(served, { maxBodyBytes: 64 * 1024 * 1024, maxBatchSize: ROWS });
      const scored = outputs.scored.trimEnd().split('\n');
      assert.equal(scored[0], `row,id,label,${labels.map((l) => `p_${l}`).join(',')}`);
      const rows = scored.slice(1).map((line) => line.split(','));
      assert.deepEqual(
        rows.map((r) => Number(r[0])),
        data.lines.map((_, i) => i + 1).filter((row) => !data.bad.has(row)),
        'scored rows in input order',
      );
      // All of them, 2,000 instances per request: the API's own decoding and rounding, not the batch code's.
      for (let start = 0; start < rows.length; start += 2000) {
        const chunk = rows.slice(start, start + 2000);
        const body = JSON.stringify({ instances: chunk.map((r) => data.lines[Number(r[0]) - 1]!.split(',').map(Number)) });
        const { response } = await api.handle({ method: 'POST', path: '/v1/models/breast-cancer:predict', contentType: 'application/json', body });
        assert.equal(response.statusCode, 200, response.body);
        const { predictions } = JSON.parse(response.body) as { predictions: { label: string; probabilities: Record<string, number> }[] };
        chunk.forEach((r, k) => {
          const online = predictions[k]!;
          const batch = { label: r[2], probabilities: Object.fromEntries(labels.map((l, c) => [l, Number(r[3 + c])])) };
          if (batch.label !== online.label || labels.some((l) => batch.probabilities[l] !== online.probabilities[l])) {
            assert.fail(`row ${r[0]}: batch ${JSON.stringify(batch)}, online ${JSON.stringify(online)}`);
          }
        });
      }
    } finally {
      await served.release();
    }
  });

  it('gives byte-identical outputs when run again', async () => {
    const second = await runLocalBatch({ loaded, template, model: 'breast-cancer', input, output: join(dir, 'out2'), concurrency: 1 });
    assert.equal(second.status, 'SUCCEEDED');
    assert.ok(first.scoredBy.workers > 0 && first.scoredBy.callingThread > 0, `the first run scored in both kinds of thread: ${JSON.stringify(first.scoredBy)}`);
    assert.deepEqual(second.scoredBy, { callingThread: first.summary!.batches, workers: 0 }, 'the second in this thread alone');
    const again = read(join(dir, 'out2'));
    assert.ok(again.scored === outputs.scored, 'scored.csv is the same, byte for byte (scored by this thread alone instead of it and a worker)');
    assert.ok(again.rejects === outputs.rejects, 'rejects.jsonl is the same');
    // summary.json names its output folder; everything else is equal.
    assert.equal(again.summary.replaceAll(join(dir, 'out2'), join(dir, 'out1')), outputs.summary);
  });

  it('reads a gzipped file; the rows of a batch that fails for good become rejects naming the error, within the tolerance', async () => {
    const gz = join(dir, 'gz');
    mkdirSync(gz);
    writeFileSync(join(gz, 'rows.csv.gz'), gzipSync(data.text));
    let failedFrom = 0;
    const result = await runLocalBatch({
      loaded,
      template,
      model: 'breast-cancer',
      input: join(gz, 'rows.csv.gz'),
      output: join(dir, 'out-gz'),
      // The scorer of the second batch crashes every time.
      wrapTask: (name, handler) => async (input, context) => {
        const items = (input as { Items?: { firstRow: number }[] }).Items;
        if (name === 'Score batch breast-cancer' && items?.some((item) => item.firstRow > 1 && item.firstRow <= model.entry.batch.rowsPerBatch + 1)) {
          failedFrom = items[0]!.firstRow;
          throw Object.assign(new Error('the disk is on fire'), { name: 'ScorerCrashed' });
        }
        return handler(input, context);
      },
    });
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const summary = result.summary!;
    assert.equal(summary.batchesFailed, 1, 'one batch failed, within the tolerated failure percentage');
    assert.equal(summary.rowsScored + summary.rowsRejected, ROWS, 'rows in = scored + rejected');
    const rejects = readFileSync(join(dir, 'out-gz', 'rejects.jsonl'), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Reject);
    const lost = rejects.filter((r) => /batch failed after retries: ScorerCrashed: the disk is on fire/.test(r.reason));
    assert.ok(lost.length >= model.entry.batch.rowsPerBatch, `every row of the failed batch is a reject: ${lost.length}`);
    lost.forEach((r, i) => {
      assert.equal(r.row, failedFrom + i, 'the failed batch\'s rows, in order');
      assert.equal(r.input, data.lines[r.row - 1], `row ${r.row}'s reject carries its input`);
    });
    // Everything else is what the plain file gave.
    const lostRows = new Set(lost.map((r) => r.row));
    const expected = outputs.scored.split('\n').filter((line) => !lostRows.has(Number(line.split(',')[0])));
    assert.ok(readFileSync(join(dir, 'out-gz', 'scored.csv'), 'utf8') === expected.join('\n'), 'the other rows are scored as from the plain file');
    assert.deepEqual(rejects.filter((r) => !lostRows.has(r.row)), outputs.rejects.trimEnd().split('\n').map((line) => JSON.parse(line) as Reject).filter((r) => !lostRows.has(r.row)));
  });

  it('reads a folder of JSON Lines files as one input, rows numbered across files in name order', async () => {
    const folder = join(dir, 'jsonl');
    mkdirSync(folder);
    const objects = data.lines.slice(0, 300).map((line) => JSON.stringify(Object.fromEntries(line.split(',').map((v, i) => [features[i], v === '' ? null : Number.isNaN(Number(v)) ? v : Number(v)]))));
    writeFileSync(join(folder, 'a.jsonl'), `${objects.slice(0, 100).join('\n')}\n`);
    writeFileSync(join(folder, 'b.jsonl'), `${objects.slice(100).join('\n')}\n{not json\n`);
    const result = await runLocalBatch({ loaded, template, model: 'breast-cancer', input: folder, output: join(dir, 'out-jsonl') });
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const summary = result.summary!;
    assert.equal(summary.rowsIn, 301);
    assert.equal(summary.rowsScored + summary.rowsRejected, 301);
    assert.deepEqual(summary.files.map((f) => [f.firstRow, f.rows]), [[1, 100], [101, 201]]);
    const rejects = readFileSync(join(dir, 'out-jsonl', 'rejects.jsonl'), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Reject);
    assert.equal(rejects.at(-1)!.row, 301);
    assert.match(rejects.at(-1)!.reason, /^line 301: .*JSON/i);
  });
});

describe('mlship batch on input it cannot use', () => {
  it('fails at Plan with a notification naming the file and the column, without a stack trace, and writes no outputs', async () => {
    const dir = tempDir();
    const input = join(dir, 'labelled.csv');
    writeFileSync(input, `${features.join(',')},diagnosis\n${features.map(() => '1').join(',')},0\n`);
    const result = await runLocalBatch({ loaded, model: 'breast-cancer', input, output: join(dir, 'out') });
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'BatchRequestError');
    const [notification] = result.notifications;
    assert.match(notification!.subject, /failed at Plan/);
    assert.match(notification!.message, /labelled\.csv: the header has unknown column 'diagnosis'/);
    assert.doesNotMatch(notification!.message, /\bat .*\.(ts|js|mjs):\d+/, 'no stack trace in what on-call reads');
    assert.throws(() => readFileSync(join(dir, 'out', 'scored.csv')), /ENOENT/);
  });

  it('fails at Plan on a gzipped file with a bad header or that is not gzip, naming the file, and keeps no unzipped copy', async () => {
    const dir = tempDir();
    const cases = [
      ['labelled.csv.gz', gzipSync(`${features.join(',')},diagnosis\n${features.map(() => '1').join(',')},0\n`), /labelled\.csv\.gz: the header has unknown column 'diagnosis'/],
      ['broken.csv.gz', Buffer.concat([gzipSync(`${features.join(',')}\n`).subarray(0, 12), Buffer.from('not gzip at all')]), /broken\.csv\.gz is not valid gzip/],
    ] as const;
    for (const [name, bytes, message] of cases) {
      const input = join(dir, name);
      writeFileSync(input, bytes);
      const result = await runLocalBatch({ loaded, model: 'breast-cancer', input, output: join(dir, `out-${name}`) });
      assert.equal(result.status, 'FAILED', name);
      assert.equal(result.error, 'BatchRequestError', name);
      assert.match(result.notifications[0]!.message, message);
      const inputs = join(result.workDir, readdirSync(result.workDir)[0]!, 'inputs');
      assert.deepEqual(existsSync(inputs) ? readdirSync(inputs) : [], [], `${name}: no unzipped copy, whole or partial, is left in the work files`);
    }
  });
});

describe('mlship batch for a SageMaker model: the Batch Transform branch of the same state machine', () => {
  it('scores through the transform job (locally, the endpoint code) and accounts for every row', async () => {
    const digits = loaded.models.find((m) => m.entry.name === 'digits')!;
    const pixels = digits.card!.input.features;
    const [, ...lines] = gunzipSync(readFileSync(join(digits.dir, '..', 'data', 'digits.csv.gz'))).toString('utf8').trim().split('\n');
    const rows = lines.slice(0, 200).map((line) => line.split(',').slice(0, pixels.length).join(','));
    rows[10] = rows[10]!.replace(/^[^,]*/, 'x');
    const dir = tempDir();
    const input = join(dir, 'digits.csv.gz');
    writeFileSync(input, gzipSync(`${pixels.join(',')}\n${rows.join('\n')}\n`));
    const result = await runLocalBatch({ loaded, model: 'digits', input, output: join(dir, 'out') });
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    assert.deepEqual([result.summary!.rowsIn, result.summary!.rowsScored, result.summary!.rowsRejected], [200, 199, 1]);
    const rejects = readFileSync(join(dir, 'out', 'rejects.jsonl'), 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Reject);
    assert.deepEqual(rejects.map((r) => r.row), [11]);
    assert.match(rejects[0]!.reason, /^row 11: .*'x', not a number/);
    const served = await ServedModel.load(digits.dir);
    try {
      const api = new ModelApi(served, { maxBodyBytes: 16 * 1024 * 1024, maxBatchSize: 1000 });
      const scored = readFileSync(join(dir, 'out', 'scored.csv'), 'utf8').trimEnd().split('\n').slice(1).map((line) => line.split(','));
      const body = JSON.stringify({ instances: scored.map((r) => rows[Number(r[0]) - 1]!.split(',').map(Number)) });
      const { response } = await api.handle({ method: 'POST', path: '/v1/models/digits:predict', contentType: 'application/json', body });
      const { predictions } = JSON.parse(response.body) as { predictions: { label: string }[] };
      assert.deepEqual(scored.map((r) => r[2]), predictions.map((p) => p.label), 'the transform path labels every row as the online API does');
    } finally {
      await served.release();
    }
  });
});
