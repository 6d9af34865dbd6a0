// Faults, for real: `npm start`'s bundle on broken model folders (a clear line naming the file, exit 1, no
// stack trace); a real ONNX graph that fails at run time (503, the other models keep serving); handlers
// that throw, reject or never answer (500/504 JSON, the others keep answering); SIGTERM with slow
// requests in flight (all answered, new connections refused, exit 0); an error nobody caught (a rejection:
// logged, counted, serving goes on; an exception: logged, drained, exit 1).
// Over 400 lines: each fault needs its own broken project or process, and they share their fixtures here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import onnxProto from 'onnx-proto';
import { buildLocalGateway } from '../../scripts/build-local';
import { loadManifest } from '../../lambdas/core/manifest/load';
import type { InferenceHandler } from '../../lambdas/inference/handler';
import { LocalGateway } from '../../local/serving/gateway';
import { errorBody, GatewayTimeoutError } from '../../lambdas/core/serving/errors';
import { createFixtureProject, type FixtureProject } from '../fixtures/model-folder';
import { halfSentPost } from '../fixtures/drain';
import { singleRowOnlyOnnx, slowOnnx, writeVersion } from '../fixtures/release-models';
import { tempDirMaker } from '../fixtures/temp-dirs';

const { onnx } = onnxProto;
const stateDir = tempDirMaker('mlship-faults-');
const quietAlerts = { emit: () => undefined };
const quietLogger = new Logger({ serviceName: 'mlship-faults-test', logLevel: 'SILENT' });
const STACK_LINE = /\n\s+at /;

interface Answer {
  status: number;
  contentType: string | null;
  text: string;
  body: { error?: { code: string; message: string }; predictions?: { label: string }[] };
}

async function post(url: string, body: unknown): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), text, body: JSON.parse(text) as Answer['body'] };
}

/** Rewrites model.json's onnx.sha256 to the file's, so a check past the hash is what fails. */
function resealCard(dir: string): void {
  const cardPath = join(dir, 'model.json');
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as { onnx: { sha256: string } };
  card.onnx.sha256 = createHash('sha256').update(readFileSync(join(dir, 'model.onnx'))).digest('hex');
  writeFileSync(cardPath, JSON.stringify(card));
}

function runBundle(bundle: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bundle, ...args], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // A start that wrongly succeeds prints the banner: stop it, the assertions say why.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return once(child, 'exit').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, stdout, stderr };
  });
}

