// Inference ids and prediction records in the inference handler, over the real breast-cancer session: every
// predict/infer answer names its id in x-inference-id (the caller's header, else the v2 body's id, else a new
// one), error answers too; a bad caller id is a 400 naming where it came from; every 200 answer's prediction is
// recorded whatever the capture share, after the answer, in one stdout write with its capture lines.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { parseLambdaCaptures } from '../../../lambdas/core/monitoring/capture/capture-parse';
import { RequestCapture, StdoutCaptureSink } from '../../../lambdas/core/monitoring/capture/capture-sink';
import { ServedModel } from '../../../lambdas/core/models/inference-session';
import { parsePredictionLine, type PredictionBatch } from '../../../lambdas/core/quality/predictions/prediction-record';
import type { PredictionSink } from '../../../lambdas/core/quality/predictions/prediction-sink';
import { ModelApi } from '../../../lambdas/core/serving/model-api';
import { createInferenceHandler } from '../../../lambdas/inference/handler';
import { apiEvent } from '../../fixtures/api-events';
import { BREAST_CANCER_DIR, breastCancerHeldOut } from '../../fixtures/breast-cancer-split';

class MemoryPredictions implements PredictionSink {
  readonly writes: { model: string; version: string; lines: readonly string[]; captureLines?: readonly string[] }[] = [];
  writePredictions(model: string, version: string, _time: Date, lines: readonly string[], captureLines?: readonly string[]): void {
    this.writes.push({ model, version, lines, ...(captureLines ? { captureLines } : {}) });
  }
  get batches(): PredictionBatch[] {
    return this.writes.flatMap((w) => w.lines.map(parsePredictionLine));
  }
}

const ID = /^[A-Za-z0-9_-]{22}$/;
const json = { 'Content-Type': 'application/json' };

