// Labelled production rows (issue 17.4): hand-made captures and labels in a folder store, joined by
// writeLabelledTrainingRows into one CSV per window, which the retrain gather step then reads back.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { readModelCardFile } from '../../../../../lambdas/core/models/model-card-file';
import { captureLines } from '../../../../../lambdas/core/monitoring/capture/capture-record';
import { sageMakerCaptureLine } from '../../../../../lambdas/core/monitoring/capture/capture-parse';
import { float32Text, writeLabelledTrainingRows, type TrainingRowsRequest } from '../../../../../lambdas/core/quality/training-rows/training-rows';
import { parse as parseCsvRecords } from 'csv-parse/sync';
import { gatherTrainingData } from '../../../../../lambdas/core/retrain/gather';
import { newestProductionRowsKey, productionRowsKey, productionWindowOfKey, trainingRowsWindow } from '../../../../../lambdas/core/retrain/production-rows';
import type { RetrainSettings } from '../../../../../lambdas/core/retrain/contract';
import { FolderObjectStore } from '../../../../../local/storage/folder-object-store';
import { tempDirMaker } from '../../../../fixtures/temp-dirs';

const ROOT = join(import.meta.dirname, '..', '..', '..', '..', '..');
const card = readModelCardFile(join(ROOT, 'models', 'breast-cancer', '1', 'model.json'), 'breast-cancer');
const tempDir = tempDirMaker('mlship-training-rows-');

/** Rows of the shipped data set: features as numbers, the class name (0 malignant, 1 benign). */
const DATA = (() => {
  const [, ...lines] = readFileSync(join(ROOT, 'models', 'breast-cancer', 'data', 'breast_cancer.csv'), 'utf8').trim().split('\n');
  const rows = lines.map((line) => {
    const cells = line.split(',').map(Number);
    return { x: cells.slice(0, 30), label: card.labels[cells[30]!]! };
  });
  // both classes, alternating: malignant, benign, malignant, ...
  const [m, b] = card.labels.map((l) => rows.filter((r) => r.label === l));
  return Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? m! : b!)[Math.floor(i / 2)]!);
})();

const WINDOW = { from: new Date('2026-12-07T00:00:00Z'), to: new Date('2026-12-07T02:00:00Z') };

function setup(): { capture: string; data: string; store: FolderObjectStore; put(key: string, text: string): void; request(extra?: Partial<TrainingRowsRequest>): TrainingRowsRequest } {
  const dir = tempDir();
  const capture = join(dir, 'capture');
  const data = join(dir, 'retrain-data');
  mkdirSync(capture, { recursive: true });
  const store = new FolderObjectStore({ capture, data });
  return {
    capture,
    data,
    store,
    put(key, text) {
      mkdirSync(dirname(join(capture, key)), { recursive: true });
      writeFileSync(join(capture, key), text);
    },
    request: (extra = {}) => ({ store, captureBucket: 'capture', dataBucket: 'data', card, window: WINDOW, labelsUntil: new Date('2026-12-07T05:00:00Z'), ...extra }),
  };
}

/** A capture line as the inference function writes its fields, the instances as readable `inputs`. */
function captureLine(version: string, hour: string, rows: readonly number[], named?: { id: string; first?: number }): string {
  return JSON.stringify({
    mlshipCapture: 1,
    model: 'breast-cancer',
    version,
    time: `2026-12-07T${hour}:10:00.000Z`,
    ...(named ? { id: named.id, ...(named.first === undefined ? {} : { first: named.first }) } : {}),
    capturePercent: 10,
    inputs: rows.map((r) => DATA[r]!.x),
    labels: rows.map(() => 'benign'),
  });
}

const label = (id: string, index: number, l: string) => JSON.stringify({ id, index, label: l, time: '2026-12-07T03:00:00.000Z' });

/** The written CSV as rows of cells. */
function csvRows(file: string): string[][] {
  return parseCsvRecords(readFileSync(file, 'utf8')) as string[][];
}

/** The row a data set row becomes: its features as float32 (what the model saw), its class name. */
const expectedRow = (r: number) => [...DATA[r]!.x.map((v) => float32Text(Math.fround(v))), DATA[r]!.label];

