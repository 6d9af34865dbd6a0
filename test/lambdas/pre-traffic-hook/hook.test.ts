// The CodeDeploy pre-traffic hook with REAL AWS SDK v3 clients pointed at a local emulator of the Lambda
// Invoke and CodeDeploy APIs (test/fixtures/aws-endpoints.ts). The emulated Lambda versions run the REAL
// inference handler over real ONNX sessions of a fixture model.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ServedModel } from '../../../lambdas/core/models/inference-session';
import { ModelApi } from '../../../lambdas/core/serving/model-api';
import type { ModelCard } from '../../../lambdas/core/models/model-card';
import { createInferenceHandler } from '../../../lambdas/inference/handler';
import { readModelCardFile as loadHookCard } from '../../../lambdas/core/models/model-card-file';
import { ConfigError, readHookConfig } from '../../../lambdas/pre-traffic-hook/config';
import { createPreTrafficHook, goldenRequestEvent, type HookContext, type PreTrafficHook } from '../../../lambdas/pre-traffic-hook/handler';
import { clientSettings, parseFunctionName, startAwsEndpoints, type AwsEndpoints } from '../../fixtures/aws-endpoints';
import { buildSoftmaxOnnx, createFixtureProject, type FixtureProject } from '../../fixtures/model-folder';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const functionArn = 'arn:aws:lambda:us-east-1:123456789012:function:mlship-dev-tumour';
const deploymentId = 'd-ABCDEF123';
const features = ['radius', 'texture', 'perimeter', 'area'];
const labels = ['malignant', 'benign'];

/**
 * Runs `fn` and returns the Powertools log lines (JSON) it printed on stdout and stderr. Only those are
 * held back: anything else (the test runner's own reports) passes through.
 */
async function captureLogs(fn: () => Promise<void>): Promise<{ lines: Record<string, unknown>[]; error: unknown }> {
  const printed: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const sink = (original: typeof out, stream: NodeJS.WriteStream) =>
    function (this: unknown, chunk: unknown, ...rest: unknown[]) {
      if (typeof chunk === 'string' && chunk.startsWith('{"level":')) return printed.push(chunk), true;
      return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    } as typeof out;
  process.stdout.write = sink(out, process.stdout);
  process.stderr.write = sink(err, process.stderr);
  let error: unknown;
  try {
    await fn();
  } catch (caught) {
    error = caught;
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  const lines = printed
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, error };
}

