// The Lambda handler driven by API Gateway REST proxy events, on a real ONNX session.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ServedModel } from '../../../lambdas/core/models/inference-session';
import { ModelUnavailableError } from '../../../lambdas/core/serving/errors';
import { ModelApi, type Predictor } from '../../../lambdas/core/serving/model-api';
import { createInferenceHandler, type InferenceHandler } from '../../../lambdas/inference/handler';
import { apiEvent } from '../../fixtures/api-events';
import { createFixtureProject, softmaxRegression, type FixtureProject } from '../../fixtures/model-folder';

const features = ['radius', 'texture', 'perimeter', 'area'];

const event = apiEvent;

function json(result: APIGatewayProxyResult): { error?: { code: string; message: string } } & Record<string, unknown> {
  assert.equal(result.headers?.['content-type'], 'application/json');
  return JSON.parse(result.body) as never;
}

describe('inference handler', () => {
  let project: FixtureProject;
  let model: ServedModel;
  let handler: InferenceHandler;

  before(async () => {
    project = createFixtureProject({ models: [{ name: 'tumour', version: 3, features, labels: ['malignant', 'benign'] }] });
    model = await ServedModel.load(join(project.root, 'tumour', '3'));
    handler = createInferenceHandler({ api: new ModelApi(model, { maxBodyBytes: 4096, maxBatchSize: 50 }), logger: new Logger({ logLevel: 'SILENT' }) });
  });
  after(async () => {
    await model.release();
    project.cleanup();
  });

  it('answers v1 predict with the ONNX model probabilities, the label and the model version', async () => {
    const rows = [[1, 2, 3, 4], [-3, 0.5, 2, -1]];
    const result = await handler(event('POST', '/v1/models/tumour:predict', { instances: [rows[0], { area: -1, perimeter: 2, texture: 0.5, radius: -3 }] }));
    assert.equal(result.statusCode, 200);
    assert.equal(result.headers?.['x-model-version'], '3');
    const { predictions } = json(result) as unknown as { predictions: { label: string; probabilities: Record<string, number> }[] };
    rows.forEach((row, i) => {
      const expected = softmaxRegression(row, 4, 2);
      assert.ok(Math.abs(predictions[i]!.probabilities.malignant! - expected[0]!) < 1e-5);
      assert.ok(Math.abs(predictions[i]!.probabilities.benign! - expected[1]!) < 1e-5);
      assert.equal(predictions[i]!.label, expected[1]! > expected[0]! ? 'benign' : 'malignant');
    });
  });

  it('answers v2 infer with label and probability tensors', async () => {
    const body = { id: 'r1', inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };
    const answer = json(await handler(event('POST', '/v2/models/tumour/infer', body))) as unknown as { id: string; model_version: string; outputs: { name: string; data: unknown[] }[] };
    assert.equal(answer.id, 'r1');
    assert.equal(answer.model_version, '3');
    const expected = softmaxRegression([1, 2, 3, 4], 4, 2);
    assert.deepEqual(answer.outputs.map((o) => o.name), ['label', 'probabilities']);
    assert.ok(Math.abs((answer.outputs[1]!.data[1] as number) - expected[1]!) < 1e-5);
  });

  it('answers metadata, readiness and v1 status', async () => {
    const metadata = json(await handler(event('GET', '/v2/models/tumour')));
    assert.deepEqual((metadata.parameters as { features: string[] }).features, features);
    assert.deepEqual(json(await handler(event('GET', '/v2/models/tumour/ready'))), { name: 'tumour', ready: true });
    assert.deepEqual(json(await handler(event('GET', '/v1/models/tumour'))), { name: 'tumour', version: '3', ready: true });
  });

  it('decodes base64 bodies and reads the content type whatever its case', async () => {
    const body = Buffer.from(JSON.stringify({ instances: [[1, 2, 3, 4]] })).toString('base64');
    const result = await handler({ ...event('POST', '/v1/models/tumour:predict', body, { 'CONTENT-TYPE': 'application/json; charset=utf-8' }), isBase64Encoded: true });
    assert.equal(result.statusCode, 200);
  });

  const badRequests: [string, APIGatewayProxyEvent, number, string, RegExp][] = [
    ['malformed JSON', event('POST', '/v1/models/tumour:predict', '{"instances": [[1,2'), 400, 'invalid_json', /request body is not valid JSON/],
    ['an empty body', event('POST', '/v1/models/tumour:predict'), 400, 'invalid_json', /request body is empty/],
    ['a wrong content type', event('POST', '/v1/models/tumour:predict', 'instances=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type', /content-type must be application\/json, received 'application\/x-www-form-urlencoded'/],
    ['the wrong number of features', event('POST', '/v1/models/tumour:predict', { instances: [[1, 2, 3]] }), 400, 'invalid_request', /instances\[0\] must have 4 feature values, received 3/],
    ['a missing feature name', event('POST', '/v1/models/tumour:predict', { instances: [{ radius: 1, texture: 1, perimeter: 1 }] }), 400, 'invalid_request', /instances\[0\] is missing feature 'area'/],
    ['an unknown feature name', event('POST', '/v1/models/tumour:predict', { instances: [{ radius: 1, texture: 1, perimeter: 1, area: 1, age: 40 }] }), 400, 'invalid_request', /unknown feature 'age'/],
    ['a string where a number belongs', event('POST', '/v1/models/tumour:predict', { instances: [[1, '2', 3, 4]] }), 400, 'invalid_request', /instances\[0\]\[1\] \(texture\) must be a number, received the string '2'/],
    ['a null where a number belongs', event('POST', '/v2/models/tumour/infer', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, null, 3, 4] }] }), 400, 'invalid_request', /inputs\[0\]\.data\[1\] must be a number, received null/],
    ['an empty batch', event('POST', '/v1/models/tumour:predict', { instances: [] }), 400, 'invalid_request', /instances must not be empty/],
    ['a batch over the limit', event('POST', '/v1/models/tumour:predict', { instances: new Array(51).fill([1, 2, 3, 4]) }), 400, 'invalid_request', /51 instances, more than the limit of 50/],
    ['a body over the size limit', event('POST', '/v1/models/tumour:predict', { instances: [[1, 2, 3, 4]], padding: 'x'.repeat(5000) }), 413, 'payload_too_large', /larger than the limit of 4096 bytes/],
    ['an unknown model', event('POST', '/v1/models/nosuch:predict', { instances: [[1, 2, 3, 4]] }), 404, 'model_not_found', /model 'nosuch' is not served here/],
    ['a wrong method', event('DELETE', '/v2/models/tumour/infer'), 405, 'method_not_allowed', /method DELETE is not allowed on \/v2\/models\/tumour\/infer; use POST/],
    ['an unknown route', event('GET', '/admin'), 404, 'route_not_found', /no route GET \/admin/],
  ];
  for (const [what, request, status, code, message] of badRequests) {
    it(`answers ${status} ${code} for ${what}`, async () => {
      const result = await handler(request);
      assert.equal(result.statusCode, status);
      const body = json(result);
      assert.equal(body.error?.code, code);
      assert.match(body.error?.message ?? '', message);
      assert.doesNotMatch(result.body, /at .+\.ts:\d+/, 'no stack trace in the answer');
    });
  }

  it('keeps answering after bad input', async () => {
    for (const [, request] of badRequests) await handler(request);
    assert.equal((await handler(event('POST', '/v1/models/tumour:predict', { instances: [[1, 2, 3, 4]] }))).statusCode, 200);
  });
});

