// A `runtime: sagemaker` model served locally as in the cloud: the API routes go through the SageMaker
// proxy's handler, whose real SDK client calls the gateway's own SageMaker-compatible endpoint, backed by
// the ONNX session. The answers must equal the model's own; any SageMaker runtime client can call it too.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvokeEndpointCommand, ModelError, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { Logger } from '@aws-lambda-powertools/logger';
import { stringify } from 'yaml';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import { loadManifest } from '../../lambdas/core/manifest/load';
import { LocalGateway } from '../../local/serving/gateway';
import { postWhileClosing } from '../fixtures/drain';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-sagemaker-');

describe('local gateway, digits on runtime sagemaker', () => {
  let gateway: LocalGateway;
  let direct: ServedModel;
  let goldenInputs: number[][];

  before(async () => {
    const root = tempDir();
    symlinkSync(resolve('models/digits'), join(root, 'digits'));
    writeFileSync(join(root, 'manifest.yaml'), stringify({ models: [{ name: 'digits', version: 1, runtime: 'sagemaker', sagemaker: { instanceType: 'ml.g5.xlarge' } }] }));
    const stateDir = join(root, '.mlship');
    mkdirSync(stateDir);
    gateway = await LocalGateway.start({ manifest: loadManifest(join(root, 'manifest.yaml')), port: 0, stateDir, alerts: { emit: () => undefined }, logger: new Logger({ logLevel: 'SILENT' }) });
    direct = await ServedModel.load(resolve('models/digits/1'));
    goldenInputs = direct.card.golden.map((g) => g.input);
  });
  after(async () => {
    await gateway.close();
    await direct.release();
  });

  async function post(path: string, body: unknown): Promise<{ status: number; version: string | null; json: Record<string, unknown> }> {
    const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, version: res.headers.get('x-model-version'), json: (await res.json()) as Record<string, unknown> };
  }

  it("answers v1 and v2 through proxy -> SDK -> local endpoint -> ONNX with the model's own answers", async () => {
    const expected = await direct.predict(Float32Array.from(goldenInputs.flat()), goldenInputs.length);
    const images = goldenInputs.map((pixels) => Array.from({ length: 8 }, (_, r) => pixels.slice(r * 8, r * 8 + 8)));

    const v1 = await post('/v1/models/digits:predict', { instances: images });
    assert.equal(v1.status, 200);
    assert.equal(v1.version, '1', 'x-model-version from the endpoint answer');
    const predictions = v1.json.predictions as { label: string; probabilities: Record<string, number> }[];
    predictions.forEach((p, i) => {
      assert.equal(p.label, direct.card.labels[expected.classIndex[i]!]);
      direct.card.labels.forEach((label, c) => assert.ok(Math.abs(p.probabilities[label]! - expected.scores[i * expected.width + c]!) < 1e-6, `instance ${i} ${label}`));
    });

    const v2 = await post('/v2/models/digits/infer', { inputs: [{ name: 'input', shape: [goldenInputs.length, 64], datatype: 'FP32', data: goldenInputs.flat() }] });
    assert.equal(v2.status, 200);
    const [labels] = v2.json.outputs as { data: string[] }[];
    assert.deepEqual(labels!.data, Array.from(expected.classIndex, (c) => direct.card.labels[c]));
  });

  it("keeps the foundation's 4xx errors for bad input", async () => {
    const wrong = await post('/v1/models/digits:predict', { instances: [[1, 2, 3]] });
    assert.equal(wrong.status, 400);
    assert.match((wrong.json.error as { message: string }).message, /instances\[0\] must have 64 feature values \(or 8 rows of 8 pixels\), received 3/);
    const empty = await post('/v2/models/digits/infer', { inputs: [] });
    assert.equal(empty.status, 400);
  });

  it('answers a request in flight when the gateway starts draining: the proxy still reaches its endpoint', async () => {
    const root = tempDir();
    symlinkSync(resolve('models/digits'), join(root, 'digits'));
    writeFileSync(join(root, 'manifest.yaml'), stringify({ models: [{ name: 'digits', version: 1, runtime: 'sagemaker' }] }));
    const draining = await LocalGateway.start({ manifest: loadManifest(join(root, 'manifest.yaml')), port: 0, stateDir: join(root, '.mlship'), alerts: { emit: () => undefined }, logger: new Logger({ logLevel: 'SILENT' }) });
    const body = JSON.stringify({ instances: [goldenInputs[0]] });
    const answer = await postWhileClosing(draining, '/v1/models/digits:predict', body);
    assert.equal(answer.status, 200, answer.text);
    assert.equal((JSON.parse(answer.text) as { predictions: { label: string }[] }).predictions[0]!.label, direct.card.golden[0]!.expected.label);
    await answer.closing;
  });

  it("serves InvokeEndpoint to any SageMaker runtime client, with SageMaker's error shapes", async () => {
    const client = new SageMakerRuntimeClient({ endpoint: gateway.url, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    try {
      const request = { inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: goldenInputs[0] }] };
      const answer = await client.send(new InvokeEndpointCommand({ EndpointName: 'digits-v1', ContentType: 'application/json', Body: JSON.stringify(request) }));
      const triton = JSON.parse(new TextDecoder().decode(answer.Body)) as { model_version: string; outputs: { name: string; shape: number[] }[] };
      assert.equal(triton.model_version, '1');
      assert.deepEqual(triton.outputs.find((o) => o.name === 'probabilities')?.shape, [1, 10]);
      assert.equal(answer.InvokedProductionVariant, 'AllTraffic');

      const refused = await client.send(new InvokeEndpointCommand({ EndpointName: 'digits-v1', ContentType: 'application/json', Body: '{"inputs": 5}' })).then(
        () => assert.fail('expected a ModelError'),
        (error: unknown) => error,
      );
      assert.ok(refused instanceof ModelError, `a ModelError, got ${String(refused)}`);
      assert.equal(refused.OriginalStatusCode, 400);
    } finally {
      client.destroy();
    }
  });
});