describe('pre-traffic hook', () => {
  let project: FixtureProject;
  let card: ModelCard;
  let endpoints: AwsEndpoints;
  let lambda: LambdaClient;
  let codeDeploy: CodeDeployClient;
  const models: ServedModel[] = [];
  let executions = 0;

  /** Serves `model` through the real inference handler, as a Lambda version would. */
  const inferenceFunction = (model: ServedModel) => {
    const handler = createInferenceHandler({ api: new ModelApi(model, { maxBodyBytes: 1 << 20, maxBatchSize: 100 }), logger: new Logger({ logLevel: 'SILENT' }) });
    return (event: unknown) => handler(event as APIGatewayProxyEvent);
  };
  const load = async (loaded: Promise<ServedModel>) => {
    const model = await loaded;
    models.push(model);
    return model;
  };
  const hookFor = (qualifier: string, options: { card?: ModelCard; reportReserveMs?: number } = {}): PreTrafficHook =>
    createPreTrafficHook({ lambda, codeDeploy, card: options.card ?? card, targetFunctionArn: `${functionArn}:${qualifier}`, logger: new Logger({ serviceName: 'hook-test' }), reportReserveMs: options.reportReserveMs });

  /** Runs the hook for one lifecycle event; returns what it reported, what it logged, and what it threw. */
  async function run(hook: PreTrafficHook, context?: HookContext) {
    const lifecycleEventHookExecutionId = `hook-execution-${++executions}`;
    const invocationsBefore = endpoints.invocations.length;
    const reportsBefore = endpoints.codeDeployCalls.length;
    const { lines, error } = await captureLogs(() => hook({ DeploymentId: deploymentId, LifecycleEventHookExecutionId: lifecycleEventHookExecutionId }, context));
    const reports = endpoints.codeDeployCalls.slice(reportsBefore);
    return { lifecycleEventHookExecutionId, reports, invocations: endpoints.invocations.slice(invocationsBefore), lines, error };
  }

  before(async () => {
    project = createFixtureProject({ models: [{ name: 'tumour', version: 2, features, labels }] });
    const dir = join(project.root, 'tumour', '2');
    card = loadHookCard(join(dir, 'model.json'), 'tumour');
    const good = await load(ServedModel.load(dir));
    // Same card, other weights: the ONNX file of version 5 is not the model its model.json describes.
    const weights = Array.from({ length: 8 }, (_, i) => (((i * 7) % 11) - 5) / 10 + (i === 3 ? 0.1 : 0));
    const otherWeights = await load(ServedModel.fromBytes(card, buildSoftmaxOnnx({ width: 4, classes: 2, weights })));
    // A session whose input name disagrees with the card: every run fails, the handler answers 503.
    const broken = await load(ServedModel.fromBytes({ ...card, input: { ...card.input, tensorName: 'nosuch' } }, buildSoftmaxOnnx({ width: 4, classes: 2 })));
    const olderModel = await load(ServedModel.fromBytes({ ...card, version: 1 }, buildSoftmaxOnnx({ width: 4, classes: 2 })));

    endpoints = await startAwsEndpoints({
      'mlship-dev-tumour:2': inferenceFunction(good),
      'mlship-dev-tumour:5': inferenceFunction(otherWeights),
      'mlship-dev-tumour:6': () => {
        throw new TypeError("Cannot read properties of undefined (reading 'run')");
      },
      'mlship-dev-tumour:7': () => ({ statusCode: 500, headers: { 'content-type': 'application/json' }, body: '{"error":{"code":"internal_error","message":"internal error"}}' }),
      'mlship-dev-tumour:8': inferenceFunction(broken),
      'mlship-dev-tumour:9': inferenceFunction(olderModel),
      'mlship-dev-tumour:10': () => 'not a proxy result',
      'mlship-dev-tumour:11': async (event) => {
        await new Promise((resolve) => setTimeout(resolve, 3000));
        return inferenceFunction(good)(event);
      },
    });
    lambda = new LambdaClient(clientSettings(endpoints));
    codeDeploy = new CodeDeployClient(clientSettings(endpoints));
  });

  after(async () => {
    lambda.destroy();
    codeDeploy.destroy();
    await endpoints.close();
    await Promise.all(models.map((m) => m.release()));
    project.cleanup();
  });

  it('reports Succeeded for a version that reproduces the golden cases, after invoking that exact version as API Gateway would', async () => {
    const { reports, invocations, lines, error, lifecycleEventHookExecutionId } = await run(hookFor('2'));
    assert.equal(error, undefined);
    assert.deepEqual(reports, [{ operation: 'PutLifecycleEventHookExecutionStatus', body: { deploymentId, lifecycleEventHookExecutionId, status: 'Succeeded' } }]);

    assert.equal(invocations.length, 1);
    const invocation = invocations[0]!;
    assert.equal(invocation.functionName, `${functionArn}:2`, 'the qualified ARN of the new version');
    assert.equal(invocation.qualifier, '2');
    assert.equal(invocation.invocationType, 'RequestResponse');
    const event = invocation.payload as APIGatewayProxyEvent;
    assert.equal(event.httpMethod, 'POST');
    assert.equal(event.resource, '/v1/models/tumour:predict');
    assert.equal(event.requestContext.resourcePath, '/v1/models/tumour:predict');
    assert.equal(event.headers['Content-Type'], 'application/json');
    assert.deepEqual(JSON.parse(event.body!), { instances: card.golden.map((g) => g.input) });

    const result = lines.find((l) => l.level === 'INFO');
    assert.match(String(result?.message), /^tumour v2 reproduces all 1 golden case \(largest difference .+, tolerance 0\.0001\)$/);
    assert.equal(result?.deploymentId, deploymentId);
  });

  it('reports Failed for a version whose ONNX file has other weights, and logs which golden case differs', async () => {
    const { reports, lines, error, lifecycleEventHookExecutionId } = await run(hookFor('5'));
    assert.equal(error, undefined);
    assert.deepEqual(reports.map((r) => r.body), [{ deploymentId, lifecycleEventHookExecutionId, status: 'Failed' }]);
    const logged = lines.find((l) => l.level === 'ERROR');
    assert.match(String(logged?.message), /^tumour v2 fails golden case 0: probability of 'malignant' is 0\.\d{5}, expected 0\.\d{5} \(tolerance 0\.0001\)$/);
    assert.equal((logged?.cases as { ok: boolean }[])[0]!.ok, false);
  });

  const failures: [string, string, RegExp][] = [
    ['a function error', '6', /^tumour v2 fails the golden check: arn:aws:lambda:us-east-1:123456789012:function:mlship-dev-tumour:6 raised a function error \(Unhandled\): TypeError: Cannot read properties of undefined \(reading 'run'\)$/],
    ['a 500 answer', '7', /^tumour v2 fails the golden check: .*:7 answered the golden request with status 500: internal_error: internal error$/],
    ['a 503 from a model that fails to run', '8', /^tumour v2 fails the golden check: .*:8 answered the golden request with status 503: model_unavailable: model tumour v2 failed to run/],
    ['a version serving another model version', '9', /^tumour v2 fails the golden check: .*:9 serves tumour v1, but the hook's model card is tumour v2$/],
    ['a payload that is not a proxy result', '10', /^tumour v2 fails the golden check: .*:10 answered something that is not an API Gateway proxy result: "\\"not a proxy result\\""$/],
    ['a version that does not exist', '99', /^tumour v2 fails the golden check: invoking .*:99 failed: ResourceNotFoundException: Function not found: .*:99$/],
  ];
  for (const [what, qualifier, message] of failures) {
    it(`reports Failed on ${what}`, async () => {
      const { reports, lines, error, lifecycleEventHookExecutionId } = await run(hookFor(qualifier));
      assert.equal(error, undefined, 'the hook does not throw');
      assert.deepEqual(reports.map((r) => r.body), [{ deploymentId, lifecycleEventHookExecutionId, status: 'Failed' }]);
      assert.match(String(lines.find((l) => l.level === 'ERROR')?.message), message);
    });
  }

  it('reports Failed when the Lambda service itself answers an error', async () => {
    endpoints.failNextInvocations(1, { status: 500, code: 'ServiceException', message: 'internal service error' });
    const { reports, lines } = await run(hookFor('2'));
    assert.deepEqual(reports.map((r) => r.body.status), ['Failed']);
    assert.match(String(lines.find((l) => l.level === 'ERROR')?.message), /invoking .*:2 failed: ServiceException: internal service error$/);
  });

  it('gives up on a slow invoke in time to report Failed before its own timeout', async () => {
    const started = Date.now();
    const { reports, lines } = await run(hookFor('11', { reportReserveMs: 500 }), { getRemainingTimeInMillis: () => 1500 - (Date.now() - started) });
    assert.ok(Date.now() - started < 2500, `reported after ${Date.now() - started} ms, before the 3 s answer`);
    assert.deepEqual(reports.map((r) => r.body.status), ['Failed']);
    assert.match(String(lines.find((l) => l.level === 'ERROR')?.message), /invoking .*:11 failed: no answer before the hook had to report$/);
  });

  it('reports Failed without invoking when the model card has no golden cases', async () => {
    const { reports, invocations, lines } = await run(hookFor('2', { card: { ...card, golden: [] } }));
    assert.equal(invocations.length, 0);
    assert.deepEqual(reports.map((r) => r.body.status), ['Failed']);
    assert.equal(lines.find((l) => l.level === 'ERROR')?.message, 'tumour v2 has no golden cases; a version cannot be checked before it gets traffic');
  });

  it('throws after logging when CodeDeploy refuses the report, so that Lambda retries the hook', async () => {
    endpoints.failNextCodeDeployCalls(1, { status: 400, code: 'LifecycleEventAlreadyCompletedException', message: 'already completed' });
    const { reports, lines, error } = await run(hookFor('2'));
    assert.equal(reports.length, 1, 'the report was attempted once');
    assert.match(String(error), /LifecycleEventAlreadyCompletedException|already completed/);
    assert.ok(lines.some((l) => l.message === 'reporting the hook status to CodeDeploy failed'), 'the failed report is logged');
  });

  it('refuses an event that is not a CodeDeploy lifecycle event', async () => {
    const { error } = await captureLogs(() => hookFor('2')({} as never));
    assert.match(String(error), /DeploymentId and LifecycleEventHookExecutionId are required/);
  });

  it('builds the golden request as a REST API proxy event', () => {
    const event = goldenRequestEvent(card, 'req-1');
    assert.equal(event.path, '/v1/models/tumour:predict');
    assert.deepEqual(event.multiValueHeaders['Content-Type'], ['application/json']);
    assert.equal(event.requestContext.requestId, 'req-1');
    assert.equal(event.requestContext.httpMethod, 'POST');
    assert.equal(event.isBase64Encoded, false);
  });
});

describe('pre-traffic hook settings', () => {
  const arn = 'arn:aws:lambda:eu-west-1:123456789012:function:mlship-prod-digits:14';
  const fallback = () => '/var/task/model.json';

  it('reads TARGET_FUNCTION_ARN and MODEL_NAME, and model.json next to the handler unless MODEL_CARD_PATH says otherwise', () => {
    assert.deepEqual(readHookConfig({ TARGET_FUNCTION_ARN: arn, MODEL_NAME: 'digits' }, fallback), { targetFunctionArn: arn, modelName: 'digits', modelCardPath: '/var/task/model.json' });
    assert.equal(readHookConfig({ TARGET_FUNCTION_ARN: arn, MODEL_NAME: 'digits', MODEL_CARD_PATH: '/tmp/card.json' }, fallback).modelCardPath, '/tmp/card.json');
  });

  const bad: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['no target', { MODEL_NAME: 'digits' }, /^TARGET_FUNCTION_ARN must be set$/],
    ['an unqualified ARN', { TARGET_FUNCTION_ARN: arn.replace(/:14$/, ''), MODEL_NAME: 'digits' }, /^TARGET_FUNCTION_ARN must be the qualified ARN of the new version .*, received 'arn:aws:lambda:eu-west-1:123456789012:function:mlship-prod-digits'$/],
    ['a function name', { TARGET_FUNCTION_ARN: 'mlship-prod-digits:14', MODEL_NAME: 'digits' }, /^TARGET_FUNCTION_ARN must be the qualified ARN/],
    ['no model name', { TARGET_FUNCTION_ARN: arn, MODEL_NAME: ' ' }, /^MODEL_NAME must be set$/],
  ];
  for (const [what, env, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => readHookConfig(env, fallback), (error: Error) => error instanceof ConfigError && message.test(error.message));
    });
  }

  it('loads and checks the model card', () => {
    const path = join(repoRoot, 'models', 'digits', '1', 'model.json');
    assert.equal(loadHookCard(path, 'digits').golden.length, 5);
    assert.throws(() => loadHookCard(path, 'breast-cancer'), /model\.json is for model 'digits', MODEL_NAME is 'breast-cancer'$/);
    assert.throws(() => loadHookCard('/nonexistent/model.json', 'digits'), /^ConfigError: cannot read the model card \/nonexistent\/model\.json: ENOENT/);
  });

  it('names what is wrong in a card that is not valid', () => {
    const project = createFixtureProject({ models: [{ name: 'tumour', card: (c) => ({ ...c, golden: [{ input: [1], expected: { label: 'benign' } }] }) }] });
    try {
      const path = join(project.root, 'tumour', '1', 'model.json');
      assert.throws(() => loadHookCard(path, 'tumour'), /is not valid: golden\[0\]\.input must have 4 values, has 1/);
      writeFileSync(path, '{"name": ');
      assert.throws(() => loadHookCard(path, 'tumour'), /model\.json is not JSON: /);
    } finally {
      project.cleanup();
    }
  });

  it('parses function names and qualifiers as Lambda does (emulator)', () => {
    assert.deepEqual(parseFunctionName(arn, null), { name: 'mlship-prod-digits', qualifier: '14' });
    assert.deepEqual(parseFunctionName('mlship-prod-digits', '3'), { name: 'mlship-prod-digits', qualifier: '3' });
    assert.deepEqual(parseFunctionName('123456789012:function:f:live', null), { name: 'f', qualifier: 'live' });
    assert.deepEqual(parseFunctionName('f', null), { name: 'f', qualifier: '$LATEST' });
  });
});

