// Local data capture: the gateway writes what the cloud would, where the cloud would. A Lambda model's sampled
// requests as CaptureRecord lines under lambda/model=<m>/version=<v>/<yyyy>/<MM>/<dd>/<HH>/, a SageMaker model's
// as SageMaker capture lines under data-capture/<endpoint>/AllTraffic/...; the drift monitor reads both back.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { stringify } from 'yaml';
import { parseLambdaCaptures, parseSageMakerCaptures } from '../../../lambdas/core/monitoring/capture/capture-parse';
import { DEFAULT_DRIFT_THRESHOLDS } from '../../../lambdas/core/monitoring/drift/thresholds';
import { readText } from '../../../lambdas/core/storage/object-store';
import { monitorModel } from '../../../lambdas/core/monitoring/monitor/drift-monitor';
import { loadManifest } from '../../../lambdas/core/manifest/load';
import { LocalGateway } from '../../../local/serving/gateway';
import { FolderCaptureSink } from '../../../local/monitoring/capture-files';
import { localEndpointName } from '../../../local/sagemaker/endpoint';
import { FolderObjectStore } from '../../../local/storage/folder-object-store';
import { breastCancerHeldOut } from '../../fixtures/breast-cancer-split';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-capture-');

describe('FolderCaptureSink', () => {
  it('appends lines per key off the caller, in order, and keeps nothing back after flush', async () => {
    const folder = tempDir();
    const sink = new FolderCaptureSink(folder, { flushMs: 10_000 });
    const t = new Date('2026-11-22T07:05:00Z');
    sink.writeLambda('m', '3', t, ['{"a":1}', '{"a":2}']);
    sink.writeLambda('m', '3', t, ['{"a":3}']);
    sink.writeSageMaker('mlship-dev-digits', t, '{"b":1}');
    const store = new FolderObjectStore({ c: folder });
    const before = [];
    for await (const o of store.list('c', '')) before.push(o.key);
    assert.deepEqual(before, [], 'nothing written while the request is answered');
    await sink.close();
    const keys = [];
    for await (const o of store.list('c', '')) keys.push(o.key);
    assert.deepEqual(keys, [`data-capture/mlship-dev-digits/AllTraffic/2026/11/22/07/local-${process.pid}-0000.jsonl`, `lambda/model=m/version=3/2026/11/22/07/local-${process.pid}-0000.jsonl`]);
    assert.equal(await readText(store, 'c', keys[1]!), '{"a":1}\n{"a":2}\n{"a":3}\n');
  });

  it('rolls a file past maxFileBytes to the next number, in order, and never appends to a file it did not begin', async () => {
    const folder = tempDir();
    const prefix = 'lambda/model=m/version=3/2026/11/22/07/';
    // A file an earlier process with the same pid left behind.
    mkdirSync(join(folder, prefix), { recursive: true });
    writeFileSync(join(folder, prefix, FolderCaptureSink.fileName(0)), 'earlier\n');
    const sink = new FolderCaptureSink(folder, { flushMs: 10_000, maxFileBytes: 100 });
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(20) }));
    const t = new Date('2026-11-22T07:05:00Z');
    sink.writeLambda('m', '3', t, lines.slice(0, 5));
    await sink.flush();
    for (const line of lines.slice(5)) sink.writeLambda('m', '3', t, [line]);
    await sink.close();
    const store = new FolderObjectStore({ c: folder });
    const files = [];
    for await (const o of store.list('c', prefix)) files.push(o);
    assert.equal(readFileSync(join(folder, files[0]!.key), 'utf8'), 'earlier\n', 'the earlier file is left as it was');
    const written = files.slice(1);
    assert.deepEqual(written.map((o) => o.key), written.map((_, i) => `${prefix}${FolderCaptureSink.fileName(i + 1)}`), 'numbered in order after the earlier file');
    assert.ok(written.length >= 4, `${written.length} files for ${lines.length} lines of ~${lines[0]!.length} bytes`);
    assert.ok(written.every((o) => o.size <= 100), `no file past 100 bytes: ${written.map((o) => o.size).join(', ')}`);
    const text = (await Promise.all(written.map((o) => readText(store, 'c', o.key)))).join('');
    assert.equal(text, lines.map((l) => `${l}\n`).join(''), 'every line once, in the order captured');
    assert.deepEqual([sink.stats().filesStarted, sink.stats().linesWritten, sink.stats().linesDropped], [written.length, 12, 0]);
    assert.deepEqual(sink.currentFiles(), new Set([join(folder, written.at(-1)!.key)]), 'the file being written');
  });

  it('writes prediction lines under predictions/model=<m>/version=<v>/<hour>/, and a request\'s capture lines beside them under lambda/', async () => {
    const folder = tempDir();
    const sink = new FolderCaptureSink(folder, { flushMs: 10_000, maxFileBytes: 40 });
    const t = new Date('2026-11-22T07:05:00Z');
    sink.writePredictions('m', '3', t, ['{"p":1,"pad":"xxxxxxxxxxxx"}'], ['{"c":1}']);
    sink.writePredictions('m', '3', t, ['{"p":2,"pad":"xxxxxxxxxxxx"}']);
    sink.writePredictions('m', '3', new Date('2026-11-22T08:00:00Z'), ['{"p":3}']);
    await sink.close();
    const store = new FolderObjectStore({ c: folder });
    const keys = [];
    for await (const o of store.list('c', '')) keys.push(o.key);
    const file = (hour: string, seq: number) => `predictions/model=m/version=3/2026/11/22/${hour}/${FolderCaptureSink.fileName(seq)}`;
    assert.deepEqual(keys, [`lambda/model=m/version=3/2026/11/22/07/${FolderCaptureSink.fileName(0)}`, file('07', 0), file('07', 1), file('08', 0)], 'rolled by size and by hour, as captures are');
    assert.equal(await readText(store, 'c', file('07', 1)), '{"p":2,"pad":"xxxxxxxxxxxx"}\n');
    assert.equal(sink.stats().linesWritten, 4);
  });

  it('drops and counts lines past maxPendingBytes rather than holding them', async () => {
    const folder = tempDir();
    const sink = new FolderCaptureSink(folder, { flushMs: 10_000, maxPendingBytes: 50 });
    const t = new Date('2026-11-22T07:05:00Z');
    sink.writeLambda('m', '3', t, ['x'.repeat(30)]);
    sink.writeLambda('m', '3', t, ['y'.repeat(30)]);
    await sink.close();
    assert.deepEqual(sink.stats(), { linesWritten: 1, bytesWritten: 31, filesStarted: 1, linesDropped: 1, bytesDropped: 31 });
  });

  it('a failed append is reported, never thrown', async () => {
    const folder = tempDir();
    writeFileSync(join(folder, 'lambda'), 'a file where a folder should be');
    const errors: string[] = [];
    const sink = new FolderCaptureSink(folder, { onError: (_e, key) => errors.push(key) });
    sink.writeLambda('m', '1', new Date(0), ['{}']);
    await sink.close();
    assert.equal(errors.length, 1);
    assert.equal(sink.stats().linesDropped, 1, 'the lost line is counted');
  });
});