/** The hand-made production traffic of the join test. */
function handMade(put: (key: string, text: string) => void): void {
  put(
    'lambda/model=breast-cancer/version=1/2026/12/07/00/part-1.jsonl',
    [
      captureLine('1', '00', [0, 1], { id: 'req-a', first: 0 }),
      // one request over two lines (a capture line holds at most 200 KB)
      captureLine('1', '00', [2, 3], { id: 'req-b', first: 0 }),
      captureLine('1', '00', [4], { id: 'req-b', first: 2 }),
      'not json',
      '',
    ].join('\n'),
  );
  put(
    'lambda/model=breast-cancer/version=2/2026/12/07/01/part-1.jsonl',
    [
      captureLine('2', '01', [5], { id: 'req-c' }),
      captureLine('2', '01', [6]), // written before captures named their request: cannot be joined
      captureLine('2', '01', [5], { id: 'req-c' }), // delivered twice
      '',
    ].join('\n'),
  );
  // labelled, but predicted after the window
  put('lambda/model=breast-cancer/version=1/2026/12/07/03/part-1.jsonl', `${captureLine('1', '03', [7], { id: 'req-late' })}\n`);
  put(
    'ground-truth/breast-cancer/2026/12/07/00/feedback-1.jsonl',
    [label('req-a', 0, DATA[0]!.label), label('req-a', 1, DATA[1]!.label), label('req-b', 0, DATA[2]!.label), label('req-b', 2, DATA[4]!.label), label('req-c', 0, DATA[5]!.label), ''].join('\n'),
  );
  put(
    'ground-truth/breast-cancer/2026/12/07/03/feedback-2.jsonl',
    [label('req-c', 0, DATA[5]!.label === 'benign' ? 'malignant' : 'benign'), label('req-zzz', 0, 'benign'), label('req-late', 0, 'benign'), label('req-d', 0, 'benin'), ''].join('\n'),
  );
  // a file from another system: CSV, a quoted id holding a comma, no newline at its end
  put('ground-truth/breast-cancer/2026/12/07/04/bulk.csv', 'id,index,label\n"req,x",0,benign');
}