describe('pre-traffic hook entry point (index.ts)', () => {
  let project: FixtureProject;
  let endpoints: AwsEndpoints;
  let good: ServedModel;

  before(async () => {
    project = createFixtureProject({ models: [{ name: 'tumour', version: 2, features, labels }] });
    good = await ServedModel.load(join(project.root, 'tumour', '2'));
    const handler = createInferenceHandler({ api: new ModelApi(good, { maxBodyBytes: 1 << 20, maxBatchSize: 100 }), logger: new Logger({ logLevel: 'SILENT' }) });
    endpoints = await startAwsEndpoints({ 'mlship-dev-tumour:4': (event) => handler(event as APIGatewayProxyEvent) });
  });
  after(async () => {
    await endpoints.close();
    await good.release();
    project.cleanup();
  });

  const env = () => ({
    ...process.env,
    AWS_ENDPOINT_URL: endpoints.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_MAX_ATTEMPTS: '1',
    TARGET_FUNCTION_ARN: `${functionArn}:4`,
    MODEL_NAME: 'tumour',
    MODEL_CARD_PATH: join(project.root, 'tumour', '2', 'model.json'),
    POWERTOOLS_SERVICE_NAME: 'mlship-tumour-pre-traffic-hook',
  });

  /** Runs the entry in its own process (its settings are read once, at module scope) with one event. */
  function runEntry(overrides: Record<string, string>): Promise<{ status: number | null; output: string }> {
    const script = `
      const { handler } = await import(${JSON.stringify(join(repoRoot, 'lambdas', 'pre-traffic-hook', 'index.ts'))});
      await handler({ DeploymentId: '${deploymentId}', LifecycleEventHookExecutionId: 'entry-1' }, { functionName: 'hook', awsRequestId: 'r1', getRemainingTimeInMillis: () => 60000 });
    `;
    // Not spawnSync: that would block the emulator, which runs in this process.
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, env: { ...env(), ...overrides, NODE_NO_WARNINGS: '1' } });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('close', (status) => resolve({ status, output }));
    });
  }

  it('reads its settings from the environment and reports Succeeded for a matching version', async () => {
    const { status, output } = await runEntry({});
    assert.equal(status, 0, output);
    assert.deepEqual(endpoints.codeDeployCalls.at(-1)?.body, { deploymentId, lifecycleEventHookExecutionId: 'entry-1', status: 'Succeeded' });
    assert.equal(endpoints.invocations.at(-1)?.functionName, `${functionArn}:4`);
    assert.match(output, /"message":"tumour v2 reproduces all 1 golden case/);
  });

  it('reports Failed at once, naming the setting, when it is misconfigured (rather than leaving the deployment waiting)', async () => {
    const invocations = endpoints.invocations.length;
    const { status, output } = await runEntry({ MODEL_NAME: 'digits' });
    assert.equal(status, 0, output);
    assert.deepEqual(endpoints.codeDeployCalls.at(-1)?.body, { deploymentId, lifecycleEventHookExecutionId: 'entry-1', status: 'Failed' });
    assert.equal(endpoints.invocations.length, invocations, 'the target was not invoked');
    assert.match(output, /"level":"CRITICAL","message":"pre-traffic hook misconfigured/);
    assert.match(output, /the golden check cannot run: the model card .* is for model 'tumour', MODEL_NAME is 'digits'/);
  });
});
