// Batch scoring with the real shipped breast-cancer model: every reject reason, rows in = scored +
// rejected on a generated file with 1% bad rows, every scored row equal (as text) to the online v1
// answer for the same input, identical bytes on a second run, CSV and JSON Lines alike, and the file
// writer over a streamed input.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import { BatchInputError } from '../../../../lambdas/core/batch/batch-format';
import { scoreFile } from '../../../../lambdas/core/batch/score-file';
import { probabilityText } from '../../../../lambdas/core/batch/scored-writer';
import { createBatchScorer, scoreText, type BatchResult } from '../../../../lambdas/core/batch/scorers';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import { ModelApi } from '../../../../lambdas/core/serving/model-api';
import { createRandom } from '../../../../lambdas/core/models/training/random';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const modelDir = join(repoRoot, 'models', 'breast-cancer', '1');
const dataLines = readFileSync(join(repoRoot, 'models', 'breast-cancer', 'data', 'breast_cancer.csv'), 'utf8').trim().split('\n');
/** The 30 features in the model's order, and the real rows' feature fields as text (label column dropped). */
const features = dataLines[0]!.split(',').slice(0, 30);
const realRows = dataLines.slice(1).map((line) => line.split(',').slice(0, 30));

let model: ServedModel;
before(async () => {
  model = await ServedModel.load(modelDir);
  assert.deepEqual(model.card.input.features, features);
});
after(async () => {
  await model.release();
});

const csv = (header: readonly string[], rows: readonly string[]) => `${[header.join(','), ...rows].join('\n')}\n`;
const csvOf = (rows: readonly (readonly string[])[]) => csv(features, rows.map((r) => r.join(',')));
const scoreCsv = (text: string, chunkRows?: number) => scoreText(model, text, { format: 'csv', chunkRows });
const scoreJsonl = (text: string, chunkRows?: number) => scoreText(model, text, { format: 'jsonl', chunkRows });
const rejects = (result: BatchResult) =>
  result.rejects
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { row: number; reason: string; input: string });
const scoredLines = (result: BatchResult) => result.scored.split('\n').slice(1, -1);

/** What the online v1 API answers for these instances, as the batch CSV's label,p_malignant,p_benign text. */
async function onlineAnswers(instances: readonly unknown[]): Promise<string[]> {
  const api = new ModelApi(model, { maxBodyBytes: 6 * 1024 * 1024, maxBatchSize: 1000 });
  const out: string[] = [];
  for (let i = 0; i < instances.length; i += 1000) {
    const { response } = await api.handle({ method: 'POST', path: '/v1/models/breast-cancer:predict', contentType: 'application/json', body: JSON.stringify({ instances: instances.slice(i, i + 1000) }) });
    assert.equal(response.statusCode, 200, response.body);
    const { predictions } = JSON.parse(response.body) as { predictions: { label: string; probabilities: Record<string, number> }[] };
    // The API writes each probability with String(); JSON.parse then String() gives back the same text.
    for (const p of predictions) out.push(`${p.label},${String(p.probabilities.malignant)},${String(p.probabilities.benign)}`);
  }
  return out;
}