describe('inference ids and prediction records in the inference handler', () => {
  const heldOut = breastCancerHeldOut();
  const rows = heldOut.rows.slice(0, 5);
  let model: ServedModel;
  const logger = new Logger({ logLevel: 'SILENT' });
  before(async () => {
    model = await ServedModel.load(BREAST_CANCER_DIR);
  });
  after(async () => model.release());

  const handlerWith = (predictions: PredictionSink, capture?: RequestCapture, onRecordingFailure?: (what: string) => void) =>
    createInferenceHandler({ api: new ModelApi(model, { maxBodyBytes: 1 << 20, maxBatchSize: 1000 }), logger, predictions, ...(capture ? { capture } : {}), ...(onRecordingFailure ? { onRecordingFailure } : {}) });
  const v2Body = (id?: unknown) => ({ ...(id === undefined ? {} : { id }), inputs: [{ name: 'input', shape: [rows.length, 30], datatype: 'FP32', data: rows.flat() }] });

  it('v1 without an id: a new one in x-inference-id, and the prediction recorded under it, instance by instance', async () => {
    const sink = new MemoryPredictions();
    const handler = handlerWith(sink);
    const result = await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: rows }));
    assert.equal(result.statusCode, 200, result.body);
    const id = result.headers!['x-inference-id'] as string;
    assert.match(id, ID);
    const answer = (JSON.parse(result.body) as { predictions: { label: string; probabilities: Record<string, number> }[] }).predictions;
    assert.equal(sink.writes.length, 1);
    assert.deepEqual([sink.writes[0]!.model, sink.writes[0]!.version], ['breast-cancer', '1']);
    const [batch] = sink.batches;
    assert.deepEqual([batch!.id, batch!.first, batch!.count, batch!.model, batch!.version], [id, 0, 5, 'breast-cancer', '1']);
    assert.deepEqual(batch!.classes, model.card.labels);
    assert.deepEqual([...batch!.predicted!].map((c) => model.card.labels[c]), answer.map((p) => p.label), 'the labels the caller got');
    answer.forEach((p, i) => model.card.labels.forEach((label, j) => assert.ok(Math.abs(batch!.probabilities![i * 2 + j]! - p.probabilities[label]!) <= 1e-7, `instance ${i} ${label}`)));
    const again = await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: rows }));
    assert.notEqual(again.headers!['x-inference-id'], id, 'each request its own id');
  });

  it("takes the caller's x-inference-id (any header spelling) and records under it", async () => {
    const sink = new MemoryPredictions();
    const handler = handlerWith(sink);
    const v1 = await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: rows }, { ...json, 'X-Inference-Id': 'order-42/line:1' }));
    assert.equal(v1.statusCode, 200, v1.body);
    assert.equal(v1.headers!['x-inference-id'], 'order-42/line:1');
    const v2 = await handler(apiEvent('POST', '/v2/models/breast-cancer/infer', v2Body('body-id'), { ...json, 'x-inference-id': 'header-id' }));
    assert.equal(v2.headers!['x-inference-id'], 'header-id', 'the header wins over the body');
    assert.equal((JSON.parse(v2.body) as { id: string }).id, 'header-id', "the v2 answer's id is the inference id");
    assert.deepEqual(sink.batches.map((b) => b.id), ['order-42/line:1', 'header-id']);
  });

  it("v2: the body's id is the inference id without the header; a new one otherwise, in the header and the body", async () => {
    const sink = new MemoryPredictions();
    const handler = handlerWith(sink);
    const named = await handler(apiEvent('POST', '/v2/models/breast-cancer/infer', v2Body('r-1')));
    assert.equal(named.statusCode, 200, named.body);
    assert.equal(named.headers!['x-inference-id'], 'r-1');
    assert.equal((JSON.parse(named.body) as { id: string }).id, 'r-1');
    const unnamed = await handler(apiEvent('POST', '/v2/models/breast-cancer/infer', v2Body()));
    const id = unnamed.headers!['x-inference-id'] as string;
    assert.match(id, ID);
    assert.equal((JSON.parse(unnamed.body) as { id: string }).id, id);
    assert.deepEqual(sink.batches.map((b) => [b.id, b.count]), [['r-1', 5], [id, 5]]);
  });

  it('refuses a bad caller id with 400 invalid_inference_id naming the header or the body id; the answer still carries an id, nothing is recorded', async () => {
    const sink = new MemoryPredictions();
    const handler = handlerWith(sink);
    const cases = [
      { event: apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: rows }, { ...json, 'x-inference-id': 'has space' }), message: /^the x-inference-id header must be 1 to 128 visible ASCII characters \(no spaces\), received "has space"$/ },
      { event: apiEvent('POST', '/v2/models/breast-cancer/infer', v2Body(), { ...json, 'x-inference-id': 'x'.repeat(129) }), message: /^the x-inference-id header must be .* received 129 characters$/ },
      { event: apiEvent('POST', '/v2/models/breast-cancer/infer', v2Body('')), message: /^the request body's id must be 1 to 128 visible ASCII characters .* received an empty value$/ },
      { event: apiEvent('POST', '/v2/models/breast-cancer/infer', v2Body(7)), message: /^the request body's id must be a string, received number$/ },
    ];
    for (const { event, message } of cases) {
      const result = await handler(event);
      assert.equal(result.statusCode, 400, result.body);
      const { error } = JSON.parse(result.body) as { error: { code: string; message: string } };
      assert.equal(error.code, 'invalid_inference_id');
      assert.match(error.message, message);
      assert.match(result.headers!['x-inference-id'] as string, ID, 'a new id the caller can quote');
    }
    assert.equal(sink.writes.length, 0);
  });

  it("names the caller's id on 4xx answers to bad input, and a new one where it sent none; other routes have no id", async () => {
    const handler = handlerWith(new MemoryPredictions());
    const bad = await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: [[1, 2]] }, { ...json, 'x-inference-id': 'mine' }));
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.headers!['x-inference-id'], 'mine');
    const badV2 = await handler(apiEvent('POST', '/v2/models/breast-cancer/infer', { id: 'body-7', inputs: [{ name: 'input', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }));
    assert.equal(badV2.statusCode, 400);
    assert.equal(badV2.headers!['x-inference-id'], 'body-7', "the body's id, read before its inputs");
    for (const [body, status] of [['not json', 400], ['', 400]] as const) {
      const result = await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', body));
      assert.equal(result.statusCode, status);
      assert.match(result.headers!['x-inference-id'] as string, ID);
    }
    const media = await handler(apiEvent('POST', '/v2/models/breast-cancer/infer', v2Body(), { 'Content-Type': 'text/plain' }));
    assert.equal(media.statusCode, 415);
    assert.match(media.headers!['x-inference-id'] as string, ID);
    const metadata = await handler(apiEvent('GET', '/v2/models/breast-cancer'));
    assert.equal(metadata.statusCode, 200);
    assert.equal(metadata.headers!['x-inference-id'], undefined);
  });

  it('records every prediction at capture 0%; with capture at 100% on stdout, one write per request holds both, the capture lines naming the id and first instance', async () => {
    const none = new MemoryPredictions();
    const quiet = handlerWith(none, new RequestCapture(0, { writeLambda: () => assert.fail('nothing captured at 0%') }));
    for (let i = 0; i < 20; i++) assert.equal((await quiet(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: [rows[i % 5]] }))).statusCode, 200);
    assert.equal(none.batches.length, 20);

    const writes: string[] = [];
    const stdout = new StdoutCaptureSink({ write: (text: string) => writes.push(text) });
    const handler = handlerWith(stdout, new RequestCapture(100, stdout));
    const result = await handler(apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: rows }, { ...json, 'x-inference-id': 'both' }));
    assert.equal(result.statusCode, 200);
    assert.equal(writes.length, 1, 'one write');
    const lines = writes[0]!.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.deepEqual([parsePredictionLine(lines[0]!).id, parsePredictionLine(lines[0]!).count], ['both', 5]);
    const captured = parseLambdaCaptures(lines[1]!, heldOut.card).batches[0]!;
    assert.deepEqual([captured.id, captured.first, captured.count], ['both', 0, 5]);
    assert.deepEqual(captured.rows, Float32Array.from(rows.flat()));
  });

  it('a failing prediction sink never costs the answer: same body, counted', async () => {
    const failures: string[] = [];
    const broken = handlerWith({ writePredictions: () => { throw new Error('disk full'); } }, undefined, (what) => failures.push(what));
    const healthy = handlerWith(new MemoryPredictions());
    const event = apiEvent('POST', '/v1/models/breast-cancer:predict', { instances: rows }, { ...json, 'x-inference-id': 'same' });
    const a = await broken(event);
    const b = await healthy(event);
    assert.equal(a.statusCode, 200);
    assert.equal(a.body, b.body);
    assert.deepEqual(a.headers, b.headers);
    assert.deepEqual(failures, ['predictions']);
  });
});