describe('inference handler over a predictor that fails at run time', () => {
  let project: FixtureProject;
  let model: ServedModel;
  before(async () => {
    project = createFixtureProject({ models: [{ name: 'tumour', version: 3, features, labels: ['malignant', 'benign'] }] });
    model = await ServedModel.load(join(project.root, 'tumour', '3'));
  });
  after(async () => {
    await model.release();
    project.cleanup();
  });

  it('answers 503 model_unavailable for a session failure and 500 internal_error for anything else, then answers again', async () => {
    let failWith: Error | undefined;
    // The real session, with a failure injected in front of it.
    const predictor: Predictor = { card: model.card, predict: (rows, count) => (failWith ? Promise.reject(failWith) : model.predict(rows, count)) };
    const records: number[] = [];
    const handler = createInferenceHandler({ api: new ModelApi(predictor, { maxBodyBytes: 4096, maxBatchSize: 50 }), logger: new Logger({ logLevel: 'SILENT' }), onRecord: (record) => records.push(record.statusCode) });
    const request = () => handler(event('POST', '/v1/models/tumour:predict', { instances: [[1, 2, 3, 4]] }));

    failWith = new ModelUnavailableError('model tumour v3 failed to run: Non-zero status code returned while running Reshape node');
    const unavailable = await request();
    assert.equal(unavailable.statusCode, 503);
    assert.deepEqual(json(unavailable).error, { code: 'model_unavailable', message: 'model tumour v3 failed to run: Non-zero status code returned while running Reshape node' });

    failWith = new RangeError('offset out of bounds at /var/task/index.mjs:1:2345');
    const internal = await request();
    assert.equal(internal.statusCode, 500);
    assert.equal(json(internal).error?.code, 'internal_error');
    assert.doesNotMatch(internal.body, /offset|index\.mjs/, 'the error text stays in the log');

    failWith = undefined;
    assert.equal((await request()).statusCode, 200);
    assert.deepEqual(records, [503, 500, 200], 'each failure counted with its status');
  });
});

