// Data capture: the sampler's share, the capture lines (size limit, float32 text) and reading both capture
// formats back (Lambda CaptureRecord lines; SageMaker's capture lines with Triton bodies, JSON or base64).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { captureLines, float32FromBase64, MAX_CAPTURE_LINE_BYTES } from '../../../../lambdas/core/monitoring/capture/capture-record';
import { hoursOf, hourPath, lambdaCaptureHourPrefix, sageMakerCaptureHourPrefix } from '../../../../lambdas/core/monitoring/capture/capture-keys';
import { parseLambdaCaptures, parseSageMakerCaptures, sageMakerCaptureLine } from '../../../../lambdas/core/monitoring/capture/capture-parse';
import { StdoutCaptureSink } from '../../../../lambdas/core/monitoring/capture/capture-sink';
import { CaptureSampler } from '../../../../lambdas/core/monitoring/capture/sampling';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import { modelCardSchema } from '../../../../lambdas/core/models/model-card';
import { tritonRequest } from '../../../../lambdas/core/sagemaker/triton-protocol';
import { handleInvocation } from '../../../../local/sagemaker/endpoint';
import { BREAST_CANCER_DIR, REPO_ROOT } from '../../../fixtures/breast-cancer-split';

/** mulberry32: a small seeded uniform source. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const card = modelCardSchema.parse(JSON.parse(readFileSync(join(BREAST_CANCER_DIR, 'model.json'), 'utf8')));
const digitsCard = modelCardSchema.parse(JSON.parse(readFileSync(join(REPO_ROOT, 'models', 'digits', '1', 'model.json'), 'utf8')));

function randomRows(count: number, width: number, random: () => number): Float32Array {
  // values of very different sizes, as the breast-cancer features have (0.001 .. 4000)
  return Float32Array.from({ length: count * width }, (_, k) => (random() - 0.2) * 10 ** ((k % width) % 7 - 3));
}

describe('CaptureSampler', () => {
  it('captures each request with the configured probability: 10% of 100,000 is within 4 standard deviations of 10,000', () => {
    for (const percent of [10, 2.5, 50]) {
      const sampler = new CaptureSampler(percent, seeded(percent * 7));
      let taken = 0;
      const n = 100_000;
      for (let i = 0; i < n; i++) if (sampler.take()) taken++;
      const p = percent / 100;
      const sd = Math.sqrt(n * p * (1 - p));
      assert.ok(Math.abs(taken - n * p) < 4 * sd, `${percent}%: took ${taken} of ${n}, expected ${n * p} +- ${4 * sd}`);
    }
  });

  it('is not periodic: consecutive picks are independent (no "every tenth request")', () => {
    const sampler = new CaptureSampler(10, seeded(3));
    const picks = Array.from({ length: 50_000 }, () => sampler.take());
    let both = 0;
    let first = 0;
    for (let i = 1; i < picks.length; i++) {
      if (!picks[i - 1]) continue;
      first++;
      if (picks[i]) both++;
    }
    const conditional = both / first;
    assert.ok(Math.abs(conditional - 0.1) < 0.02, `P(capture | previous captured) = ${conditional}, about 0.1`);
  });

  it('0% captures nothing and 100% everything, with the default random source; outside 0..100 is refused', () => {
    const none = new CaptureSampler(0);
    const all = new CaptureSampler(100);
    assert.ok(Array.from({ length: 1000 }, () => none.take()).every((t) => !t), '0% takes none');
    assert.ok(Array.from({ length: 1000 }, () => all.take()).every((t) => t), '100% takes all');
    assert.throws(() => new CaptureSampler(101), /between 0 and 100, received 101/);
    assert.throws(() => new CaptureSampler(-1), /received -1/);
  });
});

describe('capture lines', () => {
  it('a request of 1,000 instances of 30 features is captured in lines under 256 KB that parse back equal', () => {
    const count = 1000;
    const width = card.input.features.length;
    const random = seeded(11);
    const rows = randomRows(count, width, random);
    const classIndex = Int32Array.from({ length: count }, () => (random() < 0.4 ? 0 : 1));
    const time = new Date('2026-11-22T10:15:00.000Z');
    const lines = captureLines({ model: card.name, version: '1', time, requestId: 'req-1', capturePercent: 100, rows, count, width, classIndex, labels: card.labels });
    assert.ok(lines.length >= 1, `${lines.length} lines`);
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      assert.ok(bytes <= MAX_CAPTURE_LINE_BYTES && bytes < 256 * 1024, `a line of ${bytes} bytes`);
      assert.ok(!line.includes('\n'), 'one line each');
    }
    const parsed = parseLambdaCaptures(lines.join('\n'), card);
    assert.equal(parsed.rejected, 0, parsed.problems.join('; '));
    assert.equal(parsed.batches.reduce((s, b) => s + b.count, 0), count);
    assert.deepEqual(Float32Array.from(parsed.batches.flatMap((b) => Array.from(b.rows))), rows, 'every value back as the same float32');
    assert.deepEqual(Int32Array.from(parsed.batches.flatMap((b) => Array.from(b.classIndex!))), classIndex, 'every label back');
    assert.ok(parsed.batches.every((b) => b.time.getTime() === time.getTime() && b.version === '1'), 'time and version on every part');
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(first), ['mlshipCapture', 'model', 'version', 'time', 'requestId', 'capturePercent', 'width', 'inputsFloat32', 'labels']);
    assert.equal(first.mlshipCapture, 1);
    assert.deepEqual(float32FromBase64(first.inputsFloat32 as string).subarray(0, 30), rows.subarray(0, 30), 'float32 little-endian base64');
    assert.equal((first.labels as string[])[0], card.labels[classIndex[0]!]);

    // 5,000 instances (the largest batch a manifest may allow is 10,000) need several lines, each under the limit
    const big = randomRows(5000, width, random);
    const bigClasses = Int32Array.from({ length: 5000 }, (_, i) => i % 2);
    const split = captureLines({ model: card.name, version: '1', time, capturePercent: 100, rows: big, count: 5000, width, classIndex: bigClasses, labels: card.labels });
    assert.ok(split.length >= 4, `split over ${split.length} lines`);
    assert.ok(split.every((l) => Buffer.byteLength(l) <= MAX_CAPTURE_LINE_BYTES), split.map((l) => l.length).join());
    const back = parseLambdaCaptures(split.join('\n'), card);
    assert.deepEqual(Float32Array.from(back.batches.flatMap((b) => Array.from(b.rows))), big);
    assert.deepEqual(Int32Array.from(back.batches.flatMap((b) => Array.from(b.classIndex!))), bigClasses);
  });

  it('regression answers are captured as float32 values; lines split at any size; numbers written by hand read too', () => {
    const card1 = { ...card, input: { ...card.input, features: ['a', 'b'] }, labels: [], task: 'regression' as const };
    const rows = Float32Array.of(1, 2, 3, 4, 5, 6);
    const values = Float32Array.of(0.5, 1.25, -2);
    const oneInstance = Buffer.byteLength(captureLines({ model: 'house', version: '2', time: new Date(0), capturePercent: 5, rows, count: 1, width: 2, values })[0]!);
    const lines = captureLines({ model: 'house', version: '2', time: new Date(0), capturePercent: 5, rows, count: 3, width: 2, values }, oneInstance + 4);
    assert.equal(lines.length, 3, lines.join('\n'));
    const parsed = parseLambdaCaptures(lines.join('\n'), card1);
    assert.deepEqual(parsed.batches.flatMap((b) => [...Array.from(b.rows), ...Array.from(b.values!)]), [1, 2, 0.5, 3, 4, 1.25, 5, 6, -2]);
    assert.throws(() => captureLines({ model: 'house', version: '2', time: new Date(0), capturePercent: 5, rows, count: 3, width: 2, values }, 60), /one instance takes more than a capture line may \(60 bytes\)/);
    const byHand = '{"mlshipCapture":1,"model":"house","version":"2","time":"2026-01-01T00:00:00Z","capturePercent":5,"inputs":[[1,2],[3,null]],"values":[7,8]}';
    const read = parseLambdaCaptures(byHand, card1).batches[0]!;
    assert.deepEqual(Array.from(read.rows), [1, 2, 3, NaN]);
    assert.deepEqual(Array.from(read.values!), [7, 8]);
  });

  it('a named request: every line says its inference id and first instance, split or not; older lines without them still read', () => {
    const rows = Float32Array.from({ length: 7 * 30 }, (_, k) => k / 7);
    const classIndex = Int32Array.from({ length: 7 }, (_, i) => i % 2);
    const request = { model: 'breast-cancer', version: '1', time: new Date(0), id: 'order-9', capturePercent: 10, rows, count: 7, width: 30, classIndex, labels: card.labels };
    const one = captureLines(request);
    assert.equal(one.length, 1);
    const oneInstance = Buffer.byteLength(captureLines({ ...request, count: 1 })[0]!);
    const split = captureLines(request, oneInstance + 200);
    assert.ok(split.length >= 3, `${split.length} lines`);
    for (const line of split) assert.ok(Buffer.byteLength(line) <= oneInstance + 200);
    const batches = parseLambdaCaptures(split.join('\n'), card).batches;
    assert.deepEqual(batches.map((b) => b.id), batches.map(() => 'order-9'));
    let next = 0;
    for (const b of batches) {
      assert.equal(b.first, next, 'each line starts where the last ended');
      next += b.count;
    }
    assert.equal(next, 7);
    assert.deepEqual(Float32Array.from(batches.flatMap((b) => [...b.rows])), rows);
    const unnamed = parseLambdaCaptures(captureLines({ ...request, id: undefined }).join('\n'), card).batches[0]!;
    assert.deepEqual([unnamed.id, unnamed.first, unnamed.count], [undefined, undefined, 7], 'no id, no first: as before issue 17');
    const bad = parseLambdaCaptures(one[0]!.replace('"first":0', '"first":-2'), card);
    assert.deepEqual([bad.rejected, bad.problems[0]], [1, 'line 1: "first" is not a whole number, 0 or more']);
  });

  it('StdoutCaptureSink writes a request in one write, a line per record, prediction lines before capture lines', () => {
    const both: string[] = [];
    const sink = new StdoutCaptureSink({ write: (text: string) => both.push(text) });
    sink.writePredictions('m', '1', new Date(), ['{"p":1}'], ['{"c":1}', '{"c":2}']);
    sink.writePredictions('m', '1', new Date(), ['{"p":2}']);
    assert.deepEqual(both, ['{"p":1}\n{"c":1}\n{"c":2}\n', '{"p":2}\n']);
    const writes: string[] = [];
    new StdoutCaptureSink({ write: (text: string) => writes.push(text) }).writeLambda('m', '1', new Date(), ['{"a":1}', '{"a":2}']);
    assert.deepEqual(writes, ['{"a":1}\n{"a":2}\n']);
  });

  it('bad lines are counted and described, the good ones kept', () => {
    const good = captureLines({ model: card.name, version: '1', time: new Date(0), capturePercent: 10, rows: new Float32Array(30).fill(1), count: 1, width: 30, classIndex: Int32Array.of(1), labels: card.labels });
    const text = [good[0], '{"mlshipCapture":1,"model":"x"', '{"mlshipCapture":1,"model":"breast-cancer","version":"1","time":"2026-01-01T00:00:00Z","capturePercent":10,"inputs":[[1,2]]}', '', good[0]].join('\n');
    const parsed = parseLambdaCaptures(text, card);
    assert.equal(parsed.batches.length, 2);
    assert.equal(parsed.lines, 4);
    assert.equal(parsed.rejected, 2);
    assert.match(parsed.problems[0]!, /line 2: not JSON/);
    assert.match(parsed.problems[1]!, /line 3: instance 0 has 2 values, breast-cancer has 30 features/);
  });
});

describe('SageMaker capture lines', () => {
  let served: ServedModel;
  before(async () => {
    served = await ServedModel.load(join(REPO_ROOT, 'models', 'digits', '1'));
  });
  after(async () => served.release());

  for (const encoding of ['JSON', 'BASE64'] as const) {
    it(`a Triton request and answer captured with ${encoding} encoding parse back to the same rows and classes`, async () => {
      const width = digitsCard.input.features.length;
      const rows = Float32Array.from({ length: 5 * width }, (_, k) => (k * 7) % 17);
      const { body } = tritonRequest(digitsCard, rows, 5);
      const answer = await handleInvocation(served, body, 'application/json');
      assert.equal(answer.statusCode, 200, answer.body);
      const line = sageMakerCaptureLine({
        eventId: 'e-1',
        time: new Date('2026-11-22T09:59:59.000Z'),
        input: { contentType: 'application/json', body },
        output: { contentType: 'application/json', body: answer.body },
        jsonContentTypes: encoding === 'JSON' ? ['application/json'] : [],
      });
      const raw = JSON.parse(line) as { captureData: { endpointInput: { encoding: string; mode: string; data: string } } };
      assert.equal(raw.captureData.endpointInput.encoding, encoding);
      assert.equal(raw.captureData.endpointInput.mode, 'INPUT');
      const parsed = parseSageMakerCaptures(`${line}\n`, digitsCard);
      assert.equal(parsed.rejected, 0, parsed.problems.join('; '));
      const [batch] = parsed.batches;
      assert.deepEqual(batch!.rows, rows);
      assert.equal(batch!.count, 5);
      assert.deepEqual(batch!.classIndex, (await served.predict(rows, 5)).classIndex);
      assert.equal(batch!.time.toISOString(), '2026-11-22T09:59:59.000Z');
    });
  }

  it("reads a capture line as SageMaker documents it (nested data, eventMetadata with inferenceId), and rejects CSV bodies", () => {
    // Shaped after the example in the SageMaker Developer Guide, "View Data Capture Data"; bodies are Triton's.
    const input = JSON.stringify({ inputs: [{ name: digitsCard.input.tensorName, shape: [1, 64], datatype: 'FP32', data: [Array.from({ length: 64 }, (_, k) => k % 16)] }] });
    const output = JSON.stringify({ model_name: 'digits', model_version: '1', outputs: [{ name: digitsCard.output.scoresTensor, datatype: 'FP32', shape: [1, 10], data: [0, 0, 0, 9, 0, 0, 0, 0, 0, 1] }] });
    const line = JSON.stringify({
      captureData: {
        endpointInput: { observedContentType: 'application/json', mode: 'INPUT', data: input, encoding: 'JSON' },
        endpointOutput: { observedContentType: 'application/json', mode: 'OUTPUT', data: Buffer.from(output).toString('base64'), encoding: 'BASE64' },
      },
      eventMetadata: { eventId: '36c46b4c-0a1b-4b4f-9f1f-7f3b2f0e2a55', inferenceId: 'i-1', inferenceTime: '2026-11-22T10:00:01Z' },
      eventVersion: '0',
    });
    const csv = JSON.stringify({ ...JSON.parse(line), captureData: { endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data: '1,2,3', encoding: 'CSV' }, endpointOutput: {} } });
    const parsed = parseSageMakerCaptures(`${line}\n${csv}\n`, digitsCard);
    assert.equal(parsed.batches.length, 1);
    assert.deepEqual(Array.from(parsed.batches[0]!.classIndex!), [3], 'the arg max of the scores');
    assert.equal(parsed.batches[0]!.version, '1');
    assert.equal(parsed.rejected, 1);
    assert.match(parsed.problems[0]!, /encoding CSV is not JSON or BASE64/);
  });
});

describe('capture keys', () => {
  it('lay captures out per model, version and UTC hour, and list the hours of a window', () => {
    const t = new Date('2026-03-07T04:30:00.000Z');
    assert.equal(hourPath(t), '2026/03/07/04');
    assert.equal(lambdaCaptureHourPrefix('breast-cancer', '3', t), 'lambda/model=breast-cancer/version=3/2026/03/07/04/');
    assert.equal(sageMakerCaptureHourPrefix('mlship-dev-digits', t), 'data-capture/mlship-dev-digits/AllTraffic/2026/03/07/04/');
    const hours = hoursOf({ from: new Date('2026-03-06T23:10:00Z'), to: new Date('2026-03-07T02:00:00Z') });
    assert.deepEqual(hours.map(hourPath), ['2026/03/06/23', '2026/03/07/00', '2026/03/07/01']);
  });
});