describe('npm start on a broken model folder', () => {
  let bundle: string;
  before(async () => {
    bundle = await buildLocalGateway();
  });

  // Each case breaks the digits model of a fresh two-model project; the message must name the file.
  const cases: [string, (dir: string) => void, file: string, RegExp][] = [
    ['model.onnx truncated', (dir) => writeFileSync(join(dir, 'model.onnx'), readFileSync(join(dir, 'model.onnx')).subarray(0, 60)), 'model.onnx', /model\.onnx does not match onnx\.sha256 in model\.json/],
    [
      'model.onnx truncated, its sha256 updated to match',
      (dir) => {
        writeFileSync(join(dir, 'model.onnx'), readFileSync(join(dir, 'model.onnx')).subarray(0, 60));
        resealCard(dir);
      },
      'model.onnx',
      /model\.onnx: not a valid ONNX model: /,
    ],
    [
      'model.onnx garbage',
      (dir) => {
        writeFileSync(join(dir, 'model.onnx'), Buffer.from('GIF89a this is a picture, not a model \u00ff\u00fe'));
        resealCard(dir);
      },
      'model.onnx',
      /model\.onnx: not a valid ONNX model: /,
    ],
    [
      'model.onnx an ONNX graph onnxruntime refuses (an operator that does not exist)',
      (dir) => {
        const model = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
        model.graph!.node![1]!.opType = 'NoSuchOp';
        writeFileSync(join(dir, 'model.onnx'), onnx.ModelProto.encode(model).finish());
        resealCard(dir);
      },
      'model.onnx',
      /model\.onnx: onnxruntime cannot load the model: .*No Op registered for NoSuchOp/,
    ],
    ['model.onnx missing', (dir) => rmSync(join(dir, 'model.onnx')), 'model.onnx', /model\.onnx not found/],
    ['model.json missing', (dir) => rmSync(join(dir, 'model.json')), 'model.json', /model\.json not found/],
    ['model.json not JSON', (dir) => writeFileSync(join(dir, 'model.json'), '{"name": "digits", '), 'model.json', /model\.json is not valid JSON: /],
    [
      'model.json failing its schema',
      (dir) => {
        const card = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
        writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...card, labels: 'zero, one, two' }));
      },
      'model.json',
      /model\.json: labels must be an array, received 'zero, one, two'/,
    ],
    [
      'a sha256 that does not match',
      (dir) => {
        const card = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { onnx: Record<string, unknown> };
        writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...card, onnx: { ...card.onnx, sha256: 'f'.repeat(64) } }));
      },
      'model.onnx',
      /model\.onnx does not match onnx\.sha256 in model\.json/,
    ],
  ];
  for (const [what, breakIt, file, problem] of cases) {
    it(`${what}: exits 1 with one line naming ${file} and the problem, no stack trace`, async () => {
      const project = createFixtureProject();
      try {
        const dir = join(project.root, 'digits', '1');
        breakIt(dir);
        const { code, stdout, stderr } = await runBundle(bundle, ['--manifest', project.manifestPath, '--state-dir', stateDir()]);
        assert.equal(code, 1, `exit code; stderr: ${stderr}`);
        assert.doesNotMatch(stdout, /serving/, 'no banner: the gateway did not start');
        // The path as a person would type it: relative to where npm start ran (the manifest loader's
        // form) or absolute (onnxruntime's refusal).
        const path = join(dir, file);
        assert.ok(stderr.includes(relative(process.cwd(), path)) || stderr.includes(path), `stderr names ${path}: ${stderr}`);
        assert.match(stderr, problem);
        assert.match(stderr, /digits/, 'the model named');
        assert.doesNotMatch(stderr, STACK_LINE, `no stack trace: ${stderr}`);
      } finally {
        project.cleanup();
      }
    });
  }
});

