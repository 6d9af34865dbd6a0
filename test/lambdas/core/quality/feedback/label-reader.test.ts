// Label files streamed from an object store: .jsonl files of label records and .csv files with a header, every
// good label handed on with its line, every bad line rejected with its line number and reason (never dropped,
// never a crash), an unfinished last line read too; and the ground-truth key layout.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { feedbackObjectKey, groundTruthHourPrefix, groundTruthModelPrefix, labelFileHour } from '../../../../../lambdas/core/quality/feedback/label-keys';
import { labelFileFormat, readLabels, type ReadLabelsOptions } from '../../../../../lambdas/core/quality/feedback/label-reader';
import type { LabelRecord } from '../../../../../lambdas/core/quality/contracts';
import type { FeedbackTarget } from '../../../../../lambdas/core/quality/feedback/validate';
import { MemoryObjectStore } from '../../../../fixtures/memory-object-store';

const classifier: FeedbackTarget = { model: 'breast-cancer', task: 'binary', labels: ['malignant', 'benign'], maxBatchSize: 64 };
const regressor: FeedbackTarget = { model: 'prices', task: 'regression', labels: [] };
const HOUR_KEY = 'ground-truth/breast-cancer/2026/12/08/10/';

async function read(key: string, text: string, target = classifier, options: ReadLabelsOptions = {}, pieceBytes = 7) {
  // Small pieces: lines cross the store's pieces, as they cross a socket's.
  const store = new MemoryObjectStore({ pieceBytes });
  store.put(key, text);
  const labels: [number, LabelRecord][] = [];
  const rejected: [number, string][] = [];
  const counts = await readLabels(store, 'bucket', key, target, { label: (record, line) => labels.push([line, record]), rejected: (line, reason) => rejected.push([line, reason]) }, options);
  return { labels, rejected, counts };
}

describe('readLabels of .jsonl files', () => {
  it('hands on every good label with its line and rejects each bad line with its reason', async () => {
    const lines = [
      '{"id":"a","index":0,"label":"benign","time":"2026-12-08T10:01:02.000Z"}',
      'not json',
      '{"id":"b","label":"benin","time":"2026-12-08T10:01:02.000Z"}',
      '{"id":"c","label":"malignant"}',
      '[1,2]',
      '{"id":"d","label":"benign","source":"crm"}',
      '{"id":"e","label":"benign","time":"yesterday"}',
      '',
      '{"id":"f","index":2,"label":"malignant","time":"2026-12-08T11:00:00+01:00"}\r',
      '{"id":"g","index":99,"label":"benign"}',
      '{"id":"h","value":1}',
      '{"id":"i","label":"benign"}',
    ];
    const { labels, rejected, counts } = await read(`${HOUR_KEY}crm-export.jsonl`, lines.join('\n'));
    assert.deepEqual(labels, [
      [1, { id: 'a', index: 0, label: 'benign', time: '2026-12-08T10:01:02.000Z' }],
      [4, { id: 'c', index: 0, label: 'malignant', time: '2026-12-08T10:00:00.000Z' }],
      [9, { id: 'f', index: 2, label: 'malignant', time: '2026-12-08T10:00:00.000Z' }],
      [12, { id: 'i', index: 0, label: 'benign', time: '2026-12-08T10:00:00.000Z' }],
    ], 'a line without a time takes the hour of its key; the last line has no newline and is read');
    assert.deepEqual(rejected, [
      [2, 'is not JSON'],
      [3, "label: 'benin' is not a class of breast-cancer (malignant, benign)"],
      [5, 'is not a JSON object {id, index, label or value, time}'],
      [6, 'source: is not a field of a label (id, index, label or value, time)'],
      [7, 'time: "yesterday" is not an ISO 8601 time with a zone'],
      [10, 'index: 99 is past the last instance a request of breast-cancer can have (maxBatchSize 64, so at most 63)'],
      [11, "value: breast-cancer is a classifier; send the true class as 'label', not 'value'"],
    ]);
    // Every byte came from the store once, and the unfinished last line (no newline) once more, read on its own.
    assert.deepEqual(counts, { lines: 12, labels: 4, rejected: 7, fast: 0, bytesRead: Buffer.byteLength(lines.join('\n')) + Buffer.byteLength(lines.at(-1)!) });
  });

  it('rejects a line without a time in a file outside the hour layout, unless told when the labels came', async () => {
    const text = '{"id":"a","label":"benign"}\n';
    assert.deepEqual((await read('bulk/labels.jsonl', text)).rejected, [[1, 'time: is missing, and the file is not under ground-truth/<model>/<yyyy>/<MM>/<dd>/<HH>/ to take the hour from']]);
    const told = await read('bulk/labels.jsonl', text, classifier, { receivedAt: new Date('2026-12-09T08:30:00Z') });
    assert.deepEqual(told.labels, [[1, { id: 'a', index: 0, label: 'benign', time: '2026-12-09T08:30:00.000Z' }]]);
  });

  it('rejects a line past maxLineBytes with its length, unread, and goes on', async () => {
    const long = `{"id":"${'x'.repeat(100)}","label":"benign"}`;
    const { labels, rejected } = await read(`${HOUR_KEY}a.jsonl`, `${long}\n{"id":"ok","label":"benign"}\n${long}`, classifier, { maxLineBytes: 64 });
    assert.deepEqual(labels.map(([line, r]) => [line, r.id]), [[2, 'ok']]);
    assert.deepEqual(rejected, [
      [1, `is ${long.length} bytes long, longer than the 64 a label line may have`],
      [3, `is ${long.length} bytes long, longer than the 64 a label line may have`],
    ]);
  });
});