describe('Lambda entry point (index.ts)', () => {
  let project: FixtureProject;
  before(() => {
    project = createFixtureProject({ models: [{ name: 'tumour', version: 2, features, labels: ['malignant', 'benign'] }] });
  });
  after(() => project.cleanup());

  it('loads the model from MODEL_DIR, answers, and publishes the request metrics and a cold-start metric as EMF', async () => {
    Object.assign(process.env, { AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand', MODEL_DIR: join(project.root, 'tumour', '2'), POWERTOOLS_METRICS_NAMESPACE: 'mlship', POWERTOOLS_SERVICE_NAME: 'mlship-tumour', MAX_BATCH_SIZE: '10' });
    const { handler } = await import('../../../lambdas/inference/index');
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
    let result: APIGatewayProxyResult;
    try {
      result = await handler(event('POST', '/v1/models/tumour:predict', { instances: [[1, 2, 3, 4], [4, 3, 2, 1]] }), { functionName: 'tumour', awsRequestId: 'req-1' } as Context);
    } finally {
      process.stdout.write = write;
    }
    assert.equal(result.statusCode, 200);
    assert.equal(result.headers?.['x-model-version'], '2');
    const emfLines = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => '_aws' in l);
    const emf = emfLines.find((l) => 'Requests' in l);
    assert.ok(emf, `an EMF line was printed: ${lines.join('')}`);
    assert.equal(emf.model, 'tumour');
    assert.equal(emf.version, '2');
    assert.equal(emf.Requests, 1);
    assert.equal(emf.Instances, 2);
    assert.equal(typeof emf.InferenceLatency, 'number');
    const coldStart = emfLines.find((l) => 'ColdStart' in l);
    assert.ok(coldStart, 'a ColdStart metric on the first invocation of an on-demand environment');
    assert.equal(coldStart.function_name, 'tumour');
  });

  it('answers 503 when the model fails to load, and still counts the request and the 5xx for this version', async () => {
    // A fresh process: the entry point loads its model once, at module scope.
    const script = `
      const { handler } = await import('./lambdas/inference/index.ts');
      const result = await handler({ httpMethod: 'POST', resource: '/v1/models/tumour:predict', path: '/v1/models/tumour:predict', headers: {}, body: '{}' }, { functionName: 'tumour' });
      process.stderr.write('RESULT ' + JSON.stringify(result) + '\\n');`;
    const env = { ...process.env, MODEL_DIR: join(project.root, 'missing'), MODEL_NAME: 'tumour', MODEL_VERSION: '7', POWERTOOLS_METRICS_NAMESPACE: 'mlship', POWERTOOLS_SERVICE_NAME: 'mlship-tumour' };
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env });
    const result = JSON.parse(/RESULT (.+)/.exec(stderr)![1]!) as APIGatewayProxyResult;
    assert.equal(result.statusCode, 503);
    assert.match(result.body, /"code":"model_unavailable".*failed to load/);
    // Powertools writes ERROR and CRITICAL lines to stderr, the rest to stdout; Lambda sends both to the log.
    const lines = `${stdout}\n${stderr}`.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l.level === 'CRITICAL' && l.message === 'model failed to load'), `the load failure is logged as critical: ${stdout}${stderr}`);
    const emf = lines.find((l) => '_aws' in l && 'ServerErrors' in l);
    assert.ok(emf, `a ServerErrors metric: ${stdout}`);
    assert.deepEqual([emf.model, emf.version, emf.Requests, emf.ServerErrors], ['tumour', '7', 1, 1]);
  });
});
