// The local gateway with an API key, for real: the shipped manifest and models on 127.0.0.1, real HTTP
// requests without, with a wrong and with the right x-api-key; then `npm start`'s bundle with the key from
// MLSHIP_API_KEY and from --api-key-file, its banner, and its admin port on 127.0.0.1 under --host 0.0.0.0.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadManifest, resolveManifestPath, type LoadedManifest } from '../../lambdas/core/manifest/load';
import { LocalGateway } from '../../local/serving/gateway';
import { buildLocalGateway } from '../../scripts/build-local';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-key-');
const quietAlerts = { emit: () => undefined };
const KEY = 'local-test-key-7f3a9c2e51d04b8e';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function call(url: string, init: { method?: string; key?: string; body?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.key !== undefined) headers['x-api-key'] = init.key;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: init.body } : {}) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function forbidden(answer: Answer, message: RegExp, what: string): void {
  assert.equal(answer.status, 403, `${what}: ${answer.text}`);
  assert.equal(answer.headers.get('content-type'), 'application/json', what);
  const body = JSON.parse(answer.text) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'forbidden', what);
  assert.match(body.error.message, message, what);
  assert.ok(!answer.text.includes(KEY), `${what}: the answer never holds the key`);
}

describe('local gateway with an API key', () => {
  let manifest: LoadedManifest;
  let gateway: LocalGateway;
  let url: string;

  before(async () => {
    manifest = loadManifest(resolveManifestPath(undefined));
    gateway = await LocalGateway.start({ manifest, port: 0, stateDir: tempDir(), alerts: quietAlerts, capture: false, apiKey: KEY });
    url = gateway.url;
  });
  after(() => gateway.close());

  it('leaves /v2/health/live and /v2/health/ready open, as load balancers probe them without a key', async () => {
    assert.equal(gateway.requiresApiKey, true);
    assert.deepEqual(JSON.parse((await call(`${url}/v2/health/live`)).text), { live: true });
    const ready = await call(`${url}/v2/health/ready`);
    assert.equal(ready.status, 200);
    assert.equal((JSON.parse(ready.text) as { ready: boolean }).ready, true);
  });

  it('answers every other route 403 without the key or with a wrong one, and as usual with it', async () => {
    const { entry, card } = manifest.models.find((m) => m.entry.name === 'breast-cancer')!;
    const v1 = JSON.stringify({ instances: [card.golden[0]!.input] });
    const v2 = JSON.stringify({ inputs: [{ name: card.input.tensorName, shape: [1, card.input.features.length], datatype: 'FP32', data: card.golden[0]!.input }] });
    const routes: [string, string, string | undefined, number][] = [
      ['GET', '/v2', undefined, 200],
      ...manifest.models.flatMap(({ entry: m }): [string, string, string | undefined, number][] => [
        ['GET', `/v2/models/${m.name}`, undefined, 200],
        ['GET', `/v2/models/${m.name}/ready`, undefined, 200],
        ['GET', `/v1/models/${m.name}`, undefined, 200],
      ]),
      ['POST', `/v1/models/${entry.name}:predict`, v1, 200],
      ['POST', `/v2/models/${entry.name}/infer`, v2, 200],
      // Without the key, a 404 would list the models served: it is behind the key too.
      ['POST', '/v1/models/nosuch:predict', v1, 404],
      ['GET', '/v3/anything', undefined, 404],
      ['GET', '/', undefined, 200],
      ['GET', '/status.json', undefined, 200],
      ['POST', '/endpoints/digits-v1/invocations', '{}', 424],
    ];
    for (const [method, path, body, status] of routes) {
      const what = `${method} ${path}`;
      forbidden(await call(`${url}${path}`, { method, ...(body !== undefined ? { body } : {}) }), /requires an API key: send it in the x-api-key header/, `${what} without a key`);
      forbidden(await call(`${url}${path}`, { method, key: `${KEY}0`, ...(body !== undefined ? { body } : {}) }), /API key in the x-api-key header is not valid/, `${what} with a wrong key`);
      forbidden(await call(`${url}${path}`, { method, key: KEY.slice(1), ...(body !== undefined ? { body } : {}) }), /not valid/, `${what} with a shorter key`);
      const answer = await call(`${url}${path}`, { method, key: KEY, ...(body !== undefined ? { body } : {}) });
      assert.equal(answer.status, status, `${what} with the key: ${answer.text.slice(0, 300)}`);
    }
    const predicted = await call(`${url}/v1/models/${entry.name}:predict`, { method: 'POST', key: KEY, body: v1 });
    assert.equal((JSON.parse(predicted.text) as { predictions: { label: string }[] }).predictions[0]!.label, card.golden[0]!.expected.label);
    assert.equal(predicted.headers.get('x-model-version'), String(entry.version));
  });

  /** A keyless predict POST with these headers, its body written by `send`; resolves with the answer. */
  function rawPost(headers: Record<string, string>, send: (req: ClientRequest) => void): Promise<{ status: number; connection: string | undefined; text: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${url}/v1/models/breast-cancer:predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
      });
      req.on('error', reject);
      send(req);
    });
  }

  it('answers a caller without the key 403 at once, before its body, and closes the connection', async () => {
    const { status, connection, text } = await rawPost({ 'content-length': String(manifest.manifest.api.maxBodyBytes + 1) }, (req) => req.write('{"instances": ['));
    assert.equal(status, 403);
    assert.equal(connection, 'close');
    assert.match(text, /"code":"forbidden"/);
  });

  it('drops the body a caller without the key goes on sending after its 403: no write fails (EPIPE), the 403 is read', async () => {
    const instance = JSON.stringify({ instances: [manifest.models[0]!.card.golden[0]!.input] });
    for (const headers of [{ 'content-length': String(Buffer.byteLength(instance)) }, { 'transfer-encoding': 'chunked' }] as Record<string, string>[]) {
      // In pieces, as a slow client uploads: no write may fail (EPIPE) before the answer.
      const answer = await rawPost(headers, (req) => {
        req.write(instance.slice(0, 10));
        setTimeout(() => req.end(instance.slice(10)), 20);
      });
      assert.equal(answer.status, 403, JSON.stringify(headers));
      assert.equal(answer.connection, 'close');
      assert.match(answer.text, /"code":"forbidden"/);
    }
  });

  it('serves the status page on the admin port (127.0.0.1) with no key', async () => {
    assert.match(gateway.adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await call(`${gateway.adminUrl}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const status = JSON.parse((await call(`${gateway.adminUrl}/status.json`)).text) as { models: { name: string }[] };
    assert.deepEqual(status.models.map((m) => m.name).sort(), manifest.models.map((m) => m.entry.name).sort());
    // The admin routes themselves are unchanged.
    assert.equal((await call(`${gateway.adminUrl}/admin/releases`)).status, 200);
  });
});

/** An address of this machine that is not 127.0.0.1: a real interface when there is one, else 127.0.0.2 (still loopback, but not the address the admin port binds). */
function otherAddress(): string {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  return external?.address ?? '127.0.0.2';
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm start with an API key (the esbuild bundle)', () => {
  let bundle: string;
  before(async () => {
    bundle = await buildLocalGateway();
  });

  async function start(args: string[], env: Record<string, string>): Promise<{ child: ChildProcessWithoutNullStreams; out: () => string; err: () => string }> {
    const child = spawn(process.execPath, [bundle, '--state-dir', tempDir(), ...args], { env: { ...process.env, PORT: '0', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 20_000;
    while (!stdout.includes('Ctrl-C') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    return { child, out: () => stdout, err: () => stderr };
  }

  async function stop(child: ChildProcessWithoutNullStreams): Promise<void> {
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  }

  it('with MLSHIP_API_KEY and --host 0.0.0.0: the banner says a key is needed (not which), the API wants it, the admin port stays on 127.0.0.1', async () => {
    const { child, out, err } = await start(['--host', '0.0.0.0', '--admin-port', '0'], { MLSHIP_API_KEY: KEY });
    try {
      const stdout = out();
      const port = /serving \d+ models? on http:\/\/0\.0\.0\.0:(\d+)/.exec(stdout)?.[1];
      assert.ok(port, `banner with the URL: ${stdout}${err()}`);
      assert.match(stdout, /API key required: send header x-api-key \(key from MLSHIP_API_KEY\); \/v2\/health\/live and \/v2\/health\/ready stay open/);
      assert.ok(!stdout.includes(KEY) && !err().includes(KEY), 'the key is printed nowhere');
      const adminPort = /status: http:\/\/127\.0\.0\.1:(\d+)\/ +\(on the admin port, no key needed/.exec(stdout)?.[1];
      assert.ok(adminPort, `the banner points at the status page on the admin port: ${stdout}`);

      // The printed curl example, run by a shell with the key in its environment, as a person would.
      const example = /^ {2}(curl -s -H "x-api-key: \$MLSHIP_API_KEY" -H 'content-type: application\/json' .+)$/m.exec(stdout)?.[1];
      assert.ok(example, `a curl example sending the key: ${stdout}`);
      const curl = spawn('bash', ['-c', example.replace('http://0.0.0.0', 'http://127.0.0.1')], { env: { ...process.env, MLSHIP_API_KEY: KEY } });
      let answer = '';
      curl.stdout.on('data', (c: Buffer) => (answer += c.toString()));
      await once(curl, 'exit');
      assert.match(answer, /^\{"predictions":\[\{"label":/, `the example answers: ${answer}`);

      const other = otherAddress();
      const base = `http://${other}:${port}`;
      forbidden(await call(`${base}/v2/models/breast-cancer`), /requires an API key/, `GET /v2/models/breast-cancer on ${other}`);
      assert.equal((await call(`${base}/v2/models/breast-cancer`, { key: KEY })).status, 200);
      assert.equal((await call(`${base}/v2/health/ready`)).status, 200);
      // The API answers on that address; the admin port does not listen there, only on 127.0.0.1.
      assert.equal(await connects(other, Number(port)), true, `the API listens on ${other}`);
      assert.equal(await connects(other, Number(adminPort)), false, `the admin port refuses connections on ${other}`);
      assert.equal((await call(`http://127.0.0.1:${adminPort}/admin/releases`)).status, 200);
      assert.equal((await call(`http://127.0.0.1:${adminPort}/status.json`)).status, 200);
    } finally {
      await stop(child);
    }
  });

  it('with --api-key-file: the key from the file, a curl example reading the file', async () => {
    const file = join(tempDir(), 'api-key');
    writeFileSync(file, `${KEY}\n`);
    chmodSync(file, 0o600);
    const { child, out, err } = await start(['--api-key-file', file], {});
    try {
      const stdout = out();
      const base = /serving \d+ models? on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
      assert.ok(base, `banner with the URL: ${stdout}${err()}`);
      assert.ok(stdout.includes(`(key from ${file})`));
      assert.ok(stdout.includes(`curl -s -H "x-api-key: $(cat '${file}')"`), stdout);
      assert.ok(!stdout.includes(KEY));
      assert.doesNotMatch(err(), /mlship: warning/, 'a 0600 key file gets no warning');
      forbidden(await call(`${base}/v2`), /requires an API key/, 'GET /v2');
      assert.equal((await call(`${base}/v2`, { key: KEY })).status, 200);
    } finally {
      await stop(child);
    }
  });

  it('refuses to start, exit 2, on a key that is too short, an unreadable file or both sources; never printing the key', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [[], { MLSHIP_API_KEY: 'too-short-key' }, /MLSHIP_API_KEY must be 20 to 128 characters, received 13/],
      [[], { MLSHIP_API_KEY: '' }, /MLSHIP_API_KEY must be 20 to 128 characters, received 0/],
      [['--api-key-file', '/nonexistent/key'], {}, /cannot read the API key file \/nonexistent\/key: ENOENT/],
      [['--api-key-file', '/nonexistent/key'], { MLSHIP_API_KEY: KEY }, /--api-key-file or MLSHIP_API_KEY, not both/],
      [['--api-key', KEY], {}, /Unknown option '--api-key'/],
    ];
    for (const [args, env, message] of cases) {
      const child = spawn(process.execPath, [bundle, '--state-dir', tempDir(), ...args], { env: { ...process.env, PORT: '0', ...env } });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout.resume();
      const [code] = await once(child, 'exit');
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, message);
      assert.match(stderr, /there is no --api-key flag/);
      assert.ok(!stderr.includes('too-short-key'), 'the refused key is not printed');
    }
  });
});
