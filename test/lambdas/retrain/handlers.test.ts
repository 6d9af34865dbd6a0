// The retrain Lambda entries as they are deployed (lambdas/retrain/*.ts: settings from the environment,
// the SDK clients they build themselves, the live model under MODELS_DIR as the pipeline image stages it),
// driven by the retrain state machine of the shipped manifest's synthesized stack on the local runner.
// S3 is s3rver (a local S3-compatible server) and SSM a small emulator of PutParameter, both reached by
// the real SDK v3 clients through AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SSM.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import S3rver from 's3rver';
import { ConfigError } from '../../../lambdas/core/common/config-error';
import { readBackground } from '../../../lambdas/core/explain/background';
import { loadManifest, loadModelFolder, resolveManifestPath } from '../../../lambdas/core/manifest/load';
import { RETRAIN_STATES } from '../../../lib/retrain/retrain-pipeline';
import { runStateMachine, type Json, type TaskHandler } from '../../../local/pipelines/runner';
import { stateMachineDefinition, synthesizeStackTemplate } from '../../../local/pipelines/stack-template';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-retrain-handlers-');
const REPO = join(import.meta.dirname, '..', '..', '..');
const LIVE = join(REPO, 'models', 'breast-cancer', '1');
const DATA = join(REPO, 'models', 'breast-cancer', 'data', 'breast_cancer.csv');
const DATA_BUCKET = 'mlship-dev-data';
const REGISTRY = 'mlship-dev-registry';
const PARAMETER = '/mlship/mlship/dev/breast-cancer/candidate';

interface PutParameterCall {
  Name: string;
  Value: string;
  Type: string;
  Overwrite?: boolean;
}