describe('readLabels of .csv files', () => {
  it('reads id,index,label rows, quoted cells included, and rejects bad rows with their line', async () => {
    const text = [
      '\ufeffid,index,label',
      'r1,0,benign',
      'r2,,malignant',
      '"r,3",1,"benign"',
      'r4,x,benign',
      'r5,0',
      'r6,0,',
      'r7,0,Benign',
      'r8,0,benign,extra',
      '"r9,0,benign',
      'r10 ,2 , malignant ',
    ].join('\r\n');
    const { labels, rejected } = await read(`${HOUR_KEY}labels.csv`, `${text}\r\n`);
    assert.deepEqual(labels.map(([line, r]) => [line, r.id, r.index, r.label]), [
      [2, 'r1', 0, 'benign'],
      [3, 'r2', 0, 'malignant'],
      [4, 'r,3', 1, 'benign'],
      [11, 'r10', 2, 'malignant'],
    ]);
    assert.deepEqual(rejected, [
      [5, "index: 'x' is not a whole number, 0 or more"],
      [6, 'has 2 values, the header has 3 columns'],
      [7, 'label: is empty'],
      [8, "label: 'Benign' is not a class of breast-cancer (malignant, benign)"],
      [9, 'has 4 values, the header has 3 columns'],
      [10, 'is not a CSV line'],
    ]);
  });

  it('reads a regressor\'s id,value file without index (0) and with a time column', async () => {
    const text = 'time,value,id\n2026-12-08T09:59:00Z,12.5,a\n,-3,b\n2026-12-08T09:00:00Z,NaN,c\n,1e400,d\n';
    const { labels, rejected } = await read('ground-truth/prices/2026/12/08/10/x.csv', text, regressor);
    assert.deepEqual(labels.map(([, r]) => r), [
      { id: 'a', index: 0, value: 12.5, time: '2026-12-08T09:59:00.000Z' },
      { id: 'b', index: 0, value: -3, time: '2026-12-08T10:00:00.000Z' },
    ]);
    assert.deepEqual(rejected, [
      [4, "value: 'NaN' is not a finite number"],
      [5, "value: '1e400' is not a finite number"],
    ]);
  });

  it('rejects a bad header, then every row as not read, naming the columns it takes', async () => {
    const { labels, rejected } = await read(`${HOUR_KEY}bad.csv`, 'id,index,value\na,0,1\nb,0,2\n');
    assert.equal(labels.length, 0);
    assert.deepEqual(rejected, [
      [1, "header: column 'value' is not one of id, index, label, time (breast-cancer is a classifier); expected id,index,label (index and time optional)"],
      [2, 'not read: the header (line 1) is not valid'],
      [3, 'not read: the header (line 1) is not valid'],
    ]);
    assert.deepEqual((await read(`${HOUR_KEY}bad.csv`, 'index,label\n0,benign\n')).rejected[0], [1, 'header: needs the columns id and label; expected id,index,label (index and time optional)']);
    assert.deepEqual((await read(`${HOUR_KEY}bad.csv`, 'id,label,id\n')).rejected[0], [1, "header: names column 'id' twice"]);
  });

  it('rejects an empty file and a file of another format', async () => {
    assert.deepEqual((await read(`${HOUR_KEY}empty.csv`, '')).rejected, [[1, 'is empty; expected a header id,index,label and rows']]);
    assert.deepEqual((await read(`${HOUR_KEY}labels.parquet`, 'PAR1')).rejected, [[1, 'the file\'s name must end in .jsonl (label records) or .csv (id,index,label): ground-truth/breast-cancer/2026/12/08/10/labels.parquet']]);
    assert.equal(labelFileFormat('a/B.JSONL'), 'jsonl');
    assert.equal(labelFileFormat('a/b.csv.gz'), undefined);
  });
});

describe('ground-truth keys', () => {
  it('lays labels out by model and UTC hour received, and reads the hour back', () => {
    const at = new Date('2026-03-04T05:59:59.999Z');
    assert.equal(groundTruthModelPrefix('digits'), 'ground-truth/digits/');
    assert.equal(groundTruthHourPrefix('digits', at), 'ground-truth/digits/2026/03/04/05/');
    assert.equal(feedbackObjectKey('digits', at, 'c0ffee-1'), 'ground-truth/digits/2026/03/04/05/c0ffee-1.jsonl');
    assert.deepEqual(labelFileHour('ground-truth/digits/2026/03/04/05/c0ffee-1.jsonl'), new Date('2026-03-04T05:00:00Z'));
    assert.equal(labelFileHour('ground-truth/digits/2026/02/31/05/x.jsonl'), undefined);
    assert.equal(labelFileHour('predictions/digits/2026/03/04/05/x.jsonl'), undefined);
  });
});
