// The SageMaker proxy end to end, with real pieces: the proxy handler (built as index.ts builds it) ->
// a real SageMakerRuntimeClient -> HTTP -> the local SageMaker endpoint -> the shipped digits model on
// onnxruntime. It must answer as the Lambda path does (the same ModelApi on the same model, in process),
// refuse bad input before calling the endpoint, and turn every endpoint failure into a 400 or a prompt
// 503 that names the endpoint.
// Over 400 lines: one case per failure of the endpoint and per refusal, against one stub endpoint.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { InvokeEndpointCommand, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ModelUnavailableError } from '../../../lambdas/core/serving/errors';
import { ServedModel } from '../../../lambdas/core/models/inference-session';
import { ModelApi, type ApiLimits } from '../../../lambdas/core/serving/model-api';
import { modelCardSchema, type ModelCard } from '../../../lambdas/core/models/model-card';
import { createSageMakerRuntimeClient } from '../../../lambdas/core/sagemaker/predictor';
import { createInferenceHandler, type InferenceHandler } from '../../../lambdas/inference/handler';
import { parsePredictionLine } from '../../../lambdas/core/quality/predictions/prediction-record';
import type { PredictionSink } from '../../../lambdas/core/quality/predictions/prediction-sink';
import { createSageMakerProxyHandler } from '../../../lambdas/sagemaker-proxy/handler';
import { EndpointCapture, handleInvocation, localEndpointName, startLocalSageMakerEndpoint, type EndpointModel, type LocalSageMakerEndpoint } from '../../../local/sagemaker/endpoint';
import { apiEvent } from '../../fixtures/api-events';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const digitsDir = join(repoRoot, 'models', 'digits', '1');
const card = modelCardSchema.parse(JSON.parse(readFileSync(join(digitsDir, 'model.json'), 'utf8')));
const limits: ApiLimits = { maxBodyBytes: 64 * 1024, maxBatchSize: 20 };
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const TIMEOUT_MS = 2000;
const silent = new Logger({ logLevel: 'SILENT' });

/** The five golden digits (0 to 4) of the model card, 64 pixels each. */
const images = card.golden.map((g) => g.input);
const asRows = (image: readonly number[]) => Array.from({ length: 8 }, (_, r) => image.slice(r * 8, r * 8 + 8));

function event(method: string, resource: string, body?: unknown, contentType = 'application/json'): APIGatewayProxyEvent {
  return apiEvent(method, resource, body, { 'Content-Type': contentType });
}

interface V1Answer {
  predictions: { label: string; probabilities: Record<string, number> }[];
}
interface V2Answer {
  model_version: string;
  outputs: { name: string; shape: number[]; data: (string | number)[] }[];
}

/** A proxy handler built as index.ts builds it, against `url` and `endpointName`. */
function proxyFor(url: string, endpointName: string, options: { card?: ModelCard; timeoutMs?: number; predictions?: PredictionSink } = {}): InferenceHandler {
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  return createSageMakerProxyHandler({
    client: createSageMakerRuntimeClient({ endpoint: url, region: 'us-east-1', credentials, timeoutMs }),
    endpointName,
    card: options.card ?? card,
    timeoutMs,
    limits,
    logger: silent,
    ...(options.predictions ? { predictions: options.predictions } : {}),
  });
}

/** A v2 answer without its `id`: each request gets its own inference id, the rest is the same on both paths. */
const withoutId = (body: string) => body.replace(/"id":"[^"]*",/, '');

async function timed(run: () => Promise<APIGatewayProxyResult>): Promise<{ result: APIGatewayProxyResult; ms: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started };
}

function errorOf(result: APIGatewayProxyResult): { code: string; message: string } {
  return (JSON.parse(result.body) as { error: { code: string; message: string } }).error;
}