describe('batch scoring: CSV input', () => {
  it('scores real rows with the header, the id column and the probabilities of the v1 answer', async () => {
    const result = await scoreCsv(csv(['id', ...features], realRows.slice(0, 3).map((r, i) => [`p-${i}`, ...r].join(','))));
    const lines = result.scored.split('\n');
    assert.equal(lines[0], 'row,id,label,p_malignant,p_benign');
    assert.deepEqual(lines.slice(1, -1).map((l) => l.split(',').slice(0, 2).join(',')), ['1,p-0', '2,p-1', '3,p-2']);
    assert.equal(lines.at(-1), '');
    assert.deepEqual(
      lines.slice(1, -1).map((l) => l.split(',').slice(2).join(',')),
      await onlineAnswers(realRows.slice(0, 3).map((r) => r.map(Number))),
    );
    assert.equal(result.rejects, '');
    assert.deepEqual(result.summary, { rowsIn: 3, rowsScored: 3, rowsRejected: 0 });
  });

  it('takes the header columns in any order', async () => {
    const order = features.map((_, i) => i).reverse();
    const shuffled = await scoreCsv(csv(order.map((i) => features[i]!), realRows.slice(0, 20).map((r) => order.map((i) => r[i]).join(','))));
    assert.equal(shuffled.scored, (await scoreCsv(csvOf(realRows.slice(0, 20)))).scored);
  });

  it('reads quoted fields, CRLF line ends, a byte-order mark, no final line end, and quotes an id that needs it', async () => {
    const row = realRows[0]!;
    const text = `\ufeff"id",${features.map((f) => `"${f}"`).join(',')}\r\n"a,""b""",${row.map((v, i) => (i % 2 === 0 ? `"${v}"` : v)).join(',')}\r\nplain,${row.join(',')}`;
    const result = await scoreCsv(text);
    assert.equal(result.rejects, '');
    const lines = scoredLines(result);
    assert.equal(lines.length, 2);
    assert.ok(lines[0]!.startsWith('1,"a,""b""",malignant,'), lines[0]);
    assert.ok(lines[1]!.startsWith('2,plain,malignant,'), lines[1]);
    assert.equal(lines[0]!.split('",')[1], lines[1]!.split('plain,')[1]);
  });

  it('ignores blank lines at the end, but rejects one between rows as an empty line', async () => {
    const text = `${features.join(',')}\n${realRows[0]!.join(',')}\n\n${realRows[1]!.join(',')}\r\n\r\n\n`;
    const result = await scoreCsv(text);
    assert.deepEqual(result.summary, { rowsIn: 3, rowsScored: 2, rowsRejected: 1 });
    assert.deepEqual(rejects(result), [{ row: 2, reason: 'row 2: empty line', input: '' }]);
    assert.deepEqual(scoredLines(result).map((l) => l.split(',')[0]), ['1', '3']);
  });

  it('rejects each bad row with its number and reason, and scores the others', async () => {
    const good = realRows[0]!.join(',');
    const withField = (i: number, value: string) => realRows[0]!.map((v, j) => (j === i ? value : v)).join(',');
    const rows = [
      good,
      realRows[0]!.slice(0, 29).join(','), // 2: too few fields
      `${good},7`, // 3: too many fields
      withField(0, 'abc'), // 4: not a number
      withField(3, ''), // 5: empty field
      withField(3, '   '), // 6: blank field
      withField(1, '"abc"'), // 7: quoted non-number
      withField(2, '1e39'), // 8: beyond float32
      withField(2, 'Infinity'), // 9: not finite
      withField(2, 'NaN'), // 10
      withField(4, '"1.5"x'), // 11: text after a closing quote
      withField(5, '1.2.3'), // 12
      withField(5, ' 0x10 '), // 13: Number() semantics: 16, accepted
      withField(5, '-'), // 14
      good,
    ];
    const result = await scoreCsv(csv(features, rows));
    assert.deepEqual(
      rejects(result).map((r) => r.reason),
      [
        'row 2: 29 fields, the header has 30',
        'row 3: 31 fields, the header has 30',
        "row 4: column 'mean radius' is 'abc', not a number",
        "row 5: column 'mean area' is empty",
        "row 6: column 'mean area' is empty",
        "row 7: column 'mean texture' is 'abc' (quoted), not a number",
        "row 8: column 'mean perimeter' is '1e39', not a finite number within float32 range",
        "row 9: column 'mean perimeter' is 'Infinity', not a finite number within float32 range",
        "row 10: column 'mean perimeter' is 'NaN', not a number",
        "row 11: column 'mean smoothness' has text after its closing quote",
        "row 12: column 'mean compactness' is '1.2.3', not a number",
        "row 14: column 'mean compactness' is '-', not a number",
      ],
    );
    assert.deepEqual(rejects(result).map((r) => r.input), [rows[1], rows[2], rows[3], rows[4], rows[5], rows[6], rows[7], rows[8], rows[9], rows[10], rows[11], rows[13]]);
    assert.deepEqual(scoredLines(result).map((l) => Number(l.split(',')[0])), [1, 13, 15]);
    assert.deepEqual(result.summary, { rowsIn: 15, rowsScored: 3, rowsRejected: 12 });
  });

  it('reports a quote that is never closed as one reject, and cuts the input in the reject to 1 KB', async () => {
    const result = await scoreCsv(`${features.join(',')}\n${realRows[0]!.join(',')}\n"${'9'.repeat(3000)}`);
    const [reject] = rejects(result);
    assert.equal(reject!.reason, "row 2: column 'mean radius' has a quote that is never closed");
    assert.equal(reject!.input.length, 1024);
    assert.equal(result.summary.rowsScored, 1);
  });

  it('refuses a header that does not name the features: unknown, missing, duplicated, or data', async () => {
    await assert.rejects(scoreCsv(csv([...features, 'diagnosis'], [])), (e: Error) => e instanceof BatchInputError && /unknown column 'diagnosis'/.test(e.message));
    await assert.rejects(scoreCsv(csv(features.slice(1), [])), /the header is missing feature 'mean radius'/);
    await assert.rejects(scoreCsv(csv(features.slice(0, 28), [])), /missing features 'worst symmetry', 'worst fractal dimension'/);
    await assert.rejects(scoreCsv(csv([...features, 'mean radius'], [])), /names column 'mean radius' twice/);
    await assert.rejects(scoreCsv(csvOf([]).split('\n').slice(1).join('\n') + realRows[0]!.join(',')), /unknown columns '17.99', '10.38'/);
    await assert.rejects(scoreCsv(''), /the input is empty/);
    await assert.rejects(scoreCsv(`,${features.join(',')}\n`), /column 1 has no name/);
  });

  it('gives the same bytes whether the input comes whole or in pieces of any size, and whatever the chunk size', async () => {
    const rows = realRows.slice(0, 50).map((r) => r.join(','));
    rows[7] = `"${rows[7]!.replace(/,/g, '","')}"`;
    rows[20] = 'x';
    const text = csv(features, rows).replace(/\n/g, '\r\n');
    const whole = await scoreCsv(text);
    assert.equal(whole.summary.rowsRejected, 1);
    for (const piece of [1, 2, 7, 333]) {
      const scorer = createBatchScorer(model, { format: 'csv', chunkRows: 4 });
      let scored = '';
      let rejected = '';
      for (let i = 0; i < text.length; i += piece) {
        const part = await scorer.push(text.slice(i, i + piece));
        scored += part.scored;
        rejected += part.rejects;
      }
      const last = await scorer.end();
      assert.equal(scored + last.scored, whole.scored, `pieces of ${piece}`);
      assert.equal(rejected + last.rejects, whole.rejects, `pieces of ${piece}`);
    }
  });

  it('checks its options', () => {
    assert.throws(() => createBatchScorer(model, { format: 'csv', chunkRows: 0 }), /chunkRows must be an integer between 1 and 1000000, received 0/);
    assert.throws(() => createBatchScorer(model, { format: 'xml' as 'csv' }), /format must be 'csv' or 'jsonl', received xml/);
  });
});

