// The local gateway for real: the shipped manifest and models, real ONNX sessions, real HTTP on
// 127.0.0.1 at a random port. Then `npm start`'s own entry point as a process: banner, Ctrl-C drain.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { loadManifest, resolveManifestPath, type LoadedManifest } from '../../lambdas/core/manifest/load';
import { LocalGateway } from '../../local/serving/gateway';
import { buildLocalGateway } from '../../scripts/build-local';
import { postWhileClosing } from '../fixtures/drain';
import { tempDirMaker } from '../fixtures/temp-dirs';

/** A fresh release-state folder per gateway, so tests never touch the project's own .mlship/. */
const stateDir = tempDirMaker('mlship-state-');
const quietAlerts = { emit: () => undefined };

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

async function call(url: string, method: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
  const res = await fetch(url, { method, headers: body === undefined ? {} : { 'content-type': contentType }, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  assert.equal(res.headers.get('content-type'), 'application/json', `JSON answer for ${method} ${url}: ${text}`);
  return { status: res.status, headers: res.headers, body: JSON.parse(text) as Answer['body'] };
}

describe('local gateway, shipped manifest', () => {
  let manifest: LoadedManifest;
  let gateway: LocalGateway;
  let url: string;

  before(async () => {
    manifest = loadManifest(resolveManifestPath(undefined));
    gateway = await LocalGateway.start({ manifest, port: 0, stateDir: stateDir(), alerts: quietAlerts });
    url = gateway.url;
  });
  after(() => gateway.close());

  it('serves every model in the manifest, and the health routes', async () => {
    assert.deepEqual((await call(`${url}/v2/health/live`, 'GET')).body, { live: true });
    const ready = await call(`${url}/v2/health/ready`, 'GET');
    assert.equal(ready.body.ready, true);
    for (const { entry } of manifest.models) {
      const metadata = await call(`${url}/v2/models/${entry.name}`, 'GET');
      assert.equal(metadata.status, 200);
      assert.deepEqual(metadata.body.versions, [String(entry.version)]);
      assert.equal((await call(`${url}/v2/models/${entry.name}/ready`, 'GET')).body.ready, true);
    }
  });

  it('answers v1 and v2 for every model with the golden predictions, in one batch of many instances', async () => {
    for (const { entry, card } of manifest.models) {
      const inputs = card.golden.map((g) => g.input);
      const batch = Array.from({ length: 40 }, (_, i) => inputs[i % inputs.length]!);
      const expected = batch.map((_, i) => card.golden[i % inputs.length]!.expected);

      const v1 = await call(`${url}/v1/models/${entry.name}:predict`, 'POST', { instances: batch });
      assert.equal(v1.status, 200);
      assert.equal(v1.headers.get('x-model-version'), String(entry.version));
      const predictions = v1.body.predictions as { label: string; probabilities: Record<string, number> }[];
      assert.equal(predictions.length, batch.length);
      predictions.forEach((p, i) => {
        assert.equal(p.label, expected[i]!.label);
        card.labels.forEach((label, c) => assert.ok(Math.abs(p.probabilities[label]! - expected[i]!.probabilities![c]!) <= card.goldenTolerance, `${entry.name} ${label}`));
      });

      const v2 = await call(`${url}/v2/models/${entry.name}/infer`, 'POST', { inputs: [{ name: card.input.tensorName, shape: [batch.length, card.input.features.length], datatype: 'FP32', data: batch.flat() }] });
      assert.equal(v2.status, 200);
      assert.equal(v2.headers.get('x-model-version'), String(entry.version));
      const [labels, probabilities] = v2.body.outputs as { name: string; shape: number[]; data: (string | number)[] }[];
      assert.deepEqual(labels!.data, expected.map((e) => e.label));
      assert.deepEqual(probabilities!.shape, [batch.length, card.labels.length]);
    }
  });

  it('accepts instances keyed by feature name', async () => {
    const { entry, card } = manifest.models.find((m) => m.entry.name === 'breast-cancer')!;
    const golden = card.golden[0]!;
    const instance = Object.fromEntries(card.input.features.map((f, i) => [f, golden.input[i]]));
    const answer = await call(`${url}/v1/models/${entry.name}:predict`, 'POST', { instances: [instance] });
    assert.equal((answer.body.predictions as { label: string }[])[0]!.label, golden.expected.label);
  });

  it('answers bad input with a 4xx naming the problem, and keeps serving', async () => {
    const predict = `${url}/v1/models/breast-cancer:predict`;
    const cases: [string, () => Promise<Answer>, number, RegExp][] = [
      ['malformed JSON', () => call(predict, 'POST', '{"instances": [[1, 2'), 400, /not valid JSON/],
      ['wrong content type', () => call(predict, 'POST', 'a=1', 'text/plain'), 415, /content-type must be application\/json/],
      ['wrong number of features', () => call(predict, 'POST', { instances: [[1, 2, 3]] }), 400, /instances\[0\] must have 30 feature values, received 3/],
      ['a missing feature', () => call(predict, 'POST', { instances: [{ 'mean radius': 1 }] }), 400, /instances\[0\] is missing features 'mean texture'/],
      ['an unknown feature', () => call(predict, 'POST', { instances: [{ colour: 1 }] }), 400, /unknown feature 'colour'/],
      ['a string for a number', () => call(predict, 'POST', { instances: [['x', ...new Array(29).fill(1)]] }), 400, /instances\[0\]\[0\] \(mean radius\) must be a number/],
      ['a null for a number', () => call(predict, 'POST', { instances: [[null, ...new Array(29).fill(1)]] }), 400, /instances\[0\]\[0\] \(mean radius\) must be a number, received null/],
      ['an empty batch', () => call(predict, 'POST', { instances: [] }), 400, /instances must not be empty/],
      ['a body over the size limit', () => call(predict, 'POST', { instances: [], pad: 'x'.repeat(manifest.manifest.api.maxBodyBytes) }), 413, /larger than the limit/],
      ['an unknown model', () => call(`${url}/v1/models/nosuch:predict`, 'POST', { instances: [[1]] }), 404, /model 'nosuch' is not served; models: /],
      ['an unknown path', () => call(`${url}/v3/whatever`, 'GET'), 404, /no route GET \/v3\/whatever/],
      ['a wrong method', () => call(predict, 'GET'), 405, /method GET is not allowed on \/v1\/models\/breast-cancer:predict; use POST/],
    ];
    for (const [what, send, status, message] of cases) {
      const answer = await send();
      assert.equal(answer.status, status, what);
      assert.match(answer.body.error?.message ?? '', message, what);
    }
    const golden = manifest.models[0]!.card.golden[0]!;
    const after = await call(`${url}/v1/models/${manifest.models[0]!.entry.name}:predict`, 'POST', { instances: [golden.input] });
    assert.equal(after.status, 200);
  });

  it('answers 413 on a declared oversized body without reading it, and closes that connection', async () => {
    const limit = manifest.manifest.api.maxBodyBytes;
    const { status, connection } = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest(`${url}/v1/models/breast-cancer:predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(limit * 4) } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
      });
      req.on('error', reject);
      req.write('{"instances": [');
    });
    assert.equal(status, 413);
    assert.equal(connection, 'close');
  });
});

describe('local gateway shutdown', () => {
  it('lets a request in flight finish, then stops accepting connections', async () => {
    const manifest = loadManifest(resolveManifestPath(undefined));
    const gateway = await LocalGateway.start({ manifest, port: 0, stateDir: stateDir(), alerts: quietAlerts });
    const { entry, card } = manifest.models[0]!;
    const target = `${gateway.url}/v1/models/${entry.name}:predict`;
    const body = JSON.stringify({ instances: [card.golden[0]!.input] });
    const answer = await postWhileClosing(gateway, `/v1/models/${entry.name}:predict`, body);
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.text) as { predictions: { label: string }[] }).predictions[0]!.label, card.golden[0]!.expected.label);
    await answer.closing;
    await assert.rejects(fetch(target, { method: 'POST', body }), 'no new connections after close');
  });
});

describe('npm start entry point (the esbuild bundle of local/main.ts)', () => {
  let bundle: string;
  before(async () => {
    bundle = await buildLocalGateway();
  });

  it('prints the URLs and a curl example that works as printed, and exits 0 on SIGINT', async () => {
    const child = spawn(process.execPath, [bundle, '--state-dir', stateDir()], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 20_000;
    while (!stdout.includes('Ctrl-C') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    const base = /serving \d+ models? on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
    assert.ok(base, `banner with the URL: ${stdout}${stderr}`);
    assert.match(stdout, /curl -s -H 'content-type: application\/json' -d '\{"instances": \[\[/);

    // The printed curl example must work as printed.
    const example = /-d '(.+)' (http\S+)/.exec(stdout)!;
    const answer = await call(example[2]!, 'POST', example[1]);
    assert.equal(answer.status, 200);
    // Draining in-flight requests is tested in-process above; here: SIGINT ends the process cleanly.
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.match(stderr, /stopped cleanly/);
  });

  it('refuses to start on a manifest field that fails the schema, naming its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlship-start-'));
    try {
      const manifestPath = join(dir, 'manifest.yaml');
      writeFileSync(manifestPath, 'models:\n  - name: breast-cancer\n    version: 1\n  - name: digits\n    version: 1\n    runtime: gpu\n');
      const child = spawn(process.execPath, [bundle, '--manifest', manifestPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const [code] = await once(child, 'exit');
      assert.equal(code, 1);
      assert.match(stderr, /models\[1\]\.runtime must be one of lambda, sagemaker, received 'gpu'/);
      assert.doesNotMatch(stderr, /\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 with the manifest problem, not a stack trace, for a missing manifest', async () => {
    const child = spawn(process.execPath, [bundle, '--manifest', 'does/not/exist.yaml'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.match(stderr, /Invalid manifest .*does\/not\/exist\.yaml:\n {2}- file not found/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });
});