describe('writeLabelledTrainingRows', () => {
  it('joins exactly: every labelled captured instance once, over split lines and two versions, the first label winning', async () => {
    const { put, request, data } = setup();
    handMade(put);
    const result = await writeLabelledTrainingRows(request());

    assert.equal(result.key, 'training-data/breast-cancer/production-20261207T00Z-20261207T02Z-labelled.csv');
    assert.equal(result.written, true);
    const rows = csvRows(join(data, result.key));
    assert.deepEqual(rows[0], [...card.input.features, 'diagnosis'], 'the card features in order, then its label column');
    assert.deepEqual(rows.slice(1), [expectedRow(0), expectedRow(1), expectedRow(2), expectedRow(4), expectedRow(5)], 'req-a 0 and 1, req-b 0 and 2 (1 has no label), req-c 0 with its first label');
    assert.equal(result.rowsWritten, 5);
    assert.deepEqual(result.labels, { files: 3, lines: 10, kept: 8, duplicates: 1, rejected: 1, withoutCapturedRow: 3 });
    assert.deepEqual(result.captures, { sources: ['1', '2'], files: 2, lines: 7, rows: 8, rowsWithoutId: 1, rowsUnlabelled: 1, duplicateRows: 1, rowsRejected: 0, rejectedLines: 1 });
    assert.ok(result.problems.some((p) => p === 'lambda/model=breast-cancer/version=1/2026/12/07/00/part-1.jsonl line 4: not JSON'), result.problems.join('\n'));
    assert.ok(result.problems.some((p) => p.endsWith("feedback-2.jsonl line 4: label: 'benin' is not a class of breast-cancer (malignant, benign)")), result.problems.join('\n'));
  });

  it('writes rows the retrain gather step reads back as the same features and labels', async () => {
    const { put, request, store, data } = setup();
    handMade(put);
    const result = await writeLabelledTrainingRows(request());
    const settings: RetrainSettings = {
      project: 'p',
      stage: 'dev',
      model: 'breast-cancer',
      liveVersion: 1,
      metric: 'accuracy',
      tolerance: 0.01,
      minRows: 1,
      dataBucket: 'data',
      registryBucket: 'registry',
      candidateParameter: '/p/dev/breast-cancer/candidate',
      defaultDataPrefix: 'training-data/breast-cancer/',
    };
    const gathered = await gatherTrainingData({ settings, input: { model: 'breast-cancer' }, execution: 'e1' }, { store, liveCard: card });
    assert.deepEqual(gathered.files, [{ key: result.key, rows: 5, accepted: 5, rejected: 0 }]);
    const dataCsv = csvRows(join(data, gathered.dataKey));
    const rows = dataCsv.slice(1).map((r) => ({ x: r.slice(0, 30).map((v) => Math.fround(Number(v))), label: r[30] }));
    assert.deepEqual(
      rows,
      [0, 1, 2, 4, 5].map((r) => ({ x: DATA[r]!.x.map((v) => Math.fround(v)), label: DATA[r]!.label })),
      'the features read as the float32 values the model saw, the labels as the class names',
    );
  });

  it('replaces the window file on a rerun: the same bytes, then a late label added once; a window without rows writes nothing', async () => {
    const { put, request, data } = setup();
    handMade(put);
    const first = await writeLabelledTrainingRows(request());
    const bytes = readFileSync(join(data, first.key), 'utf8');
    const again = await writeLabelledTrainingRows(request());
    assert.equal(readFileSync(join(data, again.key), 'utf8'), bytes, 'the same inputs give the same file');
    // req-b's instance 1 is labelled late
    put('ground-truth/breast-cancer/2026/12/07/04/late.jsonl', `${label('req-b', 1, DATA[3]!.label)}\n`);
    const later = await writeLabelledTrainingRows(request());
    assert.equal(later.rowsWritten, 6);
    assert.deepEqual(csvRows(join(data, later.key)).slice(1), [expectedRow(0), expectedRow(1), expectedRow(2), expectedRow(3), expectedRow(4), expectedRow(5)]);
    assert.deepEqual(readdirSync(join(data, 'training-data', 'breast-cancer')), ['production-20261207T00Z-20261207T02Z-labelled.csv'], 'one file for the window, no partial left');

    // Captures expired: the rerun finds no row and leaves the file as it was.
    const empty = await writeLabelledTrainingRows({ ...request(), store: new FolderObjectStore({ capture: tempDir(), data }) });
    assert.equal(empty.written, false);
    assert.equal(empty.rowsWritten, 0);
    assert.ok(existsSync(join(data, later.key)));
  });

  it('joins a request the capture writer split over several lines (ids and first indices as captureLines writes them)', async () => {
    const { put, request, data } = setup();
    const rows = Float32Array.from(DATA.slice(0, 12).flatMap((d) => d.x));
    const lines = captureLines(
      { model: 'breast-cancer', version: '1', time: new Date('2026-12-07T01:30:00Z'), id: 'big-request', capturePercent: 100, rows, count: 12, width: 30, classIndex: new Int32Array(12), labels: card.labels },
      1200,
    );
    assert.ok(lines.length >= 3, `split over ${lines.length} lines`);
    put('lambda/model=breast-cancer/version=1/2026/12/07/01/part.jsonl', `${lines.join('\n')}\n`);
    put('ground-truth/breast-cancer/2026/12/07/02/f.jsonl', `${[11, 0, 7].map((i) => label('big-request', i, DATA[i]!.label)).join('\n')}\n`);
    const result = await writeLabelledTrainingRows(request());
    assert.deepEqual(csvRows(join(data, result.key)).slice(1), [expectedRow(0), expectedRow(7), expectedRow(11)], 'instances 0, 7 and 11 of the request, in capture order');
    assert.equal(result.captures.rowsUnlabelled, 9);
  });

  it('joins SageMaker captures by eventMetadata.inferenceId, and counts lines without one', async () => {
    const { put, request, data } = setup();
    const line = (rows: number[], inferenceId?: string) => {
      const parsed = JSON.parse(
        sageMakerCaptureLine({
          eventId: `e-${rows[0]}`,
          time: new Date('2026-12-07T00:20:00Z'),
          input: { contentType: 'application/json', body: JSON.stringify({ inputs: [{ name: 'input', shape: [rows.length, 30], datatype: 'FP32', data: rows.flatMap((r) => DATA[r]!.x) }] }) },
          output: { contentType: 'application/json', body: JSON.stringify({ model_version: '1', outputs: [{ name: 'label', shape: [rows.length], datatype: 'INT64', data: rows.map(() => 1) }] }) },
        }),
      ) as { eventMetadata: Record<string, string> };
      if (inferenceId) parsed.eventMetadata.inferenceId = inferenceId;
      return JSON.stringify(parsed);
    };
    put('data-capture/bc-endpoint/AllTraffic/2026/12/07/00/c.jsonl', `${[line([8, 9], 'sm-1'), line([10])].join('\n')}\n`);
    put('ground-truth/breast-cancer/2026/12/07/01/f.jsonl', `${label('sm-1', 1, DATA[9]!.label)}\n`);
    const result = await writeLabelledTrainingRows(request({ runtime: 'sagemaker', endpointName: 'bc-endpoint' }));
    assert.deepEqual(csvRows(join(data, result.key)).slice(1), [expectedRow(9)]);
    assert.deepEqual(result.captures.sources, ['bc-endpoint']);
    assert.equal(result.captures.rowsWithoutId, 1);
    await assert.rejects(writeLabelledTrainingRows(request({ runtime: 'sagemaker' })), /endpointName is needed/);
  });

  it('refuses a window that is not whole UTC hours', async () => {
    const { request } = setup();
    await assert.rejects(writeLabelledTrainingRows(request({ window: { from: new Date('2026-12-07T00:30:00Z'), to: WINDOW.to } })), /window\.from must be the start of a UTC hour/);
    await assert.rejects(writeLabelledTrainingRows(request({ window: { from: WINDOW.to, to: WINDOW.from } })), /window\.from must be before window\.to/);
  });
});