describe('batch scoring: probabilities as text', () => {
  it('writes every rounded probability exactly as the v1 answer does (String of the rounded double)', () => {
    let checked = 0;
    for (let k = 0; k <= 10_000_100; k += k < 200_000 || k > 9_800_000 ? 1 : 7) {
      const p = k / 1e7;
      if (probabilityText(p) !== String(Math.round(p * 1e7) / 1e7)) assert.fail(`k = ${k}: ${probabilityText(p)} vs ${String(Math.round(p * 1e7) / 1e7)}`);
      checked++;
    }
    for (const p of [0, 4e-8, 5e-8, 1e-7, 9.4e-7, 0.5, 0.99999995, 1, 1.0000001, -0.25, Math.fround(0.1234567)]) assert.equal(probabilityText(p), String(Math.round(p * 1e7) / 1e7), String(p));
    assert.ok(checked > 1_500_000);
  });
});

describe('batch scoring: JSON Lines input', () => {
  it('scores arrays and objects (with an id), and rejects each bad line with its line number', async () => {
    const row = realRows[0]!.map(Number);
    const object = Object.fromEntries(features.map((f, i) => [f, row[i]]));
    const lines = [
      JSON.stringify(row),
      JSON.stringify({ id: 'a-1', ...object }),
      '{"mean radius": 1,', // 3: bad JSON
      JSON.stringify(row.slice(1)), // 4: 29 values
      JSON.stringify({ ...object, colour: 1 }), // 5: unknown feature
      JSON.stringify({ ...object, 'mean area': undefined }), // 6: missing feature
      JSON.stringify(row.map((v, i) => (i === 2 ? String(v) : v))), // 7: a string
      JSON.stringify({ ...object, 'mean area': 'abc' }), // 8
      JSON.stringify(row.map((v, i) => (i === 2 ? 1e39 : v))), // 9: beyond float32
      '', // 10: empty line between rows
      '42', // 11
      JSON.stringify({ ...object, id: [1] }), // 12
      JSON.stringify({ id: 7, ...object }),
      '',
    ];
    const result = await scoreJsonl(lines.join('\n'));
    const reasons = rejects(result).map((r) => r.reason);
    assert.match(reasons[0]!, /^line 3: not valid JSON: /);
    assert.deepEqual(reasons.slice(1), [
      'line 4: 29 values, the model has 30 features',
      "line 5: unknown feature 'colour'; expected features: mean radius, mean texture, mean perimeter, mean area, mean smoothness, ...",
      "line 6: missing feature 'mean area'",
      "line 7: value 3 ('mean perimeter') must be a number, received the string '122.8'",
      "line 8: 'mean area' must be a number, received the string 'abc'",
      "line 9: value 3 ('mean perimeter') is 1e+39, not a finite number within float32 range",
      'line 10: empty line',
      'line 11: expected an array of 30 feature values or an object keyed by feature name, received a number',
      "line 12: 'id' must be a string or a number, received an array of 1",
    ]);
    assert.equal(rejects(result)[0]!.input, lines[2]);
    const scored = scoredLines(result);
    assert.deepEqual(scored.map((l) => l.split(',').slice(0, 2).join(',')), ['1,', '2,a-1', '13,7']);
    assert.equal(new Set(scored.map((l) => l.split(',').slice(2).join(','))).size, 1);
    assert.deepEqual(result.summary, { rowsIn: 13, rowsScored: 3, rowsRejected: 10 });
  });

  it('gives the same scores as CSV for the same rows', async () => {
    const rows = realRows.slice(0, 100);
    const fromCsv = await scoreCsv(csvOf(rows), 16);
    const asArrays = await scoreJsonl(rows.map((r) => JSON.stringify(r.map(Number))).join('\r\n'), 16);
    const asObjects = await scoreJsonl(rows.map((r) => JSON.stringify(Object.fromEntries(features.map((f, i) => [f, Number(r[i])])))).join('\n'));
    assert.equal(asArrays.scored, fromCsv.scored);
    assert.equal(asObjects.scored, fromCsv.scored);
  });
});