/** SSM's PutParameter (AWS JSON 1.1), recorded; anything else is answered as an unknown operation. */
async function startSsm(): Promise<{ url: string; calls: PutParameterCall[]; server: Server }> {
  const calls: PutParameterCall[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const target = request.headers['x-amz-target'];
      response.setHeader('content-type', 'application/x-amz-json-1.1');
      if (target !== 'AmazonSSM.PutParameter') {
        response.statusCode = 400;
        response.end(JSON.stringify({ __type: 'UnknownOperationException', message: `not emulated: ${String(target)}` }));
        return;
      }
      calls.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as PutParameterCall);
      response.end(JSON.stringify({ Version: calls.length, Tier: 'Standard' }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, server };
}

const context = { functionName: 'retrain-test', awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:retrain-test', memoryLimitInMB: '2048' } as unknown as Context;
type Handler = (event: unknown, context: Context) => Promise<unknown>;

describe('the retrain Lambda entries over S3 and SSM', () => {
  let s3rver: S3rver;
  let ssm: Awaited<ReturnType<typeof startSsm>>;
  let s3: S3Client;
  let handlers: Record<string, Handler>;
  const loaded = loadManifest(resolveManifestPath(undefined));
  const { template } = synthesizeStackTemplate(loaded);
  const resources = template.Resources as Record<string, { Type: string }>;
  const bucketId = (prefix: string) => Object.keys(resources).find((id) => id.startsWith(prefix) && resources[id]!.Type === 'AWS::S3::Bucket')!;
  const definition = stateMachineDefinition(template, 'mlship-dev-retrain', {
    [bucketId('PipelinesDataBucket')]: { Ref: DATA_BUCKET, Arn: `arn:aws:s3:::${DATA_BUCKET}` },
    [bucketId('RetrainRegistry')]: { Ref: REGISTRY, Arn: `arn:aws:s3:::${REGISTRY}` },
  });

  before(async () => {
    s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: tempDir() });
    const { port } = (await s3rver.run()) as { port: number };
    ssm = await startSsm();
    // As the pipeline image stages the live model: <MODELS_DIR>/<model>/model.onnx and model.json.
    const modelsDir = tempDir();
    cpSync(LIVE, join(modelsDir, 'breast-cancer'), { recursive: true });
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
      AWS_ENDPOINT_URL_SSM: ssm.url,
      AWS_MAX_ATTEMPTS: '1',
      MODELS_DIR: modelsDir,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    s3 = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    for (const bucket of [DATA_BUCKET, REGISTRY]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: DATA_BUCKET, Key: 'training-data/breast-cancer/2026-11/part-1.csv', Body: readFileSync(DATA) }));
    // Imported after the environment is set: each entry reads it and builds its clients at start-up.
    const S = RETRAIN_STATES;
    handlers = {
      [S.gather]: ((await import('../../../lambdas/retrain/gather')) as { handler: Handler }).handler,
      [S.train]: ((await import('../../../lambdas/retrain/train')) as { handler: Handler }).handler,
      [S.evaluate]: ((await import('../../../lambdas/retrain/evaluate')) as { handler: Handler }).handler,
      [S.register]: ((await import('../../../lambdas/retrain/register')) as { handler: Handler }).handler,
    };
  });
  after(async () => {
    s3.destroy();
    await s3rver.close();
    ssm.server.close();
  });

  async function run(input: Json): Promise<{ status: string; error?: string; cause?: string; notifications: { state: string; subject: string; message: string }[] }> {
    const notifications: { state: string; subject: string; message: string }[] = [];
    const S = RETRAIN_STATES;
    const publish = (state: string): TaskHandler => (i) => {
      const { Subject, Message } = i as { Subject?: string; Message?: string };
      notifications.push({ state, subject: String(Subject ?? ''), message: String(Message ?? '') });
      return { MessageId: 'm' };
    };
    const taskHandlers: Record<string, TaskHandler> = {
      ...Object.fromEntries(Object.entries(handlers).map(([name, h]) => [name, (event: Json) => h(event, context)])),
      [S.notifyRegistered]: publish(S.notifyRegistered),
      [S.notifyRejected]: publish(S.notifyRejected),
      [S.notifyFailure]: publish(S.notifyFailure),
    };
    const result = await runStateMachine(definition, input, { taskHandlers, executionName: `exec-${Date.now()}` });
    return result.status === 'FAILED' ? { status: result.status, error: result.error, cause: result.cause, notifications } : { status: result.status, notifications };
  }

  async function registryKeys(): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: REGISTRY }));
    return (listed.Contents ?? []).map((o) => o.Key!).sort();
  }

  it('registers a candidate in the registry bucket and names it in the SSM parameter; the notification says how to deploy it', async () => {
    const result = await run({ model: 'breast-cancer' });
    assert.equal(result.status, 'SUCCEEDED', JSON.stringify(result));
    assert.deepEqual(await registryKeys(), ['breast-cancer/2/background.json', 'breast-cancer/2/evaluation.json', 'breast-cancer/2/model.json', 'breast-cancer/2/model.onnx']);

    // The registered files make a model folder that loads as `cdk deploy` would load it, and can be explained.
    const folder = join(tempDir(), 'breast-cancer', '2');
    mkdirSync(folder, { recursive: true });
    for (const file of ['model.onnx', 'model.json', 'background.json']) {
      const body = await s3.send(new GetObjectCommand({ Bucket: REGISTRY, Key: `breast-cancer/2/${file}` }));
      writeFileSync(join(folder, file), await body.Body!.transformToByteArray());
    }
    const written = loadModelFolder(folder, 'registry', { name: 'breast-cancer', version: 2 });
    assert.deepEqual(written.problems, [], 'sha256, graph and card agree');
    assert.equal(written.card!.onnx.sha256, createHash('sha256').update(readFileSync(join(folder, 'model.onnx'))).digest('hex'));
    const explanation = written.card!.explanation!;
    assert.ok(explanation, 'the candidate card has an explanation');
    assert.equal(explanation.background.file, 'background.json');
    assert.equal(explanation.background.sha256, createHash('sha256').update(readFileSync(join(folder, 'background.json'))).digest('hex'), "the registered background.json is the card's");
    const background = readBackground(folder, written.card!)!;
    assert.equal(background.length, explanation.background.rows * written.card!.input.features.length, 'readBackground reads the rows the card states');
    assert.equal(explanation.background.rows, 100, 'a sample of the training split, as mlship train writes it');
    const liveImportance = loadModelFolder(LIVE, 'live', { name: 'breast-cancer', version: 1 }).card!.explanation!.importance!;
    const importance = explanation.importance!;
    assert.deepEqual([importance.metric, importance.repeats], [liveImportance.metric, liveImportance.repeats], "the live card's importance metric and repeats");
    assert.equal(importance.rows, written.card!.evaluation!.testSize, 'on the held-out split');
    assert.deepEqual(importance.features.map((f) => f.name), written.card!.input.features);

    assert.equal(ssm.calls.length, 1, JSON.stringify(ssm.calls));
    const [put] = ssm.calls;
    assert.equal(put!.Name, PARAMETER);
    assert.equal(put!.Overwrite, true, 'overwrites the placeholder the stack created');
    const value = JSON.parse(put!.Value) as { version: number; uri: string; liveVersion: number; dataRows: number };
    assert.equal(value.version, 2);
    assert.equal(value.uri, `s3://${REGISTRY}/breast-cancer/2/`);
    assert.equal(value.liveVersion, 1);
    assert.equal(value.dataRows, 569, 'every row of the data set was usable');

    assert.deepEqual(result.notifications.map((n) => n.state), ['Notify registered']);
    assert.equal(result.notifications[0]!.subject, 'mlship-dev: breast-cancer candidate v2 registered');
    assert.ok(result.notifications[0]!.message.includes(`aws s3 cp --recursive s3://${REGISTRY}/breast-cancer/2/ models/breast-cancer/2/`), result.notifications[0]!.message);
    assert.ok(result.notifications[0]!.message.includes('in models/manifest.yaml and open a pull request'), 'the repository manifest');
    assert.ok(result.notifications[0]!.message.includes(`Files: s3://${REGISTRY}/breast-cancer/2/ (model.onnx, model.json, background.json, evaluation.json).`), result.notifications[0]!.message);
  });

  it('gives the next run the next version, never overwriting one in the registry', async () => {
    const result = await run({ model: 'breast-cancer' });
    assert.equal(result.status, 'SUCCEEDED', JSON.stringify(result));
    assert.ok((await registryKeys()).includes('breast-cancer/3/model.json'), 'v3 registered');
    assert.equal((JSON.parse(ssm.calls.at(-1)!.Value) as { version: number }).version, 3);
  });

  it('fails at Gather on a prefix without data: the notification names the step and the prefix, with no stack trace, and nothing is registered', async () => {
    const before = await registryKeys();
    const calls = ssm.calls.length;
    const result = await run({ model: 'breast-cancer', dataPrefix: 'training-data/breast-cancer/2027-01/' });
    assert.equal(result.status, 'FAILED');
    assert.equal(result.error, 'NotEnoughData');
    assert.deepEqual(result.notifications.map((n) => n.state), ['Notify failure']);
    const { message } = result.notifications[0]!;
    assert.match(message, /failed at the step: Gather data\n/);
    assert.match(message, /no CSV files .* under s3:\/\/mlship-dev-data\/training-data\/breast-cancer\/2027-01\//);
    assert.doesNotMatch(message, /\n\s+at /, 'no stack trace in the e-mail');
    assert.deepEqual(await registryKeys(), before);
    assert.equal(ssm.calls.length, calls, 'no parameter written');
  });

  it('stops a function in the image at start-up when MODELS_DIR is missing or relative', async () => {
    const { readImageConfig } = await import('../../../lambdas/retrain/config');
    assert.throws(() => readImageConfig({}), (e: unknown) => e instanceof ConfigError && /MODELS_DIR/.test(e.message));
    assert.throws(() => readImageConfig({ MODELS_DIR: 'models' }), (e: unknown) => e instanceof ConfigError && /MODELS_DIR must be an absolute path/.test(e.message));
  });
});