/** A free port with nothing listening on it: an endpoint that is down. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('SageMaker proxy -> real SDK client -> local endpoint -> digits on onnxruntime', () => {
  let model: ServedModel;
  let modelV2: ServedModel;
  let endpoint: LocalSageMakerEndpoint;
  let proxy: InferenceHandler;
  /** The Lambda path: the same API on the same model, in process. */
  let lambda: InferenceHandler;
  const failing: EndpointModel = {
    card,
    predict: async () => {
      throw new ModelUnavailableError('model digits v1 failed to run: CUDA out of memory');
    },
  };

  before(async () => {
    model = await ServedModel.load(digitsDir);
    // The same ONNX file under version 2: an endpoint that answers with another version than the proxy's card.
    modelV2 = await ServedModel.fromBytes({ ...card, version: 2 }, readFileSync(join(digitsDir, 'model.onnx')));
    endpoint = await startLocalSageMakerEndpoint(
      new Map<string, EndpointModel>([
        [localEndpointName('digits', 1), model],
        [localEndpointName('digits', 2), modelV2],
        ['digits-failing', failing],
      ]),
    );
    proxy = proxyFor(endpoint.url, 'digits-v1');
    lambda = createInferenceHandler({ api: new ModelApi(model, limits), logger: silent });
  });
  after(async () => {
    await endpoint.close();
    await model.release();
    await modelV2.release();
  });

  it('names local endpoints by model and version', () => {
    assert.equal(localEndpointName('digits', 1), 'digits-v1');
  });

  it('v1: arrays, 8x8 images and a batch of both give the labels and probabilities of the model itself', async () => {
    const expected = await model.predict(Float32Array.from(images.flat()), images.length);
    const bodies = [
      { instances: images },
      { instances: images.map(asRows) },
      { instances: images.map((image, i) => (i % 2 === 0 ? image : asRows(image))) },
    ];
    for (const body of bodies) {
      const result = await proxy(event('POST', '/v1/models/digits:predict', body));
      assert.equal(result.statusCode, 200, result.body);
      assert.equal(result.headers?.['x-model-version'], '1');
      const { predictions } = JSON.parse(result.body) as V1Answer;
      assert.deepEqual(predictions.map((p) => p.label), ['0', '1', '2', '3', '4']);
      predictions.forEach((p, i) => {
        assert.equal(p.label, card.labels[expected.classIndex[i]!]);
        card.labels.forEach((label, j) => assert.ok(Math.abs(p.probabilities[label]! - expected.scores[i * 10 + j]!) < 1e-6, `instance ${i} label ${label}`));
      });
      // Byte for byte what the Lambda path answers.
      assert.equal(result.body, (await lambda(event('POST', '/v1/models/digits:predict', body))).body);
    }
  });

  it('v2: a flat [N, 64] tensor, nested [N, 8, 8] images and one input per feature answer as the Lambda path', async () => {
    const flat = { id: 'r1', inputs: [{ name: 'input', shape: [5, 64], datatype: 'FP32', data: images.flat() }] };
    const nested = { inputs: [{ name: 'input', shape: [5, 8, 8], datatype: 'FP32', data: images.map(asRows) }] };
    const columns = { inputs: card.input.features.map((name, f) => ({ name, shape: [5], datatype: 'FP32', data: images.map((image) => image[f]) })) };
    const expected = await model.predict(Float32Array.from(images.flat()), images.length);
    for (const body of [flat, nested, columns]) {
      const result = await proxy(event('POST', '/v2/models/digits/infer', body));
      assert.equal(result.statusCode, 200, result.body);
      const answer = JSON.parse(result.body) as V2Answer;
      assert.equal(answer.model_version, '1');
      assert.deepEqual(answer.outputs[0]!.data, ['0', '1', '2', '3', '4']);
      const probabilities = answer.outputs[1]!;
      assert.deepEqual(probabilities.shape, [5, 10]);
      probabilities.data.forEach((p, k) => assert.ok(Math.abs((p as number) - expected.scores[k]!) < 1e-6, `probability ${k}`));
      // The answer's id is the inference id: the caller's v2 `id` when it sent one, else a new one, also in the header.
      assert.equal((JSON.parse(result.body) as { id: string }).id, body === flat ? 'r1' : result.headers?.['x-inference-id']);
      assert.equal(result.headers?.['x-inference-id'], (JSON.parse(result.body) as { id: string }).id);
      assert.equal(withoutId(result.body), withoutId((await lambda(event('POST', '/v2/models/digits/infer', body))).body));
    }
  });

  it('takes x-model-version and model_version from the version the endpoint says answered, and records the predictions under it', async () => {
    const recorded: { version: string; lines: readonly string[] }[] = [];
    const shifted = proxyFor(endpoint.url, 'digits-v2', { predictions: { writePredictions: (_model, version, _time, lines) => void recorded.push({ version, lines }) } });
    const v1 = await shifted(event('POST', '/v1/models/digits:predict', { instances: [images[3]] }));
    assert.equal(v1.statusCode, 200);
    assert.equal(v1.headers?.['x-model-version'], '2', 'the card bundled with the proxy says 1; the endpoint answered with 2');
    const v2 = await shifted(event('POST', '/v2/models/digits/infer', { inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: images[3] }] }));
    assert.equal(v2.headers?.['x-model-version'], '2');
    assert.equal((JSON.parse(v2.body) as V2Answer).model_version, '2');
    const records = recorded.map((r) => ({ version: r.version, lines: r.lines.map(parsePredictionLine) }));
    assert.deepEqual(records.map((r) => r.version), ['2', '2']);
    assert.deepEqual(records.map((r) => r.lines.map((l) => [l.version, l.id, l.first, l.count, l.classes?.[l.predicted![0]!]])), [
      [['2', v1.headers?.['x-inference-id'], 0, 1, '3']],
      [['2', v2.headers?.['x-inference-id'], 0, 1, '3']],
    ]);
  });

  it("passes the request's inference id as InferenceId: the endpoint's capture line names it (eventMetadata.inferenceId); one over 64 characters is not sent, and told", async () => {
    const captured: { endpointName: string; line: string }[] = [];
    const capture = new EndpointCapture({ writeSageMaker: (endpointName, _time, line) => void captured.push({ endpointName, line }) });
    capture.set('digits-v1', 100);
    const capturing = await startLocalSageMakerEndpoint(new Map<string, EndpointModel>([[localEndpointName('digits', 1), model]]), 0, { capture });
    const warnings: unknown[] = [];
    const logger = new Logger({ logLevel: 'SILENT' });
    logger.warn = ((...args: unknown[]) => void warnings.push(args)) as typeof logger.warn;
    try {
      const handler = createSageMakerProxyHandler({ client: createSageMakerRuntimeClient({ endpoint: capturing.url, region: 'us-east-1', credentials, timeoutMs: TIMEOUT_MS }), endpointName: 'digits-v1', card, timeoutMs: TIMEOUT_MS, limits, logger });
      const named = await handler(apiEvent('POST', '/v1/models/digits:predict', { instances: [images[1], images[2]] }, { 'Content-Type': 'application/json', 'x-inference-id': 'order-1234' }));
      const made = await handler(event('POST', '/v2/models/digits/infer', { inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: images[3] }] }));
      const longId = 'x'.repeat(65);
      const tooLong = await handler(apiEvent('POST', '/v1/models/digits:predict', { instances: [images[4]] }, { 'Content-Type': 'application/json', 'x-inference-id': longId }));
      assert.deepEqual([named.statusCode, made.statusCode, tooLong.statusCode], [200, 200, 200]);
      assert.equal(tooLong.headers?.['x-inference-id'], longId, 'the caller still gets its own id back');
      const metadata = captured.map((c) => (JSON.parse(c.line) as { eventMetadata: { inferenceId?: string } }).eventMetadata);
      assert.deepEqual(captured.map((c) => c.endpointName), ['digits-v1', 'digits-v1', 'digits-v1']);
      assert.deepEqual(
        metadata.map((m) => m.inferenceId),
        ['order-1234', made.headers?.['x-inference-id'], undefined],
      );
      assert.match(String(made.headers?.['x-inference-id']), /^[A-Za-z0-9_-]{10,64}$/, 'the id mlship made fits InferenceId');
      assert.equal(warnings.length, 1);
      assert.match(JSON.stringify(warnings[0]), /inference id longer than SageMaker InferenceId takes.*"inferenceIdLength":65,"maxLength":64,"requestsSoFar":1/);
    } finally {
      await capturing.close();
    }
  });

  it('answers metadata and readiness from the card, without calling the endpoint', async () => {
    const before = endpoint.invocations.length;
    for (const [path, expected] of [
      ['/v2/models/digits', await lambda(event('GET', '/v2/models/digits'))],
      ['/v2/models/digits/ready', await lambda(event('GET', '/v2/models/digits/ready'))],
      ['/v1/models/digits', await lambda(event('GET', '/v1/models/digits'))],
    ] as const) {
      const result = await proxy(event('GET', path));
      assert.equal(result.statusCode, 200);
      assert.equal(result.body, expected.body, path);
    }
    assert.equal(endpoint.invocations.length, before);
  });

  it('gives bad input the same 4xx as the Lambda path, and never calls the endpoint for it', async () => {
    const before = endpoint.invocations.length;
    const bad: [string, unknown, string?][] = [
      ['/v1/models/digits:predict', '{"instances": [1,'],
      ['/v1/models/digits:predict', ''],
      ['/v1/models/digits:predict', { instances: [] }],
      ['/v1/models/digits:predict', { instances: [images[0]!.slice(1)] }],
      ['/v1/models/digits:predict', { instances: [[...images[0]!.slice(1), 'abc']] }],
      ['/v1/models/digits:predict', { instances: [{ pixel_0_0: 1 }] }],
      ['/v1/models/digits:predict', { instances: Array.from({ length: 21 }, () => images[0]) }],
      ['/v1/models/digits:predict', { instances: [images[0]] }, 'text/csv'],
      ['/v1/models/digits:predict', { instances: Array.from({ length: 20 }, () => images[0]), padding: 'x'.repeat(64 * 1024) }],
      ['/v2/models/digits/infer', { inputs: [{ name: 'pixels', shape: [1, 64], datatype: 'FP32', data: images[0] }] }],
      ['/v2/models/digits/infer', { inputs: [{ name: 'input', shape: [1, 63], datatype: 'FP32', data: images[0] }] }],
      ['/v2/models/digits/infer', { inputs: [{ name: 'input', shape: [1, 64], datatype: 'BYTES', data: images[0] }] }],
      ['/v2/models/other/infer', { inputs: [] }],
    ];
    const statuses = new Set<number>();
    for (const [path, body, contentType] of bad) {
      const viaProxy = await proxy(event('POST', path, body, contentType));
      const viaLambda = await lambda(event('POST', path, body, contentType));
      assert.ok(viaProxy.statusCode >= 400 && viaProxy.statusCode < 500, `${path} ${JSON.stringify(body).slice(0, 80)}: ${viaProxy.statusCode}`);
      assert.equal(viaProxy.statusCode, viaLambda.statusCode);
      assert.equal(viaProxy.body, viaLambda.body);
      statuses.add(viaProxy.statusCode);
    }
    assert.deepEqual([...statuses].sort(), [400, 404, 413, 415]);
    assert.equal(endpoint.invocations.length, before, 'no bad request reached the endpoint');
  });

  it('answers 400 with the model\'s own message when the endpoint refuses the input', async () => {
    // A proxy whose card sends [N, 8, 8] to a Triton model configured for [N, 64]: Triton refuses the shape.
    const mismatched = proxyFor(endpoint.url, 'digits-v1', { card: { ...card, input: { ...card.input, shape: [-1, 8, 8] } } });
    const result = await mismatched(event('POST', '/v1/models/digits:predict', { instances: [images[0]] }));
    assert.equal(result.statusCode, 400);
    assert.equal(errorOf(result).code, 'invalid_request');
    assert.equal(errorOf(result).message, "the model refused the input: unexpected shape for input 'input' for model 'digits'. Expected [-1,64], got [1,8,8]");
    assert.equal(endpoint.invocations.at(-1)?.statusCode, 424, 'SageMaker answered ModelError');
  });

  it('answers 503 naming the endpoint when the model fails to run behind it', async () => {
    const result = await proxyFor(endpoint.url, 'digits-failing')(event('POST', '/v1/models/digits:predict', { instances: [images[0]] }));
    assert.equal(result.statusCode, 503);
    assert.equal(errorOf(result).code, 'model_unavailable');
    assert.match(errorOf(result).message, /^the SageMaker endpoint digits-failing failed to run the model \(status 500\): model digits v1 failed to run: CUDA out of memory; retry later$/);
  });

  it('answers 503 naming an endpoint that does not exist, without the account', async () => {
    const result = await proxyFor(endpoint.url, 'mlship-dev-missing')(event('POST', '/v1/models/digits:predict', { instances: [images[0]] }));
    assert.equal(result.statusCode, 503);
    assert.match(errorOf(result).message, /^the SageMaker endpoint mlship-dev-missing was not found: is it deployed, in this account and region\?/);
    assert.doesNotMatch(result.body, /000000000000/);
  });

  it('answers 503 at once, with a clear message, when the endpoint is down', async () => {
    const port = await closedPort();
    const { result, ms } = await timed(() => proxyFor(`http://127.0.0.1:${port}`, 'mlship-dev-digits')(event('POST', '/v1/models/digits:predict', { instances: [images[0]] })));
    assert.equal(result.statusCode, 503);
    assert.equal(errorOf(result).message, 'the SageMaker endpoint mlship-dev-digits refused the connection (ECONNREFUSED): it is down or not listening; retry later');
    assert.ok(ms < TIMEOUT_MS + 1000, `answered in ${ms.toFixed(0)} ms`);
    console.log(`# endpoint down: 503 in ${ms.toFixed(1)} ms`);
  });

  describe('the local endpoint, as any SageMaker runtime client sees it', () => {
    let client: SageMakerRuntimeClient;
    before(() => {
      client = createSageMakerRuntimeClient({ endpoint: endpoint.url, region: 'us-east-1', credentials, timeoutMs: TIMEOUT_MS });
    });
    const invoke = (endpointName: string, body: unknown, contentType = 'application/json') =>
      client.send(new InvokeEndpointCommand({ EndpointName: endpointName, ContentType: contentType, Accept: 'application/json', Body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) }));

    it("answers Triton's JSON, every output when none is asked for, and the variant that answered", async () => {
      const response = await invoke('digits-v1', { id: 'q', inputs: [{ name: 'input', shape: [2, 64], datatype: 'FP32', data: [images[0], images[1]] }] });
      assert.equal(response.InvokedProductionVariant, 'AllTraffic');
      assert.equal(response.ContentType, 'application/json');
      const answer = JSON.parse(Buffer.from(response.Body!).toString('utf8')) as V2Answer & { model_name: string; id: string };
      assert.deepEqual([answer.model_name, answer.model_version, answer.id], ['digits', '1', 'q']);
      assert.deepEqual(answer.outputs.map((o) => [o.name, (o as { datatype?: string }).datatype, o.shape]), [['probabilities', 'FP32', [2, 10]], ['label', 'INT64', [2]]]);
      assert.deepEqual(answer.outputs[1]!.data, [0, 1]);
    });

    it("refuses input as SageMaker relays Triton's refusal: a ModelError carrying status 400 and Triton's message", async () => {
      const refusals: [unknown, string, RegExp][] = [
        [{ inputs: [{ name: 'input', shape: [1, 64], datatype: 'INT32', data: images[0] }] }, 'application/json', /inference input 'input' data-type is 'INT32', but model 'digits' expects 'FP32'/],
        [{ inputs: [{ name: 'pixels', shape: [1, 64], datatype: 'FP32', data: images[0] }] }, 'application/json', /unexpected inference input 'pixels' for model 'digits'/],
        [{ inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: images[0]!.slice(1) }] }, 'application/json', /unexpected number of elements for input 'input' for model 'digits': 63/],
        [{ inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: images[0] }], outputs: [{ name: 'logits' }] }, 'application/json', /unexpected inference output 'logits' for model 'digits'/],
        ['{"inputs": [', 'application/json', /failed to parse the request JSON buffer/],
        ['1,2,3', 'text/csv', /unsupported content type 'text\/csv'/],
        // Found by the fuzzer: String() of these throws, which answered "the model failed to run" (status 500).
        [{ inputs: [{ name: { toString: 1 }, shape: [1, 64], datatype: 'FP32', data: images[0] }] }, 'application/json', /unexpected inference input 'an object' for model 'digits'/],
        [{ inputs: [{ name: 'input', shape: [1, 64], datatype: { valueOf: 1, toString: 1 }, data: images[0] }] }, 'application/json', /data-type is 'an object', but model 'digits' expects 'FP32'/],
        [{ inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: images[0] }], outputs: [{ name: { toString: 1 } }] }, 'application/json', /unexpected inference output 'an object' for model 'digits'/],
        // Found by the fuzzer: these were scored, answering 200 with null probabilities and label 0.
        [`{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[1e309${',0'.repeat(63)}]}]}`, 'application/json', /element 0 \(Infinity\) is out of range for FP32/],
        [`{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[0,-3.5e38${',0'.repeat(62)}]}]}`, 'application/json', /element 1 \(-3\.5e\+38\) is out of range for FP32/],
      ];
      for (const [body, contentType, message] of refusals) {
        await assert.rejects(invoke('digits-v1', body, contentType), (error: Error & { OriginalStatusCode?: number; OriginalMessage?: string; LogStreamArn?: string; $fault?: string; $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(error.name, 'ModelError');
          assert.equal(error.$metadata?.httpStatusCode, 424);
          assert.equal(error.$fault, 'client');
          assert.equal(error.OriginalStatusCode, 400);
          assert.equal(error.LogStreamArn, 'local');
          assert.match((JSON.parse(error.OriginalMessage!) as { error: string }).error, message);
          assert.match(error.message, /^Received client error \(400\) from primary with message "\{\\?"error/);
          return true;
        });
      }
    });

    it('answers an unknown endpoint with SageMaker\'s ValidationError', async () => {
      await assert.rejects(invoke('nosuch', { inputs: [] }), (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(error.name, 'ValidationError');
        assert.equal(error.message, 'Endpoint nosuch of account 000000000000 not found.');
        assert.equal(error.$metadata?.httpStatusCode, 400);
        return true;
      });
    });

    it('sends a logits model logits that give back the same probabilities through the proxy', async () => {
      const logitsCard: ModelCard = { ...card, output: { ...card.output, scoresKind: 'logits' } };
      const logitsModel = await ServedModel.fromBytes(logitsCard, readFileSync(join(digitsDir, 'model.onnx')));
      const local = await startLocalSageMakerEndpoint(new Map([['digits-logits', logitsModel]]));
      try {
        const body = { instances: images };
        const viaProxy = JSON.parse((await proxyFor(local.url, 'digits-logits', { card: logitsCard })(event('POST', '/v1/models/digits:predict', body))).body) as V1Answer;
        const inProcess = JSON.parse((await createInferenceHandler({ api: new ModelApi(logitsModel, limits), logger: silent })(event('POST', '/v1/models/digits:predict', body))).body) as V1Answer;
        assert.deepEqual(viaProxy.predictions.map((p) => p.label), inProcess.predictions.map((p) => p.label));
        viaProxy.predictions.forEach((p, i) => card.labels.forEach((l) => assert.ok(Math.abs(p.probabilities[l]! - inProcess.predictions[i]!.probabilities[l]!) < 1e-6)));
      } finally {
        await local.close();
        await logitsModel.release();
      }
    });
  });

  describe('an endpoint that accepts the connection and never answers', () => {
    let hanging: TcpServer;
    const sockets = new Set<Socket>();
    before(async () => {
      hanging = createTcpServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.resume();
      });
      hanging.listen(0, '127.0.0.1');
      await once(hanging, 'listening');
    });
    after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    });

    it('answers 503 after the timeout, not a hang, and does not retry a timeout', async () => {
      const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
      const { result, ms } = await timed(() => proxyFor(url, 'mlship-dev-digits')(event('POST', '/v1/models/digits:predict', { instances: [images[0]] })));
      assert.equal(result.statusCode, 503);
      assert.equal(errorOf(result).message, `the SageMaker endpoint mlship-dev-digits did not answer within ${TIMEOUT_MS} ms; retry later`);
      assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 1000, `answered in ${ms.toFixed(0)} ms`);
      assert.equal(sockets.size, 1, 'one attempt: a timeout is not retried');
      console.log(`# endpoint hangs: 503 in ${ms.toFixed(1)} ms (timeout ${TIMEOUT_MS} ms)`);
    });
  });

  describe('an endpoint that throttles', () => {
    let server: HttpServer;
    let url: string;
    let throttleNext = 0;
    let requests = 0;
    before(async () => {
      // SageMaker's throttling answer, then the real local endpoint behind it.
      server = createHttpServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          requests++;
          if (throttleNext > 0) {
            throttleNext--;
            response.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'ThrottlingException' });
            response.end(JSON.stringify({ message: 'Rate exceeded' }));
            return;
          }
          void handleInvocation(model, Buffer.concat(chunks).toString('utf8'), request.headers['content-type']).then((answer) => {
            response.writeHead(answer.statusCode, answer.headers);
            response.end(answer.body);
          });
        });
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('retries throttling with backoff and succeeds', async () => {
      throttleNext = 2;
      requests = 0;
      const body = { instances: [images[2]] };
      const { result, ms } = await timed(() => proxyFor(url, 'digits-v1')(event('POST', '/v1/models/digits:predict', body)));
      assert.equal(result.statusCode, 200, result.body);
      assert.equal(requests, 3);
      assert.equal(result.body, (await lambda(event('POST', '/v1/models/digits:predict', body))).body);
      console.log(`# throttled twice, then answered: 200 in ${ms.toFixed(1)} ms`);
    });

    it('answers 503 after three throttled attempts', async () => {
      throttleNext = 10;
      requests = 0;
      const result = await proxyFor(url, 'mlship-dev-digits')(event('POST', '/v1/models/digits:predict', { instances: [images[2]] }));
      assert.equal(result.statusCode, 503);
      assert.equal(requests, 3);
      assert.equal(errorOf(result).message, 'the SageMaker endpoint mlship-dev-digits is throttling requests (ThrottlingException, 3 attempts); retry with backoff');
    });
  });

  describe('the Lambda entry point (index.ts) in a fresh process', () => {
    const run = promisify(execFile);
    const baseEnv = () => ({
      ...process.env,
      MODEL_NAME: 'digits',
      ENDPOINT_NAME: 'digits-v1',
      MODEL_CARD_PATH: join(digitsDir, 'model.json'),
      AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: endpoint.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      POWERTOOLS_METRICS_NAMESPACE: 'mlship',
      POWERTOOLS_SERVICE_NAME: 'mlship-digits',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });

    it('reads its settings and model.json from the environment and answers through the endpoint named there', async () => {
      const body = { instances: [images[4], asRows(images[1]!)] };
      const script = `
        const { handler } = await import('./lambdas/sagemaker-proxy/index.ts');
        const result = await handler(${JSON.stringify(event('POST', '/v1/models/digits:predict', body))}, { functionName: 'mlship-dev-digits-proxy' });
        process.stderr.write('RESULT ' + JSON.stringify(result) + '\\n');`;
      const before = endpoint.invocations.length;
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: baseEnv(), cwd: repoRoot });
      const result = JSON.parse(/RESULT (.+)/.exec(stderr)![1]!) as APIGatewayProxyResult;
      assert.equal(result.statusCode, 200, result.body);
      assert.equal(result.headers?.['x-model-version'], '1');
      assert.equal(result.body, (await lambda(event('POST', '/v1/models/digits:predict', body))).body);
      assert.deepEqual(endpoint.invocations.slice(before), [{ endpointName: 'digits-v1', statusCode: 200 }]);
      const lines = `${stdout}\n${stderr}`.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const emf = lines.find((l) => '_aws' in l && 'Requests' in l);
      assert.ok(emf, `an EMF line: ${stdout}`);
      assert.deepEqual([emf.model, emf.version, emf.Requests, emf.Instances, typeof emf.InferenceLatency, typeof emf.HandlerLatency], ['digits', '1', 1, 2, 'number', 'number']);
      assert.ok(lines.some((l) => '_aws' in l && 'ColdStart' in l), 'a ColdStart metric');
    });

    it('stops at init naming the setting at fault', async () => {
      const script = `await import('./lambdas/sagemaker-proxy/index.ts');`;
      for (const [env, message] of [
        [{ INVOKE_TIMEOUT_MS: 'soon' }, /ConfigError: INVOKE_TIMEOUT_MS must be a whole number of milliseconds from 1 to 60000 .*received 'soon'/],
        [{ ENDPOINT_NAME: '' }, /ConfigError: ENDPOINT_NAME must be set/],
        [{ MODEL_NAME: 'breast-cancer' }, /ConfigError: the model card .*model.json is for model 'digits', MODEL_NAME is 'breast-cancer'/],
      ] as const) {
        await assert.rejects(run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...baseEnv(), ...env }, cwd: repoRoot }), (error: Error & { stderr: string }) => {
          assert.match(error.stderr, message);
          return true;
        });
      }
    });
  });
});