describe('batch scoring: a generated file with 1% bad rows', () => {
  const total = 5000;
  const { next } = createRandom(42); // the trainers' seeded generator: the same file every run
  const fields: string[][] = [];
  const bad = new Map<number, RegExp>();
  for (let i = 0; i < total; i++) {
    // Real rows resampled with small seeded noise, written with 6 significant digits.
    const row = realRows[Math.floor(next() * realRows.length)]!.map((v) => String(Number((Number(v) * (1 + (next() - 0.5) * 0.04)).toPrecision(6))));
    if (next() < 0.01) {
      const kind = bad.size % 4;
      if (kind === 0) row[Math.floor(next() * 30)] = 'n/a';
      else if (kind === 1) row[Math.floor(next() * 30)] = '';
      else if (kind === 2) row.pop();
      else row[Math.floor(next() * 30)] = '"x"';
      bad.set(i + 1, [/not a number/, /is empty/, /30 fields, the header has 31/, /\(quoted\), not a number/][kind]!);
    }
    fields.push(row);
  }
  const text = csv(['id', ...features], fields.map((r, i) => [`r${i + 1}`, ...r].join(',')));
  let result: BatchResult;
  before(async () => {
    result = await scoreCsv(text);
  });

  it('accounts for every row: rows in = scored + rejected, each reject named with its row and reason', () => {
    assert.ok(bad.size >= 30 && bad.size <= 80, `${bad.size} bad rows`);
    assert.deepEqual(result.summary, { rowsIn: total, rowsScored: total - bad.size, rowsRejected: bad.size });
    const found = rejects(result);
    assert.deepEqual(found.map((r) => r.row), [...bad.keys()]);
    for (const r of found) {
      assert.match(r.reason, new RegExp(`^row ${r.row}: `));
      assert.match(r.reason, bad.get(r.row)!);
      assert.equal(r.input, `r${r.row},${fields[r.row - 1]!.join(',')}`);
    }
    const scoredRows = scoredLines(result).map((l) => Number(l.split(',')[0]));
    assert.equal(scoredRows.length, total - bad.size);
    assert.ok(scoredRows.every((row, i) => !bad.has(row) && (i === 0 || row > scoredRows[i - 1]!)));
  });

  it('scores every row exactly as the online v1 API answers the same input', async () => {
    const lines = scoredLines(result);
    const expected = await onlineAnswers(lines.map((l) => fields[Number(l.split(',')[0]) - 1]!.map(Number)));
    lines.forEach((line, i) => {
      const [row, id, ...answer] = line.split(',');
      assert.equal(id, `r${row}`);
      assert.equal(answer.join(','), expected[i], `row ${row}`);
    });
  });

  it('gives identical bytes when run again, and the same through the file writer fed in small reads', async () => {
    const again = await scoreCsv(text, 1000);
    assert.equal(again.scored, result.scored);
    assert.equal(again.rejects, result.rejects);
    const dir = mkdtempSync(join(tmpdir(), 'mlship-batch-'));
    try {
      writeFileSync(join(dir, 'in.csv'), text);
      const summary = await scoreFile(model, join(dir, 'in.csv'), { format: 'csv', scoredPath: join(dir, 'scored.csv'), rejectsPath: join(dir, 'rejects.jsonl'), readBytes: 4093 });
      assert.deepEqual(summary, result.summary);
      assert.equal(readFileSync(join(dir, 'scored.csv'), 'utf8'), result.scored);
      assert.equal(readFileSync(join(dir, 'rejects.jsonl'), 'utf8'), result.rejects);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
