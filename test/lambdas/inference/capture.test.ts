// Data capture in the inference handler: sampled scored requests become CaptureRecord lines in the sink,
// after the answer is built; rejected requests and a failing sink never change the answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { parseLambdaCaptures } from '../../../lambdas/core/monitoring/capture/capture-parse';
import { RequestCapture, type CaptureSink } from '../../../lambdas/core/monitoring/capture/capture-sink';
import { ServedModel } from '../../../lambdas/core/models/inference-session';
import { ModelApi } from '../../../lambdas/core/serving/model-api';
import { createInferenceHandler } from '../../../lambdas/inference/handler';
import { readInferenceConfig } from '../../../lambdas/inference/config';
import { apiEvent } from '../../fixtures/api-events';
import { BREAST_CANCER_DIR, breastCancerHeldOut } from '../../fixtures/breast-cancer-split';

class MemorySink implements CaptureSink {
  readonly writes: { model: string; version: string; time: Date; lines: readonly string[] }[] = [];
  writeLambda(model: string, version: string, time: Date, lines: readonly string[]): void {
    this.writes.push({ model, version, time, lines });
  }
}

describe('inference handler with data capture', () => {
  const heldOut = breastCancerHeldOut();
  let model: ServedModel;
  const logger = new Logger({ logLevel: 'SILENT' });
  before(async () => {
    model = await ServedModel.load(BREAST_CANCER_DIR);
  });
  after(async () => model.release());

  const handlerWith = (capture: RequestCapture | undefined) => createInferenceHandler({ api: new ModelApi(model, { maxBodyBytes: 1 << 20, maxBatchSize: 1000 }), logger, ...(capture ? { capture } : {}) });

  it('at 100% every scored request is captured with its rows, predicted labels, model and version', async () => {
    const sink = new MemorySink();
    const handler = handlerWith(new RequestCapture(100, sink));
    const rows = heldOut.rows.slice(0, 3);
    const result = await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: rows }));
    assert.equal(result.statusCode, 200, result.body);
    const answered = (JSON.parse(result.body) as { predictions: { label: string }[] }).predictions.map((p) => p.label);
    assert.equal(sink.writes.length, 1);
    const [write] = sink.writes;
    assert.deepEqual([write!.model, write!.version], ['breast-cancer', '1']);
    const record = JSON.parse(write!.lines[0]!) as { labels: string[]; requestId: string; capturePercent: number };
    assert.deepEqual(record.labels, answered, 'the labels the caller got');
    assert.deepEqual(parseLambdaCaptures(write!.lines.join('\n'), heldOut.card).batches[0]!.rows, Float32Array.from(rows.flat()), 'the rows as the model saw them');
    assert.equal(record.requestId, 'test');
    assert.equal(record.capturePercent, 100);
    const v2 = await handler(apiEvent('POST', '/v2/models/breast-cancer/infer', { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: rows[0] }] }));
    assert.equal(v2.statusCode, 200, v2.body);
    assert.equal(parseLambdaCaptures(sink.writes[1]!.lines.join('\n'), heldOut.card).batches[0]!.count, 1, 'v2 infer captured too');
  });

  it('rejected requests and metadata calls are not captured; at 0% nothing is', async () => {
    const sink = new MemorySink();
    const handler = handlerWith(new RequestCapture(100, sink));
    assert.equal((await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: [[1, 2]] }))).statusCode, 400);
    assert.equal((await handler(apiEvent('GET', '/v2/models/breast-cancer'))).statusCode, 200);
    assert.equal(sink.writes.length, 0, 'nothing captured');
    const none = new MemorySink();
    const off = handlerWith(new RequestCapture(0, none));
    for (let i = 0; i < 20; i++) await off(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: heldOut.rows.slice(i, i + 1) }));
    assert.equal(none.writes.length, 0);
  });

  it('a sink that throws costs the caller nothing', async () => {
    const handler = handlerWith(new RequestCapture(100, { writeLambda: () => { throw new Error('disk full'); } }));
    const result = await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: heldOut.rows.slice(0, 1) }));
    assert.equal(result.statusCode, 200, result.body);
  });

  it('CAPTURE_PERCENT is read at start-up: 0 when unset, a bad value stops the function naming it', () => {
    assert.equal(readInferenceConfig({}).capturePercent, 0);
    assert.equal(readInferenceConfig({ CAPTURE_PERCENT: '12.5' }).capturePercent, 12.5);
    assert.throws(() => readInferenceConfig({ CAPTURE_PERCENT: '120' }), /CAPTURE_PERCENT must be a number from 0 to 100, received '120'/);
  });
});