describe('a model whose ONNX session fails at run time', () => {
  let project: FixtureProject;
  let gateway: LocalGateway;
  before(async () => {
    // fragile: a real graph that reshapes its input to one row; any larger batch fails inside onnxruntime.
    // fragile-gpu: the same graph on the SageMaker path (the proxy, then the local endpoint's session).
    const fragile = { name: 'fragile', features: ['a', 'b', 'c', 'd'] };
    const fragileGpu = { ...fragile, name: 'fragile-gpu' };
    project = createFixtureProject({
      models: [fragile, fragileGpu, { name: 'steady', features: ['a', 'b', 'c', 'd'] }],
      manifest: { models: [{ name: 'fragile', version: 1 }, { name: 'fragile-gpu', version: 1, runtime: 'sagemaker' }, { name: 'steady', version: 1 }] },
    });
    writeVersion(project.root, { ...fragile, version: 1 }, singleRowOnlyOnnx(4, 2));
    writeVersion(project.root, { ...fragileGpu, version: 1 }, singleRowOnlyOnnx(4, 2));
    gateway = await LocalGateway.start({ manifest: loadManifest(project.manifestPath), port: 0, stateDir: stateDir(), alerts: quietAlerts, capture: false, logger: quietLogger });
  });
  after(async () => {
    await gateway.close();
    project.cleanup();
  });

  it('answers 503 with a JSON message on v1 and v2 (Lambda and SageMaker paths), and the other model keeps serving', async () => {
    const rows = [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ];
    const v1 = await post(`${gateway.url}/v1/models/fragile:predict`, { instances: rows });
    assert.equal(v1.status, 503);
    assert.equal(v1.contentType, 'application/json');
    assert.equal(v1.body.error?.code, 'model_unavailable');
    assert.match(v1.body.error?.message ?? '', /^model fragile v1 failed to run: /);
    assert.doesNotMatch(v1.text, /\\n\s+at |\.ts:\d+/, 'no stack trace in the body');

    const v2 = await post(`${gateway.url}/v2/models/fragile/infer`, { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: rows.flat() }] });
    assert.equal(v2.status, 503);
    assert.match(v2.body.error?.message ?? '', /^model fragile v1 failed to run: /);

    const gpu = await post(`${gateway.url}/v1/models/fragile-gpu:predict`, { instances: rows });
    assert.equal(gpu.status, 503);
    assert.equal(gpu.body.error?.code, 'model_unavailable');
    assert.match(gpu.body.error?.message ?? '', /^the SageMaker endpoint fragile-gpu-v1 failed to run the model \(status 500\): model fragile-gpu v1 failed to run: /);

    const steady = await post(`${gateway.url}/v1/models/steady:predict`, { instances: rows });
    assert.equal(steady.status, 200, steady.text);
    assert.equal(steady.body.predictions?.length, 2);
    // The failing model itself still answers what it can: one row at a time.
    const single = await post(`${gateway.url}/v1/models/fragile:predict`, { instances: [rows[0]] });
    assert.equal(single.status, 200, single.text);
    const ready = await fetch(`${gateway.url}/v2/health/ready`);
    assert.equal(ready.status, 200);
  });
});

describe('a model handler that throws, rejects or never answers', () => {
  let project: FixtureProject;
  let gateway: LocalGateway;
  const features = ['a', 'b', 'c', 'd'];
  const names = ['throws', 'rejects', 'hangs', 'steady'] as const;
  // Faults injected where the gateway calls a model's handler: the place a Lambda invocation would fail.
  const faults: Record<string, InferenceHandler> = {
    throws: () => {
      throw new TypeError("Cannot read properties of undefined (reading 'rows') at /var/task/secret.ts:12");
    },
    rejects: () => Promise.reject(new Error('session exploded: /var/task/secret.ts:34')),
    hangs: () => new Promise<never>(() => undefined),
  };
  before(async () => {
    project = createFixtureProject({
      models: names.map((name) => ({ name, features })),
      manifest: { models: names.map((name) => ({ name, version: 1, ...(name === 'hangs' ? { lambda: { timeoutSeconds: 1 } } : {}) })) },
    });
    gateway = await LocalGateway.start({
      manifest: loadManifest(project.manifestPath),
      port: 0,
      stateDir: stateDir(),
      alerts: quietAlerts,
      capture: false,
      logger: quietLogger,
      wrapHandler: (handler, model) => faults[model.name] ?? handler,
    });
  });
  after(async () => {
    await gateway.close();
    project.cleanup();
  });

  const predict = (name: string) => post(`${gateway.url}/v1/models/${name}:predict`, { instances: [[1, 2, 3, 4]] });

  it('a thrown exception and a rejected promise answer 500 JSON with a fixed message, no stack or error text', async () => {
    for (const name of ['throws', 'rejects']) {
      const answer = await predict(name);
      assert.equal(answer.status, 500, name);
      assert.equal(answer.contentType, 'application/json', name);
      assert.deepEqual(answer.body, { error: { code: 'internal_error', message: 'the server failed to answer; the failure was logged' } }, name);
      assert.doesNotMatch(answer.text, /secret|exploded|Cannot read/, `${name}: the error's own text stays in the log`);
      assert.equal((await predict('steady')).status, 200, `steady after ${name}`);
    }
  });

  it("a handler that never answers gets a 504 JSON at the model's lambda.timeoutSeconds while the others keep answering", async () => {
    const hanging = predict('hangs');
    let hungAnswered = false;
    void hanging.then(() => (hungAnswered = true));
    // While that request waits, every other model answers (the failing ones with their 500).
    const during = await Promise.all([predict('steady'), predict('steady'), predict('throws')]);
    assert.deepEqual(
      during.map((a) => a.status),
      [200, 200, 500],
    );
    assert.equal(hungAnswered, false, 'the others answered while the hung request was still waiting');
    const answer = await hanging;
    assert.equal(answer.status, 504);
    assert.equal(answer.contentType, 'application/json');
    assert.equal(answer.body.error?.code, 'timeout');
    // The very body of the cloud's INTEGRATION_TIMEOUT gateway response (test/lib/stack/mlship-stack.test.ts checks that side).
    assert.deepEqual(answer.body, errorBody(new GatewayTimeoutError()));
    // The server is still whole: health, metadata, predictions.
    assert.equal((await fetch(`${gateway.url}/v2/health/ready`)).status, 200);
    assert.equal((await fetch(`${gateway.url}/v2/models/hangs`)).status, 504, 'metadata goes through the same handler: it times out too');
    const steady = await predict('steady');
    assert.equal(steady.status, 200);
    assert.equal(steady.body.predictions?.length, 1);
  });

  it('counts the failures as 5xx of their model and version (what the release alarms and the status page read)', async () => {
    const status = (await (await fetch(`${gateway.url}/status.json`)).json()) as { models: { name: string; sinceStart: { version: string; requests: number; serverErrors: number }[] }[] };
    const serverErrors = (name: string) => status.models.find((m) => m.name === name)!.sinceStart.find((v) => v.version === '1')?.serverErrors ?? 0;
    assert.ok(serverErrors('throws') >= 2, `throws: ${JSON.stringify(status.models)}`);
    assert.ok(serverErrors('rejects') >= 1);
    assert.ok(serverErrors('hangs') >= 1);
    assert.equal(serverErrors('steady'), 0);
  });
});