describe('local gateway capture', () => {
  const heldOut = breastCancerHeldOut();
  let gateway: LocalGateway;
  let stateDir: string;

  before(async () => {
    const root = tempDir();
    symlinkSync(resolve('models/breast-cancer'), join(root, 'breast-cancer'));
    symlinkSync(resolve('models/digits'), join(root, 'digits'));
    writeFileSync(join(root, 'manifest.yaml'), stringify({ models: [{ name: 'breast-cancer', version: 1 }, { name: 'digits', version: 1, runtime: 'sagemaker', sagemaker: { dataCapturePercent: 100 } }] }));
    stateDir = join(root, '.mlship');
    mkdirSync(stateDir);
    gateway = await LocalGateway.start({ manifest: loadManifest(join(root, 'manifest.yaml')), port: 0, stateDir, capturePercent: 100, monitorIntervalMs: 3_600_000, alerts: { emit: () => undefined }, logger: new Logger({ logLevel: 'SILENT' }) });
  });
  after(async () => gateway.close());

  it('captures both models in the bucket layout, and the monitor reads them back', async () => {
    const from = new Date(Date.now() - 1000);
    for (let i = 0; i < 112; i += 4) {
      const res = await fetch(`${gateway.url}/v1/models/breast-cancer:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: heldOut.rows.slice(i, i + 4) }) });
      assert.equal(res.status, 200, await res.text());
    }
    const pixels = Array.from({ length: 64 }, (_, k) => k % 16);
    const digits = await fetch(`${gateway.url}/v2/models/digits/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'input', shape: [2, 64], datatype: 'FP32', data: [...pixels, ...pixels.reverse()] }] }) });
    const answer = (await digits.json()) as { outputs: { name: string; data: unknown[] }[] };
    assert.equal(digits.status, 200, JSON.stringify(answer));
    await gateway.captureSink!.flush();

    const store = new FolderObjectStore({ capture: join(stateDir, 'capture') });
    const keys: string[] = [];
    for await (const o of store.list('capture', '')) keys.push(o.key);
    const lambdaKey = keys.find((k) => k.startsWith('lambda/'));
    const sageMakerKey = keys.find((k) => k.startsWith('data-capture/'));
    assert.match(lambdaKey ?? '', /^lambda\/model=breast-cancer\/version=1\/\d{4}\/\d\d\/\d\d\/\d\d\/local-\d+-\d{4}\.jsonl$/, keys.join(', '));
    assert.match(sageMakerKey ?? '', /^data-capture\/digits-v1\/AllTraffic\/\d{4}\/\d\d\/\d\d\/\d\d\/local-\d+-\d{4}\.jsonl$/, keys.join(', '));

    const lambda = parseLambdaCaptures(await readText(store, 'capture', lambdaKey!), heldOut.card);
    assert.equal(lambda.batches.reduce((s, b) => s + b.count, 0), 112, 'every request captured at 100%');
    const digitsCard = gateway.cards.find((c) => c.name === 'digits')!;
    const sageMaker = parseSageMakerCaptures(await readText(store, 'capture', sageMakerKey!), digitsCard);
    assert.equal(sageMaker.rejected, 0, sageMaker.problems.join('; '));
    assert.equal(sageMaker.batches[0]!.count, 2);
    const labels = (answer.outputs.find((o) => o.name === 'label')?.data ?? []) as string[];
    assert.deepEqual(Array.from(sageMaker.batches[0]!.classIndex!).map((c) => digitsCard.labels[c]), labels, 'the classes the caller got');

    const window = { from, to: new Date(Date.now() + 1000) };
    const run = await monitorModel(store, 'capture', { name: 'breast-cancer', version: '1', card: heldOut.card, runtime: 'lambda', drift: DEFAULT_DRIFT_THRESHOLDS }, window);
    assert.equal(run.report.rows, 112);
    assert.equal(run.report.verdict, 'no drift', run.report.summary);
    const digitsRun = await monitorModel(store, 'capture', { name: 'digits', version: '1', card: digitsCard, runtime: 'sagemaker', endpointName: localEndpointName('digits', 1), drift: DEFAULT_DRIFT_THRESHOLDS }, window);
    assert.equal(digitsRun.report.rows, 2);
    assert.equal(digitsRun.report.verdict, 'not enough data');
  });
});