describe('production rows file names and windows', () => {
  it('names the window, reads it back, and finds the newest', () => {
    const key = productionRowsKey('training-data/m/', WINDOW);
    assert.equal(key, 'training-data/m/production-20261207T00Z-20261207T02Z-labelled.csv');
    assert.deepEqual(productionWindowOfKey(key), WINDOW);
    assert.equal(productionWindowOfKey('training-data/m/production-20261307T00Z-20261207T02Z-labelled.csv'), undefined, 'month 13 is no hour');
    assert.equal(
      newestProductionRowsKey(['training-data/m/a.csv', 'training-data/m/production-20261206T00Z-20261207T00Z-labelled.csv', key, 'training-data/m/production-20261201T00Z-20261202T00Z-labelled.csv'])?.key,
      key,
    );
    assert.equal(newestProductionRowsKey(['training-data/m/a.csv']), undefined);
  });

  it('tiles time into windows aligned to the epoch, so runs never write overlapping windows', () => {
    assert.deepEqual(trainingRowsWindow(new Date('2026-12-07T13:45:00Z'), 24), { from: new Date('2026-12-06T00:00:00Z'), to: new Date('2026-12-07T00:00:00Z') });
    assert.deepEqual(trainingRowsWindow(new Date('2026-12-07T23:59:59Z'), 24), { from: new Date('2026-12-06T00:00:00Z'), to: new Date('2026-12-07T00:00:00Z') });
    assert.deepEqual(trainingRowsWindow(new Date('2026-12-07T13:45:00Z'), 6), { from: new Date('2026-12-07T06:00:00Z'), to: new Date('2026-12-07T12:00:00Z') });
    assert.throws(() => trainingRowsWindow(new Date(), 0), /windowHours must be a whole number of hours, 1 or more, received 0/);
  });

  it('writes a float32 in the fewest digits that read back as the same float32', () => {
    for (const v of [0.1, 17.99, 1001, 0.2654, 1e-7, 123456.789, -3.4028234663852886e38]) {
      const f = Math.fround(v);
      const text = float32Text(f);
      assert.equal(Math.fround(Number(text)), f, `${text} reads back as ${f}`);
    }
    assert.equal(float32Text(Math.fround(17.99)), '17.99');
    // the fewest digits: no shorter rounding reads back as the same float32 (checked one length at a time)
    const digits = (text: string) => text.replace(/^-|e.*$/g, '').replace('.', '').replace(/^0+|0+$/g, '').length;
    for (let i = 1; i <= 5000; i++) {
      const f = Math.fround(Math.sin(i) * 10 ** ((i % 13) - 6));
      const shortest = [1, 2, 3, 4, 5, 6, 7, 8, 9].find((p) => Math.fround(Number(f.toPrecision(p))) === f)!;
      assert.ok(digits(float32Text(f)) <= shortest, `${f}: ${float32Text(f)} has more than ${shortest} digits`);
      assert.equal(Math.fround(Number(float32Text(f))), f);
    }
  });
});