describe('npm start on SIGTERM with slow requests in flight', () => {
  let bundle: string;
  let project: FixtureProject;
  const slow = { name: 'slow', features: ['a', 'b', 'c', 'd'] };
  before(async () => {
    bundle = await buildLocalGateway();
    project = createFixtureProject({ models: [slow, { name: 'steady', features: ['a', 'b', 'c', 'd'] }] });
    // A real graph with 200 extra 1024x1024 products per row: the same answers, hundreds of ms per batch.
    writeVersion(project.root, { ...slow, version: 1 }, slowOnnx(4, 2));
  });
  after(() => project.cleanup());

  it('answers every request in flight with 200, refuses new connections, exits 0', async () => {
    const child = spawn(process.execPath, [bundle, '--manifest', project.manifestPath, '--state-dir', stateDir()], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = once(child, 'exit');
    try {
      await waitFor(() => stdout.includes('Ctrl-C') || child.exitCode !== null, 30_000);
      const url = /serving \d+ models? on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      assert.ok(url, `banner: ${stdout}${stderr}`);

      // Four slow batches of 8 rows (and one on the other model), each in flight: headers and part of the body sent.
      const rows = Array.from({ length: 8 }, (_, i) => [i, i + 1, i + 2, i + 3]);
      const inFlight = await Promise.all([
        ...Array.from({ length: 4 }, () => halfSentPost(url, '/v1/models/slow:predict', JSON.stringify({ instances: rows }))),
        halfSentPost(url, '/v2/models/steady/infer', JSON.stringify({ inputs: [{ name: 'input', shape: [8, 4], datatype: 'FP32', data: rows.flat() }] })),
      ]);
      // Let the gateway read those headers before the signal (they are in its socket buffers already).
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      await waitFor(() => stderr.includes('SIGTERM: draining in-flight requests'), 10_000);

      // Draining: a new connection is refused, while the requests already in flight finish.
      await assert.rejects(fetch(`${url}/v2/health/live`), (error: Error & { cause?: { code?: string } }) => error.cause?.code === 'ECONNREFUSED', 'new connections refused while draining');
      inFlight.forEach((post) => post.finish());
      const answers = await Promise.all(inFlight.map((post) => post.answer));
      for (const [i, answer] of answers.entries()) {
        assert.equal(answer.status, 200, `request ${i}: ${answer.text}`);
        assert.equal(answer.connection, 'close', `request ${i}: the connection closes after its answer`);
      }
      const predictions = (JSON.parse(answers[0]!.text) as { predictions: { label: string }[] }).predictions;
      assert.equal(predictions.length, 8);
      assert.equal((JSON.parse(answers[4]!.text) as { outputs: unknown[] }).outputs.length, 2);

      const [code] = await exited;
      assert.equal(code, 0, stderr);
      assert.match(stderr, /stopped cleanly/);
      assert.doesNotMatch(stderr, STACK_LINE);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('npm start on an error nobody caught (the process fault policy)', () => {
  let bundle: string;
  let project: FixtureProject;
  const preload = new URL('../fixtures/stray-faults.mjs', import.meta.url).href;
  before(async () => {
    bundle = await buildLocalGateway();
    project = createFixtureProject({ models: [{ name: 'steady', features: ['a', 'b', 'c', 'd'] }] });
  });
  after(() => project.cleanup());

  async function startWithFault(fault: 'rejection' | 'exception') {
    const child = spawn(process.execPath, ['--import', preload, bundle, '--manifest', project.manifestPath, '--state-dir', stateDir()], { env: { ...process.env, PORT: '0', MLSHIP_STRAY_FAULT: fault }, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (c: Buffer) => (output.stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output.stderr += c.toString()));
    const exited = once(child, 'exit');
    await waitFor(() => output.stdout.includes('Ctrl-C') || child.exitCode !== null, 30_000);
    const url = /serving \d+ models? on (http:\/\/127\.0\.0\.1:\d+)/.exec(output.stdout)?.[1];
    assert.ok(url, `banner: ${output.stdout}${output.stderr}`);
    return { child, output, exited, url };
  }
  const predict = (url: string) => post(`${url}/v1/models/steady:predict`, { instances: [[1, 2, 3, 4]] });

  it('a stray rejection is logged with its stack and counted, and every model keeps serving', async () => {
    const { child, output, exited, url } = await startWithFault('rejection');
    try {
      assert.equal((await predict(url)).status, 200);
      child.kill('SIGUSR2');
      await waitFor(() => output.stderr.includes('unhandled promise rejection #1'), 10_000);
      child.kill('SIGUSR2');
      await waitFor(() => output.stderr.includes('unhandled promise rejection #2'), 10_000);
      assert.match(output.stderr, /Error: a stray rejection nobody awaited\n\s+at /, 'the stack is on stderr');
      assert.equal((await predict(url)).status, 200, 'still serving');
      assert.equal(child.exitCode, null);
      const status = (await (await fetch(`${url}/status.json`)).json()) as { process?: { unhandledRejections: number; uncaughtExceptions: number } };
      assert.deepEqual(status.process && { r: status.process.unhandledRejections, e: status.process.uncaughtExceptions }, { r: 2, e: 0 }, 'counted on the status page');
      child.kill('SIGTERM');
      assert.equal((await exited)[0], 0, output.stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a stray exception is logged with its stack, and the process stops and exits 1', async () => {
    const { child, output, exited, url } = await startWithFault('exception');
    try {
      assert.equal((await predict(url)).status, 200);
      child.kill('SIGUSR2');
      const [code] = await exited;
      assert.equal(code, 1, output.stderr);
      assert.match(output.stderr, /uncaught exception #1: the process state may be inconsistent/);
      assert.match(output.stderr, /Error: a stray exception from a timer\n\s+at /);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
